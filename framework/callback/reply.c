/* SPDX-License-Identifier: ISC */
/*
 * Passive replies. A handler's reply is built at once into the plaintext
 * XML WeCom expects; the server encrypts and signs it after the chain.
 * The layout is WeCom's fixed template, written by hand: libxml2's
 * writer cost more than the whole decryption.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"
#include "wecom_app.h"

/* The reply under construction: a growing buffer and a sticky error. */
struct reply {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 rc;
};

static int	reply_simple(struct wecom_ctx *, const char *, const char *,
		    const char *const *, const char *const *, size_t);
static int	reply_begin(struct reply *, struct wecom_ctx *, const char *);
static int	reply_end(struct reply *, struct wecom_ctx *);
static void	reply_elem(struct reply *, const char *, const char *);
static void	reply_cdata(struct reply *, const char *);
static int	reply_char(const unsigned char *);
static void	reply_open(struct reply *, const char *);
static void	reply_close(struct reply *, const char *);
static void	reply_add(struct reply *, const char *, size_t);

int
wecom_reply_text(struct wecom_ctx *ctx, const char *content)
{
	static const char *const	names[] = { "Content" };

	return (reply_simple(ctx, "text", NULL, names, &content, 1));
}

int
wecom_reply_textf(struct wecom_ctx *ctx, const char *fmt, ...)
{
	va_list		 ap;
	char		*s;
	int		 rc;

	va_start(ap, fmt);
	rc = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (rc == -1)
		return (WECOM_ERROR);

	rc = wecom_reply_text(ctx, s);
	free(s);

	return (rc);
}

int
wecom_reply_image(struct wecom_ctx *ctx, const char *media_id)
{
	static const char *const	names[] = { "MediaId" };

	return (reply_simple(ctx, "image", "Image", names, &media_id, 1));
}

int
wecom_reply_voice(struct wecom_ctx *ctx, const char *media_id)
{
	static const char *const	names[] = { "MediaId" };

	return (reply_simple(ctx, "voice", "Voice", names, &media_id, 1));
}

int
wecom_reply_video(struct wecom_ctx *ctx, const char *media_id,
    const char *title, const char *description)
{
	static const char *const	names[] = { "MediaId", "Title",
					    "Description" };
	const char			*values[3];

	values[0] = media_id;
	values[1] = title;
	values[2] = description;

	return (reply_simple(ctx, "video", "Video", names, values, 3));
}

int
wecom_reply_update_button(struct wecom_ctx *ctx, const char *replace_name)
{
	static const char *const	names[] = { "ReplaceName" };

	return (reply_simple(ctx, "update_button", "Button", names,
	    &replace_name, 1));
}

int
wecom_reply_news(struct wecom_ctx *ctx, const struct wecom_article *a,
    size_t count)
{
	struct reply	r;
	char		n[16];
	size_t		i;
	int		rc;

	if (count == 0 || count > WECOM_NEWS_MAX)
		return (WECOM_ERR_TOO_MANY);
	if ((rc = reply_begin(&r, ctx, "news")) != WECOM_OK)
		return (rc);

	snprintf(n, sizeof(n), "%zu", count);
	reply_elem(&r, "ArticleCount", n);
	reply_open(&r, "Articles");
	for (i = 0; i < count; i++) {
		reply_open(&r, "item");
		reply_elem(&r, "Title", a[i].title);
		reply_elem(&r, "Description", a[i].description);
		reply_elem(&r, "PicUrl", a[i].pic_url);
		reply_elem(&r, "Url", a[i].url);
		reply_close(&r, "item");
	}
	reply_close(&r, "Articles");

	return (reply_end(&r, ctx));
}

int
wecom_replied(const struct wecom_ctx *ctx)
{
	return (ctx->reply != NULL);
}

void
wecom_ctx_reset(struct wecom_ctx *ctx)
{
	free(ctx->reply);
	ctx->reply = NULL;
	ctx->reply_len = 0;
	ctx->handled = 0;
}

/* A reply of one element group, e.g. <Image><MediaId/></Image>. */
static int
reply_simple(struct wecom_ctx *ctx, const char *msgtype, const char *group,
    const char *const *names, const char *const *values, size_t n)
{
	struct reply	r;
	size_t		i;
	int		rc;

	if ((rc = reply_begin(&r, ctx, msgtype)) != WECOM_OK)
		return (rc);
	if (group != NULL)
		reply_open(&r, group);
	for (i = 0; i < n; i++)
		reply_elem(&r, names[i], values[i]);
	if (group != NULL)
		reply_close(&r, group);

	return (reply_end(&r, ctx));
}

