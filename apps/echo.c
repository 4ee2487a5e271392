/* SPDX-License-Identifier: ISC */
/*
 * The echo demo: what you say comes back. Text, images and voice are
 * returned as they came; a location is described; entering the app
 * gets a greeting; anything else is named. The same code serves a bot
 * ([aibot NAME] handler = echo): there text comes back as markdown, and
 * media, which a bot receives as a URL, is named.
 */

#include "wecom.h"

static int	echo_other(struct wecom_ctx *, const struct wecom_msg *,
		    void *);

static int
echo_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_text(ctx, msg->content);
	return (WECOM_STOP);
}

static int
echo_image(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	if (msg->media_id == NULL)
		return (echo_other(ctx, msg, arg));
	wecom_reply_image(ctx, msg->media_id);
	return (WECOM_STOP);
}

/* A bot's voice arrives as text already. */
static int
echo_voice(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	if (msg->media_id == NULL)
		return (echo_text(ctx, msg, arg));
	wecom_reply_voice(ctx, msg->media_id);
	return (WECOM_STOP);
}

static int
echo_location(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_textf(ctx, "You are at %s (%.6f, %.6f), scale %d.",
	    msg->label ? msg->label : "an unnamed place", msg->location_x,
	    msg->location_y, msg->scale);
	return (WECOM_STOP);
}

static int
echo_greet(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	const char	*greeting = arg;

	wecom_reply_textf(ctx, "%s, %s!", greeting, msg->from_user);
	return (WECOM_STOP);
}

static int
echo_other(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	if (msg->event != NULL)
		wecom_reply_textf(ctx, "Received event: %s", msg->event);
	else
		wecom_reply_textf(ctx, "Received a %s message.", msg->msgtype);
	return (WECOM_STOP);
}

static int
echo_init(struct wecom_app *app)
{
	const char	*greeting;

	if ((greeting = wecom_app_conf(app, "greeting")) == NULL)
		greeting = "Welcome";

	if (wecom_on_msg(app, "text", echo_text, NULL) != WECOM_OK ||
	    wecom_on_msg(app, "image", echo_image, NULL) != WECOM_OK ||
	    wecom_on_msg(app, "voice", echo_voice, NULL) != WECOM_OK ||
	    wecom_on_msg(app, "location", echo_location, NULL) != WECOM_OK ||
	    wecom_on_event(app, "enter_agent", NULL, echo_greet,
	    (void *)greeting) != WECOM_OK ||
	    wecom_on_event(app, "subscribe", NULL, echo_greet,
	    (void *)greeting) != WECOM_OK ||
	    wecom_on_event(app, "enter_chat", NULL, echo_greet,
	    (void *)greeting) != WECOM_OK ||
	    wecom_on_default(app, echo_other, NULL) != WECOM_OK)
		return (WECOM_ERROR);

	return (WECOM_OK);
}

WECOM_APP("echo", echo_init);
