/* SPDX-License-Identifier: ISC */
/*
 * One outbox record and its JSON: who it is for (an app and its
 * recipients, an app chat, or a [robot NAME] — never a secret or a
 * webhook key), the message as WeCom's {"msgtype": T, T: {...}}, the
 * send options, and where it stands (attempts, next attempt, last
 * error). Plus the two small policies that go with a record: its key
 * and the backoff between attempts.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "outbox_private.h"

static int	set_str(json_t *, const char *, const char *);
static int	get_str(json_t *, const char *, char **);
static int64_t	get_int(json_t *, const char *, int64_t);
static char	*join_array(json_t *);
static int	encode_state(json_t *, const struct outbox_record *);
static int	encode_target(json_t *, const struct outbox_record *);
static int	encode_opts(json_t *, const struct outbox_record *);
static int	encode_error(json_t *, const struct outbox_record *);
static int	decode_state(struct outbox_record *, json_t *);
static int	decode_target(struct outbox_record *, json_t *);
static int	decode_msg(struct outbox_record *, json_t *);
static int	decode_opts(struct outbox_record *, json_t *);
static int	decode_error(struct outbox_record *, json_t *);

static int
set_str(json_t *o, const char *key, const char *v)
{
	if (v == NULL)
		return (0);
	return (json_object_set_new(o, key, json_string(v)));
}

/* A string member, copied; absent is fine, another type is not. */
static int
get_str(json_t *o, const char *key, char **dst)
{
	json_t	*v;

	*dst = NULL;
	if ((v = json_object_get(o, key)) == NULL)
		return (WECOM_API_OK);
	if (!json_is_string(v) ||
	    (*dst = strdup(json_string_value(v))) == NULL)
		return (WECOM_API_ERR_PROTOCOL);

	return (WECOM_API_OK);
}

static int64_t
get_int(json_t *o, const char *key, int64_t def)
{
	json_t	*v;

	v = json_object_get(o, key);
	return (json_is_integer(v) ? (int64_t)json_integer_value(v) : def);
}

void
wecom_outbox_record_free(struct outbox_record *r)
{
	free(r->app);
	free(r->robot);
	free(r->aibot);
	free(r->forward);
	free(r->touser);
	free(r->toparty);
	free(r->totag);
	free(r->chat);
	json_decref(r->msg);
	free(r->fallback);
	free(r->fb_user);
	free(r->fb_party);
	free(r->fb_tag);
	free(r->error.errmsg);
	free(r->error.hint);
	memset(r, 0, sizeof(*r));
}

/* Version, key and where the record stands. */
static int
encode_state(json_t *o, const struct outbox_record *r)
{
	int	rc;

	rc = json_object_set_new(o, "v", json_integer(OUTBOX_VERSION));
	rc |= set_str(o, "key", r->key);
	rc |= json_object_set_new(o, "created", json_integer(r->created));
	rc |= json_object_set_new(o, "next", json_integer(r->next));
	rc |= json_object_set_new(o, "attempts", json_integer(r->attempts));
	if (r->inflight > 0) {
		rc |= json_object_set_new(o, "inflight",
		    json_integer(r->inflight));
		rc |= json_object_set_new(o, "interrupted",
		    json_integer(r->interrupted));
	}

	return (rc);
}

/* The sender, and "to" only when there are recipients. */
static int
encode_target(json_t *o, const struct outbox_record *r)
{
	json_t	*to;
	int	 rc;

	if ((to = json_object()) == NULL)
		return (-1);
	rc = set_str(o, "app", r->app);
	rc |= set_str(o, "robot", r->robot);
	rc |= set_str(o, "aibot", r->aibot);
	rc |= set_str(o, "forward", r->forward);
	rc |= set_str(o, "chat", r->chat);
	if (r->aibot != NULL)
		rc |= json_object_set_new(o, "chat_type",
		    json_integer(r->chat_type));
	rc |= set_str(to, "touser", r->touser);
	rc |= set_str(to, "toparty", r->toparty);
	rc |= set_str(to, "totag", r->totag);
	if (json_object_size(to) > 0)
		rc |= json_object_set(o, "to", to);
	json_decref(to);

	return (rc);
}

static int
encode_opts(json_t *o, const struct outbox_record *r)
{
	json_t	*opts, *fb;
	int	 rc;

	opts = json_object();
	fb = json_object();
	rc = -1;
	if (opts == NULL || fb == NULL)
		goto out;
	rc = json_object_set_new(opts, "safe", json_integer(r->safe));
	rc |= json_object_set_new(opts, "id_trans", json_integer(r->id_trans));
	rc |= json_object_set_new(opts, "long_content",
	    json_integer(r->long_content));
	rc |= set_str(fb, "touser", r->fb_user);
	rc |= set_str(fb, "toparty", r->fb_party);
	rc |= set_str(fb, "totag", r->fb_tag);
	if (json_object_size(fb) > 0)
		rc |= json_object_set(opts, "fallback_to", fb);
	rc |= json_object_set(o, "opts", opts);
out:
	json_decref(opts);
	json_decref(fb);

	return (rc);
}

