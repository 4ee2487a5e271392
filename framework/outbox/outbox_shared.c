/* SPDX-License-Identifier: ISC */
/*
 * The outbox in the shared store ([global] store, docs/ha.md): put
 * writes the record there, and every drainer of every server claims
 * one due row at a time for a lease, sends it outside any transaction
 * and settles it only if the claim is still its own. A drainer killed
 * mid-send leaves its row to the next claimer after the lease, inside
 * message/send's duplicate check. A store that does not answer sends
 * put to this host's files, which every drain still empties first.
 *
 * One store handle per thread, kept for the thread's life: the
 * server's chore and API threads would otherwise connect at each call.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "client_private.h"
#include "outbox_private.h"
#include "wecom_store.h"

/* The lease outlives a send and its retries by this. */
#define LEASE_MARGIN_S		10
#define PRUNE_EVERY_MS		(10 * 60 * 1000)
#define CLAIM_POLL_MS		20

static __thread int64_t	tl_pruned;

static int	claim_record(struct outbox_drain *, struct wecom_store_outbox *,
		    struct outbox_record *);
static void	settle(struct outbox_drain *, struct wecom_store *,
		    struct outbox_record *, const char *, const char *, long);
static int	shared_attempt(struct outbox_drain *, struct wecom_store *,
		    struct wecom_store_outbox *);
static void	shared_outcome(struct outbox_drain *, struct wecom_store *,
		    struct outbox_record *, int, struct wecom_send_result *,
		    struct wecom_api_error *);
static int64_t	mono_ms(void);
static int	can_serve(const struct wecom_conf *);

/* This thread's handle to conf's store, or NULL: none set. */
struct wecom_store *
wecom_outbox_store(const struct wecom_conf *conf)
{
	return (wecom_store_thread(conf->store));
}

/* Long enough for one send with all its retries. */
long
wecom_outbox_lease_s(const struct wecom_conf *conf)
{
	return ((conf->retry_max_ms + conf->timeout_ms) / 1000 +
	    LEASE_MARGIN_S);
}

/*
 * The record into the store. WECOM_API_OK: there (or there already);
 * WECOM_API_ERR_UNAVAILABLE: no store, or it does not answer: the
 * caller keeps it in this host's files.
 */
int
wecom_outbox_shared_put(const struct wecom_conf *conf,
    const struct outbox_record *r, const char *s)
{
	struct wecom_store	*st;

	if ((st = wecom_outbox_store(conf)) == NULL ||
	    wecom_store_outbox_put(st, r->key, s, r->aibot != NULL ||
	    r->forward != NULL) == WECOM_STORE_ERROR)
		return (WECOM_API_ERR_UNAVAILABLE);

	return (WECOM_API_OK);
}

static int64_t
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* A bot's and a forward's rows are only a server's to claim. */
static int
can_serve(const struct wecom_conf *conf)
{
	return (conf->aibot_send != NULL || conf->forward_send != NULL);
}

/*
 * Due rows, one claim at a time, until max (<= 0: no limit) or the
 * budget (ms of the monotonic clock, 0: none) is spent.
 */
void
wecom_outbox_shared_drain(struct outbox_drain *dr, int64_t deadline, int max)
{
	struct wecom_store_outbox	 o;
	struct wecom_store		*st;
	int				 n, rc;

	if ((st = wecom_outbox_store(dr->conf)) == NULL)
		return;
	if (tl_pruned == 0 || mono_ms() - tl_pruned >= PRUNE_EVERY_MS) {
		/* Sent keys are kept as done/ keeps them: twice the age. */
		if (wecom_store_outbox_prune(st, 2 * dr->conf->outbox_max_age)
		    == WECOM_STORE_OK)
			tl_pruned = mono_ms();
	}
	for (n = 0; max <= 0 || n < max; n++) {
		if (deadline > 0 && mono_ms() >= deadline)
			break;
		if ((rc = wecom_store_outbox_claim(st, NULL,
		    wecom_outbox_lease_s(dr->conf), can_serve(dr->conf), &o)) !=
		    WECOM_STORE_OK) {
			dr->st->store_failed |= rc == WECOM_STORE_ERROR;
			break;
		}
		rc = shared_attempt(dr, st, &o);
		wecom_store_outbox_clear(&o);
		if (rc != WECOM_API_OK)
			break;
	}
}

/* Counted with this host's files: queued and the oldest, failed. */
void
wecom_outbox_shared_count(const struct wecom_conf *conf, size_t *queued,
    long *oldest_s, size_t *failed)
{
	struct wecom_store	*st;
	size_t			 q, f;
	long			 o;

	if ((st = wecom_outbox_store(conf)) == NULL ||
	    wecom_store_outbox_count(st, &q, &o, &f) != WECOM_STORE_OK)
		return;
	if (queued != NULL)
		*queued += q;
	if (oldest_s != NULL && o > *oldest_s)
		*oldest_s = o;
	if (failed != NULL)
		*failed += f;
}

/*
 * The claimed row's record, its interruptions counted as a file's are
 * (outbox_attempt.c): an attempt each, failed at the third.
 */
