#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "queue/qlist.h"
#include "testutil.h"
#include "util/xalloc.h"

static char *dir;
static struct spool *sp;

static void
setup(void)
{
	struct spool_policy pol;
	struct error err;

	setenv("TZ", "UTC", 1);
	tzset();
	dir = tu_tempdir();
	spool_policy_default(&pol);
	sp = spool_open(dir, &pol, &err);
	cr_assert_not_null(sp);
}

static void
teardown(void)
{
	spool_free(sp);
	tu_rmtree(dir);
	free(dir);
}

TestSuite(qlist, .init = setup, .fini = teardown);

/* The listing of the queue, as a string: gathered with the envelopes
 * (keep) or without, each file read again as it is printed. */
static char *
listing_as(bool json, bool keep)
{
	struct error err;
	struct qlist ql;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert(qlist_gather(sp, &ql, keep, NULL, NULL, &err), "%s", err.reason);
	if (json)
		qlist_print_json(&ql, keep ? NULL : sp, fp);
	else
		qlist_print_mailq(&ql, keep ? NULL : sp, "/q", fp);
	qlist_free(&ql);
	fclose(fp);
	return buf;
}

/* Both ways give the same bytes. */
static char *
listing(bool json)
{
	char *kept = listing_as(json, true), *again = listing_as(json, false);

	cr_assert_str_eq(again, kept, "read again as printed, the listing differs");
	free(again);
	return kept;
}

Test(qlist, empty_queue)
{
	char *s = listing(false);

	cr_assert_str_eq(s, "/q is empty\n\t\tTotal requests: 0\n");
	free(s);
	s = listing(true);
	cr_assert_str_eq(s, "[]\n");
	free(s);
}

Test(qlist, layout_of_print_single_queue)
{
	char *s;

	tu_write_str(dir, "qf6AOMct2T003760",
	    "V8\nT1795559935\nK0\nN1\nP120000\nB8BITMIME\nMDeferred: Connection refused by [127.0.0.1]\n"
	    "Sa-very-long-sender-address-that-goes-past-39@example.test\n"
	    "RPFD:back\\slash@example.test\nMrecipient status, not shown\nRPFD:\x01" "ctl@x\n.\n");
	tu_write_str(dir, "df6AOMct2T003760", "12345");
	tu_write_str(dir, "qf6AOMct2T003761", "V8\nT1795559999\nK0\nN0\nP30000\nS<>\nRPFD:a@b\n.\n");
	s = listing(false);
	cr_assert_str_eq(s,
	    "\t\t/q (2 requests)\n"
	    "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n"
	    "6AOMct2T003761       -1 Tue Nov 24 22:39 <>\n"
	    "\t\t\t\t\t a@b\n"
	    "6AOMct2T003760        5 Tue Nov 24 22:38 a-very-long-sender-address-that-goes-pa\n"
	    "      8BITMIME   (Deferred: Connection refused by [127.0.0.1])\n"
	    "\t\t\t\t\t back\\\\slash@example.test\n"
	    "\t\t\t\t\t \\001ctl@x\n"
	    "\t\tTotal requests: 2\n");
	free(s);
}

Test(qlist, unreadable_files_get_a_reason)
{
	char *s;

	tu_write_str(dir, "qf6AOMct2T003760", "V8\nT1\nXbad\n.\n");
	tu_write_str(dir, "qf6AOMct2T003761", "");
	tu_write(dir, "qf6AOMct2T003762", "V8\n", 3, 0666);
	s = listing(false);
	cr_assert(strstr(s, "6AOMct2T003760  (refused: line 3: unrecognized line type 'X')\n"), "%s", s);
	cr_assert(strstr(s, "6AOMct2T003761  (no control file)\n"), "%s", s);
	cr_assert(strstr(s, "6AOMct2T003762  (unsafe: "), "%s", s);
	cr_assert(strstr(s, "is world-writable (mode 0666))\n"), "%s", s);
	cr_assert(strstr(s, "(3 requests)"), "%s", s);
	free(s);
	cr_assert_eq(tu_count(dir), 3, "listing changes nothing");
}

