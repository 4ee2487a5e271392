/* SPDX-License-Identifier: ISC */
/*
 * Passive replies. A handler's reply is recorded as made (wecom_reply.h)
 * and at once rendered into the plaintext XML WeCom expects; the server
 * encrypts and signs that after the chain. A reply that misses the
 * deadline is sent from the same record as a message (deliver.c).
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_reply.h"

/* Fits a cut answer's end within WECOM_STREAM_MAX. */
#define CLIP_NOTICE	"\n\n… (answer too long, cut here / 内容过长，已截断)"

static int	reply_media(struct wecom_ctx *, enum wecom_reply_type,
		    const char *);
static int	reply_fits(const struct wecom_ctx *, enum wecom_reply_type);
static int	reply_char(const unsigned char *);

int
wecom_reply_text(struct wecom_ctx *ctx, const char *content)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_TEXT, &r)) != WECOM_OK)
		return (rc);
	r->content = wecom_reply_clean(content, &bad);

	return (wecom_reply_commit(ctx, r, bad));
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
	return (reply_media(ctx, WECOM_REPLY_IMAGE, media_id));
}

int
wecom_reply_voice(struct wecom_ctx *ctx, const char *media_id)
{
	return (reply_media(ctx, WECOM_REPLY_VOICE, media_id));
}

int
wecom_reply_video(struct wecom_ctx *ctx, const char *media_id,
    const char *title, const char *description)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_VIDEO, &r)) != WECOM_OK)
		return (rc);
	r->media_id = wecom_reply_clean(media_id, &bad);
	r->title = wecom_reply_clean(title, &bad);
	r->description = wecom_reply_clean(description, &bad);

	return (wecom_reply_commit(ctx, r, bad));
}

int
wecom_reply_update_button(struct wecom_ctx *ctx, const char *replace_name)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_UPDATE_BUTTON, &r)) != WECOM_OK)
		return (rc);
	r->replace_name = wecom_reply_clean(replace_name, &bad);

	return (wecom_reply_commit(ctx, r, bad));
}

int
wecom_reply_news(struct wecom_ctx *ctx, const struct wecom_article *a,
    size_t count)
{
	struct wecom_reply		*r;
	struct wecom_reply_article	*ra;
	size_t				 i;
	int				 rc, bad = 0;

	if (count == 0 || count > WECOM_NEWS_MAX)
		return (WECOM_ERR_TOO_MANY);
	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_NEWS, &r)) != WECOM_OK)
		return (rc);
	for (i = 0; i < count; i++) {
		ra = &r->articles[r->narticles++];
		ra->title = wecom_reply_clean(a[i].title, &bad);
		ra->description = wecom_reply_clean(a[i].description, &bad);
		ra->url = wecom_reply_clean(a[i].url, &bad);
		ra->pic_url = wecom_reply_clean(a[i].pic_url, &bad);
	}

	return (wecom_reply_commit(ctx, r, bad));
}

int
wecom_reply_markdown(struct wecom_ctx *ctx, const char *markdown)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if (ctx->channel == WECOM_CHANNEL_APP)
		return (wecom_reply_text(ctx, markdown));
	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_MARKDOWN, &r)) != WECOM_OK)
		return (rc);
	r->content = wecom_reply_clean(markdown, &bad);

	return (wecom_reply_commit(ctx, r, bad));
}

int
wecom_reply_template_card(struct wecom_ctx *ctx, const char *card)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_CARD, &r)) != WECOM_OK)
		return (rc);
	r->card = wecom_reply_clean(card, &bad);

	return (wecom_reply_commit(ctx, r, bad));
}

/* The context's stream id, made on first use: a copy for a record. */
char *
wecom_ctx_stream_id(struct wecom_ctx *ctx)
{
	if (ctx->stream_id[0] == '\0' &&
	    wecom_random_hex(ctx->stream_id, 16) != WECOM_OK)
		return (NULL);

	return (strdup(ctx->stream_id));
}

enum wecom_channel
wecom_ctx_channel(const struct wecom_ctx *ctx)
{
	return (ctx->channel);
}

int
wecom_replied(const struct wecom_ctx *ctx)
{
	return (ctx->reply != NULL);
}

void
wecom_ctx_reset(struct wecom_ctx *ctx)
{
	wecom_reply_free(ctx->rec);
	ctx->rec = NULL;
	free(ctx->reply);
	ctx->reply = NULL;
	ctx->reply_len = 0;
	ctx->handled = 0;
	free(ctx->stream);
	ctx->stream = NULL;
}

void
wecom_reply_free(struct wecom_reply *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; i < r->narticles; i++) {
		free(r->articles[i].title);
		free(r->articles[i].description);
		free(r->articles[i].url);
		free(r->articles[i].pic_url);
	}
	free(r->to_user);
	free(r->from_user);
	free(r->content);
	free(r->media_id);
	free(r->title);
	free(r->description);
	free(r->replace_name);
	free(r->stream_id);
	free(r->card);
	free(r->image);
	free(r);
}

/* A new record, addressed as the answer to ctx's message. */
int
wecom_reply_new(struct wecom_ctx *ctx, enum wecom_reply_type type,
    struct wecom_reply **rp)
{
	struct wecom_reply	*r;
	int			 bad = 0;

