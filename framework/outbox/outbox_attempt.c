/* SPDX-License-Identifier: ISC */
/*
 * One attempt at one record, under the drain's lock, and what follows
 * from its outcome: delivered (done/), worth another try later (back
 * to new/ with a due time), or failed for good (failed/). Also the
 * attempts a killed drainer cut short, found in sending/.
 *
 * Before a send the key is looked for in done/ and failed/: a record
 * that lingers after a crash is dropped, not sent again. After a
 * delivery done/KEY is written before sending/KEY is removed, so the
 * only window left is between WeCom's answer and done/: a record found
 * in sending/ is sent again, which WeCom's duplicate check absorbs for
 * message/send.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "client_private.h"
#include "outbox_private.h"

static int	settled(struct outbox_drain *, int, const char *);
static int	read_record(const char *, const char *,
		    struct outbox_record *);
static int	expired(struct outbox_drain *, struct outbox_record *);
static void	delivered(struct outbox_drain *, struct outbox_dest *,
		    const char *, const struct outbox_record *,
		    const struct wecom_send_result *);
static void	retry(struct outbox_drain *, struct outbox_dest *,
		    const char *, struct outbox_record *, int,
		    const struct wecom_api_error *);
static void	reject(struct outbox_drain *, struct outbox_record *,
		    const struct wecom_api_error *);
static void	recover_one(struct outbox_drain *, const char *);
static int	put_record(struct outbox_drain *, int, struct outbox_record *);
static void	fail_record(struct outbox_drain *, int, struct outbox_record *,
		    const char *);

void
wecom_outbox_log(struct outbox_drain *dr, int pri, const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;
	int	n;

	if (dr->log == NULL)
		return;
	n = snprintf(line, sizeof(line), "outbox: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	dr->log(dr->arg, pri, line);
}

/*
 * Worth another attempt later: WeCom or the network may come back, a
 * configuration may be fixed. What WeCom refused stays refused.
 */
int
wecom_outbox_transient(int code)
{
	switch (code) {
	case WECOM_API_ERR_REJECTED:
	case WECOM_API_ERR_HTTP:
	case WECOM_API_ERR_ARG:
		return (0);
	}

	return (1);
}

/*
 * Delivered or failed before a crash let it linger in new/ (and in
 * from): removed, not sent again.
 */
static int
settled(struct outbox_drain *dr, int from, const char *key)
{
	if (wecom_outbox_exists(dr->d.sub[OB_DONE], key) != OUTBOX_EXISTS &&
	    wecom_outbox_exists(dr->d.sub[OB_FAILED], key) != OUTBOX_EXISTS)
		return (0);
	wecom_outbox_remove(dr->d.sub[OB_NEW], key, 0);
	if (from != OB_NEW)
		wecom_outbox_remove(dr->d.sub[from], key, 0);

	return (1);
}

static int
read_record(const char *dir, const char *key, struct outbox_record *r)
{
	char	*data;
	size_t	 len;
	int	 rc;

	if ((rc = wecom_outbox_read(dir, key, &data, &len)) != WECOM_API_OK)
		return (rc);
	rc = wecom_outbox_record_decode(r, data, len);
	free(data);

	return (rc);
}

/* Too old to be sent: failed/, reported. */
static int
expired(struct outbox_drain *dr, struct outbox_record *r)
{
	int64_t	now;

	now = wecom_outbox_now_ms();
	if (now - r->created < dr->max_age_ms)
		return (0);
	if (r->error.code == 0)
		wecom_outbox_record_set_error(r, &(struct wecom_api_error){
		    .code = WECOM_API_ERR_UNAVAILABLE,
		    .errmsg = "never sent" }, now);
	wecom_outbox_fail_log(dr, r, "outbox_max_age reached");
	fail_record(dr, OB_NEW, r, "max_age");

	return (1);
}

