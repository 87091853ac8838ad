/*
 * crashpoint: named points between the system calls of every queue-file
 * change, where the test suite can make the process die.
 *
 * When the environment variable CLIENTQ_CRASH_AT is "NAME" or "NAME:K",
 * the K-th (default first) call of crashpoint("NAME") sends SIGKILL to
 * the process itself: the power-loss and crash tests use it to stop the
 * runner between an fsync and a rename, a bounce and the rewrite that
 * drops its recipients, and so on, then check that the queue is whole.
 * "*:K" (or "*" for K = 1) counts the calls of every point alike and
 * dies at the K-th, whatever its name: a test that tries K = 1, 2, ...
 * until a run ends without dying has stopped the runner once between
 * each pair of state-changing system calls of that run, without having
 * to know their names.  Before it dies, an armed point writes one line
 * to standard error: "crashpoint: NAME (K): SIGKILL".
 * Unset it costs one branch.  Only a build configured with
 * --enable-test-hooks (CQ_TEST_HOOKS) has the points at all; in any other
 * crashpoint does nothing, whatever the environment says.
 */
#ifndef CQ_CRASHPOINT_H
#define CQ_CRASHPOINT_H

void crashpoint(const char *name);

#endif
