/* SPDX-License-Identifier: ISC */
/*
 * Test app for the sandbox: "getpriority" makes a syscall no filter
 * allows, "system" runs a program (only the command helper may),
 * "grow" grows a block past glibc's mmap threshold with realloc
 * (mremap, which must be allowed). Served inline or, with threaded =
 * yes in its section, on handler threads.
 */

#include <sys/resource.h>
#include <sys/syscall.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom.h"

static int
sandbox_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	char	*p, *q;
	size_t	 n;

	if (strcmp(msg->content, "getpriority") == 0) {
		wecom_reply_textf(ctx, "priority %ld",
		    syscall(SYS_getpriority, PRIO_PROCESS, 0));
	} else if (strcmp(msg->content, "system") == 0) {
		wecom_reply_textf(ctx, "system %d", system("true"));
	} else if (strcmp(msg->content, "grow") == 0) {
		p = NULL;
		for (n = 256 * 1024; n <= 8 * 1024 * 1024; n *= 2) {
			if ((q = realloc(p, n)) == NULL)
				break;
			p = q;
			memset(p, 'x', n);
		}
		free(p);
		wecom_reply_textf(ctx, "grew to %zu", n / 2);
	} else {
		wecom_reply_textf(ctx, "sandbox %s", msg->content);
	}

	return (WECOM_STOP);
}

static int
sandbox_init(struct wecom_app *app)
{
	return (wecom_on_msg(app, "text", sandbox_text, NULL));
}

WECOM_APP("sandbox", sandbox_init);