	if (wecom_replied(ctx))
		return (WECOM_ERR_REPLIED);
	if (!reply_fits(ctx, type))
		return (WECOM_ERR_CHANNEL);
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (WECOM_ERROR);
	r->type = type;
	r->welcome = ctx->msg->event_type == WECOM_EVENT_ENTER_CHAT;
	r->card_update = ctx->msg->event_type ==
	    WECOM_EVENT_TEMPLATE_CARD_EVENT;
	r->to_user = wecom_reply_clean(ctx->msg->from_user, &bad);
	r->from_user = wecom_reply_clean(ctx->app->conf->corpid, &bad);
	if (bad) {
		wecom_reply_free(r);
		return (WECOM_ERROR);
	}
	*rp = r;

	return (WECOM_OK);
}

static int
reply_media(struct wecom_ctx *ctx, enum wecom_reply_type type,
    const char *media_id)
{
	struct wecom_reply	*r;
	int			 rc, bad = 0;

	if ((rc = wecom_reply_new(ctx, type, &r)) != WECOM_OK)
		return (rc);
	r->media_id = wecom_reply_clean(media_id, &bad);

	return (wecom_reply_commit(ctx, r, bad));
}

/*
 * What each channel can carry. An app's passive reply has no markdown
 * or card; a bot has no news or buttons, and its callbacks no media.
 */
static int
reply_fits(const struct wecom_ctx *ctx, enum wecom_reply_type type)
{
	switch (type) {
	case WECOM_REPLY_TEXT:
		return (1);
	case WECOM_REPLY_MARKDOWN:
	case WECOM_REPLY_STREAM:
	case WECOM_REPLY_CARD:
		return (ctx->channel != WECOM_CHANNEL_APP);
	case WECOM_REPLY_IMAGE:
	case WECOM_REPLY_VOICE:
	case WECOM_REPLY_VIDEO:
		return (ctx->channel != WECOM_CHANNEL_AIBOT_CALLBACK);
	case WECOM_REPLY_FILE:
		return (ctx->channel == WECOM_CHANNEL_AIBOT_WS);
	default:
		return (ctx->channel == WECOM_CHANNEL_APP);
	}
}

/*
 * The record becomes the reply, with its XML or, on a bot, its JSON;
 * bad says a copy failed. Either both are the context's or neither is.
 */
int
wecom_reply_commit(struct wecom_ctx *ctx, struct wecom_reply *r, int bad)
{
	int	rc;

	if (!bad && ctx->channel != WECOM_CHANNEL_APP) {
		if (r->content != NULL)
			wecom_reply_clip(r->content);
		/* Text to a bot's message is a finished stream. */
		if (r->stream_id == NULL && !r->welcome &&
		    (r->type == WECOM_REPLY_TEXT ||
		    r->type == WECOM_REPLY_MARKDOWN)) {
			r->type = WECOM_REPLY_STREAM;
			r->finish = 1;
		}
		if (r->type == WECOM_REPLY_STREAM && r->stream_id == NULL &&
		    (r->stream_id = wecom_ctx_stream_id(ctx)) == NULL)
			bad = 1;
		rc = bad ? WECOM_ERROR :
		    wecom_reply_json(r, &ctx->reply, &ctx->reply_len);
	} else
		rc = bad ? WECOM_ERROR :
		    wecom_reply_xml(r, &ctx->reply, &ctx->reply_len);
	if (rc != WECOM_OK) {
		wecom_reply_free(r);
		return (WECOM_ERROR);
	}
	ctx->rec = r;

	return (WECOM_OK);
}

/*
 * A handler may pass any bytes (a command's stderr): what XML 1.0
 * cannot carry becomes U+FFFD, or WeCom refuses the whole reply; the
 * late message carries the same text. NULL is "". On failure, NULL and
 * *bad set, so that a whole record is checked once.
 */
char *
wecom_reply_clean(const char *s, int *bad)
{
	const unsigned char	*p;
	char			*out;
	size_t			 len, n;
	int			 c;

	if (s == NULL)
		s = "";
	len = strlen(s);
	/* At worst every byte becomes U+FFFD, three bytes. */
	if (len > (SIZE_MAX - 1) / 3 || (out = malloc(len * 3 + 1)) == NULL) {
		*bad = 1;
		return (NULL);
	}
	for (p = (const unsigned char *)s, n = 0; *p != '\0'; n += c) {
		/* Printable ASCII, the common case, a run at a time. */
		for (c = 0; p[c] >= 0x20 && p[c] < 0x80; c++)
			;
		if (c > 0) {
			memcpy(out + n, p, c);
			p += c;
		} else if ((c = reply_char(p)) > 0) {
			memcpy(out + n, p, c);
			p += c;
		} else {
			memcpy(out + n, "\xef\xbf\xbd", 3);
			p += -c;
			c = 3;
		}
	}
	out[n] = '\0';

	return (out);
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

/*
 * WeCom shows at most WECOM_STREAM_MAX bytes: a longer text is cut at
 * a character boundary (the text is valid UTF-8 already) and ends with
 * a notice, so that the member knows.
 */
void
wecom_reply_clip(char *s)
{
	size_t	len, cut;

	if ((len = strlen(s)) <= WECOM_STREAM_MAX)
		return;
	cut = WECOM_STREAM_MAX - (sizeof(CLIP_NOTICE) - 1);
	while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(s + cut, CLIP_NOTICE, sizeof(CLIP_NOTICE));
}
