/* SPDX-License-Identifier: ISC */
/*
 * A bot's answers on its long connection: every stream update and the
 * final answer go back on the callback's req_id (one at a time, each
 * acked: wecom_ws.h), an update still unsent giving way to a newer one.
 * A stream WeCom no longer takes (846608, or 6 minutes after its first
 * update) ends as a proactive message into the same conversation.
 *
 * The sink dies with its job, but acks come later, on the ws thread:
 * what they need is in a conversation record both hold a reference to.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_reply.h"
#include "wecom_aibot.h"
#include "wecom_ws.h"

#define ERR_STREAM_EXPIRED	846608
/* Room for the last update before WeCom's 6 minutes are up. */
#define WINDOW_MARGIN		10

struct conv {
	int			 refs;		/* atomic */
	int			 expired;	/* atomic: 846608 seen */
	struct wecom_ws		*ws;
	size_t			 bot;
	char			*chatid;	/* or the member, single */
	int			 chat_type;	/* 1 single, 2 group */
};

struct ws_sink {
	struct wecom_sink	 base;		/* first */
	struct conv		*conv;
	char			*req_id;
	time_t			 first;		/* first update sent */
};

/* One request in flight: the final answer keeps its body to fall back. */
struct ticket {
	struct conv		*conv;
	char			*fallback;	/* aibot_send_msg body */
};

static int	ws_push(struct wecom_sink *, const struct wecom_reply *,
		    const char *, size_t);
static void	ws_release(struct wecom_sink *);
static int	ws_upload(struct wecom_sink *, const char *, const char *,
		    const void *, size_t, char **);
static int	ws_proactive(struct conv *, const char *);
static char	*ws_fallback(const struct conv *, const struct wecom_reply *);
static void	ws_done(void *, int, const char *);
static void	conv_unref(struct conv *);
static const char	*ws_cmd(const struct wecom_reply *);

struct wecom_sink *
wecom_aibot_sink_ws(struct wecom_ws *ws, size_t bot, const char *req_id,
    const struct wecom_msg *msg)
{
	struct ws_sink	*s;
	const char	*chat;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->base.push = ws_push;
	s->base.release = ws_release;
	s->base.upload = ws_upload;
	if ((s->conv = calloc(1, sizeof(*s->conv))) == NULL) {
		free(s);
		return (NULL);
	}
	s->conv->refs = 1;
	s->conv->ws = ws;
	s->conv->bot = bot;
	chat = msg->chat_id != NULL ? msg->chat_id : msg->from_user;
	s->conv->chat_type = msg->chat_id != NULL ? 2 : 1;
	if ((s->req_id = strdup(req_id)) == NULL || chat == NULL ||
	    (s->conv->chatid = strdup(chat)) == NULL) {
		ws_release(&s->base);
		return (NULL);
	}

	return (&s->base);
}

static int
ws_push(struct wecom_sink *sink, const struct wecom_reply *rec,
    const char *body, size_t len)
{
	struct ws_sink	*s = (struct ws_sink *)sink;
	struct ticket	*t;
	time_t		 now = time(NULL);
	int		 stream, late;

	stream = rec->type == WECOM_REPLY_STREAM;
	late = __atomic_load_n(&s->conv->expired, __ATOMIC_ACQUIRE) ||
	    (s->first != 0 && now >= s->first + WECOM_STREAM_WINDOW -
	    WINDOW_MARGIN);
	if (stream && !rec->finish && late)
		return (WECOM_OK);	/* the final answer will fall back */
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (WECOM_ERROR);
	t->conv = s->conv;
	__atomic_add_fetch(&t->conv->refs, 1, __ATOMIC_ACQ_REL);
	if (rec->finish || !stream)
		t->fallback = ws_fallback(s->conv, rec);
	if (late) {
		(void)ws_proactive(s->conv, t->fallback);
		ws_done(t, 0, NULL);
		return (WECOM_OK);
	}
	if (stream && s->first == 0)
		s->first = now;
	if (wecom_ws_send(s->conv->ws, s->conv->bot, ws_cmd(rec), s->req_id,
	    body, len, stream, ws_done, t) == -1) {
		/* Not connected: a req_id dies with its connection. */
		ws_done(t, WECOM_WS_GONE, NULL);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/* On the handler's thread: chunks on the connection, acked one by one. */
static int
ws_upload(struct wecom_sink *sink, const char *type, const char *name,
    const void *data, size_t len, char **media_id)
{
	struct ws_sink	*s = (struct ws_sink *)sink;

	return (wecom_aibot_upload(s->conv->ws, s->conv->bot, type,
	    name != NULL ? name : type, data, len, media_id));
}

/* A welcome to enter_chat, a card to its click, else a plain answer. */
static const char *
ws_cmd(const struct wecom_reply *rec)
{
	if (rec->welcome)
		return ("aibot_respond_welcome_msg");
	if (rec->card_update)
		return ("aibot_respond_update_msg");
	return ("aibot_respond_msg");
}

/* On the ws thread: an expired stream's final answer is sent anew. */
static void
ws_done(void *arg, int errcode, const char *ack)
{
	struct ticket	*t = arg;

	if (errcode == ERR_STREAM_EXPIRED) {
		__atomic_store_n(&t->conv->expired, 1, __ATOMIC_RELEASE);
		if (t->fallback != NULL)
			(void)ws_proactive(t->conv, t->fallback);
	}
	conv_unref(t->conv);
	free(t->fallback);
	free(t);
}

static int
ws_proactive(struct conv *c, const char *body)
{
	if (body == NULL)
		return (WECOM_ERROR);

	return (wecom_ws_send(c->ws, c->bot, "aibot_send_msg", NULL, body,
	    strlen(body), 0, NULL, NULL) == 0 ? WECOM_OK : WECOM_ERROR);
}

/* The answer as an aibot_send_msg body: markdown, or the card. */
static char *
ws_fallback(const struct conv *c, const struct wecom_reply *rec)
{
	json_t			*o;
	char			*body;

	if ((body = wecom_reply_json_message(rec)) == NULL)
		return (NULL);
	o = json_loads(body, 0, NULL);
	free(body);
	body = NULL;
	if (o != NULL && json_object_set_new(o, "chatid",
	    json_string(c->chatid)) == 0 && json_object_set_new(o,
	    "chat_type", json_integer(c->chat_type)) == 0)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);

	return (body);
}

static void
conv_unref(struct conv *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(c->chatid);
	free(c);
}

static void
ws_release(struct wecom_sink *sink)
{
	struct ws_sink	*s = (struct ws_sink *)sink;

	if (s->conv != NULL)
		conv_unref(s->conv);
	free(s->req_id);
	free(s);
}
