/*
 * xtext: the RFC 3461 section 4 encoding used by ENVID=, ORCPT= and AUTH=.
 *
 * A queue file stores these values already encoded; sendmail refuses an
 * AUTH value that is not valid xtext, and clientq-runner refuses bad ENVID
 * and ORCPT values as well, because they go on the wire verbatim.
 */
#ifndef CQ_XTEXT_H
#define CQ_XTEXT_H

#include <stdbool.h>

/* xtext_valid: every character is '!'..'~' except '=', and every '+' is
 * followed by two hex digits (sendmail's xtextok()). */
bool xtext_valid(const char *s);

/* xtext_decode: append s with every "+XX" replaced by its octet (as
 * sendmail's xuntextify(), for the DSN's Original-Envelope-Id and
 * Original-Recipient); a '+' without two hex digits is kept as it is. */
struct strbuf;
void xtext_decode(const char *s, struct strbuf *out);

#endif
