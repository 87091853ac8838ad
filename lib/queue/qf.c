#include "config.h"

#include "queue/qf.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"
#include "queue/xtext.h"

/* The letters of the F and R lines, in the order queueup() writes them. */
static const struct {
	char letter;
	unsigned bit;
} qf_eflag_letters[] = {
	{ 'w', QF_EF_WARNING }, { 'r', QF_EF_RESPONSE },
	{ '8', QF_EF_HAS8BIT }, { 'b', QF_EF_DELETE_BCC },
	{ 'd', QF_EF_RET_PARAM }, { 'n', QF_EF_NO_BODY_RETN },
	{ 's', QF_EF_SPLIT }, { 'e', QF_EF_SMTPUTF8 },
}, qf_rflag_letters[] = {
	{ 'P', QF_RF_PRIMARY }, { 'N', QF_RF_HASNOTIFY },
	{ 'S', QF_RF_SUCCESS }, { 'F', QF_RF_FAILURE },
	{ 'D', QF_RF_DELAY }, { 'B', QF_RF_INTBCC },
	{ 'X', QF_RF_MXSECURE }, { 'A', QF_RF_ALIAS },
	{ 'Y', QF_RF_DYNMAILER },
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Parser state for one file. */
struct qf_parser {
	struct qf_envelope *env;
	struct error *err;
	unsigned line;		/* first physical line of the current record */
	bool seen_version;
	bool seen_sender;
	bool done;		/* the "." line was read */
	char *ctladdr;		/* C line in force (owned here, copied per R) */
	char *pend_status;	/* M, Q and r apply to the next R only */
	char *pend_orcpt;
	char *pend_final;
	size_t rcpt_cap, header_cap, macro_cap;
};

static enum qf_status
qf_refuse(struct qf_parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum qf_status
qf_refuse(struct qf_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->err != NULL) {
		va_start(ap, fmt);
		error_setv(p->err, 0, fmt, ap);
		va_end(ap);
		p->err->line = p->line;
	}
	return QF_REFUSED;
}

/* A byte for a reason string: printable ASCII as itself, else \xNN. */
static const char *
qf_showch(unsigned char c, char buf[8])
{
	if (c > ' ' && c < 0x7f)
		snprintf(buf, 8, "%c", c);
	else
		snprintf(buf, 8, "\\x%02x", c);
	return buf;
}

/* Strict decimal: optional '-' (only when allow_neg), digits, nothing else.
 * sendmail uses atol(); anything it would silently read as 0 is refused. */
static bool
qf_number(const char *s, bool allow_neg, long long *out)
{
	const char *p = s;
	long long v = 0;
	bool neg = false;

	if (allow_neg && *p == '-') {
		neg = true;
		p++;
	}
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		if (v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return true;
}

static void *
qf_grow(void *array, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return array;
	*cap = *cap ? *cap * 2 : 8;
	return xreallocarray(array, *cap, elem);
}

static enum qf_status
qf_parse_header(struct qf_parser *p, const char *s)
{
	struct qf_envelope *env = p->env;
	struct qf_header *h;
	const char *cond = NULL, *name, *colon, *q;
	size_t condlen = 0, i;

	if (env->nheaders >= QF_HEADER_MAX)
		return qf_refuse(p, "more than %d header lines", QF_HEADER_MAX);
	if (*s == '?') {
		cond = s + 1;
		q = strchr(cond, '?');
		if (q == NULL)
			return qf_refuse(p, "header line has an unterminated ?condition?");
		condlen = (size_t)(q - cond);
		name = q + 1;
	} else {
		name = s;
	}
	colon = strchr(name, ':');
	if (colon == NULL || colon == name)
		return qf_refuse(p, "header line has no field name");
	for (i = 0; name + i < colon; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f) {
			char b[8];

			return qf_refuse(p, "header field name has the byte '%s'",
			    qf_showch(c, b));
		}
	}
	env->headers = qf_grow(env->headers, &p->header_cap, env->nheaders,
	    sizeof *env->headers);
	h = &env->headers[env->nheaders++];
	h->cond = cond ? xstrndup(cond, condlen) : NULL;
	h->name = xstrndup(name, (size_t)(colon - name));
	h->value = xstrdup(colon + 1);
	return QF_OK;
}

static enum qf_status
qf_parse_rcpt(struct qf_parser *p, const char *s)
{
	struct qf_envelope *env = p->env;
	struct qf_rcpt *r;
	unsigned flags = 0;
	size_t i;

	if (env->nrcpts >= QF_RCPT_MAX)
		return qf_refuse(p, "more than %d recipients", QF_RCPT_MAX);
	/* Version >= 1: flag letters up to ':'.  Unknown letters are ignored,
	 * as readqf() ignores them. */
	for (; *s != '\0' && *s != ':'; s++) {
		for (i = 0; i < NELEM(qf_rflag_letters); i++)
			if (qf_rflag_letters[i].letter == *s)
				flags |= qf_rflag_letters[i].bit;
	}
	if (*s != ':')
		return qf_refuse(p, "R line has no ':' before the address");
	s++;
	if (*s == '\0')
		return qf_refuse(p, "R line has an empty address");
	env->rcpts = qf_grow(env->rcpts, &p->rcpt_cap, env->nrcpts,
	    sizeof *env->rcpts);
	r = &env->rcpts[env->nrcpts++];
	r->addr = xstrdup(s);
	r->flags = flags;
	r->ctladdr = p->ctladdr ? xstrdup(p->ctladdr) : NULL;
	r->status = p->pend_status;
	r->orcpt = p->pend_orcpt;
	r->final_rcpt = p->pend_final;
	p->pend_status = p->pend_orcpt = p->pend_final = NULL;
	return QF_OK;
}

static enum qf_status
qf_parse_macro(struct qf_parser *p, const char *s)
{
	struct qf_envelope *env = p->env;
	const char *end;
	struct qf_macro *m;
	size_t namelen;

	if (env->nmacros >= QF_MACRO_MAX)
		return qf_refuse(p, "more than %d macro lines", QF_MACRO_MAX);
	if (*s == '{') {
		end = strchr(s, '}');
		if (end == NULL || end == s + 1)
			return qf_refuse(p, "macro line has an unbalanced or empty {name}");
		namelen = (size_t)(end - s) + 1;
	} else if ((unsigned char)*s > ' ' && (unsigned char)*s < 0x7f) {
		namelen = 1;
	} else {
		return qf_refuse(p, "macro line has no macro name");
	}
	env->macros = qf_grow(env->macros, &p->macro_cap, env->nmacros,
	    sizeof *env->macros);
	m = &env->macros[env->nmacros++];
	m->name = xstrndup(s, namelen);
	m->value = xstrdup(s + namelen);
	return QF_OK;
}

/* Replace *slot with a copy of s (a later line of the same kind wins, as in
 * readqf()). */
static void
qf_set(char **slot, const char *s)
{
	free(*slot);
	*slot = xstrdup(s);
}

/* One logical line (continuations already joined with "\n"). */
static enum qf_status
qf_parse_record(struct qf_parser *p, const char *line)
{
	struct qf_envelope *env = p->env;
	const char *v = line + 1;
	long long n;
	char b[8];
	size_t i;

	if (p->done)
		return qf_refuse(p, "extra data after the final '.' line");
	if (!p->seen_version && line[0] != 'V')
		return qf_refuse(p, "the first line is not a V (version) line");

	switch (line[0]) {
	case 'V':
		if (p->seen_version)
			return qf_refuse(p, "second V (version) line");
		if (!qf_number(v, false, &n))
			return qf_refuse(p, "bad version number in V line");
		if (n > QF_VERSION_MAX)
			return qf_refuse(p, "unsupported queue file version %lld (newer than %d)",
			    n, QF_VERSION_MAX);
		if (n < QF_VERSION_MIN)
			return qf_refuse(p, "queue file version %lld predates the client queue (sendmail 8.12 writes %d)",
			    n, QF_VERSION_MIN);
		env->version = (int)n;
		p->seen_version = true;
		return QF_OK;
	case 'T':
	case 'K':
	case 'N':
	case 'P':
		if (!qf_number(v, line[0] == 'P', &n))
			return qf_refuse(p, "bad number in %c line", line[0]);
		if (line[0] == 'T')
			env->ctime = n;
		else if (line[0] == 'K')
			env->dtime = n;
		else if (line[0] == 'P')
			env->priority = n;
		else if (n > 1000000000)
			return qf_refuse(p, "implausible attempt count in N line");
		else
			env->ntries = (long)n;
		return QF_OK;
	case 'd':
		if (*v == '\0')
			return qf_refuse(p, "empty d (data file directory) line");
		qf_set(&env->df_dir, v);
		return QF_OK;
	case 'I':
		qf_set(&env->df_inode, v);
		return QF_OK;
	case 'B':
		/* check_bodytype(): 7BIT or 8BITMIME, any case. */
		if (strcasecmp(v, "7bit") != 0 && strcasecmp(v, "8bitmime") != 0)
			return qf_refuse(p, "bad body type in B line (not 7BIT or 8BITMIME)");
		qf_set(&env->bodytype, v);
		return QF_OK;
	case 'q':
		qf_set(&env->quarantine, v);
		return QF_OK;
	case 'M':
		/* The envelope's status comes before S; later M lines belong
		 * to the next recipient (queueup()'s order). */
		qf_set(p->seen_sender ? &p->pend_status : &env->status, v);
		return QF_OK;
	case 'F':
		/* readqf(): "we are being spoofed!" */
		if (strncmp(line, "From ", 5) == 0)
			return qf_refuse(p, "F line begins with 'From ' (a mailbox separator, not flags)");
		for (; *v != '\0'; v++)
			for (i = 0; i < NELEM(qf_eflag_letters); i++)
				if (qf_eflag_letters[i].letter == *v)
					env->flags |= qf_eflag_letters[i].bit;
		return QF_OK;
	case '$':
		return qf_parse_macro(p, v);
	case 'S':
		qf_set(&env->sender, v);
		p->seen_sender = true;
		return QF_OK;
	case 'Z':
		if (!xtext_valid(v))
			return qf_refuse(p, "Z (ENVID) value is not xtext");
		qf_set(&env->envid, v);
		return QF_OK;
	case 'A':
		if (!xtext_valid(v))
			return qf_refuse(p, "A (AUTH) value is not xtext");
		qf_set(&env->auth, v);
		return QF_OK;
	case '!':
		/* A raw flag byte, a space, seconds (queueup(): "!%c %ld"). */
		if (v[0] == '\0' || v[1] != ' ' || !qf_number(v + 2, true, &n))
			return qf_refuse(p, "malformed ! (deliver-by) line");
		env->has_deliver_by = true;
		env->deliver_by_flag = (unsigned char)v[0];
		env->deliver_by = n;
		return QF_OK;
	case 'C':
		free(p->ctladdr);
		p->ctladdr = *v != '\0' ? xstrdup(v) : NULL;
		return QF_OK;
	case 'Q':
		if (!xtext_valid(v))
			return qf_refuse(p, "Q (ORCPT) value is not xtext");
		qf_set(&p->pend_orcpt, v);
		return QF_OK;
	case 'r':
		qf_set(&p->pend_final, v);
		return QF_OK;
	case 'R':
		return qf_parse_rcpt(p, v);
	case 'H':
		return qf_parse_header(p, v);
	case '.':
		if (*v != '\0')
			return qf_refuse(p, "the final '.' line has trailing data");
		p->done = true;
		return QF_OK;
	case 'D':
	case 'E':
	case 'L':
		/* Obsolete records; readqf() ignores them. */
		return QF_OK;
	case '\0':
		return qf_refuse(p, "empty line");
	default:
		return qf_refuse(p, "unrecognized line type '%s'",
		    qf_showch((unsigned char)line[0], b));
	}
}

static void
qf_parser_free(struct qf_parser *p)
{
	free(p->ctladdr);
	free(p->pend_status);
	free(p->pend_orcpt);
	free(p->pend_final);
}

enum qf_status
qf_parse(const char *data, size_t len, struct qf_envelope **out,
    struct error *err)
{
	struct qf_parser p;
	struct strbuf logical = STRBUF_INIT;
	bool have_logical = false, partial = false;
	enum qf_status st = QF_OK;
	unsigned physline = 0;
	size_t pos = 0;

	*out = NULL;
	memset(&p, 0, sizeof p);
	p.err = err;
	if (err != NULL) {
		err->line = 0;
		err->reason[0] = '\0';
		err->errnum = 0;
	}
	if (len == 0) {
		if (err != NULL)
			snprintf(err->reason, sizeof err->reason,
			    "empty control file (its submitter may still hold it)");
		return QF_EMPTY;
	}
	if (len > QF_FILE_MAX) {
		if (err != NULL)
			snprintf(err->reason, sizeof err->reason,
			    "control file is larger than %d octets", QF_FILE_MAX);
		return QF_REFUSED;
	}
	p.env = xcalloc(1, sizeof *p.env);

	while (pos < len) {
		const char *start = data + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t plen = nl ? (size_t)(nl - start) : len - pos;

		physline++;
		pos += plen + (nl != NULL);
		if (memchr(start, '\0', plen) != NULL) {
			p.line = physline;
			st = qf_refuse(&p, "NUL byte in the line");
			goto out;
		}
		/* fgetfolded() treats CRLF as LF.  All CRs before the LF go,
		 * so that no value can end in a CR that a rewrite would turn
		 * into a CRLF and lose on the next read. */
		while (nl != NULL && plen > 0 && start[plen - 1] == '\r')
			plen--;
		if (nl == NULL && !(plen == 1 && start[0] == '.')) {
			/* A last line without its newline is a file still
			 * being written (a new qf is written in place, under
			 * its lock), not a bad one: only "." may end a file
			 * without "\n", as readqf() accepts. */
			partial = true;
			break;
		}
		if (plen > 0 && (start[0] == ' ' || start[0] == '\t')) {
			/* Continuation line: only header values fold. */
			if (!have_logical || logical.buf[0] != 'H') {
				p.line = physline;
				st = qf_refuse(&p, "continuation line after a line that is not a header");
				goto out;
			}
			if (logical.len + 1 + plen > QF_LINE_MAX) {
				st = qf_refuse(&p, "line longer than %d octets", QF_LINE_MAX);
				goto out;
			}
			strbuf_addch(&logical, '\n');
			strbuf_append(&logical, start, plen);
			continue;
		}
		if (have_logical) {
			st = qf_parse_record(&p, strbuf_str(&logical));
			if (st != QF_OK)
				goto out;
		}
		p.line = physline;
		if (plen > QF_LINE_MAX) {
			st = qf_refuse(&p, "line longer than %d octets", QF_LINE_MAX);
			goto out;
		}
		strbuf_reset(&logical);
		strbuf_append(&logical, start, plen);
		have_logical = true;
	}
	if (have_logical) {
		st = qf_parse_record(&p, strbuf_str(&logical));
		if (st != QF_OK)
			goto out;
	}
	if (partial && p.done) {
		p.line = physline;
		st = qf_refuse(&p, "extra data after the final '.' line");
		goto out;
	}
	if (!p.done) {
		p.line = 0;
		if (err != NULL)
			snprintf(err->reason, sizeof err->reason,
			    "no final '.' line (still being written, or cut short)");
		st = QF_INCOMPLETE;
		goto out;
	}
	if (!p.seen_sender) {
		p.line = 0;
		st = qf_refuse(&p, "no S (sender) line");
		goto out;
	}
out:
	strbuf_free(&logical);
	qf_parser_free(&p);
	if (st != QF_OK) {
		qf_free(p.env);
		return st;
	}
	*out = p.env;
	return QF_OK;
}

/* ------------------------------------------------------------------ writer */

/* sendmail's denlstring(): in strict mode every newline becomes a space;
 * otherwise only a newline that is not followed by a space or tab (a line
 * that would not be read back as a continuation). */
static void
qf_put_denl(struct strbuf *out, const char *s, bool strict)
{
	for (; *s != '\0'; s++) {
		if (*s == '\n' && (strict || (s[1] != ' ' && s[1] != '\t')))
			strbuf_addch(out, ' ');
		else
			strbuf_addch(out, *s);
	}
}

static void
qf_put_line(struct strbuf *out, char type, const char *s)
{
	strbuf_addch(out, type);
	qf_put_denl(out, s, true);
	strbuf_addch(out, '\n');
}

static bool
qf_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

void
qf_format(const struct qf_envelope *env, struct strbuf *out)
{
	const char *ctl = NULL;
	size_t i, k;

	strbuf_addf(out, "V%d\n", env->version ? env->version : QF_VERSION_MAX);
	strbuf_addf(out, "T%lld\nK%lld\nN%ld\nP%lld\n", env->ctime, env->dtime,
	    env->ntries, env->priority);
	if (env->df_dir)
		qf_put_line(out, 'd', env->df_dir);
	if (env->df_inode)
		qf_put_line(out, 'I', env->df_inode);
	if (env->bodytype)
		qf_put_line(out, 'B', env->bodytype);
	if (env->quarantine)
		qf_put_line(out, 'q', env->quarantine);
	if (env->status)
		qf_put_line(out, 'M', env->status);
	if (env->flags != 0) {
		strbuf_addch(out, 'F');
		for (i = 0; i < NELEM(qf_eflag_letters); i++)
			if (env->flags & qf_eflag_letters[i].bit)
				strbuf_addch(out, qf_eflag_letters[i].letter);
		strbuf_addch(out, '\n');
	}
	for (i = 0; i < env->nmacros; i++) {
		strbuf_addch(out, '$');
		strbuf_addstr(out, env->macros[i].name);
		qf_put_denl(out, env->macros[i].value, true);
		strbuf_addch(out, '\n');
	}
	qf_put_line(out, 'S', env->sender ? env->sender : "");
	if (env->envid)
		qf_put_line(out, 'Z', env->envid);
	if (env->auth)
		qf_put_line(out, 'A', env->auth);
	if (env->has_deliver_by)
		strbuf_addf(out, "!%c %lld\n", (char)env->deliver_by_flag,
		    env->deliver_by);

	/* Per recipient: M, C (only when the controlling user changes, a bare
	 * "C" when it goes away, as printctladdr() does), Q, r, R. */
	for (i = 0; i < env->nrcpts; i++) {
		const struct qf_rcpt *r = &env->rcpts[i];

		if (r->status)
			qf_put_line(out, 'M', r->status);
		if (!qf_streq(r->ctladdr, ctl)) {
			qf_put_line(out, 'C', r->ctladdr ? r->ctladdr : "");
			ctl = r->ctladdr;
		}
		if (r->orcpt)
			qf_put_line(out, 'Q', r->orcpt);
		if (r->final_rcpt)
			qf_put_line(out, 'r', r->final_rcpt);
		strbuf_addch(out, 'R');
		for (k = 0; k < NELEM(qf_rflag_letters); k++)
			if (r->flags & qf_rflag_letters[k].bit)
				strbuf_addch(out, qf_rflag_letters[k].letter);
		strbuf_addch(out, ':');
		qf_put_denl(out, r->addr, true);
		strbuf_addch(out, '\n');
	}

	for (i = 0; i < env->nheaders; i++) {
		const struct qf_header *h = &env->headers[i];

		strbuf_addch(out, 'H');
		if (h->cond) {
			strbuf_addch(out, '?');
			qf_put_denl(out, h->cond, true);
			strbuf_addch(out, '?');
		}
		qf_put_denl(out, h->name, true);
		strbuf_addch(out, ':');
		qf_put_denl(out, h->value, false);
		strbuf_addch(out, '\n');
	}
	strbuf_addstr(out, ".\n");
}

/* ------------------------------------------------------------------ misc */

void
qf_free(struct qf_envelope *env)
{
	size_t i;

	if (env == NULL)
		return;
	for (i = 0; i < env->nmacros; i++) {
		free(env->macros[i].name);
		free(env->macros[i].value);
	}
	for (i = 0; i < env->nrcpts; i++) {
		free(env->rcpts[i].addr);
		free(env->rcpts[i].ctladdr);
		free(env->rcpts[i].orcpt);
		free(env->rcpts[i].final_rcpt);
		free(env->rcpts[i].status);
	}
	for (i = 0; i < env->nheaders; i++) {
		free(env->headers[i].cond);
		free(env->headers[i].name);
		free(env->headers[i].value);
	}
	free(env->macros);
	free(env->rcpts);
	free(env->headers);
	free(env->df_dir);
	free(env->df_inode);
	free(env->bodytype);
	free(env->quarantine);
	free(env->status);
	free(env->sender);
	free(env->envid);
	free(env->auth);
	free(env);
}

const char *
qf_status_str(enum qf_status s)
{
	switch (s) {
	case QF_OK:
		return "ok";
	case QF_EMPTY:
		return "empty";
	case QF_INCOMPLETE:
		return "incomplete";
	case QF_REFUSED:
		return "refused";
	}
	return "unknown";
}

const char *
qf_macro_get(const struct qf_envelope *env, const char *name)
{
	size_t i;

	/* The last definition wins, as macdefine() replaces. */
	for (i = env->nmacros; i > 0; i--)
		if (strcmp(env->macros[i - 1].name, name) == 0)
			return env->macros[i - 1].value;
	return NULL;
}

size_t
qf_unquote(const char *s, struct strbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t meta = 0;

	for (; *p != '\0'; p++) {
		if (*p == 0xFF && p[1] != '\0') {
			p++;
			strbuf_addch(out, *p);
			continue;
		}
		if (*p >= 0x80 && *p <= 0x9F)
			meta++;
		strbuf_addch(out, *p);
	}
	return meta;
}
