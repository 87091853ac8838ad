#include "config.h"

#include <criterion/criterion.h>

#include "queue/xtext.h"

Test(xtext, valid)
{
	cr_assert(xtext_valid(""));
	cr_assert(xtext_valid("envid123"));
	cr_assert(xtext_valid("rfc822;orig@example.test"));
	cr_assert(xtext_valid("a+2Bb+3d"));
	cr_assert(xtext_valid("root@host.test"));
}

Test(xtext, invalid)
{
	cr_assert_not(xtext_valid("a b"));
	cr_assert_not(xtext_valid("a=b"));
	cr_assert_not(xtext_valid("a+"));
	cr_assert_not(xtext_valid("a+2"));
	cr_assert_not(xtext_valid("a+2G"));
	cr_assert_not(xtext_valid("a\tb"));
	cr_assert_not(xtext_valid("caf\xc3\xa9"));
	cr_assert_not(xtext_valid("a\x7f"));
}
