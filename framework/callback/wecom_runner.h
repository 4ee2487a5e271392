/* SPDX-License-Identifier: ISC */
/*
 * Private: worker threads for apps whose handlers may block (a capture
 * command, an API call). The event loop hands a decrypted message over
 * and goes on serving; a finished job comes back through an eventfd.
 * A job whose request was already answered (its deadline passed) is
 * "orphaned": its thread sends the reply as a proactive message.
 * The queue is bounded: a full one refuses new jobs (the caller answers
 * 503) rather than growing without end. A request's chore whose client
 * hung up before it started is dropped unrun.
 * No Kore here: the glue in dispatch.c does the sleeping and waking.
 */

#ifndef WECOM_RUNNER_H
#define WECOM_RUNNER_H

#include <sys/queue.h>

#include <stddef.h>

#include "wecom_client.h"

struct wecom_app;
struct wecom_conf;
struct wecom_reply;
struct wecom_runner;
struct wecom_sink;

#define WECOM_JOB_QUEUED	0
#define WECOM_JOB_DONE		1

/* How an orphaned reply fared. */
#define WECOM_JOB_NOT_SENT	0
#define WECOM_JOB_SENT		1
#define WECOM_JOB_SEND_FAILED	2

struct wecom_job {
	/* Set: a chore run on a thread instead of a handler chain. */
	void			(*chore)(struct wecom_job *);
	void			*arg;
	void			(*done)(struct wecom_job *);	/* back */
	/* A request's chore: answers once back; frees arg. */
	int			(*answer)(void *req, struct wecom_job *);
	void			(*release)(void *arg);
	struct wecom_app	*app;
	char			*plain;		/* the decrypted message */
	size_t			 plainlen;
	/* The reply as made, sent from if late, and its plaintext XML. */
	struct wecom_reply	*rec;
	char			*reply;
	size_t			 reply_len;
	const char		*msgtype;	/* for metrics, static */
	/* A bot's: where updates and an orphan's reply go; freed with it. */
	struct wecom_sink	*sink;
	/* A chore's name for the sandbox's log line: "request", path. */
	const char		*kind;
	char			 what[64];
	struct wecom_runner	*runner;	/* set by submit */
	int			 state;
	int			 orphan;	/* answered without it */
	int			 delivery;	/* WECOM_JOB_NOT_SENT … */
	int			 failed;	/* the message did not parse */
	/* Main thread only. */
	void			*owner;		/* the waiting request */
	void			*timer;
	int			 stage;		/* see dispatch.c */
	int			 popped;	/* back from the runner */
	unsigned char		 dkey[20];	/* its dedupe key */
	int			 has_dkey;
	char			 nonce[65];	/* a bot's: its callback's */
	int			 woken;		/* on the woken list */
	int			 kept;		/* retries get its answer */
	TAILQ_ENTRY(wecom_job)	 list;
	TAILQ_ENTRY(wecom_job)	 wlist;
};

struct wecom_runner	*wecom_runner_new(const struct wecom_conf *,
			    int nthreads, int queue_max, wecom_api_observer);
int			 wecom_runner_fd(const struct wecom_runner *);
int			 wecom_runner_submit(struct wecom_runner *,
			    struct wecom_job *);
struct wecom_job	*wecom_runner_done(struct wecom_runner *);
int			 wecom_runner_orphan(struct wecom_runner *,
			    struct wecom_job *);
struct wecom_client	*wecom_runner_client(struct wecom_job *);
/*
 * From the job's thread: its waiting request may answer now (a bot's
 * first stream update). The event loop learns of it through the
 * eventfd and wecom_runner_woken(), before the job is done.
 */
void			 wecom_runner_wake(struct wecom_job *);
struct wecom_job	*wecom_runner_woken(struct wecom_runner *);
void			 wecom_job_free(struct wecom_job *);

#endif
