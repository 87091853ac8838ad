/*
 * fileread: a whole small file read into memory, bounded.  See
 * fileread.h.
 */
#include "config.h"

#include "util/fileread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/xalloc.h"

/* Reads until want octets are in or the file ends; false on an error. */
static bool
fileread_fill(int fd, char *buf, size_t want, size_t *got)
{
	*got = 0;
	while (*got < want) {
		ssize_t n = read(fd, buf + *got, want - *got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return true;
}

bool
fileread(const char *path, const struct fileread_opts *o, char **text, size_t *len,
    struct error *err)
{
	const char *what = o->what != NULL ? o->what : "", *sp = o->what != NULL ? " " : "";
	struct stat st;
	size_t want, got;
	char *buf;
	int fd;

	*text = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (o->nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		int e = errno;

		error_set(err, e, "%s%s%s: %s", what, sp, path,
		    e == ELOOP && o->nofollow ? "is a symbolic link; refused" : strerror(e));
		return false;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error_set(err, 0, "%s%s%s: not a regular file", what, sp, path);
		close(fd);
		return false;
	}
	if (o->check != NULL && !o->check(path, &st, o->arg, err)) {
		close(fd);
		return false;
	}
	want = (size_t)st.st_size;
	if (want > o->max) {
		if (!o->cut) {
			error_set(err, 0, "%s%s%s: larger than %zu octets; refused", what, sp, path,
			    o->max);
			close(fd);
			return false;
		}
		want = o->max;
	}
	buf = xmalloc(want + 1);
	if (!fileread_fill(fd, buf, want, &got)) {
		int e = errno;
		volatile char *p = buf;

		error_set(err, e, "%s%s%s: %s", what, sp, path, strerror(e));
		/* What was read of a secret is not left in freed memory. */
		while (got > 0) {
			*p++ = '\0';
			got--;
		}
		free(buf);
		close(fd);
		return false;
	}
	close(fd);
	buf[got] = '\0';
	*text = buf;
	*len = got;
	return true;
}
