/*
 * monotime: the one clock that timeouts and durations are measured on.
 *
 * Contract
 * --------
 * - monotime_ms: CLOCK_MONOTONIC in milliseconds.  It does not move with
 *   the wall clock (an NTP step, an admin's date), so a deadline set on it
 *   neither fires early nor waits forever; it means nothing across a
 *   reboot or between processes on different machines.
 * - The event loop's timers, the SMTP engine's deadlines and the checks'
 *   waits all use it, so their figures can be compared.  What is kept in
 *   queue files (sendmail's times) is wall-clock time, never this.
 */
#ifndef CQ_MONOTIME_H
#define CQ_MONOTIME_H

long long monotime_ms(void);

#endif
