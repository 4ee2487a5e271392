/* SPDX-License-Identifier: ISC */
/*
 * A POSTed callback, from a verified request to its answer. Inline apps
 * answer at once. A threaded app's message goes to a worker thread while
 * the request sleeps; it wakes when the thread is done or when the app's
 * deadline passes, whichever comes first — WeCom never waits past it,
 * and the event loop never waits at all.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_runner.h"
#include "wecom_http.h"
#include "wecom_server.h"
#include "wecom_xml.h"
#include "wecom_aibot.h"

/* A bot's reply carries its callback's nonce; an app's a fresh one. */
#define BOT_NONCE(app, n)	\
	((app)->conf->kind == WECOM_KIND_AIBOT ? (n) : NULL)

/* Per worker: threads for handlers, and for chores (push, relay, upkeep)
 * so a slow WeCom behind those never holds up a callback. */
struct pool {
	struct kore_event	 evt;		/* first: Kore hands it back */
	struct wecom_runner	*runner;
};

static struct pool	handlers;
static struct pool	chores;
static struct wecom_server	*srv;

/* Main-thread state of a job whose request sleeps. */
#define JOB_WAITING	0
#define JOB_FINISHED	1	/* back from its thread */
#define JOB_EXPIRED	2	/* the deadline passed first */

static int	dispatch_threaded(struct http_request *, struct wecom_app *,
		    const struct wecom_query *, const struct wecom_msg *,
		    const char *, size_t, const char *, const unsigned char *);
static int	dispatch_post(struct http_request *, struct wecom_app *,
		    struct wecom_xml *, const struct wecom_query *,
		    const char *, size_t, const unsigned char *);
static int	dispatch_claim(struct http_request *, struct wecom_claim *,
		    const unsigned char *);
static int	dispatch_claimed(void *, struct wecom_job *);
static int	dispatch_refresh(struct http_request *, struct wecom_refresh *);
static int	dispatch_refreshed(void *, struct wecom_job *);
static void	dispatch_reply(struct http_request *, struct wecom_app *,
		    const char *, const char *, size_t);
static int	dispatch_retry(struct http_request *, struct wecom_app *,
		    const struct wecom_query *, const struct wecom_msg *,
		    unsigned char *);
static void	dispatch_answer(struct http_request *, struct wecom_app *,
		    const char *, const unsigned char *, const char *, size_t);
static void	dispatch_expire(struct wecom_job *);
static void	dispatch_expired(struct http_request *, struct wecom_job *);
static void	dispatch_unclaim(const unsigned char *);
static void	dispatch_deadline(void *, u_int64_t);
static void	dispatch_done(void *, int);
static int	dispatch_pool(struct pool *, const struct wecom_conf *, long);
static void	dispatch_finished(struct wecom_job *);
static void	dispatch_detach(struct http_request *);
static void	dispatch_timer_stop(struct wecom_job *);
static int	dispatch_park(struct http_request *, struct wecom_job *,
		    struct wecom_runner *);
static void	chore_done(struct wecom_job *);

/* In each worker: the threads for threaded apps and chores. */
int
wecom_dispatch_init(struct wecom_server *s)
{
	srv = s;
	if (dispatch_pool(&handlers, &s->conf, s->conf.handler_threads) !=
	    WECOM_OK ||
	    dispatch_pool(&chores, &s->conf, s->conf.api_threads) != WECOM_OK)
		return (WECOM_ERROR);
	wecom_upkeep_init(s, chores.runner);
	wecom_claims_init(s, chores.runner);
	wecom_refresh_init(s);

	return (WECOM_OK);
}

static int
dispatch_pool(struct pool *p, const struct wecom_conf *conf, long threads)
{
	if ((p->runner = wecom_runner_new(conf, (int)threads,
	    (int)conf->handler_queue, wecom_observe_api)) == NULL)
		return (WECOM_ERROR);
	p->evt.type = KORE_TYPE_TASK;
	p->evt.handle = dispatch_done;
	kore_platform_schedule_read(wecom_runner_fd(p->runner), &p->evt);

	return (WECOM_OK);
}

