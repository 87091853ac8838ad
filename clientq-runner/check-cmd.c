/*
 * check-cmd: clientq-runner --check.  See check-cmd.h.
 *
 * --check has options of its own (the paths of the installation to look
 * at), so it is parsed here, apart from the daemon's options: every
 * --check option means nothing to the daemon and the reverse.
 */
#include "config.h"

#include "check-cmd.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check.h"
#include "config/conf.h"
#include "queue/log.h"
#include "util/xalloc.h"

enum {
	CC_EXIT_USAGE = 64,
	CC_EXIT_IOERR = 74,	/* the report could not be written */
};

static void
cc_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: clientq-runner --check [--fix [--fix-binary]] [--suidroot] [--json]\n"
	    "                      [-C submit.cf] [--config FILE] [-O Option=value]...\n"
	    "                      [--root DIR]\n"
	    "                      [--sendmail FILE] [--sendmail-cf FILE] [--mta-queue DIR]\n"
	    "                      [--cron PATHS] [--systemd-dirs DIRS] [--rc-conf FILES]\n"
	    "                      [--sendmail-conf FILE] [--proc DIR] [--passwd FILE]\n"
	    "                      [--group FILE]\n"
	    "\n"
	    "  verify the installation: one line per check (ok, warning or error, the\n"
	    "  path, what was found and what is expected); exit 0 all ok, 1 warnings\n"
	    "  only, 2 errors\n"
	    "  --fix           create the client queue, set its owner, group and mode;\n"
	    "                  say what changed (never touches a queue file)\n"
	    "  --fix-binary    also set the sendmail binary's owner and mode (implies --fix)\n"
	    "  --suidroot      check the old layout: sendmail setuid root, no submit.cf\n"
	    "  --json          the results as one JSON object\n"
	    "  --root DIR      check the installation under DIR: every default path, and\n"
	    "                  every path read from its files, is taken inside DIR; users\n"
	    "                  and groups come from DIR/etc/passwd and DIR/etc/group\n"
	    "  -C FILE         submit.cf (default %s, under --root)\n"
	    "  --config FILE   clientq.conf, whose tls.* and auth.* the relay check uses\n"
	    "                  as delivery does (default %s; one missing\n"
	    "                  means the defaults, STARTTLS when offered and no AUTH;\n"
	    "                  under --root read only when named)\n"
	    "  -O Option=value a submit.cf option, or a clientq.conf key, as the daemon\n"
	    "                  takes them\n"
	    "  --sendmail FILE the binary (default: sendmail on PATH, else /usr/sbin/sendmail)\n"
	    "  --sendmail-cf FILE, --mta-queue DIR\n"
	    "                  the MTA's sendmail.cf (default /etc/mail/sendmail.cf) and\n"
	    "                  queue (default its QueueDirectory, else /var/spool/mqueue)\n"
	    "  --cron PATHS    crontab files and directories, ':'-separated (default\n"
	    "                  %s)\n"
	    "  --systemd-dirs DIRS  unit directories (default %s)\n"
	    "  --rc-conf FILES rc.conf files, in the order they are read (default\n"
	    "                  %s)\n"
	    "  --sendmail-conf FILE  Debian's (default /etc/mail/sendmail.conf)\n"
	    "  --proc DIR      where processes are listed (default /proc)\n"
	    "  --passwd FILE, --group FILE  the account files to read\n"
	    "  (paths given with these options are used as given, not under --root)\n",
	    CQ_DEFAULT_SUBMIT_CF, CQ_DEFAULT_CONFIG, CHECK_CRON_PATHS, CHECK_SYSTEMD_DIRS,
	    CHECK_RC_CONF);
}

bool
runner_check_wanted(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--check") == 0)
			return true;
	}
	return false;
}

