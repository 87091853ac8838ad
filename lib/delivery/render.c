#include "config.h"

#include "delivery/render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

/* The continuation segments of a long body line carry at most this many
 * octets after their leading space (measured against sendmail 8.17 with
 * the relay mailer's L=2040: sendmail's MAXLINE less one). */
#define RENDER_BODY_CONT_MAX 2047
/* commaize() re-folds address headers at this column. */
#define RENDER_FOLD_COLUMN 78
/* sendmail's header field name buffer ("%.200s:"). */
#define RENDER_FIELD_MAX 200
/* Characters that make sendmail quote a phrase (MustQuoteChars). */
#define RENDER_MUSTQUOTE "@,;:\\()[].'"
#define RENDER_METAQUOTE 0xFF

enum { RB_LINE_START, RB_IN_LINE, RB_AFTER_CR };

/* ----------------------------------------------------------- header kinds */

enum render_hkind {
	RH_PLAIN,
	RH_FROMADDR,	/* H_FROM: commaize(), masqueraded */
	RH_RCPTADDR,	/* H_RCPT: commaize() */
	RH_BCC,		/* H_BCC (also an address header) */
	RH_ACHECK,	/* H_ACHECK: only with a matching condition */
};

static enum render_hkind
render_kind(const char *name)
{
	static const char *const from[] = {
		"resent-sender", "resent-from", "resent-reply-to", "sender",
		"from", "reply-to", "errors-to", "disposition-notification-to",
	}, *const rcpt[] = {
		"to", "resent-to", "cc", "resent-cc", "apparently-to",
	};
	size_t i;

	if (strcasecmp(name, "bcc") == 0 || strcasecmp(name, "resent-bcc") == 0)
		return RH_BCC;
	if (strcasecmp(name, "return-path") == 0 ||
	    strcasecmp(name, "full-name") == 0 ||
	    strcasecmp(name, "content-length") == 0)
		return RH_ACHECK;
	for (i = 0; i < sizeof from / sizeof from[0]; i++)
		if (strcasecmp(name, from[i]) == 0)
			return RH_FROMADDR;
	for (i = 0; i < sizeof rcpt / sizeof rcpt[0]; i++)
		if (strcasecmp(name, rcpt[i]) == 0)
			return RH_RCPTADDR;
	return RH_PLAIN;
}

static const char *
render_macro(const struct qf_envelope *env, const struct render_opts *o,
    const char *name)
{
	const char *v = qf_macro_get(env, name);

	if (v == NULL && o->macro != NULL)
		v = o->macro(name, o->macro_arg);
	return v;
}

/* putheader()'s selection: false when the header is not for this mailer. */
static bool
render_selected(const struct qf_envelope *env, const struct render_opts *o,
    const struct qf_header *h, enum render_hkind kind)
{
	const char *c = h->cond;
	bool checked = (c != NULL && *c != '\0') || kind == RH_ACHECK;
	const char *v;

	if (!checked)
		return true;
	if (c != NULL && c[0] == '$') {
		/* ?$x? or ?${name}?: only when the macro has a value. */
		v = render_macro(env, o, c + 1);
		return v != NULL && *v != '\0';
	}
	for (; c != NULL && *c != '\0'; c++)
		if (strchr(o->mailer_flags, *c) != NULL)
			return true;
	return false;
}

/* ---------------------------------------------------------- line output */

/* Append one logical header line (no line end yet) as putxline() writes
 * it: METAQUOTE escapes removed, split at the mailer's line limit with
 * "!" CRLF SP, then CRLF. */
static void
render_put_line(const struct render_opts *o, const char *s, size_t len,
    struct strbuf *out)
{
	struct strbuf plain = STRBUF_INIT;
	const unsigned char *p = (const unsigned char *)s;
	size_t i, pos, chunk;
	long L = o->linelimit;

	for (i = 0; i < len; i++) {
		if (p[i] == RENDER_METAQUOTE && i + 1 < len)
			i++;
		strbuf_addch(&plain, p[i]);
	}
	pos = 0;
	if (L > 0) {
		/* First piece L-1 octets, then pieces of L-2 after the
		 * leading space, while what is left does not fit. */
		size_t slop = 0;

		while ((plain.len - pos) + slop > (size_t)L) {
			chunk = (size_t)L - slop - 1;
			strbuf_append(out, plain.buf + pos, chunk);
			strbuf_addstr(out, "!\r\n ");
			pos += chunk;
			slop = 1;
		}
	}
	strbuf_append(out, strbuf_str(&plain) + pos, plain.len - pos);
	strbuf_addstr(out, "\r\n");
	strbuf_free(&plain);
}

