/* SPDX-License-Identifier: ISC */
/*
 * Private: the times of Alertmanager's webhook (alert_time.c), for the
 * markdown of push_alert.c.
 */

#ifndef WECOM_ALERT_TIME_H
#define WECOM_ALERT_TIME_H

#include <stddef.h>

#define WECOM_ALERT_TIME_OK	0
#define WECOM_ALERT_TIME_UNSET	1	/* Go's zero time: "not set" */
#define WECOM_ALERT_TIME_BAD	-1

/*
 * An RFC 3339 time ("2026-11-23T01:30:00.5+08:00") as "YYYY-MM-DD
 * HH:MM:SS UTC" in out, or at offset_min minutes from UTC as "… UTC+08:00";
 * after UNSET or BAD, out means nothing.
 */
int	wecom_alert_time(const char *s, long offset_min, char *out,
	    size_t outlen);

#endif
