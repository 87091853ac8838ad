/*
 * strbuf: a growable byte buffer, always NUL-terminated.
 *
 * The struct is public so that a buffer can live on the stack
 * (STRBUF_INIT); its fields are read-only outside strbuf.c.
 * The contents may hold NUL bytes; len is authoritative.
 */
#ifndef CQ_STRBUF_H
#define CQ_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

struct strbuf {
	char *buf;	/* NULL until the first append; then NUL-terminated */
	size_t len;
	size_t cap;
};

#define STRBUF_INIT { NULL, 0, 0 }

void strbuf_append(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
void strbuf_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* strbuf_str: the contents as a C string ("" when empty, never NULL). */
const char *strbuf_str(const struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);
/* strbuf_consume: drop the first n bytes (n <= len); the rest moves to
 * the front. */
void strbuf_consume(struct strbuf *sb, size_t n);
/* strbuf_detach: hand the allocation to the caller; sb is empty after. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_free(struct strbuf *sb);

#endif
