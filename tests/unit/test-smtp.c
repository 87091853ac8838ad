#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "smtp.h"

Test(smtp, reply_lines)
{
	static const struct {
		const char *line;
		bool ok, last;
		int code;
		const char *enh, *text;
	} cases[] = {
		{ "250 2.0.0 Ok: queued as X", true, true, 250, "2.0.0", "Ok: queued as X" },
		{ "250-PIPELINING", true, false, 250, "", "PIPELINING" },
		{ "451 4.3.0 try later", true, true, 451, "4.3.0", "try later" },
		{ "550 User unknown", true, true, 550, "", "User unknown" },
		{ "550 4.1.1 class mismatch", true, true, 550, "", "4.1.1 class mismatch" },
		{ "250 2.1.5", true, true, 250, "2.1.5", "" },
		{ "250", true, true, 250, "", "" },
		{ "220 mail.example ESMTP", true, true, 220, "", "mail.example ESMTP" },
		{ "25", false, false, 0, "", "" },
		{ "abc", false, false, 0, "", "" },
		{ "650 no", false, false, 0, "", "" },
		{ "250x", false, false, 0, "", "" },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		struct smtp_reply r;
		bool last = false;

		memset(&r, 0, sizeof r);
		cr_expect_eq(smtp_parse_reply_line(cases[k].line, &last, &r), cases[k].ok,
		    "%s", cases[k].line);
		if (!cases[k].ok)
			continue;
		cr_expect_eq(last, cases[k].last, "%s", cases[k].line);
		cr_expect_eq(r.code, cases[k].code, "%s", cases[k].line);
		cr_expect_str_eq(r.enhanced, cases[k].enh, "%s", cases[k].line);
		cr_expect_str_eq(r.text, cases[k].text, "%s", cases[k].line);
	}
}

/* A scripted peer: a child process that accepts one connection and plays
 * a script: lines starting with "S:" are sent (CRLF added), "R:" reads
 * one line and checks it, "W" waits 3 s, "X" sends 5000 octets without
 * a line end. */
static int peer_port;
static pid_t peer_pid;

static void
peer(const char *const *script)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(ls, (struct sockaddr *)&sin, sizeof sin), 0);
	cr_assert_eq(listen(ls, 1), 0);
	getsockname(ls, (struct sockaddr *)&sin, &len);
	peer_port = ntohs(sin.sin_port);
	peer_pid = fork();
	cr_assert(peer_pid >= 0);
	if (peer_pid == 0) {
		int c = accept(ls, NULL, NULL);
		FILE *in = fdopen(dup(c), "r");
		char line[8192];

		for (; *script != NULL; script++) {
			const char *s = *script;

			if (s[0] == 'S') {
				dprintf(c, "%s\r\n", s + 2);
			} else if (s[0] == 'R') {
				if (fgets(line, sizeof line, in) == NULL)
					_exit(2);
				line[strcspn(line, "\r\n")] = '\0';
				if (strcmp(line, s + 2) != 0)
					_exit(3);
			} else if (s[0] == 'W') {
				sleep(3);
			} else if (s[0] == 'X') {
				char big[5000];

				memset(big, 'x', sizeof big);
				(void)!write(c, "250-", 4);
				(void)!write(c, big, sizeof big);
			}
		}
		_exit(0);
	}
	close(ls);
}

