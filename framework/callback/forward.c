/* SPDX-License-Identifier: ISC */
/*
 * The built-in app "forward": each message is POSTed as JSON (the shape
 * of msg_json.c) to the section's `forward` URL, signed with an
 * HMAC-SHA256 of "timestamp.body" under `forward_secret`, and the JSON
 * answer is the reply — in time, the passive one; later, a message (the
 * threaded app's deadline does that). A bot in Python or PHP needs no C:
 *
 *	[app desk]
 *	handler        = forward
 *	forward        = https://bots.example.com/wecom
 *	forward_secret = file:/etc/wecom/desk.forward
 *
 * Answers: {"msg_type":"text","text":"…"}, {"msg_type":"markdown",
 * "markdown":"…"}, {"msg_type":"image"|"voice"|"video"|"file",
 * "media_id":"…"} or with "url" (fetched and uploaded), {"msg_type":
 * "news","articles":[{"title","description","url","picurl"}]}; an empty
 * body, {} or 204: no reply. A receiver that is down (no answer, 5xx)
 * gets the message again later from the outbox, with the same id.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_outbox.h"
#include "wecom_app.h"
#include "wecom_forward.h"

#define ANSWER_MAX	(1024 * 1024)
#define FETCH_MAX	(10 * 1024 * 1024)

static int	forward_init(struct wecom_app *);
static int	forward_handler(struct wecom_ctx *, const struct wecom_msg *,
		    void *);
static int	forward_answer(struct wecom_ctx *, const char *, size_t);
static int	forward_media(struct wecom_ctx *, const char *, json_t *);
static int	forward_news(struct wecom_ctx *, json_t *);
static void	forward_queue(struct wecom_ctx *, const char *, const char *);
static int	forward_late(const struct wecom_conf *,
		    const struct wecom_conf_section *, json_t *, const char *,
		    size_t, struct wecom_api_error *);
static struct wecom_outmsg	*forward_outmsg(const char *, size_t);

void
wecom_forward_register(void)
{
	wecom_app_register("forward", forward_init);
}

static int
forward_init(struct wecom_app *app)
{
	const char	*url;

	url = wecom_app_conf(app, "forward");
	if (url == NULL || (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0)) {
		fprintf(stderr, "wecom: [%s] handler = forward needs forward = "
		    "https://…\n", wecom_app_name(app));
		return (WECOM_ERROR);
	}
	wecom_app_set_threaded(app, 1);

	return (wecom_on_default(app, forward_handler, NULL));
}

/*
 * "X-Wecom-Signature: sha256=HEX" of "timestamp.body", so that the
 * receiver can refuse a replay or a forgery; none without a secret.
 */
int
wecom_forward_sign(const char *secret, const char *ts, const char *body,
    char *out, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	char		*msg;
	size_t		 n;

	n = strlen(ts) + 1 + strlen(body) + 1;
	if (len < 2 * 32 + 40 || (msg = malloc(n)) == NULL)
		return (WECOM_ERROR);
	snprintf(msg, n, "%s.%s", ts, body);
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (unsigned char *)msg, n - 1, md, &mdlen) == NULL) {
		free(msg);
		return (WECOM_ERROR);
	}
	free(msg);
	n = (size_t)snprintf(out, len, "X-Wecom-Signature: sha256=");
	for (i = 0; i < mdlen; i++, n += 2)
		snprintf(out + n, len - n, "%02x", md[i]);

	return (WECOM_OK);
}

/* One POST: the answer's status and body, or WECOM_API_ERR_*. */
int
wecom_forward_post(struct wecom_client *c, const char *url,
    const char *secret, const char *id, const char *body, long *status,
    char **answer, size_t *alen, struct wecom_api_error *err)
{
	const char	*h[4];
	char		 hid[160], hts[64], hsig[128];

	snprintf(hts, sizeof(hts), "X-Wecom-Timestamp: %lld",
	    (long long)time(NULL));
	snprintf(hid, sizeof(hid), "X-Wecom-Event-Id: %s", id);
	h[0] = hid;
	h[1] = hts;
	h[2] = h[3] = NULL;
	if (secret != NULL && wecom_forward_sign(secret, hts + 19, body, hsig,
	    sizeof(hsig)) == WECOM_OK)
		h[2] = hsig;

	return (wecom_client_post(c, url, h, body, ANSWER_MAX, status, answer,
	    alen, err));
}