/* The last error, if any, and why the record failed for good. */
static int
encode_error(json_t *o, const struct outbox_record *r)
{
	json_t	*e;
	int	 rc;

	if ((e = json_object()) == NULL)
		return (-1);
	rc = 0;
	if (r->error.code != 0) {
		rc |= json_object_set_new(e, "code",
		    json_integer(r->error.code));
		rc |= json_object_set_new(e, "errcode",
		    json_integer(r->error.errcode));
		/* An errmsg that is not UTF-8 is left out, not fatal. */
		set_str(e, "errmsg", r->error.errmsg);
		set_str(e, "hint", r->error.hint);
		rc |= json_object_set_new(e, "at", json_integer(r->error.at));
		rc |= json_object_set(o, "error", e);
	}
	json_decref(e);
	if (r->failed_at > 0) {
		rc |= json_object_set_new(o, "failed_at",
		    json_integer(r->failed_at));
		rc |= set_str(o, "failed_why", r->failed_why);
	}

	return (rc);
}

/*
 * The record as one line of JSON, or NULL (out of memory). The members
 * keep this order on disk: state, target, message, options, error.
 */
char *
wecom_outbox_record_encode(const struct outbox_record *r)
{
	json_t	*o;
	char	*s;
	int	 rc;

	if (r->msg == NULL || (o = json_object()) == NULL)
		return (NULL);
	s = NULL;
	rc = encode_state(o, r);
	rc |= encode_target(o, r);
	rc |= json_object_set(o, "msg", r->msg);
	rc |= set_str(o, "fallback", r->fallback);
	rc |= encode_opts(o, r);
	rc |= json_object_set_new(o, "dup_interval",
	    json_integer(r->dup_interval));
	rc |= encode_error(o, r);
	if (rc == 0)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);

	return (s);
}

/* Version, key and where the record stands, within what we write. */
static int
decode_state(struct outbox_record *r, json_t *o)
{
	const char	*key, *why;

	key = json_string_value(json_object_get(o, "key"));
	if (!json_is_object(o) || get_int(o, "v", 0) != OUTBOX_VERSION ||
	    key == NULL || wecom_outbox_key_valid(key) != WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);
	memcpy(r->key, key, strlen(key) + 1);
	r->created = get_int(o, "created", -1);
	r->next = get_int(o, "next", -1);
	r->inflight = get_int(o, "inflight", 0);
	r->interrupted = (int)get_int(o, "interrupted", 0);
	r->failed_at = get_int(o, "failed_at", 0);
	why = json_string_value(json_object_get(o, "failed_why"));
	if (why != NULL && strlen(why) < sizeof(r->failed_why))
		memcpy(r->failed_why, why, strlen(why) + 1);
	r->attempts = (int)get_int(o, "attempts", -1);
	r->dup_interval = (int)get_int(o, "dup_interval", -1);
	if (r->created <= 0 || r->next <= 0 || r->attempts < 0 ||
	    r->dup_interval < 0 || r->dup_interval > WECOM_DUP_INTERVAL_MAX)
		return (WECOM_API_ERR_PROTOCOL);

	return (WECOM_API_OK);
}

/* One sender, and one kind of target for it. */
static int
decode_target(struct outbox_record *r, json_t *o)
{
	json_t	*to;

	to = json_object_get(o, "to");
	if (get_str(o, "app", &r->app) != WECOM_API_OK ||
	    get_str(o, "robot", &r->robot) != WECOM_API_OK ||
	    get_str(o, "aibot", &r->aibot) != WECOM_API_OK ||
	    get_str(o, "forward", &r->forward) != WECOM_API_OK ||
	    get_str(o, "chat", &r->chat) != WECOM_API_OK ||
	    get_str(to, "touser", &r->touser) != WECOM_API_OK ||
	    get_str(to, "toparty", &r->toparty) != WECOM_API_OK ||
	    get_str(to, "totag", &r->totag) != WECOM_API_OK ||
	    get_str(o, "fallback", &r->fallback) != WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);
	r->chat_type = (int)json_integer_value(json_object_get(o, "chat_type"));
	if ((r->app != NULL) + (r->robot != NULL) + (r->aibot != NULL) +
	    (r->forward != NULL) != 1 ||
	    (r->forward != NULL && (to != NULL || r->chat != NULL)) ||
	    (r->robot != NULL && (to != NULL || r->chat != NULL)) ||
	    (r->aibot != NULL && (to != NULL || r->chat == NULL ||
	    (r->chat_type != 1 && r->chat_type != 2))) ||
	    (r->app != NULL && (to == NULL) == (r->chat == NULL)))
		return (WECOM_API_ERR_PROTOCOL);

	return (WECOM_API_OK);
}

