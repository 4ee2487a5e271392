/* SPDX-License-Identifier: ISC */
/*
 * Push requests, from what a caller sent to an outbox target and a
 * message. The three front doors (JSON, query/form, Alertmanager) fill
 * the same fields; one set of rules then picks the recipients (the
 * request's, else the key's defaults), checks the key's scope and
 * builds the message. Every refusal names the field at fault.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/uri.h>
#include <openssl/evp.h>

#include "wecom_push.h"
#include "wecom_push_alert.h"

/* The fields a request may carry, in every front door. */
enum {
	F_APP, F_TO, F_TOPARTY, F_TOTAG, F_CHAT, F_ROBOT, F_MSGTYPE,
	F_CONTENT, F_TITLE, F_ID, F_SAFE, F_KEY, F_AIBOT, F_GROUP, F_N
};

static const char *const field_name[F_N] = {
	"app", "to", "toparty", "totag", "chat", "robot", "msgtype",
	"content", "title", "id", "safe", "key", "aibot", "group"
};

struct fields {
	const char	*v[F_N];
	json_t		*object;	/* JSON: {"textcard": {...}} */
};

static int	fail(struct wecom_push *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	form_parse(struct wecom_push *, struct fields *, char *);
static int	form_decode(char *);
static int	json_fields(struct wecom_push *, struct fields *, json_t *);
static int	json_field(struct wecom_push *, struct fields *, int, json_t *);
static int	json_join(struct wecom_push *, struct fields *, json_t *);
static int	build(struct wecom_push *, const struct wecom_conf *,
		    const struct wecom_apikey *, const struct fields *);
static int	target(struct wecom_push *, const struct wecom_conf *,
		    const struct wecom_apikey *, const struct fields *);
static int	target_aibot(struct wecom_push *, const struct wecom_conf *,
		    const struct fields *);
static int	limits(struct wecom_push *);
static int	too_many(struct wecom_push *, const char *, const char *,
		    size_t);
static int	scope(struct wecom_push *, const struct wecom_apikey *);
static int	message(struct wecom_push *, const struct fields *);
static int	set_id(struct wecom_push *, const struct wecom_apikey *,
		    const char *);
static int	id_digest(const char *, const char *, unsigned char *);
static int	id_digest_field(EVP_MD_CTX *, const char *);

int
wecom_push_json(struct wecom_push *p, const struct wecom_conf *conf,
    const struct wecom_apikey *key, const char *body, size_t len)
{
	struct fields	f;
	json_error_t	jerr;

	memset(p, 0, sizeof(*p));
	memset(&f, 0, sizeof(f));
	p->doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (p->doc == NULL || !json_is_object(p->doc))
		return (fail(p, 400, "body: expected a JSON object (%s)",
		    p->doc == NULL ? jerr.text : "not an object"));
	if (json_fields(p, &f, p->doc) != 0)
		return (p->status);

	return (build(p, conf, key, &f));
}

int
wecom_push_form(struct wecom_push *p, const struct wecom_conf *conf,
    const struct wecom_apikey *key, char *query, char *form)
{
	struct fields	f;

	memset(p, 0, sizeof(*p));
	memset(&f, 0, sizeof(f));
	if (form_parse(p, &f, query) != 0 || form_parse(p, &f, form) != 0)
		return (p->status);

	return (build(p, conf, key, &f));
}

/* Recipients from the query, the message from Alertmanager's body. */
int
wecom_push_alert(struct wecom_push *p, const struct wecom_conf *conf,
    const struct wecom_apikey *key, char *query, const char *body,
    size_t len)
{
	struct fields	f;
	char		err[160];

	memset(p, 0, sizeof(*p));
	memset(&f, 0, sizeof(f));
	if (form_parse(p, &f, query) != 0)
		return (p->status);
	if (f.v[F_CONTENT] != NULL || f.v[F_MSGTYPE] != NULL)
		return (fail(p, 400, "%s: the alerts are the message",
		    f.v[F_CONTENT] ? "content" : "msgtype"));
	if ((p->text = wecom_alert_markdown(body, len,
	    conf->alert_utc_offset_min, err,
	    sizeof(err))) == NULL)
		return (fail(p, 400, "%s", err));
	f.v[F_MSGTYPE] = "markdown";
	f.v[F_CONTENT] = p->text;

	return (build(p, conf, key, &f));
}

void
wecom_push_clear(struct wecom_push *p)
{
	wecom_outmsg_free(p->msg);
	json_decref(p->doc);
	free(p->text);
	free(p->to_list);
	memset(p, 0, sizeof(*p));
}

static int
fail(struct wecom_push *p, int status, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(p->why, sizeof(p->why), fmt, ap);
	va_end(ap);
	p->status = status;

	return (status);
}

/* name=value&…, decoded in place; unknown names are ignored. */
static int
form_parse(struct wecom_push *p, struct fields *f, char *s)
{
	char	*pair, *eq;
	int	 i;

	while (s != NULL && (pair = strsep(&s, "&")) != NULL) {
		if ((eq = strchr(pair, '=')) == NULL)
			continue;
		*eq++ = '\0';
		for (i = 0; i < F_N; i++)
			if (strcmp(field_name[i], pair) == 0)
				break;
		if (i == F_N)
			continue;
		if (f->v[i] != NULL)
			return (fail(p, 400, "%s: given twice", pair));
		if (form_decode(eq) != 0)
			return (fail(p, 400, "%s: bad percent-encoding", pair));
		f->v[i] = eq;
	}

	return (0);
}

/* Form encoding: '+' is a space, %XX a byte; %00 is refused. */
static int
form_decode(char *v)
{
	char	*c;

	for (c = v; *c != '\0'; c++)
		if (*c == '+')
			*c = ' ';
	if (strstr(v, "%00") != NULL ||
	    xmlURIUnescapeString(v, (int)strlen(v), v) == NULL)
		return (-1);

	return (0);
}

/* A decoded copy of one value, for the key before the request is read. */
char *
wecom_form_get(const char *form, const char *name)
{
	const char	*p, *end;
	size_t		 n;
	char		*v;

	n = strlen(name);
	for (p = form; p != NULL && *p != '\0'; p = end ? end + 1 : NULL) {
		end = strchr(p, '&');
		if (strncmp(p, name, n) != 0 || p[n] != '=')
			continue;
		p += n + 1;
		v = end ? strndup(p, (size_t)(end - p)) : strdup(p);
		if (v != NULL && form_decode(v) != 0) {
			free(v);
			v = NULL;
		}
		return (v);
	}

	return (NULL);
}

static int
json_fields(struct wecom_push *p, struct fields *f, json_t *o)
{
	const char	*name;
	json_t		*v;
	int		 i;

	json_object_foreach(o, name, v) {
		for (i = 0; i < F_N; i++)
			if (strcmp(field_name[i], name) == 0)
				break;
		if (i < F_N && json_field(p, f, i, v) != 0)
			return (p->status);
	}
	/* WeCom's own shape for any type: {"msgtype": T, T: {...}}. */
	if (f->v[F_MSGTYPE] != NULL &&
	    (v = json_object_get(o, f->v[F_MSGTYPE])) != NULL) {
		if (!json_is_object(v))
			return (fail(p, 400, "%s: expected an object",
			    f->v[F_MSGTYPE]));
		f->object = v;
	}

	return (0);
}

/* Strings; "to" may be a list; "safe" a number or a boolean. */
static int
json_field(struct wecom_push *p, struct fields *f, int i, json_t *v)
{
	if ((i == F_SAFE || i == F_GROUP) &&
	    (json_is_integer(v) || json_is_boolean(v))) {
		f->v[i] = json_is_true(v) || json_integer_value(v) == 1 ?
		    "1" : "0";
		return (0);
	}
	if (json_is_string(v)) {
		f->v[i] = json_string_value(v);
		return (0);
	}
	if (i != F_TO || !json_is_array(v))
		return (fail(p, 400, "%s: expected a string", field_name[i]));

	return (json_join(p, f, v));
}

/*
 * ["a", "b"] → "a|b" in p->to_list: measured, then copied once.
 * Growing the string name by name held the event loop for seconds on
 * a 256 KiB list.
 */
static int
json_join(struct wecom_push *p, struct fields *f, json_t *v)
{
	json_t	*item;
	size_t	 i, len, n;
	char	*c;

	len = 1;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item))
			return (fail(p, 400, "to: expected strings"));
		len += strlen(json_string_value(item)) + 1;
	}
	if ((c = p->to_list = malloc(len)) == NULL)
		return (fail(p, 400, "to: out of memory"));
	json_array_foreach(v, i, item) {
		if (i > 0)
			*c++ = '|';
		n = strlen(json_string_value(item));
		memcpy(c, json_string_value(item), n);
		c += n;
	}
	*c = '\0';
	f->v[F_TO] = p->to_list;

	return (0);
}

