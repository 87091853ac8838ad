#include "config.h"

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "smtp/mtaqid.h"

/* The ID mtaqid_parse reads from text, or NULL for none (out is then
 * empty).  A static buffer: one call per assertion. */
static const char *
qid_of(const char *text)
{
	static char out[MTAQID_MAX + 1];
	bool ok;

	memset(out, 'x', sizeof out);
	ok = mtaqid_parse(text, out, sizeof out);
	cr_assert_eq(ok, out[0] != '\0', "%s: result and out disagree", text);
	return ok ? out : NULL;
}

static const char *
or_none(const char *s)
{
	return s != NULL ? s : "(none)";
}

#define WANT(text, id) cr_assert_str_eq(or_none(qid_of(text)), id, "%s", text)
#define NONE(text) cr_assert_null(qid_of(text), "%s", text)

Test(mtaqid, sendmail)
{
	/* sendmail's smtp(): "250 2.0.0 %s Message accepted for delivery". */
	WANT("4B1Ab2cD012345 Message accepted for delivery", "4B1Ab2cD012345");
	WANT("2.0.0 4B1Ab2cD012345 Message accepted for delivery", "4B1Ab2cD012345");
	/* 18 characters, for a PID of ten digits. */
	WANT("2.0.0 6AOMct2T1234567890 Message accepted for delivery", "6AOMct2T1234567890");
	/* Without an ID, as sendmail before 8.7 and some imitations say it. */
	NONE("2.0.0 Message accepted for delivery");
	NONE("Message accepted for delivery");
	NONE("2.0.0 4B1Ab2cD012345 Message accepted for delivery.");
	NONE("2.0.0 4B1Ab2cD012345 Message accepted");
	NONE("2.0.0 4B1Ab2cD012345  Message accepted for delivery");
}

Test(mtaqid, opensmtpd)
{
	/* smtp_session.c: "250 %s %08x Message accepted for delivery", and
	 * "250 %s: %08x ..." in some versions. */
	WANT("2.0.0 3fa1b2c4 Message accepted for delivery", "3fa1b2c4");
	WANT("3fa1b2c4 Message accepted for delivery", "3fa1b2c4");
	WANT("2.0.0: 3fa1b2c4 Message accepted for delivery", "3fa1b2c4");
	WANT("2.0.0 0123456789abcdef Message accepted for delivery", "0123456789abcdef");
}

Test(mtaqid, postfix)
{
	/* smtpd.c: "250 Ok: queued as %s", the enhanced code added by
	 * smtpd_chat when it is offered.  Short IDs are hexadecimal, long
	 * ones (enable_long_queue_ids) base-52 time and inode. */
	WANT("2.0.0 Ok: queued as 3F2A1B4C5D", "3F2A1B4C5D");
	WANT("Ok: queued as 3F2A1B4C5D", "3F2A1B4C5D");
	WANT("2.0.0 Ok: queued as 4XyZ1k2B3cz9abc", "4XyZ1k2B3cz9abc");
	WANT("OK: queued as D6B0F1C0A2", "D6B0F1C0A2");
	/* The test tools' replies. */
	WANT("2.0.0 Ok: queued as R1.2", "R1.2");
	NONE("2.0.0 Ok: queued as ");
	NONE("2.0.0 Ok: queued as");
	NONE("2.0.0 Ok: queued as 3F2A1B4C5D (and more)");
	NONE("2.0.0 Ok: queued as  3F2A1B4C5D");
	NONE("2.0.0 Ok queued as 3F2A1B4C5D");
}

Test(mtaqid, exim)
{
	/* receive.c: "250 OK id=%s"; 4.97 and later, longer IDs. */
	WANT("OK id=1RwtK9-0004SS-Fm", "1RwtK9-0004SS-Fm");
	WANT("OK id=1tABCd-000123-Xy", "1tABCd-000123-Xy");
	WANT("2.0.0 OK id=1tABCd-00000001234-AbCd", "1tABCd-00000001234-AbCd");
	NONE("OK id=");
	NONE("OK id= 1tABCd-000123-Xy");
	NONE("OK");
}

