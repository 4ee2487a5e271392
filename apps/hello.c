/* SPDX-License-Identifier: ISC */
#include <string.h>

#include "wecom.h"

struct stats {
	int	texts;
};

/* Per worker process: each of Kore's workers counts its own. */
static struct stats	stats;

/* Every text: count it, answer it. */
static int
on_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct stats	*st = arg;

	st->texts++;
	if (strcmp(msg->content, "ping") == 0) {
		wecom_reply_text(ctx, "pong");
		return (WECOM_STOP);		/* later text handlers do not run */
	}
	wecom_reply_textf(ctx, "text #%d from %s: %s", st->texts,
	    msg->from_user, msg->content);
	return (WECOM_NEXT);
}

/* A menu button with EventKey "photo". */
static int
on_photo(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_image(ctx, "MEDIA_ID_FROM_AN_UPLOAD");
	return (WECOM_STOP);
}

/* Anything no other handler took. */
static int
on_other(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	const char	*v;

	/* Fields without a struct member are reachable by name or path. */
	if ((v = wecom_msg_get(msg, "ScanCodeInfo/ScanResult")) != NULL)
		wecom_reply_textf(ctx, "scanned: %s", v);
	return (WECOM_STOP);			/* no reply: an empty 200 */
}

static int
hello_init(struct wecom_app *app)
{
	if (wecom_on_msg(app, "text", on_text, &stats) != WECOM_OK ||
	    wecom_on_event(app, "click", "photo", on_photo, NULL) != WECOM_OK ||
	    wecom_on_default(app, on_other, NULL) != WECOM_OK)
		return (WECOM_ERROR);
	return (WECOM_OK);
}

WECOM_APP("hello", hello_init);