static int
reply_begin(struct reply *r, struct wecom_ctx *ctx, const char *msgtype)
{
	char	now[24];

	memset(r, 0, sizeof(r[0]));
	if (ctx->reply != NULL)
		return (WECOM_ERR_REPLIED);

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	reply_open(r, "xml");
	reply_elem(r, "ToUserName", ctx->msg->from_user);
	reply_elem(r, "FromUserName", ctx->app->conf->corpid);
	reply_elem(r, "CreateTime", now);
	reply_elem(r, "MsgType", msgtype);

	return (WECOM_OK);
}

static int
reply_end(struct reply *r, struct wecom_ctx *ctx)
{
	reply_close(r, "xml");
	reply_add(r, "", 1);
	if (r->rc != 0) {
		free(r->p);
		return (WECOM_ERROR);
	}
	ctx->reply = r->p;
	ctx->reply_len = r->len - 1;

	return (WECOM_OK);
}

/* Text goes in CDATA as in WeCom's own replies, numbers bare. */
static void
reply_elem(struct reply *r, const char *name, const char *value)
{
	if (value == NULL)
		value = "";
	reply_open(r, name);
	if (*value != '\0' && value[strspn(value, "0123456789")] == '\0')
		reply_add(r, value, strlen(value));
	else
		reply_cdata(r, value);
	reply_close(r, name);
}

/*
 * A handler may pass any bytes (a command's stderr): what XML 1.0
 * cannot carry becomes U+FFFD, or WeCom refuses the whole reply. "]]>"
 * is split across two sections.
 */
static void
reply_cdata(struct reply *r, const char *s)
{
	const unsigned char	*p, *run;
	int			 n;

	reply_add(r, "<![CDATA[", 9);
	for (p = run = (const unsigned char *)s; *p != '\0';) {
		if (p[0] == ']' && p[1] == ']' && p[2] == '>') {
			reply_add(r, (const char *)run, p + 2 - run);
			reply_add(r, "]]><![CDATA[", 12);
			run = p += 2;
		} else if ((n = reply_char(p)) > 0)
			p += n;
		else {
			reply_add(r, (const char *)run, p - run);
			reply_add(r, "\xef\xbf\xbd", 3);
			run = p += -n;
		}
	}
	reply_add(r, (const char *)run, p - run);
	reply_add(r, "]]>", 3);
}

/*
 * The length of the XML 1.0 character at p, or minus the length of
 * what must be replaced: a control other than \t \n \r, U+FFFE or
 * U+FFFF, or a maximal ill-formed UTF-8 subpart (Unicode's advice:
 * one U+FFFD each). Never reads past a NUL.
 */
static int
reply_char(const unsigned char *p)
{
	unsigned char	lo, hi;
	int		i, n;

	if (*p < 0x80)
		return (*p >= 0x20 || *p == '\t' || *p == '\n' || *p == '\r' ?
		    1 : -1);
	if (*p < 0xc2 || *p > 0xf4)
		return (-1);
	n = *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
	lo = *p == 0xe0 ? 0xa0 : *p == 0xf0 ? 0x90 : 0x80;
	hi = *p == 0xed ? 0x9f : *p == 0xf4 ? 0x8f : 0xbf;
	for (i = 1; i < n; i++, lo = 0x80, hi = 0xbf) {
		if (p[i] < lo || p[i] > hi)
			return (-i);
	}
	if (p[0] == 0xef && p[1] == 0xbf && p[2] >= 0xbe)
		return (-3);

	return (n);
}

static void
reply_open(struct reply *r, const char *name)
{
	reply_add(r, "<", 1);
	reply_add(r, name, strlen(name));
	reply_add(r, ">", 1);
}

static void
reply_close(struct reply *r, const char *name)
{
	reply_add(r, "</", 2);
	reply_add(r, name, strlen(name));
	reply_add(r, ">", 1);
}

static void
reply_add(struct reply *r, const char *s, size_t len)
{
	char	*p;
	size_t	 cap;

	if (r->rc != 0)
		return;
	if (r->len + len > r->cap) {
		cap = r->cap ? r->cap : 512;
		while (cap < r->len + len)
			cap *= 2;
		if ((p = realloc(r->p, cap)) == NULL) {
			r->rc = -1;
			return;
		}
		r->p = p;
		r->cap = cap;
	}
	memcpy(r->p + r->len, s, len);
	r->len += len;
}
