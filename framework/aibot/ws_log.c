/* SPDX-License-Identifier: ISC */
/*
 * The long connection's log lines: to the caller's function or stderr,
 * WeCom's errcodes said in words, and libwebsockets' own errors routed
 * to the same place.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "ws_private.h"

/*
 * lws logs without saying for which context. Only a ws thread calls
 * into lws, so its lines belong to the ws of the thread that runs.
 */
static __thread struct wecom_ws	*ws_current;

static const struct {
	int		 errcode;
	const char	*meaning;
} ws_errcodes[] = {
	{ 846605,	"invalid req_id" },
	{ 846608,	"stream update expired" },
	{ 45009,	"rate limited" },
	{ 853000,	"wrong bot_id or secret" },
	{ 40058,	"bad parameter" },
};

static void	ws_lws_line(int, const char *);

void
wecom_ws_log(struct wecom_ws *ws, int prio, const char *fmt, ...)
{
	char	line[512];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ws != NULL && ws->conf.log != NULL)
		ws->conf.log(prio, line);
	else
		fprintf(stderr, "%s\n", line);
}

/* What an errcode means, or NULL when we do not know. */
const char *
wecom_ws_errstr(int errcode)
{
	size_t	i;

	for (i = 0; i < sizeof(ws_errcodes) / sizeof(ws_errcodes[0]); i++)
		if (ws_errcodes[i].errcode == errcode)
			return (ws_errcodes[i].meaning);

	return (NULL);
}

/*
 * From the ws thread, before its first lws call. The level is lws's
 * one for the whole process: errors only, whichever ws set it last.
 */
void
wecom_ws_log_bind(struct wecom_ws *ws)
{
	ws_current = ws;
	lws_set_log_level(LLL_ERR, ws_lws_line);
}

/*
 * A failure retried for hours would repeat its lws line each time: a
 * line like the last one is logged as the failures are, the first few
 * then one in so many.
 */
static void
ws_lws_line(int level, const char *line)
{
	struct wecom_ws	*ws = ws_current;
	size_t		 n;

	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	if (ws != NULL) {
		if (n == strlen(ws->lws_last) &&
		    strncmp(line, ws->lws_last, n) == 0) {
			if (++ws->lws_repeats >= WS_LOUD &&
			    (ws->lws_repeats + 1) % WS_QUIET_EVERY != 0)
				return;
		} else {
			(void)snprintf(ws->lws_last, sizeof(ws->lws_last),
			    "%.*s", (int)n, line);
			ws->lws_repeats = 0;
		}
	}
	wecom_ws_log(ws, LOG_ERR, "aibot: libwebsockets: %.*s", (int)n, line);
}
