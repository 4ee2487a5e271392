/* SPDX-License-Identifier: ISC */
/*
 * The queue between the callbacks and the database. put() runs on the
 * event loop or a handler thread, after the handlers and before the
 * answer: it copies the entry and returns, or drops it when the queue
 * is full, never waiting for the writer thread or a database. The
 * writer takes what is queued in batches, one transaction each, and in
 * between moves what the file kept for the store (msglog_move.c).
 */

#include <sys/resource.h>
#include <sys/syscall.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "wecom.h"
#include "wecom_activity.h"
#include "wecom_xml.h"
#include "msglog_private.h"

static void	*queue_writer(void *);
static void	queue_report(struct wecom_msglog *);

struct wecom_msglog *
wecom_msglog_new(const struct wecom_msglog_opts *opts)
{
	struct wecom_msglog	*log;

	if ((log = calloc(1, sizeof(*log))) == NULL)
		return (NULL);
	log->opts = *opts;
	if (log->opts.queue_max == 0)
		log->opts.queue_max = WECOM_MSGLOG_QUEUE;
	if (log->opts.bytes_max == 0)
		log->opts.bytes_max = WECOM_MSGLOG_BYTES;
	TAILQ_INIT(&log->queue);
	if ((log->path = strdup(opts->path)) == NULL ||
	    (opts->store != NULL && *opts->store != '\0' &&
	    (log->store = strdup(opts->store)) == NULL) ||
	    (log->x = wecom_xml_new()) == NULL ||
	    pthread_mutex_init(&log->lock, NULL) != 0) {
		wecom_xml_free(log->x);
		free(log->store);
		free(log->path);
		free(log);
		return (NULL);
	}
	pthread_mutex_init(&log->rlock, NULL);
	pthread_cond_init(&log->work, NULL);
	pthread_cond_init(&log->done, NULL);
	log->opts.path = log->path;
	log->opts.store = log->store;
	/* What an earlier run left in the file for the store goes up. */
	log->backlog = log->store != NULL;

	return (log);
}

/* The writer thread; signals stay with the caller's thread (Kore's). */
int
wecom_msglog_start(struct wecom_msglog *log)
{
	sigset_t	all, old;
	int		rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&log->tid, NULL, queue_writer, log);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return (WECOM_ERROR);
	log->started = 1;

	return (WECOM_OK);
}

/* A copy of rec in the queue: WECOM_OK, or WECOM_ERROR when dropped. */
int
wecom_msglog_put(struct wecom_msglog *log, const struct wecom_msglog_rec *rec)
{
	struct msglog_entry	*e;

	e = wecom_msglog_flatten(rec);
	pthread_mutex_lock(&log->lock);
	if (e == NULL || log->queued >= log->opts.queue_max ||
	    log->bytes + e->size > log->opts.bytes_max) {
		log->dropped++;
		log->why = e == NULL ? "out of memory" : "the queue is full";
		pthread_mutex_unlock(&log->lock);
		free(e);
		return (WECOM_ERROR);
	}
	TAILQ_INSERT_TAIL(&log->queue, e, list);
	log->queued++;
	log->bytes += e->size;
	log->accepted++;
	pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->lock);

	return (WECOM_OK);
}

void
wecom_msglog_stats(struct wecom_msglog *log, struct wecom_msglog_stats *st)
{
	pthread_mutex_lock(&log->lock);
	st->logged = log->logged;
	st->dropped = log->dropped;
	st->queued = log->queued;
	pthread_mutex_unlock(&log->lock);
}

void
wecom_msglog_flush(struct wecom_msglog *log)
{
	uint64_t	target;

	pthread_mutex_lock(&log->lock);
	target = log->accepted;
	while (log->started && log->finished < target)
		pthread_cond_wait(&log->done, &log->lock);
	pthread_mutex_unlock(&log->lock);
}

void
wecom_msglog_expire_later(struct wecom_msglog *log, long days)
{
	pthread_mutex_lock(&log->lock);
	log->expire_days = days;
	pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->lock);
}

