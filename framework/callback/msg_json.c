/* SPDX-License-Identifier: ISC */
/*
 * A message as JSON for the world outside — the live events, a forward
 * receiver — in one documented, stable shape for every channel:
 *
 *	{"app", "channel", "msgtype", "event", "from", "chat", "msgid",
 *	 "time", "content", "fields": {path: value}, "reply": {…} | null}
 *
 * Absent values are null, never left out. "fields" holds every
 * decrypted element by its path ("ScanCodeInfo/ScanResult",
 * "from/userid"); a path that repeats (a bot's msg_item) holds an
 * array. Made on the thread that ran the handler chain, while the
 * message still exists.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_reply.h"
#include "wecom_xml.h"

static const char *const channels[] = {
	[WECOM_CHANNEL_APP] = "app",
	[WECOM_CHANNEL_AIBOT_CALLBACK] = "aibot_callback",
	[WECOM_CHANNEL_AIBOT_WS] = "aibot_websocket",
};

/* A reply's type as the member gets it; a bot's stream is "stream". */
static const char *const reply_types[] = {
	[WECOM_REPLY_TEXT] = "text",
	[WECOM_REPLY_IMAGE] = "image",
	[WECOM_REPLY_VOICE] = "voice",
	[WECOM_REPLY_VIDEO] = "video",
	[WECOM_REPLY_NEWS] = "news",
	[WECOM_REPLY_UPDATE_BUTTON] = "update_button",
	[WECOM_REPLY_MARKDOWN] = "markdown",
	[WECOM_REPLY_STREAM] = "stream",
	[WECOM_REPLY_CARD] = "template_card",
	[WECOM_REPLY_FILE] = "file",
};

/*
 * Fields never sent, as the message log never keeps them: a bot's
 * response_url and a kf callback's Token let whoever holds them act
 * for a while.
 */
static const char *const withheld[] = { "response_url", "Token" };

/* The channel as the JSON of the log, events and forward name it. */
const char *
wecom_channel_name(enum wecom_channel ch)
{
	return ((size_t)ch < sizeof(channels) / sizeof(channels[0]) ?
	    channels[ch] : channels[0]);
}

static json_t	*json_fields(const struct wecom_xml *, int);
static json_t	*json_reply(const struct wecom_reply *);
static json_t	*json_str(const char *);
static int	 json_withheld(const char *);
static void	 json_time(const struct wecom_msg *, char *, size_t);

/* flags: WECOM_MSG_JSON_FIELDS, _WITHHOLD, _REPLY (wecom_app.h). */
json_t *
wecom_msg_json(const struct wecom_ctx *ctx, int flags)
{
	const struct wecom_msg	*m = ctx->msg;
	json_t			*o;
	char			 when[32];

	json_time(m, when, sizeof(when));
	o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}",
	    "app", ctx->app->conf->name, "channel", wecom_channel_name(ctx->channel),
	    "msgtype", json_str(m->msgtype), "event", json_str(m->event),
	    "from", json_str(m->from_user), "chat", json_str(m->chat_id),
	    "msgid", json_str(m->msgid), "time", when,
	    "content", json_str(m->content), "fields",
	    flags & WECOM_MSG_JSON_FIELDS ? json_fields(m->xml,
	    flags & WECOM_MSG_JSON_WITHHOLD) : json_object());
	if (o != NULL && (flags & WECOM_MSG_JSON_REPLY))
		json_object_set_new(o, "reply", json_reply(ctx->rec));

	return (o);
}

/* Text, markdown and streams carry their text; a card its JSON. */
static json_t *
json_reply(const struct wecom_reply *r)
{
	const char	*content;

	if (r == NULL || (size_t)r->type >=
	    sizeof(reply_types) / sizeof(reply_types[0]))
		return (json_null());
	switch (r->type) {
	case WECOM_REPLY_TEXT:
	case WECOM_REPLY_MARKDOWN:
	case WECOM_REPLY_STREAM:
		content = r->content;
		break;
	case WECOM_REPLY_CARD:
		content = r->card;
		break;
	default:
		content = NULL;
		break;
	}

	return (json_pack("{s:s, s:o}", "msgtype", reply_types[r->type],
	    "content", json_str(content)));
}

/* The parsers give UTF-8; anything else is made valid, not dropped. */
static json_t *
json_str(const char *s)
{
	json_t	*j;
	char	*clean;
	int	 bad = 0;

	if (s == NULL)
		return (json_null());
	if ((j = json_string(s)) != NULL)
		return (j);
	if ((clean = wecom_reply_clean(s, &bad)) == NULL)
		return (json_null());
	j = json_string(clean);
	free(clean);

	return (j != NULL ? j : json_null());
}

/* An app's CreateTime; a bot's message has none: now. */
static void
json_time(const struct wecom_msg *m, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;

	t = m->create_time > 0 ? (time_t)m->create_time : time(NULL);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		(void)snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/*
 * The leaves by path. The model lists elements in the order they end,
 * so a container comes right after its last member: it is left out.
 */
static json_t *
json_fields(const struct wecom_xml *x, int withhold)
{
	json_t		*o, *old, *arr;
	const char	*path, *value, *prev;
	size_t		 i, n, plen;

	if ((o = json_object()) == NULL)
		return (NULL);
	n = x != NULL ? wecom_xml_nfields(x) : 0;
	for (i = 0, prev = NULL; i < n; i++, prev = path) {
		wecom_xml_field(x, i, &path, &value);
		plen = strlen(path);
		if ((prev != NULL && strncmp(prev, path, plen) == 0 &&
		    prev[plen] == '/') || (withhold && json_withheld(path)))
			continue;
		if ((old = json_object_get(o, path)) == NULL) {
			json_object_set_new(o, path, json_str(value));
			continue;
		}
		if (!json_is_array(old)) {
			if ((arr = json_array()) == NULL)
				continue;
			json_array_append(arr, old);
			json_object_set_new(o, path, arr);
			old = arr;
		}
		json_array_append_new(old, json_str(value));
	}

	return (o);
}

static int
json_withheld(const char *path)
{
	size_t	i;

	for (i = 0; i < sizeof(withheld) / sizeof(withheld[0]); i++)
		if (strcmp(path, withheld[i]) == 0)
			return (1);

	return (0);
}
