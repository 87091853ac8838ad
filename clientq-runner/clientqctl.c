/*
 * clientqctl: control and inspect the client queue.
 *
 * Commands are declared once, in ctl_commands[]: the dispatcher, the usage
 * text and --help all come from that table.  This version has the offline
 * listing, which reads the queue directory itself; the commands that talk
 * to a running clientq-runner arrive with its control socket.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qlist.h"
#include "spool.h"
#include "submitcf.h"

/* Exit codes, documented in clientqctl(8). */
enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,		/* could not be done; the message says why */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNAVAILABLE = 69,	/* the daemon is not reachable */
};

struct ctl_command {
	const char *name;
	const char *synopsis;
	const char *help;
	int (*run)(int argc, char **argv);
};

static int ctl_list(int argc, char **argv);

static const struct ctl_command ctl_commands[] = {
	{ "list", "list --offline [-C submit.cf | -q DIR] [--json]",
	  "list the client queue as `mailq -Ac` does (--offline: read the\n"
	  "\t\tqueue directory directly; needs root or group smmsp)", ctl_list },
};

#define CTL_NCOMMANDS (sizeof ctl_commands / sizeof ctl_commands[0])

static const char *ctl_progname = "clientqctl";

static void
ctl_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: %s COMMAND [ARGS]\n       %s --help | --version\n\ncommands:\n",
	    ctl_progname, ctl_progname);
	for (i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(fp, "  %s\n\t\t%s\n", ctl_commands[i].synopsis,
		    ctl_commands[i].help);
	fprintf(fp, "\nexit status: 0 ok, 1 failed, 2 usage, 69 daemon unavailable\n"
	    "default submit.cf: %s\n", CQ_DEFAULT_SUBMIT_CF);
}

static int ctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
ctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctl_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", ctl_progname);
	return CTL_EXIT_USAGE;
}

static int
ctl_list(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "offline", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfpath = NULL, *qdir = NULL;
	bool offline = false, json = false;
	struct submitcf *cf = NULL;
	struct submitcf_error cferr;
	struct spool_policy pol;
	struct spool_error serr;
	struct spool *sp;
	struct qlist ql;
	size_t i;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+C:q:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			cfpath = optarg;
			break;
		case 'q':
			qdir = optarg;
			break;
		case 'o':
			offline = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			ctl_usage(stdout);
			return CTL_EXIT_OK;
		default:
			return ctl_usage_error("%s", "list: bad option");
		}
	}
	if (optind != argc)
		return ctl_usage_error("list: unexpected argument '%s'", argv[optind]);
	if (cfpath != NULL && qdir != NULL)
		return ctl_usage_error("%s", "list: -C and -q exclude each other");
	if (!offline) {
		fprintf(stderr, "%s: cannot reach clientq-runner: this version has no control socket yet.\n"
		    "Use '%s list --offline' to read the queue directly (as root or smmsp).\n",
		    ctl_progname, ctl_progname);
		return CTL_EXIT_UNAVAILABLE;
	}
	if (qdir == NULL) {
		cf = submitcf_load(cfpath ? cfpath : CQ_DEFAULT_SUBMIT_CF, &cferr);
		if (cf == NULL || (qdir = submitcf_queue_dir(cf, &cferr)) == NULL) {
			fprintf(stderr, "%s: %s\n", ctl_progname, cferr.reason);
			submitcf_free(cf);
			return CTL_EXIT_FAILED;
		}
	}
	spool_policy_default(&pol);
	sp = spool_open(qdir, &pol, &serr);
	if (sp == NULL) {
		fprintf(stderr, "%s: %s%s\n", ctl_progname, serr.reason,
		    serr.errnum == EACCES ? " (the offline listing needs root or group smmsp)" : "");
		submitcf_free(cf);
		return CTL_EXIT_FAILED;
	}
	if (!qlist_gather(sp, &ql, true, &serr)) {
		fprintf(stderr, "%s: %s\n", ctl_progname, serr.reason);
		spool_free(sp);
		submitcf_free(cf);
		return CTL_EXIT_FAILED;
	}
	/* Names that look like control files but are not usable ones are
	 * reported on stderr, so that stdout stays what mailq prints. */
	for (i = 0; i < ql.scan.nskipped; i++)
		fprintf(stderr, "%s: %s/%s: skipped: %s\n", ctl_progname, qdir,
		    ql.scan.skipped[i].name, ql.scan.skipped[i].reason);
	if (json)
		qlist_print_json(&ql, stdout);
	else
		qlist_print_mailq(&ql, qdir, stdout);
	qlist_free(&ql);
	spool_free(sp);
	submitcf_free(cf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: error writing the listing: %s\n", ctl_progname,
		    strerror(errno));
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		ctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		ctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", ctl_progname, PACKAGE_VERSION);
		return CTL_EXIT_OK;
	}
	for (i = 0; i < CTL_NCOMMANDS; i++)
		if (strcmp(argv[1], ctl_commands[i].name) == 0)
			return ctl_commands[i].run(argc - 1, argv + 1);
	return ctl_usage_error("unknown command '%s'", argv[1]);
}
