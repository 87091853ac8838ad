#include "config.h"

#include "crashpoint.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
crashpoint(const char *name)
{
	static int state;	/* 0: not read yet, 1: off, 2: armed */
	static char want[64];
	static long left = 1;
	const char *v, *colon;

	if (state == 1)
		return;
	if (state == 0) {
		state = 1;
		v = getenv("CLIENTQ_CRASH_AT");
		if (v == NULL || *v == '\0')
			return;
		colon = strchr(v, ':');
		if ((colon != NULL ? (size_t)(colon - v) : strlen(v)) >= sizeof want)
			return;
		memcpy(want, v, colon != NULL ? (size_t)(colon - v) : strlen(v));
		if (colon != NULL && (left = strtol(colon + 1, NULL, 10)) < 1)
			left = 1;
		state = 2;
	}
	if (strcmp(name, want) == 0 && --left == 0)
		(void)kill(getpid(), SIGKILL);
}
