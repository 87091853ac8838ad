/*
 * error: the library's one error type.  See error.h.
 */
#include "config.h"

#include "util/error.h"

#include <stdio.h>
#include <string.h>

void
error_setv(struct error *e, int errnum, const char *fmt, va_list ap)
{
	if (e == NULL)
		return;
	e->code = 0;
	e->errnum = errnum;
	e->line = 0;
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
}

void
error_set(struct error *e, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(e, errnum, fmt, ap);
	va_end(ap);
}

void
error_clear(struct error *e)
{
	if (e != NULL)
		memset(e, 0, sizeof *e);
}
