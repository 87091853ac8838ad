/*
 * error: the library's one error type.  A function that can fail says so
 * by its result (false, NULL, or its module's enum) and, in a struct
 * error its caller passes, why: a bounded one-line reason that names the
 * file and the problem, fit for the log and for the user as it is, with
 * the errno of the call that failed and the line of the file it is about
 * when there is one.  A module whose callers decide by the kind of
 * failure puts it in code, as an enum its own header names (spool.h's
 * enum spool_unsafe); no caller parses reason.
 *
 * Contract
 * --------
 * - error_set(e, errnum, fmt, ...): reason from fmt (cut to fit),
 *   errnum as given (0: none), code and line 0.  A NULL e is allowed and
 *   ignored (a caller that does not want to know).
 * - error_setv: the same with a va_list.
 * - error_clear(e): nothing failed (everything 0, reason ""), for a
 *   result that is not a failure though it looks like one (tls.h's NULL
 *   client under policy none).
 * - A function fills its struct error only when it fails; the caller's
 *   need not be initialised before.
 */
#ifndef CQ_ERROR_H
#define CQ_ERROR_H

#include <stdarg.h>

/* The longest reason, its NUL included: a path (up to a few hundred
 * bytes) and a sentence. */
#define ERROR_REASON_MAX 600

struct error {
	int code;		/* the module's kind, 0 when it has none */
	int errnum;		/* errno of the failing call, 0 when none */
	unsigned line;		/* 1-based line it is about, 0 when none */
	char reason[ERROR_REASON_MAX];
};

void error_set(struct error *e, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void error_setv(struct error *e, int errnum, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void error_clear(struct error *e);

#endif