static int
forward_handler(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	json_t			*o, *m;
	char			 id[160], *body, *ans;
	size_t			 alen;
	long			 status;
	int			 rc;

	if (msg->msgid != NULL)
		snprintf(id, sizeof(id), "%s:%s", wecom_app_name(ctx->app),
		    msg->msgid);
	else if (wecom_random_hex(id, 16) != WECOM_OK)
		return (WECOM_STOP);
	/* The receiver is the app's own: it gets response_url too. */
	body = NULL;
	if ((o = json_pack("{s:s}", "id", id)) != NULL &&
	    (m = wecom_msg_json(ctx, WECOM_MSG_JSON_FIELDS)) != NULL) {
		json_object_update(o, m);
		json_decref(m);
		body = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	if (body == NULL || ctx->conf == NULL ||
	    (c = wecom_client_new_robot(ctx->conf, &err)) == NULL) {
		free(body);
		return (WECOM_STOP);
	}
	rc = wecom_forward_post(c, wecom_ctx_app_conf(ctx, "forward"),
	    wecom_ctx_app_conf(ctx, "forward_secret"), id, body, &status, &ans,
	    &alen, &err);
	wecom_client_free(c);
	if (rc == WECOM_API_OK && status >= 200 && status < 300)
		(void)forward_answer(ctx, ans, alen);
	else if (rc != WECOM_API_OK || status >= 500)
		forward_queue(ctx, id, body);
	else
		fprintf(stderr, "wecom: [%s] forward: the receiver refused "
		    "event %s with HTTP %ld: dropped\n",
		    wecom_app_name(ctx->app), id, status);
	free(ans);
	free(body);

	return (WECOM_STOP);
}

/* The receiver's answer as the reply; nothing for no answer. */
static int
forward_answer(struct wecom_ctx *ctx, const char *ans, size_t len)
{
	json_t		*o;
	const char	*type, *text;
	int		 rc;

	if (len == 0)
		return (WECOM_OK);
	if ((o = json_loadb(ans, len, 0, NULL)) == NULL || !json_is_object(o)) {
		json_decref(o);
		fprintf(stderr, "wecom: [%s] forward: the answer is no JSON "
		    "object: no reply\n", wecom_app_name(ctx->app));
		return (WECOM_ERROR);
	}
	type = json_string_value(json_object_get(o, "msg_type"));
	text = json_string_value(json_object_get(o, type != NULL ? type : ""));
	if (type == NULL)
		rc = WECOM_OK;		/* {}: no reply */
	else if (strcmp(type, "text") == 0 && text != NULL)
		rc = wecom_reply_text(ctx, text);
	else if (strcmp(type, "markdown") == 0 && text != NULL)
		rc = wecom_reply_markdown(ctx, text);
	else if (strcmp(type, "news") == 0)
		rc = forward_news(ctx, o);
	else
		rc = forward_media(ctx, type, o);
	json_decref(o);

	return (rc);
}

/* By media_id, or fetched from url and uploaded the channel's way. */
static int
forward_media(struct wecom_ctx *ctx, const char *type, json_t *o)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	const char		*id, *url, *name;
	void			*data;
	size_t			 len;
	int			 rc;

	id = json_string_value(json_object_get(o, "media_id"));
	url = json_string_value(json_object_get(o, "url"));
	if (id != NULL && strcmp(type, "image") == 0)
		return (wecom_reply_image(ctx, id));
	if (id != NULL && strcmp(type, "voice") == 0)
		return (wecom_reply_voice(ctx, id));
	if (id != NULL && strcmp(type, "video") == 0)
		return (wecom_reply_video(ctx, id, NULL, NULL));
	if (url == NULL || (c = wecom_client_new_robot(ctx->conf, &err)) ==
	    NULL)
		return (WECOM_ERROR);
	rc = wecom_client_download(c, url, FETCH_MAX, &data, &len, &err);
	wecom_client_free(c);
	if (rc != WECOM_API_OK)
		return (WECOM_ERROR);
	if ((name = strrchr(url, '/')) == NULL || name[1] == '\0' ||
	    strchr(name, '?') != NULL)
		name = "/file";
	rc = wecom_reply_upload(ctx, type, name + 1, data, len);
	free(data);

	return (rc);
}

static int
forward_news(struct wecom_ctx *ctx, json_t *o)
{
	struct wecom_article	 a[WECOM_NEWS_MAX];
	json_t			*arr, *it;
	size_t			 i, n;

	arr = json_object_get(o, "articles");
	if ((n = json_array_size(arr)) == 0 || n > WECOM_NEWS_MAX)
		return (WECOM_ERR_TOO_MANY);
	json_array_foreach(arr, i, it) {
		a[i].title = json_string_value(json_object_get(it, "title"));
		a[i].description = json_string_value(json_object_get(it,
		    "description"));
		a[i].url = json_string_value(json_object_get(it, "url"));
		a[i].pic_url = json_string_value(json_object_get(it, "picurl"));
	}

	return (wecom_reply_news(ctx, a, n));
}

/*
 * Down: the outbox sends it again, with the same id (its key too: one
 * record however often WeCom repeats the callback), until it answers.
 */
