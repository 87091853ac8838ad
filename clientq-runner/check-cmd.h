/*
 * check-cmd: `clientq-runner --check` (its options, output and exit
 * status) and the checks the daemon and --once run before they start.
 * The checks themselves are lib/check.
 */
#ifndef CQ_CHECK_CMD_H
#define CQ_CHECK_CMD_H

struct submitcf;

#include <stdbool.h>
#include <stddef.h>

/* runner_check_wanted: whether the command line asks for --check (then
 * runner_check_main parses all of it). */
bool runner_check_wanted(int argc, char **argv);

/* runner_check_main: the --check command; returns the exit status (0 all
 * ok, 1 warnings only, 2 errors, 64 usage). */
int runner_check_main(int argc, char **argv);

/* runner_startup_check: the checks about the runner's own ability to run
 * safely, on cf (the runner's submit.cf object, loaded from cfpath with
 * the -O overrides applied: the one the run will use), each problem
 * logged (warnings as warnings); false when one is an error (the caller
 * refuses to start). */
bool runner_startup_check(const struct submitcf *cf, const char *cfpath,
    char *const *overrides, size_t n);

#endif