/* {"msgtype": T, T: {...}}: a type, and an object of that name. */
static int
decode_msg(struct outbox_record *r, json_t *o)
{
	json_t	*type, *inner;

	r->msg = json_incref(json_object_get(o, "msg"));
	type = json_object_get(r->msg, "msgtype");
	inner = json_is_string(type) ?
	    json_object_get(r->msg, json_string_value(type)) : NULL;

	return (json_is_object(inner) ? WECOM_API_OK : WECOM_API_ERR_PROTOCOL);
}

static int
decode_opts(struct outbox_record *r, json_t *o)
{
	json_t	*opts, *fb;

	opts = json_object_get(o, "opts");
	fb = json_object_get(opts, "fallback_to");
	r->safe = (int)get_int(opts, "safe", 0);
	r->id_trans = (int)get_int(opts, "id_trans", 0);
	r->long_content = (int)get_int(opts, "long_content", 0);
	if (get_str(fb, "touser", &r->fb_user) != WECOM_API_OK ||
	    get_str(fb, "toparty", &r->fb_party) != WECOM_API_OK ||
	    get_str(fb, "totag", &r->fb_tag) != WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);

	return (WECOM_API_OK);
}

static int
decode_error(struct outbox_record *r, json_t *o)
{
	json_t	*e;

	if ((e = json_object_get(o, "error")) == NULL)
		return (WECOM_API_OK);
	r->error.code = (int)get_int(e, "code", 0);
	r->error.errcode = (long)get_int(e, "errcode", 0);
	r->error.at = get_int(e, "at", 0);
	if (get_str(e, "errmsg", &r->error.errmsg) != WECOM_API_OK ||
	    get_str(e, "hint", &r->error.hint) != WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);

	return (WECOM_API_OK);
}

/*
 * A record from its JSON. Anything we would not have written is
 * refused: a record decoded here can be sent as it is.
 */
int
wecom_outbox_record_decode(struct outbox_record *r, const char *data,
    size_t len)
{
	json_error_t	 jerr;
	json_t		*o;
	int		 rc;

	memset(r, 0, sizeof(*r));
	if ((o = json_loadb(data, len, 0, &jerr)) == NULL)
		return (WECOM_API_ERR_PROTOCOL);
	if ((rc = decode_state(r, o)) == WECOM_API_OK &&
	    (rc = decode_target(r, o)) == WECOM_API_OK &&
	    (rc = decode_msg(r, o)) == WECOM_API_OK &&
	    (rc = decode_opts(r, o)) == WECOM_API_OK)
		rc = decode_error(r, o);
	json_decref(o);
	if (rc != WECOM_API_OK)
		wecom_outbox_record_free(r);

	return (rc);
}

/* The message as WeCom's JSON; long content is split only when sent. */
int
wecom_outbox_record_set_msg(struct outbox_record *r,
    const struct wecom_outmsg *m)
{
	const char	*content, *fb;

	content = wecom_client_msg_content(m);
	fb = wecom_client_msg_fallback(m);
	json_decref(r->msg);
	free(r->fallback);
	r->fallback = NULL;
	if ((r->msg = wecom_client_msg_body(m, content)) == NULL)
		return (WECOM_API_ERR_ARG);
	if (fb != NULL && (r->fallback = strdup(fb)) == NULL)
		return (WECOM_API_ERR_NOMEM);

	return (WECOM_API_OK);
}

/* ["a", "b"] → "a,b"; NULL if not an array of strings. */
static char *
join_array(json_t *a)
{
	json_t	*v;
	size_t	 i, len;
	char	*s;

	if (!json_is_array(a))
		return (NULL);
	len = 1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v))
			return (NULL);
		len += json_string_length(v) + 1;
	}
	if ((s = calloc(1, len)) == NULL)
		return (NULL);
	json_array_foreach(a, i, v) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, json_string_value(v));
	}

	return (s);
}

/*
 * The message back, built as its sender built it: text and markdown
 * through their own builders, so that long content is split again.
 */