/* One due record: sent and done, back to new/ for later, or failed. */
void
wecom_outbox_attempt(struct outbox_drain *dr, const char *key)
{
	struct outbox_record		 r;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct outbox_dest		*dst;
	int				 rc;

	/* load_due() has just read it whole: a failure here is a race. */
	if (settled(dr, OB_NEW, key) ||
	    read_record(dr->d.sub[OB_NEW], key, &r) != WECOM_API_OK)
		return;
	/* Only the server can send these: elsewhere they wait for it. */
	if ((r.aibot != NULL && dr->conf->aibot_send == NULL) ||
	    (r.forward != NULL && dr->conf->forward_send == NULL))
		goto out;
	if (expired(dr, &r))
		goto out;
	memset(&res, 0, sizeof(res));
	wecom_client_err_clear(&err);
	/* A destination that keeps failing is left for the next drain. */
	if ((dst = wecom_outbox_dest(dr, &r, &err)) != NULL &&
	    dst->fails >= OUTBOX_DEST_FAILS)
		goto out;
	if (wecom_outbox_move(dr->d.sub[OB_NEW], dr->d.sub[OB_SENDING], key,
	    OUTBOX_LAZY) != WECOM_API_OK)
		goto out;

	r.attempts++;
	rc = dst != NULL ? wecom_outbox_send_record(dr, dst, &r, &res,
	    &err) : err.code;
	if (rc == WECOM_API_OK)
		delivered(dr, dst, key, &r, &res);
	else if (wecom_outbox_transient(rc))
		retry(dr, dst, key, &r, rc, &err);
	else
		reject(dr, &r, &err);
	wecom_send_result_free(&res);
out:
	wecom_outbox_record_free(&r);
}

static void
delivered(struct outbox_drain *dr, struct outbox_dest *dst, const char *key,
    const struct outbox_record *r, const struct wecom_send_result *res)
{
	char	*s, what[256];

	dst->fails = 0;
	dr->st->delivered++;
	s = wecom_outbox_done_entry(r, res, wecom_outbox_now_ms());
	/*
	 * Without done/ the record stays in sending/: the next
	 * drainer sends it again, into the duplicate check.
	 */
	if (s == NULL || wecom_outbox_write(dr->d.sub[OB_DONE], key, s,
	    strlen(s), 0, OUTBOX_LAZY) != WECOM_API_OK)
		wecom_outbox_log(dr, LOG_ERR, "%s: delivered, but done/ "
		    "cannot be written: %s", key, strerror(errno));
	else
		wecom_outbox_remove(dr->d.sub[OB_SENDING], key, OUTBOX_LAZY);
	if (++dr->unsynced >= OUTBOX_SYNC_EVERY)
		wecom_outbox_sync_steps(dr);
	free(s);
	wecom_outbox_record_describe(r, what, sizeof(what));
	wecom_outbox_log(dr, LOG_INFO, "%s (%s) delivered, attempt %d%s%s",
	    key, what, r->attempts, res->msgid ? ", msgid " : "",
	    res->msgid ? res->msgid : "");
}

/* Back to new/ after a backoff; failed/ once the max age is reached. */
static void
retry(struct outbox_drain *dr, struct outbox_dest *dst, const char *key,
    struct outbox_record *r, int rc, const struct wecom_api_error *err)
{
	char	what[256];
	int64_t	now, last;
	long	wait;

	now = wecom_outbox_now_ms();
	if (dst != NULL)
		dst->fails++;
	wecom_outbox_record_set_error(r, err, now);
	if (now - r->created >= dr->max_age_ms) {
		wecom_outbox_fail_log(dr, r, "outbox_max_age reached");
		fail_record(dr, OB_SENDING, r, "max_age");
		return;
	}
	wait = wecom_outbox_backoff_ms(dr->backoff_ms, r->attempts,
	    arc4random());
	/* The last try falls on the max age, not after it. */
	last = r->created + dr->max_age_ms;
	r->next = now + wait < last ? now + wait : last;
	dr->st->retried++;
	wecom_outbox_record_describe(r, what, sizeof(what));
	wecom_outbox_log(dr, rc == WECOM_API_ERR_CONFIG ? LOG_ERR :
	    LOG_WARNING, "%s (%s): %s (%s); attempt %d in %.1f s", key, what,
	    wecom_api_strerror(rc), err->errmsg, r->attempts + 1,
	    (double)(r->next - now) / 1000);
	put_record(dr, OB_SENDING, r);
}

static void
reject(struct outbox_drain *dr, struct outbox_record *r,
    const struct wecom_api_error *err)
{
	wecom_outbox_record_set_error(r, err, wecom_outbox_now_ms());
	wecom_outbox_fail_log(dr, r, "rejected");
	fail_record(dr, OB_SENDING, r, "rejected");
}

/*
 * Makes the last deliveries' steps durable. Until then a power cut may
 * undo them: those messages are sent again, into the duplicate check.
 */
void
wecom_outbox_sync_steps(struct outbox_drain *dr)
{
	if (dr->unsynced == 0)
		return;
	wecom_outbox_sync_dir(dr->d.sub[OB_DONE]);
	wecom_outbox_sync_dir(dr->d.sub[OB_SENDING]);
	wecom_outbox_sync_dir(dr->d.sub[OB_NEW]);
	dr->unsynced = 0;
}

/*
 * A record in sending/ belongs to a drainer that died (we hold the
 * lock): it may or may not have reached WeCom. Unless done/ says it
 * did, it is due again at once, inside the duplicate-check window.
 */