int
wecom_dispatch_post(struct http_request *req, struct wecom_app *app,
    struct wecom_xml *x, const struct wecom_query *q, const char *body,
    size_t len)
{
	return (dispatch_post(req, app, x, q, body, len, NULL));
}

/* claimed: the store's retry table made it ours (claims.c) already. */
static int
dispatch_post(struct http_request *req, struct wecom_app *app,
    struct wecom_xml *x, const struct wecom_query *q, const char *body,
    size_t len, const unsigned char *claimed)
{
	struct wecom_result	 res;
	struct wecom_msg	 msg;
	const char		*plain;
	char			*reply;
	size_t			 plainlen, rlen;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];

	if (!wecom_callback_fresh(app, q, time(NULL)))
		return (wecom_http_stale(req, srv->metrics, app));
	if (wecom_callback_open(app, x, q, body, len, &msg, &plain, &plainlen,
	    &res) != WECOM_OK) {
		wecom_metrics_error(srv->metrics, app->index,
		    res.code);
		wecom_http_answer(req, &res);
		return (KORE_RESULT_OK);
	}
	if (claimed != NULL)
		memcpy(key, claimed, sizeof(key));
	else if (wecom_refresh_is(app, &msg))
		return (dispatch_refresh(req, wecom_refresh_new(app, q->nonce,
		    &msg)));
	if (claimed == NULL && (wecom_dispatch_count(app, &msg),
	    dispatch_retry(req, app, q, &msg, key)))
		return (KORE_RESULT_OK);
	if (claimed == NULL && srv->dedupe != NULL && srv->conf.store != NULL)
		return (dispatch_claim(req, wecom_claim_new(app, x, q, body,
		    len, key), key));

	if (app->threaded)
		return (dispatch_threaded(req, app, q, &msg, plain, plainlen,
		    res.msgtype, srv->dedupe ? key : NULL));

	wecom_callback_route(app, &msg, &reply, &rlen);
	dispatch_answer(req, app, BOT_NONCE(app, q->nonce),
	    srv->dedupe ? key : NULL, reply, rlen);
	free(reply);

	return (KORE_RESULT_OK);
}

/* Asks the store whose the callback is; the request sleeps meanwhile. */
static int
dispatch_claim(struct http_request *req, struct wecom_claim *c,
    const unsigned char *key)
{
	if (c == NULL) {
		dispatch_unclaim(key);
		return (wecom_http_refuse(req, 503, 0, "out of memory"));
	}
	return (wecom_dispatch_chore(req, wecom_claim_chore, dispatch_claimed,
	    wecom_claim_free, c));
}

/*
 * Back from the store: ours (or no store: this host decides), so the
 * handlers run; else another server's callback: its reply, or an empty
 * answer while it still runs.
 */
static int
dispatch_claimed(void *arg, struct wecom_job *job)
{
	struct wecom_claim	*c = job->arg;

	if (wecom_claim_ours(c))
		return (dispatch_post(arg, c->app, c->x, &c->q, c->body,
		    c->len, c->dkey));
	dispatch_reply(arg, c->app, BOT_NONCE(c->app, c->q.nonce),
	    c->res.reply, c->res.reply_len);

	return (KORE_RESULT_OK);
}

/* A bot's stream refresh: from this host's table, or the store's. */
static int
dispatch_refresh(struct http_request *req, struct wecom_refresh *r)
{
	if (r == NULL)
		return (wecom_http_refuse(req, 503, 0, "out of memory"));
	if (r->ask_store)
		return (wecom_dispatch_chore(req, wecom_refresh_chore,
		    dispatch_refreshed, wecom_refresh_free, r));
	dispatch_reply(req, r->app, r->nonce, r->answer, r->len);
	wecom_refresh_free(r);

	return (KORE_RESULT_OK);
}

static int
dispatch_refreshed(void *arg, struct wecom_job *job)
{
	struct wecom_refresh	*r = job->arg;

	dispatch_reply(arg, r->app, r->nonce, r->answer, r->len);

	return (KORE_RESULT_OK);
}