int
runner_check_main(int argc, char **argv)
{
	enum {
		O_CHECK = 256, O_FIX, O_FIX_BINARY, O_SUIDROOT, O_JSON, O_ROOT, O_SENDMAIL,
		O_SENDMAIL_CF, O_MTA_QUEUE, O_CRON, O_SYSTEMD, O_RC_CONF, O_SENDMAIL_CONF,
		O_PROC, O_PASSWD, O_GROUP, O_CONFIG, O_HELP,
	};
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, O_CHECK },
		{ "fix", no_argument, NULL, O_FIX },
		{ "fix-binary", no_argument, NULL, O_FIX_BINARY },
		{ "suidroot", no_argument, NULL, O_SUIDROOT },
		{ "json", no_argument, NULL, O_JSON },
		{ "root", required_argument, NULL, O_ROOT },
		{ "sendmail", required_argument, NULL, O_SENDMAIL },
		{ "sendmail-cf", required_argument, NULL, O_SENDMAIL_CF },
		{ "mta-queue", required_argument, NULL, O_MTA_QUEUE },
		{ "cron", required_argument, NULL, O_CRON },
		{ "systemd-dirs", required_argument, NULL, O_SYSTEMD },
		{ "rc-conf", required_argument, NULL, O_RC_CONF },
		{ "sendmail-conf", required_argument, NULL, O_SENDMAIL_CONF },
		{ "proc", required_argument, NULL, O_PROC },
		{ "passwd", required_argument, NULL, O_PASSWD },
		{ "group", required_argument, NULL, O_GROUP },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct check_config cfg;
	struct check_report *rep;
	struct conf conf;
	struct error err;
	char **overrides = xcalloc((size_t)argc + 1, sizeof *overrides);
	char **conf_keys = xcalloc((size_t)argc + 1, sizeof *conf_keys);
	const char *confpath = NULL;
	size_t nconf_keys = 0;
	bool json = false, conf_named;
	int c, rc;

	memset(&cfg, 0, sizeof cfg);
	cfg.scope = CHECK_SCOPE_ALL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "C:O:", longopts, NULL)) != -1) {
		switch (c) {
		case 'C':
			cfg.submit_cf = optarg;
			break;
		case 'O':
			/* Each to its file, as the daemon takes them. */
			if (conf_is_key(optarg))
				conf_keys[nconf_keys++] = optarg;
			else
				overrides[cfg.noverrides++] = optarg;
			break;
		case O_CONFIG:
			confpath = optarg;
			break;
		case O_CHECK:
			break;
		case O_FIX:
			cfg.fix = true;
			break;
		case O_FIX_BINARY:
			cfg.fix = cfg.fix_binary = true;
			break;
		case O_SUIDROOT:
			cfg.suidroot = true;
			break;
		case O_JSON:
			json = true;
			break;
		case O_ROOT:
			cfg.root = optarg;
			break;
		case O_SENDMAIL:
			cfg.sendmail = optarg;
			break;
		case O_SENDMAIL_CF:
			cfg.sendmail_cf = optarg;
			break;
		case O_MTA_QUEUE:
			cfg.mta_queue = optarg;
			break;
		case O_CRON:
			cfg.cron_paths = optarg;
			break;
		case O_SYSTEMD:
			cfg.systemd_dirs = optarg;
			break;
		case O_RC_CONF:
			cfg.rc_conf = optarg;
			break;
		case O_SENDMAIL_CONF:
			cfg.sendmail_conf = optarg;
			break;
		case O_PROC:
			cfg.proc = optarg;
			break;
		case O_PASSWD:
			cfg.passwd = optarg;
			break;
		case O_GROUP:
			cfg.group = optarg;
			break;
		case O_HELP:
			cc_usage(stdout);
			rc = 0;
			goto out;
		default:
			fprintf(stderr, "clientq-runner: --check takes the options below (not the daemon's)\n");
			cc_usage(stderr);
			rc = CC_EXIT_USAGE;
			goto out;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "clientq-runner: unexpected argument '%s'\n", argv[optind]);
		cc_usage(stderr);
		rc = CC_EXIT_USAGE;
		goto out;
	}
	/* clientq.conf as the daemon reads it, for the relay check's TLS and
	 * AUTH.  Under --root another installation is looked at: its file is
	 * read only when named. */
	conf_named = confpath != NULL;
	if (!conf_named && (cfg.root == NULL || *cfg.root == '\0' || strcmp(cfg.root, "/") == 0))
		confpath = CQ_DEFAULT_CONFIG;
	if (!conf_read(&conf, confpath, conf_named, conf_keys, nconf_keys, NULL, &err)) {
		fprintf(stderr, "clientq-runner: --check: %s\n", err.reason);
		conf_free(&conf);
		rc = CHECK_ERROR;
		goto out;
	}
	/* OpenSSL writes to the relay's socket with write(2). */
	signal(SIGPIPE, SIG_IGN);
	cfg.conf = &conf;
	cfg.overrides = overrides;
	rep = check_run(&cfg);
	if (json)
		check_print_json(rep, stdout);
	else
		check_print_text(rep, stdout);
	rc = (int)check_worst(rep);
	check_report_free(rep);
	conf_free(&conf);
	if (fflush(stdout) != 0)
		rc = CC_EXIT_IOERR;
out:
	free(overrides);
	free(conf_keys);
	return rc;
}

bool
runner_startup_check(const struct submitcf *cf, const char *cfpath, char *const *overrides,
    size_t n)
{
	struct check_config cfg;
	struct check_report *rep;
	size_t i, errors = 0;

	memset(&cfg, 0, sizeof cfg);
	cfg.scope = CHECK_SCOPE_STARTUP;
	cfg.submit_cf = cfpath;
	cfg.overrides = overrides;
	cfg.noverrides = n;
	cfg.loaded_cf = cf;
	rep = check_run(&cfg);
	for (i = 0; i < check_count(rep); i++) {
		const struct check_result *r = check_get(rep, i);

		if (r->status == CHECK_OK)
			continue;
		if (r->status == CHECK_ERROR)
			errors++;
		log_msg(r->status == CHECK_ERROR ? LOG_LVL_ERR : LOG_LVL_WARNING,
		    "installation check %s: %s %s: found %s; expected %s%s%s",
		    check_status_str(r->status), r->check, r->path, r->found, r->expected,
		    r->advice != NULL ? "; " : "", r->advice != NULL ? r->advice : "");
	}
	check_report_free(rep);
	if (errors > 0)
		log_msg(LOG_LVL_ERR, "not starting: %zu installation check%s failed "
		    "(clientq-runner --check lists every check)", errors, errors == 1 ? "" : "s");
	return errors == 0;
}
