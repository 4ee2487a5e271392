/* SPDX-License-Identifier: ISC */
/*
 * Prometheus Alertmanager's webhook as a WeCom markdown message, for an
 * app that forwards alerts to a group robot or an app chat:
 *
 *	char	 err[128], *md;
 *
 *	if ((md = wecom_alert_markdown(body, len, 480, err, sizeof(err))) == NULL)
 *		answer 400 with err;
 *	else
 *		send md as msgtype "markdown", then free(md);
 *
 * Plain C and jansson, no Kore.
 */

#ifndef WECOM_PUSH_ALERT_H
#define WECOM_PUSH_ALERT_H

#include <stddef.h>

/* Alerts looked at in one webhook; the rest are only counted. */
#define WECOM_ALERT_MAX		1000

/*
 * A Prometheus Alertmanager webhook body (JSON, version "4") as one
 * markdown message for WeCom. Returns a malloc'd NUL-terminated string, or
 * NULL with a one-line reason in err (which names the field at fault,
 * e.g. "alerts: expected an array"). Times are shown offset_min minutes
 * from UTC.
 */
char	*wecom_alert_markdown(const char *json, size_t len, long offset_min,
	    char *err, size_t errlen);

#endif
