/* SPDX-License-Identifier: ISC */
/*
 * The outbox: proactive messages that must arrive even if WeCom is
 * down for a while and the process sending them is killed. A message
 * is written to <state_dir>/outbox/new/ first (one file per message,
 * written atomically), then a drainer — the server's timer or
 * `wecom-send --flush` from cron — sends what is due, retries what
 * failed transiently with backoff until outbox_max_age, and moves the
 * rest to failed/ with WeCom's errcode.
 *
 * Exactly once, on our side: one drainer at a time (flock), a key per
 * message, and a record in done/ that is checked before every send. A
 * crash between "WeCom took it" and "done/ written" can only lead to a
 * resend with the same body, which message/send's duplicate check
 * (enable_duplicate_check, interval = the max age, at most 4 h)
 * absorbs.
 *
 * With [global] store (docs/ha.md) a message is a row of the shared
 * database instead, claimed by any server's drain or `wecom-send
 * --flush` (FOR UPDATE SKIP LOCKED and a lease) before it is sent; a
 * store that is down sends it to the files above, drained as ever.
 *
 * Plain C, no Kore. Not thread-safe within one process.
 *
 *	struct wecom_outbox_to to = { .app = "main" };
 *	to.to.touser = "zhangsan";
 *	rc = wecom_outbox_put(&conf, &to, msg, NULL, NULL, key, &err);
 *	...
 *	wecom_outbox_drain(&conf, 500, 0, log, NULL, &st);	// on a timer
 */

#ifndef WECOM_OUTBOX_H
#define WECOM_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "wecom_client.h"

/* A key: [A-Za-z0-9_.-], at most this long, not starting with '.'. */
#define WECOM_OUTBOX_KEY_MAX		64

/* WeCom's largest duplicate_check_interval, seconds. */
#define WECOM_DUP_INTERVAL_MAX		14400

/*
 * Where a message goes: users/parties/tags of an app, an app group
 * chat, a group robot, or a conversation of an intelligent bot. Robots
 * are named by their [robot NAME] section: the webhook key itself is
 * never written to the outbox. A bot's message (markdown, or text sent
 * as markdown; a template card) goes on its long connection, which only
 * the server holds: only the server's drain sends it, within WeCom's
 * 30 a minute and 1000 an hour per conversation, queueing the rest.
 */
struct wecom_outbox_to {
	const char		*app;		/* [app NAME]; NULL: the first */
	struct wecom_target	 to;		/* users, parties, tags; or */
	const char		*chat;		/* an app chat's chatid; or */
	const char		*robot;		/* a [robot NAME]; or */
	const char		*aibot;		/* an [aibot NAME], and chat: */
	int			 group;		/* a group's chatid, else a
						   member's UserID */
	const char		*forward;	/* a handler = forward section:
						   its receiver, again */
};

/*
 * What only the server can send, and how its drain does: a bot's
 * message on its long connection (conf->aibot_send; body: the
 * aibot_send_msg body), a message forwarded again to a receiver that
 * was down (conf->forward_send; body: the message's JSON). name is the
 * section's. WECOM_API_OK; _UNAVAILABLE: later; _REJECTED: failed.
 * Elsewhere (wecom-send --flush) such records wait for the server.
 */
struct wecom_outbox_sender {
	int	(*send)(void *arg, const char *name, const char *body,
		    struct wecom_api_error *);
	void	*arg;
};

/* One drain: what it did, and what is left. */
struct wecom_outbox_stats {
	int		delivered;	/* sent, now in done/ */
	int		failed;		/* moved to failed/ */
	int		retried;	/* failed transiently, kept */
	int		recovered;	/* found in sending/ after a crash */
	size_t		remaining;	/* still queued (due or not) */
	long		oldest_age;	/* s, of the oldest queued */
	int		busy;		/* another drainer held the lock */
	int		store_failed;	/* the shared store did not answer:
					   its messages were left */
};

/* A line for the log: syslog priority (LOG_ERR, LOG_WARNING, LOG_INFO). */
typedef void	(*wecom_outbox_log_fn)(void *arg, int priority,
		    const char *line);

/*
 * Queues a message. key: the caller's idempotency key, or NULL for a
 * random 128-bit one; a key already queued, being sent, delivered or
 * failed is not queued again (WECOM_API_OK, nothing written). The key
 * used is copied to key_out when given. opts: safe, enable_id_trans,
 * long_content and fallback_to are kept; the duplicate check is the
 * outbox's own. Errors: WECOM_API_ERR_ARG (no target, bad key),
 * _CONFIG (no such app or robot), _IO (state_dir).
 */
int	wecom_outbox_put(const struct wecom_conf *,
	    const struct wecom_outbox_to *, const struct wecom_outmsg *,
	    const struct wecom_send_opts *, const char *key,
	    char key_out[WECOM_OUTBOX_KEY_MAX + 1], struct wecom_api_error *);

