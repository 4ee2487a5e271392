/* SPDX-License-Identifier: ISC */
/*
 * How one record is sent, whichever outbox holds it (this host's files
 * or the shared store): the client of its app or robot, made once per
 * drain, or the server's own senders for a bot's long connection and a
 * forward receiver; what done/ (or a sent row) keeps of it, and how
 * a caller that waits is told how the message fared.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "outbox_private.h"

static int	send_forward(struct outbox_drain *,
		    const struct outbox_record *, struct wecom_api_error *);
static int	send_aibot(struct outbox_drain *, const struct outbox_record *,
		    const struct wecom_outmsg *, struct wecom_api_error *);
static char	*dup_str(json_t *, const char *, int *);

int
wecom_outbox_send_record(struct outbox_drain *dr, struct outbox_dest *dst,
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
char *
wecom_outbox_done_entry(const struct outbox_record *r, const struct wecom_send_result *res,
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

/* The client of a record's app or robot, made once per drain. */
struct outbox_dest *
wecom_outbox_dest(struct outbox_drain *dr, const struct outbox_record *r,
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

void
wecom_outbox_drain_init(struct outbox_drain *dr, const struct wecom_conf *conf,
    wecom_outbox_log_fn log, void *arg, struct wecom_outbox_stats *st)
{
	memset(st, 0, sizeof(*st));
	memset(dr, 0, sizeof(*dr));
	dr->conf = conf;
	dr->log = log;
	dr->arg = arg;
	dr->st = st;
	/* Checked at load, the environment override applied. */
	dr->max_age_ms = (int64_t)conf->outbox_max_age * 1000;
	dr->backoff_ms = conf->outbox_backoff_ms;
	TAILQ_INIT(&dr->dests);
}

int
wecom_outbox_outcome_done(json_t *o, struct wecom_send_result *res,
    struct wecom_api_error *err)
{
	int	nomem;

	nomem = 0;
	if (!json_is_object(o))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "unreadable done/ record"));
	/* msgid is msgids[0], as a send's result has it: freed with it. */
	res->msgids[0] = dup_str(o, "msgid", &nomem);
	res->msgid = res->msgids[0];
	res->invaliduser = dup_str(o, "invaliduser", &nomem);
	res->invalidparty = dup_str(o, "invalidparty", &nomem);
	res->invalidtag = dup_str(o, "invalidtag", &nomem);
	res->nparts = 1;
	if (nomem) {
		wecom_send_result_free(res);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}

	return (WECOM_API_OK);
}

/* Failed for good, or still queued with the last attempt's error. */
int
wecom_outbox_outcome_record(const struct outbox_record *r, int dir,
    struct wecom_api_error *err)
{
	int	code;

	code = r->error.code != 0 ? r->error.code : WECOM_API_ERR_UNAVAILABLE;
	if (r->error.code != 0 || dir == OB_FAILED) {
		wecom_client_err_set(err, code, r->error.errcode, "%s",
		    r->error.errmsg ? r->error.errmsg : "never sent");
	}

	return (dir == OB_FAILED ? code : WECOM_OUTBOX_QUEUED);
}

static char *
dup_str(json_t *o, const char *name, int *nomem)
{
	const char	*s;
	char		*d;

	if ((s = json_string_value(json_object_get(o, name))) == NULL)
		return (NULL);
	if ((d = strdup(s)) == NULL)
		*nomem = 1;
	return (d);
}
