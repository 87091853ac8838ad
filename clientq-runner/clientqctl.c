/*
 * clientqctl: control and inspect the client queue.
 *
 * Commands are declared once, in cqctl_commands[]: the dispatcher, each
 * command's options (getopt_long reads the same array), the usage text,
 * --help and the words bash completion offers (clientqctl --complete) all
 * come from that table.  Everything but `list --offline` asks the running
 * clientq-runner over its control socket (ctl.h for the protocol).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/kv.h"
#include "util/monotime.h"
#include "util/ctl.h"
#include "queue/qid.h"
#include "queue/qlist.h"
#include "queue/qsel.h"
#include "queue/spool.h"
#include "util/strbuf.h"
#include "config/submitcf.h"
#include "smtp/verify.h"
#include "delivery/trace.h"

/* Exit codes, documented in clientqctl(8); `check` has the monitoring
 * plugins' own (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). */
enum cqctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,		/* refused, or could not be done */
	CTL_EXIT_USAGE = 2,
	CTL_EXIT_UNAVAILABLE = 69,	/* the daemon is not reachable */
	CTL_EXIT_TEMPFAIL = 75,		/* try again later */
};

enum { PLUGIN_OK, PLUGIN_WARNING, PLUGIN_CRITICAL, PLUGIN_UNKNOWN };

struct cqctl_command {
	const char *name;
	const char *synopsis;
	const char *help;
	const struct option *opts;	/* also what completion offers */
	int (*run)(int argc, char **argv, const struct cqctl_command *self);
};

static const char *cqctl_progname = "clientqctl";
static const char *cqctl_socket = CTL_DEFAULT_SOCKET;

static void cqctl_usage(FILE *fp);

static int cqctl_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
cqctl_usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", cqctl_progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s --help'.\n", cqctl_progname);
	return CTL_EXIT_USAGE;
}

/* ------------------------------------------------------------ talking */

/* What a reply's lines do, per command. */
/* How long an answer that a child of the daemon writes may take: its
 * limit (control.h's CONTROL_CHILD_SECONDS, 600 s) and a margin. */
#define CTL_CHILD_WAIT_MS 660000

struct cqctl_talk {
	bool quiet_ok;		/* the OK line's text is not printed */
	bool unavailable_hint;	/* suggest --offline when no daemon */
	bool progress;		/* flush --wait: P lines */
	bool plugin;		/* check: failures are UNKNOWN, not printed */
	int timeout_ms;		/* -1: none */
	void (*on_data)(const char *text, void *arg);
	void *arg;
	/* filled in */
	enum ctl_status st;
	char status_text[1024];
	unsigned long done, total;
};

static int
cqctl_connect(struct error *err)
{
	struct sockaddr_un sa;
	int fd;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(cqctl_socket) >= sizeof sa.sun_path) {
		error_set(err, 0, "%s: path too long for a socket", cqctl_socket);
		return -1;
	}
	strcpy(sa.sun_path, cqctl_socket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error_set(err, errno, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		error_set(err, errno, "cannot reach clientq-runner at %s: %s", cqctl_socket,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* A progress line: "- waiting N", or "<id> <outcome> <text>". */
static void
cqctl_progress(struct cqctl_talk *tk, const char *text)
{
	bool tty = isatty(STDERR_FILENO);

	if (strncmp(text, "- waiting ", 10) == 0) {
		tk->total = strtoul(text + 10, NULL, 10);
	} else {
		const char *sp = strchr(text, ' ');

		tk->done++;
		if (tty)
			fputs("\r\033[K", stderr);
		if (sp != NULL) {
			const char *sp2 = strchr(sp + 1, ' ');

			/* "ID: delivered: 1 recipient" */
			printf("%.*s: %.*s%s%s\n", (int)(sp - text), text,
			    sp2 ? (int)(sp2 - sp - 1) : (int)strlen(sp + 1), sp + 1,
			    sp2 ? ": " : "", sp2 ? sp2 + 1 : "");
		} else {
			printf("%s\n", text);
		}
		fflush(stdout);
	}
	if (tty && tk->total > 0) {
		fprintf(stderr, "\r\033[Kwaiting: %lu of %lu done", tk->done, tk->total);
		fflush(stderr);
	}
}

/*
 * Send req; read the reply line by line.  Returns the exit status:
 * the status line's (ctl_status_exit), 69 when the daemon cannot be
 * reached, 75 when the reply breaks off.
 */
static int
cqctl_talk(const struct strbuf *req, struct cqctl_talk *tk)
{
	struct strbuf in = STRBUF_INIT;
	struct error err;
	char buf[8192];
	size_t off = 0;
	int fd, rc = CTL_EXIT_TEMPFAIL;
	bool tty = isatty(STDERR_FILENO);

	tk->status_text[0] = '\0';
	if ((fd = cqctl_connect(&err)) < 0) {
		snprintf(tk->status_text, sizeof tk->status_text, "%s", err.reason);
		if (!tk->plugin) {
			fprintf(stderr, "%s: %s\n", cqctl_progname, err.reason);
			if (tk->unavailable_hint)
				fprintf(stderr, "The daemon is not running, or its socket is elsewhere "
				    "(--socket).  Use '%s list --offline' to read\n"
				    "the queue directly (as root or a member of group smmsp).\n",
				    cqctl_progname);
		}
		return CTL_EXIT_UNAVAILABLE;
	}
	while (off < req->len) {
		ssize_t n = send(fd, req->buf + off, req->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The daemon may have refused the connection
			 * (too many) and closed it: its line is still
			 * there to read. */
			snprintf(tk->status_text, sizeof tk->status_text,
			    "cannot send the request: %s", strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		char *nl;
		ssize_t n;
		int pr = poll(&pfd, 1, tk->timeout_ms);

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			snprintf(tk->status_text, sizeof tk->status_text,
			    "no answer from clientq-runner within %d s", tk->timeout_ms / 1000);
			goto broken;
		}
		n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (off == req->len || tk->status_text[0] == '\0')
				snprintf(tk->status_text, sizeof tk->status_text, "%s",
				    "clientq-runner closed the connection without an answer");
			goto broken;
		}
		strbuf_append(&in, buf, (size_t)n);
		while ((nl = memchr(in.buf, '\n', in.len)) != NULL) {
			const char *text;
			enum ctl_status st;
			enum ctl_line kind;

			*nl = '\0';
			kind = ctl_parse_reply_line(in.buf, &st, &text);
			if (kind == CTL_LINE_DATA) {
				if (tk->on_data != NULL)
					tk->on_data(text, tk->arg);
				else
					printf("%s\n", text);
			} else if (kind == CTL_LINE_PROGRESS && tk->progress) {
				cqctl_progress(tk, text);
			} else if (kind == CTL_LINE_STATUS) {
				tk->st = st;
				snprintf(tk->status_text, sizeof tk->status_text, "%s", text);
				rc = ctl_status_exit(st);
				if (tty && tk->progress && tk->total > 0)
					fputs("\r\033[K", stderr);
				if (!tk->plugin) {
					if (st == CTL_OK && !tk->quiet_ok && *text != '\0')
						printf("%s\n", text);
					else if (st != CTL_OK)
						fprintf(stderr, "%s: %s\n", cqctl_progname, text);
				}
				goto done;
			}
			strbuf_consume(&in, (size_t)(nl - in.buf) + 1);
		}
		if (in.len > (1u << 20)) {
			snprintf(tk->status_text, sizeof tk->status_text, "%s",
			    "a reply line longer than 1 MiB");
			goto broken;
		}
	}
broken:
	if (!tk->plugin)
		fprintf(stderr, "%s: %s\n", cqctl_progname, tk->status_text);
	rc = CTL_EXIT_TEMPFAIL;
done:
	close(fd);
	strbuf_free(&in);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: error writing the output: %s\n", cqctl_progname,
		    strerror(errno));
		return CTL_EXIT_FAILED;
	}
	return rc;
}

/* A command without arguments of its own: the request, the reply. */
static int
cqctl_simple(const char *command, int timeout_ms)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	int rc;

	tk.timeout_ms = timeout_ms;
	ctl_request_start(&req, command);
	ctl_request_end(&req);
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

/* getopt_long over the command's own options; '?' for a bad one. */
static int
cqctl_getopt(int argc, char **argv, const struct cqctl_command *self)
{
	return getopt_long(argc, argv, "hC:q:", self->opts, NULL);
}

/* Every command takes --help. */
#define CTL_OPT_HELP { "help", no_argument, NULL, 'h' }
#define CTL_OPT_END { NULL, 0, NULL, 0 }

static int
cqctl_bad_option(const struct cqctl_command *self)
{
	return cqctl_usage_error("usage: %s %s", cqctl_progname, self->synopsis);
}

static int
cqctl_command_help(const struct cqctl_command *self)
{
	printf("usage: %s %s\n\n%s\n", cqctl_progname, self->synopsis, self->help);
	return CTL_EXIT_OK;
}

/* ------------------------------------------------------------ commands */

static int
cqctl_no_args(int argc, char **argv, const struct cqctl_command *self)
{
	int c;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		if (c == 'h')
			return cqctl_command_help(self);
		return cqctl_bad_option(self);
	}
	if (optind != argc)
		return cqctl_usage_error("%s: unexpected argument '%s'", self->name, argv[optind]);
	return cqctl_simple(self->name, 30000);
}