/* put_vanilla_header(): "Field:" and the value, each folded line cut at
 * sendmail's buffer size, a space added in front of a continuation that
 * lacks one. */
static size_t
render_vanilla(const struct render_opts *o, const struct qf_header *h,
    struct strbuf *out)
{
	struct strbuf line = STRBUF_INIT;
	const char *v = h->value, *nl;
	size_t cut = 0, room;

	strbuf_addf(&line, "%.*s:", RENDER_FIELD_MAX, h->name);
	for (;;) {
		size_t l;

		nl = strchr(v, '\n');
		l = nl ? (size_t)(nl - v) : strlen(v);
		room = RENDER_HEADER_LINE_MAX - line.len;
		if (l > room) {
			l = room;
			cut++;
		}
		strbuf_append(&line, v, l);
		render_put_line(o, line.buf, line.len, out);
		if (nl == NULL)
			break;
		v = nl + 1;
		strbuf_reset(&line);
		if (*v != ' ' && *v != '\t')
			strbuf_addch(&line, ' ');
	}
	strbuf_free(&line);
	return cut;
}

/* ------------------------------------------------------------ addresses */

static bool
render_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where a scan of address text is: in a quoted string, in (nested)
 * comments, or at the top level. */
struct render_lex {
	bool quoted;
	int cmt;
};

/* render_lex_top: account for the character at *s (stepping over a
 * backslash pair inside quotes); true when it stands at the top level and
 * is not itself a quote or a comment's opening. */
static bool
render_lex_top(struct render_lex *lx, const char **s)
{
	char c = **s;

	if (lx->quoted) {
		if (c == '\\' && (*s)[1] != '\0')
			(*s)++;
		else if (c == '"')
			lx->quoted = false;
		return false;
	}
	if (lx->cmt > 0) {
		if (c == '(')
			lx->cmt++;
		else if (c == ')')
			lx->cmt--;
		return false;
	}
	if (c == '"') {
		lx->quoted = true;
		return false;
	}
	if (c == '(') {
		lx->cmt = 1;
		return false;
	}
	return true;
}

static void
render_address_core(const char *addr, const struct render_opts *o,
    bool masquerade, struct strbuf *out)
{
	struct strbuf a = STRBUF_INIT;
	const char *p = addr, *lt, *gt;
	bool quoted = false;
	int cmt = 0;

	/* The route-addr inside <...> when there is one. */
	lt = strchr(p, '<');
	if (lt != NULL && (gt = strchr(lt, '>')) != NULL) {
		strbuf_append(&a, lt + 1, (size_t)(gt - lt - 1));
		p = strbuf_str(&a);
	}
	/* Tokens without the white space and comments between them (what
	 * prescan() leaves), and without a group's ';'. */
	{
		struct strbuf t = STRBUF_INIT;
		const char *s, *colon;

		for (s = p; *s != '\0'; s++) {
			char c = *s;

			if (quoted) {
				strbuf_addch(&t, c);
				if (c == '\\' && s[1] != '\0')
					strbuf_addch(&t, *++s);
				else if (c == '"')
					quoted = false;
				continue;
			}
			if (cmt > 0) {
				if (c == '(')
					cmt++;
				else if (c == ')')
					cmt--;
				continue;
			}
			if (c == '(') {
				cmt = 1;
				continue;
			}
			if (c == '"')
				quoted = true;
			if (render_space(c) || c == ';')
				continue;
			strbuf_addch(&t, c);
		}
		/* "group:addr" keeps the address; a source route
		 * ("@a,@b:user@c") and "host::user" stay as they are. */
		colon = strchr(strbuf_str(&t), ':');
		if (colon != NULL && t.buf[0] != '@' && colon[1] != ':') {
			struct strbuf rest = STRBUF_INIT;

			strbuf_addstr(&rest, colon + 1);
			strbuf_free(&t);
			t = rest;
		}
		strbuf_free(&a);
		a = t;
	}
	if (a.len == 0) {
		strbuf_free(&a);
		return;
	}
	/* An unqualified local part, and one at a local name (class w),
	 * get "@$j", as the rulesets canonify and qualify them; where
	 * masquerading applies (MasqHdr), the masquerade domain instead. */
	{
		const char *at = strrchr(a.buf, '@');
		const char *dom = masquerade && o->masq ? o->masq : o->domain;

		if (dom == NULL) {
			/* No domain: the address as queued (the file mailer
			 * that writes a notification's returned headers). */
			strbuf_append(out, a.buf, a.len);
		} else if (at == NULL && strchr(a.buf, '!') == NULL) {
			strbuf_append(out, a.buf, a.len);
			strbuf_addf(out, "@%s", dom);
		} else if (at != NULL && at != a.buf && a.buf[0] != '@' &&
		    o->is_local != NULL && o->is_local(at + 1, o->local_arg)) {
			strbuf_append(out, a.buf, (size_t)(at - a.buf) + 1);
			strbuf_addstr(out, dom);
		} else {
			strbuf_append(out, a.buf, a.len);
		}
	}
	strbuf_free(&a);
}

