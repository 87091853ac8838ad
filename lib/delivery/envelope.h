/*
 * envelope: the SMTP envelope sendmail's runner sends for a queue file.
 *
 * Contract: pure functions of the envelope model, the relay's extensions
 * and $j; the compatibility suite compares their output with what
 * `sendmail -Ac -q` sends.
 * - MAIL From:<sender> with SIZE=, SMTPUTF8, BODY=, ENVID=, RET=, AUTH=,
 *   in that order, each only when sendmail sends it (see envelope.c);
 *   the sender qualified with @$j, or <> for a DSN (F flag r).
 * - RCPT To:<addr> with NOTIFY= (DSN offered, and the R line has both N and
 *   P) and ORCPT= (DSN offered and a Q line).
 * - Recipients go in transactions of at most ENVELOPE_MAX_RCPT, taken in
 *   queue-file order, each sent in reverse (sendmail builds its recipient
 *   chain by prepending).
 */
#ifndef CQ_ENVELOPE_H
#define CQ_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "queue/qf.h"
#include "delivery/render.h"
#include "util/strbuf.h"

/* The relay mailer's 'm' flag: at most 100 recipients per transaction
 * (sendmail's DEFAULT_MAX_RCPT). */
#define ENVELOPE_MAX_RCPT 100

/* envelope_mail: the MAIL command (no CRLF).  ext is enum smtp_ext; o
 * gives $j and class w; masquerade (FEATURE(masquerade_envelope)) gives
 * the sender o->masq as header senders get it. */
void envelope_mail(const struct qf_envelope *env, unsigned ext,
    const struct render_opts *o, bool masquerade, long long msgsize,
    struct strbuf *out);

/* envelope_rcpt: the RCPT command for one recipient.  o gives the
 * domain for unqualified and local-host recipients (ruleset 0 resolves
 * both to "@$j", or "@$M" with masquerade_envelope: pass that as
 * o->domain) and is_local for class w. */
void envelope_rcpt(const struct qf_rcpt *r, unsigned ext,
    const struct render_opts *o, struct strbuf *out);

/* envelope_batches: fill order[] (env->nrcpts entries) with recipient
 * indexes in sending order and starts[] with the first position of each
 * transaction; returns the number of transactions. */
size_t envelope_batches(const struct qf_envelope *env, size_t *order,
    size_t *starts);

#endif