Test(qlist, json)
{
	char *s;

	tu_write_str(dir, "qf6AOMct2T003760",
	    "V8\nT1795559935\nK1795559936\nN2\nP120000\nMDeferred: \"x\"\nScaf\xc3\xa9@x\xe9y\nZid\n"
	    "MRcpt status\nRPFD:a@b\n.\n");
	s = listing(true);
	cr_assert_str_eq(s,
	    "[\n{\"id\":\"6AOMct2T003760\",\"locked\":false,\"size\":-1,\"state\":\"ok\","
	    "\"ctime\":1795559935,\"last_attempt\":1795559936,\"tries\":2,\"priority\":120000,"
	    "\"sender\":\"caf\xc3\xa9@x\\u00e9y\",\"status\":\"Deferred: \\\"x\\\"\",\"bodytype\":null,"
	    "\"envid\":\"id\",\"recipients\":[{\"address\":\"a@b\",\"status\":\"Rcpt status\"}]}\n]\n");
	free(s);
}

Test(qlist, sorted_by_priority_ties_in_directory_order)
{
	struct error err;
	struct qlist ql;
	const char *ids[] = { "6AOMct2T000001", "6AOMct2T000002", "6AOMct2T000003", "6AOMct2T000004" };
	const long pri[] = { 300, 100, 300, -5 };
	size_t i;
	char order[4][QID_MAX_LEN + 1];
	size_t n = 0;

	for (i = 0; i < 4; i++) {
		char *qf = xasprintf("V8\nT1\nK0\nN0\nP%ld\nSroot\nRPFD:a@b\n.\n", pri[i]);

		{
			char name[32];

			snprintf(name, sizeof name, "qf%s", ids[i]);
			tu_write_str(dir, name, qf);
		}
		free(qf);
	}
	/* Expected: by priority; equal priorities in readdir order. */
	{
		struct spool_scan scan;

		cr_assert(spool_scan(sp, 'q', &scan, &err));
		strcpy(order[n++], "6AOMct2T000004");
		strcpy(order[n++], "6AOMct2T000002");
		for (i = 0; i < scan.nids; i++)
			if (!strcmp(scan.ids[i], "6AOMct2T000001") || !strcmp(scan.ids[i], "6AOMct2T000003"))
				strcpy(order[n++], scan.ids[i]);
		spool_scan_free(&scan);
	}
	cr_assert(qlist_gather(sp, &ql, true, NULL, NULL, &err));
	cr_assert_eq(ql.n, 4);
	for (i = 0; i < 4; i++)
		cr_assert_str_eq(ql.v[i].id, order[i]);
	qlist_free(&ql);
	/* The runner's lean mode: the same order, no envelopes kept. */
	cr_assert(qlist_gather(sp, &ql, false, NULL, NULL, &err));
	cr_assert_eq(ql.n, 4);
	for (i = 0; i < 4; i++) {
		cr_assert_str_eq(ql.v[i].id, order[i]);
		cr_assert_null(ql.v[i].env);
	}
	cr_assert_eq(ql.v[0].priority, -5);
	qlist_free(&ql);
}

/* Whose message it is: the file's owner, or the envelope sender, bare or
 * qualified with $j (the domain in any case), never a lookalike. */
Test(qlist, belongs_by_owner_or_sender)
{
	struct qf_envelope env;
	struct qlist_entry e;

	memset(&env, 0, sizeof env);
	memset(&e, 0, sizeof e);
	e.sres = SPOOL_OK;
	e.owner = 1000;
	cr_assert(qlist_belongs(&e, 1000, "alice", "host.test"), "owner, no envelope");
	cr_assert_not(qlist_belongs(&e, 1001, "bob", "host.test"));
	e.owner = 105;	/* rewritten by the runner */
	e.env = &env;
	env.sender = "alice";
	cr_assert(qlist_belongs(&e, 1000, "alice", "host.test"));
	cr_assert_not(qlist_belongs(&e, 1001, "alic", "host.test"));
	cr_assert_not(qlist_belongs(&e, 1001, "alicex", "host.test"));
	env.sender = "<alice@HOST.test>";
	cr_assert(qlist_belongs(&e, 1000, "alice", "host.test"));
	env.sender = "alice@elsewhere.test";
	cr_assert_not(qlist_belongs(&e, 1000, "alice", "host.test"));
	env.sender = "alice@host.test.evil";
	cr_assert_not(qlist_belongs(&e, 1000, "alice", "host.test"));
	env.sender = "ALICE";
	cr_assert_not(qlist_belongs(&e, 1000, "alice", "host.test"), "local parts are exact");
	e.sres = SPOOL_LOCKED;	/* owner unknown: the sender alone */
	e.owner = 1000;
	env.sender = "bob";
	cr_assert_not(qlist_belongs(&e, 1000, "alice", "host.test"));
}

