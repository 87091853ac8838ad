#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/json.h"

static char *
quoted(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	cr_assert_not_null(fp);
	json_string(fp, s);
	fclose(fp);
	return buf;
}

static void
expect(const char *in, const char *out)
{
	char *got = quoted(in);

	cr_expect_str_eq(got, out);
	free(got);
}

/* What a hostile queue file may hold, each as JSON must have it. */
Test(json, escapes_what_json_requires)
{
	expect("plain", "\"plain\"");
	expect("", "\"\"");
	expect("a\"b\\c", "\"a\\\"b\\\\c\"");
	expect("tab\there\nCR\r", "\"tab\\u0009here\\u000aCR\\u000d\"");
	expect("del\x7f", "\"del\\u007f\"");
	expect("\x1b[31mred", "\"\\u001b[31mred\"");
}

/* Valid UTF-8 passes; each byte of invalid UTF-8 is \u00XX, so the output
 * is always valid UTF-8. */
Test(json, utf8_valid_and_not)
{
	expect("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7", "\"J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x93\xa7\"");
	expect("bad \xff byte", "\"bad \\u00ff byte\"");
	expect("overlong \xc0\xaf", "\"overlong \\u00c0\\u00af\"");
	expect("surrogate \xed\xa0\x80", "\"surrogate \\u00ed\\u00a0\\u0080\"");
	expect("cut \xe2\x82", "\"cut \\u00e2\\u0082\"");
}
