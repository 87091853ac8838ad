/*
 * libFuzzer target for the submit.cf reader (lib/config/submitcf.c), through
 * submitcf_parse: the bytes as a file's contents.  Every input must load or
 * be refused without a crash, a leak or undefined behaviour, and everything
 * the runner asks of a loaded file must answer the same way: options and
 * their -O overrides, macros, the queue directory check, the relay
 * mailer's F=, L=, T= and A= (its port), classes, a ruleset's calls, and
 * every Timeout the runner reads, for every precedence class.  (RunAsUser
 * is left out: it is a user database lookup.)
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/submitcf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const classes[] = { "normal", "urgent", "non-urgent" };
	static const char *const kinds[] = { "queuewarn", "queuereturn" };
	struct error err;
	struct submitcf_mailer m;
	struct submitcf *cf;
	const char *v;
	long long secs;
	size_t i, k;

	cf = submitcf_parse((const char *)data, size, "fuzz.cf", &err);
	if (cf == NULL) {
		if (err.reason[0] == '\0')
			abort();	/* refused without saying why */
		return 0;
	}
	(void)submitcf_option(cf, "QueueDirectory");
	(void)submitcf_option(cf, "DoubleBounceAddress");
	(void)submitcf_macro(cf, "j");
	(void)submitcf_macro(cf, "{MTAHost}");
	(void)submitcf_macro(cf, "M");
	(void)submitcf_queue_dir(cf, &err);
	if (submitcf_mailer(cf, "relay", &m, &err) &&
	    (m.port < 0 || m.port > 65535 || m.linelimit < 0))
		abort();	/* a port or a line limit out of range accepted */
	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		for (k = 0; k < sizeof classes / sizeof classes[0]; k++)
			if (submitcf_timeout(cf, kinds[i], classes[k], &secs, &err) &&
			    secs < 0)
				abort();
	(void)submitcf_class_has(cf, "w", "host.test");
	(void)submitcf_class_has(cf, "{VirtHost}", "a.example");
	(void)submitcf_ruleset_calls(cf, "MasqEnv", "$>MasqHdr");
	/* An override of every option the file has, from the file's own
	 * values: the same parser's second path. */
	if ((v = submitcf_option(cf, "Timeout.queuewarn")) != NULL) {
		char *arg = malloc(strlen(v) + sizeof "Timeout.queuewarn=");

		if (arg == NULL)
			abort();
		strcpy(arg, "Timeout.queuewarn=");
		strcat(arg, v);
		(void)submitcf_set_option(cf, arg, &err);
		(void)submitcf_timeout(cf, "queuewarn", "normal", &secs, &err);
		free(arg);
	}
	submitcf_free(cf);
	return 0;
}
