/* SPDX-License-Identifier: ISC */
/*
 * The message log's Kore side: in each worker, a tap that copies what
 * apps and bots with `log = yes` receive and answer into the log's
 * queue (msglog/), the writer thread, retention on worker 1, and
 * GET /api/v1/messages for holders of an API key. The query reads
 * SQLite, or the shared store ([global] store) where every server's
 * rows are, so it runs on a chore thread while the request sleeps.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_msglog.h"
#include "wecom_push.h"
#include "wecom_reply.h"
#include "wecom_runner.h"
#include "wecom_http.h"
#include "wecom_server.h"

#define MESSAGES_PATH		"/api/v1/messages"
#define MESSAGES_BUSY_MS	2000	/* a lock held longer drops a batch */
#define MESSAGES_EXPIRE_MS	(3600 * 1000)

struct messages_job {
	struct wecom_msglog_query	 q;
	char				*base;		/* the links' start */
	json_t				*answer;
	int				 status;
	char				 why[256];
};

/* Per worker, set at start-up; NULL: no app logs. */
static struct wecom_msglog	*mlog;
static struct wecom_server	*srv;
static struct wecom_apikey_list	 keys;

static void	messages_tap(void *, const struct wecom_ctx *);
static void	messages_out(const struct wecom_ctx *, const char *);
static void	messages_expire(void *, u_int64_t);
static void	messages_log(void *, int, const char *);
static const struct wecom_apikey	*messages_key(struct http_request *);
static char	*messages_base(struct http_request *);
static void	messages_chore(struct wecom_job *);
static int	messages_answer(void *, struct wecom_job *);
static void	messages_release(void *);
static int	messages_fail(struct http_request *, int, const char *);

/* In each worker, after the sandbox is up: nothing here opens a file. */
void
wecom_messages_init(struct wecom_server *s)
{
	struct wecom_msglog_opts	 opts;
	const struct wecom_app		*app;
	char				 path[1024], err[256];
	int				 any = 0;

	srv = s;
	TAILQ_FOREACH(app, &s->apps, list)
		any |= app->conf->log;
	if (!any)
		return;
	if (wecom_apikeys_load(&keys, &s->conf, err, sizeof(err)) != 0)
		kore_log(LOG_ERR, "wecom: message log: %s", err);
	memset(&opts, 0, sizeof(opts));
	(void)snprintf(path, sizeof(path), "%s/%s", s->conf.state_dir,
	    WECOM_MSGLOG_FILE);
	opts.path = path;
	opts.busy_ms = MESSAGES_BUSY_MS;
	opts.store = s->conf.store;
	opts.log = messages_log;
	if ((mlog = wecom_msglog_new(&opts)) == NULL ||
	    wecom_msglog_start(mlog) != WECOM_OK ||
	    wecom_tap_add(s, messages_tap, NULL) != WECOM_OK) {
		/* Callbacks go on unrecorded rather than not at all. */
		kore_log(LOG_ERR, "wecom: message log: cannot start; nothing "
		    "will be recorded by this worker");
		return;
	}
	if (worker != NULL && worker->id == 1) {
		wecom_msglog_expire_later(mlog, s->conf.log_days);
		kore_timer_add(messages_expire, MESSAGES_EXPIRE_MS, NULL, 0);
	}
}

/* This worker's counters (each worker has its own), 0 when off. */
void
wecom_messages_stats(uint64_t *logged, uint64_t *dropped)
{
	struct wecom_msglog_stats	st;

	memset(&st, 0, sizeof(st));
	if (mlog != NULL)
		wecom_msglog_stats(mlog, &st);
	*logged = st.logged;
	*dropped = st.dropped;
}

static void
messages_expire(void *arg, u_int64_t now)
{
	wecom_msglog_expire_later(mlog, srv->conf.log_days);
}

/*
 * After an app's handlers, on their thread: what came in and what goes
 * back, copied into the queue. Never waits: a full queue drops.
 */
static void
messages_tap(void *arg, const struct wecom_ctx *ctx)
{
	const struct wecom_msg	*msg = ctx->msg;
	struct wecom_msglog_rec	 rec;
	char			 type[80];

	if (!ctx->app->conf->log || msg == NULL)
		return;
	if (msg->event != NULL)
		(void)snprintf(type, sizeof(type), "event:%s", msg->event);
	else
		(void)snprintf(type, sizeof(type), "%s", msg->msgtype ?
		    msg->msgtype : "unknown");
	memset(&rec, 0, sizeof(rec));
	rec.direction = "in";
	rec.app = ctx->app->conf->name;
	rec.channel = wecom_channel_name(ctx->channel);
	rec.type = type;
	rec.sender = msg->from_user;
	rec.chat = msg->chat_id;
	rec.msgid = msg->msgid;
	rec.content = msg->content;
	rec.xml = msg->xml;
	(void)wecom_msglog_put(mlog, &rec);
	if (ctx->rec != NULL)
		messages_out(ctx, msg->to_user != NULL ? msg->to_user :
		    msg->aibot_id);
}

