/* SPDX-License-Identifier: ISC */
/*
 * Given a shared store, which server holds each bot's long connection:
 * a lease per bot ("aibot:" bot_id), taken or renewed every few seconds
 * by a thread of its own (libpq blocks; lws must not), and followed by
 * the ws thread, which connects while the lease is ours and closes once
 * it is not, or once it was not renewed in time: a holder cut off from
 * everything must not outlive its lease. A database that does not
 * answer means connecting as without a store, where WeCom's
 * disconnected_event stops a duplicate.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "wecom_store.h"
#include "ws_private.h"

#define LEASE_TTL_S	20	/* the row's life without a renewal */
#define LEASE_EVERY_MS	5000	/* renewals, and the others' tries */
#define LEASE_MARGIN_MS	5000	/* we let go this long before it ends */
#define LEASE_PAUSE_MS	30000	/* after a disconnected_event */
#define LEASE_TICK_MS	1000	/* the ws thread checks the deadlines */

struct ws_lease_bot {
	char		 name[160];	/* "aibot:" bot_id */
	int		 held;
	int		 said;		/* the last answer logged, -9: none */
	int		 need_grant;	/* kicked: the store decides, or none */
	int64_t		 pause_until;
	char		 other[128];
};

struct ws_lease {
	struct wecom_ws		*ws;
	struct wecom_store	*st;
	struct ws_lease_bot	*bots;
	pthread_t		 tid;
	pthread_cond_t		 cond;
	int			 started;
	int			 stop;		/* under ws->lock */
	int			 down;		/* said so */
	char			 holder[128];	/* host:pid:random */
};

static void	*lease_main(void *);
static int	 lease_sleep(struct ws_lease *, long);
static void	 lease_bot(struct ws_lease *, size_t);
static void	 lease_kick(struct ws_lease *, struct ws_bot *, int64_t);
static void	 lease_publish(struct ws_lease *, struct ws_bot *, int,
		    int64_t);
static void	 lease_say(struct ws_lease *, struct ws_bot *, int,
		    const struct wecom_store_lease *);
static void	 lease_down(struct ws_lease *, int);
static void	 lease_release(struct ws_lease *);
static void	 lease_free(struct ws_lease *);
static void	 lease_tick(lws_sorted_usec_list_t *);
static void	 lease_follow(struct ws_bot *);
static int	 lease_named(struct ws_bot *);
static void	 lease_standby(struct ws_bot *, const char *);

/*
 * Before the ws thread starts: every bot waits for its lease. The
 * lease thread itself is started by wecom_ws_lease_run().
 */
int
wecom_ws_lease_start(struct wecom_ws *ws)
{
	struct ws_lease		*l;
	pthread_condattr_t	 ca;
	char			 host[64];
	size_t			 i;

	if (ws->conf.store == NULL)
		return (0);
	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->bots = calloc(ws->nbots, sizeof(*l->bots))) == NULL ||
	    (l->st = wecom_store_new(ws->conf.store)) == NULL) {
		lease_free(l);
		return (-1);
	}
	l->ws = ws;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (gethostname(host, sizeof(host)) == -1)
		(void)snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	/* A new process is a new holder, even with the pid of an old one. */
	(void)snprintf(l->holder, sizeof(l->holder), "%s:%ld:%.8s", host,
	    (long)getpid(), ws->nonce);
	for (i = 0; i < ws->nbots; i++) {
		(void)snprintf(l->bots[i].name, sizeof(l->bots[i].name),
		    "aibot:%s", ws->bots[i].conf->bot_id);
		l->bots[i].said = -9;
		ws->bots[i].standby = 1;
		ws->bots[i].lease_mode = WS_LEASE_ASK;
	}
	ws->lease = l;

	return (0);
}

/* Once the ws thread runs. Without the lease thread, no store. */
void
wecom_ws_lease_run(struct wecom_ws *ws)
{
	struct ws_lease	*l = ws->lease;
	sigset_t	 all, old;
	size_t		 i;
	int		 rc;

	if (l == NULL)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&l->tid, NULL, lease_main, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0) {
		l->started = 1;
		return;
	}
	wecom_ws_log(ws, LOG_ERR, "aibot: cannot start the lease thread: "
	    "the bots connect as without a store");
	pthread_mutex_lock(&ws->lock);
	for (i = 0; i < ws->nbots; i++)
		ws->bots[i].lease_mode = WS_LEASE_FREE;
	if (ws->ready == 1)
		lws_cancel_service(ws->ctx);
	pthread_mutex_unlock(&ws->lock);
}

/* After the ws thread ended: what we hold is given up, then freed. */
void
wecom_ws_lease_stop(struct wecom_ws *ws)
{
	struct ws_lease	*l = ws->lease;

	if (l == NULL)
		return;
	if (l->started) {
		pthread_mutex_lock(&ws->lock);
		l->stop = 1;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&ws->lock);
		pthread_join(l->tid, NULL);
	}
	ws->lease = NULL;
	lease_free(l);
}

