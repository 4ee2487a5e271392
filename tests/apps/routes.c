/* SPDX-License-Identifier: ISC */
/*
 * Test app for the router: ordered chains, WECOM_STOP, EventKey filters,
 * per-handler user data, every passive reply type, and no reply.
 */

#include <stdlib.h>
#include <string.h>

#include "wecom.h"

struct counter {
	const char	*name;
	int		 calls;
};

static struct counter	first = { "first", 0 }, second = { "second", 0 };

/* Runs first for every text; ends the chain on "stop". */
static int
text_first(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct counter	*c = arg;

	c->calls++;
	if (strcmp(msg->content, "stop") == 0) {
		wecom_reply_textf(ctx, "stopped by %s", c->name);
		return (WECOM_STOP);
	}
	return (WECOM_NEXT);
}

static int
text_replies(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	static const struct wecom_article	a[9] = {
		{ "t1", "d1", "https://example.com/1", "https://example.com/p1" },
		{ "t2", "d2", "https://example.com/2", NULL },
		{ "t3", NULL, "https://example.com/3", NULL },
		{ "t4", NULL, NULL, NULL }, { "t5", NULL, NULL, NULL },
		{ "t6", NULL, NULL, NULL }, { "t7", NULL, NULL, NULL },
		{ "t8", NULL, NULL, NULL }, { "t9", NULL, NULL, NULL },
	};
	const char	*c = msg->content;
	struct counter	*n = arg;

	n->calls++;
	if (strcmp(c, "image") == 0)
		wecom_reply_image(ctx, "MEDIA_IMAGE");
	else if (strcmp(c, "voice") == 0)
		wecom_reply_voice(ctx, "MEDIA_VOICE");
	else if (strcmp(c, "video") == 0)
		wecom_reply_video(ctx, "MEDIA_VIDEO", "A title", "A <b>desc</b>");
	else if (strcmp(c, "news3") == 0)
		wecom_reply_news(ctx, a, 3);
	else if (strcmp(c, "news8") == 0)
		wecom_reply_news(ctx, a, 8);
	else if (strcmp(c, "news9") == 0) {
		if (wecom_reply_news(ctx, a, 9) == WECOM_ERR_TOO_MANY)
			wecom_reply_text(ctx, "refused 9 articles");
	} else if (strcmp(c, "button") == 0)
		wecom_reply_update_button(ctx, "Done");
	else if (strcmp(c, "twice") == 0) {
		wecom_reply_text(ctx, "first reply");
		if (wecom_reply_text(ctx, "second reply") != WECOM_ERR_REPLIED)
			abort();
	} else if (strcmp(c, "none") != 0)
		wecom_reply_textf(ctx, "%s saw %s after first=%d", n->name, c,
		    first.calls);
	return (WECOM_NEXT);
}

static int
click_photo(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_text(ctx, "photo button");
	return (WECOM_STOP);
}

static int
click_any(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_textf(ctx, "click %s", msg->event_key);
	return (WECOM_STOP);
}

static int
fallback(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_textf(ctx, "default %s", wecom_ctx_app_conf(ctx, "motto"));
	return (WECOM_STOP);
}

static int
routes_init(struct wecom_app *app)
{
	if (wecom_on_msg(app, "text", text_first, &first) != WECOM_OK ||
	    wecom_on_msg(app, "text", text_replies, &second) != WECOM_OK ||
	    wecom_on_event(app, "click", "photo", click_photo, NULL) !=
	    WECOM_OK ||
	    wecom_on_event(app, "CLICK", NULL, click_any, NULL) != WECOM_OK ||
	    wecom_on_default(app, fallback, NULL) != WECOM_OK)
		return (WECOM_ERROR);
	return (WECOM_OK);
}

WECOM_APP("routes", routes_init);
