/*
 * log: the runner's log lines.
 *
 * Lines go to standard error with a "<N>" syslog priority prefix (what
 * systemd's journal reads from a service's stderr), tagged like sendmail's
 * syslog lines: "<6>sm-msp-queue[1234]: 6AOMct2T003760: to=...".  The
 * delivery lines themselves are built by the caller in sendmail's format.
 */
#ifndef CQ_LOG_H
#define CQ_LOG_H

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARNING = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
};

/* log_init: the tag (sendmail's -L; default "sm-msp-queue"). */
void log_init(const char *tag);

void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* log_interval: sendmail's brief interval ("00:00:05", "2+03:04:05"). */
void log_interval(long long secs, char *buf, unsigned size);

#endif
