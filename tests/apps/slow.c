/* SPDX-License-Identifier: ISC */
/*
 * Test app for threaded handlers: "sleep N" sleeps N ms before its
 * reply; "api" calls the API client from the handler; "fast" answers
 * at once. Everything runs on worker threads (threaded = yes).
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"
#include "wecom_client.h"

static int
slow_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct wecom_api_error	 err;
	struct timespec		 ts;
	long			 ms;

	if (strncmp(msg->content, "sleep ", 6) == 0) {
		ms = strtol(msg->content + 6, NULL, 10);
		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
		wecom_reply_textf(ctx, "slept %ld ms", ms);
	} else if (strcmp(msg->content, "api") == 0) {
		if (wecom_ctx_client(ctx) == NULL)
			wecom_reply_text(ctx, "no client");
		else if (wecom_send_text(wecom_ctx_client(ctx), msg->from_user,
		    "sent from a handler thread", &err) == WECOM_API_OK)
			wecom_reply_text(ctx, "api ok");
		else
			wecom_reply_textf(ctx, "api failed: %ld", err.errcode);
	} else {
		wecom_reply_textf(ctx, "fast %s", msg->content);
	}

	return (WECOM_STOP);
}

static int
slow_init(struct wecom_app *app)
{
	wecom_app_set_threaded(app, 1);
	return (wecom_on_msg(app, "text", slow_text, NULL));
}

WECOM_APP("slow", slow_init);
