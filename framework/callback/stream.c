/* SPDX-License-Identifier: ISC */
/*
 * Streams: an answer that grows while a handler produces it. Each
 * update is the whole answer so far; on a bot it goes to the context's
 * sink (pushed on the long connection, or kept for WeCom's refreshes);
 * on an app only the finished text counts, as a plain reply. A stream
 * is one record type (WECOM_REPLY_STREAM) rendered like any reply.
 */

#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_reply.h"

static int	stream_record(struct wecom_ctx *, const char *, int,
		    struct wecom_reply **);

int
wecom_stream_update(struct wecom_ctx *ctx, const char *markdown)
{
	struct wecom_reply	*r;
	char			*body;
	size_t			 len;
	int			 rc;

	if (wecom_replied(ctx))
		return (WECOM_ERR_REPLIED);
	if ((rc = stream_record(ctx, markdown, 0, &r)) != WECOM_OK)
		return (rc);
	free(ctx->stream);
	ctx->stream = r->content;
	r->content = NULL;
	if (ctx->sink == NULL) {
		wecom_reply_free(r);
		return (WECOM_OK);
	}

	/* The sink sees the update as it will be shown; ctx keeps it. */
	r->content = ctx->stream;
	if ((rc = wecom_reply_json(r, &body, &len)) == WECOM_OK) {
		rc = ctx->sink->push(ctx->sink, r, body, len);
		free(body);
	}
	r->content = NULL;
	wecom_reply_free(r);

	return (rc);
}

int
wecom_stream_finish(struct wecom_ctx *ctx, const char *markdown)
{
	struct wecom_reply	*r;
	int			 rc;

	if (markdown == NULL)
		markdown = ctx->stream != NULL ? ctx->stream : "";
	if (ctx->channel == WECOM_CHANNEL_APP)
		return (wecom_reply_text(ctx, markdown));
	if (wecom_replied(ctx))
		return (WECOM_ERR_REPLIED);
	if ((rc = stream_record(ctx, markdown, 1, &r)) != WECOM_OK)
		return (rc);

	return (wecom_reply_commit(ctx, r, 0));
}

/* A stream record of ctx's stream with markdown, cleaned and cut. */
static int
stream_record(struct wecom_ctx *ctx, const char *markdown, int finish,
    struct wecom_reply **rp)
{
	struct wecom_reply	*r;
	enum wecom_reply_type	 type;
	int			 rc, bad = 0;

	/* An app has no streams: the record only keeps the text. */
	type = ctx->channel == WECOM_CHANNEL_APP ? WECOM_REPLY_TEXT :
	    WECOM_REPLY_STREAM;
	if ((rc = wecom_reply_new(ctx, type, &r)) != WECOM_OK)
		return (rc);
	r->finish = finish;
	r->content = wecom_reply_clean(markdown, &bad);
	if (!bad && type == WECOM_REPLY_STREAM &&
	    (r->stream_id = wecom_ctx_stream_id(ctx)) == NULL)
		bad = 1;
	if (bad) {
		wecom_reply_free(r);
		return (WECOM_ERROR);
	}
	wecom_reply_clip(r->content);
	*rp = r;

	return (WECOM_OK);
}
