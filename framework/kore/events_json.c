/* SPDX-License-Identifier: ISC */
/*
 * The live events' JSON (GET /api/v1/events, docs/api.md): the message
 * as msg_json.c makes it, with "type": "message" first and the reply it
 * got, and without the two fields that are capabilities (a bot's
 * response_url, a kf callback's Token):
 *
 *	{"type": "message", "app", "channel", "msgtype", "event", "from",
 *	 "chat", "msgid", "time", "content", "fields": {path: value},
 *	 "reply": {"msgtype", "content"} | null}
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_server.h"

static json_t	*json_event(const struct wecom_ctx *, int);

/*
 * The event as compact JSON (malloc'ed), or NULL. One larger than max
 * bytes is made again with "fields": {} — a client gets every event,
 * and the bounded queues stay meaningful.
 */
char *
wecom_events_json(const struct wecom_ctx *ctx, size_t max, size_t *len)
{
	json_t	*o;
	char	*s;
	int	 pass;

	for (pass = 0; pass < 2; pass++) {
		if ((o = json_event(ctx, pass == 0)) == NULL)
			return (NULL);
		s = json_dumps(o, JSON_COMPACT);
		json_decref(o);
		if (s == NULL)
			return (NULL);
		*len = strlen(s);
		if (*len <= max || pass == 1)
			return (s);
		free(s);
	}

	return (NULL);
}

static json_t *
json_event(const struct wecom_ctx *ctx, int fields)
{
	json_t	*o, *m;

	m = wecom_msg_json(ctx, WECOM_MSG_JSON_WITHHOLD | WECOM_MSG_JSON_REPLY |
	    (fields ? WECOM_MSG_JSON_FIELDS : 0));
	if (m == NULL || (o = json_pack("{s:s}", "type", "message")) == NULL) {
		json_decref(m);
		return (NULL);
	}
	json_object_update(o, m);
	json_decref(m);

	return (o);
}
