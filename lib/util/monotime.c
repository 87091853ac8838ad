/*
 * monotime.c: CLOCK_MONOTONIC in milliseconds (monotime.h).
 */
#include "config.h"

#include <time.h>

#include "util/monotime.h"

long long
monotime_ms(void)
{
	struct timespec ts;

	/* Cannot fail with a valid clock id and pointer (POSIX). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
