#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "delivery/envelope.h"
#include "smtp/smtp.h"
#include "util/xalloc.h"

static struct qf_envelope *
env_of(const char *qf)
{
	struct qf_envelope *env;
	struct error err;

	cr_assert_eq(qf_parse(qf, strlen(qf), &env, &err), QF_OK, "%s", err.reason);
	return env;
}

static const unsigned ALL = SMTP_EXT_PIPELINING | SMTP_EXT_SIZE | SMTP_EXT_8BITMIME |
    SMTP_EXT_DSN | SMTP_EXT_SMTPUTF8 | SMTP_EXT_ENHANCED | SMTP_EXT_AUTH;

static void
expect_mail(const char *qf, unsigned ext, long long size, const char *want)
{
	struct qf_envelope *env = env_of(qf);
	struct strbuf out = STRBUF_INIT;

	struct render_opts o = { "mDFMuXa8k", 2040, "host.test", NULL, NULL, NULL, NULL, NULL };

	envelope_mail(env, ext, &o, false, size, &out);
	cr_expect_str_eq(strbuf_str(&out), want);
	strbuf_free(&out);
	qf_free(env);
}

Test(envelope, mail_parameters_as_sendmail_sends_them)
{
	static const char dsn[] = "V8\nT1\nB8BITMIME\nFdn8\nSsender@example.test\nZenvid+2B1\nAsender@example.test\nRPFD:a@b\n.\n";

	expect_mail(dsn, ALL, 491,
	    "MAIL From:<sender@example.test> SIZE=491 BODY=8BITMIME ENVID=envid+2B1 RET=HDRS AUTH=sender@example.test");
	expect_mail(dsn, 0, 491, "MAIL From:<sender@example.test>");
	expect_mail(dsn, SMTP_EXT_SIZE | SMTP_EXT_AUTH, 0, "MAIL From:<sender@example.test> AUTH=sender@example.test");
	expect_mail("V8\nT1\nFd\nSroot\nRPFD:a@b\n.\n", ALL, 5, "MAIL From:<root@host.test> SIZE=5 RET=FULL");
	expect_mail("V8\nT1\nFr\nSMAILER-DAEMON\nRPFD:a@b\n.\n", ALL, 5, "MAIL From:<> SIZE=5");
	expect_mail("V8\nT1\nFe\nSroot\nRPFD:a@b\n.\n", ALL, 5, "MAIL From:<root@host.test> SIZE=5 SMTPUTF8");
}

static void
expect_rcpt(const char *rline, unsigned ext, const char *want)
{
	char *qf = xasprintf("V8\nT1\nSroot\n%s\n.\n", rline);
	struct qf_envelope *env = env_of(qf);
	struct strbuf out = STRBUF_INIT;

	struct render_opts o = { "mDFMuXa8k", 2040, "host.test", NULL, NULL, NULL, NULL, NULL };

	envelope_rcpt(&env->rcpts[0], ext, &o, &out);
	cr_expect_str_eq(strbuf_str(&out), want, "%s", rline);
	strbuf_free(&out);
	qf_free(env);
	free(qf);
}

Test(envelope, rcpt_parameters)
{
	expect_rcpt("RPFD:alice@example.test", ALL, "RCPT To:<alice@example.test>");
	expect_rcpt("RPNSF:dave", ALL, "RCPT To:<dave@host.test> NOTIFY=SUCCESS,FAILURE");
	expect_rcpt("RPN:x@y", ALL, "RCPT To:<x@y> NOTIFY=NEVER");
	expect_rcpt("RNS:x@y", ALL, "RCPT To:<x@y>");	/* not primary */
	expect_rcpt("Qrfc822;orig@example.test\nRPNSD:r@e", ALL,
	    "RCPT To:<r@e> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig@example.test");
	expect_rcpt("Qrfc822;orig@example.test\nRPNSD:r@e", ALL & ~SMTP_EXT_DSN, "RCPT To:<r@e>");
}

Test(envelope, batches_of_100_each_reversed)
{
	struct strbuf qf = STRBUF_INIT;
	struct qf_envelope *env;
	size_t order[250], starts[4], n, i;

	strbuf_addstr(&qf, "V8\nT1\nSroot\n");
	for (i = 0; i < 250; i++)
		strbuf_addf(&qf, "RPFD:u%zu@x\n", i);
	strbuf_addstr(&qf, ".\n");
	env = env_of(qf.buf);
	n = envelope_batches(env, order, starts);
	cr_assert_eq(n, 3);
	cr_assert_eq(starts[0], 0);
	cr_assert_eq(starts[1], 100);
	cr_assert_eq(starts[2], 200);
	cr_assert_eq(order[0], 99);
	cr_assert_eq(order[99], 0);
	cr_assert_eq(order[100], 199);
	cr_assert_eq(order[200], 249);
	cr_assert_eq(order[249], 200);
	qf_free(env);
	strbuf_free(&qf);
}

Test(envelope, masquerade_envelope)
{
	struct qf_envelope *env = env_of("V8\nT1\nSroot\nRPFD:a@b\n.\n");
	struct render_opts o = { "mDFMuXa8k", 2040, "host.test", NULL, NULL, "masq.example", NULL, NULL };
	struct strbuf out = STRBUF_INIT;

	envelope_mail(env, 0, &o, true, 5, &out);
	cr_assert_str_eq(out.buf, "MAIL From:<root@masq.example>");
	strbuf_reset(&out);
	envelope_mail(env, 0, &o, false, 5, &out);
	cr_assert_str_eq(out.buf, "MAIL From:<root@host.test>", "no masquerade_envelope: $j");
	strbuf_free(&out);
	qf_free(env);
}
