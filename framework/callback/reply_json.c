/* SPDX-License-Identifier: ISC */
/*
 * A bot's answer as JSON, rendered from the reply as made: the
 * plaintext of a callback's passive reply, and the body of a frame on
 * the long connection — WeCom gives both the same shape. A card is the
 * handler's JSON text, parsed here so that a broken one fails the
 * reply instead of WeCom's check.
 */

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_reply.h"

static json_t	*json_body(const struct wecom_reply *);
static json_t	*json_media(const struct wecom_reply *);

int
wecom_reply_json(const struct wecom_reply *r, char **out, size_t *len)
{
	json_t	*o;

	*out = NULL;
	if ((o = json_body(r)) == NULL)
		return (WECOM_ERROR);
	*out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (*out == NULL)
		return (WECOM_ERROR);
	*len = strlen(*out);

	return (WECOM_OK);
}

/*
 * A record as a message of its own, not an answer (response_url,
 * aibot_send_msg): its card, else its text as markdown; NULL if it has
 * neither (a file).
 */
char *
wecom_reply_json_message(const struct wecom_reply *rec)
{
	struct wecom_reply	 r;
	char			*out;
	size_t			 len;

	memset(&r, 0, sizeof(r));
	r.type = WECOM_REPLY_MARKDOWN;
	r.content = rec->content;
	if (rec->type == WECOM_REPLY_CARD) {
		r.type = WECOM_REPLY_CARD;
		r.card = rec->card;
	}
	if (r.content == NULL && r.card == NULL)
		return (NULL);

	return (wecom_reply_json(&r, &out, &len) == WECOM_OK ? out : NULL);
}

static json_t *
json_body(const struct wecom_reply *r)
{
	json_t	*card;

	switch (r->type) {
	case WECOM_REPLY_STREAM:
		if (r->image != NULL)
			return (json_pack("{s:s, s:{s:s, s:b, s:s, s:[{s:s, "
			    "s:{s:s, s:s}}]}}", "msgtype", "stream", "stream",
			    "id", r->stream_id, "finish", 1, "content",
			    r->content, "msg_item", "msgtype", "image", "image",
			    "base64", r->image, "md5", r->image_md5));
		return (json_pack("{s:s, s:{s:s, s:b, s:s}}",
		    "msgtype", "stream", "stream", "id", r->stream_id,
		    "finish", r->finish, "content", r->content));
	case WECOM_REPLY_TEXT:
		return (json_pack("{s:s, s:{s:s}}", "msgtype", "text",
		    "text", "content", r->content));
	case WECOM_REPLY_MARKDOWN:
		return (json_pack("{s:s, s:{s:s}}", "msgtype", "markdown",
		    "markdown", "content", r->content));
	case WECOM_REPLY_CARD:
		card = json_loads(r->card, JSON_REJECT_DUPLICATES, NULL);
		if (card == NULL || !json_is_object(card)) {
			json_decref(card);
			return (NULL);
		}
		/* To a click: the card that replaces the clicked one. */
		if (r->card_update)
			return (json_pack("{s:s, s:o}", "response_type",
			    "update_template_card", "template_card", card));
		return (json_pack("{s:s, s:o}", "msgtype", "template_card",
		    "template_card", card));
	case WECOM_REPLY_IMAGE:
	case WECOM_REPLY_VOICE:
	case WECOM_REPLY_VIDEO:
	case WECOM_REPLY_FILE:
		return (json_media(r));
	default:
		return (NULL);
	}
}

/* A file uploaded on the long connection, by its media_id. */
static json_t *
json_media(const struct wecom_reply *r)
{
	const char	*type;

	type = wecom_reply_msgtype(r->type);

	return (json_pack("{s:s, s:{s:s}}", "msgtype", type, type,
	    "media_id", r->media_id));
}
