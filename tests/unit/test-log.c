/*
 * log: one call is one line, whatever the text holds (a file name in the
 * queue may hold a newline; a relay's reply, a CR).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "queue/log.h"

static void
redirect(void)
{
	cr_redirect_stderr();
	log_init("cqtest", LOG_DEST_AUTO);
}

/* What stderr got is "<prio>cqtest[pid]: text\n". */
static void
expect_line(int prio, const char *text)
{
	char want[300];

	fflush(stderr);
	snprintf(want, sizeof want, "<%d>cqtest[%ld]: %s\n", prio, (long)getpid(), text);
	cr_assert_stderr_eq_str(want);
}

Test(log, control_characters_cannot_forge_a_line, .init = redirect)
{
	log_msg(LOG_LVL_WARNING, "%s: skipped", "/q/qfX\n<3>cqtest[1]: forged\rline\x1b[2J\x7f");
	expect_line(4, "/q/qfX?<3>cqtest[1]: forged?line?[2J?: skipped");
}

Test(log, ordinary_text_is_unchanged, .init = redirect)
{
	log_msg(LOG_LVL_INFO, "%s: to=<a@b>, stat=Sent (ok \xc3\xa9)", "6AOMct2T003760");
	expect_line(6, "6AOMct2T003760: to=<a@b>, stat=Sent (ok \xc3\xa9)");
}
