/* SPDX-License-Identifier: ISC */
/*
 * What goes out on a bot's connection. A request waits until nothing
 * with its req_id is in flight (WeCom takes the replies to a callback
 * one at a time), then is in flight until its ack, its deadline or the
 * end of the connection; its done learns which, once.
 *
 * A late ack cannot be told from the ack of the next request on the
 * same req_id: after a timeout it may complete that one. The protocol
 * gives nothing to tell them apart; the official SDKs share the flaw.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "ws_private.h"

static int		 ws_json_object(const char *, size_t);
static void		 ws_add_string(struct wecom_buf *, const char *);
static struct ws_req	*ws_last_waiting(struct ws_bot *, const char *);
static int		 ws_busy(struct ws_bot *, const char *);
static void		 ws_supersede(struct ws_req *, struct ws_req *);
static void		 ws_deadline(lws_sorted_usec_list_t *);
static void		 ws_failed(struct ws_bot *, struct ws_req *, int,
			    const char *);
static void		 ws_complete(struct ws_req *, int, const char *);

/* A fresh req_id: the ws's random nonce keeps it unique across restarts. */
void
wecom_ws_reqid(struct wecom_ws *ws, const char *prefix, char *buf,
    size_t size)
{
	unsigned long long	seq;

	pthread_mutex_lock(&ws->lock);
	seq = ++ws->seq;
	pthread_mutex_unlock(&ws->lock);
	(void)snprintf(buf, size, "%s-%s-%llu", prefix, ws->nonce, seq);
}

/*
 * {"cmd":CMD,"headers":{"req_id":ID}[,"body":BODY]}, after LWS_PRE
 * bytes of room for lws's framing. The caller's body must be a JSON
 * object: WeCom would answer anything else with a late 40058.
 */
char *
wecom_ws_frame(const char *cmd, const char *req_id, const char *body,
    size_t len, size_t *outlen)
{
	static const char	 room[LWS_PRE];
	struct wecom_buf	 b;
	char			*p;
	size_t			 n;

	if (body != NULL && ws_json_object(body, len) == -1)
		return (NULL);
	memset(&b, 0, sizeof(b));
	wecom_buf_add(&b, room, sizeof(room));
	wecom_buf_addf(&b, "{\"cmd\":");
	ws_add_string(&b, cmd);
	wecom_buf_addf(&b, ",\"headers\":{\"req_id\":");
	ws_add_string(&b, req_id);
	wecom_buf_addf(&b, "}");
	if (body != NULL) {
		wecom_buf_addf(&b, ",\"body\":");
		wecom_buf_add(&b, body, len);
	}
	wecom_buf_addf(&b, "}");
	if ((p = wecom_buf_take(&b, &n)) == NULL)
		return (NULL);
	*outlen = n - LWS_PRE;

	return (p);
}

static int
ws_json_object(const char *body, size_t len)
{
	json_error_t	 e;
	json_t		*j;
	int		 rc;

	if ((j = json_loadb(body, len, 0, &e)) == NULL)
		return (-1);
	rc = json_is_object(j) ? 0 : -1;
	json_decref(j);

	return (rc);
}

/* s as a JSON string, escaped by jansson; a failure sets b's error. */
static void
ws_add_string(struct wecom_buf *b, const char *s)
{
	json_t	*j;
	char	*text;

	if ((j = json_string(s)) == NULL ||
	    (text = json_dumps(j, JSON_ENCODE_ANY)) == NULL) {
		b->err = 1;
		json_decref(j);
		return;
	}
	wecom_buf_add(b, text, strlen(text));
	free(text);
	json_decref(j);
}

