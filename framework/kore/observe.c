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

/* The process state; its mappings are made here, in the parent. */
static struct wecom_server	*srv;
static struct wecom_netlist	 allow;

static int	observe_allowed(struct http_request *);
static int	observe_metrics(struct http_request *);
static int	observe_healthz(struct http_request *);
static int	observe_window(const struct wecom_conf *,
		    const struct wecom_app_list *);

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
	char	*text;
	size_t	 len;

	if ((text = wecom_metrics_render(srv->metrics, &len)) == NULL)
		return (wecom_http_refuse(req, 500, 0, "metrics"));
	http_response_header(req, "content-type",
	    "text/plain; version=0.0.4; charset=utf-8");
	http_response(req, 200, text, len);
	free(text);

	return (KORE_RESULT_OK);
}

/* Up, and for each app whether its credentials yield a token. */
static int
observe_healthz(struct http_request *req)
{
	struct wecom_app	*app;
	struct kore_buf		 buf;
	const char		*state;
	int64_t			 ok;

	kore_buf_init(&buf, 256);
	kore_buf_appendf(&buf, "ok\n");
	TAILQ_FOREACH(app, &srv->apps, list) {
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
	http_response_header(req, "content-type", "text/plain; charset=utf-8");
	http_response(req, 200, buf.data, buf.offset);
	kore_buf_cleanup(&buf);

	return (KORE_RESULT_OK);
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