Test(mtaqid, enhanced_code_forms)
{
	WANT("2.6.0 Ok: queued as ABC", "ABC");
	WANT("2.123.456 Ok: queued as ABC", "ABC");
	/* Not an enhanced code: read as the text itself, which then is no
	 * known form. */
	NONE("2.0 Ok: queued as ABC");
	NONE("2.0.0Ok: queued as ABC");
	NONE("2.1234.0 Ok: queued as ABC");
	NONE("2.0.0: Ok: queued as ABC Message accepted for delivery");
	/* A code of another class is not skipped (a 250 never has one). */
	NONE("4.0.0 Ok: queued as ABC");
	/* The code alone is not an ID. */
	NONE("2.0.0");
	NONE("2.0.0 ");
}

Test(mtaqid, unknown_forms)
{
	NONE("2.0.0 Ok");
	NONE("Ok");
	NONE("2.0.0 Message queued");
	NONE("OK queued as 3F2A1B4C5D");
	NONE("2.0.0 Ok: queued as 3F2A1B4C5D 2.0.0 Ok: queued as 3F2A1B4C5D");
	NONE("queued as 3F2A1B4C5D");
	NONE("2.0.0 Ok, id=ABC");
	NONE("<ABC@example.test> Message accepted for delivery");
}

Test(mtaqid, empty)
{
	char out[8] = "junk";

	NONE("");
	NONE(" ");
	cr_assert_not(mtaqid_parse(NULL, out, sizeof out));
	cr_assert_str_eq(out, "");
	/* No room at all: nothing written, nothing read. */
	cr_assert_not(mtaqid_parse("Ok: queued as ABC", out, 0));
	cr_assert_not(mtaqid_parse("Ok: queued as ABC", NULL, 0));
}

Test(mtaqid, length_bounds)
{
	char text[256], id[MTAQID_MAX + 2];

	memset(id, 'A', MTAQID_MAX);
	id[MTAQID_MAX] = '\0';
	snprintf(text, sizeof text, "2.0.0 Ok: queued as %s", id);
	WANT(text, id);
	snprintf(text, sizeof text, "OK id=%s", id);
	WANT(text, id);
	snprintf(text, sizeof text, "%s Message accepted for delivery", id);
	WANT(text, id);
	/* One more: too long, in every form. */
	strcat(id, "B");
	snprintf(text, sizeof text, "2.0.0 Ok: queued as %s", id);
	NONE(text);
	snprintf(text, sizeof text, "OK id=%s", id);
	NONE(text);
	snprintf(text, sizeof text, "%s Message accepted for delivery", id);
	NONE(text);
	WANT("Ok: queued as 1", "1");
}

Test(mtaqid, short_out_buffer)
{
	char out[4];

	cr_assert(mtaqid_parse("Ok: queued as ABC", out, sizeof out));
	cr_assert_str_eq(out, "ABC");
	memset(out, 'x', sizeof out);
	cr_assert_not(mtaqid_parse("Ok: queued as ABCD", out, sizeof out));
	cr_assert_str_eq(out, "");
}

Test(mtaqid, bad_characters)
{
	static const char *bad[] = {
		"Ok: queued as AB\tCD",
		"Ok: queued as AB\x1b[2JCD",
		"Ok: queued as AB\rCD",
		"Ok: queued as AB\nCD",
		"Ok: queued as AB\x7f",
		"Ok: queued as AB/CD",
		"Ok: queued as ../etc",
		"Ok: queued as AB;rm",
		"Ok: queued as AB=CD",
		"Ok: queued as AB\xc3\xa9",
		"Ok: queued as \xc3\xa9",
		"Ok: queued as -ABC",
		"Ok: queued as .ABC",
		"Ok: queued as _ABC",
		"OK id=1tABCd-000123-Xy\x01",
		"OK id=1tABCd 000123",
		"4B1Ab2cD01\x07 Message accepted for delivery",
		"4B1Ab2cD012345\t Message accepted for delivery",
		"4B1Ab2cD012345\tMessage accepted for delivery",
		"%s%n Message accepted for delivery",
	};
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		NONE(bad[i]);
	WANT("Ok: queued as a.b_c-d", "a.b_c-d");
}