static void
lease_free(struct ws_lease *l)
{
	if (l == NULL)
		return;
	if (l->ws != NULL)
		pthread_cond_destroy(&l->cond);
	wecom_store_free(l->st);
	free(l->bots);
	free(l);
}

static void *
lease_main(void *arg)
{
	struct ws_lease	*l = arg;
	size_t		 i;

	do {
		for (i = 0; i < l->ws->nbots; i++)
			lease_bot(l, i);
	} while (lease_sleep(l, LEASE_EVERY_MS) == 0);
	lease_release(l);

	return (NULL);
}

/* 0 after ms, -1 once told to stop. */
static int
lease_sleep(struct ws_lease *l, long ms)
{
	struct timespec	ts;
	int		stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&l->ws->lock);
	while (!l->stop && pthread_cond_timedwait(&l->cond, &l->ws->lock,
	    &ts) != ETIMEDOUT)
		;
	stop = l->stop;
	pthread_mutex_unlock(&l->ws->lock);

	return (stop ? -1 : 0);
}

/* One bot's round: a kick dealt with, then the lease taken or renewed. */
static void
lease_bot(struct ws_lease *l, size_t i)
{
	struct ws_bot			*bot = &l->ws->bots[i];
	struct ws_lease_bot		*lb = &l->bots[i];
	struct wecom_store_lease	 out;
	int64_t				 t0 = wecom_ws_now_ms();
	int				 kicked, rc;

	pthread_mutex_lock(&l->ws->lock);
	kicked = bot->lease_kicked;
	bot->lease_kicked = 0;
	pthread_mutex_unlock(&l->ws->lock);
	if (kicked)
		lease_kick(l, bot, t0);
	if (t0 < lb->pause_until)
		return;
	rc = wecom_store_lease_take(l->st, lb->name, l->holder, LEASE_TTL_S,
	    &out);
	lease_publish(l, bot, rc, t0);
	lease_say(l, bot, rc, &out);
	lb->held = rc == WECOM_STORE_OK;
}

/*
 * Another connection took the bot over: a server without the store, or
 * one cut off from it. Ours is given up, and not asked for again for a
 * while; if the store does not answer then, the bot stays off, as it
 * would without a store.
 */
static void
lease_kick(struct ws_lease *l, struct ws_bot *bot, int64_t now)
{
	struct ws_lease_bot	*lb = &l->bots[bot->idx];

	if (lb->held)
		(void)wecom_store_lease_drop(l->st, lb->name, l->holder);
	lb->held = 0;
	lb->said = -9;
	lb->need_grant = 1;
	lb->pause_until = now + LEASE_PAUSE_MS;
	bot->st->lease = WECOM_WS_LEASE_OTHER;
	bot->st->lease_holder[0] = '\0';
	wecom_ws_log(l->ws, LOG_WARNING, "aibot %s: lease given up after "
	    "disconnected_event; asking again in %d s", bot->conf->name,
	    LEASE_PAUSE_MS / 1000);
}

/* What the ws thread follows: it is woken up to do so. */
static void
lease_publish(struct ws_lease *l, struct ws_bot *bot, int rc, int64_t t0)
{
	struct wecom_ws		*ws = l->ws;
	struct ws_lease_bot	*lb = &l->bots[bot->idx];

	if (rc != WECOM_STORE_ERROR)
		lb->need_grant = 0;
	pthread_mutex_lock(&ws->lock);
	/* A kick since we asked: the next round, not this answer. */
	if (!bot->lease_kicked) {
		bot->lease_mode = rc == WECOM_STORE_ERROR ? (lb->need_grant ?
		    WS_LEASE_ASK : WS_LEASE_FREE) : rc == WECOM_STORE_NONE ?
		    WS_LEASE_OTHER : WS_LEASE_ASK;
		bot->lease_until = rc == WECOM_STORE_OK ?
		    t0 + LEASE_TTL_S * 1000 - LEASE_MARGIN_MS : 0;
	}
	if (ws->ready == 1)
		lws_cancel_service(ws->ctx);
	pthread_mutex_unlock(&ws->lock);
}

