/*
 * render: a queued message as sendmail's relay mailer puts it on the wire.
 *
 * Contract
 * --------
 * The output is what `sendmail -Ac -q` sends in DATA for the same queue
 * file and data file, byte for byte (the compatibility suite runs both on
 * copies of one queue and compares):
 * - headers are selected as putheader() selects them: a header with a
 *   ?flags? condition, or one of Return-Path, Full-Name, Content-Length,
 *   goes out only when a flag letter is one of the mailer's F= flags or its
 *   ?$macro? condition is set; Bcc: goes out empty, or not at all when the
 *   envelope has F flag b;
 * - address headers (From, Sender, Reply-To, To, Cc, Bcc, Resent-*, ...)
 *   have unqualified addresses qualified with @domain (sender headers:
 *   with the masquerade domain, which also replaces a local host name),
 *   phrases with characters that must be quoted quoted, and are re-folded
 *   at 78 columns;
 * - sendmail's METAQUOTE escapes are removed;
 * - a header line longer than sendmail's buffer (2303 octets) is cut there,
 *   as sendmail cuts it (render_headers reports it so it can be logged);
 * - lines over the mailer's line limit L= are split with "!" CRLF and a
 *   leading space on the continuation, at the same points as sendmail;
 * - LF becomes CRLF, CRLF stays, a bare CR passes through; a line starting
 *   with "." gets a second one (mailer flag X).
 * One deliberate difference: a last body line that starts with "." and has
 * no newline is dot-stuffed too (sendmail does not, which lets a data file
 * end the SMTP DATA early).
 *
 * The body is streamed from the data file through a fixed buffer: memory
 * does not grow with the size of the message.  The final ".\r\n" is the
 * SMTP layer's, not render's.
 */
#ifndef CQ_RENDER_H
#define CQ_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/qf.h"
#include "util/strbuf.h"

/* sendmail's header line buffer: MAXLINE (2048) + 256, less the NUL. */
#define RENDER_HEADER_LINE_MAX 2303

struct render_opts {
	const char *mailer_flags;	/* the relay mailer's F= letters */
	long linelimit;			/* its L=; 0 for none */
	const char *domain;		/* $j: appended to unqualified addresses;
					 * NULL: addresses stay as queued (and
					 * masq and is_local are not used) */
	/* Macro values for ?$x? header conditions besides the queue file's
	 * own $ lines (the cf's D lines), or NULL. */
	const char *(*macro)(const char *name, void *arg);
	void *macro_arg;
	/* Masquerading (submit.cf's DM, MASQUERADE_AS): sender addresses in
	 * headers that are unqualified or at a local name (is_local: class
	 * w) take this domain instead; NULL for none. */
	const char *masq;
	bool (*is_local)(const char *host, void *arg);
	void *local_arg;
};

/* render_headers: append the header block and the empty line after it,
 * with CRLF line ends.  Returns the number of header lines that had to be
 * cut at RENDER_HEADER_LINE_MAX. */
size_t render_headers(const struct qf_envelope *env,
    const struct render_opts *o, struct strbuf *out);

/* render_address: the envelope or header form of one address: group and
 * route syntax removed, comments dropped, an unqualified local part or one
 * at a local name (o->is_local) given "@" o->domain; "" for the null
 * address.  Appends to out. */
void render_address(const char *addr, const struct render_opts *o,
    struct strbuf *out);

/* render_address_masq: the same, masqueraded as o says (for header and,
 * with masquerade_envelope, envelope senders). */
void render_address_masq(const char *addr, const struct render_opts *o,
    struct strbuf *out);

/* Body encoding, streamed: feed the data file in pieces of any size,
 * then finish.  Output goes to out; the caller drains it. */
struct render_body {
	const struct render_opts *o;
	int state;		/* line start, in line, after CR */
	long seg;		/* data octets in the current output segment */
	long limit;		/* octets allowed in this segment */
	bool held;		/* a data octet waits for the next one */
	unsigned char held_c;
};

void render_body_init(struct render_body *rb, const struct render_opts *o);
void render_body_feed(struct render_body *rb, const char *p, size_t n,
    struct strbuf *out);
void render_body_finish(struct render_body *rb, struct strbuf *out);

/* render_message_size: the SIZE= value sendmail sends: the data file's
 * size plus the length of every H line less 3 (readqf()'s estimate). */
long long render_message_size(const struct qf_envelope *env,
    long long df_size);

#endif