static int
build(struct wecom_push *p, const struct wecom_conf *conf,
    const struct wecom_apikey *key, const struct fields *f)
{
	const char	*safe = f->v[F_SAFE];

	if (target(p, conf, key, f) != 0 || limits(p) != 0 ||
	    scope(p, key) != 0 ||
	    set_id(p, key, f->v[F_ID]) != 0 || message(p, f) != 0)
		return (p->status);
	if (safe != NULL && strcmp(safe, "0") != 0 && strcmp(safe, "1") != 0)
		return (fail(p, 400, "safe: expected 0 or 1"));
	p->opts.safe = safe != NULL && *safe == '1';

	return (0);
}

/*
 * The request's recipients, else the key's defaults: its robot unless
 * the request names an app, then its users, parties, tags or chat.
 */
static int
target(struct wecom_push *p, const struct wecom_conf *conf,
    const struct wecom_apikey *key, const struct fields *f)
{
	struct wecom_outbox_to	*t = &p->to;
	const struct wecom_app_conf	*a;

	if (f->v[F_AIBOT] != NULL)
		return (target_aibot(p, conf, f));
	if (f->v[F_GROUP] != NULL)
		return (fail(p, 400, "group: for aibot only"));
	t->to.touser = f->v[F_TO];
	t->to.toparty = f->v[F_TOPARTY];
	t->to.totag = f->v[F_TOTAG];
	t->chat = f->v[F_CHAT];
	t->robot = f->v[F_ROBOT];
	t->app = f->v[F_APP] ? f->v[F_APP] : key->app;
	if (t->robot != NULL && (t->to.touser || t->to.toparty ||
	    t->to.totag || t->chat || f->v[F_APP]))
		return (fail(p, 400, "robot: a robot message has no other "
		    "recipient (to, toparty, totag, chat, app)"));
	if (t->robot == NULL && !t->to.touser && !t->to.toparty &&
	    !t->to.totag && !t->chat) {
		if (key->robot != NULL && f->v[F_APP] == NULL) {
			t->robot = key->robot;
		} else {
			t->to.touser = key->to;
			t->to.toparty = key->toparty;
			t->to.totag = key->totag;
			t->chat = key->chat;
		}
	}
	if (t->robot != NULL) {
		t->app = NULL;
		if (wecom_robot_key(conf, t->robot) == NULL)
			return (fail(p, 400, "robot: no [robot %.64s] with a "
			    "key", t->robot));
		return (0);
	}
	if (!t->to.touser && !t->to.toparty && !t->to.totag && !t->chat)
		return (fail(p, 400, "to: no recipient (give to, toparty, "
		    "totag, chat or robot)"));
	a = t->app ? wecom_conf_app(conf, t->app) : TAILQ_FIRST(&conf->apps);
	if (a == NULL || a->secret == NULL)
		return (fail(p, 400, "app: no [app %.64s] with a secret",
		    t->app ? t->app : ""));
	t->app = a->name;

	return (0);
}

