/* SPDX-License-Identifier: ISC */
/*
 * What arrives on a bot's connection. lws hands a message over in
 * pieces; whole, it is parsed once, and what does not parse is logged
 * and dropped, never fatal to the connection. Callbacks wait on a list
 * the caller drains when the eventfd says so.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "ws_private.h"

static int		 ws_parse(struct ws_bot *, const char *, size_t,
			    struct ws_msg *);
static int		 ws_bad(struct ws_bot *, struct ws_msg *,
			    const char *);
static struct wecom_ws_in	*ws_in_new(struct ws_bot *,
				    const struct ws_msg *);

/*
 * A piece of a message. Returns 1 when m holds a whole message (the
 * caller frees m->root), 0 while more is to come or after one that was
 * dropped.
 */
int
wecom_ws_rx(struct ws_bot *bot, struct lws *wsi, const void *in,
    size_t len, struct ws_msg *m)
{
	int	rc = 0;

	bot->rx.max = WS_FRAME_MAX;
	wecom_buf_add(&bot->rx, in, len);
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
		return (0);

	bot->st->frames_in++;
	if (bot->rx.err)
		wecom_ws_log(bot->ws, LOG_WARNING, "aibot %s: ignored a "
		    "message over %d bytes", bot->conf->name, WS_FRAME_MAX);
	else
		rc = ws_parse(bot, bot->rx.p, bot->rx.len, m);
	wecom_buf_free(&bot->rx);

	return (rc);
}

static int
ws_parse(struct ws_bot *bot, const char *text, size_t len, struct ws_msg *m)
{
	json_error_t	 e;
	json_t		*cmd, *code;

	memset(m, 0, sizeof(*m));
	if ((m->root = json_loadb(text, len, 0, &e)) == NULL ||
	    !json_is_object(m->root))
		return (ws_bad(bot, m, "that is not a JSON object"));
	m->req_id = json_string_value(json_object_get(json_object_get(m->root,
	    "headers"), "req_id"));
	if (m->req_id == NULL || *m->req_id == '\0')
		return (ws_bad(bot, m, "without headers.req_id"));
	m->body = json_object_get(m->root, "body");
	if ((cmd = json_object_get(m->root, "cmd")) != NULL) {
		if ((m->cmd = json_string_value(cmd)) == NULL)
			return (ws_bad(bot, m, "whose cmd is no string"));
		return (1);
	}
	if (!json_is_integer(code = json_object_get(m->root, "errcode")))
		return (ws_bad(bot, m, "with neither cmd nor errcode"));
	m->errcode = (int)json_integer_value(code);
	m->errmsg = json_string_value(json_object_get(m->root, "errmsg"));

	return (1);
}

static int
ws_bad(struct ws_bot *bot, struct ws_msg *m, const char *what)
{
	wecom_ws_log(bot->ws, LOG_WARNING, "aibot %s: ignored a message %s",
	    bot->conf->name, what);
	json_decref(m->root);
	m->root = NULL;

	return (0);
}

/* WeCom's word that another connection took this bot over. */
int
wecom_ws_is_kick(const struct ws_msg *m)
{
	const char	*type;

	if (m->cmd == NULL || strcmp(m->cmd, "aibot_event_callback") != 0)
		return (0);
	type = json_string_value(json_object_get(json_object_get(m->body,
	    "event"), "eventtype"));

	return (type != NULL && strcmp(type, "disconnected_event") == 0);
}

/*
 * A callback, for the caller. The list is bounded: a caller that has
 * stopped taking them must not take the process's memory with it.
 */
void
wecom_ws_deliver(struct ws_bot *bot, const struct ws_msg *m)
{
	struct wecom_ws		*ws = bot->ws;
	struct wecom_ws_in	*in;
	uint64_t		 one = 1;
	int			 full;

	if (strcmp(m->cmd, "aibot_msg_callback") != 0 &&
	    strcmp(m->cmd, "aibot_event_callback") != 0) {
		wecom_ws_log(ws, LOG_INFO, "aibot %s: ignored a %s request",
		    bot->conf->name, m->cmd);
		return;
	}
	if (!json_is_object(m->body)) {
		wecom_ws_log(ws, LOG_WARNING, "aibot %s: ignored a %s "
		    "without a body object", bot->conf->name, m->cmd);
		return;
	}
	if ((in = ws_in_new(bot, m)) == NULL) {
		wecom_ws_log(ws, LOG_ERR, "aibot %s: out of memory for %s %s",
		    bot->conf->name, m->cmd, m->req_id);
		return;
	}
	pthread_mutex_lock(&ws->lock);
	if (!(full = ws->nin >= WS_IN_MAX)) {
		TAILQ_INSERT_TAIL(&ws->in, in, list);
		ws->nin++;
	}
	pthread_mutex_unlock(&ws->lock);
	if (full) {
		wecom_ws_log(ws, LOG_WARNING, "aibot %s: dropped %s %s: %d "
		    "callbacks wait already", bot->conf->name, m->cmd,
		    m->req_id, WS_IN_MAX);
		wecom_ws_in_free(in);
	} else if (write(ws->efd, &one, sizeof(one)) != sizeof(one))
		return;		/* the counter is already non-zero */
}

static struct wecom_ws_in *
ws_in_new(struct ws_bot *bot, const struct ws_msg *m)
{
	struct wecom_ws_in	*in;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return (NULL);
	in->bot = bot->idx;
	if ((in->cmd = strdup(m->cmd)) == NULL ||
	    (in->req_id = strdup(m->req_id)) == NULL ||
	    (in->body = json_dumps(m->body, JSON_COMPACT)) == NULL) {
		wecom_ws_in_free(in);
		return (NULL);
	}
	in->len = strlen(in->body);

	return (in);
}

/* The next callback, or NULL; the caller reads the eventfd first. */
struct wecom_ws_in *
wecom_ws_next(struct wecom_ws *ws)
{
	struct wecom_ws_in	*in;

	pthread_mutex_lock(&ws->lock);
	if ((in = TAILQ_FIRST(&ws->in)) != NULL) {
		TAILQ_REMOVE(&ws->in, in, list);
		ws->nin--;
	}
	pthread_mutex_unlock(&ws->lock);

	return (in);
}

void
wecom_ws_in_free(struct wecom_ws_in *in)
{
	if (in == NULL)
		return;
	free(in->cmd);
	free(in->req_id);
	free(in->body);
	free(in);
}

/* At the end: the callbacks nobody took. */
void
wecom_ws_in_flush(struct wecom_ws *ws)
{
	struct wecom_ws_in	*in;

	while ((in = wecom_ws_next(ws)) != NULL)
		wecom_ws_in_free(in);
}
