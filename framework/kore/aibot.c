/* SPDX-License-Identifier: ISC */
/*
 * Bots on long connections. The first worker holds them, one socket per
 * bot for the whole host (a second would kick the first); when that
 * worker dies, Kore starts it anew and the new one reconnects. Given
 * [global] store, one socket per bot for all the servers on it: each
 * connects only the bots whose lease it holds (aibot/ws_lease.c). The
 * sockets live on a thread of their own (aibot/ws.c); what they receive
 * comes here through an eventfd and is routed like a callback: inline
 * apps on the event loop, threaded ones on the handler threads, with a
 * sink that sends the answers back on the message's req_id. Their
 * states live in shared memory, made in the parent, for /healthz and
 * /metrics in every worker.
 */

#include <sys/mman.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <kore/kore.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_shm.h"
#include "wecom_xml.h"
#include "wecom_aibot.h"
#include "wecom_ws.h"
#include "wecom_server.h"

#define BOTS_MAX	64

struct aibot {
	struct kore_event	 evt;		/* first: Kore hands it back */
	struct wecom_server	*srv;
	struct wecom_ws		*ws;
	struct wecom_xml	*x;
	struct wecom_app	*apps[BOTS_MAX];
	struct wecom_ws_bot	 bots[BOTS_MAX];
	const char		*names[BOTS_MAX];
	size_t			 n;
};

static struct aibot	aibot;

static void	aibot_event(void *, int);
static void	aibot_in(struct aibot *, struct wecom_ws_in *);
static void	aibot_inline(struct wecom_app *, const struct wecom_msg *,
		    struct wecom_sink *);
static void	aibot_log(int, const char *);
static const char	*aibot_proxy(void);

/* In the parent: the shared states of the long connections. */
int
wecom_aibot_preload(struct wecom_server *s)
{
	const struct wecom_app_conf	*bot;
	size_t				 sz;

	s->nws = 0;
	TAILQ_FOREACH(bot, &s->conf.bots, list)
		s->nws += bot->ws;
	if (s->nws == 0)
		return (WECOM_OK);
	if (s->nws > BOTS_MAX)
		return (WECOM_ERROR);
	sz = s->nws * sizeof(*s->ws_states);
	if ((s->ws_states = wecom_shm_map(&sz)) == NULL)
		return (WECOM_ERROR);

	return (WECOM_OK);
}

/* In each worker: the first one connects its host's bots. */
void
wecom_aibot_init(struct wecom_server *s)
{
	struct wecom_ws_conf		 wc;
	struct wecom_app		*app;
	struct wecom_aibot_sender	*sender;
	struct aibot			*a = &aibot;

	if (s->nws == 0 || worker == NULL || worker->id != 1)
		return;
	a->srv = s;
	TAILQ_FOREACH(app, &s->apps, list) {
		if (wecom_app_channel(app) != WECOM_CHANNEL_AIBOT_WS)
			continue;
		a->apps[a->n] = app;
		a->names[a->n] = app->conf->name;
		a->bots[a->n].name = app->conf->name;
		a->bots[a->n].url = app->conf->ws_url;
		a->bots[a->n].bot_id = app->conf->bot_id;
		a->bots[a->n++].secret = app->conf->bot_secret;
	}
	memset(&wc, 0, sizeof(wc));
	wc.ca_pem = s->conf.ca_pem;
	wc.ca_len = s->conf.ca_len;
	wc.proxy = aibot_proxy();
	wc.ping_ms = s->conf.aibot_ping_ms;
	wc.ack_timeout_ms = 5000;
	wc.backoff_min_ms = 1000;
	wc.backoff_max_ms = 30000;
	wc.log = aibot_log;
	/* Several servers on one store: each bot where its lease is held. */
	wc.store = s->conf.store;
	if ((a->x = wecom_xml_new()) == NULL ||
	    (a->ws = wecom_ws_start(&wc, a->bots, a->n, s->ws_states)) ==
	    NULL) {
		kore_log(LOG_ERR, "wecom: cannot start the bots' long "
		    "connections: they stay down until this worker restarts");
		return;
	}
	a->evt.type = KORE_TYPE_TASK;
	a->evt.handle = aibot_event;
	kore_platform_schedule_read(wecom_ws_fd(a->ws), &a->evt);
	/* The outbox's drain (upkeep.c, this worker) sends bots' messages. */
	if ((sender = wecom_aibot_sender_new(a->ws, a->names, a->n)) != NULL)
		s->conf.aibot_send = wecom_aibot_sender_outbox(sender);
}