/* A bot's conversation: chat, a member's UserID or (group) a chatid. */
static int
target_aibot(struct wecom_push *p, const struct wecom_conf *conf,
    const struct fields *f)
{
	const struct wecom_app_conf	*bot;
	const char			*g = f->v[F_GROUP];

	if (f->v[F_TO] || f->v[F_TOPARTY] || f->v[F_TOTAG] || f->v[F_ROBOT] ||
	    f->v[F_APP] || f->v[F_CHAT] == NULL)
		return (fail(p, 400, "aibot: give chat (a UserID, or with "
		    "group 1 a chatid) and no other recipient"));
	if ((bot = wecom_conf_aibot(conf, f->v[F_AIBOT])) == NULL || !bot->ws)
		return (fail(p, 400, "aibot: no [aibot %.64s] with mode = "
		    "websocket", f->v[F_AIBOT]));
	if (g != NULL && strcmp(g, "0") != 0 && strcmp(g, "1") != 0)
		return (fail(p, 400, "group: expected 0 or 1"));
	p->to.aibot = bot->name;
	p->to.chat = f->v[F_CHAT];
	p->to.group = g != NULL && *g == '1';

	return (0);
}

/* WeCom's limits for one message, refused here rather than cut. */
static int
limits(struct wecom_push *p)
{
	const struct wecom_target	*to = &p->to.to;

	if (too_many(p, to->touser, "to", WECOM_PUSH_USERS_MAX) != 0 ||
	    too_many(p, to->toparty, "toparty", WECOM_PUSH_PARTIES_MAX) != 0 ||
	    too_many(p, to->totag, "totag", WECOM_PUSH_TAGS_MAX) != 0)
		return (p->status);

	return (0);
}

/* More than max names in "a|b|c"? */
static int
too_many(struct wecom_push *p, const char *list, const char *field,
    size_t max)
{
	size_t	n;

	if (list == NULL)
		return (0);
	for (n = 1; (list = strchr(list, '|')) != NULL; list++)
		if (++n > max)
			return (fail(p, 400, "%s: more than %zu (WeCom's "
			    "limit for one message)", field, max));

	return (0);
}

