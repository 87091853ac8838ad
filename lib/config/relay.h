/*
 * relay: where the runner meets the relay and what it says its own name
 * is, decided from submit.cf once, for delivery and for --check's relay
 * check alike: the check must find the relay as delivery will reach it,
 * so neither works it out on its own.
 *
 * Contract
 * --------
 * - relay_local: this host's names, as sendmail fills $j and class w at
 *   start-up: gethostname(), its canonical name (the resolver's, so this
 *   may wait on DNS), and the name EHLO says, submit.cf's $j when it is
 *   set (and not a macro still to expand), else the canonical name.
 * - relay_resolve: the relay as D{MTAHost} names it (submitcf_relay;
 *   FEATURE(msp)'s "[localhost]" when unset), resolved by address records
 *   only (the MSP does no MX lookup for a bracketed name, which is what
 *   FEATURE(msp) writes), to its first address.  The lookup may wait on
 *   DNS.  False and why ("relay mailhub.example: cannot resolve it: ...")
 *   when there is no address.
 * - relay_security: the smtp_security of a session with that relay, with
 *   the TLS and AUTH clients the caller made (conf_secure): the
 *   certificate must name the relay as submit.cf does, without the
 *   brackets (unless tls.name says otherwise), and the log lines call it
 *   by its name in submit.cf.  It points into the relay_target, which
 *   must outlive it.
 */
#ifndef CQ_RELAY_H
#define CQ_RELAY_H

#include <stdbool.h>

#include "config/submitcf.h"
#include "smtp/smtp.h"
#include "util/error.h"

struct relay_local {
	char hostname[256];	/* gethostname(), "localhost" without one */
	char canon[256];	/* its canonical name, else hostname */
	char domain[256];	/* $j, else canon: what EHLO says */
};

void relay_local(const struct submitcf *cf, struct relay_local *l);

struct relay_target {
	char name[256];		/* as named: "[127.0.0.1]", "mailhub.example" */
	char host[256];		/* the same without brackets: what is
				 * resolved, and the certificate's name */
	char ip[64];		/* its first address, numeric */
};

bool relay_resolve(const struct submitcf *cf, struct relay_target *t, struct error *err);

void relay_security(const struct relay_target *t, struct tls_client *tls,
    const struct auth_client *auth, struct smtp_security *sec);

#endif
