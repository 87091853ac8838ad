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
	int n;

	n = snprintf(line, sizeof line, "<%d>%s[%ld]: ", (int)lvl, log_tag,
	    (long)getpid());
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if ((size_t)n > sizeof line - 2)
		n = (int)sizeof line - 2;	/* cut, as syslog cuts */
	line[n++] = '\n';
	/* One write per line, so lines from concurrent runs never mix (and
	 * no stdio: it would probe the descriptor on every call). */
	(void)!write(STDERR_FILENO, line, (size_t)n);
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