static int
scope(struct wecom_push *p, const struct wecom_apikey *key)
{
	if (p->to.robot != NULL && key->robots != NULL &&
	    !wecom_names_has(key->robots, p->to.robot,
	    strlen(p->to.robot)))
		return (fail(p, 403, "robot: %.64s is not allowed for this key",
		    p->to.robot));
	if (p->to.app != NULL && key->apps != NULL &&
	    !wecom_names_has(key->apps, p->to.app,
	    strlen(p->to.app)))
		return (fail(p, 403, "app: %.64s is not allowed for this key",
		    p->to.app));
	/* A key's apps list names the bots it may use too. */
	if (p->to.aibot != NULL && key->apps != NULL &&
	    !wecom_names_has(key->apps, p->to.aibot,
	    strlen(p->to.aibot)))
		return (fail(p, 403, "aibot: %.64s is not allowed for this key",
		    p->to.aibot));

	return (0);
}

/*
 * A caller's id is scoped to its key: the outbox key is "api-" and the
 * hex of a SHA-256 over the key's name and the id, each after its
 * length. Joined with '-', "team" "ops-42" and "team-ops" "42" were
 * one message, and the second caller got the first one's answer.
 */
static int
set_id(struct wecom_push *p, const struct wecom_apikey *key, const char *id)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	size_t		i;

	if (id == NULL)
		return (0);
	if (*id == '\0' || strlen(id) > WECOM_PUSH_ID_MAX ||
	    id[strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-")] != '\0')
		return (fail(p, 400, "id: 1 to %d of A-Z a-z 0-9 _ . -",
		    WECOM_PUSH_ID_MAX));
	if (id_digest(key->name, id, md) != 0)
		return (fail(p, 500, "id: SHA-256 failed"));
	/* 30 of the 32 bytes: "api-" and 60 hex digits fill an outbox key. */
	memcpy(p->id, "api-", 4);
	for (i = 0; i < (WECOM_OUTBOX_KEY_MAX - 4) / 2; i++)
		snprintf(p->id + 4 + i * 2, 3, "%02x", md[i]);

	return (0);
}

/* SHA-256 of name and id, each after its length: 0 or -1. */
static int
id_digest(const char *name, const char *id, unsigned char *md)
{
	EVP_MD_CTX	*ctx;
	unsigned int	 mdlen;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (-1);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    id_digest_field(ctx, name) == 0 && id_digest_field(ctx, id) == 0 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);

	return (ok ? 0 : -1);
}

/* A field as 8 bytes of length, big-endian, then its bytes. */
static int
id_digest_field(EVP_MD_CTX *ctx, const char *s)
{
	unsigned char	be[8];
	size_t		len;
	uint64_t	n;
	int		i;

	len = strlen(s);
	for (n = len, i = 7; i >= 0; i--, n >>= 8)
		be[i] = n & 0xff;

	return (EVP_DigestUpdate(ctx, be, sizeof(be)) == 1 &&
	    EVP_DigestUpdate(ctx, s, len) == 1 ? 0 : -1);
}

/* Text and markdown from content (and a title); any type as WeCom's own. */
static int
message(struct wecom_push *p, const struct fields *f)
{
	const char	*type, *content, *title;
	char		*s;
	int		 md;

	type = f->v[F_MSGTYPE] ? f->v[F_MSGTYPE] : "text";
	content = f->v[F_CONTENT];
	title = f->v[F_TITLE];
	if (*type == '\0' || strlen(type) > 32 ||
	    type[strspn(type, "abcdefghijklmnopqrstuvwxyz_")] != '\0')
		return (fail(p, 400, "msgtype: not a WeCom message type"));
	if (f->object != NULL) {
		if (content != NULL || title != NULL)
			return (fail(p, 400, "content: give content or a "
			    "\"%s\" object, not both", type));
		s = json_dumps(f->object, JSON_COMPACT);
		p->msg = s != NULL ? wecom_outmsg_json(type, s) : NULL;
		free(s);
		return (p->msg == NULL ? fail(p, 400, "%s: out of memory",
		    type) : 0);
	}

	md = strcmp(type, "markdown") == 0;
	if (!md && strcmp(type, "text") != 0)
		return (fail(p, 400, "%s: give this message as a \"%s\" "
		    "object; content is for text and markdown", type, type));
	if (content == NULL || *content == '\0')
		return (fail(p, 400, "content: missing"));
	if (strlen(content) > WECOM_PUSH_CONTENT_MAX)
		return (fail(p, 400, "content: longer than %d bytes",
		    WECOM_PUSH_CONTENT_MAX));
	if (title != NULL && *title != '\0') {
		if (asprintf(&s, md ? "**%s**\n%s" : "%s\n%s", title,
		    content) == -1)
			s = NULL;
	} else {
		s = strdup(content);
	}
	p->msg = s == NULL ? NULL : md ? wecom_outmsg_markdown(s, NULL) :
	    wecom_outmsg_text(s);
	free(s);

	return (p->msg == NULL ? fail(p, 400, "content: out of memory") : 0);
}