static int
peer_status(void)
{
	int st;

	waitpid(peer_pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 99;
}

static struct smtp_conn *
connect_peer(enum smtp_status *st, struct smtp_reply *reply, char *err)
{
	struct smtp_timeouts t;

	smtp_timeouts_default(&t);
	t.initial = t.helo = t.mail = t.rcpt = t.datainit = t.datafinal = 1;
	return smtp_connect("127.0.0.1", peer_port, "host.test", &t, st, reply, err, 300);
}

Test(smtp, greeting_4xx_is_a_tempfail_and_5xx_a_permfail)
{
	static const char *const s421[] = { "S:421 4.3.2 busy", NULL };
	static const char *const s554[] = { "S:554 go away", NULL };
	struct smtp_reply reply;
	enum smtp_status st;
	char err[300];

	peer(s421);
	cr_assert_null(connect_peer(&st, &reply, err));
	cr_assert_eq(st, SMTP_TEMPFAIL);
	cr_assert_str_eq(err, "421 4.3.2 busy");
	peer_status();
	peer(s554);
	cr_assert_null(connect_peer(&st, &reply, err));
	cr_assert_eq(st, SMTP_PERMFAIL);
	peer_status();
}

Test(smtp, ehlo_refused_falls_back_to_helo)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:502 no", "R:HELO host.test",
		"S:250 ok", "R:QUIT", "S:221 bye", NULL };
	struct smtp_reply reply;
	enum smtp_status st;
	struct smtp_conn *c;
	char err[300];

	peer(script);
	c = connect_peer(&st, &reply, err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(smtp_extensions(c), 0);
	smtp_close(c);
	cr_assert_eq(peer_status(), 0);
}

Test(smtp, silence_times_out)
{
	static const char *const script[] = { "W", NULL };
	struct smtp_reply reply;
	enum smtp_status st;
	char err[300];
	time_t t0 = time(NULL);

	peer(script);
	cr_assert_null(connect_peer(&st, &reply, err));
	cr_assert_eq(st, SMTP_IOERR);
	cr_assert_leq(time(NULL) - t0, 2, "Timeout.initial of 1 s was kept");
	kill(peer_pid, SIGKILL);
	peer_status();
}

Test(smtp, an_endless_reply_line_is_a_protocol_error)
{
	static const char *const script[] = { "S:220 hi", "R:EHLO host.test", "X", "W", NULL };
	struct smtp_reply reply;
	enum smtp_status st;
	char err[300];

	peer(script);
	cr_assert_null(connect_peer(&st, &reply, err));
	cr_assert_eq(st, SMTP_IOERR);
	kill(peer_pid, SIGKILL);
	peer_status();
}

Test(smtp, pipelined_transaction_with_one_recipient_refused)
{
	static const char *const script[] = {
		"S:220 hi", "R:EHLO host.test", "S:250-hi", "S:250-PIPELINING",
		"S:250-SIZE 1000", "S:250 ENHANCEDSTATUSCODES",
		"R:MAIL From:<a@b> SIZE=5", "S:250 2.1.0 ok",
		"R:RCPT To:<x@y>", "R:RCPT To:<bad@y>", "R:DATA",
		"S:250 2.1.5 ok", "S:550 5.1.1 User unknown", "S:354 go",
		"R:body", "R:.", "S:250 2.0.0 Ok: queued as Q1",
		"R:QUIT", "S:221 bye", NULL };
	const char *rcpts[] = { "RCPT To:<x@y>", "RCPT To:<bad@y>" };
	struct smtp_rcpt_result res[2];
	struct smtp_reply reply;
	enum smtp_status st;
	struct smtp_conn *c;
	size_t accepted;
	char err[300];

	peer(script);
	c = connect_peer(&st, &reply, err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(smtp_extensions(c), SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_ENHANCED);
	cr_assert_eq(smtp_size_limit(c), 1000);
	cr_assert_eq(smtp_begin(c, "MAIL From:<a@b> SIZE=5", rcpts, 2, res, &accepted, &reply), SMTP_OK);
	cr_assert_eq(accepted, 1);
	cr_assert_eq(res[0].status, SMTP_OK);
	cr_assert_eq(res[1].status, SMTP_PERMFAIL);
	cr_assert_str_eq(res[1].reply.enhanced, "5.1.1");
	cr_assert_str_eq(res[1].reply.text, "User unknown");
	cr_assert_eq(smtp_send_data(c, "body\r\n", 6), SMTP_OK);
	cr_assert_eq(smtp_end_data(c, &reply), SMTP_OK);
	cr_assert_str_eq(reply.text, "Ok: queued as Q1");
	smtp_close(c);
	cr_assert_eq(peer_status(), 0, "the peer saw exactly the script");
}
