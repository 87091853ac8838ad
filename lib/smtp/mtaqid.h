/*
 * mtaqid: the queue ID the relay gave a message, read from its reply to
 * the final ".".
 *
 * Contract
 * --------
 * - mtaqid_parse takes the text of that reply's last line after the
 *   reply code, as smtp.h's struct smtp_reply holds it in text: with the
 *   enhanced status code ("2.0.0 Ok: queued as 3F2A1B4C5D") when the
 *   relay did not offer ENHANCEDSTATUSCODES, without it ("Ok: queued as
 *   3F2A1B4C5D") when it did.  A leading enhanced status code of class
 *   2, followed by a space or by ": ", is skipped either way.
 * - It knows these forms, and nothing else (what follows the ID must be
 *   exactly what is shown; the fixed words are compared without regard
 *   to case):
 *     sendmail    "<id> Message accepted for delivery"
 *     OpenSMTPD   "<id> Message accepted for delivery" (8 hex digits;
 *                 some versions write "2.0.0: <id> ...")
 *     Postfix     "Ok: queued as <id>"
 *     Exim        "OK id=<id>"
 * - The ID is a token of 1 to MTAQID_MAX characters from [A-Za-z0-9._-],
 *   its first a letter or a digit.
 *   Anything else (an unknown form, a longer token, any other octet,
 *   control characters included, an empty or NULL text) gives false and
 *   an empty out: the ID is unknown, never guessed.  The relay may be
 *   hostile: the text is read up to its NUL and never beyond, and out
 *   receives at most size octets, its NUL included.
 * - Pure: no state, no allocation, no log.
 */
#ifndef CQ_MTAQID_H
#define CQ_MTAQID_H

#include <stdbool.h>
#include <stddef.h>

#define MTAQID_MAX 64

/* mtaqid_parse: the relay's queue ID in out (size at least
 * MTAQID_MAX + 1 for every ID to fit; a shorter out makes a longer ID
 * unknown), true; or false and out "" (when size > 0). */
bool mtaqid_parse(const char *text, char *out, size_t size);

#endif
