/* The installation checks: their pure parts (what a cron line, a
 * process, a queue entry, an rc.conf line is), then check_run on a small
 * installation in a temporary root. */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "check/check.h"
#include "config/submitcf.h"
#include "testutil.h"
#include "util/monotime.h"
#include "util/xalloc.h"

Test(check, cron_lines)
{
	static const struct {
		const char *line;
		enum check_cron_kind kind;
	} cases[] = {
		/* Debian's generated line */
		{ "*/20 *    *    *    *\t\tsmmsp\ttest -x /etc/init.d/sendmail && "
		  "test -x /usr/share/sendmail/sendmail && test -x /usr/libexec/sendmail/sendmail && "
		  "/usr/share/sendmail/sendmail cron-msp", CHECK_CRON_DEBIAN },
		/* OpenBSD's root crontab, before sendmail left */
		{ "*/30\t*\t*\t*\t*\t/usr/sbin/sendmail -L sm-msp-queue -Ac -q", CHECK_CRON_SENDMAIL },
		{ "0 * * * * smmsp /usr/lib/sendmail -Ac -q30m", CHECK_CRON_SENDMAIL },
		{ "@hourly sendmail-msp -qf -Ac", CHECK_CRON_SENDMAIL },
		{ "*/5 * * * * root (cd /tmp; /usr/sbin/sendmail -Ac -qf)", CHECK_CRON_SENDMAIL },
		{ "#*/20 * * * * smmsp /usr/share/sendmail/sendmail cron-msp", CHECK_CRON_NONE },
		{ "   # a comment with sendmail -Ac -q", CHECK_CRON_NONE },
		{ "MAILTO=root", CHECK_CRON_NONE },
		{ "PATH=/usr/sbin -Ac -q sendmail", CHECK_CRON_NONE },
		{ "", CHECK_CRON_NONE },
		/* the MTA's queue, not the client queue */
		{ "*/10 * * * * root /usr/sbin/sendmail -q", CHECK_CRON_NONE },
		{ "*/10 * * * * root /usr/share/sendmail/sendmail cron-mta", CHECK_CRON_NONE },
		/* -Ac before the sendmail word belongs to something else */
		{ "0 0 * * * root tar -Ac -q sendmail", CHECK_CRON_NONE },
		{ "0 0 * * * root mail -s report root </var/log/sendmail.st", CHECK_CRON_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_expect_eq(check_cron_line(cases[i].line), cases[i].kind, "%s", cases[i].line);
}

static bool
cmdline(const char *s, size_t len, const char *qdir)
{
	return check_cmdline_runner(s, len, qdir);
}

#define CMD(lit) lit, sizeof(lit) - 1

Test(check, process_command_lines)
{
	const char *q = "/var/spool/mqueue-client";

	cr_expect(cmdline(CMD("/usr/sbin/sendmail\0-L\0sm-msp-queue\0-Ac\0-q30m\0"), q));
	cr_expect(cmdline(CMD("sendmail-msp\0-Ac\0-L\0sm-msp\0-q20m\0"), NULL));
	/* sendmail's own title, as /proc/PID/cmdline shows it on Linux */
	cr_expect(cmdline(CMD("sendmail: Queue runner@00:30:00 for /var/spool/mqueue-client\0\0\0\0"), q));
	cr_expect(cmdline(CMD("sendmail: Queue runner@00:20:00 for /var/spool/mqueue-client"), q));
	/* the MTA's runner, another queue */
	cr_expect_not(cmdline(CMD("sendmail: Queue runner@00:10:00 for /var/spool/mqueue\0"), q));
	cr_expect_not(cmdline(CMD("sendmail: Queue runner@00:10:00 for /var/spool/mqueue-client-old"), q));
	cr_expect_not(cmdline(CMD("sendmail: Queue runner@00:30:00 for /var/spool/mqueue-client"), NULL));
	cr_expect_not(cmdline(CMD("/usr/sbin/sendmail\0-bd\0-q30m\0"), q));
	cr_expect_not(cmdline(CMD("sendmail: MTA: accepting connections\0"), q));
	cr_expect_not(cmdline(CMD("vi\0sendmail\0-Ac\0"), q));
	cr_expect_not(cmdline(CMD("clientq-runner\0-C\0/etc/mail/submit.cf\0"), q));
	cr_expect_not(cmdline("", 0, q));
}

Test(check, queue_entries)
{
	cr_expect_eq(check_queue_entry("qf6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("df6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("tf6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("Tf6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("xf6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("hf6AOMKtnl013635"), CHECK_ENTRY_QUEUE);
	cr_expect_eq(check_queue_entry("Qf6AOMKtnl013635"), CHECK_ENTRY_LOST);
	cr_expect_eq(check_queue_entry("qf"), CHECK_ENTRY_SUBDIR);
	cr_expect_eq(check_queue_entry("xf"), CHECK_ENTRY_SUBDIR);
	cr_expect_eq(check_queue_entry("sm-client.pid"), CHECK_ENTRY_SENDMAIL);
	cr_expect_eq(check_queue_entry("sm-client.st"), CHECK_ENTRY_SENDMAIL);
	cr_expect_eq(check_queue_entry("qfnot-an-id"), CHECK_ENTRY_STRAY);
	cr_expect_eq(check_queue_entry("Xf6AOMKtnl013635"), CHECK_ENTRY_STRAY);
	cr_expect_eq(check_queue_entry("core"), CHECK_ENTRY_STRAY);
	cr_expect_eq(check_queue_entry(".hidden"), CHECK_ENTRY_STRAY);
}

Test(check, shell_assignments)
{
	struct check_vars *v = check_vars_new();
	const char *origin;

	check_vars_set(v, "DAEMON_MODE", "Daemon", "default");
	cr_assert(check_vars_line(v, "MSP_MODE=\"Cron\";", "f:1"));
	cr_assert(check_vars_line(v, "QUEUE_MODE=\"${DAEMON_MODE}\";", "f:2"));
	cr_assert(check_vars_line(v, "\tsendmail_msp_queue_enable=\"YES\"\t# Dequeue stuck mail", "f:3"));
	cr_assert(check_vars_line(v, "smmsp=YES", "f:4"));
	cr_assert(check_vars_line(v, "A='${DAEMON_MODE} $x'", "f:5"));
	cr_assert(check_vars_line(v, "B=$DAEMON_MODE-x;", "f:6"));
	cr_assert(check_vars_line(v, "export C=1", "f:7"));
	cr_assert(check_vars_line(v, "D=", "f:8"));
	cr_assert_not(check_vars_line(v, "# E=1", "f:9"));
	cr_assert_not(check_vars_line(v, "if [ x ]; then", "f:10"));
	cr_assert_not(check_vars_line(v, "=x", "f:11"));
	cr_assert_str_eq(check_vars_get(v, "MSP_MODE", &origin), "Cron");
	cr_assert_str_eq(origin, "f:1");
	cr_assert_str_eq(check_vars_get(v, "QUEUE_MODE", NULL), "Daemon");
	cr_assert_str_eq(check_vars_get(v, "sendmail_msp_queue_enable", NULL), "YES");
	cr_assert_str_eq(check_vars_get(v, "smmsp", NULL), "YES");
	cr_assert_str_eq(check_vars_get(v, "A", NULL), "${DAEMON_MODE} $x", "no expansion in ''");
	cr_assert_str_eq(check_vars_get(v, "B", NULL), "Daemon-x");
	cr_assert_str_eq(check_vars_get(v, "C", NULL), "1");
	cr_assert_str_eq(check_vars_get(v, "D", NULL), "");
	cr_assert_null(check_vars_get(v, "E", NULL));
	cr_assert(check_vars_line(v, "MSP_MODE=None", "f:12"));
	cr_assert_str_eq(check_vars_get(v, "MSP_MODE", &origin), "None", "the last one wins");
	cr_assert_str_eq(origin, "f:12");
	check_vars_free(v);

	cr_expect(check_yesno("YES") && check_yesno("yes") && check_yesno("True") &&
	    check_yesno("on") && check_yesno("1"));
	cr_expect(!check_yesno("NO") && !check_yesno("NONE") && !check_yesno("") &&
	    !check_yesno(NULL) && !check_yesno("2"));
}

/* ------------------------------------------------------- a whole tree */

static char *root;
static char *qdir;
static uid_t msp_uid;

static void
mkdirs(const char *rel)
{
	char *p = xasprintf("%s%s", root, rel);

	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = '\0';
		(void)mkdir(p, 0755);
		*s = '/';
	}
	(void)mkdir(p, 0755);
	free(p);
}

static void
put(const char *rel, const char *text, mode_t mode)
{
	char *p = xasprintf("%s%s", root, rel), *dir = xstrdup(p), *name = strrchr(dir, '/');

	*name++ = '\0';
	tu_write(dir, name, text, strlen(text), mode);
	free(dir);
	free(p);
}

/* An MSP installation under root: its own passwd and group, where smmsp
 * is whoever runs the test (or, for root, a uid the queue is given), so
 * that the queue is owned right without privileges. */
static void
tree_setup(void)
{
	char text[512];

	root = tu_tempdir();
	msp_uid = getuid() != 0 ? getuid() : 54321;
	snprintf(text, sizeof text, "root:x:0:0:root:/root:/bin/sh\nsmmsp:x:%lu:%lu::/:/bin/false\n",
	    (unsigned long)msp_uid, (unsigned long)getgid());
	mkdirs("/etc/mail");
	put("/etc/passwd", text, 0644);
	snprintf(text, sizeof text, "root:x:0:\nsmmsp:x:%lu:\n", (unsigned long)getgid());
	put("/etc/group", text, 0644);
	put("/etc/mail/submit.cf",
	    "V10/Berkeley\nO QueueDirectory=/var/spool/clientmqueue\nO RunAsUser=smmsp\n"
	    "D{MTAHost}[127.0.0.1]\nMrelay, P=[IPC], F=mDFMuXa8k, A=TCP $h 9\n", 0644);
	mkdirs("/var/spool/clientmqueue");
	qdir = xasprintf("%s/var/spool/clientmqueue", root);
	cr_assert_eq(chmod(qdir, 0770), 0);
	if (getuid() == 0)
		cr_assert_eq(chown(qdir, msp_uid, getgid()), 0);
}

static void
tree_teardown(void)
{
	tu_rmtree(root);
	free(root);
	free(qdir);
}

static const struct check_result *
find(const struct check_report *rep, const char *name)
{
	size_t i;

	for (i = 0; i < check_count(rep); i++)
		if (strcmp(check_get(rep, i)->check, name) == 0)
			return check_get(rep, i);
	return NULL;
}

static struct check_report *
run(bool fix, enum check_scope scope)
{
	struct check_config cfg;

	memset(&cfg, 0, sizeof cfg);
	cfg.root = root;
	cfg.fix = fix;
	cfg.scope = scope;
	cfg.relay_timeout_ms = 500;
	return check_run(&cfg);
}

Test(check, tree_mode_fix_and_queue_entries, .init = tree_setup, .fini = tree_teardown)
{
	struct check_report *rep;
	const struct check_result *r;
	const struct check_fix *f;
	struct stat before, after;
	char *qf = xasprintf("%s/qf6AOMKtnl013635", qdir);

	tu_write(qdir, "qf6AOMKtnl013635", "V8\n.\n", 5, 0660);
	tu_write(qdir, "df6AOMKtnl013635", "body\n", 5, 0660);
	tu_write(qdir, "Qf6AOMKtnl013636", "V8\n.\n", 5, 0660);
	tu_write(qdir, "notes.txt", "x", 1, 0644);
	cr_assert_eq(chmod(qdir, 0775), 0);
	cr_assert_eq(stat(qf, &before), 0);

	rep = run(false, CHECK_SCOPE_ALL);
	r = find(rep, "client-queue-mode");
	cr_assert_not_null(r);
	cr_expect_eq(r->status, CHECK_ERROR);
	cr_expect_str_eq(r->found, "0775, others have access");
	cr_expect_eq(check_fix_count(rep), 0, "nothing changed without --fix");
	r = find(rep, "client-queue-files");
	cr_expect_eq(r->status, CHECK_WARNING);
	cr_expect_str_eq(r->found, "1 other entry: notes.txt");
	r = find(rep, "client-queue-lost");
	cr_expect_eq(r->status, CHECK_WARNING);
	cr_expect_str_eq(r->found, "1 lost control file: Qf6AOMKtnl013636");
	/* owned by whoever runs the test: only root gets ok */
	cr_expect_eq(find(rep, "submit.cf")->status, getuid() == 0 ? CHECK_OK : CHECK_WARNING,
	    "%s", find(rep, "submit.cf")->found);
	cr_expect_eq(find(rep, "submit.cf-runasuser")->status, CHECK_OK, "%s",
	    find(rep, "submit.cf-runasuser")->found);
	cr_expect_eq(find(rep, "client-queue-owner")->status, CHECK_OK, "%s",
	    find(rep, "client-queue-owner")->found);
	/* no sendmail binary in the tree */
	cr_expect_eq(find(rep, "sendmail-binary")->status, CHECK_ERROR);
	/* nothing listens on port 9 */
	cr_expect_eq(find(rep, "relay")->status, CHECK_WARNING);
	cr_expect_eq(check_worst(rep), CHECK_ERROR);
	check_report_free(rep);

	rep = run(true, CHECK_SCOPE_ALL);
	cr_assert_eq(check_fix_count(rep), 1);
	f = check_fix_get(rep, 0);
	cr_expect_str_eq(f->check, "client-queue-mode");
	cr_expect_str_eq(f->change, "mode 0775 -> 0770");
	cr_expect(f->done);
	cr_expect_eq(find(rep, "client-queue-mode")->status, CHECK_OK);
	check_report_free(rep);
	cr_assert_eq(stat(qdir, &after), 0);
	cr_expect_eq(after.st_mode & 07777, 0770);
	cr_assert_eq(stat(qf, &after), 0);
	cr_expect(after.st_ino == before.st_ino && after.st_mtime == before.st_mtime &&
	    after.st_size == before.st_size, "the queue file is untouched");
	free(qf);
}

Test(check, tree_startup_scope, .init = tree_setup, .fini = tree_teardown)
{
	static const char *const startup[] = { "submit.cf", "submit.cf-queuedir",
	    "submit.cf-runasuser", "client-queue", "client-queue-owner", "client-queue-group",
	    "client-queue-mode" };
	struct check_report *rep = run(false, CHECK_SCOPE_STARTUP);
	size_t i;

	cr_assert_eq(check_count(rep), sizeof startup / sizeof startup[0]);
	for (i = 0; i < check_count(rep); i++) {
		const struct check_result *r = check_get(rep, i);

		cr_expect_str_eq(r->check, startup[i]);
		/* submit.cf belongs to whoever runs the test: a warning unless root */
		cr_expect_eq(r->status, i == 0 && getuid() != 0 ? CHECK_WARNING : CHECK_OK, "%s: %s",
		    r->check, r->found);
	}
	check_report_free(rep);
	/* RunAsUser root: the runner would read hostile files as root */
	put("/etc/mail/submit.cf", "V10/Berkeley\nO QueueDirectory=/var/spool/clientmqueue\n"
	    "O RunAsUser=root\n", 0644);
	rep = run(false, CHECK_SCOPE_STARTUP);
	cr_expect_eq(find(rep, "submit.cf-runasuser")->status, CHECK_ERROR);
	cr_expect_eq(check_worst(rep), CHECK_ERROR);
	check_report_free(rep);
}

/* The start-up check looks at the runner's own submit.cf object, -O
 * applied, not at the file again: the file on disk says RunAsUser=root
 * (an error), the object the runner loaded before it changed says
 * smmsp, and -O moved its queue elsewhere; the checks follow the object,
 * and still say what the file itself gave. */
Test(check, startup_checks_the_loaded_object, .init = tree_setup, .fini = tree_teardown)
{
	struct error err;
	struct submitcf *cf;
	struct check_config cfg;
	struct check_report *rep;
	char *path = xasprintf("%s/etc/mail/submit.cf", root);
	char *elsewhere = xasprintf("%s/var/spool/elsewhere", root);

	mkdirs("/var/spool/elsewhere");
	cr_assert_eq(chmod(elsewhere, 0770), 0);
	cf = submitcf_load(path, &err);
	cr_assert_not_null(cf, "%s", err.reason);
	cr_assert(submitcf_set_option(cf, "QueueDirectory=/var/spool/elsewhere", &err));
	cr_expect_str_eq(submitcf_file_option(cf, "QueueDirectory"), "/var/spool/clientmqueue");
	cr_expect_str_eq(submitcf_option(cf, "QueueDirectory"), "/var/spool/elsewhere");
	put("/etc/mail/submit.cf", "V10/Berkeley\nO QueueDirectory=/var/spool/clientmqueue\n"
	    "O RunAsUser=root\n", 0644);
	memset(&cfg, 0, sizeof cfg);
	cfg.root = root;
	cfg.scope = CHECK_SCOPE_STARTUP;
	cfg.loaded_cf = cf;
	rep = check_run(&cfg);
	cr_expect_eq(find(rep, "submit.cf-runasuser")->status, CHECK_OK, "%s",
	    find(rep, "submit.cf-runasuser")->found);
	cr_expect(strstr(find(rep, "client-queue")->path, "/var/spool/elsewhere") != NULL, "%s",
	    find(rep, "client-queue")->path);
	cr_expect(strstr(find(rep, "submit.cf-queuedir")->found, "/var/spool/clientmqueue") != NULL,
	    "the file's own value is still named: %s", find(rep, "submit.cf-queuedir")->found);
	check_report_free(rep);
	/* Without the object, the file is read: its RunAsUser=root is seen. */
	cfg.loaded_cf = NULL;
	rep = check_run(&cfg);
	cr_expect_eq(find(rep, "submit.cf-runasuser")->status, CHECK_ERROR);
	check_report_free(rep);
	submitcf_free(cf);
	free(elsewhere);
	free(path);
}

/* A relay that greets (a child process): one connection, a two-line
 * greeting, EHLO answered, then it reads the QUIT; each reply after
 * delay_ms. */
static pid_t
greeter(int ls, int delay_ms)
{
	pid_t pid = fork();
	char buf[64];
	int fd;

	if (pid != 0)
		return pid;
	/* The greeting, then EHLO answered and QUIT: the session the relay
	 * check holds, as delivery would up to MAIL. */
	if ((fd = accept(ls, NULL, NULL)) >= 0) {
		usleep((useconds_t)delay_ms * 1000);
		(void)!write(fd, "220-relay.test hello\r\n220 relay.test ESMTP\r\n", 44);
		/* EHLO with the name delivery says: submit.cf's $j. */
		if (read(fd, buf, sizeof buf) > 0 &&
		    strncmp(buf, "EHLO client.test\r\n", 18) == 0) {
			usleep((useconds_t)delay_ms * 1000);
			(void)!write(fd, "250 relay.test\r\n", 16);
		}
		if (read(fd, buf, sizeof buf) > 0 && strncmp(buf, "QUIT", 4) == 0)
			(void)!write(fd, "221 bye\r\n", 9);
		close(fd);
	}
	_exit(0);
}

/* A socket on 127.0.0.1 for the relay, and submit.cf naming it. */
static int
relay_listen(void)
{
	char cf[300];
	int ls, port;

	cr_assert_geq(ls = tu_listen_loopback(&port), 0);
	snprintf(cf, sizeof cf, "V10/Berkeley\nO QueueDirectory=/var/spool/clientmqueue\n"
	    "O RunAsUser=smmsp\nDjclient.test\nD{MTAHost}[127.0.0.1]\n"
	    "Mrelay, P=[IPC], F=mDFMuXa8k, A=TCP $h %d\n", port);
	put("/etc/mail/submit.cf", cf, 0644);
	return ls;
}

Test(check, tree_relay_greets, .init = tree_setup, .fini = tree_teardown)
{
	int ls = relay_listen();
	pid_t pid;
	int status;
	struct check_report *rep;
	const struct check_result *r;

	cr_assert_gt(pid = greeter(ls, 0), 0);
	rep = run(false, CHECK_SCOPE_ALL);
	cr_expect_eq(waitpid(pid, &status, 0), pid);
	close(ls);
	r = find(rep, "relay");
	cr_assert_not_null(r);
	cr_expect_eq(r->status, CHECK_OK, "%s", r->found);
	cr_expect_str_eq(r->found, "220 relay.test ESMTP");
	check_report_free(rep);
}

/* The relay check's timeout bounds the whole session, not each step: a
 * relay that takes 400 ms for each reply has not answered EHLO when
 * 600 ms are up, though no step took a second. */
Test(check, tree_relay_timeout_bounds_the_whole_session, .init = tree_setup,
    .fini = tree_teardown)
{
	int ls = relay_listen();
	struct check_config cfg;
	struct check_report *rep;
	const struct check_result *r;
	long long t0;
	pid_t pid;

	cr_assert_gt(pid = greeter(ls, 400), 0);
	memset(&cfg, 0, sizeof cfg);
	cfg.root = root;
	cfg.relay_timeout_ms = 600;
	t0 = monotime_ms();
	rep = check_run(&cfg);
	cr_expect_lt(monotime_ms() - t0, 1500);
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	close(ls);
	r = find(rep, "relay");
	cr_assert_not_null(r);
	cr_expect_eq(r->status, CHECK_WARNING, "%s", r->found);
	cr_expect_str_eq(r->found,
	    "timeout waiting for input from [127.0.0.1] during client EHLO");
	check_report_free(rep);
}
