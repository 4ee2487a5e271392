/* SPDX-License-Identifier: ISC */
/*
 * Proactive messages of bots (aibot_send_msg), as the outbox's drain in
 * the worker holding the long connections sends them: one at a time,
 * each acked, and within WeCom's limits per conversation — 30 a minute,
 * 1000 an hour. A message over a limit is not sent and not dropped: the
 * drain keeps it queued and tries again later.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_outbox.h"
#include "wecom_aibot.h"
#include "wecom_ws.h"

#define PER_MINUTE	30
#define PER_HOUR	1000
#define CONVS		256		/* conversations remembered */
#define ERR_RATE	45009

struct conv_rate {
	size_t		bot;
	char		chat[128];
	time_t		minute, hour;	/* window starts */
	int		in_minute, in_hour;
	time_t		used;
};

struct wecom_aibot_sender {
	struct wecom_outbox_sender	 outbox;	/* first */
	struct wecom_ws			*ws;
	const char *const		*names;		/* of the bots */
	size_t				 n;
	pthread_mutex_t			 lock;
	struct conv_rate		 convs[CONVS];
};

static int	sender_send(void *, const char *, const char *,
		    struct wecom_api_error *);
static int	sender_take(struct wecom_aibot_sender *, size_t, const char *,
		    time_t, int);
static int	sender_err(struct wecom_api_error *, int, long, const char *);

struct wecom_aibot_sender *
wecom_aibot_sender_new(struct wecom_ws *ws, const char *const *names,
    size_t n)
{
	struct wecom_aibot_sender	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->outbox.send = sender_send;
	s->outbox.arg = s;
	s->ws = ws;
	s->names = names;
	s->n = n;
	pthread_mutex_init(&s->lock, NULL);

	return (s);
}

/* What the outbox calls: conf->aibot_send points here. */
const struct wecom_outbox_sender *
wecom_aibot_sender_outbox(const struct wecom_aibot_sender *s)
{
	return (&s->outbox);
}

static int
sender_send(void *arg, const char *bot, const char *body,
    struct wecom_api_error *err)
{
	struct wecom_aibot_sender	*s = arg;
	json_t				*o;
	const char			*chat;
	size_t				 i;
	int				 errcode;

	for (i = 0; i < s->n && strcmp(s->names[i], bot) != 0; i++)
		;
	if (i == s->n)
		return (sender_err(err, WECOM_API_ERR_CONFIG, 0,
		    "no such bot on a long connection here"));
	o = json_loads(body, 0, NULL);
	chat = json_string_value(json_object_get(o, "chatid"));
	if (chat == NULL || !sender_take(s, i, chat, time(NULL), 1)) {
		json_decref(o);
		return (sender_err(err, WECOM_API_ERR_UNAVAILABLE,
		    ERR_RATE, "the conversation's limit (30 a minute, 1000 "
		    "an hour): later"));
	}
	errcode = wecom_aibot_call(s->ws, i, "aibot_send_msg", body, NULL);
	/* What WeCom did not take does not count. */
	if (errcode != 0)
		(void)sender_take(s, i, chat, time(NULL), -1);
	json_decref(o);
	if (errcode == 0)
		return (WECOM_API_OK);
	if (errcode == WECOM_WS_GONE || errcode == WECOM_WS_TIMEOUT ||
	    errcode == ERR_RATE)
		return (sender_err(err, WECOM_API_ERR_UNAVAILABLE,
		    errcode, "the long connection is down or busy: later"));

	return (sender_err(err, WECOM_API_ERR_REJECTED, errcode,
	    "WeCom refused the bot's message"));
}

/*
 * 1 and counted if the conversation may have one more message now
 * (n 1); n -1 gives one back.
 */
static int
sender_take(struct wecom_aibot_sender *s, size_t bot, const char *chat,
    time_t now, int n)
{
	struct conv_rate	*c, *lru;
	size_t			 i;
	int			 ok;

	pthread_mutex_lock(&s->lock);
	for (i = 0, c = NULL, lru = &s->convs[0]; i < CONVS && c == NULL; i++) {
		if (s->convs[i].used != 0 && s->convs[i].bot == bot &&
		    strcmp(s->convs[i].chat, chat) == 0)
			c = &s->convs[i];
		else if (s->convs[i].used < lru->used)
			lru = &s->convs[i];
	}
	if (c == NULL) {
		c = lru;
		memset(c, 0, sizeof(*c));
		c->bot = bot;
		snprintf(c->chat, sizeof(c->chat), "%s", chat);
	}
	if (now - c->minute >= 60) {
		c->minute = now;
		c->in_minute = 0;
	}
	if (now - c->hour >= 3600) {
		c->hour = now;
		c->in_hour = 0;
	}
	if (n < 0) {
		/* Not below zero: the window may have turned meanwhile. */
		c->in_minute -= c->in_minute > 0;
		c->in_hour -= c->in_hour > 0;
		ok = 1;
	} else if ((ok = c->in_minute < PER_MINUTE && c->in_hour < PER_HOUR)) {
		c->in_minute++;
		c->in_hour++;
	}
	c->used = now;
	pthread_mutex_unlock(&s->lock);

	return (ok);
}

static int
sender_err(struct wecom_api_error *err, int code, long errcode,
    const char *msg)
{
	memset(err, 0, sizeof(*err));
	err->code = code;
	err->errcode = errcode;
	snprintf(err->errmsg, sizeof(err->errmsg), "%s", msg);

	return (code);
}