/* ------------------------------------------------------ JSON Lines */

/* list --json: the queue and the hold queue, as JSON Lines (both ways,
 * as listing()). */
static char *
jsonl_as(bool keep)
{
	struct error err;
	struct qlist ql;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert(qlist_gather(sp, &ql, keep, NULL, NULL, &err), "%s", err.reason);
	cr_assert(qlist_gather_held(sp, &ql, keep, NULL, NULL, &err), "%s", err.reason);
	qlist_print_jsonl(&ql, keep ? NULL : sp, fp);
	qlist_free(&ql);
	fclose(fp);
	return buf;
}

static char *
jsonl(void)
{
	char *kept = jsonl_as(true), *again = jsonl_as(false);

	cr_assert_str_eq(again, kept, "read again as printed, the JSON Lines differ");
	free(again);
	return kept;
}

Test(qlist, jsonl_empty_queue_is_no_lines)
{
	char *s = jsonl();

	cr_assert_str_eq(s, "");
	free(s);
}

/* postqueue -j's members, names, types, order and spacing; incoming,
 * deferred and hold; ours after them. */
Test(qlist, jsonl_postqueue_members)
{
	char *s, *want;
	unsigned long uid = (unsigned long)getuid();

	tu_write_str(dir, "qf6AOMct2T003760",
	    "V8\nT1795559935\nK1795559936\nN2\nP120000\nMDeferred: Connection refused\n"
	    "S<alice@x>\nRPFD:a@b\nMRcpt \"no\"\nRPFD:<c@d>\nHSubject: hi\n.\n");
	tu_write_str(dir, "df6AOMct2T003760", "12345");
	tu_write_str(dir, "qf6AOMct2T003761", "V8\nT1795559999\nK0\nN0\nP30000\nS<>\nRPFD:a@b\n.\n");
	tu_write_str(dir, "hf6AOMct2T003762",
	    "V8\nT1795550000\nK1795550001\nN1\nP1000\nqheld \"by\" me\nMDeferred: x\nSroot\nRPFD:e@f\n.\n");
	/* A qf with a q line stays out, as in mailq's listing. */
	tu_write_str(dir, "qf6AOMct2T003763", "V8\nT1\nK0\nN0\nP1\nqodd\nSroot\nRPFD:e@f\n.\n");
	s = jsonl();
	want = xasprintf(
	    "{\"queue_name\": \"incoming\", \"queue_id\": \"6AOMct2T003761\", \"arrival_time\": 1795559999, "
	    "\"message_size\": 0, \"forced_expire\": false, \"sender\": \"\", "
	    "\"recipients\": [{\"address\": \"a@b\"}], "
	    "\"clientq_locked\": false, \"clientq_owner_uid\": %lu, \"clientq_tries\": 0}\n"
	    "{\"queue_name\": \"deferred\", \"queue_id\": \"6AOMct2T003760\", \"arrival_time\": 1795559935, "
	    "\"message_size\": 17, \"forced_expire\": false, \"sender\": \"alice@x\", "
	    "\"recipients\": [{\"address\": \"a@b\", \"delay_reason\": \"Deferred: Connection refused\"}, "
	    "{\"address\": \"c@d\", \"delay_reason\": \"Rcpt \\\"no\\\"\"}], "
	    "\"clientq_locked\": false, \"clientq_owner_uid\": %lu, \"clientq_tries\": 2, "
	    "\"clientq_last_attempt\": 1795559936}\n"
	    "{\"queue_name\": \"hold\", \"queue_id\": \"6AOMct2T003762\", \"arrival_time\": 1795550000, "
	    "\"message_size\": 0, \"forced_expire\": false, \"sender\": \"root\", "
	    "\"recipients\": [{\"address\": \"e@f\", \"delay_reason\": \"Deferred: x\"}], "
	    "\"clientq_locked\": false, \"clientq_owner_uid\": %lu, \"clientq_tries\": 1, "
	    "\"clientq_last_attempt\": 1795550001, \"clientq_hold_reason\": \"held \\\"by\\\" me\"}\n",
	    uid, uid, uid);
	cr_assert_str_eq(s, want);
	free(want);
	free(s);
}

