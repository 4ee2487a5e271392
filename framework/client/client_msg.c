/* SPDX-License-Identifier: ISC */
/*
 * Message builders. A struct wecom_outmsg is one msgtype and its object;
 * text and markdown keep their content apart, because long content is
 * split into several messages only when it is sent. The same message
 * goes to message/send, appchat/send or a robot: recipients are added
 * by whoever sends it.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "client_private.h"

struct wecom_outmsg {
	char	*msgtype;
	json_t	*body;
	char	*content;	/* text, markdown */
	char	*fallback;	/* markdown: plain text for the WeChat plugin */
};

static struct wecom_outmsg	*msg_new(const char *, const char *);
static int		 msg_set(json_t *, const char *, const char *);

static struct wecom_outmsg *
msg_new(const char *msgtype, const char *content)
{
	struct wecom_outmsg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (NULL);
	m->msgtype = strdup(msgtype);
	m->body = json_object();
	if (content != NULL)
		m->content = strdup(content);
	if (m->msgtype == NULL || m->body == NULL ||
	    (content != NULL && m->content == NULL)) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

/* Sets key to a string; a NULL value leaves the key out. */
static int
msg_set(json_t *o, const char *key, const char *value)
{
	if (value == NULL)
		return (WECOM_API_OK);
	if (json_object_set_new(o, key, json_string(value)) != 0)
		return (WECOM_API_ERR_ARG);	/* not UTF-8, or no memory */

	return (WECOM_API_OK);
}

void
wecom_outmsg_free(struct wecom_outmsg *m)
{
	if (m == NULL)
		return;
	free(m->msgtype);
	json_decref(m->body);
	free(m->content);
	free(m->fallback);
	free(m);
}

const char *
wecom_outmsg_type(const struct wecom_outmsg *m)
{
	return (m->msgtype);
}

struct wecom_outmsg *
wecom_outmsg_text(const char *content)
{
	return (msg_new("text", content ? content : ""));
}

struct wecom_outmsg *
wecom_outmsg_markdown(const char *content, const char *fallback_text)
{
	struct wecom_outmsg	*m;

	if ((m = msg_new("markdown", content ? content : "")) == NULL)
		return (NULL);
	if (fallback_text != NULL &&
	    (m->fallback = strdup(fallback_text)) == NULL) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

/* image, voice, file (app), file and voice (robot): a media_id. */
struct wecom_outmsg *
wecom_outmsg_media(const char *type, const char *media_id)
{
	struct wecom_outmsg	*m;

	if (media_id == NULL || (m = msg_new(type, NULL)) == NULL)
		return (NULL);
	if (msg_set(m->body, "media_id", media_id) != WECOM_API_OK) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

struct wecom_outmsg *
wecom_outmsg_video(const char *media_id, const char *title,
    const char *description)
{
	struct wecom_outmsg	*m;

	if ((m = wecom_outmsg_media("video", media_id)) == NULL)
		return (NULL);
	if (msg_set(m->body, "title", title) != WECOM_API_OK ||
	    msg_set(m->body, "description", description) != WECOM_API_OK) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

struct wecom_outmsg *
wecom_outmsg_textcard(const char *title, const char *description,
    const char *url, const char *btntxt)
{
	struct wecom_outmsg	*m;

	if (title == NULL || description == NULL || url == NULL ||
	    (m = msg_new("textcard", NULL)) == NULL)
		return (NULL);
	if (msg_set(m->body, "title", title) != WECOM_API_OK ||
	    msg_set(m->body, "description", description) != WECOM_API_OK ||
	    msg_set(m->body, "url", url) != WECOM_API_OK ||
	    msg_set(m->body, "btntxt", btntxt) != WECOM_API_OK) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

static struct wecom_outmsg *
msg_articles(const char *msgtype)
{
	struct wecom_outmsg	*m;

	if ((m = msg_new(msgtype, NULL)) == NULL)
		return (NULL);
	if (json_object_set_new(m->body, "articles", json_array()) != 0) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

struct wecom_outmsg *
wecom_outmsg_news(void)
{
	return (msg_articles("news"));
}

struct wecom_outmsg *
wecom_outmsg_mpnews(void)
{
	return (msg_articles("mpnews"));
}

int
wecom_outmsg_news_add(struct wecom_outmsg *m, const char *title,
    const char *description, const char *url, const char *picurl)
{
	json_t	*a;
	int	 rc;

	if (strcmp(m->msgtype, "news") != 0 || title == NULL)
		return (WECOM_API_ERR_ARG);
	if ((a = json_object()) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = msg_set(a, "title", title);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "description", description);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "url", url);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "picurl", picurl);
	if (rc == WECOM_API_OK &&
	    json_array_append(json_object_get(m->body, "articles"), a) != 0)
		rc = WECOM_API_ERR_NOMEM;
	json_decref(a);

	return (rc);
}

int
wecom_outmsg_mpnews_add(struct wecom_outmsg *m, const char *title,
    const char *thumb_media_id, const char *author,
    const char *content_source_url, const char *content, const char *digest)
{
	json_t	*a;
	int	 rc;

	if (strcmp(m->msgtype, "mpnews") != 0 || title == NULL ||
	    thumb_media_id == NULL || content == NULL)
		return (WECOM_API_ERR_ARG);
	if ((a = json_object()) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = msg_set(a, "title", title);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "thumb_media_id", thumb_media_id);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "author", author);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "content_source_url", content_source_url);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "content", content);
	if (rc == WECOM_API_OK)
		rc = msg_set(a, "digest", digest);
	if (rc == WECOM_API_OK &&
	    json_array_append(json_object_get(m->body, "articles"), a) != 0)
		rc = WECOM_API_ERR_NOMEM;
	json_decref(a);

	return (rc);
}

/* A robot image: the bytes themselves, base64, with their MD5. */
struct wecom_outmsg *
wecom_outmsg_image_data(const void *data, size_t len)
{
	struct wecom_outmsg	*m;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	char			 hex[33], *b64;
	int			 rc;

	if (len == 0 || len > 2 * 1024 * 1024 ||
	    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return (NULL);
	for (i = 0; i < 16; i++)
		snprintf(hex + i * 2, 3, "%02x", md[i]);
	if ((b64 = malloc((len + 2) / 3 * 4 + 1)) == NULL)
		return (NULL);
	EVP_EncodeBlock((unsigned char *)b64, data, (int)len);

	rc = WECOM_API_ERR_NOMEM;
	if ((m = msg_new("image", NULL)) != NULL &&
	    (rc = msg_set(m->body, "base64", b64)) == WECOM_API_OK)
		rc = msg_set(m->body, "md5", hex);
	free(b64);
	if (rc != WECOM_API_OK) {
		wecom_outmsg_free(m);
		return (NULL);
	}

	return (m);
}

/* Any msgtype as a JSON object: miniprogram_notice, template_card … */
struct wecom_outmsg *
wecom_outmsg_json(const char *msgtype, const char *json_object)
{
	struct wecom_outmsg	*m;
	json_error_t		 jerr;
	json_t			*o;

	if (msgtype == NULL || json_object == NULL ||
	    (o = json_loads(json_object, 0, &jerr)) == NULL)
		return (NULL);
	if (!json_is_object(o) || (m = msg_new(msgtype, NULL)) == NULL) {
		json_decref(o);
		return (NULL);
	}
	json_decref(m->body);
	m->body = o;

	return (m);
}

/* Robot text: who to @. Lists as "a,b" or "a|b"; "@all" works. */
int
wecom_outmsg_mention(struct wecom_outmsg *m, const char *userids,
    const char *mobiles)
{
	const char	*lists[2] = { userids, mobiles };
	const char	*keys[2] = { "mentioned_list", "mentioned_mobile_list" };
	json_t		*a;
	char		*copy, *p, *tok;
	int		 i;

	if (strcmp(m->msgtype, "text") != 0)
		return (WECOM_API_ERR_ARG);
	for (i = 0; i < 2; i++) {
		if (lists[i] == NULL)
			continue;
		if ((copy = strdup(lists[i])) == NULL ||
		    (a = json_array()) == NULL) {
			free(copy);
			return (WECOM_API_ERR_NOMEM);
		}
		p = copy;
		while ((tok = strsep(&p, ",|")) != NULL) {
			if (*tok != '\0')
				json_array_append_new(a, json_string(tok));
		}
		free(copy);
		json_object_set_new(m->body, keys[i], a);
	}

	return (WECOM_API_OK);
}

const char *
wecom_client_msg_content(const struct wecom_outmsg *m)
{
	return (m->content);
}

const char *
wecom_client_msg_fallback(const struct wecom_outmsg *m)
{
	return (m->fallback);
}

size_t
wecom_client_msg_limit(const struct wecom_outmsg *m)
{
	return (strcmp(m->msgtype, "markdown") == 0 ? WECOM_MARKDOWN_MAX :
	    WECOM_TEXT_MAX);
}

/* {"msgtype": T, T: {..., "content": content}}, a new reference. */
json_t *
wecom_client_msg_body(const struct wecom_outmsg *m, const char *content)
{
	json_t	*o, *inner;

	if ((o = json_object()) == NULL)
		return (NULL);
	if ((inner = json_deep_copy(m->body)) == NULL ||
	    json_object_set_new(o, m->msgtype, inner) != 0 ||
	    json_object_set_new(o, "msgtype", json_string(m->msgtype)) != 0 ||
	    msg_set(inner, "content", content) != WECOM_API_OK) {
		json_decref(o);
		return (NULL);
	}

	return (o);
}

/* "a, b|c" → "a|b|c": WeCom wants '|', people type ','. */
char *
wecom_client_join(const char *list)
{
	char	*out, *q;

	if (list == NULL || (out = malloc(strlen(list) + 1)) == NULL)
		return (NULL);
	for (q = out; *list != '\0'; list++) {
		if (*list == ' ' || *list == '\t')
			continue;
		*q++ = *list == ',' ? '|' : *list;
	}
	*q = '\0';

	return (out);
}
