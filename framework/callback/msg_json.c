/* SPDX-License-Identifier: ISC */
/*
 * A message as JSON for the world outside (a forward receiver): one
 * documented, stable shape for every channel —
 *
 *	{"id", "app", "channel", "msgtype", "event", "from", "chat",
 *	 "msgid", "time", "content", "fields": {path: value}}
 *
 * "fields" holds every decrypted element by its path ("ScanCodeInfo/
 * ScanResult", "from/userid"); a path that repeats (a bot's msg_item)
 * holds an array. Absent fields are null, never left out.
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_xml.h"

static const char *const channels[] = {
	[WECOM_CHANNEL_APP] = "app",
	[WECOM_CHANNEL_AIBOT_CALLBACK] = "aibot_callback",
	[WECOM_CHANNEL_AIBOT_WS] = "aibot_websocket",
};

static json_t	*msg_fields(const struct wecom_xml *);
static json_t	*msg_str(const char *);
static void	 msg_time(const struct wecom_msg *, char *, size_t);

json_t *
wecom_msg_json(const struct wecom_ctx *ctx, const char *id)
{
	const struct wecom_msg	*m = ctx->msg;
	char			 when[32];

	msg_time(m, when, sizeof(when));

	return (json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, "
	    "s:o, s:o}", "id", id, "app", ctx->app->conf->name, "channel",
	    channels[ctx->channel], "msgtype", msg_str(m->msgtype), "event",
	    msg_str(m->event), "from", msg_str(m->from_user), "chat",
	    msg_str(m->chat_id), "msgid", msg_str(m->msgid), "time", when,
	    "content", msg_str(m->content), "fields", msg_fields(m->xml)));
}

static json_t *
msg_str(const char *s)
{
	return (s != NULL ? json_string(s) : json_null());
}

/* An app's CreateTime; a bot's message has none: now. */
static void
msg_time(const struct wecom_msg *m, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t;

	t = m->create_time > 0 ? (time_t)m->create_time : time(NULL);
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/*
 * The leaves by path. A container comes right after its last member
 * (the model is in the order elements end): it is left out.
 */
static json_t *
msg_fields(const struct wecom_xml *x)
{
	json_t		*o, *old, *arr;
	const char	*path, *value, *prev;
	size_t		 i, plen;

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0, prev = NULL; i < wecom_xml_nfields(x); i++, prev = path) {
		wecom_xml_field(x, i, &path, &value);
		plen = strlen(path);
		if (prev != NULL && strncmp(prev, path, plen) == 0 &&
		    prev[plen] == '/')
			continue;
		if ((old = json_object_get(o, path)) == NULL) {
			json_object_set_new(o, path, json_string(value));
			continue;
		}
		if (!json_is_array(old)) {
			arr = json_array();
			json_array_append(arr, old);
			json_object_set_new(o, path, arr);
			old = arr;
		}
		json_array_append_new(old, json_string(value));
	}

	return (o);
}