/* Hostile text in a sender, an address and a reason: still one line of
 * valid JSON, everything escaped that must be. */
Test(qlist, jsonl_hostile_strings)
{
	char *s;

	tu_write_str(dir, "qf6AOMct2T003760",
	    "V8\nT1\nK2\nN1\nP1\nM\x1b[31mred\\\"\x7f\n"
	    "Sa\"b\\c\x01\xe9\xc3\xa9@x\nRPFD:\"}, {\"x\n.\n");
	s = jsonl();
	cr_assert(strstr(s, "\"sender\": \"a\\\"b\\\\c\\u0001\\u00e9\xc3\xa9@x\", "), "%s", s);
	cr_assert(strstr(s, "\"recipients\": [{\"address\": \"\\\"}, {\\\"x\", "
	    "\"delay_reason\": \"\\u001b[31mred\\\\\\\"\\u007f\"}]"), "%s", s);
	cr_assert_eq(strchr(s, '\n'), s + strlen(s) - 1, "one line: %s", s);
	free(s);
}

/* A file that cannot be read still has every postqueue member, with its
 * type, and says why in clientq_problem. */
Test(qlist, jsonl_unreadable_file)
{
	char *s, *want;

	tu_write_str(dir, "qf6AOMct2T003760", "V8\nT1\nXbad\n.\n");
	s = jsonl();
	want = xasprintf(
	    "{\"queue_name\": \"incoming\", \"queue_id\": \"6AOMct2T003760\", \"arrival_time\": 0, "
	    "\"message_size\": 0, \"forced_expire\": false, \"sender\": \"\", \"recipients\": [], "
	    "\"clientq_locked\": false, \"clientq_owner_uid\": %lu, "
	    "\"clientq_problem\": \"refused: line 3: unrecognized line type 'X'\"}\n",
	    (unsigned long)getuid());
	cr_assert_str_eq(s, want);
	free(want);
	free(s);
}

/* queue_name: hold before active, active before deferred and incoming. */
Test(qlist, jsonl_queue_names)
{
	struct qf_envelope env;
	struct qlist_entry e;

	memset(&env, 0, sizeof env);
	memset(&e, 0, sizeof e);
	cr_assert_str_eq(qlist_queue_name(&e), "incoming", "no envelope");
	e.env = &env;
	cr_assert_str_eq(qlist_queue_name(&e), "incoming", "never tried");
	env.ntries = 1;
	cr_assert_str_eq(qlist_queue_name(&e), "deferred");
	e.active = true;
	cr_assert_str_eq(qlist_queue_name(&e), "active");
	e.held = true;
	cr_assert_str_eq(qlist_queue_name(&e), "hold");
}

/* The old array stays what it was, for --json-array. */
Test(qlist, json_array_leaves_held_out)
{
	char *s;

	tu_write_str(dir, "hf6AOMct2T003762", "V8\nT1\nK0\nN0\nP1\nqx\nSroot\nRPFD:e@f\n.\n");
	s = listing(true);
	cr_assert_str_eq(s, "[]\n");
	free(s);
}

/* ------------------------------------- read again as printed, and kept */

static bool
want_carol(void *arg, const struct qlist_entry *e)
{
	int *seen = arg;

	(*seen)++;
	return e->env != NULL && strcmp(e->env->sender, "carol@example.test") == 0;
}

/* The filter sees each envelope; only what it keeps is kept, without its
 * envelope; printed, each is read again. */
