/* SPDX-License-Identifier: ISC */
/*
 * What the workers share and what the server says about itself: the
 * retry table and the counters (shared memory, made in the parent before
 * the fork), GET /metrics (Prometheus text) and GET /healthz, both only
 * for peers in metrics_allow (default: this host).
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_config.h"
#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_netlist.h"
#include "wecom_http.h"
#include "wecom_server.h"
#include "wecom_ws.h"

/* The process state; its mappings are made here, in the parent. */
static struct wecom_server	*srv;
static struct wecom_netlist	 allow;

static int	observe_allowed(struct http_request *);
static int	observe_metrics(struct http_request *);
static int	observe_healthz(struct http_request *);
static int	observe_window(const struct wecom_conf *,
		    const struct wecom_app_list *);
static void	observe_bot(struct kore_buf *, const struct wecom_app *,
		    const struct wecom_ws_state *);
static void	observe_bot_metrics(struct kore_buf *);
static void	observe_store_metrics(struct kore_buf *);
static const char	*observe_ws_name(size_t);
static void		 observe_push(struct kore_buf *);

static const char *const ws_status[] = {
	"connecting", "connected", "reconnecting", "kicked (another "
	"connection took the bot)", "refused (bot_id or secret)", "stopped",
	"standby"
};

int
wecom_observe_init(struct wecom_server *s, char *err, size_t errlen)
{
	const struct wecom_conf		*conf = &s->conf;
	const struct wecom_conf_section	*g;
	const char			*names[64];
	struct wecom_app		*app;
	size_t				 n;

	srv = s;
	g = wecom_conf_section(conf, "global", "");
	/* The default comes with the conf, from its schema. */
	if (wecom_netlist_conf(&allow, g, "metrics_allow",
	    conf->metrics_allow, err, errlen) != WECOM_CONF_OK)
		return (WECOM_ERROR);

	n = 0;
	TAILQ_FOREACH(app, &s->apps, list) {
		if (n == sizeof(names) / sizeof(names[0]))
			break;
		names[n++] = app->conf->name;
	}
	if ((s->metrics = wecom_metrics_new(names, n)) == NULL) {
		snprintf(err, errlen, "cannot map the metrics");
		return (WECOM_ERROR);
	}
	wecom_http_init(s->metrics);

	if (conf->dedupe_window > 0 && (s->dedupe = wecom_dedupe_new(
	    (size_t)conf->dedupe_entries, observe_window(conf, &s->apps),
	    WECOM_DEDUPE_RUNNING_TTL_DEFAULT)) == NULL) {
		snprintf(err, errlen, "cannot map the retry table (dedupe_entries "
		    "from 1 to %d)", WECOM_DEDUPE_ENTRIES_MAX);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/*
 * A callback is remembered as long as any app would still accept it:
 * a replay within timestamp_window but past dedupe_window would run its
 * handlers again.
 */
static int
observe_window(const struct wecom_conf *conf, const struct wecom_app_list *list)
{
	const struct wecom_app	*app;
	long			 w;

	w = conf->dedupe_window;
	TAILQ_FOREACH(app, list, list) {
		if (app->window > w)
			w = app->window;
	}

	return ((int)w);
}

/* The API clients' observer (any thread): calls by errcode, tokens. */
void
wecom_observe_api(void *arg, const char *path, long errcode)
{
	const struct wecom_app	*app = arg;

	wecom_metrics_api(srv->metrics, app->index, errcode);
	if (strcmp(path, "gettoken") == 0 && errcode == 0)
		wecom_metrics_inc(srv->metrics, app->index,
		    WECOM_M_TOKEN_REFRESHES);
}

/* KORE_RESULT_OK if the path was ours, KORE_RESULT_ERROR if not. */
int
wecom_observe_http(struct http_request *req)
{
	if (strcmp(req->path, srv->conf.metrics_path) != 0 &&
	    strcmp(req->path, srv->conf.healthz_path) != 0)
		return (KORE_RESULT_ERROR);

	if (req->method != HTTP_METHOD_GET) {
		http_response_header(req, "allow", "GET");
		wecom_http_refuse(req, 405, 0, "method not allowed");
	} else if (!observe_allowed(req)) {
		wecom_http_refuse(req, 403, 0, "not in metrics_allow");
	} else if (strcmp(req->path, srv->conf.metrics_path) == 0) {
		observe_metrics(req);
	} else {
		observe_healthz(req);
	}

	return (KORE_RESULT_OK);
}

static int
observe_metrics(struct http_request *req)
{
	struct kore_buf	 buf;
	char		*text;
	size_t		 len;

	if ((text = wecom_metrics_render(srv->metrics, &len)) == NULL)
		return (wecom_http_refuse(req, 500, 0, "metrics"));
	kore_buf_init(&buf, len + 1024);
	kore_buf_append(&buf, text, len);
	free(text);
	observe_bot_metrics(&buf);
	observe_store_metrics(&buf);
	http_response_header(req, "content-type",
	    "text/plain; version=0.0.4; charset=utf-8");
	http_response(req, 200, buf.data, buf.offset);
	kore_buf_cleanup(&buf);

	return (KORE_RESULT_OK);
}

/* The store's counters, every worker's (server.c maps them). */
static void
observe_store_metrics(struct kore_buf *b)
{
	if (srv->store_counts == NULL)
		return;
	kore_buf_appendf(b, "# HELP wecom_store_fallbacks_total Calls "
	    "answered from this host's own state: the store did not "
	    "answer.\n# TYPE wecom_store_fallbacks_total counter\n"
	    "wecom_store_fallbacks_total %llu\n"
	    "# HELP wecom_store_outages_total Times a process of this server "
	    "found the store unreachable.\n# TYPE wecom_store_outages_total "
	    "counter\nwecom_store_outages_total %llu\n",
	    (unsigned long long)wecom_store_count(WECOM_STORE_FALLBACKS),
	    (unsigned long long)wecom_store_count(WECOM_STORE_OUTAGES));
}

/* The long connections, from their shared states. */
static void
observe_bot_metrics(struct kore_buf *b)
{
	const struct wecom_ws_state	*st;
	size_t				 i;

	if (srv->nws == 0)
		return;
	kore_buf_appendf(b, "# HELP wecom_aibot_connected 1 while a bot's "
	    "long connection is subscribed.\n# TYPE wecom_aibot_connected "
	    "gauge\n# HELP wecom_aibot_connects_total Subscribes that "
	    "succeeded.\n# TYPE wecom_aibot_connects_total counter\n"
	    "# HELP wecom_aibot_drops_total Connections lost or closed "
	    "for unanswered pings.\n# TYPE wecom_aibot_drops_total counter\n"
	    "# HELP wecom_aibot_acks_failed_total Requests WeCom refused or "
	    "did not ack.\n# TYPE wecom_aibot_acks_failed_total counter\n"
	    "# HELP wecom_aibot_last_errcode The last errcode WeCom gave.\n"
	    "# TYPE wecom_aibot_last_errcode gauge\n"
	    "# HELP wecom_aibot_lease_held 1 while this server holds the "
	    "bot's lease in the store.\n# TYPE wecom_aibot_lease_held gauge\n");
	for (i = 0; i < srv->nws; i++) {
		st = &srv->ws_states[i];
		kore_buf_appendf(b, "wecom_aibot_connected{bot=\"%s\"} %d\n"
		    "wecom_aibot_connects_total{bot=\"%s\"} %llu\n"
		    "wecom_aibot_drops_total{bot=\"%s\"} %llu\n"
		    "wecom_aibot_acks_failed_total{bot=\"%s\"} %llu\n"
		    "wecom_aibot_last_errcode{bot=\"%s\"} %d\n"
		    "wecom_aibot_lease_held{bot=\"%s\"} %d\n",
		    observe_ws_name(i), st->status == WECOM_WS_CONNECTED,
		    observe_ws_name(i), (unsigned long long)st->connects,
		    observe_ws_name(i), (unsigned long long)st->drops,
		    observe_ws_name(i), (unsigned long long)st->acks_failed,
		    observe_ws_name(i), st->last_errcode,
		    observe_ws_name(i), st->lease == WECOM_WS_LEASE_HELD);
	}
}

/* Up, and for each app whether its credentials yield a token. */
static int
observe_healthz(struct http_request *req)
{
	struct wecom_app	*app;
	struct kore_buf		 buf;
	const char		*state;
	int64_t			 ok;
	size_t			 n;

	kore_buf_init(&buf, 256);
	kore_buf_appendf(&buf, "ok\n");
	n = 0;
	TAILQ_FOREACH(app, &srv->apps, list) {
		if (app->conf->kind == WECOM_KIND_AIBOT) {
			observe_bot(&buf, app, app->conf->ws ?
			    &srv->ws_states[n++] : NULL);
			continue;
		}
		ok = wecom_metrics_get_gauge(srv->metrics, app->index,
		    WECOM_G_TOKEN_OK);
		if (app->conf->secret == NULL)
			state = "no secret (callbacks only)";
		else
			state = ok == 1 ? "ok" : ok == 0 ? "failing" :
			    "not checked yet";
		kore_buf_appendf(&buf, "app %s: token %s\n", app->conf->name,
		    state);
	}
	observe_push(&buf);
	http_response_header(req, "content-type", "text/plain; charset=utf-8");
	http_response(req, 200, buf.data, buf.offset);
	kore_buf_cleanup(&buf);

	return (KORE_RESULT_OK);
}

/* "push API: 2 keys; 10 sent, 1 queued, 3 refused, 0 failed". */
static void
observe_push(struct kore_buf *b)
{
	const struct wecom_conf_section	*s;
	size_t				 n;

	n = 0;
	TAILQ_FOREACH(s, &srv->conf.sections, list)
		n += strcmp(s->type, "apikey") == 0;
	if (n == 0)
		return;
	kore_buf_appendf(b, "push API: %zu keys; %lld sent, %lld queued, "
	    "%lld refused, %lld failed\n", n,
	    (long long)wecom_metrics_push_get(srv->metrics, 0),
	    (long long)wecom_metrics_push_get(srv->metrics, 1),
	    (long long)wecom_metrics_push_get(srv->metrics, 2),
	    (long long)wecom_metrics_push_get(srv->metrics, 3));
}

/* "aibot helper: websocket connected since …, 3 connects, 1 drop". */
static void
observe_bot(struct kore_buf *b, const struct wecom_app *app,
    const struct wecom_ws_state *st)
{
	char		since[32];
	time_t		t;
	struct tm	tm;

	if (st == NULL) {
		kore_buf_appendf(b, "aibot %s: callbacks at %s\n",
		    app->conf->name, app->conf->path);
		return;
	}
	t = (time_t)st->since;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		since[0] = '\0';
	kore_buf_appendf(b, "aibot %s: websocket %s", app->conf->name,
	    (size_t)st->status < sizeof(ws_status) / sizeof(ws_status[0]) ?
	    ws_status[st->status] : "?");
	/* With a store: whose lease, when not ours. */
	if (st->lease == WECOM_WS_LEASE_OTHER && st->lease_holder[0] != '\0')
		kore_buf_appendf(b, " (held by %.63s)", st->lease_holder);
	else if (st->lease == WECOM_WS_LEASE_DOWN)
		kore_buf_appendf(b, " (the store is down)");
	kore_buf_appendf(b, " since %s, %llu connects, %llu drops", since,
	    (unsigned long long)st->connects, (unsigned long long)st->drops);
	if (st->last_errcode != 0)
		kore_buf_appendf(b, ", last error %.96s", st->last_error);
	kore_buf_appendf(b, "\n");
}

/* The name of the i-th long connection, in conf->bots' order. */
static const char *
observe_ws_name(size_t i)
{
	const struct wecom_app_conf	*bot;

	TAILQ_FOREACH(bot, &srv->conf.bots, list) {
		if (bot->ws && i-- == 0)
			return (bot->name);
	}

	return ("?");
}

static int
observe_allowed(struct http_request *req)
{
	const void	*a;

	/* A unix socket is local by nature. */
	if ((a = wecom_http_peer(req)) == NULL)
		return (1);

	return (wecom_netlist_match(&allow, req->owner->family, a));
}

/* A callback, by type: "text", "image" … or "event:click". */
void
wecom_dispatch_count(struct wecom_app *app, const struct wecom_msg *msg)
{
	char	type[64];

	if (msg->event != NULL) {
		snprintf(type, sizeof(type), "event:%s", msg->event);
		wecom_metrics_callback(srv->metrics, app->index, type);
	} else
		wecom_metrics_callback(srv->metrics, app->index, msg->msgtype);
}

/*
 * The request was answered without the handlers: an app's reply follows
 * as a message; a bot's answer streams (that is no overrun).
 */
void
wecom_observe_deferred(struct wecom_app *app, int streams)
{
	if (streams)
		return;
	wecom_metrics_inc(srv->metrics, app->index, WECOM_M_DEFERRED);
	kore_log(LOG_NOTICE, "wecom: [app %s] handlers overran deadline_ms "
	    "(%ld): answered empty, the reply follows as a message",
	    app->conf->name, app->deadline_ms);
}

/* How that late reply fared. */
void
wecom_observe_delivered(struct wecom_app *app, int sent, int failed)
{
	wecom_metrics_inc(srv->metrics, app->index, sent ?
	    WECOM_M_DEFERRED_DELIVERED : WECOM_M_DEFERRED_FAILED);
	if (failed)
		kore_log(LOG_WARNING, "wecom: [app %s] a late reply could not "
		    "be sent as a message", app->conf->name);
}
