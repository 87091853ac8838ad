/*
 * kv: the "key = value" file reader that clientq.conf(5) (conf.h) and
 * AUTH's credentials file (auth.h) are both read with.  Generic: it knows
 * nothing of either file's keys.
 *
 * Contract
 * --------
 * - The format: one "key = value" a line; blanks around key and value
 *   are dropped; a line whose first non-blank is '#' is a comment, as is
 *   a blank line ('#' elsewhere is part of the value: passwords); a CR
 *   before the newline is dropped.  A line without '=', a key with a
 *   blank in it, an empty value, a line of KV_LINE_MAX octets or more, a
 *   NUL anywhere: an error naming the file and the line.  What a key
 *   means, and whether it may be given twice, is the caller's (kv_line_fn).
 * - kv_read reads a whole file (at most KV_FILE_MAX octets), opened
 *   without following a symbolic link, and refuses what is not a regular
 *   file or what other users could change (or, for a secret, read): see
 *   kv_read below.
 * - Errors are one line in kv_error.reason: "FILE:LINE: problem" or
 *   "FILE: problem".
 */
#ifndef CQ_KV_H
#define CQ_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define KV_LINE_MAX 4096
#define KV_FILE_MAX (256 * 1024)

/* Called for each "key = value": false, and why, for a line it refuses
 * (kv_parse adds the file and line). */
typedef bool (*kv_line_fn)(void *arg, const char *key, const char *value,
    unsigned line, struct error *why);

/* kv_parse: each line of text (len octets, from the file path, which
 * only names it in errors), in order; false at the first line refused. */
bool kv_parse(const char *text, size_t len, const char *path, kv_line_fn fn,
    void *arg, struct error *err);

/* kv_read: a whole file.  *missing (when not NULL) is set for a file
 * that does not exist (then false, err set too).  With secret_owner not
 * (uid_t)-1 the file holds secrets: it must be owned by that user and
 * closed to everyone else (mode 0600 or 0400); otherwise it must not be
 * writable by other users.  The text is NUL-terminated; the caller
 * frees it (wiping a secret's). */
bool kv_read(const char *path, uid_t secret_owner, char **text, size_t *len,
    bool *missing, struct error *err);

#endif