Test(qlist, a_filter_keeps_what_it_wants_and_no_envelope)
{
	struct error err;
	struct qlist ql;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;
	int seen = 0;

	tu_write_str(dir, "qf6AOMct2T000001", "V8\nT1795559935\nK0\nN0\nP100\nScarol@example.test\nRPFD:a@b.test\n.\n");
	tu_write_str(dir, "df6AOMct2T000001", "hello\n");
	tu_write_str(dir, "qf6AOMct2T000002", "V8\nT1795559935\nK0\nN0\nP200\nSdave@example.test\nRPFD:a@b.test\n.\n");
	tu_write_str(dir, "qf6AOMct2T000003", "V8\nT1795559936\nK0\nN0\nP50\nScarol@example.test\nRPFD:c@b.test\n.\n");
	cr_assert(qlist_gather(sp, &ql, false, want_carol, &seen, &err), "%s", err.reason);
	cr_expect_eq(seen, 3);
	cr_assert_eq(ql.n, 2);
	cr_expect_str_eq(ql.v[0].id, "6AOMct2T000003", "by priority");
	cr_expect_str_eq(ql.v[1].id, "6AOMct2T000001");
	cr_expect_null(ql.v[0].env);
	cr_expect_eq(ql.v[1].df_size, -1, "no data file stat before printing");
	fp = open_memstream(&buf, &len);
	qlist_print_mailq(&ql, sp, "/q", fp);
	fclose(fp);
	cr_expect_str_eq(buf, "\t\t/q (2 requests)\n"
	    "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n"
	    "6AOMct2T000003       -1 Tue Nov 24 22:38 carol@example.test\n"
	    "\t\t\t\t\t c@b.test\n"
	    "6AOMct2T000001        6 Tue Nov 24 22:38 carol@example.test\n"
	    "\t\t\t\t\t a@b.test\n"
	    "\t\tTotal requests: 2\n");
	free(buf);
	qlist_free(&ql);
}

/* A file that goes between the gathering and the printing: mailq's
 * "(job completed)", and "completed" in JSON. */
Test(qlist, a_file_gone_before_it_is_printed_is_a_completed_job)
{
	struct error err;
	struct qlist ql;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	tu_write_str(dir, "qf6AOMct2T000001", "V8\nT1795559935\nK0\nN0\nP100\nScarol@example.test\nRPFD:a@b.test\n.\n");
	cr_assert(qlist_gather(sp, &ql, false, NULL, NULL, &err), "%s", err.reason);
	cr_assert_eq(unlink(tu_path(dir, "qf6AOMct2T000001")), 0);
	fp = open_memstream(&buf, &len);
	qlist_print_mailq(&ql, sp, "/q", fp);
	fclose(fp);
	cr_expect_str_eq(buf, "\t\t/q (1 request)\n"
	    "-----Q-ID----- --Size-- -----Q-Time----- ------------Sender/Recipient-----------\n"
	    "6AOMct2T000001  (job completed)\n"
	    "\t\tTotal requests: 1\n");
	free(buf);
	buf = NULL;
	fp = open_memstream(&buf, &len);
	qlist_print_json(&ql, sp, fp);
	fclose(fp);
	cr_expect(strstr(buf, "\"state\":\"completed\"") != NULL, "%s", buf);
	free(buf);
	buf = NULL;
	fp = open_memstream(&buf, &len);
	qlist_print_jsonl(&ql, sp, fp);
	fclose(fp);
	cr_expect(strstr(buf, "\"clientq_problem\": \"completed: the file went while it was listed\"") != NULL,
	    "%s", buf);
	free(buf);
	qlist_free(&ql);
}

struct walked {
	int n, with_env;
	long long size;
};

static void
walk_one(void *arg, const struct qlist_entry *e)
{
	struct walked *w = arg;

	w->n++;
	w->with_env += e->env != NULL;
	if (e->df_size > 0)
		w->size += e->df_size;
}

/* Every file, with its envelope and data file size; the held ones
 * apart. */
Test(qlist, walk_hands_over_each_file_once)
{
	struct walked w = { 0, 0, 0 };
	struct error err;

	tu_write_str(dir, "qf6AOMct2T000001", "V8\nT1795559935\nK0\nN0\nP100\nScarol@example.test\nRPFD:a@b.test\n.\n");
	tu_write_str(dir, "df6AOMct2T000001", "hello\n");
	tu_write_str(dir, "qf6AOMct2T000002", "not a control file\n");
	tu_write_str(dir, "hf6AOMct2T000003", "V8\nT1795559935\nK0\nN0\nP100\nqheld\nScarol@example.test\nRPFD:a@b.test\n.\n");
	cr_assert(qlist_walk(sp, 'q', walk_one, &w, &err), "%s", err.reason);
	cr_expect_eq(w.n, 2);
	cr_expect_eq(w.with_env, 1, "the broken file comes without an envelope");
	cr_expect_eq(w.size, 6);
	memset(&w, 0, sizeof w);
	cr_assert(qlist_walk(sp, 'h', walk_one, &w, &err), "%s", err.reason);
	cr_expect_eq(w.n, 1);
	cr_expect_eq(w.with_env, 1);
}
