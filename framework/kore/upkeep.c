/* SPDX-License-Identifier: ISC */
/*
 * Chores of the first worker, on a handler thread so that the event loop
 * never waits: drain the outbox every outbox_interval_ms, and check once
 * a minute that each app's credentials still yield a token (/healthz).
 * The outbox's own lock keeps cron's `wecom-send --flush` out of the way.
 */

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <kore/kore.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_app.h"
#include "wecom_metrics.h"
#include "wecom_outbox.h"
#include "wecom_runner.h"
#include "wecom_server.h"

#define TOKEN_CHECK_MS		60000
#define DRAIN_BUDGET_MS		500
#define APPS_MAX		64

struct chore {
	struct wecom_outbox_stats	 stats;
	size_t				 depth;
	long				 oldest;
	int				 check_tokens;
	int				 token_ok[APPS_MAX];
};

static struct wecom_server	*srv;
static struct wecom_runner	*runner;
static int			 running;
static u_int64_t		 last_check;

static void	upkeep_tick(void *, u_int64_t);
static void	upkeep_done(struct wecom_job *);
static void	upkeep_chore(struct wecom_job *);
static void	upkeep_tokens(struct wecom_job *, struct chore *);
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
	if (last_check == 0 || now - last_check >= TOKEN_CHECK_MS) {
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
	struct chore		*ch = job->arg;
	struct wecom_metrics	*m = srv->metrics;
	struct wecom_app	*app;

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

	(void)wecom_outbox_drain(&srv->conf, DRAIN_BUDGET_MS, 0, upkeep_log, NULL,
	    &ch->stats);
	(void)wecom_outbox_stats(&srv->conf, &ch->depth, &ch->oldest);
	if (ch->check_tokens)
		upkeep_tokens(job, ch);
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
		if (!ch->token_ok[app->index])
			kore_log(LOG_WARNING, "wecom: [app %s] no access token: "
			    "%ld %s%s%s", app->conf->name, err.errcode,
			    err.errmsg, err.hint ? " — " : "",
			    err.hint ? err.hint : "");
	}
	explicit_bzero(token, sizeof(token));
	job->app = NULL;
}

static void
upkeep_log(void *arg, int priority, const char *line)
{
	if (priority <= LOG_WARNING)
		kore_log(priority, "wecom: outbox: %s", line);
}