/* ------------------------------------------------------------ selectors */

/* The selector grammar's options (clientqctl(8), SELECTING MESSAGES):
 * the same letters in every command's option table. */
#define CQCTL_SEL_OPTS \
	{ "older-than", required_argument, NULL, 'O' }, \
	{ "newer-than", required_argument, NULL, 'N' }, \
	{ "sender", required_argument, NULL, 's' }, \
	{ "recipient", required_argument, NULL, 'r' }, \
	{ "user", required_argument, NULL, 'u' }, \
	{ "reason", required_argument, NULL, 'R' }, \
	{ "held", no_argument, NULL, 'H' }
#define CQCTL_SEL_SYNOPSIS "[--older-than AGE] [--newer-than AGE] [--sender ADDR] " \
	"[--recipient ADDR] [--user NAME] [--reason REGEX] [--held]"

struct cqctl_sel {
	char older[32], newer[32];
	const char *sender, *recipient, *user, *reason;
	bool held, any;
};

/* c (getopt's) into sel: 1 taken, 0 not a selector, -1 a bad value
 * (said). */
static int
cqctl_sel_opt(struct cqctl_sel *sel, int c, const char *arg, const char *cmd)
{
	long long secs;

	switch (c) {
	case 'O':
	case 'N':
		if (!qsel_parse_age(arg, &secs)) {
			(void)cqctl_usage_error("%s: --%s-than '%s': an age is a number with s, m, h, d or w (30m, 7d)",
			    cmd, c == 'O' ? "older" : "newer", arg);
			return -1;
		}
		snprintf(c == 'O' ? sel->older : sel->newer, sizeof sel->older, "%lld", secs);
		break;
	case 's':
		sel->sender = arg;
		break;
	case 'r':
		sel->recipient = arg;
		break;
	case 'u':
		sel->user = arg;
		break;
	case 'R':
		sel->reason = arg;
		break;
	case 'H':
		sel->held = true;
		break;
	default:
		return 0;
	}
	sel->any = true;
	return 1;
}

static void
cqctl_sel_add(const struct cqctl_sel *sel, struct strbuf *req)
{
	if (sel->older[0] != '\0')
		ctl_request_add(req, "older", sel->older);
	if (sel->newer[0] != '\0')
		ctl_request_add(req, "newer", sel->newer);
	if (sel->sender != NULL)
		ctl_request_add(req, "sender", sel->sender);
	if (sel->recipient != NULL)
		ctl_request_add(req, "recipient", sel->recipient);
	if (sel->user != NULL)
		ctl_request_add(req, "user", sel->user);
	if (sel->reason != NULL)
		ctl_request_add(req, "reason", sel->reason);
	if (sel->held)
		ctl_request_add(req, "held", NULL);
}

/* cqctl_getopt_sel: cqctl_getopt with the selector options taken into
 * sel: the next other option, -1 at the end, -2 after a bad selector
 * value (said). */
static int
cqctl_getopt_sel(int argc, char **argv, const struct cqctl_command *self, struct cqctl_sel *sel)
{
	int c;

	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		switch (cqctl_sel_opt(sel, c, optarg, self->name)) {
		case 0:
			return c;
		case -1:
			return -2;
		default:
			break;
		}
	}
	return -1;
}

/* Queue IDs from argv[optind..] into req; false (said) on one that is
 * not. */
static bool
cqctl_add_ids(int argc, char **argv, struct strbuf *req, const char *cmd)
{
	for (; optind < argc; optind++) {
		if (!qid_valid(argv[optind])) {
			(void)cqctl_usage_error("%s: '%s' is not a queue ID", cmd, argv[optind]);
			return false;
		}
		ctl_request_add(req, "id", argv[optind]);
	}
	return true;
}

