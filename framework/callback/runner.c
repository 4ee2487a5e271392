/* SPDX-License-Identifier: ISC */
/*
 * Worker threads for apps that may block. Each thread owns its parser
 * and its API clients (neither is shared between threads); the queue
 * and the done list are the only shared state, under one mutex.
 */

#include <sys/eventfd.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom.h"
#include "wecom_activity.h"
#include "wecom_client.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_msg.h"
#include "wecom_reply.h"
#include "wecom_runner.h"
#include "wecom_xml.h"

/* An API client per app, per thread. */
struct runner_client {
	const struct wecom_app		*app;
	struct wecom_client		*client;
	TAILQ_ENTRY(runner_client)	 list;
};

struct runner_thread {
	struct wecom_runner		*r;
	struct wecom_xml		*x;
	TAILQ_HEAD(, runner_client)	 clients;
	pthread_t			 tid;
};

struct wecom_runner {
	const struct wecom_conf		*conf;
	pthread_mutex_t			 lock;
	pthread_cond_t			 cond;
	TAILQ_HEAD(, wecom_job)		 queue;
	TAILQ_HEAD(, wecom_job)		 done;
	TAILQ_HEAD(, wecom_job)		 woken;
	int				 efd;
	wecom_api_observer		 observer;
	int				 nthreads;	/* started so far */
	int				 max;
	int				 idle;
	int				 queued;
	int				 queue_max;
};

/* The thread a chore runs on, for wecom_runner_client(). */
static __thread struct runner_thread	*self;

static void		*runner_main(void *);
static int		 runner_spawn(struct wecom_runner *);
static void		 runner_job(struct runner_thread *, struct wecom_job *);
static void		 runner_run(struct runner_thread *, struct wecom_job *);
static void		 runner_deliver(struct runner_thread *,
			    struct wecom_job *);
static struct wecom_client	*runner_client(struct runner_thread *,
				    const struct wecom_app *);