/* The writer: batches in order, and what was asked in between. */
static void *
queue_writer(void *arg)
{
	struct wecom_msglog	*log = arg;
	struct msglog_queue	 batch;
	struct msglog_entry	*e;
	struct timespec		 ts;
	size_t			 n;
	long			 days;

	(void)wecom_activity_set("message log", "writer");
	/*
	 * Behind the callbacks for the CPU: a saturated worker drops
	 * entries (counted) rather than answering WeCom later.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19);
	pthread_mutex_lock(&log->lock);
	for (;;) {
		while (TAILQ_EMPTY(&log->queue) && !log->stopping &&
		    log->expire_days == 0 && !log->more) {
			/* Wakes once a second to tell of drops, if any. */
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec++;
			if (pthread_cond_timedwait(&log->work, &log->lock,
			    &ts) != 0)
				break;
		}
		if (log->stopping && TAILQ_EMPTY(&log->queue))
			break;
		TAILQ_INIT(&batch);
		for (n = 0; n < MSGLOG_BATCH &&
		    (e = TAILQ_FIRST(&log->queue)) != NULL; n++) {
			TAILQ_REMOVE(&log->queue, e, list);
			TAILQ_INSERT_TAIL(&batch, e, list);
			log->queued--;
			log->bytes -= e->size;
		}
		days = log->expire_days;
		log->expire_days = 0;
		pthread_mutex_unlock(&log->lock);

		if (n > 0)
			wecom_msglog_write(log, &batch, n);
		if (days > 0)
			(void)wecom_msglog_expire(log, (int64_t)time(NULL) -
			    (int64_t)days * 86400);
		if (log->backlog)
			wecom_msglog_move(log);
		queue_report(log);

		pthread_mutex_lock(&log->lock);
		log->finished += n;
		pthread_cond_broadcast(&log->done);
	}
	pthread_mutex_unlock(&log->lock);
	wecom_store_thread_end();

	return (NULL);
}

/* Drops since the last report, told at most once a minute. */
static void
queue_report(struct wecom_msglog *log)
{
	uint64_t	 dropped, logged;
	const char	*why;
	time_t		 now;

	now = time(NULL);
	pthread_mutex_lock(&log->lock);
	dropped = log->dropped;
	logged = log->logged;
	why = log->why;
	pthread_mutex_unlock(&log->lock);
	if (dropped == log->told || (log->told_at != 0 &&
	    now - log->told_at < MSGLOG_REPORT_S))
		return;

	wecom_msglog_tell(log, LOG_WARNING, "dropped %llu (last: %s); since "
	    "start %llu dropped, %llu written",
	    (unsigned long long)(dropped - log->told), why ? why : "?",
	    (unsigned long long)dropped, (unsigned long long)logged);
	log->told = dropped;
	log->told_at = now;
}

/* What is queued is written first; then every connection closes. */
void
wecom_msglog_free(struct wecom_msglog *log)
{
	struct msglog_entry	*e;

	if (log == NULL)
		return;
	if (log->started) {
		pthread_mutex_lock(&log->lock);
		log->stopping = 1;
		pthread_cond_signal(&log->work);
		pthread_mutex_unlock(&log->lock);
		pthread_join(log->tid, NULL);
	}
	while ((e = TAILQ_FIRST(&log->queue)) != NULL) {
		TAILQ_REMOVE(&log->queue, e, list);
		free(e);
	}
	sqlite3_close(log->db);
	sqlite3_close(log->spare);
	wecom_xml_free(log->x);
	pthread_mutex_destroy(&log->lock);
	pthread_mutex_destroy(&log->rlock);
	pthread_cond_destroy(&log->work);
	pthread_cond_destroy(&log->done);
	/* Its password, as the store's own copy is. */
	if (log->store != NULL)
		explicit_bzero(log->store, strlen(log->store));
	free(log->store);
	free(log->path);
	free(log);
}