static int
cqctl_flush(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	struct cqctl_sel sel = { .held = false };
	bool wait = false;
	int c, rc;

	optind = 1;
	while ((c = cqctl_getopt_sel(argc, argv, self, &sel)) >= 0) {
		switch (c) {
		case 'w':
			wait = true;
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (c == -2)
		return CTL_EXIT_USAGE;
	if (sel.held)
		return cqctl_usage_error("%s", "flush: a held message is not delivered; release it");
	if (sel.any && optind != argc)
		return cqctl_usage_error("flush: queue IDs or selectors, not both");
	ctl_request_start(&req, "flush");
	if (!cqctl_add_ids(argc, argv, &req, self->name)) {
		strbuf_free(&req);
		return CTL_EXIT_USAGE;
	}
	cqctl_sel_add(&sel, &req);
	if (wait)
		ctl_request_add(&req, "wait", NULL);
	ctl_request_end(&req);
	tk.progress = wait;
	/* A flush by sender or recipient waits for the daemon's child
	 * that reads the queue. */
	tk.timeout_ms = wait ? -1 : CTL_CHILD_WAIT_MS;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

/* list's output: what mailq prints, JSON Lines as postqueue -j writes
 * them (--json), or the old JSON array (--json-array, for one release). */
enum cqctl_list_format { CTL_LIST_MAILQ, CTL_LIST_JSONL, CTL_LIST_ARRAY };

static int cqctl_list_offline(const char *cfpath, const char *qdir, enum cqctl_list_format fmt);

static int
cqctl_list(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	const char *cfpath = NULL, *qdir = NULL;
	bool offline = false, all = false, recent = false;
	struct cqctl_sel sel = { .held = false };
	enum cqctl_list_format fmt = CTL_LIST_MAILQ;
	int c, rc;

	optind = 1;
	while ((c = cqctl_getopt_sel(argc, argv, self, &sel)) >= 0) {
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
		case 'J':
			if (fmt != CTL_LIST_MAILQ)
				return cqctl_usage_error("%s", "list: --json and --json-array exclude each other");
			fmt = c == 'j' ? CTL_LIST_JSONL : CTL_LIST_ARRAY;
			break;
		case 'a':
			all = true;
			break;
		case 'E':
			recent = true;
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (c == -2)
		return CTL_EXIT_USAGE;
	if (optind != argc)
		return cqctl_usage_error("list: unexpected argument '%s'", argv[optind]);
	if (recent && (sel.any || offline || all || fmt == CTL_LIST_ARRAY))
		return cqctl_usage_error("%s", "list --recent: alone, or with --json");
	if (cfpath != NULL && qdir != NULL)
		return cqctl_usage_error("%s", "list: -C and -q exclude each other");
	if (!offline && (cfpath != NULL || qdir != NULL))
		return cqctl_usage_error("%s", "list: -C and -q go with --offline");
	if (offline && sel.any)
		return cqctl_usage_error("%s", "list: selectors ask the daemon; --offline lists the whole queue");
	if (offline)
		return cqctl_list_offline(cfpath, qdir, fmt);
	ctl_request_start(&req, "list");
	if (all)
		ctl_request_add(&req, "all", NULL);
	if (recent)
		ctl_request_add(&req, "recent", NULL);
	cqctl_sel_add(&sel, &req);
	if (fmt != CTL_LIST_MAILQ)
		ctl_request_add(&req, "format", fmt == CTL_LIST_JSONL ? "jsonl" : "json");
	ctl_request_end(&req);
	tk.quiet_ok = true;
	tk.unavailable_hint = true;
	tk.timeout_ms = CTL_CHILD_WAIT_MS;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

/* show: one queue ID, or the messages selectors pick. */
static int
cqctl_show(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	struct cqctl_sel sel = { .held = false };
	bool all = false;
	int c, rc;

	optind = 1;
	while ((c = cqctl_getopt_sel(argc, argv, self, &sel)) >= 0) {
		switch (c) {
		case 'a':
			all = true;
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (c == -2)
		return CTL_EXIT_USAGE;
	if (sel.any || all) {
		if (optind != argc)
			return cqctl_usage_error("%s", "show: a queue ID or selectors, not both");
	} else if (optind + 1 != argc) {
		return cqctl_usage_error("%s: one queue ID, or selectors, please", self->name);
	} else if (!qid_valid(argv[optind])) {
		return cqctl_usage_error("%s: '%s' is not a queue ID", self->name, argv[optind]);
	}
	ctl_request_start(&req, self->name);
	if (optind < argc)
		ctl_request_add(&req, "id", argv[optind]);
	cqctl_sel_add(&sel, &req);
	if (all)
		ctl_request_add(&req, "all", NULL);
	ctl_request_end(&req);
	tk.quiet_ok = true;
	tk.timeout_ms = CTL_CHILD_WAIT_MS;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

static void
cqctl_count_data(const char *text, void *arg)
{
	(void)text;
	(*(unsigned long *)arg)++;
}

/* hold, release, remove, bounce, requeue: queue IDs, or a selection.
 * A selection acted on from a terminal that picks more than one message
 * needs --yes: a dry run counts first, and says how to go on. */
static int
cqctl_act(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	struct cqctl_sel sel = { .held = false };
	const char *comment = NULL;
	bool all = false, dry = false, yes = false;
	int c, rc;

	optind = 1;
	while ((c = cqctl_getopt_sel(argc, argv, self, &sel)) >= 0) {
		switch (c) {
		case 'c':
			comment = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'y':
			yes = true;
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (c == -2)
		return CTL_EXIT_USAGE;
	if (optind != argc && (sel.any || all))
		return cqctl_usage_error("%s: queue IDs or selectors, not both", self->name);
	if (optind == argc && !sel.any && !all)
		return cqctl_usage_error("%s: which messages? Name queue IDs, select them, or say --all",
		    self->name);
	if (optind == argc && !dry && !yes && isatty(STDIN_FILENO)) {
		unsigned long n = 0;
		int dn = optind;

		ctl_request_start(&req, self->name);
		cqctl_sel_add(&sel, &req);
		if (all)
			ctl_request_add(&req, "all", NULL);
		ctl_request_add(&req, "dryrun", NULL);
		ctl_request_end(&req);
		tk.quiet_ok = true;
		tk.on_data = cqctl_count_data;
		tk.arg = &n;
		tk.timeout_ms = CTL_CHILD_WAIT_MS;
		rc = cqctl_talk(&req, &tk);
		strbuf_free(&req);
		if (rc != CTL_EXIT_OK)
			return rc;
		if (n > 1) {
			fprintf(stderr, "%s: %s would act on %lu messages; see them with --dry-run, "
			    "then add --yes\n", cqctl_progname, self->name, n);
			return CTL_EXIT_FAILED;
		}
		optind = dn;
		memset(&tk, 0, sizeof tk);
	}
	ctl_request_start(&req, self->name);
	if (!cqctl_add_ids(argc, argv, &req, self->name)) {
		strbuf_free(&req);
		return CTL_EXIT_USAGE;
	}
	cqctl_sel_add(&sel, &req);
	if (all)
		ctl_request_add(&req, "all", NULL);
	if (comment != NULL)
		ctl_request_add(&req, "comment", comment);
	if (dry)
		ctl_request_add(&req, "dryrun", NULL);
	ctl_request_end(&req);
	tk.timeout_ms = -1;	/* a child acts on each file: as long as that takes */
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

static int
cqctl_stats(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	const char *fmt = NULL;
	int c, rc;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		switch (c) {
		case 'j':
			fmt = "json";
			break;
		case 'p':
			fmt = "prometheus";
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (optind != argc)
		return cqctl_usage_error("stats: unexpected argument '%s'", argv[optind]);
	ctl_request_start(&req, "stats");
	if (fmt != NULL)
		ctl_request_add(&req, "format", fmt);
	ctl_request_end(&req);
	tk.quiet_ok = true;
	tk.timeout_ms = CTL_CHILD_WAIT_MS;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	return rc;
}

/*
 * metrics-http: a Prometheus scrape endpoint for one connection that
 * systemd accepted (sendmail-clientq-metrics.socket, Accept=yes, the
 * socket on standard input and output).  It reads one HTTP/1.x request,
 * CQCTL_HTTP_MAX octets and CQCTL_HTTP_WAIT_MS at most (400 or 408
 * beyond), and answers GET /metrics (HEAD too) with 200 and exactly what
 * `stats --prometheus` prints, asked of the daemon as any user asks; 503
 * when the daemon cannot be reached or answers "try again"; 404 for
 * another path, 405 for another method.  The connection closes after
 * the answer.  Exit 0 once an answer is written (a scraper's failure
 * shows in its own `up`, not as failed units here), 1 when it could not
 * be.
 */
#define CQCTL_HTTP_MAX 8192
#define CQCTL_HTTP_WAIT_MS 10000
/* Prometheus' default scrape timeout is 10 s; a daemon that takes longer
 * than this to count its queue is not answering. */
#define CQCTL_HTTP_STATS_MS 30000

static void
cqctl_http_data(const char *text, void *arg)
{
	strbuf_addstr(arg, text);
	strbuf_addch(arg, '\n');
}

static bool
cqctl_http_write(const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static int
cqctl_http_answer(int code, const char *reason, const char *type, const char *extra,
    const char *body, size_t len, bool head)
{
	struct strbuf sb = STRBUF_INIT;
	char drain[4096];
	long long end;
	bool written;

	strbuf_addf(&sb, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%sConnection: close\r\n\r\n", code, reason, type, len, extra);
	if (!head)
		strbuf_append(&sb, body, len);
	written = cqctl_http_write(sb.buf, sb.len);
	strbuf_free(&sb);
	/* Close gently: what the client still sends (a body we did not
	 * read) would make the kernel reset the connection and could take
	 * the answer with it.  Bounded, as the request was. */
	if (written && shutdown(STDOUT_FILENO, SHUT_WR) == 0) {
		end = monotime_ms() + 1000;
		for (;;) {
			struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
			long long left = end - monotime_ms();

			if (left <= 0 || poll(&pfd, 1, (int)left) <= 0 ||
			    read(STDIN_FILENO, drain, sizeof drain) <= 0)
				break;
		}
	}
	return written ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static int
cqctl_http_plain(int code, const char *reason, const char *extra, bool head)
{
	char body[64];
	int n = snprintf(body, sizeof body, "%d %s\n", code, reason);

	return cqctl_http_answer(code, reason, "text/plain; charset=utf-8", extra, body,
	    (size_t)n, head);
}

/* The request, up to the end of its header; false (and *code) when it
 * does not come whole in time, or is too long. */
static bool
cqctl_http_read(char *buf, size_t size, size_t *len, int *code)
{
	long long end = monotime_ms() + CQCTL_HTTP_WAIT_MS;

	*len = 0;
	for (;;) {
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		long long left = end - monotime_ms();
		ssize_t n;
		int pr;

		buf[*len] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL)
			return true;
		if (*len + 1 >= size) {
			*code = 400;
			return false;
		}
		if (left <= 0) {
			*code = 408;
			return false;
		}
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			*code = 408;
			return false;
		}
		n = pr < 0 ? -1 : read(STDIN_FILENO, buf + *len, size - 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* The client stopped sending: what came may
			 * still be a whole request line. */
			return strchr(buf, '\n') != NULL;
		}
		if (memchr(buf + *len, '\0', (size_t)n) != NULL) {
			*code = 400;
			return false;
		}
		*len += (size_t)n;
	}
}

static int
cqctl_metrics_http(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT, text = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	char buf[CQCTL_HTTP_MAX], *method, *target, *version, *save, *q;
	size_t len;
	int c, code = 400, rc;
	bool head;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		if (c == 'h')
			return cqctl_command_help(self);
		return cqctl_bad_option(self);
	}
	if (optind != argc)
		return cqctl_usage_error("metrics-http: unexpected argument '%s'", argv[optind]);
	signal(SIGPIPE, SIG_IGN);
	if (!cqctl_http_read(buf, sizeof buf, &len, &code))
		return cqctl_http_plain(code, code == 408 ? "Request Timeout" : "Bad Request", "",
		    false);
	buf[strcspn(buf, "\r\n")] = '\0';
	method = strtok_r(buf, " ", &save);
	target = strtok_r(NULL, " ", &save);
	version = strtok_r(NULL, " ", &save);
	if (method == NULL || target == NULL || version == NULL ||
	    strtok_r(NULL, " ", &save) != NULL || strncmp(version, "HTTP/1.", 7) != 0)
		return cqctl_http_plain(400, "Bad Request", "", false);
	head = strcmp(method, "HEAD") == 0;
	if ((q = strchr(target, '?')) != NULL)
		*q = '\0';
	if (strcmp(target, "/metrics") != 0)
		return cqctl_http_plain(404, "Not Found", "", head);
	if (!head && strcmp(method, "GET") != 0)
		return cqctl_http_plain(405, "Method Not Allowed", "Allow: GET, HEAD\r\n", false);
	ctl_request_start(&req, "stats");
	ctl_request_add(&req, "format", "prometheus");
	ctl_request_end(&req);
	tk.quiet_ok = true;
	tk.timeout_ms = CQCTL_HTTP_STATS_MS;
	tk.on_data = cqctl_http_data;
	tk.arg = &text;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	if (rc == CTL_EXIT_OK)
		rc = cqctl_http_answer(200, "OK", "text/plain; version=0.0.4; charset=utf-8", "",
		    text.buf ? text.buf : "", text.len, head);
	else if (rc == CTL_EXIT_UNAVAILABLE || rc == CTL_EXIT_TEMPFAIL)
		rc = cqctl_http_plain(503, "Service Unavailable", "", head);
	else
		rc = cqctl_http_plain(500, "Internal Server Error", "", head);
	strbuf_free(&text);
	return rc;
}

struct cqctl_check {
	unsigned long queued, older;
	long long oldest;
	char relay[16];
	int paused;
	bool got;
};

static void
cqctl_check_data(const char *text, void *arg)
{
	struct cqctl_check *ck = arg;

	ck->got = sscanf(text, "queued=%lu older=%lu oldest=%lld relay=%15s paused=%d",
	    &ck->queued, &ck->older, &ck->oldest, ck->relay, &ck->paused) == 5;
}

static bool
cqctl_count(const char *s, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && *out >= 0;
}

/* check: a monitoring plugin (check_mailq's kind): exit 0, 1, 2 or 3
 * and one line with perfdata. */
static int
cqctl_check(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	struct cqctl_check ck = { 0 };
	long long warn = -1, crit = -1, age = -1;
	const char *state;
	int c, rc, code;
	unsigned long n;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		long long *dst = c == 'w' ? &warn : c == 'c' ? &crit : &age;

		switch (c) {
		case 'w':
		case 'c':
		case 'A':
			if (!cqctl_count(optarg, dst)) {
				printf("CLIENTQ UNKNOWN - --%s wants a number, not '%s'\n",
				    c == 'w' ? "warn" : c == 'c' ? "crit" : "age", optarg);
				return PLUGIN_UNKNOWN;
			}
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			printf("CLIENTQ UNKNOWN - usage: %s %s\n", cqctl_progname, self->synopsis);
			return PLUGIN_UNKNOWN;
		}
	}
	if (warn < 0 || crit < 0 || warn > crit || optind != argc) {
		printf("CLIENTQ UNKNOWN - usage: %s %s (and N <= M)\n", cqctl_progname,
		    self->synopsis);
		return PLUGIN_UNKNOWN;
	}
	ctl_request_start(&req, "check");
	if (age >= 0) {
		char a[32];

		snprintf(a, sizeof a, "%lld", age);
		ctl_request_add(&req, "age", a);
	}
	ctl_request_end(&req);
	tk.plugin = true;
	tk.quiet_ok = true;
	tk.timeout_ms = 60000;
	tk.on_data = cqctl_check_data;
	tk.arg = &ck;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	if (rc != CTL_EXIT_OK || !ck.got) {
		printf("CLIENTQ UNKNOWN - %s\n", tk.status_text[0] ? tk.status_text :
		    "no answer from clientq-runner");
		return PLUGIN_UNKNOWN;
	}
	n = ck.older;
	code = (long long)n >= crit ? PLUGIN_CRITICAL : (long long)n >= warn ?
	    PLUGIN_WARNING : PLUGIN_OK;
	state = code == PLUGIN_CRITICAL ? "CRITICAL" : code == PLUGIN_WARNING ? "WARNING" : "OK";
	if (age >= 0)
		printf("CLIENTQ %s - %lu message%s older than %lld s (%lu queued); relay %s%s"
		    " | older=%lu;%lld;%lld;0 queued=%lu;;;0 oldest=%llds;;;0\n", state, n,
		    n == 1 ? "" : "s", age, ck.queued, ck.relay, ck.paused ? ", delivery paused" : "",
		    n, warn, crit, ck.queued, ck.oldest);
	else
		printf("CLIENTQ %s - %lu message%s queued; relay %s%s"
		    " | queued=%lu;%lld;%lld;0 oldest=%llds;;;0\n", state, n, n == 1 ? "" : "s",
		    ck.relay, ck.paused ? ", delivery paused" : "", n, warn, crit, ck.oldest);
	return code;
}

/*
 * verify ADDRESS...: the relay's answer for each address (the daemon
 * asks it; DATA is never sent).  Each "D" line is "address outcome code
 * enhanced text" and is printed as it is.  Exit: 0 every address
 * accepted, 1 one refused, else 75 one deferred (a temporary answer: try
 * again later), 69 the relay unavailable (the daemon's marker line
 * before its TRY), 2 for an address refused before anything is sent (as
 * the daemon's BAD), and as cqctl_talk says otherwise.
 */
struct cqctl_verify {
	unsigned long accepted, refused, deferred;
	bool unavailable;
};

static void
cqctl_verify_data(const char *text, void *arg)
{
	struct cqctl_verify *v = arg;
	const char *sp = strchr(text, ' ');

	if (strcmp(text, "- relay-unavailable") == 0) {
		v->unavailable = true;
		return;
	}
	if (sp != NULL) {
		if (strncmp(sp + 1, "accepted ", 9) == 0)
			v->accepted++;
		else if (strncmp(sp + 1, "refused ", 8) == 0)
			v->refused++;
		else
			v->deferred++;
	}
	printf("%s\n", text);
}

static int
cqctl_verify(int argc, char **argv, const struct cqctl_command *self)
{
	struct strbuf req = STRBUF_INIT;
	struct cqctl_talk tk = { 0 };
	struct cqctl_verify v = { 0, 0, 0, false };
	char out[VERIFY_ADDR_MAX + 1];
	struct error why;
	int c, i, rc;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		if (c == 'h')
			return cqctl_command_help(self);
		return cqctl_bad_option(self);
	}
	if (optind == argc)
		return cqctl_usage_error("verify: at least one address is needed");
	if (argc - optind > VERIFY_MAX_ADDRS) {
		fprintf(stderr, "%s: verify: at most %d addresses per request (%d given)\n",
		    cqctl_progname, VERIFY_MAX_ADDRS, argc - optind);
		return CTL_EXIT_USAGE;
	}
	ctl_request_start(&req, "verify");
	for (i = optind; i < argc; i++) {
		if (!verify_address(argv[i], out, sizeof out, &why)) {
			fprintf(stderr, "%s: verify: address %d refused: %s; nothing was sent\n",
			    cqctl_progname, i - optind + 1, why.reason);
			strbuf_free(&req);
			return CTL_EXIT_USAGE;
		}
		ctl_request_add(&req, "address", out);
	}
	ctl_request_end(&req);
	if (req.len > CTL_REQUEST_MAX) {
		fprintf(stderr, "%s: verify: the addresses make a request longer than %d octets; "
		    "ask for fewer at once\n", cqctl_progname, CTL_REQUEST_MAX - 1);
		strbuf_free(&req);
		return CTL_EXIT_FAILED;
	}
	tk.quiet_ok = false;
	tk.timeout_ms = CTL_CHILD_WAIT_MS;
	tk.on_data = cqctl_verify_data;
	tk.arg = &v;
	rc = cqctl_talk(&req, &tk);
	strbuf_free(&req);
	if (v.unavailable)
		return CTL_EXIT_UNAVAILABLE;
	if (rc != CTL_EXIT_OK)
		return rc;
	if (v.refused > 0)
		return CTL_EXIT_FAILED;
	if (v.deferred > 0)
		return CTL_EXIT_TEMPFAIL;
	return CTL_EXIT_OK;
}

/* What may hide the lines: the journal shows an ordinary user only
 * their own entries; the runner's and the MTA's are the system's. */
static void
cqctl_trace_hint(void)
{
	fprintf(stderr, "%s: trace: hint: the system journal is readable by root and the "
	    "groups adm and systemd-journal only; you see your own entries\n", cqctl_progname);
}

/*
 * trace QID: the message's lines in the logs, the client queue's and the
 * MTA's, in time order (trace.h).  Read with the caller's own rights,
 * without the daemon: the journal, or the syslog files given with
 * --log (the default where there is no journal).  Exit 0 lines found,
 * 1 none (or a log that cannot be read), 2 usage.
 */
static int
cqctl_trace(int argc, char **argv, const struct cqctl_command *self)
{
	static const char *const deflogs[] = { "/var/log/mail.log", "/var/log/maillog" };
	const char *files[16];
	struct error why;
	char when[64];
	struct trace t;
	size_t nfiles = 0, i;
	time_t now = time(NULL);
	bool none = false, unreadable = false, journal = false;
	int c, pass;

	optind = 1;
	while ((c = cqctl_getopt(argc, argv, self)) != -1) {
		switch (c) {
		case 'f':
			if (nfiles == sizeof files / sizeof files[0])
				return cqctl_usage_error("trace: at most %zu --log", nfiles);
			files[nfiles++] = optarg;
			break;
		case 'h':
			return cqctl_command_help(self);
		default:
			return cqctl_bad_option(self);
		}
	}
	if (optind + 1 != argc)
		return cqctl_usage_error("trace: one queue ID, please");
	if (!qid_valid(argv[optind]))
		return cqctl_usage_error("trace: '%s' is not a queue ID", argv[optind]);
	trace_init(&t, argv[optind]);
	if (nfiles == 0) {
		journal = trace_read_journal(&t, &none, &why);
		if (!journal && !none) {
			fprintf(stderr, "%s: %s\n", cqctl_progname, why.reason);
			trace_free(&t);
			return CTL_EXIT_FAILED;
		}
		/* No journal here: the syslog file, where one is. */
		for (i = 0; !journal && i < sizeof deflogs / sizeof deflogs[0]; i++)
			if (access(deflogs[i], F_OK) == 0) {
				files[nfiles++] = deflogs[i];
				break;
			}
		if (!journal && nfiles == 0) {
			fprintf(stderr, "%s: trace: %s, and no %s or %s: name the mail log "
			    "with --log\n", cqctl_progname, why.reason, deflogs[0], deflogs[1]);
			if (geteuid() != 0)
				cqctl_trace_hint();
			trace_free(&t);
			return CTL_EXIT_FAILED;
		}
	}
	for (pass = 1; pass <= 2; pass++)
		for (i = 0; i < nfiles; i++)
			if (!trace_read_file(&t, files[i], (unsigned)i, pass, now, &why)) {
				if (why.errnum == EACCES) {
					unreadable = true;
					if (pass == 1)
						fprintf(stderr, "%s: trace: %s (mail logs are read by "
						    "root and group adm)\n", cqctl_progname, why.reason);
					continue;
				}
				fprintf(stderr, "%s: trace: %s\n", cqctl_progname, why.reason);
				trace_free(&t);
				return CTL_EXIT_FAILED;
			}
	trace_sort(&t);
	for (i = 0; i < t.n; i++) {
		trace_format_time(t.lines[i].usec, t.lines[i].fine, when, sizeof when);
		printf("%s %s: %s\n", when, t.lines[i].tag, t.lines[i].text);
	}
	if (t.dropped > 0)
		fprintf(stderr, "%s: trace: %zu more lines left out\n", cqctl_progname, t.dropped);
	if (t.n_client == 0)
		fprintf(stderr, "%s: trace: no log lines for %s\n", cqctl_progname, t.qid);
	else if (t.n_mta_ids == 0)
		fprintf(stderr, "%s: trace: no MTA queue ID for %s in its lines (not "
		    "delivered yet, or the relay's reply names none)\n", cqctl_progname, t.qid);
	else if (t.n_mta == 0)
		fprintf(stderr, "%s: trace: no lines of the MTA for its queue ID %s\n",
		    cqctl_progname, t.mta_ids[0]);
	if ((t.n_client == 0 || (t.n_mta_ids > 0 && t.n_mta == 0)) && geteuid() != 0 &&
	    (journal || none))
		cqctl_trace_hint();
	i = t.n_client;
	if ((i == 0 || unreadable) && geteuid() != 0) {
		/* The logs hide it from an ordinary user: what the daemon
		 * itself knows of their own message instead (show: queued,
		 * or among the last to leave, with the relay's queue ID). */
		struct strbuf req = STRBUF_INIT;
		struct cqctl_talk tk = { 0 };

		fprintf(stderr, "%s: trace: what clientq-runner knows of %s:\n", cqctl_progname,
		    t.qid);
		fflush(stderr);
		ctl_request_start(&req, "show");
		ctl_request_add(&req, "id", t.qid);
		ctl_request_end(&req);
		tk.quiet_ok = true;
		tk.timeout_ms = CTL_CHILD_WAIT_MS;
		pass = cqctl_talk(&req, &tk);
		strbuf_free(&req);
		trace_free(&t);
		return pass;
	}
	trace_free(&t);
	if (fflush(stdout) != 0 || ferror(stdout))
		return CTL_EXIT_FAILED;
	return i > 0 && !unreadable ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

static const struct option cqctl_opts_none[] = { CTL_OPT_HELP, CTL_OPT_END };
static const struct option cqctl_opts_flush[] = {
	CQCTL_SEL_OPTS,
	{ "wait", no_argument, NULL, 'w' },
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_list[] = {
	{ "all", no_argument, NULL, 'a' },
	{ "json", no_argument, NULL, 'j' },
	{ "json-array", no_argument, NULL, 'J' },
	{ "offline", no_argument, NULL, 'o' },
	{ "recent", no_argument, NULL, 'E' },
	CQCTL_SEL_OPTS,
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_show[] = {
	CQCTL_SEL_OPTS,
	{ "all", no_argument, NULL, 'a' },
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_stats[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "prometheus", no_argument, NULL, 'p' },
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_check[] = {
	{ "warn", required_argument, NULL, 'w' },
	{ "crit", required_argument, NULL, 'c' },
	{ "age", required_argument, NULL, 'A' },
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_trace[] = {
	{ "log", required_argument, NULL, 'f' },
	{ "file", required_argument, NULL, 'f' },	/* the same, as first named */
	CTL_OPT_HELP, CTL_OPT_END,
};
#define CQCTL_ACT_OPTS \
	CQCTL_SEL_OPTS, \
	{ "all", no_argument, NULL, 'a' }, \
	{ "dry-run", no_argument, NULL, 'n' }, \
	{ "yes", no_argument, NULL, 'y' }
static const struct option cqctl_opts_hold[] = {
	CQCTL_ACT_OPTS,
	{ "comment", required_argument, NULL, 'c' },
	CTL_OPT_HELP, CTL_OPT_END,
};
static const struct option cqctl_opts_act[] = {
	CQCTL_ACT_OPTS,
	CTL_OPT_HELP, CTL_OPT_END,
};

static const struct cqctl_command cqctl_commands[] = {
	{ "flush", "flush [QID... | SELECTORS] [--wait]",
	  "make messages due now and let the relay be tried at once (all of them,\n"
	  "\t\tor those named or matching); --wait: report each one's outcome\n"
	  "\t\tand return when all were tried (exit 0, or 75 if some were\n"
	  "\t\tdeferred).  Anyone; one flush per 10 s for users other than\n"
	  "\t\troot and the runner's user, who name or wait for their own messages",
	  cqctl_opts_flush, cqctl_flush },
	{ "list", "list [--all] [SELECTORS] [--json | --json-array] | list --recent [--json] | "
	  "list --offline [-C submit.cf | -q DIR] [--json | --json-array]",
	  "list the client queue as `mailq -Ac` does: your own messages (root and\n"
	  "\t\tthe runner's user: all of them); --offline reads the queue\n"
	  "\t\tdirectory directly (root or group smmsp) without the daemon;\n"
	  "\t\t--json: JSON Lines as `postqueue -j` writes them, held messages\n"
	  "\t\tincluded; --json-array: the old JSON array (deprecated: goes in\n"
	  "\t\tthe next release); --recent: the last 1024 that left the queue\n"
	  "\t\t(delivered, bounced, removed), yours, with the relay's queue IDs",
	  cqctl_opts_list, cqctl_list },
	{ "show", "show QID | show {SELECTORS | --all}",
	  "one message: envelope, recipients, tries, last status, next try;\n"
	  "\t\twith selectors, each message they pick",
	  cqctl_opts_show, cqctl_show },
	{ "trace", "trace QID [--log FILE]...",
	  "the message's log lines in time order: the client queue's and the\n"
	  "\t\tMTA's (for the queue ID it gave the message), from the journal,\n"
	  "\t\tor from syslog files (--log, repeatable; without a journal\n"
	  "\t\t/var/log/mail.log).  Reads the logs with your own rights (the\n"
	  "\t\tsystem's: root, group adm or systemd-journal); no daemon needed.\n"
	  "\t\tExit 0 lines found, 1 none",
	  cqctl_opts_trace, cqctl_trace },
	{ "stats", "stats [--json | --prometheus]",
	  "counts, counters since the start, relay state, oldest message, latency\n"
	  "\t\thistogram (--prometheus: text format for node_exporter's textfile\n"
	  "\t\tcollector)", cqctl_opts_stats, cqctl_stats },
	{ "metrics-http", "metrics-http",
	  "answer one HTTP request on standard input and output with stats\n"
	  "\t\t--prometheus (GET /metrics): the scrape endpoint that\n"
	  "\t\tsendmail-clientq-metrics.socket runs for each connection",
	  cqctl_opts_none, cqctl_metrics_http },
	{ "status", "status",
	  "one line: running, paused, reloading or stopping; queue and relay",
	  cqctl_opts_none, cqctl_no_args },
	{ "check", "check --warn N --crit M [--age SECONDS]",
	  "monitoring plugin: WARNING at N queued messages (older than SECONDS),\n"
	  "\t\tCRITICAL at M; exit 0, 1, 2, or 3 when the daemon cannot tell",
	  cqctl_opts_check, cqctl_check },
	{ "verify", "verify ADDRESS...",
	  "ask the relay whether it would take mail from you for each address\n"
	  "\t\t(at most 100), as delivery would send it; no message is sent:\n"
	  "\t\teach address, accepted, refused or deferred, and the relay's reply.\n"
	  "\t\tExit 0 all accepted, 1 one refused, 75 one deferred, 69 relay\n"
	  "\t\tunavailable.  Anyone; a few per minute for users other than root\n"
	  "\t\tand the runner's user",
	  cqctl_opts_none, cqctl_verify },
	{ "pause", "pause",
	  "stop starting deliveries (the queue is still watched); root and smmsp",
	  cqctl_opts_none, cqctl_no_args },
	{ "resume", "resume", "deliver again after pause; root and smmsp",
	  cqctl_opts_none, cqctl_no_args },
	{ "reload", "reload", "re-read submit.cf, as SIGHUP; root and smmsp",
	  cqctl_opts_none, cqctl_no_args },
	{ "hold", "hold {QID... | SELECTORS | --all} [--comment TEXT] [--dry-run] [--yes]",
	  "set messages aside (hf, sendmail's quarantine).  Anyone: their own\n"
	  "\t\tmessages; root and the runner's user: any",
	  cqctl_opts_hold, cqctl_act },
	{ "release", "release {QID... | SELECTORS | --all} [--dry-run] [--yes]",
	  "queue held messages again.  Anyone: their own; root and the runner's\n"
	  "\t\tuser: any", cqctl_opts_act, cqctl_act },
	{ "remove", "remove {QID... | SELECTORS | --all} [--dry-run] [--yes]",
	  "delete messages, each logged with who asked.  Anyone: their own;\n"
	  "\t\troot and the runner's user: any", cqctl_opts_act, cqctl_act },
	{ "bounce", "bounce {QID... | SELECTORS | --all} [--dry-run] [--yes]",
	  "return messages to their senders now, with the notification sendmail\n"
	  "\t\tsends for an expired message (status 5.4.7).  Anyone: their own;\n"
	  "\t\troot and the runner's user: any", cqctl_opts_act, cqctl_act },
	{ "requeue", "requeue {QID... | SELECTORS | --all} [--dry-run] [--yes]",
	  "forget the backoff: tries reset, due now, the relay tried at once;\n"
	  "\t\troot and smmsp", cqctl_opts_act, cqctl_act },
};

#define CTL_NCOMMANDS (sizeof cqctl_commands / sizeof cqctl_commands[0])

static void
cqctl_usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: %s [--socket PATH] COMMAND [ARGS]\n       %s --help | --version\n\ncommands:\n",
	    cqctl_progname, cqctl_progname);
	for (i = 0; i < CTL_NCOMMANDS; i++)
		fprintf(fp, "  %s\n\t\t%s\n", cqctl_commands[i].synopsis,
		    cqctl_commands[i].help);
	fprintf(fp, "\nexit status: 0 ok, 1 refused or failed, 2 usage, 69 daemon unavailable\n"
	    "(verify: or the relay), 75 temporary failure (check: 0 OK, 1 WARNING,\n"
	    "2 CRITICAL, 3 UNKNOWN)\n"
	    "control socket: --socket, else CLIENTQ_SOCKET in the environment, else\n"
	    "%s's daemon.control, else %s\n"
	    "default submit.cf: %s\n", CQ_DEFAULT_CONFIG, CTL_DEFAULT_SOCKET, CQ_DEFAULT_SUBMIT_CF);
}

/* --complete [COMMAND]: the words bash completion offers. */
static int
cqctl_complete(const char *command)
{
	size_t i;
	const struct option *o;

	for (i = 0; i < CTL_NCOMMANDS; i++) {
		if (command == NULL) {
			printf("%s\n", cqctl_commands[i].name);
			continue;
		}
		if (strcmp(command, cqctl_commands[i].name) != 0)
			continue;
		for (o = cqctl_commands[i].opts; o->name != NULL; o++)
			printf("--%s\n", o->name);
	}
	if (command == NULL)
		printf("--socket\n--help\n--version\n");
	return CTL_EXIT_OK;
}

static int
cqctl_list_offline(const char *cfpath, const char *qdir, enum cqctl_list_format fmt)
{
	struct submitcf *cf = NULL;
	struct error cferr;
	struct spool_policy pol;
	struct error serr;
	struct spool *sp;
	struct qlist ql;
	size_t i;

	if (qdir == NULL) {
		cf = submitcf_load(cfpath ? cfpath : CQ_DEFAULT_SUBMIT_CF, &cferr);
		if (cf == NULL || (qdir = submitcf_queue_dir(cf, &cferr)) == NULL) {
			fprintf(stderr, "%s: %s\n", cqctl_progname, cferr.reason);
			submitcf_free(cf);
			return CTL_EXIT_FAILED;
		}
	}
	spool_policy_default(&pol);
	sp = spool_open(qdir, &pol, &serr);
	if (sp == NULL) {
		fprintf(stderr, "%s: %s%s\n", cqctl_progname, serr.reason,
		    serr.errnum == EACCES ? " (the offline listing needs root or group smmsp)" : "");
		submitcf_free(cf);
		return CTL_EXIT_FAILED;
	}
	if (!qlist_gather(sp, &ql, false, NULL, NULL, &serr)) {
		fprintf(stderr, "%s: %s\n", cqctl_progname, serr.reason);
		spool_free(sp);
		submitcf_free(cf);
		return CTL_EXIT_FAILED;
	}
	/* postqueue -j lists the hold queue too; mailq -Ac does not. */
	if (fmt == CTL_LIST_JSONL && !qlist_gather_held(sp, &ql, false, NULL, NULL, &serr)) {
		fprintf(stderr, "%s: %s\n", cqctl_progname, serr.reason);
		qlist_free(&ql);
		spool_free(sp);
		submitcf_free(cf);
		return CTL_EXIT_FAILED;
	}
	/* Names that look like control files but are not usable ones are
	 * reported on stderr, so that stdout stays what mailq prints. */
	for (i = 0; i < ql.scan.nskipped; i++)
		fprintf(stderr, "%s: %s/%s: skipped: %s\n", cqctl_progname, qdir,
		    ql.scan.skipped[i].name, ql.scan.skipped[i].reason);
	if (fmt == CTL_LIST_JSONL)
		qlist_print_jsonl(&ql, sp, stdout);
	else if (fmt == CTL_LIST_ARRAY)
		qlist_print_json(&ql, sp, stdout);
	else
		qlist_print_mailq(&ql, sp, qdir, stdout);
	qlist_free(&ql);
	spool_free(sp);
	submitcf_free(cf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: error writing the listing: %s\n", cqctl_progname,
		    strerror(errno));
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}


/* clientq.conf's daemon.control, the socket the daemon was told to make
 * there; nothing else of the file matters here. */
static bool
cqctl_conf_line(void *arg, const char *key, const char *value, unsigned line, struct error *why)
{
	char **control = arg;

	(void)line;
	(void)why;
	if (strcasecmp(key, "daemon.control") == 0) {
		free(*control);
		*control = strdup(value);
	}
	return true;
}

/* The socket when neither --socket nor CLIENTQ_SOCKET names one: the
 * daemon's own setting in clientq.conf, where this user may read it (a
 * file that is missing or closed to them says nothing), else the
 * built-in path. */
static char *
cqctl_conf_socket(void)
{
	struct error err;
	char *text = NULL, *control = NULL;
	size_t len;
	bool missing = false;

	if (!kv_read(CQ_DEFAULT_CONFIG, (uid_t)-1, &text, &len, &missing, &err))
		return NULL;
	if (!kv_parse(text, len, CQ_DEFAULT_CONFIG, cqctl_conf_line, &control, &err)) {
		fprintf(stderr, "%s: %s (the control socket is looked for at %s)\n",
		    cqctl_progname, err.reason, CTL_DEFAULT_SOCKET);
		free(control);
		control = NULL;
	}
	free(text);
	return control;
}

int
main(int argc, char **argv)
{
	const char *env = getenv("CLIENTQ_SOCKET");
	char *from_conf = NULL;
	size_t i;
	int k = 1, rc;
	bool named;

	named = env != NULL && *env != '\0';
	if (named)
		cqctl_socket = env;
	while (k < argc) {
		if (strcmp(argv[k], "--socket") == 0 && k + 1 < argc) {
			cqctl_socket = argv[k + 1];
			k += 2;
		} else if (strncmp(argv[k], "--socket=", 9) == 0) {
			cqctl_socket = argv[k] + 9;
			k++;
		} else {
			break;
		}
		named = true;
	}
	if (k >= argc) {
		cqctl_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0 ||
	    strcmp(argv[k], "help") == 0) {
		cqctl_usage(stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[k], "--version") == 0) {
		printf("%s %s\n", cqctl_progname, PACKAGE_VERSION);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[k], "--complete") == 0)
		return cqctl_complete(k + 1 < argc ? argv[k + 1] : NULL);
	for (i = 0; i < CTL_NCOMMANDS; i++)
		if (strcmp(argv[k], cqctl_commands[i].name) == 0) {
			if (!named && (from_conf = cqctl_conf_socket()) != NULL)
				cqctl_socket = from_conf;
			rc = cqctl_commands[i].run(argc - k, argv + k, &cqctl_commands[i]);
			free(from_conf);
			return rc;
		}
	return cqctl_usage_error("unknown command '%s'", argv[k]);
}
