/* SPDX-License-Identifier: ISC */
/*
 * Test app for commands: its section's "run" key is a command. A text
 * names the key to run ("run", or any other: not declared) and the
 * reply tells how it ended and what it printed, so that a test sees
 * exactly what the helper answered.
 */

#include <stdio.h>
#include <string.h>

#include "wecom.h"

static int
commands_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct wecom_command_result	res;
	int				rc;

	rc = wecom_ctx_command(ctx, msg->content, &res);
	wecom_reply_textf(ctx, "rc=%d exited=%d code=%d signal=%d timed_out=%d "
	    "too_large=%d len=%zu err=%s\n%s", rc, res.exited, res.exit_code,
	    res.signal, res.timed_out, res.too_large, res.out_len, res.err,
	    res.out != NULL && strlen((char *)res.out) == res.out_len ?
	    (char *)res.out : "");
	wecom_command_result_free(&res);

	return (WECOM_STOP);
}

static int
commands_init(struct wecom_app *app)
{
	wecom_app_set_threaded(app, 1);
	if (wecom_app_command(app, "run") != WECOM_OK)
		return (WECOM_ERROR);

	return (wecom_on_msg(app, "text", commands_text, NULL));
}

WECOM_APP("commands", commands_init);
