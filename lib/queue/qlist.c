#include "config.h"

#include "queue/qlist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/json.h"
#include "util/xalloc.h"

/* print_single_queue() sorts with priority 0x7fffffff for jobs whose
 * control file it could not read. */
#define QLIST_UNKNOWN_PRI 0x7fffffffLL

static long long
qlist_pri(const struct qlist_entry *e)
{
	return e->priority;
}

static int
qlist_cmp(const void *a, const void *b)
{
	const struct qlist_entry *x = a, *y = b;
	long long px = qlist_pri(x), py = qlist_pri(y);

	if (px != py)
		return px < py ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* One control file of the listing: false when it is left out (delivered
 * while we listed, or a qf with a q line, which gatherq() leaves out of a
 * normal listing; an hf file is listed whatever its q line says).  With
 * keep_env the envelope is kept; with size the data file's size is
 * found (a stat more). */
static bool
qlist_read(struct spool *sp, char prefix, const char *id, size_t seq, bool keep_env,
    bool size, struct qlist_entry *e)
{
	struct error serr;
	struct error qerr;
	char *data;
	size_t len;

	memset(e, 0, sizeof *e);
	e->priority = QLIST_UNKNOWN_PRI;
	e->held = prefix == 'h';
	snprintf(e->id, sizeof e->id, "%s", id);
	e->sres = spool_peek(sp, prefix, e->id, &e->locked, &data, &len, &e->owner, &serr);
	if (e->sres == SPOOL_GONE)
		return false;
	e->seq = seq;
	e->df_size = size ? spool_df_size(sp, e->id) : -1;
	if (e->sres != SPOOL_OK) {
		e->problem = xstrdup(serr.reason);
		return true;
	}
	e->qst = qf_parse(data, len, &e->env, &qerr);
	free(data);
	if (e->qst != QF_OK) {
		if (qerr.line)
			e->problem = xasprintf("line %u: %s", qerr.line, qerr.reason);
		else
			e->problem = xstrdup(qerr.reason);
	} else if (e->env->quarantine != NULL && !e->held) {
		qf_free(e->env);
		return false;
	} else {
		e->priority = e->env->priority;
		if (!keep_env) {
			qf_free(e->env);
			e->env = NULL;
		}
	}
	return true;
}

/* Read one file; keep it in v[*n] if want does (its envelope dropped
 * unless keep_env). */
static void
qlist_take(struct spool *sp, char prefix, const char *id, size_t seq, bool keep_env,
    qlist_want_fn *want, void *arg, struct qlist_entry *v, size_t *n)
{
	struct qlist_entry *e = &v[*n];

	if (!qlist_read(sp, prefix, id, seq, true, keep_env, e))
		return;
	if (want != NULL && !want(arg, e)) {
		qf_free(e->env);
		free(e->problem);
		return;
	}
	if (!keep_env) {
		qf_free(e->env);
		e->env = NULL;
	}
	(*n)++;
}

bool
qlist_gather(struct spool *sp, struct qlist *out, bool keep_env, qlist_want_fn *want,
    void *arg, struct error *err)
{
	size_t i, n = 0;

	memset(out, 0, sizeof *out);
	if (!spool_scan(sp, 'q', &out->scan, err))
		return false;
	out->v = xcalloc(out->scan.nids ? out->scan.nids : 1, sizeof *out->v);
	for (i = 0; i < out->scan.nids; i++) {
		if (want == NULL && !keep_env) {
			/* Only the order is wanted: no data file to stat. */
			if (qlist_read(sp, 'q', out->scan.ids[i], i, false, false, &out->v[n]))
				n++;
		} else {
			qlist_take(sp, 'q', out->scan.ids[i], i, keep_env, want, arg, out->v, &n);
		}
	}
	out->n = n;
	/* sendmail sorts with qsort(), which glibc makes a merge sort:
	 * equal priorities stay in directory order.  The sequence number
	 * makes our qsort() stable too. */
	qsort(out->v, n, sizeof *out->v, qlist_cmp);
	return true;
}

bool
qlist_gather_held(struct spool *sp, struct qlist *ql, bool keep_env, qlist_want_fn *want,
    void *arg, struct error *err)
{
	struct spool_scan scan;
	size_t i, n = ql->n;

	if (!spool_scan(sp, 'h', &scan, err))
		return false;
	ql->v = xreallocarray(ql->v, n + scan.nids + 1, sizeof *ql->v);
	for (i = 0; i < scan.nids; i++)
		qlist_take(sp, 'h', scan.ids[i], i, keep_env, want, arg, ql->v, &n);
	ql->n = n;
	spool_scan_free(&scan);
	return true;
}

bool
qlist_walk(struct spool *sp, char prefix, void (*fn)(void *arg, const struct qlist_entry *e),
    void *arg, struct error *err)
{
	struct spool_scan scan;
	size_t i;

	if (!spool_scan(sp, prefix, &scan, err))
		return false;
	for (i = 0; i < scan.nids; i++) {
		struct qlist_entry e;

		if (!qlist_read(sp, prefix, scan.ids[i], i, true, true, &e))
			continue;
		fn(arg, &e);
		qf_free(e.env);
		free(e.problem);
	}
	spool_scan_free(&scan);
	return true;
}

/* e as printed: an entry gathered without its envelope is read again
 * into *tmp (freed by qlist_done), as mailq reads each file again when
 * it prints it; one whose file went meanwhile is SPOOL_GONE. */
static const struct qlist_entry *
qlist_reread(struct spool *sp, const struct qlist_entry *e, struct qlist_entry *tmp)
{
	struct qlist_entry r;

	if (sp == NULL || e->env != NULL || e->sres != SPOOL_OK || e->qst != QF_OK)
		return e;
	*tmp = *e;
	if (!qlist_read(sp, e->held ? 'h' : 'q', e->id, e->seq, true, true, &r)) {
		tmp->sres = SPOOL_GONE;
		return tmp;
	}
	tmp->env = r.env;
	tmp->df_size = r.df_size;
	tmp->sres = r.sres;
	tmp->qst = r.qst;
	tmp->problem = r.problem;
	tmp->owner = r.owner;
	return tmp;
}

static void
qlist_done(const struct qlist_entry *e, struct qlist_entry *tmp)
{
	if (e != tmp)
		return;
	qf_free(tmp->env);
	free(tmp->problem);
}

void
qlist_free(struct qlist *ql)
{
	size_t i;

	for (i = 0; i < ql->n; i++) {
		qf_free(ql->v[i].env);
		free(ql->v[i].problem);
	}
	free(ql->v);
	spool_scan_free(&ql->scan);
	memset(ql, 0, sizeof *ql);
}

/* An entry without an envelope, in a word: the JSON listings' state. */
static const char *
qlist_state(const struct qlist_entry *e)
{
	if (e->sres == SPOOL_GONE)
		return "completed";
	return e->sres != SPOOL_OK ? "unsafe" : qf_status_str(e->qst);
}

/* prtstr(): at most ml columns; a backslash is doubled, anything not
 * printable ASCII is written as \ooo while there is room. */
static void
qlist_prtstr(FILE *fp, const char *s, int ml)
{
	int c;

	while (ml-- > 0 && (c = (unsigned char)*s++) != '\0') {
		if (c == '\\') {
			if (ml-- > 0) {
				putc(c, fp);
				putc(c, fp);
			}
		} else if (c < 0x80 && c >= ' ' && c < 0x7f) {
			putc(c, fp);
		} else if ((ml -= 3) > 0) {
			fprintf(fp, "\\%03o", c & 0xFF);
		}
	}
}

/* The first 16 characters of ctime(): "Tue Nov  4 22:38", in the local
 * time zone, always in English as the C locale's ctime() is. */
static void
qlist_ctime16(FILE *fp, long long t)
{
	static const char wday[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char mon[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL) {
		fprintf(fp, "%-16s", "?");
		return;
	}
	fprintf(fp, "%.3s %.3s%3d %.2d:%.2d", wday[tm.tm_wday], mon[tm.tm_mon],
	    tm.tm_mday, tm.tm_hour, tm.tm_min);
}

static void
qlist_print_entry(const struct qlist_entry *e, FILE *fp)
{
	const struct qf_envelope *env = e->env;
	size_t i;

	fprintf(fp, "%13s%c", e->id, e->locked ? '*' : ' ');
	if (e->sres == SPOOL_GONE) {
		fputs(" (job completed)\n", fp);	/* mailq's words */
		return;
	}
	if (env == NULL) {
		/* mailq's own words where it has them. */
		if (e->qst == QF_EMPTY && e->sres == SPOOL_OK)
			fprintf(fp, " (no control file)\n");
		else
			fprintf(fp, " (%s: %s)\n",
			    e->sres != SPOOL_OK ? "unsafe" : qf_status_str(e->qst),
			    e->problem ? e->problem : "?");
		return;
	}
	/* The S line: size, date, sender; then the quarantine reason, body
	 * type and envelope status. */
	fprintf(fp, "%8lld ", e->df_size);
	qlist_ctime16(fp, env->ctime);
	putc(' ', fp);
	qlist_prtstr(fp, env->sender, 39);
	if (env->quarantine != NULL)
		fprintf(fp, "\n     QUARANTINE: %.60s", env->quarantine);
	if (env->status != NULL || env->bodytype != NULL) {
		fprintf(fp, "\n    %10.10s", env->bodytype ? env->bodytype : "");
		if (env->status != NULL)
			fprintf(fp, "   (%.60s)", env->status);
	}
	for (i = 0; i < env->nrcpts; i++) {
		fputs("\n\t\t\t\t\t ", fp);
		qlist_prtstr(fp, env->rcpts[i].addr, 38);
	}
	if (env->ctime == 0)
		fputs(" (no control file)", fp);
	putc('\n', fp);
}

void
qlist_print_mailq(const struct qlist *ql, struct spool *sp, const char *queue_dir, FILE *fp)
{
	struct qlist_entry tmp;
	size_t i;

	if (ql->n == 0) {
		fprintf(fp, "%s is empty\n", queue_dir);
	} else {
		fprintf(fp, "\t\t%s (%zu request%s)\n", queue_dir, ql->n,
		    ql->n == 1 ? "" : "s");
		fputs("-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n", fp);
		for (i = 0; i < ql->n && !ferror(fp); i++) {
			const struct qlist_entry *e = qlist_reread(sp, &ql->v[i], &tmp);

			qlist_print_entry(e, fp);
			qlist_done(e, &tmp);
		}
	}
	fprintf(fp, "\t\tTotal requests: %zu\n", ql->n);
}

static void
qlist_json_opt(FILE *fp, const char *key, const char *value)
{
	fprintf(fp, ",\"%s\":", key);
	if (value == NULL)
		fputs("null", fp);
	else
		json_string(fp, value);
}

void
qlist_print_json(const struct qlist *ql, struct spool *sp, FILE *fp)
{
	struct qlist_entry tmp;
	size_t i, k;

	putc('[', fp);
	for (i = 0; i < ql->n && !ferror(fp); i++) {
		const struct qlist_entry *e = qlist_reread(sp, &ql->v[i], &tmp);
		const struct qf_envelope *env = e->env;

		fprintf(fp, "%s\n{\"id\":", i ? "," : "");
		json_string(fp, e->id);
		fprintf(fp, ",\"locked\":%s,\"size\":%lld", e->locked ? "true" : "false",
		    e->df_size);
		if (env == NULL) {
			fprintf(fp, ",\"state\":\"%s\"", qlist_state(e));
			qlist_json_opt(fp, "problem", e->problem);
			fputs("}", fp);
			qlist_done(e, &tmp);
			continue;
		}
		fprintf(fp, ",\"state\":\"ok\",\"ctime\":%lld,\"last_attempt\":%lld,\"tries\":%ld,\"priority\":%lld",
		    env->ctime, env->dtime, env->ntries, env->priority);
		qlist_json_opt(fp, "sender", env->sender);
		qlist_json_opt(fp, "status", env->status);
		qlist_json_opt(fp, "bodytype", env->bodytype);
		qlist_json_opt(fp, "envid", env->envid);
		fputs(",\"recipients\":[", fp);
		for (k = 0; k < env->nrcpts; k++) {
			fprintf(fp, "%s{\"address\":", k ? "," : "");
			json_string(fp, env->rcpts[k].addr);
			qlist_json_opt(fp, "status", env->rcpts[k].status);
			putc('}', fp);
		}
		fputs("]}", fp);
		qlist_done(e, &tmp);
	}
	fputs(ql->n ? "\n]\n" : "]\n", fp);
}

/* ------------------------------------------------------ JSON Lines */

/* An address as Postfix's postqueue -j writes it: without the angle
 * brackets sendmail keeps in S and R lines ("<>", the null sender, is
 * ""). */
static void
qlist_json_addr(FILE *fp, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	char *bare;

	if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
		bare = xstrdup(s + 1);
		bare[n - 2] = '\0';
		json_string(fp, bare);
		free(bare);
	} else {
		json_string(fp, s != NULL ? s : "");
	}
}

const char *
qlist_queue_name(const struct qlist_entry *e)
{
	if (e->held)
		return "hold";
	if (e->active)
		return "active";
	if (e->env != NULL && e->env->ntries > 0)
		return "deferred";
	return "incoming";
}

long long
qlist_message_size(const struct qlist_entry *e)
{
	long long n = e->df_size > 0 ? e->df_size : 0;
	size_t i;

	/* Postfix counts header and body.  The headers are in the control
	 * file, as queued (unexpanded macros, conditional headers counted):
	 * an approximation, as Postfix's own is. */
	if (e->env != NULL)
		for (i = 0; i < e->env->nheaders; i++)
			n += (long long)strlen(e->env->headers[i].name) + 1 +
			    (long long)strlen(e->env->headers[i].value) + 1;
	return n;
}

static void
qlist_print_jsonl_entry(const struct qlist_entry *e, FILE *fp)
{
	const struct qf_envelope *env = e->env;
	size_t k;

	/* Postfix's members first, in its order and spacing, so that what
	 * reads postqueue -j line by line reads this too. */
	fprintf(fp, "{\"queue_name\": \"%s\", \"queue_id\": ", qlist_queue_name(e));
	json_string(fp, e->id);
	fprintf(fp, ", \"arrival_time\": %lld, \"message_size\": %lld, "
	    "\"forced_expire\": false, \"sender\": ", env != NULL ? env->ctime : 0LL,
	    qlist_message_size(e));
	qlist_json_addr(fp, env != NULL ? env->sender : "");
	fputs(", \"recipients\": [", fp);
	for (k = 0; env != NULL && k < env->nrcpts; k++) {
		const char *why = env->rcpts[k].status != NULL ? env->rcpts[k].status :
		    env->status;

		fputs(k ? ", {\"address\": " : "{\"address\": ", fp);
		qlist_json_addr(fp, env->rcpts[k].addr);
		if (env->ntries > 0 && why != NULL) {
			fputs(", \"delay_reason\": ", fp);
			json_string(fp, why);
		}
		putc('}', fp);
	}
	putc(']', fp);
	/* Ours, under names Postfix does not use. */
	fprintf(fp, ", \"clientq_locked\": %s", e->locked ? "true" : "false");
	if (e->sres == SPOOL_OK)
		fprintf(fp, ", \"clientq_owner_uid\": %lu", (unsigned long)e->owner);
	if (env != NULL) {
		fprintf(fp, ", \"clientq_tries\": %ld", env->ntries);
		if (env->dtime > 0)
			fprintf(fp, ", \"clientq_last_attempt\": %lld", env->dtime);
		if (e->held && env->quarantine != NULL) {
			fputs(", \"clientq_hold_reason\": ", fp);
			json_string(fp, env->quarantine);
		}
	} else {
		fprintf(fp, ", \"clientq_problem\": \"%s: ", qlist_state(e));
		json_chars(fp, e->problem != NULL ? e->problem : e->sres == SPOOL_GONE ?
		    "the file went while it was listed" : "?");
		putc('"', fp);
	}
	fputs("}\n", fp);
}

void
qlist_print_jsonl(const struct qlist *ql, struct spool *sp, FILE *fp)
{
	struct qlist_entry tmp;
	size_t i;

	for (i = 0; i < ql->n && !ferror(fp); i++) {
		const struct qlist_entry *e = qlist_reread(sp, &ql->v[i], &tmp);

		qlist_print_jsonl_entry(e, fp);
		qlist_done(e, &tmp);
	}
}

bool
qlist_belongs(const struct qlist_entry *e, uid_t uid, const char *user,
    const char *domain)
{
	const char *s, *at;
	size_t n, ulen = strlen(user);

	if (e->sres == SPOOL_OK && e->owner == uid)
		return true;
	if (e->env == NULL || e->env->sender == NULL || ulen == 0)
		return false;
	s = e->env->sender;
	n = strlen(s);
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		s++, n -= 2;
	if (n < ulen || memcmp(s, user, ulen) != 0)
		return false;
	if (n == ulen)
		return true;
	at = s + ulen;
	return *at == '@' && domain != NULL && strlen(domain) == n - ulen - 1 &&
	    strncasecmp(at + 1, domain, n - ulen - 1) == 0;
}