/*
 * WeCom's retry of a callback this host has seen (in any worker): the
 * first attempt's reply, sealed afresh, or an empty 200 while it still
 * runs. Returns 1 if answered; else the callback is claimed under key.
 */
static int
dispatch_retry(struct http_request *req, struct wecom_app *app,
    const struct wecom_query *q, const struct wecom_msg *msg,
    unsigned char *key)
{
	char	reply[WECOM_DEDUPE_REPLY_MAX + 1];
	size_t	len;

	if (!wecom_claim_seen(app, msg, key, reply, sizeof(reply), &len))
		return (0);
	dispatch_reply(req, app, BOT_NONCE(app, q->nonce), len > 0 ? reply :
	    NULL, len);

	return (1);
}

/* Remember the reply for retries, then send it. */
static void
dispatch_answer(struct http_request *req, struct wecom_app *app,
    const char *nonce, const unsigned char *key, const char *reply,
    size_t len)
{
	if (key != NULL)
		wecom_claim_keep(key, reply, reply ? len : 0, 0);
	dispatch_reply(req, app, nonce, reply, len);
}

/*
 * Seal and send a reply, or an empty 200 when there is none. A bot's
 * reply carries its callback's nonce (NULL: a fresh one).
 */
static void
dispatch_reply(struct http_request *req, struct wecom_app *app,
    const char *nonce, const char *reply, size_t len)
{
	struct wecom_result	res;

	memset(&res, 0, sizeof(res));
	if (reply != NULL) {
		wecom_callback_seal(app, nonce, reply, len, &res);
		wecom_metrics_inc(srv->metrics, app->index,
		    WECOM_M_REPLIES);
	}
	wecom_http_answer(req, &res);
}

/* The handlers did not run after all: a retry must run them. */
static void
dispatch_unclaim(const unsigned char *key)
{
	if (key != NULL)
		wecom_claim_keep(key, NULL, 0, 1);
}

/* Kore calls the route again once a sleeping request is woken. */
int
wecom_dispatch_resume(struct http_request *req)
{
	struct wecom_job	*job = req->hdlr_extra;
	struct wecom_result	 res;
	int			 rc;

	memset(&res, 0, sizeof(res));
	if (job->stage == JOB_WAITING) {
		http_request_sleep(req);
		return (KORE_RESULT_RETRY);
	}
	if (job->answer != NULL) {
		/* A claim won parks the request again, with its handlers. */
		rc = job->answer(req, job);
		if (req->hdlr_extra == job)
			dispatch_detach(req);
		else
			wecom_job_free(job);
		return (rc);
	}

	/* Expired: an empty 200 now; its thread sends the reply itself. */
	if (job->stage == JOB_FINISHED && !job->failed) {
		dispatch_answer(req, job->app, BOT_NONCE(job->app, job->nonce),
		    job->has_dkey ? job->dkey : NULL, job->reply,
		    job->reply_len);
	} else if (job->sink != NULL && !job->failed) {
		dispatch_expired(req, job);
	} else {
		if (job->failed) {
			res.code = WECOM_ERR_PARSE_XML;
			dispatch_unclaim(job->has_dkey ? job->dkey : NULL);
		}
		wecom_http_answer(req, &res);
	}
	dispatch_detach(req);

	return (KORE_RESULT_OK);
}

/*
 * A bot's callback answered before its handlers finished: the stream
 * so far (empty at first), which WeCom then refreshes; kept for retries.
 */
static void
dispatch_expired(struct http_request *req, struct wecom_job *job)
{
	char	*plain;
	size_t	 len;

	plain = wecom_aibot_stream_answer(srv->streams, job->sink->stream_id,
	    &len);
	job->kept = 1;
	dispatch_answer(req, job->app, job->nonce, job->has_dkey ?
	    job->dkey : NULL, plain, plain ? len : 0);
	free(plain);
}