static void
forward_queue(struct wecom_ctx *ctx, const char *id, const char *body)
{
	struct wecom_outbox_to	 to;
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	char			 key[2 * 20 + 8];

	memset(&to, 0, sizeof(to));
	to.forward = wecom_app_name(ctx->app);
	/* A key of the id's digest: ids may hold what keys may not. */
	snprintf(key, sizeof(key), "fwd-");
	if (EVP_Digest(id, strlen(id), md, &mdlen, EVP_sha1(), NULL) == 1)
		for (i = 0; i < mdlen && i < 20; i++)
			snprintf(key + 4 + 2 * i, 3, "%02x", md[i]);
	if ((m = wecom_outmsg_json("forward", body)) == NULL ||
	    wecom_outbox_put(ctx->conf, &to, m, NULL, key, NULL, &err) !=
	    WECOM_API_OK)
		fprintf(stderr, "wecom: [%s] forward: event %s lost: the "
		    "receiver did not answer and the outbox refused it\n",
		    wecom_app_name(ctx->app), id);
	else
		fprintf(stderr, "wecom: [%s] forward: the receiver did not "
		    "answer event %s: queued, sent again later\n",
		    wecom_app_name(ctx->app), id);
	wecom_outmsg_free(m);
}

/*
 * The outbox's drain (conf->forward_send), for a receiver that was
 * down: the same JSON again; an answer now is late for any passive
 * reply, so it goes as a message to whoever wrote.
 */
int
wecom_forward_resend(void *arg, const char *name, const char *event,
    struct wecom_api_error *err)
{
	const struct wecom_conf			*conf = arg;
	const struct wecom_conf_section		*s;
	struct wecom_client			*c;
	json_t					*e;
	char					*ans;
	size_t					 alen;
	long					 status;
	int					 rc;

	if ((s = wecom_conf_section(conf, "app", name)) == NULL)
		s = wecom_conf_section(conf, "aibot", name);
	e = json_loads(event, 0, NULL);
	if (s == NULL || e == NULL || (c = wecom_client_new_robot(conf,
	    err)) == NULL) {
		json_decref(e);
		return (err->code ? err->code : WECOM_API_ERR_CONFIG);
	}
	rc = wecom_forward_post(c, wecom_conf_get(s, "forward"),
	    wecom_conf_get(s, "forward_secret"), json_string_value(
	    json_object_get(e, "id")), event, &status, &ans, &alen, err);
	wecom_client_free(c);
	if (rc == WECOM_API_OK && status >= 500)
		rc = err->code = WECOM_API_ERR_UNAVAILABLE;
	else if (rc == WECOM_API_OK && (status < 200 || status >= 300))
		rc = err->code = WECOM_API_ERR_HTTP;
	else if (rc == WECOM_API_OK)
		rc = forward_late(conf, s, e, ans, alen, err);
	free(ans);
	json_decref(e);

	return (rc);
}

/* A late answer as a message: an app's to the member, a bot's queued. */
static int
forward_late(const struct wecom_conf *conf, const struct wecom_conf_section *s,
    json_t *e, const char *ans, size_t len, struct wecom_api_error *err)
{
	struct wecom_outbox_to	 to;
	struct wecom_target	 t;
	struct wecom_client	*c;
	struct wecom_outmsg	*m;
	const char		*from, *chat;
	int			 rc;

	if (len == 0 || (m = forward_outmsg(ans, len)) == NULL)
		return (WECOM_API_OK);		/* no reply: done */
	from = json_string_value(json_object_get(e, "from"));
	chat = json_string_value(json_object_get(e, "chat"));
	rc = WECOM_API_OK;
	if (strcmp(s->type, "aibot") == 0) {
		memset(&to, 0, sizeof(to));
		to.aibot = s->name;
		to.chat = chat != NULL ? chat : from;
		to.group = chat != NULL;
		rc = wecom_outbox_put(conf, &to, m, NULL, NULL, NULL, err);
	} else if ((c = wecom_client_new(conf, s->name, err)) != NULL) {
		memset(&t, 0, sizeof(t));
		t.touser = from;
		rc = wecom_message_send(c, &t, m, NULL, NULL, err);
		wecom_client_free(c);
	} else
		rc = err->code;
	wecom_outmsg_free(m);

	return (rc);
}

/* An answer as a message of its own: text, markdown, media by id, news. */
static struct wecom_outmsg *
forward_outmsg(const char *ans, size_t len)
{
	struct wecom_outmsg	*m;
	json_t			*o, *it;
	const char		*type, *text, *id;
	size_t			 i;

	if ((o = json_loadb(ans, len, 0, NULL)) == NULL ||
	    (type = json_string_value(json_object_get(o, "msg_type"))) ==
	    NULL) {
		json_decref(o);
		return (NULL);
	}
	text = json_string_value(json_object_get(o, type));
	id = json_string_value(json_object_get(o, "media_id"));
	m = NULL;
	if (strcmp(type, "text") == 0 && text != NULL)
		m = wecom_outmsg_text(text);
	else if (strcmp(type, "markdown") == 0 && text != NULL)
		m = wecom_outmsg_markdown(text, NULL);
	else if (strcmp(type, "news") == 0 && (m = wecom_outmsg_news()) != NULL)
		json_array_foreach(json_object_get(o, "articles"), i, it)
			(void)wecom_outmsg_news_add(m, json_string_value(
			    json_object_get(it, "title")), json_string_value(
			    json_object_get(it, "description")),
			    json_string_value(json_object_get(it, "url")),
			    json_string_value(json_object_get(it, "picurl")));
	else if (id != NULL)
		m = wecom_outmsg_media(type, id);
	json_decref(o);

	return (m);
}