/* The ws thread has callbacks for us. */
static void
aibot_event(void *arg, int error)
{
	struct aibot		*a = arg;
	struct wecom_ws_in	*in;
	uint64_t		 n;

	while (read(wecom_ws_fd(a->ws), &n, sizeof(n)) == sizeof(n))
		;
	while ((in = wecom_ws_next(a->ws)) != NULL) {
		aibot_in(a, in);
		wecom_ws_in_free(in);
	}
}

/* One callback, as a callback over HTTP would go, answered on its req_id. */
static void
aibot_in(struct aibot *a, struct wecom_ws_in *in)
{
	struct wecom_server	*s = a->srv;
	struct wecom_app	*app = a->apps[in->bot];
	struct wecom_sink	*sink;
	struct wecom_msg	 msg;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN], *k;
	char			 buf[8];
	size_t			 len;

	if (wecom_callback_load(app, a->x, in->body, in->len, &msg) !=
	    WECOM_OK) {
		kore_log(LOG_WARNING, "wecom: [aibot %s] %s: %s",
		    app->conf->name, in->cmd, wecom_xml_error(a->x));
		wecom_metrics_error(s->metrics, app->index, WECOM_ERR_PARSE_XML);
		return;
	}
	wecom_dispatch_count(app, &msg);
	/* WeCom delivers again what it thinks was lost: run it once. */
	k = NULL;
	if (s->dedupe != NULL) {
		wecom_dedupe_key(app->conf->name, &msg, key);
		if (wecom_dedupe_begin(s->dedupe, key, time(NULL), buf,
		    sizeof(buf), &len) != WECOM_DEDUPE_NEW) {
			wecom_metrics_inc(s->metrics, app->index,
			    WECOM_M_DUPLICATES);
			return;
		}
		k = key;
	}
	if ((sink = wecom_aibot_sink_ws(a->ws, in->bot, in->req_id, &msg)) ==
	    NULL)
		kore_log(LOG_WARNING, "wecom: [aibot %s] out of memory",
		    app->conf->name);
	else if (app->threaded) {
		if (wecom_dispatch_detached(app, in->body, in->len,
		    msg.msgtype, sink, k) != WECOM_OK)
			kore_log(LOG_WARNING, "wecom: [aibot %s] handler "
			    "threads busy (handler_queue is full): message "
			    "dropped", app->conf->name);
		return;
	} else
		aibot_inline(app, &msg, sink);
	if (k != NULL)
		wecom_dedupe_finish(s->dedupe, k, time(NULL), NULL, 0);
}

static void
aibot_inline(struct wecom_app *app, const struct wecom_msg *msg,
    struct wecom_sink *sink)
{
	struct wecom_ctx	ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.app = app;
	ctx.msg = msg;
	ctx.channel = WECOM_CHANNEL_AIBOT_WS;
	ctx.conf = &aibot.srv->conf;
	ctx.sink = sink;
	wecom_route_run(&ctx);
	if (ctx.rec != NULL && sink->push(sink, ctx.rec, ctx.reply,
	    ctx.reply_len) == WECOM_OK)
		wecom_metrics_inc(aibot.srv->metrics, app->index,
		    WECOM_M_REPLIES);
	wecom_ctx_reset(&ctx);
	sink->release(sink);
}

/* https_proxy as curl reads it: lowercase first. */
static const char *
aibot_proxy(void)
{
	const char	*p;

	if ((p = getenv("https_proxy")) == NULL || *p == '\0')
		p = getenv("HTTPS_PROXY");

	return (p != NULL && *p != '\0' ? p : NULL);
}

static void
aibot_log(int prio, const char *line)
{
	kore_log(prio, "wecom: %s", line);
}