void
render_address(const char *addr, const struct render_opts *o, struct strbuf *out)
{
	render_address_core(addr, o, false, out);
}

void
render_address_masq(const char *addr, const struct render_opts *o,
    struct strbuf *out)
{
	render_address_core(addr, o, true, out);
}

/* One element of an address list, re-templated the way crackaddr() keeps
 * what surrounds the address (display name, comments, group name, ';') and
 * the address replaced by its rewritten form. */
static void
render_one_address(const char *elem, const struct render_opts *o,
    bool masquerade, struct strbuf *out)
{
	const char *p = elem, *addr_start = NULL, *lt = NULL, *s;
	struct strbuf rewritten = STRBUF_INIT;
	struct render_lex lx;
	bool quoted = false, quoteit = false;
	int cmt = 0;

	/* Leading white space is kept. */
	while (render_space(*p)) {
		strbuf_addch(out, *p);
		p++;
	}
	/* A group name "name:" (not "::" or ":." of old routing syntax)
	 * before any '<' starts the template. */
	lx = (struct render_lex){ false, 0 };
	for (s = p; *s != '\0'; s++) {
		if (!render_lex_top(&lx, &s))
			continue;
		if (*s == '<' || *s == '@')
			break;
		if (*s == ':' && s[1] != ':' && s[1] != '.') {
			s++;
			while (render_space(*s))
				s++;
			strbuf_append(out, p, (size_t)(s - p));
			p = s;
			break;
		}
	}
	/* Find a top-level '<'; note whether the display name before it
	 * has a character that must be quoted. */
	lx = (struct render_lex){ false, 0 };
	for (s = p; *s != '\0'; s++) {
		if (!render_lex_top(&lx, &s))
			continue;
		if (*s == '<') {
			lt = s;
			break;
		}
		if (strchr(RENDER_MUSTQUOTE, *s) != NULL)
			quoteit = true;
	}
	render_address_core(p, o, masquerade, &rewritten);
	if (lt != NULL) {
		const char *gt = strchr(lt, '>');
		const char *end = lt;

		/* The display name, quoted when it holds a character that
		 * must be quoted; the space before '<' is kept as written. */
		while (end > p && render_space(end[-1]))
			end--;
		if (quoteit && end > p) {
			strbuf_addch(out, '"');
			for (s = p; s < end; s++) {
				if (*s == '"')
					strbuf_addch(out, '\\');
				strbuf_addch(out, *s);
			}
			strbuf_addch(out, '"');
			strbuf_append(out, end, (size_t)(lt - end));
		} else {
			strbuf_append(out, p, (size_t)(lt - p));
		}
		strbuf_addch(out, '<');
		strbuf_append(out, rewritten.buf ? rewritten.buf : "", rewritten.len);
		strbuf_addch(out, '>');
		if (gt != NULL)
			strbuf_addstr(out, gt + 1);
		strbuf_free(&rewritten);
		return;
	}
	/* No angle brackets: the address where its first character was, the
	 * comments kept around it, a group's closing ';' kept. */
	quoted = false;
	cmt = 0;
	for (s = p; *s != '\0'; s++) {
		if (cmt > 0) {
			strbuf_addch(out, *s);
			if (*s == '(')
				cmt++;
			else if (*s == ')')
				cmt--;
			continue;
		}
		if (!quoted && *s == '(') {
			if (out->len > 0 && out->buf[out->len - 1] != ' ' &&
			    addr_start != NULL)
				strbuf_addch(out, ' ');
			strbuf_addch(out, '(');
			cmt = 1;
			continue;
		}
		if (!quoted && *s == ';') {
			strbuf_addch(out, ';');
			continue;
		}
		if (*s == '"')
			quoted = !quoted;
		if (addr_start == NULL && !render_space(*s)) {
			addr_start = s;
			if (out->len > 0 && out->buf[out->len - 1] == ')')
				strbuf_addch(out, ' ');
			strbuf_append(out, rewritten.buf ? rewritten.buf : "", rewritten.len);
		}
	}
	strbuf_free(&rewritten);
}

