/*
 * deliver-rcpt: what became of one recipient (struct deliver_rcpt in
 * deliver-private.h), and its mark: the M line that records it in the
 * control file while a notification is in progress (deliver.h), read
 * back by a recovery.  Below deliver.c, which sets outcomes as replies
 * come, and deliver-commit.c, which writes and reads the marks; it
 * calls neither.
 */
#include "config.h"

#include "delivery/deliver-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"
#include "util/xalloc.h"

void
deliver_rcpt_clear(struct deliver_rcpt *o)
{
	free(o->reply);
	free(o->command);
	free(o->text);
	free(o->status);
	memset(o, 0, sizeof *o);
}

static char *
deliver_dup(const char *s)
{
	return s != NULL && *s != '\0' ? xstrdup(s) : NULL;
}

void
deliver_set(struct deliver_rcpt *o, enum deliver_state st, const char *dsn,
    const char *reply, const char *command, const char *text, const char *status)
{
	deliver_rcpt_clear(o);
	o->state = st;
	snprintf(o->dsn, sizeof o->dsn, "%s", dsn != NULL ? dsn : "");
	o->reply = deliver_dup(reply);
	o->command = deliver_dup(command);
	o->text = deliver_dup(text);
	o->status = deliver_dup(status);
}

static const char *const deliver_action_names[] = { "failed", "delayed", "relayed" };

/* A field of a mark: tabs would split it, newlines the line. */
static void
deliver_mark_field(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '\t');
	for (; s != NULL && *s != '\0'; s++)
		strbuf_addch(sb, *s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s);
}

/* The M line of a reported recipient: "DSN", action, status, command,
 * text, reply, tab-separated.  sendmail ignores M lines on reading. */
char *
deliver_mark(const struct deliver_rcpt *o)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, "DSN");
	deliver_mark_field(&sb, deliver_action_names[o->action]);
	deliver_mark_field(&sb, o->dsn);
	deliver_mark_field(&sb, o->command);
	deliver_mark_field(&sb, o->text);
	deliver_mark_field(&sb, o->reply);
	return strbuf_detach(&sb, NULL);
}

bool
deliver_unmark(const char *m, struct deliver_rcpt *o)
{
	char *copy, *f[6], *p;
	size_t n = 0, a;

	if (m == NULL || strncmp(m, DELIVER_MARK, strlen(DELIVER_MARK)) != 0)
		return false;
	copy = xstrdup(m);
	for (p = copy; n < 6; n++) {
		f[n] = p;
		if (n == 5)
			break;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p++ = '\0';
	}
	if (n != 5) {
		free(copy);
		return false;
	}
	for (a = 0; a < 3 && strcmp(f[1], deliver_action_names[a]) != 0; a++)
		;
	if (a == 3) {
		free(copy);
		return false;
	}
	deliver_set(o, a == DSN_ACT_RELAYED ? RS_SENT : a == DSN_ACT_DELAYED ?
	    RS_DEFERRED : RS_FAILED, f[2], f[5], f[3], f[4], NULL);
	o->report = true;
	o->action = (enum dsn_action)a;
	if (o->state == RS_DEFERRED) {
		struct strbuf st = STRBUF_INIT;

		strbuf_addf(&st, "Deferred: %s", o->reply != NULL ? o->reply :
		    o->text != NULL ? o->text : "");
		o->status = strbuf_detach(&st, NULL);
	}
	free(copy);
	return true;
}