struct wecom_runner *
wecom_runner_new(const struct wecom_conf *conf, int nthreads, int queue_max,
    wecom_api_observer observer)
{
	struct wecom_runner	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->conf = conf;
	r->observer = observer;
	TAILQ_INIT(&r->queue);
	TAILQ_INIT(&r->done);
	TAILQ_INIT(&r->woken);
	if ((r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    pthread_mutex_init(&r->lock, NULL) != 0 ||
	    pthread_cond_init(&r->cond, NULL) != 0)
		return (NULL);
	r->max = nthreads;
	r->queue_max = queue_max;

	return (r);
}

/*
 * Threads start when work needs them, up to the maximum, and then live
 * as long as the worker: an app that never blocks costs no thread.
 * Called with the lock held.
 */
static int
runner_spawn(struct wecom_runner *r)
{
	struct runner_thread	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return (WECOM_ERROR);
	if ((t->x = wecom_xml_new()) == NULL) {
		free(t);
		return (WECOM_ERROR);
	}
	t->r = r;
	TAILQ_INIT(&t->clients);
	if (pthread_create(&t->tid, NULL, runner_main, t) != 0) {
		wecom_xml_free(t->x);
		free(t);
		return (WECOM_ERROR);
	}
	pthread_detach(t->tid);
	r->nthreads++;

	return (WECOM_OK);
}

int
wecom_runner_fd(const struct wecom_runner *r)
{
	return (r->efd);
}

int
wecom_runner_submit(struct wecom_runner *r, struct wecom_job *job)
{
	int	rc;

	rc = WECOM_ERROR;
	pthread_mutex_lock(&r->lock);
	if (r->idle == 0 && r->nthreads < r->max)
		(void)runner_spawn(r);
	/*
	 * Without any thread the job would wait forever. An orphan's
	 * delivery is never refused: its job was admitted already.
	 */
	if (r->nthreads > 0 && (job->orphan || r->queued < r->queue_max)) {
		job->state = WECOM_JOB_QUEUED;
		job->runner = r;
		r->queued++;
		TAILQ_INSERT_TAIL(&r->queue, job, list);
		pthread_cond_signal(&r->cond);
		rc = WECOM_OK;
	}
	pthread_mutex_unlock(&r->lock);

	return (rc);
}

/* The next finished job, or NULL; the caller reads the eventfd first. */
struct wecom_job *
wecom_runner_done(struct wecom_runner *r)
{
	struct wecom_job	*job;

	pthread_mutex_lock(&r->lock);
	if ((job = TAILQ_FIRST(&r->done)) != NULL) {
		TAILQ_REMOVE(&r->done, job, list);
		/* Done before its wake-up was seen: the wake-up is moot. */
		if (job->woken) {
			TAILQ_REMOVE(&r->woken, job, wlist);
			job->woken = 0;
		}
	}
	pthread_mutex_unlock(&r->lock);

	return (job);
}

void
wecom_runner_wake(struct wecom_job *job)
{
	struct wecom_runner	*r = job->runner;
	uint64_t		 one = 1;

	pthread_mutex_lock(&r->lock);
	if (!job->woken && !job->orphan) {
		job->woken = 1;
		TAILQ_INSERT_TAIL(&r->woken, job, wlist);
	}
	pthread_mutex_unlock(&r->lock);
	(void)write(r->efd, &one, sizeof(one));
}

/* A running job whose request may answer now, or NULL. */
struct wecom_job *
wecom_runner_woken(struct wecom_runner *r)
{
	struct wecom_job	*job;

	pthread_mutex_lock(&r->lock);
	if ((job = TAILQ_FIRST(&r->woken)) != NULL) {
		TAILQ_REMOVE(&r->woken, job, wlist);
		job->woken = 0;
	}
	pthread_mutex_unlock(&r->lock);

	return (job);
}

/*
 * The request gave up waiting. Returns 1 if the job is now orphaned (its
 * thread will send the reply itself), 0 if it had already finished and
 * its reply can still be used.
 */
int
wecom_runner_orphan(struct wecom_runner *r, struct wecom_job *job)
{
	int	orphaned;

	pthread_mutex_lock(&r->lock);
	orphaned = job->state != WECOM_JOB_DONE;
	if (orphaned)
		job->orphan = 1;
	pthread_mutex_unlock(&r->lock);

	return (orphaned);
}

/* From a chore: this thread's API client for the job's app. */
struct wecom_client *
wecom_runner_client(struct wecom_job *job)
{
	return (self != NULL && job->app != NULL ?
	    runner_client(self, job->app) : NULL);
}

void
wecom_job_free(struct wecom_job *job)
{
	if (job == NULL)
		return;
	if (job->release != NULL)
		job->release(job->arg);
	if (job->sink != NULL)
		job->sink->release(job->sink);
	free(job->plain);
	wecom_reply_free(job->rec);
	free(job->reply);
	free(job);
}

static void *
runner_main(void *arg)
{
	struct runner_thread	*t = arg;
	struct wecom_runner	*r = t->r;
	struct wecom_job	*job;
	uint64_t		 one = 1;
	int			 skip;

	self = t;
	for (;;) {
		pthread_mutex_lock(&r->lock);
		r->idle++;
		while ((job = TAILQ_FIRST(&r->queue)) == NULL)
			pthread_cond_wait(&r->cond, &r->lock);
		r->idle--;
		r->queued--;
		TAILQ_REMOVE(&r->queue, job, list);
		/* A request's chore nobody waits for any more. */
		skip = job->chore != NULL && job->answer != NULL && job->orphan;
		pthread_mutex_unlock(&r->lock);

		if (!skip)
			runner_job(t, job);

		/* Orphaned before or while it ran: the reply goes out here. */
		pthread_mutex_lock(&r->lock);
		if (job->orphan && job->reply != NULL) {
			pthread_mutex_unlock(&r->lock);
			runner_deliver(t, job);
			pthread_mutex_lock(&r->lock);
		}
		job->state = WECOM_JOB_DONE;
		TAILQ_INSERT_TAIL(&r->done, job, list);
		pthread_mutex_unlock(&r->lock);

		if (write(r->efd, &one, sizeof(one)) != sizeof(one))
			continue;	/* the counter is already non-zero */
	}

	return (NULL);
}

/* A chore, or a message's handlers, named for the sandbox. */
static void
runner_job(struct runner_thread *t, struct wecom_job *job)
{
	struct wecom_activity	was;

	if (job->chore != NULL) {
		was = wecom_activity_set(job->kind, job->what);
		job->chore(job);
		wecom_activity_restore(was);
	} else if (job->reply == NULL && !job->failed)
		runner_run(t, job);
}

static void
runner_run(struct runner_thread *t, struct wecom_job *job)
{
	struct wecom_msg	msg;
	struct wecom_ctx	ctx;

	if (wecom_callback_load(job->app, t->x, job->plain, job->plainlen,
	    &msg) != WECOM_OK) {
		job->failed = 1;
		return;
	}

	memset(&ctx, 0, sizeof(ctx));
	ctx.app = job->app;
	ctx.msg = &msg;
	ctx.channel = wecom_app_channel(job->app);
	ctx.sink = job->sink;
	if (job->sink != NULL) {
		memcpy(ctx.stream_id, job->sink->stream_id,
		    sizeof(ctx.stream_id));
		if (job->sink->start != NULL)
			job->sink->start(job->sink);
	}
	ctx.client = runner_client(t, job->app);
	ctx.conf = t->r->conf;
	wecom_route_run(&ctx);

	job->rec = ctx.rec;
	job->reply = ctx.reply;
	job->reply_len = ctx.reply_len;
	ctx.rec = NULL;
	ctx.reply = NULL;
	wecom_ctx_reset(&ctx);
}

static void
runner_deliver(struct runner_thread *t, struct wecom_job *job)
{
	struct wecom_client	*c;
	struct wecom_activity	 was;

	if (job->rec != NULL && job->sink != NULL) {
		/* A bot's: its sink knows where the answer goes now. */
		job->delivery = job->sink->push(job->sink, job->rec, job->reply,
		    job->reply_len) == WECOM_OK ? WECOM_JOB_SENT :
		    WECOM_JOB_SEND_FAILED;
		return;
	}
	if (job->rec == NULL || (c = runner_client(t, job->app)) == NULL) {
		job->delivery = WECOM_JOB_SEND_FAILED;
		return;
	}
	was = wecom_activity_set("app", job->app->conf->name);
	job->delivery = wecom_reply_deliver(c, t->r->conf, job->app->conf->name,
	    job->rec) == WECOM_OK ? WECOM_JOB_SENT : WECOM_JOB_SEND_FAILED;
	wecom_activity_restore(was);
}

/* An app without a secret has no client: its handlers get NULL. */
static struct wecom_client *
runner_client(struct runner_thread *t, const struct wecom_app *app)
{
	struct runner_client	*rc;
	struct wecom_api_error	 err;

	TAILQ_FOREACH(rc, &t->clients, list) {
		if (rc->app == app)
			return (rc->client);
	}
	if ((rc = calloc(1, sizeof(*rc))) == NULL)
		return (NULL);
	rc->app = app;
	if (app->conf->secret != NULL)
		rc->client = wecom_client_new(t->r->conf, app->conf->name, &err);
	if (rc->client != NULL && t->r->observer != NULL)
		wecom_client_set_observer(rc->client, t->r->observer,
		    (void *)app);
	TAILQ_INSERT_TAIL(&t->clients, rc, list);

	return (rc->client);
}
