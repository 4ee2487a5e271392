/* SPDX-License-Identifier: ISC */
/*
 * GET /status: one small page a person can read on a phone — for every
 * app, bot and robot its channel, whether its credential works, its
 * long connection, its last hour minute by minute; the outbox, the
 * retry table and the last refusals. GET /status.json says the same to
 * a program (wecom-admin status). No script: HTML and inline SVG, every
 * name escaped, as config sections may hold any character but ']'.
 * Everything comes from the shared mappings, so any worker answers.
 * For peers in metrics_allow (behind a local proxy, the client it names
 * in X-Real-IP) or callers with a push API key as a Bearer token.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_client.h"
#include "wecom_config.h"
#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_netlist.h"
#include "wecom_push.h"
#include "wecom_http.h"
#include "wecom_server.h"
#include "wecom_status.h"
#include "wecom_ws.h"

static struct wecom_server	*srv;
static struct wecom_netlist	 allow;
static struct wecom_apikey_list	 keys;
static char			*json_path;

static int	status_allowed(struct http_request *);
static int	status_snapshot(struct wecom_status *);
static void	status_app(struct wecom_status_app *, const struct wecom_app *,
		    int64_t);
static int	status_json(struct http_request *, struct wecom_status *,
		    const struct timespec *);
static json_t	*status_json_app(const struct wecom_status_app *, int64_t);
static json_t	*status_json_host(const struct wecom_status *);
static json_t	*status_str(const char *);
static void	status_timing(struct http_request *, const struct timespec *);

static const char *const ws_names[] = {
	"connecting", "connected", "reconnecting", "kicked", "refused",
	"stopped", "standby"
};

/* In the parent: who may look, and the JSON's path beside the page's. */
int
wecom_status_init(struct wecom_server *s, char *err, size_t errlen)
{
	const struct wecom_conf_section	*g;

	srv = s;
	g = wecom_conf_section(&s->conf, "global", "");
	if (wecom_netlist_conf(&allow, g, "metrics_allow",
	    s->conf.metrics_allow, err, errlen) != WECOM_CONF_OK)
		return (WECOM_ERROR);
	if (wecom_apikeys_load(&keys, &s->conf, err, errlen) != 0)
		return (WECOM_ERROR);
	if (asprintf(&json_path, "%s.json", s->conf.status_path) == -1) {
		snprintf(err, errlen, "out of memory");
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/* KORE_RESULT_OK if the path was ours, KORE_RESULT_ERROR if not. */
int
wecom_status_http(struct http_request *req)
{
	struct wecom_status	 st;
	struct timespec		 t0;
	struct kore_buf		 buf;
	int			 json, ok;

	json = strcmp(req->path, json_path) == 0;
	if (!json && strcmp(req->path, srv->conf.status_path) != 0)
		return (KORE_RESULT_ERROR);
	if (req->method != HTTP_METHOD_GET) {
		http_response_header(req, "allow", "GET");
		wecom_http_refuse(req, 405, 0, "method not allowed");
		return (KORE_RESULT_OK);
	}
	if ((ok = status_allowed(req)) != 200) {
		if (ok == 401)
			http_response_header(req, "www-authenticate", "Bearer");
		wecom_http_refuse(req, ok, 0, ok == 401 ? "wrong API key" :
		    "not in metrics_allow, and no API key");
		return (KORE_RESULT_OK);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (status_snapshot(&st) == -1) {
		wecom_http_refuse(req, 500, 0, "out of memory");
		return (KORE_RESULT_OK);
	}
	http_response_header(req, "cache-control", "no-store");
	if (json) {
		status_json(req, &st, &t0);
	} else {
		kore_buf_init(&buf, 16384 + st.napps * 2048);
		wecom_status_html(&buf, &st);
		http_response_header(req, "content-type",
		    "text/html; charset=utf-8");
		/* Inline style and SVG only: nothing may run. */
		http_response_header(req, "content-security-policy",
		    "default-src 'none'; style-src 'unsafe-inline'");
		http_response_header(req, "x-content-type-options", "nosniff");
		status_timing(req, &t0);
		http_response(req, 200, buf.data, buf.offset);
		kore_buf_cleanup(&buf);
	}
	free(st.apps);

	return (KORE_RESULT_OK);
}

/*
 * 200, or the status to refuse with: the client in metrics_allow (the
 * one a local proxy names in X-Real-IP, else the peer), or a push API
 * key. Only as a Bearer token: a key in the URL would reach logs.
 */
static int
status_allowed(struct http_request *req)
{
	const char	*h;
	unsigned char	 addr[16];
	int		 family;

	if (wecom_http_origin(req, &family, addr) == 0) {
		if (wecom_netlist_match(&allow, family, addr))
			return (200);
	} else if (wecom_http_peer(req) == NULL &&
	    !http_request_header(req, "x-real-ip", &h)) {
		/* A unix socket naming no client is local by nature. */
		return (200);
	}
	if (http_request_header(req, "authorization", &h) &&
	    strncasecmp(h, "Bearer ", 7) == 0)
		return (wecom_apikey_find(&keys, h + 7) != NULL ? 200 : 401);

	return (403);
}

/* Server-Timing: how long the page took, in ms, for tests and curl -I. */
static void
status_timing(struct http_request *req, const struct timespec *t0)
{
	struct timespec	t1;
	char		v[48];
	double		ms;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
	(void)snprintf(v, sizeof(v), "render;dur=%.3f", ms);
	http_response_header(req, "server-timing", v);
}

/* Everything the page shows, copied out of the shared mappings. */
static int
status_snapshot(struct wecom_status *st)
{
	const struct wecom_conf_section	*s;
	struct wecom_app		*app;
	size_t				 n;

	memset(st, 0, sizeof(*st));
	st->conf = &srv->conf;
	st->now = time(NULL);
	TAILQ_FOREACH(app, &srv->apps, list)
		st->napps++;
	if (st->napps > 0 &&
	    (st->apps = calloc(st->napps, sizeof(*st->apps))) == NULL)
		return (-1);
	n = 0;
	TAILQ_FOREACH(app, &srv->apps, list)
		status_app(&st->apps[n++], app, st->now);
	TAILQ_FOREACH(s, &srv->conf.sections, list)
		if (strcmp(s->type, "robot") == 0 &&
		    st->nrobots < WECOM_STATUS_ROBOTS)
			st->robots[st->nrobots++] = s->name;
	wecom_metrics_outbox_get(srv->metrics, &st->outbox);
	st->dedupe_on = srv->dedupe != NULL;
	wecom_dedupe_stats(srv->dedupe, &st->dedupe);
	st->nrefusals = wecom_metrics_refusals(srv->metrics, st->refusals,
	    WECOM_METRICS_REFUSALS);

	return (0);
}

static void
status_app(struct wecom_status_app *a, const struct wecom_app *app,
    int64_t now)
{
	const struct wecom_app_conf	*c = app->conf, *bot;
	size_t				 i, k;
	int				 h;

	a->app = app;
	if (c->kind == WECOM_KIND_AIBOT)
		a->channel = c->ws ? "aibot websocket" : "aibot callback";
	else
		a->channel = c->path == NULL ? "send-only app" : "app";
	a->credential = c->kind == WECOM_KIND_AIBOT ? c->ws :
	    c->secret != NULL;
	wecom_metrics_check_get(srv->metrics, app->index, &a->check);
	for (h = 0; h < WECOM_H_NSERIES; h++)
		a->sum[h] = wecom_metrics_history(srv->metrics, app->index, h,
		    now, a->minutes[h]);
	if (c->kind != WECOM_KIND_AIBOT || !c->ws)
		return;
	/* The i-th long connection is the i-th websocket bot of conf. */
	k = 0;
	TAILQ_FOREACH(bot, &srv->conf.bots, list) {
		if (bot == c)
			break;
		k += bot->ws;
	}
	if (k >= srv->nws)
		return;
	/* Plain stores by the ws thread: a copy may be torn, never long. */
	a->ws = srv->ws_states[k];
	a->ws.last_error[sizeof(a->ws.last_error) - 1] = '\0';
	a->has_ws = 1;
	i = (size_t)a->ws.status;
	a->ws_status = i < sizeof(ws_names) / sizeof(ws_names[0]) ?
	    ws_names[i] : "?";
}

static int
status_json(struct http_request *req, struct wecom_status *st,
    const struct timespec *t0)
{
	json_t	*o, *apps;
	size_t	 i;

	o = status_json_host(st);
	apps = json_array();
	for (i = 0; i < st->napps; i++)
		json_array_append_new(apps, status_json_app(&st->apps[i],
		    st->now));
	json_object_set_new(o, "apps", apps);
	status_timing(req, t0);

	return (wecom_http_json(req, 200, o));
}

static json_t *
status_json_host(const struct wecom_status *st)
{
	const struct wecom_metrics_refusal	*r;
	json_t					*o, *a;
	size_t					 i;

	o = json_pack("{s:s, s:I, s:{s:o, s:o, s:I}}", "version",
	    WECOM_VERSION, "time", (json_int_t)st->now, "watch", "robot",
	    status_str(st->conf->watch_robot), "app",
	    status_str(st->conf->watch_app), "interval_ms",
	    (json_int_t)st->conf->watch_interval_ms);
	json_object_set_new(o, "outbox", json_pack("{s:I, s:I, s:I, s:I}",
	    "checked", (json_int_t)st->outbox.checked, "queued",
	    (json_int_t)st->outbox.queued, "failed",
	    (json_int_t)st->outbox.failed, "oldest_age",
	    (json_int_t)st->outbox.oldest));
	json_object_set_new(o, "dedupe", !st->dedupe_on ? json_null() :
	    json_pack("{s:I, s:I, s:I, s:I, s:i}", "entries",
	    (json_int_t)st->dedupe.entries, "used",
	    (json_int_t)st->dedupe.used, "claims",
	    (json_int_t)st->dedupe.claims, "evicted",
	    (json_int_t)st->dedupe.evicted, "window", st->dedupe.window));
	a = json_array();
	for (i = 0; i < st->nrobots; i++)
		json_array_append_new(a, json_pack("{s:o}", "name",
		    status_str(st->robots[i])));
	json_object_set_new(o, "robots", a);
	a = json_array();
	for (i = 0; i < st->nrefusals; i++) {
		r = &st->refusals[i];
		json_array_append_new(a, json_pack("{s:I, s:o, s:o, s:o, s:i, "
		    "s:o}", "time", (json_int_t)r->time, "peer",
		    status_str(r->peer), "method", status_str(r->method),
		    "path", status_str(r->path), "status", r->status, "reason",
		    status_str(r->why)));
	}
	json_object_set_new(o, "refusals", a);

	return (o);
}

static json_t *
status_json_app(const struct wecom_status_app *a, int64_t now)
{
	static const char *const	 series[WECOM_H_NSERIES] = {
					    "callbacks", "replies", "errors" };
	const struct wecom_metrics_check	*c = &a->check;
	json_t				*o, *hour, *min, *v;
	int				 h, i;

	o = json_pack("{s:o, s:s}", "name", status_str(a->app->conf->name),
	    "channel", a->channel);
	v = json_null();
	if (a->credential && c->checked != 0)
		v = json_pack("{s:I, s:I, s:o, s:I, s:o, s:I, s:o, s:I}",
		    "checked", (json_int_t)c->checked, "age",
		    (json_int_t)(now - c->checked), "ok", c->ok == -1 ?
		    json_null() : json_boolean(c->ok == 1), "errcode",
		    (json_int_t)c->errcode, "hint",
		    status_str(wecom_status_hint(c)), "since",
		    (json_int_t)c->since, "failing_since", c->ok == 0 ?
		    json_integer(c->since) : json_null(), "alerts",
		    (json_int_t)c->alerts);
	else if (a->credential)
		v = json_pack("{s:n}", "checked");
	json_object_set_new(o, "credential", v);
	json_object_set_new(o, "connection", !a->has_ws ? json_null() :
	    json_pack("{s:s, s:I, s:I, s:I, s:i, s:o}", "status",
	    a->ws_status, "since", (json_int_t)a->ws.since, "connects",
	    (json_int_t)a->ws.connects, "drops", (json_int_t)a->ws.drops,
	    "last_errcode", a->ws.last_errcode, "last_error",
	    status_str(a->ws.last_error)));
	hour = json_object();
	min = json_object();
	for (h = 0; h < WECOM_H_NSERIES; h++) {
		json_object_set_new(hour, series[h],
		    json_integer((json_int_t)a->sum[h]));
		v = json_array();
		for (i = 0; i < WECOM_METRICS_MINUTES; i++)
			json_array_append_new(v, json_integer(a->minutes[h][i]));
		json_object_set_new(min, series[h], v);
	}
	json_object_set_new(o, "last_hour", hour);
	json_object_set_new(o, "minutes", min);

	return (o);
}

/* A JSON string, or null; bytes that are not UTF-8 become '?'. */
static json_t *
status_str(const char *s)
{
	json_t	*v;
	char	*copy;

	if (s == NULL)
		return (json_null());
	if ((v = json_string(s)) != NULL)
		return (v);
	if ((copy = strdup(s)) == NULL)
		return (json_null());
	wecom_status_utf8(copy);
	v = json_string(copy);
	free(copy);

	return (v != NULL ? v : json_null());
}
