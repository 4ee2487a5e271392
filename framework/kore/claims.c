/* SPDX-License-Identifier: ISC */
/*
 * WeCom's retries across servers ([global] store): before a callback's
 * handlers run, its key is claimed in the store's retry table, on a
 * chore thread (libpq blocks; the event loop must not), while the
 * request sleeps. dispatch.c asks and acts on the answer; this file
 * holds what crosses to the thread and back, and talks to the store.
 * A store that does not answer leaves the callback to this host's own
 * table: it runs here, as without a store.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_runner.h"
#include "wecom_server.h"
#include "wecom_store.h"

/* A claim unanswered this long belongs to a server that died. */
#define CLAIM_RUNNING_S		WECOM_DEDUPE_RUNNING_TTL_DEFAULT
/* One keep in this many also clears claims older than an hour. */
#define CLAIM_PRUNE_EVERY	256
#define CLAIM_KEEP_S		3600

/* What a kept reply carries to its thread. */
struct claim_keep {
	char	 key[WECOM_DEDUPE_KEY_LEN * 2 + 1];
	char	*reply;			/* NULL: none; forget: the claim */
	int	 forget;
};

static struct wecom_server	*srv;
static struct wecom_runner	*chores;

static void			 claim_hex(const unsigned char *, char *);
static void			*claim_keep_new(const unsigned char *,
				    const char *, size_t, int);
static void			 claim_keep_chore(struct wecom_job *);
static void			 claim_keep_done(struct wecom_job *);
static void			 claim_keep_free(void *);

void
wecom_claims_init(struct wecom_server *s, struct wecom_runner *r)
{
	srv = s;
	chores = r;
}

/*
 * A retry this host has seen (in any worker): 1, and the first
 * attempt's reply in reply (len 0: none yet, or none at all). Else 0,
 * and the callback is claimed here under key.
 */
int
wecom_claim_seen(struct wecom_app *app, const struct wecom_msg *msg,
    unsigned char *key, char *reply, size_t size, size_t *len)
{
	int	rc;

	*len = 0;
	if (srv->dedupe == NULL)
		return (0);
	wecom_dedupe_key(app->conf->name, msg, key);
	rc = wecom_dedupe_begin(srv->dedupe, key, time(NULL), reply, size,
	    len);
	if (rc == WECOM_DEDUPE_NEW)
		return (0);
	if (rc != WECOM_DEDUPE_DONE)
		*len = 0;
	wecom_metrics_inc(srv->metrics, app->index, WECOM_M_DUPLICATES);

	return (1);
}

/*
 * Back on the event loop: 1 if the handlers run here (the claim is
 * ours, or the store did not answer and this host decides); else a
 * retry of another server's callback: counted, and kept in this host's
 * table so that later retries here are answered without the store.
 */
int
wecom_claim_ours(struct wecom_claim *c)
{
	if (c->rc != WECOM_STORE_OK || c->res.first)
		return (1);
	wecom_metrics_inc(srv->metrics, c->app->index, WECOM_M_DUPLICATES);
	if (c->res.answered)
		wecom_dedupe_finish(srv->dedupe, c->dkey, time(NULL),
		    c->res.reply, c->res.reply_len);
	else
		wecom_dedupe_forget(srv->dedupe, c->dkey);

	return (0);
}

/*
 * What retries of key get, here and in the store (from a chore thread:
 * the event loop never waits on it); forget: the handlers never ran.
 */
void
wecom_claim_keep(const unsigned char *key, const char *reply, size_t len,
    int forget)
{
	struct wecom_job	*job;

	if (forget)
		wecom_dedupe_forget(srv->dedupe, key);
	else
		wecom_dedupe_finish(srv->dedupe, key, time(NULL), reply, len);
	if (srv->conf.store == NULL || (job = calloc(1, sizeof(*job))) == NULL)
		return;
	job->chore = claim_keep_chore;
	job->done = claim_keep_done;
	job->kind = "store";
	if ((job->arg = claim_keep_new(key, reply, len, forget)) == NULL) {
		free(job);
		return;
	}
	job->release = claim_keep_free;
	if (wecom_runner_submit(chores, job) != WECOM_OK)
		wecom_job_free(job);
}

static void
claim_keep_done(struct wecom_job *job)
{
	wecom_job_free(job);
}

struct wecom_claim *
wecom_claim_new(struct wecom_app *app, struct wecom_xml *x,
    const struct wecom_query *q, const char *body, size_t len,
    const unsigned char *key)
{
	struct wecom_claim	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->body = malloc(len + 1)) == NULL) {
		free(c);
		return (NULL);
	}
	memcpy(c->body, body, len);
	c->body[len] = '\0';
	c->len = len;
	c->app = app;
	c->x = x;
	snprintf(c->sig, sizeof(c->sig), "%s", q->signature);
	snprintf(c->ts, sizeof(c->ts), "%s", q->timestamp);
	snprintf(c->nonce, sizeof(c->nonce), "%s", q->nonce);
	c->q.signature = c->sig;
	c->q.timestamp = c->ts;
	c->q.nonce = c->nonce;
	memcpy(c->dkey, key, sizeof(c->dkey));

	return (c);
}

void
wecom_claim_free(void *arg)
{
	struct wecom_claim	*c = arg;

	free(c->res.reply);
	free(c->body);
	free(c);
}

/* On a chore thread: ours, theirs (answered or not), or no store. */
void
wecom_claim_chore(struct wecom_job *job)
{
	struct wecom_claim	*c = job->arg;
	struct wecom_store	*st;
	char			 hex[WECOM_DEDUPE_KEY_LEN * 2 + 1];

	claim_hex(c->dkey, hex);
	st = wecom_store_thread(srv->conf.store);
	c->rc = st == NULL ? WECOM_STORE_ERROR : wecom_store_retry_claim(st,
	    hex, (int)srv->conf.dedupe_window, CLAIM_RUNNING_S, &c->res);
}

/* A reply (NULL: none) to keep for retries, or a claim to give up. */
static void *
claim_keep_new(const unsigned char *key, const char *reply,
    size_t len, int forget)
{
	struct claim_keep	*k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return (NULL);
	claim_hex(key, k->key);
	k->forget = forget;
	if (reply != NULL && (k->reply = strndup(reply, len)) == NULL) {
		free(k);
		return (NULL);
	}

	return (k);
}

static void
claim_keep_chore(struct wecom_job *job)
{
	static __thread unsigned int	 n;
	struct claim_keep		*k = job->arg;
	struct wecom_store		*st;

	if ((st = wecom_store_thread(srv->conf.store)) == NULL)
		return;
	if (k->forget)
		(void)wecom_store_retry_forget(st, k->key);
	else
		(void)wecom_store_retry_finish(st, k->key, k->reply);
	if (++n % CLAIM_PRUNE_EVERY == 0)
		(void)wecom_store_retry_prune(st, CLAIM_KEEP_S);
}

static void
claim_keep_free(void *arg)
{
	struct claim_keep	*k = arg;

	free(k->reply);
	free(k);
}

static void
claim_hex(const unsigned char *key, char *hex)
{
	size_t	i;

	for (i = 0; i < WECOM_DEDUPE_KEY_LEN; i++)
		snprintf(hex + i * 2, 3, "%02x", key[i]);
}