/*
 * Sends what is due, oldest first, for at most budget_ms (0: no limit)
 * and max messages (0: [global] outbox_batch, < 0: no limit). Returns
 * at once with stats->busy set if another drainer is at work.
 * WECOM_API_OK unless the outbox itself is unusable (_IO).
 */
int	wecom_outbox_drain(const struct wecom_conf *, long budget_ms, int max,
	    wecom_outbox_log_fn, void *arg, struct wecom_outbox_stats *);

/* wecom_outbox_send(): not sent yet, still queued for the next drain. */
#define WECOM_OUTBOX_QUEUED	1

/*
 * Sends the queued message key now — one try, no wait for a robot's
 * turn — unless another drainer keeps the outbox (or the store's row)
 * for more than wait_ms, or only a server can send it, and says how it
 * fared: WECOM_API_OK,
 * delivered (res: msgid, invalid recipients); WECOM_OUTBOX_QUEUED, left
 * for the next drain (err: why, if an attempt failed); or the error it
 * failed with for good (err). A key delivered or failed before answers
 * the same again, so a caller may repeat a request safely.
 */
int	wecom_outbox_send(const struct wecom_conf *, const char *key,
	    long wait_ms, wecom_outbox_log_fn, void *arg,
	    struct wecom_send_result *, struct wecom_api_error *);

/*
 * The keys of every queued message, due or not, for a caller that sends
 * each now with wecom_outbox_send() (`wecom-send --flush --now`, once
 * an outage is fixed): this host's files, then the shared store's rows.
 * A message another drainer is sending is listed too: its send waits
 * for that. Free *keys with wecom_outbox_keys_free(). WECOM_API_OK;
 * WECOM_API_ERR_UNAVAILABLE: the store does not answer, and *keys holds
 * the files' only; _IO, _NOMEM: nothing listed.
 */
int	wecom_outbox_keys(const struct wecom_conf *, char ***keys, size_t *n);
void	wecom_outbox_keys_free(char **, size_t);

/* For metrics: messages queued and the age of the oldest, in seconds. */
int	wecom_outbox_stats(const struct wecom_conf *, size_t *depth,
	    long *oldest_age);
/* Messages given up (rejected, or past outbox_max_age) in failed/. */
int	wecom_outbox_failed(const struct wecom_conf *, size_t *n);

/*
 * -------------------------------------------------------------------
 * The operator's view (framework/outbox/outbox_admin.c, used by
 * `wecom-admin outbox`): what waits and what failed, and a failed
 * message queued again or a message dropped. Retry and drop hold the
 * outbox lock, as a drain does, waiting at most wait_ms for it
 * (WECOM_API_ERR_UNAVAILABLE after that): a drain never sees a record
 * half moved.
 */

/* wecom_outbox_admin_*(): no such message where the operation looks. */
#define WECOM_OUTBOX_NOT_FOUND	2

/* One message as listed: where it stands, never its content. */
struct wecom_outbox_entry {
	const char	*key;
	const char	*state;		/* "queued", "sending", "failed" */
	const char	*target;	/* "app main to lisi", "robot ops" */
	int64_t		 created;	/* ms since the epoch */
	int64_t		 next;		/* queued: not sent before, ms */
	int		 attempts;
	int		 code;		/* last error: WECOM_API_*, 0: none */
	long		 errcode;	/* WeCom's, 0 if none */
	const char	*errmsg;	/* "" if none */
	const char	*why;		/* failed: rejected, max_age,
					   interrupted, "not a record" */
};

typedef void	(*wecom_outbox_entry_fn)(void *arg,
		    const struct wecom_outbox_entry *);

/*
 * Calls fn for every queued message (new/, sending/), unless
 * failed_only, then for every failed one (failed/), oldest first in
 * each group. Reads without the lock, so that it works while a long
 * flush holds it: a record moving meanwhile may be missed or seen
 * twice. WECOM_API_OK (an outbox never used lists nothing), _IO,
 * _NOMEM.
 */
int	wecom_outbox_admin_list(const struct wecom_conf *, int failed_only,
	    wecom_outbox_entry_fn, void *arg);

/*
 * failed/KEY back to new/, queued anew: due now, attempts and age from
 * zero (the max age counts again), its error forgotten; by root, with
 * the owner it had. key NULL: every failed message. *count: how many
 * were moved. WECOM_OUTBOX_NOT_FOUND
 * (no failed KEY), _ARG (not a key), _PROTOCOL (a file of failed/ that
 * is not a record: left there), _UNAVAILABLE (lock busy), _IO.
 */
int	wecom_outbox_admin_retry(const struct wecom_conf *, const char *key,
	    long wait_ms, int *count);

/*
 * Removes the queued or failed message KEY; done/ is left alone.
 * WECOM_API_OK, WECOM_OUTBOX_NOT_FOUND, _ARG, _UNAVAILABLE, _IO.
 */
int	wecom_outbox_admin_drop(const struct wecom_conf *, const char *key,
	    long wait_ms);

#endif