static int
claim_record(struct outbox_drain *dr, struct wecom_store_outbox *o,
    struct outbox_record *r)
{
	char	what[256];

	if (wecom_outbox_record_decode(r, o->record, strlen(o->record)) !=
	    WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);
	if (o->interrupted <= r->interrupted)
		return (WECOM_API_OK);
	dr->st->recovered++;
	r->attempts += o->interrupted - r->interrupted;
	r->interrupted = o->interrupted;
	r->inflight = wecom_outbox_now_ms();
	wecom_outbox_record_describe(r, what, sizeof(what));
	wecom_outbox_log(dr, r->interrupted >= OUTBOX_INTERRUPT_MAX ?
	    LOG_ERR : LOG_WARNING, "%s (%s): a drainer stopped while sending "
	    "it (%d time%s); %s", r->key, what, r->interrupted,
	    r->interrupted == 1 ? "" : "s",
	    r->interrupted >= OUTBOX_INTERRUPT_MAX ? "failed: it may have "
	    "been delivered" : "sending it again");

	return (WECOM_API_OK);
}

/* Our claim's outcome, the record as it now stands; a lost claim said. */
static void
settle(struct outbox_drain *dr, struct wecom_store *st,
    struct outbox_record *r, const char *state, const char *done,
    long delay_ms)
{
	char	*s;

	if ((s = wecom_outbox_record_encode(r)) == NULL) {
		/* Left claimed: the next claimer sends it after the lease. */
		wecom_outbox_log(dr, LOG_ERR, "%s: out of memory", r->key);
		return;
	}
	if (wecom_store_outbox_settle(st, r->key, state, s, done, delay_ms) ==
	    WECOM_STORE_NONE)
		wecom_outbox_log(dr, LOG_WARNING, "%s: its claim ran out "
		    "while it was sent: another drainer has it", r->key);
	free(s);
}

/*
 * One claimed row: sent, queued again after a backoff, or failed.
 * WECOM_API_ERR_UNAVAILABLE: its destination keeps failing: the row is
 * given back as it was and this drain stops.
 */
static int
shared_attempt(struct outbox_drain *dr, struct wecom_store *st,
    struct wecom_store_outbox *o)
{
	struct outbox_record		 r;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct outbox_dest		*dst;
	int				 rc;

	if (claim_record(dr, o, &r) != WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "%s: not a record: failed",
		    o->key);
		(void)wecom_store_outbox_settle(st, o->key, "failed",
		    o->record, NULL, 0);
		dr->st->failed++;
		return (WECOM_API_OK);
	}
	memset(&res, 0, sizeof(res));
	wecom_client_err_clear(&err);
	dst = NULL;
	if ((r.aibot != NULL && dr->conf->aibot_send == NULL) ||
	    (r.forward != NULL && dr->conf->forward_send == NULL))
		rc = wecom_client_err_set(&err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "only a server with this section can send it");
	else if (r.interrupted >= OUTBOX_INTERRUPT_MAX ||
	    wecom_outbox_now_ms() - r.created >= dr->max_age_ms)
		rc = wecom_client_err_set(&err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "not sent: %s", r.interrupted >= OUTBOX_INTERRUPT_MAX ?
		    "interrupted" : "never delivered within outbox_max_age");
	else if ((dst = wecom_outbox_dest(dr, &r, &err)) == NULL)
		rc = err.code;
	else if (dst->fails >= OUTBOX_DEST_FAILS) {
		settle(dr, st, &r, "queued", NULL, 0);
		wecom_outbox_record_free(&r);
		return (WECOM_API_ERR_UNAVAILABLE);
	} else {
		r.attempts++;
		rc = wecom_outbox_send_record(dr, dst, &r, &res, &err);
		dst->fails = rc == WECOM_API_OK ? 0 : dst->fails + 1;
	}
	shared_outcome(dr, st, &r, rc, &res, &err);
	wecom_send_result_free(&res);
	wecom_outbox_record_free(&r);

	return (WECOM_API_OK);
}

static void
shared_outcome(struct outbox_drain *dr, struct wecom_store *st,
    struct outbox_record *r, int rc, struct wecom_send_result *res,
    struct wecom_api_error *err)
{
	char	*done, what[256];
	int64_t	 now;
	long	 wait;

