/* SPDX-License-Identifier: ISC */
/*
 * Errors as the caller sees them: WeCom's errcode and errmsg, our own
 * result code, and a one-line hint for the errcodes people actually
 * meet when they deploy — the errmsg alone rarely says what to change.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "client_private.h"

static const struct {
	long		 errcode;
	const char	*hint;
} hints[] = {
	{ -1,	  "WeCom is busy; retried with backoff, try again later" },
	{ 40001,  "wrong secret: use the Secret of this app (not another "
		  "app's or the corp's); not retried, repeated failures get "
		  "the IP banned" },
	{ 40008,  "unknown msgtype" },
	{ 40013,  "wrong corpid: check [app] corpid (My Company > Corp ID)" },
	{ 40014,  "access token rejected: it was dropped and fetched again" },
	{ 41001,  "access_token missing from the request" },
	{ 42001,  "access token expired: it was dropped and fetched again" },
	{ 44004,  "empty content: nothing to send" },
	{ 45002,  "content too long: let the client split or truncate it" },
	{ 45009,  "API frequency limit reached (robots: 20 messages per "
		  "minute); slow down" },
	{ 45033,  "API concurrency limit reached; fewer parallel calls" },
	{ 48002,  "API not allowed for this app: grant it in the admin "
		  "console (app > API permissions) or use the right app" },
	{ 60020,  "this host's IP is not trusted: add it to the app's "
		  "trusted IPs (企业可信IP) in the WeCom admin console" },
	{ 81013,  "no valid recipient: every user/party/tag is unknown or "
		  "outside the app's visible range" },
	{ 93000,  "invalid robot webhook key" },
	{ 301002, "the token belongs to another app: tokens are per "
		  "(corpid, secret); check which secret this app uses" },
	{ 853000, "an intelligent bot's long connection was refused: check "
		  "[aibot] bot_id and secret (admin console, API mode)" },
};

const char *
wecom_api_hint(long errcode)
{
	size_t	i;

	for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
		if (hints[i].errcode == errcode)
			return (hints[i].hint);
	}

	return (NULL);
}

const char *
wecom_api_strerror(int code)
{
	switch (code) {
	case WECOM_API_OK:
		return ("ok");
	case WECOM_API_ERR_ARG:
		return ("invalid argument");
	case WECOM_API_ERR_NOMEM:
		return ("out of memory");
	case WECOM_API_ERR_CONFIG:
		return ("configuration error");
	case WECOM_API_ERR_IO:
		return ("I/O error");
	case WECOM_API_ERR_REJECTED:
		return ("rejected by WeCom");
	case WECOM_API_ERR_UNAVAILABLE:
		return ("WeCom unavailable after retries");
	case WECOM_API_ERR_HTTP:
		return ("unexpected HTTP status");
	case WECOM_API_ERR_PROTOCOL:
		return ("malformed answer");
	case WECOM_API_ERR_TLS:
		return ("TLS error");
	case WECOM_API_ERR_TOO_LARGE:
		return ("larger than allowed");
	}

	return ("unknown error");
}

void
wecom_client_err_clear(struct wecom_api_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

/*
 * Record a failure and return its code, so a caller can write
 * "return (wecom_client_err_set(...));". Keeps the counters already set.
 */
int
wecom_client_err_set(struct wecom_api_error *err, int code, long errcode,
    const char *fmt, ...)
{
	va_list		ap;

	if (err == NULL)
		return (code);
	err->code = code;
	err->errcode = errcode;
	err->hint = wecom_api_hint(errcode);
	va_start(ap, fmt);
	vsnprintf(err->errmsg, sizeof(err->errmsg), fmt, ap);
	va_end(ap);

	return (code);
}
