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

static int	transient(int);
static int	settled(struct outbox_drain *, int, const char *);
static int	read_record(const char *, const char *,
		    struct outbox_record *);
static int	expired(struct outbox_drain *, struct outbox_record *);
static int	send_forward(struct outbox_drain *,
		    const struct outbox_record *, struct wecom_api_error *);
static int	send_aibot(struct outbox_drain *, const struct outbox_record *,
		    const struct wecom_outmsg *, struct wecom_api_error *);
static int	send_record(struct outbox_drain *, struct outbox_dest *,
		    const struct outbox_record *, struct wecom_send_result *,
		    struct wecom_api_error *);
static struct outbox_dest	*dest_get(struct outbox_drain *,
				    const struct outbox_record *,
				    struct wecom_api_error *);
static char	*done_entry(const struct outbox_record *,
		    const struct wecom_send_result *, int64_t);
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
static void	fail_log(struct outbox_drain *, const struct outbox_record *,
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
static int
transient(int code)
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
	fail_log(dr, r, "outbox_max_age reached");
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
	if ((dst = dest_get(dr, &r, &err)) != NULL &&
	    dst->fails >= OUTBOX_DEST_FAILS)
		goto out;
	if (wecom_outbox_move(dr->d.sub[OB_NEW], dr->d.sub[OB_SENDING], key,
	    OUTBOX_LAZY) != WECOM_API_OK)
		goto out;

	r.attempts++;
	rc = dst != NULL ? send_record(dr, dst, &r, &res, &err) : err.code;
	if (rc == WECOM_API_OK)
		delivered(dr, dst, key, &r, &res);
	else if (transient(rc))
		retry(dr, dst, key, &r, rc, &err);
	else
		reject(dr, &r, &err);
	wecom_send_result_free(&res);
out:
	wecom_outbox_record_free(&r);
}

static int
send_record(struct outbox_drain *dr, struct outbox_dest *dst,
    const struct outbox_record *r, struct wecom_send_result *res,
    struct wecom_api_error *err)
{
	struct wecom_send_opts	 o;
	struct wecom_target	 to;
	struct wecom_outmsg	*m;
	const char		*key;
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.safe = r->safe;
	o.enable_id_trans = r->id_trans;
	o.long_content = r->long_content;
	o.fallback_to.touser = r->fb_user;
	o.fallback_to.toparty = r->fb_party;
	o.fallback_to.totag = r->fb_tag;
	o.enable_duplicate_check = r->dup_interval > 0;
	o.duplicate_check_interval = r->dup_interval;
	if ((m = wecom_outbox_record_msg(r)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "the stored %s message cannot be rebuilt",
		    json_string_value(json_object_get(r->msg, "msgtype"))));

	if (r->aibot != NULL) {
		rc = send_aibot(dr, r, m, err);
	} else if (r->forward != NULL) {
		rc = send_forward(dr, r, err);
	} else if (r->robot != NULL) {
		if ((key = wecom_robot_key(dr->conf, r->robot)) == NULL)
			rc = wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
			    "no [robot %s] with a key", r->robot);
		else
			rc = wecom_webhook_send(dst->client, key, m, &o, res,
			    err);
	} else if (r->chat != NULL) {
		rc = wecom_appchat_send(dst->client, r->chat, m, &o, res, err);
	} else {
		to.touser = r->touser;
		to.toparty = r->toparty;
		to.totag = r->totag;
		rc = wecom_message_send(dst->client, &to, m, &o, res, err);
	}
	wecom_outmsg_free(m);

	return (rc);
}

/*
 * A bot's: aibot_send_msg's body, the message with its conversation;
 * text goes as markdown (a bot has no plain text).
 */