void
wecom_outbox_recover(struct outbox_drain *dr)
{
	char	**keys;
	size_t	  n, i;

	if (wecom_outbox_list(dr->d.sub[OB_SENDING], &keys, &n) !=
	    WECOM_API_OK)
		return;
	for (i = 0; i < n; i++)
		recover_one(dr, keys[i]);
	wecom_outbox_list_free(keys, n);
}

static void
recover_one(struct outbox_drain *dr, const char *key)
{
	struct outbox_record	 r;
	char			*data, what[256];
	size_t			 len;
	int64_t			 now;
	int			 rc;

	if (settled(dr, OB_SENDING, key) ||
	    wecom_outbox_read(dr->d.sub[OB_SENDING], key, &data, &len) !=
	    WECOM_API_OK)
		return;
	dr->st->recovered++;
	rc = wecom_outbox_record_decode(&r, data, len);
	free(data);
	if (rc != WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "%s: not a record, moved to "
		    "failed/", key);
		wecom_outbox_move(dr->d.sub[OB_SENDING], dr->d.sub[OB_FAILED],
		    key, 0);
		dr->st->failed++;
		return;
	}
	now = wecom_outbox_now_ms();
	r.attempts++;
	r.interrupted++;
	r.inflight = now;
	r.next = now;
	wecom_outbox_record_describe(&r, what, sizeof(what));
	if (r.interrupted >= OUTBOX_INTERRUPT_MAX) {
		wecom_outbox_log(dr, LOG_ERR, "%s (%s): a drainer stopped %d "
		    "times while sending it; it may have been delivered",
		    r.key, what, r.interrupted);
		fail_record(dr, OB_SENDING, &r, "interrupted");
	} else {
		wecom_outbox_log(dr, LOG_WARNING, "%s (%s): a drainer stopped "
		    "while sending it; sending it again%s", r.key, what,
		    r.robot || r.chat ? " (robots and chats have no "
		    "duplicate check: it may arrive twice)" : "");
		put_record(dr, OB_SENDING, &r);
	}
	wecom_outbox_record_free(&r);
}

/* Back to new/ (updated), then gone from the directory it came from. */
static int
put_record(struct outbox_drain *dr, int from, struct outbox_record *r)
{
	char	*s;
	int	 rc;

	if ((s = wecom_outbox_record_encode(r)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = wecom_outbox_write(dr->d.sub[OB_NEW], r->key, s, strlen(s),
	    r->created, 0);
	free(s);
	if (rc != WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "%s: cannot write to %s: %s",
		    r->key, dr->d.sub[OB_NEW], strerror(errno));
		return (rc);
	}
	if (from != OB_NEW)
		wecom_outbox_remove(dr->d.sub[from], r->key, 0);

	return (WECOM_API_OK);
}

/* To failed/, with the last error and why; reported by the caller. */
static void
fail_record(struct outbox_drain *dr, int from, struct outbox_record *r,
    const char *why)
{
	char	*s;

	r->failed_at = wecom_outbox_now_ms();
	snprintf(r->failed_why, sizeof(r->failed_why), "%s", why);
	dr->st->failed++;
	if ((s = wecom_outbox_record_encode(r)) == NULL ||
	    wecom_outbox_write(dr->d.sub[OB_FAILED], r->key, s, strlen(s),
	    r->created, 0) != WECOM_API_OK) {
		/* Keeps the record where it is: better late than lost. */
		wecom_outbox_log(dr, LOG_ERR, "%s: cannot write to %s: %s",
		    r->key, dr->d.sub[OB_FAILED], strerror(errno));
		if (from == OB_SENDING)
			wecom_outbox_move(dr->d.sub[OB_SENDING],
			    dr->d.sub[OB_NEW], r->key, 0);
		free(s);
		return;
	}
	free(s);
	wecom_outbox_remove(dr->d.sub[from], r->key, 0);
}

void
wecom_outbox_fail_log(struct outbox_drain *dr, const struct outbox_record *r,
    const char *why)
{
	char	what[256], code[32];

	wecom_outbox_record_describe(r, what, sizeof(what));
	code[0] = '\0';
	if (r->error.errcode != 0)
		snprintf(code, sizeof(code), "errcode %ld: ", r->error.errcode);
	wecom_outbox_log(dr, LOG_ERR, "%s (%s) failed: %s after %d "
	    "attempt%s: %s%s%s%s", r->key, what, why, r->attempts,
	    r->attempts == 1 ? "" : "s", code,
	    r->error.errmsg ? r->error.errmsg : "no answer",
	    r->error.hint ? "; hint: " : "",
	    r->error.hint ? r->error.hint : "");
}
