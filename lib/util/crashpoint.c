#include "config.h"

#include "util/crashpoint.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CQ_TEST_HOOKS
void
crashpoint(const char *name)
{
	(void)name;
}
#else
void
crashpoint(const char *name)
{
	static int state;	/* 0: not read yet, 1: off, 2: armed */
	static char want[64];	/* a name, or "*": any */
	static long left = 1, calls;
	const char *v, *colon;
	size_t n;

	if (state == 1)
		return;
	if (state == 0) {
		state = 1;
		v = getenv("CLIENTQ_CRASH_AT");
		if (v == NULL || *v == '\0')
			return;
		colon = strchr(v, ':');
		n = colon != NULL ? (size_t)(colon - v) : strlen(v);
		if (n >= sizeof want)
			return;
		memcpy(want, v, n);
		if (colon != NULL && (left = strtol(colon + 1, NULL, 10)) < 1)
			left = 1;
		state = 2;
	}
	if (strcmp(want, "*") != 0 && strcmp(name, want) != 0)
		return;
	calls++;
	if (--left == 0) {
		char line[128];
		int len = snprintf(line, sizeof line, "crashpoint: %s (%ld): SIGKILL\n",
		    name, calls);

		/* One write, no stdio: the process dies right after. */
		if (len > 0)
			(void)!write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1);
		(void)kill(getpid(), SIGKILL);
	}
}
#endif