/* For /healthz, and a line when the answer changes. */
static void
lease_say(struct ws_lease *l, struct ws_bot *bot, int rc,
    const struct wecom_store_lease *out)
{
	struct ws_lease_bot	*lb = &l->bots[bot->idx];
	struct wecom_ws_state	*st = bot->st;
	const char		*who = out->holder[0] != '\0' ? out->holder :
				    "another server";
	int			 n;

	lease_down(l, rc == WECOM_STORE_ERROR);
	n = (int)(strrchr(who, ':') != NULL ? strrchr(who, ':') - who :
	    (long)strlen(who));
	if (rc == WECOM_STORE_OK)
		st->lease_epoch = out->epoch;
	if (rc == WECOM_STORE_NONE)
		(void)snprintf(st->lease_holder, sizeof(st->lease_holder),
		    "%.*s", n, who);
	st->lease = rc == WECOM_STORE_OK ? WECOM_WS_LEASE_HELD :
	    rc == WECOM_STORE_NONE ? WECOM_WS_LEASE_OTHER :
	    WECOM_WS_LEASE_DOWN;
	if (rc == lb->said && (rc != WECOM_STORE_NONE ||
	    strcmp(lb->other, who) == 0))
		return;
	lb->said = rc;
	(void)snprintf(lb->other, sizeof(lb->other), "%s", who);
	if (rc == WECOM_STORE_OK)
		wecom_ws_log(l->ws, LOG_NOTICE, "aibot %s: this server holds "
		    "the long connection's lease (epoch %lld)",
		    bot->conf->name, (long long)out->epoch);
	else if (rc == WECOM_STORE_NONE)
		wecom_ws_log(l->ws, lb->held ? LOG_WARNING : LOG_NOTICE,
		    "aibot %s: standing by: %.*s holds the long connection",
		    bot->conf->name, n, who);
}

/* Said once each way, for all the bots. */
static void
lease_down(struct ws_lease *l, int down)
{
	if (down == l->down)
		return;
	l->down = down;
	if (down)
		wecom_ws_log(l->ws, LOG_WARNING, "aibot: the store does not "
		    "answer (%s): the bots connect as without one, and "
		    "disconnected_event stops a duplicate",
		    wecom_store_error(l->st));
	else
		wecom_ws_log(l->ws, LOG_NOTICE, "aibot: the store answers: "
		    "each bot connects again only where its lease is held");
}

/* Stopping: the others need not wait for our leases to run out. */
static void
lease_release(struct ws_lease *l)
{
	size_t	i;

	for (i = 0; i < l->ws->nbots; i++)
		if (l->bots[i].held)
			(void)wecom_store_lease_drop(l->st, l->bots[i].name,
			    l->holder);
}

/* The ws thread, once its context is up: the deadlines' tick. */
void
wecom_ws_lease_begin(struct wecom_ws *ws)
{
	size_t	i;

	if (ws->lease == NULL)
		return;
	for (i = 0; i < ws->nbots; i++)
		wecom_ws_status(&ws->bots[i], WECOM_WS_STANDBY);
	lws_sul_schedule(ws->ctx, 0, &ws->sul_lease, lease_tick,
	    (lws_usec_t)LEASE_TICK_MS * LWS_US_PER_MS);
}

static void
lease_tick(lws_sorted_usec_list_t *sul)
{
	struct wecom_ws	*ws;

	ws = lws_container_of(sul, struct wecom_ws, sul_lease);
	wecom_ws_lease_apply(ws);
	if (!ws->stop_begun)
		lws_sul_schedule(ws->ctx, 0, &ws->sul_lease, lease_tick,
		    (lws_usec_t)LEASE_TICK_MS * LWS_US_PER_MS);
}

/* The ws thread, when woken and every tick: each bot follows its lease. */
void
wecom_ws_lease_apply(struct wecom_ws *ws)
{
	size_t	i;

	if (ws->lease == NULL || ws->stop_begun || ws->finished)
		return;
	for (i = 0; i < ws->nbots; i++)
		lease_follow(&ws->bots[i]);
}

static void
lease_follow(struct ws_bot *bot)
{
	if (!wecom_ws_may(bot)) {
		/* Kicked, then another holder named: a standby like any. */
		if (bot->kicked && bot->wsi == NULL && lease_named(bot))
			bot->kicked = 0;
		lease_standby(bot, "this server's lease ended");
		return;
	}
	if (!bot->standby)
		return;
	bot->standby = bot->kicked = 0;
	bot->failures = 0;
	bot->backoff_ms = bot->ws->conf.backoff_min_ms;
	lws_sul_cancel(&bot->sul_retry);
	if (bot->wsi == NULL)
		wecom_ws_connect(bot);
}

/* The store has answered since a kick: another server holds the bot. */
static int
lease_named(struct ws_bot *bot)
{
	int	named;

	pthread_mutex_lock(&bot->ws->lock);
	named = bot->lease_mode == WS_LEASE_OTHER;
	pthread_mutex_unlock(&bot->ws->lock);

	return (named);
}

/* Off until the lease is ours: closed if open, no retry. */
static void
lease_standby(struct ws_bot *bot, const char *why)
{
	if (!bot->standby) {
		bot->standby = 1;
		lws_sul_cancel(&bot->sul_retry);
	}
	if (bot->wsi != NULL && !bot->closing) {
		wecom_ws_log(bot->ws, LOG_NOTICE, "aibot %s: closing: %s",
		    bot->conf->name, why);
		wecom_ws_close(bot, why, 0);
	} else if (bot->wsi == NULL && !bot->kicked)
		wecom_ws_status(bot, WECOM_WS_STANDBY);
}
