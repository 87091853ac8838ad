#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "config/conf.h"
#include "queue/spool.h"
#include "util/error.h"

Test(error, set_says_why_and_clears_the_rest)
{
	struct error e;

	memset(&e, 0x5a, sizeof e);
	error_set(&e, ENOENT, "%s: %s", "/etc/mail/clientq.conf", strerror(ENOENT));
	cr_assert_str_eq(e.reason, "/etc/mail/clientq.conf: No such file or directory");
	cr_assert_eq(e.errnum, ENOENT);
	cr_assert_eq(e.code, 0);
	cr_assert_eq(e.line, 0);
}

/* A reason never overflows: a path too long is cut, the string ended. */
Test(error, a_long_reason_is_cut_to_fit)
{
	struct error e;
	char big[2 * ERROR_REASON_MAX];

	memset(big, 'p', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	error_set(&e, 0, "%s: too long", big);
	cr_assert_eq(strlen(e.reason), ERROR_REASON_MAX - 1);
	cr_assert_eq(e.reason[0], 'p');
}

Test(error, a_null_error_is_ignored)
{
	error_set(NULL, EIO, "nobody asked");
}

/* The modules fill the one type: a file that is not there, from conf
 * (its reason names the file) and from spool (its errno and its kind). */
Test(error, the_modules_fill_the_same_type)
{
	struct conf c;
	struct error e;
	struct spool_policy pol;

	conf_init(&c);
	memset(&e, 0, sizeof e);
	cr_assert_not(conf_load(&c, "/nonexistent/clientq.conf", true, &e));
	cr_assert(strstr(e.reason, "/nonexistent/clientq.conf") != NULL, "%s", e.reason);
	conf_free(&c);
	spool_policy_default(&pol);
	memset(&e, 0, sizeof e);
	cr_assert_null(spool_open("/nonexistent/queue", &pol, &e));
	cr_assert(strstr(e.reason, "/nonexistent/queue") != NULL, "%s", e.reason);
	cr_assert_eq(e.errnum, ENOENT, "%d", e.errnum);
}
