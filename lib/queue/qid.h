/*
 * qid: sendmail queue IDs (8.12 and later).
 *
 * An ID is YMDhmsNNPPPPPP...: six base-62 date digits taken from gmtime()
 * (year % 60, month 0-11, day 1-31, hour, minute % 62, second % 62), two
 * base-60 digits of a per-process sequence number (0-3599), then the PID
 * printed with at least six decimal digits.  So an ID has 14 characters,
 * or up to 18 on systems whose PIDs reach ten digits.
 *
 * Every file name in the queue is a two-letter prefix plus an ID; IDs come
 * from directory entries and from hostile queue files, so nothing is ever
 * used as a path component before qid_decode() said QID_OK.
 */
#ifndef CQ_QID_H
#define CQ_QID_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define QID_MIN_LEN 14
#define QID_MAX_LEN 18

enum qid_result {
	QID_OK = 0,
	QID_BAD_LENGTH,		/* not 14-18 characters */
	QID_BAD_CHAR,		/* a character outside 0-9A-Za-z, or a non-digit in the PID */
	QID_BAD_FIELD,		/* a date or sequence digit out of its range */
};

struct qid_info {
	int year60;		/* tm_year % 60 */
	int month;		/* 0-11 */
	int mday;		/* 1-31 */
	int hour;		/* 0-23 */
	int minute;		/* 0-61 (minute % 62) */
	int second;		/* 0-61 (second % 62; leap seconds) */
	int seq;		/* 0-3599 */
	long pid;
};

/* qid_decode: check id and, when out is not NULL, fill it.  id is a
 * NUL-terminated string; no prefix letters. */
enum qid_result qid_decode(const char *id, struct qid_info *out);

static inline bool
qid_valid(const char *id)
{
	return qid_decode(id, (struct qid_info *)0) == QID_OK;
}

/* qid_time: the creation time encoded in the ID, with the year (known only
 * modulo 60) resolved to the one nearest to `near`.  Minute and second values
 * above 59 are clamped to 59. */
time_t qid_time(const struct qid_info *info, time_t near);

/* qid_with_seq: id (a valid ID) with its two sequence digits replaced
 * by seq (taken modulo 3600): another ID of the same second and process.
 * The caller still creates the files O_EXCL, as sendmail does. */
void qid_with_seq(char out[QID_MAX_LEN + 1], const char *id, unsigned seq);

/* qid_hash: a stable hash of an ID (FNV-1a), for tables and spreads. */
uint32_t qid_hash(const char *id);

/* qid_result_str: a short English reason, for log lines. */
const char *qid_result_str(enum qid_result r);

#endif