struct ws_req *
wecom_ws_req_new(struct wecom_ws *ws, const char *cmd, const char *req_id,
    const char *body, size_t len)
{
	struct ws_req	*r;
	char		 id[WS_ID_MAX];

	if (req_id == NULL) {
		wecom_ws_reqid(ws, "req", id, sizeof(id));
		req_id = id;
	}
	if (*cmd == '\0' || *req_id == '\0' ||
	    (r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	TAILQ_INIT(&r->superseded);
	if ((r->cmd = strdup(cmd)) == NULL ||
	    (r->req_id = strdup(req_id)) == NULL ||
	    (r->frame = wecom_ws_frame(cmd, req_id, body, len,
	    &r->len)) == NULL) {
		wecom_ws_req_free(r);
		return (NULL);
	}

	return (r);
}

void
wecom_ws_req_free(struct ws_req *r)
{
	struct ws_req	*s;

	if (r == NULL)
		return;
	while ((s = TAILQ_FIRST(&r->superseded)) != NULL) {
		TAILQ_REMOVE(&r->superseded, s, list);
		wecom_ws_req_free(s);
	}
	free(r->cmd);
	free(r->req_id);
	free(r->frame);
	free(r);
}

/*
 * With ws->lock held. A coalescing request takes the place of the last
 * one waiting on its req_id if that one coalesces too: it does not
 * count again towards the bound, and order on the req_id is kept.
 */
int
wecom_ws_queue(struct ws_bot *bot, struct ws_req *r)
{
	struct ws_req	*old;

	if (!bot->live)
		return (-1);
	r->bot = bot;
	old = r->coalesce ? ws_last_waiting(bot, r->req_id) : NULL;
	if (old != NULL && old->coalesce) {
		TAILQ_INSERT_BEFORE(old, r, list);
		TAILQ_REMOVE(&bot->waiting, old, list);
		ws_supersede(r, old);
		return (0);
	}
	if (bot->queued >= WS_QUEUE_MAX)
		return (-1);
	TAILQ_INSERT_TAIL(&bot->waiting, r, list);
	bot->queued++;

	return (0);
}

static struct ws_req *
ws_last_waiting(struct ws_bot *bot, const char *req_id)
{
	struct ws_req	*r;

	TAILQ_FOREACH_REVERSE(r, &bot->waiting, ws_reqs, list)
		if (strcmp(r->req_id, req_id) == 0)
			return (r);

	return (NULL);
}

/* old was never sent: its done waits for the outcome of r, oldest first. */
static void
ws_supersede(struct ws_req *r, struct ws_req *old)
{
	TAILQ_CONCAT(&r->superseded, &old->superseded, list);
	if (old->done == NULL) {
		wecom_ws_req_free(old);
		return;
	}
	free(old->frame);
	old->frame = NULL;
	TAILQ_INSERT_TAIL(&r->superseded, old, list);
}

/* With ws->lock held. */
static int
ws_busy(struct ws_bot *bot, const char *req_id)
{
	struct ws_req	*r;

	TAILQ_FOREACH(r, &bot->inflight, list)
		if (strcmp(r->req_id, req_id) == 0)
			return (1);

	return (0);
}

/* The first request waiting whose req_id is free, now in flight. */
struct ws_req *
wecom_ws_take(struct ws_bot *bot)
{
	struct ws_req	*r;

	pthread_mutex_lock(&bot->ws->lock);
	TAILQ_FOREACH(r, &bot->waiting, list)
		if (!ws_busy(bot, r->req_id))
			break;
	if (r != NULL) {
		TAILQ_REMOVE(&bot->waiting, r, list);
		TAILQ_INSERT_TAIL(&bot->inflight, r, list);
	}
	pthread_mutex_unlock(&bot->ws->lock);

	return (r);
}

int
wecom_ws_sendable(struct ws_bot *bot)
{
	struct ws_req	*r;

	pthread_mutex_lock(&bot->ws->lock);
	TAILQ_FOREACH(r, &bot->waiting, list)
		if (!ws_busy(bot, r->req_id))
			break;
	pthread_mutex_unlock(&bot->ws->lock);

	return (r != NULL);
}

/* r goes out now: its ack is due within ack_timeout_ms. */
void
wecom_ws_sent(struct ws_bot *bot, struct ws_req *r)
{
	lws_sul_schedule(bot->ws->ctx, 0, &r->sul, ws_deadline,
	    (lws_usec_t)bot->ws->conf.ack_timeout_ms * LWS_US_PER_MS);
}

static void
ws_deadline(lws_sorted_usec_list_t *sul)
{
	struct ws_req	*r = lws_container_of(sul, struct ws_req, sul);
	struct ws_bot	*bot = r->bot;

	pthread_mutex_lock(&bot->ws->lock);
	TAILQ_REMOVE(&bot->inflight, r, list);
	bot->queued--;
	pthread_mutex_unlock(&bot->ws->lock);
	ws_failed(bot, r, WECOM_WS_TIMEOUT, NULL);
	ws_complete(r, WECOM_WS_TIMEOUT, NULL);
	/* The next request on its req_id may go now. */
	if (bot->wsi != NULL && bot->subscribed && wecom_ws_sendable(bot))
		lws_callback_on_writable(bot->wsi);
}

/* An ack: -1 when nothing in flight has its req_id. */
int
wecom_ws_acked(struct ws_bot *bot, const struct ws_msg *m)
{
	struct ws_req	*r;
	char		*body = NULL;

	pthread_mutex_lock(&bot->ws->lock);
	TAILQ_FOREACH(r, &bot->inflight, list)
		if (strcmp(r->req_id, m->req_id) == 0)
			break;
	if (r != NULL) {
		TAILQ_REMOVE(&bot->inflight, r, list);
		bot->queued--;
	}
	pthread_mutex_unlock(&bot->ws->lock);
	if (r == NULL)
		return (-1);

	lws_sul_cancel(&r->sul);
	if (m->errcode != 0)
		ws_failed(bot, r, m->errcode, m->errmsg);
	if (m->body != NULL)
		body = json_dumps(m->body, JSON_COMPACT | JSON_ENCODE_ANY);
	ws_complete(r, m->errcode, body);
	free(body);
	if (bot->wsi != NULL && bot->subscribed && wecom_ws_sendable(bot))
		lws_callback_on_writable(bot->wsi);

	return (0);
}

static void
ws_failed(struct ws_bot *bot, struct ws_req *r, int errcode,
    const char *errmsg)
{
	struct wecom_ws_state	*st = bot->st;
	const char		*meaning;

	st->acks_failed++;
	st->last_errcode = errcode;
	if (errcode == WECOM_WS_TIMEOUT) {
		(void)snprintf(st->last_error, sizeof(st->last_error),
		    "no ack within %ld ms", bot->ws->conf.ack_timeout_ms);
		wecom_ws_log(bot->ws, LOG_WARNING, "aibot %s: %s on %s: %s",
		    bot->conf->name, r->cmd, r->req_id, st->last_error);
		return;
	}
	meaning = wecom_ws_errstr(errcode);
	if (errmsg == NULL)
		errmsg = "";
	(void)snprintf(st->last_error, sizeof(st->last_error), "%d %s",
	    errcode, meaning != NULL ? meaning : errmsg);
	wecom_ws_log(bot->ws, LOG_WARNING,
	    "aibot %s: %s on %s: errcode %d (%s): %s", bot->conf->name,
	    r->cmd, r->req_id, errcode, meaning != NULL ? meaning : "unknown",
	    errmsg);
}

/* Outside the lock: a done may queue the next request. */
static void
ws_complete(struct ws_req *r, int errcode, const char *body)
{
	struct ws_req	*s;

	if (r->done != NULL)
		r->done(r->arg, errcode, body);
	while ((s = TAILQ_FIRST(&r->superseded)) != NULL) {
		TAILQ_REMOVE(&r->superseded, s, list);
		s->done(s->arg, errcode, body);
		wecom_ws_req_free(s);
	}
	wecom_ws_req_free(r);
}

/*
 * The connection is over: nothing waiting or in flight will be acked,
 * and nothing more is taken. cancel: the deadlines are still scheduled
 * on a live context.
 */
void
wecom_ws_fail_all(struct ws_bot *bot, int cancel)
{
	struct ws_reqs	 gone;
	struct ws_req	*r;

	TAILQ_INIT(&gone);
	pthread_mutex_lock(&bot->ws->lock);
	bot->live = 0;
	TAILQ_CONCAT(&gone, &bot->inflight, list);
	TAILQ_CONCAT(&gone, &bot->waiting, list);
	bot->queued = 0;
	pthread_mutex_unlock(&bot->ws->lock);
	while ((r = TAILQ_FIRST(&gone)) != NULL) {
		TAILQ_REMOVE(&gone, r, list);
		if (cancel)
			lws_sul_cancel(&r->sul);
		ws_complete(r, WECOM_WS_GONE, NULL);
	}
}