/* The reply as made; its fields are read from its XML (a bot's JSON). */
static void
messages_out(const struct wecom_ctx *ctx, const char *self)
{
	const struct wecom_reply	*r = ctx->rec;
	struct wecom_msglog_rec		 rec;

	memset(&rec, 0, sizeof(rec));
	rec.direction = "out";
	rec.app = ctx->app->conf->name;
	rec.channel = wecom_channel_name(ctx->channel);
	rec.type = r->type == WECOM_REPLY_STREAM ? "stream" :
	    wecom_reply_msgtype(r->type);
	rec.sender = self;
	rec.chat = ctx->msg->chat_id;
	rec.msgid = ctx->msg->msgid;	/* the message it answers */
	rec.content = r->content;
	rec.doc = ctx->reply;
	rec.doclen = ctx->reply != NULL ? ctx->reply_len : 0;
	rec.doc_json = ctx->channel != WECOM_CHANNEL_APP;
	(void)wecom_msglog_put(mlog, &rec);
}

static void
messages_log(void *arg, int priority, const char *line)
{
	kore_log(priority, "wecom: %s", line);
}

/* 1 if req is the query API's (then *rc is the route's result). */
/* The worker ends: what is queued is written, then the file closes. */
void
wecom_messages_stop(void)
{
	wecom_msglog_free(mlog);
	mlog = NULL;
}

int
wecom_messages_route(struct http_request *req, int *rc)
{
	const struct wecom_apikey	*key;
	struct messages_job		*job;
	int				 status;

	if (strcmp(req->path, MESSAGES_PATH) != 0)
		return (0);
	if (req->method != HTTP_METHOD_GET) {
		http_response_header(req, "allow", "GET");
		*rc = messages_fail(req, 405, "method not allowed");
		return (1);
	}
	if (mlog == NULL) {
		*rc = messages_fail(req, 404, "the message log is off: no app "
		    "or bot has log = yes");
		return (1);
	}
	if ((key = messages_key(req)) == NULL) {
		http_response_header(req, "www-authenticate", "Bearer");
		*rc = messages_fail(req, 401, "missing or wrong API key");
		return (1);
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		*rc = messages_fail(req, 503, "out of memory");
		return (1);
	}
	if ((status = wecom_msglog_params(&job->q, req->query_string,
	    job->why, sizeof(job->why))) != 0 ||
	    (job->base = messages_base(req)) == NULL) {
		*rc = messages_fail(req, status ? status : 503, status ?
		    job->why : "out of memory");
		messages_release(job);
		return (1);
	}
	job->q.scope = key->apps;
	*rc = wecom_dispatch_chore(req, messages_chore, messages_answer,
	    messages_release, job);

	return (1);
}

/* A Bearer token or X-Api-Key; never the query (URLs end up in logs). */
static const struct wecom_apikey *
messages_key(struct http_request *req)
{
	int	given;

	return (wecom_http_apikey(req, &keys, &given));
}

/*
 * Where the links point: the host the caller used and, behind nginx,
 * its scheme. A forged header only misleads the one who forged it.
 */
static char *
messages_base(struct http_request *req)
{
	const char	*host, *proto;
	char		*base;

	if (!http_request_header(req, "host", &host) || strlen(host) > 255 ||
	    host[strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
	    "QRSTUVWXYZ0123456789.-:[]")] != '\0' || *host == '\0')
		return (strdup(MESSAGES_PATH));
	if (!http_request_header(req, "x-forwarded-proto", &proto) ||
	    strcmp(proto, "https") != 0)
		proto = "http";
	if (asprintf(&base, "%s://%s%s", proto, host, MESSAGES_PATH) == -1)
		return (NULL);

	return (base);
}

/* A chore thread: SQLite or the store may wait here, never the loop. */
static void
messages_chore(struct wecom_job *wj)
{
	struct messages_job	*job = wj->arg;

	job->status = wecom_msglog_query(mlog, &job->q, job->base,
	    &job->answer, job->why, sizeof(job->why));
}

static int
messages_answer(void *arg, struct wecom_job *wj)
{
	struct http_request	*req = arg;
	struct messages_job	*job = wj->arg;
	json_t			*o;

	/* The store (or the file) may answer again in a few seconds. */
	if (job->status == 503)
		http_response_header(req, "retry-after", "5");
	if (job->status != 200)
		return (messages_fail(req, job->status, job->why));
	o = job->answer;
	job->answer = NULL;

	return (wecom_http_json(req, 200, o));
}

static void
messages_release(void *arg)
{
	struct messages_job	*job = arg;

	wecom_msglog_query_clear(&job->q);
	json_decref(job->answer);
	free(job->base);
	free(job);
}

/* {"code", "message"} and, for a parameter at fault, its name. */
static int
messages_fail(struct http_request *req, int status, const char *why)
{
	char	name[32];
	size_t	n;

	wecom_http_log(req, status, why);
	n = strcspn(why, ": ");
	if (status == 400 && why[n] == ':' && n < sizeof(name)) {
		(void)snprintf(name, sizeof(name), "%.*s", (int)n, why);
		return (wecom_http_json(req, status, json_pack("{s:i, s:s, "
		    "s:s}", "code", status, "message", why, "parameter",
		    name)));
	}

	return (wecom_http_json(req, status, json_pack("{s:i, s:s}", "code",
	    status, "message", why)));
}
