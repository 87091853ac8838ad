#include "config.h"

#include "queue/qid.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "util/fnv.h"

static const char qid_alphabet[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* sendmail's digit alphabet; base 60 uses its first sixty characters. */
static int
qid_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 36;
	return -1;
}

enum qid_result
qid_decode(const char *id, struct qid_info *out)
{
	int d[8];
	size_t len, i;
	long pid = 0;

	len = strnlen(id, QID_MAX_LEN + 1);
	if (len < QID_MIN_LEN || len > QID_MAX_LEN)
		return QID_BAD_LENGTH;
	for (i = 0; i < 8; i++) {
		d[i] = qid_digit(id[i]);
		if (d[i] < 0)
			return QID_BAD_CHAR;
	}
	for (i = 8; i < len; i++) {
		if (id[i] < '0' || id[i] > '9')
			return QID_BAD_CHAR;
		pid = pid * 10 + (id[i] - '0');
	}
	/* year % 60; month 0-11; mday 1-31; hour 0-23; min/sec % 62;
	 * the sequence number's two digits are base 60. */
	if (d[0] >= 60 || d[1] > 11 || d[2] < 1 || d[2] > 31 || d[3] > 23 ||
	    d[6] >= 60 || d[7] >= 60)
		return QID_BAD_FIELD;
	if (out != NULL) {
		out->year60 = d[0];
		out->month = d[1];
		out->mday = d[2];
		out->hour = d[3];
		out->minute = d[4];
		out->second = d[5];
		out->seq = d[6] * 60 + d[7];
		out->pid = pid;
	}
	return QID_OK;
}

time_t
qid_time(const struct qid_info *info, time_t near)
{
	struct tm now, tm;
	int year, base;

	gmtime_r(&near, &now);
	/* Pick the year congruent to year60 (mod 60) closest to now. */
	base = now.tm_year - now.tm_year % 60;
	year = base + info->year60;
	if (year - now.tm_year > 30)
		year -= 60;
	else if (now.tm_year - year > 30)
		year += 60;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = year;
	tm.tm_mon = info->month;
	tm.tm_mday = info->mday;
	tm.tm_hour = info->hour;
	tm.tm_min = info->minute > 59 ? 59 : info->minute;
	tm.tm_sec = info->second > 59 ? 59 : info->second;
	return timegm(&tm);
}

const char *
qid_result_str(enum qid_result r)
{
	switch (r) {
	case QID_OK:
		return "valid queue ID";
	case QID_BAD_LENGTH:
		return "queue ID is not 14-18 characters long";
	case QID_BAD_CHAR:
		return "queue ID has a character outside its alphabet";
	case QID_BAD_FIELD:
		return "queue ID has a date or sequence field out of range";
	}
	return "unknown queue ID result";
}

void
qid_with_seq(char out[QID_MAX_LEN + 1], const char *id, unsigned seq)
{
	snprintf(out, QID_MAX_LEN + 1, "%s", id);
	seq %= 3600;
	out[6] = qid_alphabet[seq / 60];
	out[7] = qid_alphabet[seq % 60];
}

uint32_t
qid_hash(const char *id)
{
	return fnv_32a(FNV_32A_INIT, id, id != NULL ? strlen(id) : 0);
}