struct wecom_outmsg *
wecom_outbox_record_msg(const struct outbox_record *r)
{
	struct wecom_outmsg	*m;
	const char		*type;
	json_t			*inner, *content;
	char			*users, *mobiles, *s;

	type = json_string_value(json_object_get(r->msg, "msgtype"));
	if (type == NULL ||
	    !json_is_object(inner = json_object_get(r->msg, type)))
		return (NULL);
	content = json_object_get(inner, "content");

	if (strcmp(type, "text") == 0 && json_is_string(content)) {
		if ((m = wecom_outmsg_text(json_string_value(content))) == NULL)
			return (NULL);
		users = join_array(json_object_get(inner, "mentioned_list"));
		mobiles = join_array(json_object_get(inner,
		    "mentioned_mobile_list"));
		if ((users != NULL || mobiles != NULL) &&
		    wecom_outmsg_mention(m, users, mobiles) != WECOM_API_OK) {
			wecom_outmsg_free(m);
			m = NULL;
		}
		free(users);
		free(mobiles);
		return (m);
	}
	if (strcmp(type, "markdown") == 0 && json_is_string(content))
		return (wecom_outmsg_markdown(json_string_value(content),
		    r->fallback));

	if ((s = json_dumps(inner, JSON_COMPACT)) == NULL)
		return (NULL);
	m = wecom_outmsg_json(type, s);
	free(s);

	return (m);
}

void
wecom_outbox_record_set_error(struct outbox_record *r,
    const struct wecom_api_error *e, int64_t now)
{
	free(r->error.errmsg);
	free(r->error.hint);
	r->error.code = e->code;
	r->error.errcode = e->errcode;
	r->error.errmsg = strdup(e->errmsg);
	r->error.hint = e->hint != NULL ? strdup(e->hint) : NULL;
	r->error.at = now;
}

/* A key is a file name too: no '/', no leading '.', nothing to quote. */
int
wecom_outbox_key_valid(const char *key)
{
	size_t	i, len;
	char	c;

	len = strlen(key);
	if (len == 0 || len > WECOM_OUTBOX_KEY_MAX || key[0] == '.')
		return (WECOM_API_ERR_ARG);
	for (i = 0; i < len; i++) {
		c = key[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.'))
			return (WECOM_API_ERR_ARG);
	}

	return (WECOM_API_OK);
}

/* 128 random bits as 32 hex digits. */
void
wecom_outbox_key_random(char out[WECOM_OUTBOX_KEY_MAX + 1])
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		b[16];
	size_t			i;

	arc4random_buf(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++) {
		out[i * 2] = hex[b[i] >> 4];
		out[i * 2 + 1] = hex[b[i] & 0xf];
	}
	out[sizeof(b) * 2] = '\0';
}

/*
 * The wait before attempt attempts + 1: base · 2^(attempts - 1), capped
 * at 32 · base and at an hour, and spread over [d/2, d] so that
 * messages failed together do not come back together.
 */
long
wecom_outbox_backoff_ms(long base_ms, int attempts, uint32_t rnd)
{
	long	d, cap;
	int	i;

	if (base_ms < 1)
		base_ms = 1;
	cap = base_ms > OUTBOX_BACKOFF_CAP_MS / 32 ? OUTBOX_BACKOFF_CAP_MS :
	    base_ms * 32;
	d = base_ms;
	for (i = 1; i < attempts && d < cap; i++)
		d *= 2;
	if (d > cap)
		d = cap;

	return (d / 2 + (long)(rnd % (uint32_t)(d / 2 + 1)));
}

/* "app main to zhangsan|lisi", "robot ops", "aibot helper group wr…". */
void
wecom_outbox_record_describe(const struct outbox_record *r, char *buf,
    size_t len)
{
	if (r->robot != NULL)
		snprintf(buf, len, "robot %s", r->robot);
	else if (r->forward != NULL)
		snprintf(buf, len, "forward of %s", r->forward);
	else if (r->aibot != NULL)
		snprintf(buf, len, "aibot %s %s %s", r->aibot,
		    r->chat_type == 2 ? "group" : "chat", r->chat);
	else if (r->chat != NULL)
		snprintf(buf, len, "app %s chat %s", r->app, r->chat);
	else
		snprintf(buf, len, "app %s to%s%s%s%s%s%s", r->app,
		    r->touser ? " " : "", r->touser ? r->touser : "",
		    r->toparty ? " party " : "", r->toparty ? r->toparty : "",
		    r->totag ? " tag " : "", r->totag ? r->totag : "");
}

/*
 * Queued anew: due now, and its age and attempts from zero, or a
 * message that failed for its age would fail again at once. What went
 * wrong before goes with the failure.
 */
void
wecom_outbox_record_requeue(struct outbox_record *r, int64_t now)
{
	free(r->error.errmsg);
	free(r->error.hint);
	memset(&r->error, 0, sizeof(r->error));
	r->created = now;
	r->next = now;
	r->attempts = 0;
	r->interrupted = 0;
	r->inflight = 0;
	r->failed_at = 0;
	r->failed_why[0] = '\0';
}