/* commaize(): the list split at top-level commas, each element rewritten,
 * joined with ", " and folded before the column passes 78. */
static void
render_address_header(const struct render_opts *o, const struct qf_header *h,
    bool sender, struct strbuf *out)
{
	struct strbuf line = STRBUF_INIT, name = STRBUF_INIT;
	struct strbuf plain = STRBUF_INIT;
	const char *p;
	size_t opos, spaces = 0;
	bool first = true;

	/* Addresses are parsed on the unquoted text. */
	qf_unquote(h->value, &plain);
	p = strbuf_str(&plain);
	strbuf_addf(&line, "%.*s:", RENDER_FIELD_MAX, h->name);
	opos = strlen(h->name) + 1;
	if (opos > RENDER_FIELD_MAX + 1)
		opos = RENDER_FIELD_MAX + 1;
	while (render_space(*p)) {
		strbuf_addch(&line, ' ');
		spaces++;
		p++;
	}
	opos += spaces;
	while (*p != '\0') {
		const char *start, *end;
		struct render_lex lx;
		int angle = 0;
		char *elem;

		while (render_space(*p) || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		lx = (struct render_lex){ false, 0 };
		for (; *p != '\0'; p++) {
			if (!render_lex_top(&lx, &p))
				continue;
			if (*p == '<')
				angle++;
			else if (*p == '>' && angle > 0)
				angle--;
			else if (angle == 0 && *p == ',')
				break;
		}
		end = p;
		while (end > start && render_space(end[-1]))
			end--;
		if (end == start)
			continue;
		elem = xstrndup(start, (size_t)(end - start));
		strbuf_reset(&name);
		render_one_address(elem, o, sender, &name);
		free(elem);
		if (name.len == 0)
			continue;
		opos += name.len;
		if (!first)
			opos += 2;
		if (opos > RENDER_FOLD_COLUMN && !first) {
			strbuf_addstr(&line, ",\n");
			render_put_line(o, line.buf, line.len - 1, out);
			strbuf_reset(&line);
			strbuf_addstr(&line, "        ");
			opos = 8 + name.len;
		} else if (!first) {
			strbuf_addstr(&line, ", ");
		}
		strbuf_append(&line, name.buf, name.len);
		first = false;
	}
	render_put_line(o, strbuf_str(&line), line.len, out);
	strbuf_free(&line);
	strbuf_free(&name);
	strbuf_free(&plain);
}

/* Return-Path: <$g> (H_BINDLATE: expanded when written): $g is the
 * envelope sender as the relay gets it.  Only a mailer with flag P (or a
 * returned copy in a notification) ever writes it. */
static size_t
render_return_path(const struct qf_envelope *env, const struct render_opts *o,
    const struct qf_header *h, struct strbuf *out)
{
	struct strbuf v = STRBUF_INIT, g = STRBUF_INIT;
	struct qf_header copy = *h;
	const char *p, *m;
	size_t cut;

	/* On the wire a notification's sender is <>; the file mailer (no
	 * domain: a returned copy) writes the sender as queued. */
	if (env->sender != NULL && (o->domain == NULL || !(env->flags & QF_EF_RESPONSE)))
		render_address(env->sender, o, &g);
	for (p = h->value; (m = strstr(p, "\201g")) != NULL; p = m + 2) {
		strbuf_append(&v, p, (size_t)(m - p));
		strbuf_append(&v, strbuf_str(&g), g.len);
	}
	strbuf_addstr(&v, p);
	copy.value = (char *)strbuf_str(&v);
	cut = render_vanilla(o, &copy, out);
	strbuf_free(&v);
	strbuf_free(&g);
	return cut;
}

size_t
render_headers(const struct qf_envelope *env, const struct render_opts *o,
    struct strbuf *out)
{
	size_t i, cut = 0;

	for (i = 0; i < env->nheaders; i++) {
		const struct qf_header *h = &env->headers[i];
		enum render_hkind kind = render_kind(h->name);

		if (!render_selected(env, o, h, kind))
			continue;
		switch (kind) {
		case RH_BCC:
			/* Delete with F flag b, else send the field empty. */
			if (!(env->flags & QF_EF_DELETE_BCC)) {
				strbuf_addf(out, "%.*s:\r\n", RENDER_FIELD_MAX, h->name);
			}
			break;
		case RH_FROMADDR:
		case RH_RCPTADDR:
			render_address_header(o, h, kind == RH_FROMADDR, out);
			break;
		case RH_ACHECK:
			if (strcasecmp(h->name, "return-path") == 0 &&
			    strstr(h->value, "\201g") != NULL) {
				cut += render_return_path(env, o, h, out);
				break;
			}
			/* FALLTHROUGH */
		case RH_PLAIN:
			cut += render_vanilla(o, h, out);
			break;
		}
	}
	strbuf_addstr(out, "\r\n");
	return cut;
}

long long
render_message_size(const struct qf_envelope *env, long long df_size)
{
	long long size = df_size;
	size_t i;

	for (i = 0; i < env->nheaders; i++) {
		const struct qf_header *h = &env->headers[i];
		size_t line = 1 + (h->cond ? strlen(h->cond) + 2 : 0) +
		    strlen(h->name) + 1 + strlen(h->value);

		size += (long long)line - 3;
	}
	return size;
}

/* ----------------------------------------------------------------- body */

void
render_body_init(struct render_body *rb, const struct render_opts *o)
{
	memset(rb, 0, sizeof *rb);
	rb->o = o;
	rb->state = RB_LINE_START;
	rb->limit = o->linelimit > 0 ? o->linelimit - 1 : 0;
}

static void
render_eol(struct render_body *rb, struct strbuf *out)
{
	strbuf_addstr(out, "\r\n");
	rb->state = RB_LINE_START;
	rb->seg = 0;
	rb->limit = rb->o->linelimit > 0 ? rb->o->linelimit - 1 : 0;
}

/* The octet held at the segment limit learns what follows it: the end of
 * the line (or of the file) lets it stay on this line; anything else
 * splits the line before it. */
static void
render_release(struct render_body *rb, bool line_ends, struct strbuf *out)
{
	if (!rb->held)
		return;
	rb->held = false;
	if (!line_ends) {
		strbuf_addstr(out, "!\r\n ");
		rb->seg = 0;
		rb->limit = RENDER_BODY_CONT_MAX;
	}
	strbuf_addch(out, rb->held_c);
	rb->seg++;
}

static void
render_data(struct render_body *rb, unsigned char c, struct strbuf *out)
{
	if (rb->state == RB_LINE_START) {
		if (c == '.' && strchr(rb->o->mailer_flags, 'X') != NULL)
			strbuf_addch(out, '.');
		rb->state = RB_IN_LINE;
	}
	if (rb->o->linelimit > 0 && rb->seg >= rb->limit) {
		rb->held = true;
		rb->held_c = c;
		return;
	}
	strbuf_addch(out, c);
	rb->seg++;
}

void
render_body_feed(struct render_body *rb, const char *p, size_t n,
    struct strbuf *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		render_release(rb, c == '\n', out);
		if (rb->state == RB_AFTER_CR) {
			if (c == '\n') {
				render_eol(rb, out);
				continue;
			}
			/* A bare CR is an ordinary octet. */
			rb->state = RB_IN_LINE;
			render_data(rb, '\r', out);
			render_release(rb, false, out);
		}
		if (c == '\r') {
			if (rb->state == RB_LINE_START)
				rb->state = RB_IN_LINE;
			rb->state = RB_AFTER_CR;
		} else if (c == '\n') {
			render_eol(rb, out);
		} else {
			render_data(rb, c, out);
		}
	}
}

void
render_body_finish(struct render_body *rb, struct strbuf *out)
{
	/* The end of the file ends the last line: it gets its CRLF. */
	render_release(rb, true, out);
	if (rb->state != RB_LINE_START)
		render_eol(rb, out);
}
