/*
 * xalloc: allocation that never returns NULL.
 *
 * A mail runner that runs out of memory half-way through a queue-file
 * rewrite must not limp on with a NULL pointer; it stops with a message
 * and the queue stays as it was on disk (every write goes through a
 * tf + rename, so an abort never leaves a half-written qf).
 */
#ifndef CQ_XALLOC_H
#define CQ_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
/* xreallocarray: realloc of nmemb*size with overflow checking. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* xasprintf: a newly allocated formatted string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
