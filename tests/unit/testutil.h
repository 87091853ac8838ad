/* Helpers shared by the unit tests: temporary queues, files, fixtures. */
#ifndef CQ_TESTUTIL_H
#define CQ_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A fresh directory under $TMPDIR, mode 0770 (a client queue as the MSP
 * makes it, owned by whoever runs the tests).  Free with tu_rmtree. */
char *tu_tempdir(void);
void tu_rmtree(const char *path);

/* dir/name in one of a few rotating static buffers (no leaks in tests). */
const char *tu_path(const char *dir, const char *name);

/* Write len bytes to dir/name with the given mode (exactly, umask aside). */
void tu_write(const char *dir, const char *name, const void *data, size_t len,
    mode_t mode);
void tu_write_str(const char *dir, const char *name, const char *s);
/* The contents of path (NUL-terminated), or NULL if it cannot be read. */
char *tu_read(const char *path, size_t *len);
char *tu_read2(const char *dir, const char *name, size_t *len);
bool tu_exists(const char *dir, const char *name);
/* Number of directory entries (not . or ..). */
int tu_count(const char *dir);

/* The directory holding the fixture queues written by real sendmail. */
const char *tu_fixtures(void);
/* Copy the fixture queue `name` into a new temporary queue directory, with
 * the modes sendmail gave the files (0660). */
char *tu_fixture_copy(const char *name);

/* A TCP socket listening on 127.0.0.1, at a port the kernel chose
 * (*port): for a scripted peer. */
int tu_listen_loopback(int *port);
/*
 * tu_peer: a scripted SMTP peer, a child process listening on
 * 127.0.0.1:*port that accepts one connection and plays script, one step
 * per string: "S:text" sends text (CRLF added); "R:line" reads a line and
 * checks it; "P:prefix" reads a line that must start with prefix; "L"
 * reads any one line; "B" reads a message body up to its "." line; "E"
 * expects the client to close without sending anything more; "D" reads
 * to the end and fails on a "." line; "C" closes the connection; "A"
 * closes it and accepts the next one; "W" waits 3 s; "X" sends 5000
 * octets without a line end.  Its exit status (tu_child_status) is 0 when
 * the client did exactly what the script expects: 2 a line missing, 3 a
 * line not as expected, 4 more than expected, 5 a "." where none was
 * expected, 6 a body cut short.
 */
pid_t tu_peer(const char *const *script, int *port);
/* The exit status of the child pid, once it is gone (99: it did not
 * exit). */
int tu_child_status(pid_t pid);

/* A minimal queue file with the given ID and sender. */
char *tu_simple_qf(const char *sender, const char *rcpt);

#endif
