#include "config.h"

#include <criterion/criterion.h>

#include "queue/qid.h"

Test(qid, decodes_a_real_id)
{
	struct qid_info i;

	/* From a real log line: 2016-02-15 01:20:02 UTC, sequence "am",
	 * PID 7134. */
	cr_assert_eq(qid_decode("u1F1K2am007134", &i), QID_OK);
	cr_assert_eq(i.year60, 116 % 60);
	cr_assert_eq(i.month, 1);
	cr_assert_eq(i.mday, 15);
	cr_assert_eq(i.hour, 1);
	cr_assert_eq(i.minute, 20);
	cr_assert_eq(i.second, 2);
	cr_assert_eq(i.seq, 36 * 60 + 48);
	cr_assert_eq(i.pid, 7134);
	cr_assert_eq(qid_time(&i, 1795559935), 1455499202);
}

Test(qid, decodes_this_machines_id)
{
	struct qid_info i;

	/* Written by sendmail 8.17.1.9 here at 2026-11-24 22:38:55 UTC. */
	cr_assert_eq(qid_decode("6AOMct2T003760", &i), QID_OK);
	cr_assert_eq(qid_time(&i, 1795559935), 1795559935);
	cr_assert_eq(i.pid, 3760);
	cr_assert_eq(i.seq, 2 * 60 + 29);
}

Test(qid, long_pids)
{
	struct qid_info i;

	cr_assert_eq(qid_decode("6AOMct2T4194304", &i), QID_OK);
	cr_assert_eq(i.pid, 4194304);
	cr_assert_eq(qid_decode("6AOMct2T0041943041", &i), QID_OK);
	cr_assert_eq(qid_decode("6AOMct2T00419430411", &i), QID_BAD_LENGTH);
}

Test(qid, refusals)
{
	static const struct {
		const char *id;
		enum qid_result want;
	} cases[] = {
		{ "", QID_BAD_LENGTH },
		{ "6AOMct2T00376", QID_BAD_LENGTH },
		{ "6AOMct2T0037600000", QID_OK },
		{ "6AOMct2T003760/", QID_BAD_CHAR },
		{ "../../etc/pas", QID_BAD_LENGTH },
		{ "../etc/passwd1", QID_BAD_CHAR },
		{ "6AOMct2T00376x", QID_BAD_CHAR },
		{ "6AOMct2T 03760", QID_BAD_CHAR },
		{ "6COMct2T003760", QID_BAD_FIELD },	/* month 12 */
		{ "6A0Mct2T003760", QID_BAD_FIELD },	/* day 0 */
		{ "6AWMct2T003760", QID_BAD_FIELD },	/* day 32 */
		{ "6AOOct2T003760", QID_BAD_FIELD },	/* hour 24 */
		{ "6AOMct2y003760", QID_BAD_FIELD },	/* sequence digit 60 */
		{ "yAOMct2T003760", QID_BAD_FIELD },	/* year digit 60 */
		{ "6AOMzz2T003760", QID_OK },		/* minute, second % 62 */
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
		cr_expect_eq(qid_decode(cases[k].id, NULL), cases[k].want,
		    "%s: got %s", cases[k].id,
		    qid_result_str(qid_decode(cases[k].id, NULL)));
}

Test(qid, year_resolution)
{
	struct qid_info i;

	/* Year digit 'u' (56) seen in 2026: 2016, not 2076. */
	cr_assert_eq(qid_decode("u1F1K2am007134", &i), QID_OK);
	cr_assert_eq(qid_time(&i, 1795559935), 1455499202);
	/* Year digit 'A' (10) in 2026 is 2030, not 1970. */
	cr_assert_eq(qid_decode("A01000aa000001", &i), QID_OK);
	cr_assert_eq(qid_time(&i, 1795559935), 1893456000);
}

Test(qid, another_sequence_number_of_the_same_second_and_process)
{
	struct qid_info a, b;
	char out[QID_MAX_LEN + 1];

	qid_with_seq(out, "6AP1bfLb018434", 3599);
	cr_assert_str_eq(out, "6AP1bfxx018434");
	cr_assert_eq(qid_decode(out, &b), QID_OK);
	cr_assert_eq(qid_decode("6AP1bfLb018434", &a), QID_OK);
	cr_assert_eq(b.seq, 3599);
	cr_assert_eq(b.pid, a.pid);
	cr_assert_eq(b.second, a.second);
	qid_with_seq(out, "6AP1bfLb0184340000", 3600 + 61);
	cr_assert_str_eq(out, "6AP1bf110184340000", "modulo 3600, long PIDs kept");
	cr_assert_neq(qid_hash("6AP1bfLb018434"), qid_hash("6AP1bfLb018435"));
}
