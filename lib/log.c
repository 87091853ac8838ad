#include "config.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static const char *log_tag = "sm-msp-queue";

void
log_init(const char *tag)
{
	if (tag != NULL && *tag != '\0')
		log_tag = tag;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from concurrent runs never mix. */
	dprintf(STDERR_FILENO, "<%d>%s[%ld]: %s\n", (int)lvl, log_tag,
	    (long)getpid(), line);
}

void
log_interval(long long secs, char *buf, unsigned size)
{
	long long d, h, m, s;

	if (secs < 0)
		secs = 0;
	d = secs / 86400;
	h = secs % 86400 / 3600;
	m = secs % 3600 / 60;
	s = secs % 60;
	if (d > 0)
		snprintf(buf, size, "%lld+%02lld:%02lld:%02lld", d, h, m, s);
	else
		snprintf(buf, size, "%02lld:%02lld:%02lld", h, m, s);
}
