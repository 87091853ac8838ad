/*
 * fileread: a whole small file read into memory, bounded -- the one
 * reader of what the programs read whole: clientq.conf and the AUTH
 * credentials (kv), the TLS client key (tls), and the installation's
 * files the checks look at (check: cron files, passwd and group under
 * --root).  Hand-written: the C library's stdio reads whatever is there,
 * grows its buffer (leaving copies of a secret in freed memory) and
 * checks nothing; each of these files must be checked, by its descriptor,
 * before a byte of it is trusted.
 *
 * Contract
 * --------
 * - fileread(path, o, &text, &len, err): the file's octets in text,
 *   NUL-terminated (len counts them, a NUL inside included); the caller
 *   frees text, wiping it first when it is a secret.  False, text NULL
 *   and err set (its errnum the failing call's errno: ENOENT for a file
 *   that is not there) otherwise.
 * - Only a regular file is read.  With o->nofollow a symbolic link is
 *   refused rather than followed (O_NOFOLLOW).
 * - o->check, when set, is shown the open descriptor's stat before
 *   anything is read, so that what is read is what was checked (owner,
 *   mode); false, with its err, refuses the file.
 * - A file over o->max octets is refused, or, with o->cut, read to its
 *   first o->max octets.  Without cut it is read into one allocation of
 *   its size at open (a secret leaves no copy behind), and a file that
 *   grows meanwhile is read to that size.
 * - Every reason is o->what (when set: "tls.key", "auth.file") and the
 *   path, then the problem: "tls.key /etc/mail/k.pem: is a symbolic
 *   link; refused".
 */
#ifndef CQ_FILEREAD_H
#define CQ_FILEREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

struct fileread_opts {
	const char *what;	/* what the file is, for the reasons; or NULL */
	size_t max;		/* the most octets read */
	bool cut;		/* a larger file is cut to max, not refused */
	bool nofollow;		/* a symbolic link is refused */
	/* The open file's stat, before it is read: false and err refuse
	 * it (the reason written as a whole, with the path). */
	bool (*check)(const char *path, const struct stat *st, void *arg, struct error *err);
	void *arg;
};

bool fileread(const char *path, const struct fileread_opts *o, char **text, size_t *len,
    struct error *err);

#endif
