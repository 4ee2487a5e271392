/* SPDX-License-Identifier: ISC */
/*
 * The passive reply's plaintext XML, rendered from the reply as made.
 * The layout is WeCom's fixed template, written by hand: libxml2's
 * writer cost more than the whole decryption. The record's text is
 * already safe for XML 1.0 (reply.c), so only "]]>" needs care here.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"
#include "wecom_buf.h"
#include "wecom_reply.h"

/* The XML under construction: a growing buffer and a sticky error. */
static void	xml_body(struct wecom_buf *, const struct wecom_reply *);
static void	xml_news(struct wecom_buf *, const struct wecom_reply *);
static void	xml_group(struct wecom_buf *, const char *, const char *,
		    const char *);
static void	xml_elem(struct wecom_buf *, const char *, const char *);
static void	xml_cdata(struct wecom_buf *, const char *);
static void	xml_open(struct wecom_buf *, const char *);
static void	xml_close(struct wecom_buf *, const char *);

/* Also message/send's msgtype: WeCom names them alike. */
const char *
wecom_reply_msgtype(enum wecom_reply_type type)
{
	switch (type) {
	case WECOM_REPLY_TEXT:
		return ("text");
	case WECOM_REPLY_IMAGE:
		return ("image");
	case WECOM_REPLY_VOICE:
		return ("voice");
	case WECOM_REPLY_VIDEO:
		return ("video");
	case WECOM_REPLY_NEWS:
		return ("news");
	case WECOM_REPLY_UPDATE_BUTTON:
		return ("update_button");
	case WECOM_REPLY_MARKDOWN:
	case WECOM_REPLY_STREAM:
		return ("markdown");
	case WECOM_REPLY_CARD:
		return ("template_card");
	case WECOM_REPLY_FILE:
		return ("file");
	}

	return ("");
}

int
wecom_reply_xml(const struct wecom_reply *r, char **xml, size_t *len)
{
	struct wecom_buf	b;
	char		now[24];

	memset(&b, 0, sizeof(b));
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	xml_open(&b, "xml");
	xml_elem(&b, "ToUserName", r->to_user);
	xml_elem(&b, "FromUserName", r->from_user);
	xml_elem(&b, "CreateTime", now);
	xml_elem(&b, "MsgType", wecom_reply_msgtype(r->type));
	xml_body(&b, r);
	xml_close(&b, "xml");

	return ((*xml = wecom_buf_take(&b, len)) != NULL ? WECOM_OK :
	    WECOM_ERROR);
}

/* What follows MsgType: the type's elements, most in a group of their own. */
static void
xml_body(struct wecom_buf *b, const struct wecom_reply *r)
{
	switch (r->type) {
	case WECOM_REPLY_TEXT:
		xml_elem(b, "Content", r->content);
		break;
	case WECOM_REPLY_IMAGE:
		xml_group(b, "Image", "MediaId", r->media_id);
		break;
	case WECOM_REPLY_VOICE:
		xml_group(b, "Voice", "MediaId", r->media_id);
		break;
	case WECOM_REPLY_VIDEO:
		xml_open(b, "Video");
		xml_elem(b, "MediaId", r->media_id);
		xml_elem(b, "Title", r->title);
		xml_elem(b, "Description", r->description);
		xml_close(b, "Video");
		break;
	case WECOM_REPLY_NEWS:
		xml_news(b, r);
		break;
	case WECOM_REPLY_UPDATE_BUTTON:
		xml_group(b, "Button", "ReplaceName", r->replace_name);
		break;
	default:
		/* A bot's: reply_json.c renders them. */
		break;
	}
}

static void
xml_news(struct wecom_buf *b, const struct wecom_reply *r)
{
	const struct wecom_reply_article	*a;
	char					 n[16];
	size_t					 i;

	snprintf(n, sizeof(n), "%zu", r->narticles);
	xml_elem(b, "ArticleCount", n);
	xml_open(b, "Articles");
	for (i = 0; i < r->narticles; i++) {
		a = &r->articles[i];
		xml_open(b, "item");
		xml_elem(b, "Title", a->title);
		xml_elem(b, "Description", a->description);
		xml_elem(b, "PicUrl", a->pic_url);
		xml_elem(b, "Url", a->url);
		xml_close(b, "item");
	}
	xml_close(b, "Articles");
}

/* A group of one element, e.g. <Image><MediaId/></Image>. */
static void
xml_group(struct wecom_buf *b, const char *group, const char *name,
    const char *value)
{
	xml_open(b, group);
	xml_elem(b, name, value);
	xml_close(b, group);
}

/* Text goes in CDATA as in WeCom's own replies, numbers bare. */
static void
xml_elem(struct wecom_buf *b, const char *name, const char *value)
{
	if (value == NULL)
		value = "";
	xml_open(b, name);
	if (*value != '\0' && value[strspn(value, "0123456789")] == '\0')
		wecom_buf_add(b, value, strlen(value));
	else
		xml_cdata(b, value);
	xml_close(b, name);
}

/* "]]>" would end the section: it is split across two. */
static void
xml_cdata(struct wecom_buf *b, const char *s)
{
	const char	*end;

	wecom_buf_add(b, "<![CDATA[", 9);
	while ((end = strstr(s, "]]>")) != NULL) {
		wecom_buf_add(b, s, end + 2 - s);
		wecom_buf_add(b, "]]><![CDATA[", 12);
		s = end + 2;
	}
	wecom_buf_add(b, s, strlen(s));
	wecom_buf_add(b, "]]>", 3);
}

static void
xml_open(struct wecom_buf *b, const char *name)
{
	wecom_buf_add(b, "<", 1);
	wecom_buf_add(b, name, strlen(name));
	wecom_buf_add(b, ">", 1);
}

static void
xml_close(struct wecom_buf *b, const char *name)
{
	wecom_buf_add(b, "</", 2);
	wecom_buf_add(b, name, strlen(name));
	wecom_buf_add(b, ">", 1);
}