	now = wecom_outbox_now_ms();
	wecom_outbox_record_describe(r, what, sizeof(what));
	if (rc == WECOM_API_OK) {
		dr->st->delivered++;
		done = wecom_outbox_done_entry(r, res, now);
		settle(dr, st, r, "sent", done != NULL ? done : "{}", 0);
		free(done);
		wecom_outbox_log(dr, LOG_INFO, "%s (%s) delivered, attempt "
		    "%d%s%s", r->key, what, r->attempts, res->msgid ?
		    ", msgid " : "", res->msgid ? res->msgid : "");
		return;
	}
	wecom_outbox_record_set_error(r, err, now);
	if (!wecom_outbox_transient(rc) || now - r->created >= dr->max_age_ms ||
	    r->interrupted >= OUTBOX_INTERRUPT_MAX) {
		r->failed_at = now;
		snprintf(r->failed_why, sizeof(r->failed_why), "%s",
		    r->interrupted >= OUTBOX_INTERRUPT_MAX ? "interrupted" :
		    wecom_outbox_transient(rc) ? "max_age" : "rejected");
		dr->st->failed++;
		wecom_outbox_fail_log(dr, r, r->failed_why);
		settle(dr, st, r, "failed", NULL, 0);
		return;
	}
	wait = wecom_outbox_backoff_ms(dr->backoff_ms, r->attempts,
	    arc4random());
	r->next = now + wait < r->created + dr->max_age_ms ? now + wait :
	    r->created + dr->max_age_ms;
	dr->st->retried++;
	wecom_outbox_log(dr, rc == WECOM_API_ERR_CONFIG ? LOG_ERR :
	    LOG_WARNING, "%s (%s): %s (%s); attempt %d in %.1f s", r->key,
	    what, wecom_api_strerror(rc), err->errmsg, r->attempts + 1,
	    (double)(r->next - now) / 1000);
	settle(dr, st, r, "queued", NULL, (long)(r->next - now));
}

/* Whether this host's files know key: then they, not the store, do. */
int
wecom_outbox_in_files(const struct wecom_conf *conf, const char *key)
{
	struct outbox_dirs	d;
	int			i;

	if (wecom_outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (0);
	for (i = OB_NEW; i < OB_NDIRS; i++) {
		if (wecom_outbox_exists(d.sub[i], key) == OUTBOX_EXISTS)
			return (1);
	}

	return (0);
}

/*
 * How key's row stands, as wecom_outbox_send() answers; while another
 * drainer's claim holds it, polled for up to wait_ms.
 */
static int
shared_result(struct wecom_store *st, const char *key, long wait_ms,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_store_outbox	 o;
	struct outbox_record		 r;
	json_t				*done;
	int				 rc;

	while ((rc = wecom_store_outbox_get(st, key, &o)) == WECOM_STORE_OK &&
	    o.claimed && strcmp(o.state, "queued") == 0 && wait_ms > 0) {
		wecom_store_outbox_clear(&o);
		wecom_client_sleep_ms(CLAIM_POLL_MS);
		wait_ms -= CLAIM_POLL_MS;
	}
	if (rc == WECOM_STORE_NONE)
		return (OUTBOX_MISSING);
	if (rc != WECOM_STORE_OK) {
		(void)wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "the shared store does not answer: the next drain sends "
		    "it");
		return (WECOM_OUTBOX_QUEUED);
	}
	if (strcmp(o.state, "sent") == 0) {
		done = json_loads(o.done, 0, NULL);
		rc = wecom_outbox_outcome_done(done, res, err);
		json_decref(done);
	} else if (wecom_outbox_record_decode(&r, o.record, strlen(o.record))
	    == WECOM_API_OK) {
		rc = wecom_outbox_outcome_record(&r, strcmp(o.state, "failed")
		    == 0 ? OB_FAILED : OB_NEW, err);
		wecom_outbox_record_free(&r);
	} else
		rc = wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL, 0,
		    "message %s: not a record", key);
	wecom_store_outbox_clear(&o);

	return (rc);
}

/*
 * The push API's one try (wecom_outbox_send): key's row, if it waits,
 * nobody sends it and this process may, is claimed and sent now, then
 * its outcome read back (after another's claim, as the files wait for
 * their lock). OUTBOX_MISSING: not in the store: the caller asks the
 * files.
 */
int
wecom_outbox_shared_send(const struct wecom_conf *conf, const char *key,
    long wait_ms, wecom_outbox_log_fn log, void *arg,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_outbox_stats	 stats;
	struct wecom_store_outbox	 o;
	struct outbox_drain		 dr;
	struct wecom_store		*st;

	if ((st = wecom_outbox_store(conf)) == NULL)
		return (OUTBOX_MISSING);
	wecom_outbox_drain_init(&dr, conf, log, arg, &stats);
	dr.once = 1;
	if (wecom_store_outbox_claim(st, key, wecom_outbox_lease_s(conf),
	    can_serve(conf), &o) == WECOM_STORE_OK) {
		(void)shared_attempt(&dr, st, &o);
		wecom_store_outbox_clear(&o);
	}
	wecom_outbox_dests_free(&dr);

	return (shared_result(st, key, wait_ms, res, err));
}

/*
 * fn for the key of every queued row (wecom_outbox_keys()).
 * WECOM_API_OK, none without a store; WECOM_API_ERR_UNAVAILABLE: it
 * does not answer.
 */
int
wecom_outbox_shared_keys(const struct wecom_conf *conf,
    void (*fn)(void *, const char *), void *arg)
{
	struct wecom_store	*st;

	if ((st = wecom_outbox_store(conf)) == NULL)
		return (WECOM_API_OK);
	if (wecom_store_outbox_keys(st, fn, arg) != WECOM_STORE_OK)
		return (WECOM_API_ERR_UNAVAILABLE);

	return (WECOM_API_OK);
}
