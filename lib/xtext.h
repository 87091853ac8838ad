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

#endif