static int
dispatch_threaded(struct http_request *req, struct wecom_app *app,
    const struct wecom_query *q, const struct wecom_msg *msg,
    const char *plain, size_t plainlen, const char *msgtype,
    const unsigned char *key)
{
	struct wecom_job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->plain = malloc(plainlen + 1)) == NULL) {
		free(job);
		dispatch_unclaim(key);
		return (wecom_http_refuse(req, 503, 0, "out of memory"));
	}
	/* A bot's answers stream through the table (sink_callback.c). */
	if (app->conf->kind == WECOM_KIND_AIBOT && srv->streams != NULL) {
		(void)snprintf(job->nonce, sizeof(job->nonce), "%s", q->nonce);
		job->sink = wecom_aibot_sink_callback(srv->streams, &srv->conf,
		    msg, job);
	}
	memcpy(job->plain, plain, plainlen + 1);
	job->plainlen = plainlen;
	job->app = app;
	job->msgtype = msgtype;
	job->owner = req;
	if (key != NULL) {
		memcpy(job->dkey, key, sizeof(job->dkey));
		job->has_dkey = 1;
	}
	job->timer = kore_timer_add(dispatch_deadline,
	    (u_int64_t)app->deadline_ms, job, KORE_TIMER_ONESHOT);

	if (dispatch_park(req, job, handlers.runner) != WECOM_OK) {
		dispatch_timer_stop(job);
		wecom_job_free(job);
		dispatch_unclaim(key);
		return (wecom_http_refuse(req, 503, 0,
		    "handler threads busy (handler_queue is full)"));
	}

	return (KORE_RESULT_RETRY);
}

/* job to a pool's thread; req sleeps until it is back or detached. */
static int
dispatch_park(struct http_request *req, struct wecom_job *job,
    struct wecom_runner *r)
{
	if (wecom_runner_submit(r, job) != WECOM_OK)
		return (WECOM_ERROR);
	req->hdlr_extra = job;
	req->onfree = dispatch_detach;
	http_request_sleep(req);

	return (WECOM_OK);
}

static void
dispatch_deadline(void *arg, u_int64_t now)
{
	struct wecom_job	*job = arg;

	job->timer = NULL;	/* Kore frees a one-shot timer */
	dispatch_expire(job);
}

/* The deadline passed, or a bot's stream began: answer without it. */
static void
dispatch_expire(struct wecom_job *job)
{
	if (job->stage != JOB_WAITING)
		return;
	if (!wecom_runner_orphan(job->runner, job))
		return;		/* finished meanwhile: the eventfd says so */

	dispatch_timer_stop(job);
	job->stage = JOB_EXPIRED;
	wecom_observe_deferred(job->app, job->sink != NULL);
	if (job->owner != NULL)
		http_request_wakeup(job->owner);
}

/* A pool's eventfd: finished jobs are waiting. */
static void
dispatch_done(void *arg, int error)
{
	struct pool		*p = arg;
	struct wecom_job	*job;
	uint64_t		 n;

	while (read(wecom_runner_fd(p->runner), &n, sizeof(n)) == sizeof(n))
		;
	/* Before the done list: a woken job is still running, never freed. */
	while ((job = wecom_runner_woken(p->runner)) != NULL)
		dispatch_expire(job);
	while ((job = wecom_runner_done(p->runner)) != NULL)
		dispatch_finished(job);
}

static void
dispatch_finished(struct wecom_job *job)
{
	if (job->chore != NULL) {
		job->done(job);
		return;
	}
	job->popped = 1;
	if (job->orphan) {
		/* Its reply went out as a message: retries get nothing more.
		 * (A bot's retries keep getting the stream.) */
		if (job->has_dkey && !job->kept)
			wecom_claim_keep(job->dkey, NULL, 0, 0);
		wecom_observe_delivered(job->app, job->delivery == WECOM_JOB_SENT,
		    job->delivery == WECOM_JOB_SEND_FAILED);
		if (job->owner == NULL)
			wecom_job_free(job);
		return;
	}

	dispatch_timer_stop(job);
	job->stage = JOB_FINISHED;
	if (job->owner != NULL) {
		http_request_wakeup(job->owner);
	} else if (job->reply != NULL) {
		/* The request went away first: deliver the reply. */
		job->orphan = 1;
		job->popped = 0;
		if (wecom_runner_submit(job->runner, job) != WECOM_OK)
			wecom_job_free(job);
	} else {
		/* Nobody to answer, nothing to send: retries get nothing. */
		if (job->has_dkey)
			wecom_claim_keep(job->dkey, NULL, 0, 0);
		wecom_job_free(job);
	}
}

