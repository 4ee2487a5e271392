/* SPDX-License-Identifier: ISC */
/*
 * Test app for bots and streams, on every channel: "stream N MS" sends
 * N updates MS ms apart ("part 1", "part 1 part 2" …) and finishes with
 * "done N"; "long N" finishes with N bytes of 'x'; "md" replies in
 * markdown; "card" with a template card ("latecard MS" after a sleep);
 * "late MS" sleeps, then replies
 * text; anything else is echoed with the channel's name. enter_chat
 * gets a welcome, a card click an updated card; "photo N" replies with
 * an image of N known bytes (i * 7 + i / 251). Threaded.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"

#define CARD	"{\"card_type\":\"text_notice\",\"main_title\":" \
		"{\"title\":\"hello card\"},\"task_id\":\"%s\"}"

static const char *const channels[] = { "app", "callback", "websocket" };

static void
stream_sleep(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static void
stream_parts(struct wecom_ctx *ctx, const char *args)
{
	char	buf[4096];
	long	i, n, ms;
	size_t	len;

	n = strtol(args, NULL, 10);
	ms = (args = strchr(args, ' ')) != NULL ? strtol(args, NULL, 10) : 0;
	buf[0] = '\0';
	for (i = 1, len = 0; i <= n && len < sizeof(buf) - 32; i++) {
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
		    "%spart %ld", i > 1 ? " " : "", i);
		if (wecom_stream_update(ctx, buf) != WECOM_OK)
			return;
		stream_sleep(ms);
	}
	snprintf(buf, sizeof(buf), "done %ld", n);
	wecom_stream_finish(ctx, buf);
}

static void
stream_long(struct wecom_ctx *ctx, long n)
{
	char	*s;

	if (n < 0 || n > 1000000 || (s = malloc((size_t)n + 1)) == NULL)
		return;
	memset(s, 'x', (size_t)n);
	s[n] = '\0';
	wecom_stream_finish(ctx, s);
	free(s);
}

/* N bytes of a known pattern, uploaded the channel's way. */
static void
stream_photo(struct wecom_ctx *ctx, long n)
{
	unsigned char	*p;
	long		 i;
	int		 rc;

	if (n <= 0 || n > 20000000 || (p = malloc((size_t)n)) == NULL)
		return;
	for (i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + i / 251);
	if ((rc = wecom_reply_upload(ctx, "image", "photo.jpg", p,
	    (size_t)n)) != WECOM_OK)
		wecom_reply_textf(ctx, "upload failed: %d", rc);
	free(p);
}

static int
stream_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	char		 card[256];
	const char	*c = msg->content;

	if (strncmp(c, "stream ", 7) == 0)
		stream_parts(ctx, c + 7);
	else if (strncmp(c, "long ", 5) == 0)
		stream_long(ctx, strtol(c + 5, NULL, 10));
	else if (strncmp(c, "photo ", 6) == 0)
		stream_photo(ctx, strtol(c + 6, NULL, 10));
	else if (strcmp(c, "md") == 0)
		wecom_reply_markdown(ctx, "**bold** answer");
	else if (strcmp(c, "card") == 0) {
		snprintf(card, sizeof(card), CARD, "task-1");
		if (wecom_reply_template_card(ctx, card) == WECOM_ERR_CHANNEL)
			wecom_reply_text(ctx, "no cards here");
	} else if (strncmp(c, "latecard ", 9) == 0) {
		stream_sleep(strtol(c + 9, NULL, 10));
		snprintf(card, sizeof(card), CARD, "task-late");
		wecom_reply_template_card(ctx, card);
	} else if (strncmp(c, "late ", 5) == 0) {
		stream_sleep(strtol(c + 5, NULL, 10));
		wecom_reply_textf(ctx, "late %s", c + 5);
	} else
		wecom_reply_textf(ctx, "%s: %s from %s",
		    channels[wecom_ctx_channel(ctx)], c, msg->from_user);

	return (WECOM_STOP);
}

static int
stream_welcome(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	wecom_reply_textf(ctx, "welcome %s", msg->from_user);
	return (WECOM_STOP);
}

static int
stream_click(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	char	card[256];

	snprintf(card, sizeof(card), CARD, msg->task_id ? msg->task_id : "");
	wecom_reply_template_card(ctx, card);
	return (WECOM_STOP);
}

static int
stream_init(struct wecom_app *app)
{
	wecom_app_set_threaded(app, 1);
	if (wecom_on_msg(app, "text", stream_text, NULL) != WECOM_OK ||
	    wecom_on_event(app, "enter_chat", NULL, stream_welcome,
	    NULL) != WECOM_OK ||
	    wecom_on_event(app, "template_card_event", NULL, stream_click,
	    NULL) != WECOM_OK)
		return (WECOM_ERROR);

	return (WECOM_OK);
}

WECOM_APP("stream", stream_init);
