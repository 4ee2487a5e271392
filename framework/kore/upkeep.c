/* SPDX-License-Identifier: ISC */
/*
 * Chores of the first worker, on a handler thread so that the event loop
 * never waits: drain the outbox every outbox_interval_ms, and every
 * watch_interval_ms check that each app's credentials still yield a
 * token and how each bot's long connection fares (/healthz, /status,
 * the credential watch). The outbox's own lock keeps cron's
 * `wecom-send --flush` out of the way.
 */

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <kore/kore.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_app.h"
#include "wecom_metrics.h"
#include "wecom_outbox.h"
#include "wecom_runner.h"
#include "wecom_server.h"
#include "wecom_ws.h"

#define DRAIN_BUDGET_MS		500
#define APPS_MAX		64

struct chore {
	struct wecom_outbox_stats	 stats;
	size_t				 depth;
	long				 oldest;
	long				 failed;	/* -1: not counted */
	int				 check_tokens;
	int				 token_ok[APPS_MAX];
};

static struct wecom_server	*srv;
static struct wecom_runner	*runner;
static int			 running;
static u_int64_t		 last_check;
static long			 last_failed = -1;

static void	upkeep_tick(void *, u_int64_t);
static void	upkeep_done(struct wecom_job *);
static void	upkeep_chore(struct wecom_job *);
static void	upkeep_tokens(struct wecom_job *, struct chore *);
static void	upkeep_bots(void);
static void	upkeep_log(void *, int, const char *);

void
wecom_upkeep_init(struct wecom_server *s, struct wecom_runner *r)
{
	if (worker == NULL || worker->id != 1 || r == NULL)
		return;
	srv = s;
	runner = r;

	kore_timer_add(upkeep_tick, (u_int64_t)s->conf.outbox_interval_ms, NULL,
	    0);
}

/* Main thread: one chore at a time. */
static void
upkeep_tick(void *arg, u_int64_t now)
{
	struct wecom_job	*job;
	struct chore		*ch;

	if (running)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL ||
	    (ch = calloc(1, sizeof(*ch))) == NULL) {
		free(job);
		return;
	}
	if (last_check == 0 || now - last_check >=
	    (u_int64_t)srv->conf.watch_interval_ms) {
		ch->check_tokens = 1;
		last_check = now;
	}
	job->chore = upkeep_chore;
	job->kind = "upkeep";
	job->done = upkeep_done;
	job->arg = ch;
	if (wecom_runner_submit(runner, job) != WECOM_OK) {
		free(ch);
		free(job);
		return;
	}
	running = 1;
}

/* Main thread: the chore is back. */
static void
upkeep_done(struct wecom_job *job)
{
	struct chore			*ch = job->arg;
	struct wecom_metrics		*m = srv->metrics;
	struct wecom_metrics_outbox	 o;
	struct wecom_app		*app;

	if (ch->failed != -1)
		last_failed = ch->failed;
	o.checked = time(NULL);
	o.queued = (int64_t)ch->depth;
	o.failed = last_failed > 0 ? last_failed : 0;
	o.oldest = ch->oldest;
	wecom_metrics_outbox_set(m, &o);
	TAILQ_FOREACH(app, &srv->apps, list) {
		/* One outbox for the host: every app shows its depth. */
		wecom_metrics_gauge(m, app->index, WECOM_G_OUTBOX_DEPTH,
		    (int64_t)ch->depth);
		wecom_metrics_gauge(m, app->index,
		    WECOM_G_OUTBOX_OLDEST_SECONDS, ch->oldest);
		if (ch->check_tokens && app->conf->secret != NULL &&
		    app->index < APPS_MAX)
			wecom_metrics_gauge(m, app->index, WECOM_G_TOKEN_OK,
			    ch->token_ok[app->index]);
	}
	running = 0;
	free(ch);
	free(job);
}

/* A handler thread. */
static void
upkeep_chore(struct wecom_job *job)
{
	struct chore	*ch = job->arg;
	size_t		 n;

	(void)wecom_outbox_drain(&srv->conf, DRAIN_BUDGET_MS, 0, upkeep_log, NULL,
	    &ch->stats);
	(void)wecom_outbox_stats(&srv->conf, &ch->depth, &ch->oldest);
	/* failed/ only grows when a drain gives up: count it then. */
	ch->failed = -1;
	if ((ch->check_tokens || ch->stats.failed > 0 || last_failed == -1) &&
	    wecom_outbox_failed(&srv->conf, &n) == WECOM_API_OK)
		ch->failed = (long)n;
	if (ch->check_tokens) {
		upkeep_tokens(job, ch);
		upkeep_bots();
	}
}

static void
upkeep_tokens(struct wecom_job *job, struct chore *ch)
{
	struct wecom_api_error	 err;
	struct wecom_app	*app;
	struct wecom_client	*c;
	char			 token[WECOM_TOKEN_MAX + 1];

	TAILQ_FOREACH(app, &srv->apps, list) {
		if (app->conf->secret == NULL || app->index >= APPS_MAX)
			continue;
		memset(&err, 0, sizeof(err));
		job->app = app;
		c = wecom_runner_client(job);
		ch->token_ok[app->index] = c != NULL &&
		    wecom_token_get(c, token, sizeof(token), &err) ==
		    WECOM_API_OK;
		wecom_watch_check(app, ch->token_ok[app->index], err.errcode,
		    c == NULL ? WECOM_API_ERR_CONFIG : err.code, time(NULL));
		if (!ch->token_ok[app->index])
			kore_log(LOG_WARNING, "wecom: [app %s] no access token: "
			    "%ld %s%s%s", app->conf->name, err.errcode,
			    err.errmsg, err.hint ? " — " : "",
			    err.hint ? err.hint : "");
	}
	explicit_bzero(token, sizeof(token));
	job->app = NULL;
}

/*
 * A bot's credential is its subscribe: refused is failing, subscribed
 * is working; while it connects or waits to, nothing is known anew.
 */
static void
upkeep_bots(void)
{
	struct wecom_app	*app;
	struct wecom_ws_state	*st;
	size_t			 n;

	n = 0;
	TAILQ_FOREACH(app, &srv->apps, list) {
		if (app->conf->kind != WECOM_KIND_AIBOT || !app->conf->ws)
			continue;
		if (n >= srv->nws)
			break;
		st = &srv->ws_states[n++];
		if (st->status == WECOM_WS_CONNECTED)
			wecom_watch_check(app, 1, 0, 0, time(NULL));
		else if (st->status == WECOM_WS_REFUSED)
			wecom_watch_check(app, 0, st->last_errcode, 0,
			    time(NULL));
	}
}

static void
upkeep_log(void *arg, int priority, const char *line)
{
	if (priority <= LOG_WARNING)
		kore_log(priority, "wecom: outbox: %s", line);
}