/*
 * The request is answered or freed: the job loses its owner, and is
 * freed here unless its thread still has it (then dispatch_finished()
 * or, for a request's chore, chore_done() frees it). A chore orphaned
 * has no reply to deliver: its thread just hands it back.
 */
static void
dispatch_detach(struct http_request *req)
{
	struct wecom_job	*job = req->hdlr_extra;

	req->hdlr_extra = NULL;
	req->onfree = NULL;
	if (job == NULL)
		return;

	job->owner = NULL;
	dispatch_timer_stop(job);
	if (job->stage == JOB_WAITING) {
		/* Freed while waiting: the reply, if any, goes out later. */
		if (wecom_runner_orphan(job->runner, job))
			job->stage = JOB_EXPIRED;
		return;
	}
	if (job->popped)
		wecom_job_free(job);
}

static void
dispatch_timer_stop(struct wecom_job *job)
{
	if (job->timer != NULL) {
		kore_timer_remove(job->timer);
		job->timer = NULL;
	}
}

/*
 * A message with no request waiting (a bot's, from its long connection)
 * to a handler thread: orphaned from the start, so its thread hands the
 * answer to the sink. The job owns sink from here, and key's claim.
 */
int
wecom_dispatch_detached(struct wecom_app *app, const char *plain,
    size_t len, const char *msgtype, struct wecom_sink *sink,
    const unsigned char *key)
{
	struct wecom_job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (job->plain = malloc(len + 1)) == NULL) {
		free(job);
		sink->release(sink);
		dispatch_unclaim(key);
		return (WECOM_ERROR);
	}
	memcpy(job->plain, plain, len);
	job->plain[len] = '\0';
	job->plainlen = len;
	job->app = app;
	job->msgtype = msgtype;
	job->sink = sink;
	job->orphan = 1;
	job->stage = JOB_EXPIRED;
	if (key != NULL) {
		memcpy(job->dkey, key, sizeof(job->dkey));
		job->has_dkey = 1;
	}
	if (wecom_runner_submit(handlers.runner, job) != WECOM_OK) {
		wecom_job_free(job);
		dispatch_unclaim(key);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/*
 * A request that must block (the push API, the relay) hands the
 * blocking part to a handler thread and sleeps; answer(req, job) runs
 * on the event loop once it is back. arg is released with the job.
 */
int
wecom_dispatch_chore(struct http_request *req,
    void (*chore)(struct wecom_job *), int (*answer)(void *, struct wecom_job *),
    void (*release)(void *), void *arg)
{
	struct wecom_job	*job;

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		release(arg);
		return (wecom_http_refuse(req, 503, 0, "out of memory"));
	}
	job->chore = chore;
	job->done = chore_done;
	job->answer = answer;
	job->release = release;
	job->arg = arg;
	job->owner = req;
	job->kind = "request";
	(void)snprintf(job->what, sizeof(job->what), "%s", req->path);
	if (dispatch_park(req, job, chores.runner) != WECOM_OK) {
		wecom_job_free(job);
		return (wecom_http_refuse(req, 503, 0,
		    "api threads busy (handler_queue is full)"));
	}

	return (KORE_RESULT_RETRY);
}

static void
chore_done(struct wecom_job *job)
{
	job->popped = 1;
	job->stage = JOB_FINISHED;
	if (job->owner != NULL)
		http_request_wakeup(job->owner);
	else
		wecom_job_free(job);
}
