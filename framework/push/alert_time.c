/* SPDX-License-Identifier: ISC */
/*
 * The times of Alertmanager's webhook (startsAt, endsAt): RFC 3339 in
 * whatever zone the sender used, shown in UTC, one zone for every alert
 * of a message. The parser is strict and checks the date against the
 * calendar: what it refuses, the message shows as given, so nothing is
 * lost by refusing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom_alert_time.h"

static int	digits(const char *, int);
static int	parse_date(const char *, struct tm *);
static int	parse_zone(const char *, long *);

int
wecom_alert_time(const char *s, long offset_min, char *out, size_t outlen)
{
	struct tm	tm;
	time_t		t;
	long		off;

	if (parse_date(s, &tm) == -1 || parse_zone(s + 19, &off) == -1)
		return (WECOM_ALERT_TIME_BAD);
	if (strncmp(s, "0001-01-01T00:00:00", 19) == 0)
		return (WECOM_ALERT_TIME_UNSET);
	t = timegm(&tm) - off + offset_min * 60;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		return (WECOM_ALERT_TIME_BAD);
	if (offset_min != 0 && snprintf(out + strlen(out), outlen - strlen(out),
	    "%c%02ld:%02ld", offset_min < 0 ? '-' : '+', labs(offset_min) / 60,
	    labs(offset_min) % 60) >= (int)(outlen - strlen(out)))
		return (WECOM_ALERT_TIME_BAD);

	return (WECOM_ALERT_TIME_OK);
}

/* Exactly n ASCII digits at s, as a number, or -1. Stops at a NUL. */
static int
digits(const char *s, int n)
{
	int	i, v;

	for (i = 0, v = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}

	return (v);
}

/* "YYYY-MM-DDTHH:MM:SS", checked against the calendar. */
static int
parse_date(const char *s, struct tm *tm)
{
	static const int	mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31,
				    30, 31, 30, 31 };
	int			y, leap;

	memset(tm, 0, sizeof(*tm));
	if ((y = digits(s, 4)) == -1 || s[4] != '-' ||
	    (tm->tm_mon = digits(s + 5, 2)) == -1 || s[7] != '-' ||
	    (tm->tm_mday = digits(s + 8, 2)) == -1 ||
	    (s[10] != 'T' && s[10] != 't') ||
	    (tm->tm_hour = digits(s + 11, 2)) == -1 || s[13] != ':' ||
	    (tm->tm_min = digits(s + 14, 2)) == -1 || s[16] != ':' ||
	    (tm->tm_sec = digits(s + 17, 2)) == -1)
		return (-1);
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (tm->tm_mon < 1 || tm->tm_mon > 12 || tm->tm_mday < 1 ||
	    tm->tm_mday > mdays[tm->tm_mon - 1] + (tm->tm_mon == 2 && leap) ||
	    tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60)
		return (-1);
	tm->tm_year = y - 1900;
	tm->tm_mon--;

	return (0);
}

/* What follows the seconds: ".123" if any, then "Z" or "+08:00". */
static int
parse_zone(const char *s, long *off)
{
	int	h, m;

	*off = 0;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return (-1);
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return (0);
	if ((*s != '+' && *s != '-') || (h = digits(s + 1, 2)) == -1 ||
	    s[3] != ':' || (m = digits(s + 4, 2)) == -1 || s[6] != '\0' ||
	    h > 23 || m > 59)
		return (-1);
	*off = (h * 60L + m) * 60 * (*s == '-' ? -1 : 1);

	return (0);
}
