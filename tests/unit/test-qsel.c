#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "queue/qf.h"
#include "queue/qsel.h"

#define NOW 1800000000LL
#define DOMAIN "host.example"

/* A message queued age seconds ago by uid owner, from sender to rcpts
 * (NULL-ended), deferred with why (or never tried: NULL). */
static struct qlist_entry
qsel_entry(long long age, uid_t owner, const char *sender, const char *why,
    const char *rcpt1, const char *rcpt2)
{
	struct qlist_entry e;
	struct strbuf sb = STRBUF_INIT;
	struct qf_envelope *env = NULL;

	memset(&e, 0, sizeof e);
	strbuf_addf(&sb, "V8\nT%lld\nK%lld\nN%d\nP30000\nMDeferred: %s\nFbs\n$_root@localhost\nS%s\n",
	    NOW - age, why ? NOW - 60 : 0LL, why ? 1 : 0, why ? why : "x", sender);
	strbuf_addf(&sb, "RPFD:%s\n", rcpt1);
	if (rcpt2 != NULL)
		strbuf_addf(&sb, "RPFD:%s\n", rcpt2);
	strbuf_addstr(&sb, "H??Subject: t\n.\n");
	cr_assert_eq(qf_parse(sb.buf, sb.len, &env, NULL), QF_OK);
	if (why == NULL) {
		free(env->status);
		env->status = NULL;
	}
	strbuf_free(&sb);
	e.env = env;
	e.owner = owner;
	e.sres = SPOOL_OK;
	return e;
}

Test(qsel, ages)
{
	long long s;

	cr_expect(qsel_parse_age("90", &s) && s == 90);
	cr_expect(qsel_parse_age("90s", &s) && s == 90);
	cr_expect(qsel_parse_age("30m", &s) && s == 1800);
	cr_expect(qsel_parse_age("12h", &s) && s == 43200);
	cr_expect(qsel_parse_age("7d", &s) && s == 604800);
	cr_expect(qsel_parse_age("2w", &s) && s == 1209600);
	cr_expect(qsel_parse_age("0", &s) && s == 0);
	cr_expect_not(qsel_parse_age("", &s));
	cr_expect_not(qsel_parse_age("-1d", &s));
	cr_expect_not(qsel_parse_age("7dd", &s));
	cr_expect_not(qsel_parse_age("7x", &s));
	cr_expect_not(qsel_parse_age("d", &s));
	cr_expect_not(qsel_parse_age("99999999999999999999", &s));
	cr_expect_not(qsel_parse_age("9999999999999999w", &s), "overflow is refused");
}

Test(qsel, addresses)
{
	cr_expect(qsel_addr_match("<root@host.example>", "root@HOST.example", DOMAIN));
	cr_expect(qsel_addr_match("root", "root@host.example", DOMAIN), "unqualified is @$j");
	cr_expect(qsel_addr_match("<root@host.example>", "root", DOMAIN));
	cr_expect_not(qsel_addr_match("<root@other.example>", "root", DOMAIN));
	cr_expect(qsel_addr_match("<bob@Dead.Example>", "@dead.example", DOMAIN));
	cr_expect_not(qsel_addr_match("<bob@sub.dead.example>", "@dead.example", DOMAIN),
	    "a domain is matched whole, not as a suffix");
	cr_expect(qsel_addr_match("alice", "@host.example", DOMAIN));
	cr_expect_not(qsel_addr_match("<>", "@host.example", DOMAIN));
	cr_expect_not(qsel_addr_match("<a@b>", "@", DOMAIN));
}

Test(qsel, each_test_alone_and_together)
{
	struct qlist_entry old_root = qsel_entry(8 * 86400, 0, "root", "Connection refused by relay",
	    "<ops@dead.example>", NULL);
	struct qlist_entry new_alice = qsel_entry(600, 1001, "<alice@host.example>", NULL,
	    "<bob@live.example>", "<carol@dead.example>");
	struct qsel s;
	struct error err;

	qsel_init(&s);
	cr_expect(qsel_empty(&s));
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN));

	s.older_than = 7 * 86400;
	cr_expect_not(qsel_empty(&s));
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect_not(qsel_match(&s, &new_alice, NOW, DOMAIN));
	s.older_than = -1;

	s.newer_than = 1800;
	cr_expect_not(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN));
	s.newer_than = -1;

	s.sender = "root@host.example";
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect_not(qsel_match(&s, &new_alice, NOW, DOMAIN));
	s.sender = NULL;

	s.recipient = "@dead.example";
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN), "any recipient matches");
	s.recipient = "bob@live.example";
	cr_expect_not(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN));
	s.recipient = NULL;

	s.by_user = true;
	s.uid = 1001;
	s.user = "alice";
	cr_expect_not(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN));
	new_alice.owner = 998;
	cr_expect(qsel_match(&s, &new_alice, NOW, DOMAIN),
	    "rewritten by a runner (another owner): the sender still says whose");
	s.uid = 0;
	s.user = "root";
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN), "unqualified sender root");
	s.by_user = false;

	cr_assert(qsel_set_reason(&s, "refused", &err));
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	cr_expect_not(qsel_match(&s, &new_alice, NOW, DOMAIN), "never deferred: no reason");
	cr_assert(qsel_set_reason(&s, "^Deferred: CONNECTION", &err),
	    "a second expression replaces the first");
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN), "case is ignored");
	qsel_free(&s);
	cr_expect_not(qsel_set_reason(&s, "(unclosed", &err));
	cr_expect_neq(err.reason[0], '\0', "the library's words say why");

	/* Together: AND. */
	qsel_init(&s);
	s.older_than = 86400;
	s.sender = "root";
	s.recipient = "@dead.example";
	cr_expect(qsel_match(&s, &old_root, NOW, DOMAIN));
	s.recipient = "@live.example";
	cr_expect_not(qsel_match(&s, &old_root, NOW, DOMAIN));
	qsel_free(&s);
	qf_free(old_root.env);
	qf_free(new_alice.env);
}

/* Unreadable: nothing is known but its owner. */
Test(qsel, no_envelope)
{
	struct qlist_entry e;
	struct qsel s;

	memset(&e, 0, sizeof e);
	e.sres = SPOOL_OK;
	e.owner = 1001;
	qsel_init(&s);
	cr_expect(qsel_match(&s, &e, NOW, DOMAIN), "everything includes it");
	s.by_user = true;
	s.uid = 1001;
	s.user = "alice";
	cr_expect(qsel_match(&s, &e, NOW, DOMAIN), "its owner");
	s.older_than = 0;
	cr_expect_not(qsel_match(&s, &e, NOW, DOMAIN), "its age is not known");
	s.older_than = -1;
	s.sender = "x@y";
	cr_expect_not(qsel_match(&s, &e, NOW, DOMAIN));
}