static int
send_aibot(struct outbox_drain *dr, const struct outbox_record *r,
    const struct wecom_outmsg *m, struct wecom_api_error *err)
{
	const struct wecom_outbox_sender	*ab = dr->conf->aibot_send;
	json_t				*o, *inner;
	char				*body;
	int				 rc;

	o = json_deep_copy(r->msg);
	if (o != NULL && strcmp(wecom_outmsg_type(m), "text") == 0 &&
	    (inner = json_object_get(o, "text")) != NULL) {
		json_object_set(o, "markdown", inner);
		json_object_del(o, "text");
		json_object_set_new(o, "msgtype", json_string("markdown"));
	}
	body = NULL;
	if (o != NULL && json_object_set_new(o, "chatid",
	    json_string(r->chat)) == 0 && json_object_set_new(o, "chat_type",
	    json_integer(r->chat_type)) == 0)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (body == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = ab->send(ab->arg, r->aibot, body, err);
	free(body);

	return (rc);
}

/* The message's JSON, as it was first POSTed, to its receiver again. */
static int
send_forward(struct outbox_drain *dr, const struct outbox_record *r,
    struct wecom_api_error *err)
{
	const struct wecom_outbox_sender	*fs = dr->conf->forward_send;
	char					*body;
	int					 rc;

	body = json_dumps(json_object_get(r->msg, "forward"), JSON_COMPACT);
	if (body == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = fs->send(fs->arg, r->forward, body, err);
	free(body);

	return (rc);
}

/* What done/KEY holds: no content, only what a caller asks back. */
static char *
done_entry(const struct outbox_record *r, const struct wecom_send_result *res,
    int64_t now)
{
	json_t	*done;
	char	*s;

	done = json_pack("{s:i, s:s, s:I, s:I, s:i, s:s*, s:s*, s:s*, "
	    "s:s*, s:s*, s:s*}", "v", OUTBOX_VERSION, "key", r->key,
	    "created", (json_int_t)r->created,
	    "delivered", (json_int_t)now, "attempts", r->attempts,
	    "app", r->app, "robot", r->robot, "msgid", res->msgid,
	    "invaliduser", res->invaliduser,
	    "invalidparty", res->invalidparty,
	    "invalidtag", res->invalidtag);
	s = done != NULL ? json_dumps(done, JSON_COMPACT) : NULL;
	json_decref(done);

	return (s);
}

static void
delivered(struct outbox_drain *dr, struct outbox_dest *dst, const char *key,
    const struct outbox_record *r, const struct wecom_send_result *res)
{
	char	*s, what[256];

	dst->fails = 0;
	dr->st->delivered++;
	s = done_entry(r, res, wecom_outbox_now_ms());
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
		fail_log(dr, r, "outbox_max_age reached");
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
	fail_log(dr, r, "rejected");
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

/* The client of a record's app or robot, made once per drain. */
static struct outbox_dest *
dest_get(struct outbox_drain *dr, const struct outbox_record *r,
    struct wecom_api_error *err)
{
	struct outbox_dest	*dst;
	char			 name[256];

	snprintf(name, sizeof(name), "%s %s", r->robot ? "robot" : r->aibot ?
	    "aibot" : r->forward ? "forward" : "app", r->robot ? r->robot :
	    r->aibot ? r->aibot : r->forward ? r->forward : r->app);
	TAILQ_FOREACH(dst, &dr->dests, list) {
		if (strcmp(dst->name, name) == 0)
			return (dst);
	}
	if ((dst = calloc(1, sizeof(*dst))) == NULL ||
	    (dst->name = strdup(name)) == NULL) {
		free(dst);
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
		return (NULL);
	}
	/* A bot's goes on its long connection: any client will do. */
	dst->client = r->robot != NULL || r->aibot != NULL ||
	    r->forward != NULL ?
	    wecom_client_new_robot(dr->conf, err) :
	    wecom_client_new(dr->conf, r->app, err);
	if (dst->client == NULL) {
		free(dst->name);
		free(dst);
		return (NULL);
	}
	/*
	 * A caller waits for this one: a single try, and no wait for a
	 * robot's turn. What fails is retried by the next drain.
	 */
	if (dr->once)
		wecom_client_set_retry(dst->client, 1, 0, 1);
	TAILQ_INSERT_TAIL(&dr->dests, dst, list);

	return (dst);
}

void
wecom_outbox_dests_free(struct outbox_drain *dr)
{
	struct outbox_dest	*dst;

	while ((dst = TAILQ_FIRST(&dr->dests)) != NULL) {
		TAILQ_REMOVE(&dr->dests, dst, list);
		wecom_client_free(dst->client);
		free(dst->name);
		free(dst);
	}
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

static void
fail_log(struct outbox_drain *dr, const struct outbox_record *r,
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
