/* SPDX-License-Identifier: ISC */
/*
 * A reply made of bytes (a photo): uploaded the way the channel needs —
 * media/upload with an app's secret, chunks on a bot's long connection
 * — and answered by its media_id; a bot's callback has no uploads, so an
 * image goes inline, in base64, with the finished stream.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_app.h"
#include "wecom_reply.h"

/* WeCom's bound for an image of a stream's msg_item. */
#define INLINE_MAX	(10 * 1024 * 1024)

static int	upload_type(const char *, enum wecom_reply_type *);
static int	upload_inline(struct wecom_ctx *, const void *, size_t);
static int	upload_app(struct wecom_ctx *, const char *, const char *,
		    const void *, size_t, char **);

int
wecom_reply_upload(struct wecom_ctx *ctx, const char *type,
    const char *filename, const void *data, size_t len)
{
	struct wecom_reply	*r;
	enum wecom_reply_type	 t;
	char			*media_id;
	int			 rc;

	if (wecom_replied(ctx))
		return (WECOM_ERR_REPLIED);
	if (upload_type(type, &t) != WECOM_OK || data == NULL || len == 0)
		return (WECOM_ERROR);
	if (ctx->channel == WECOM_CHANNEL_AIBOT_CALLBACK)
		return (t == WECOM_REPLY_IMAGE ? upload_inline(ctx, data, len) :
		    WECOM_ERR_CHANNEL);
	if ((rc = wecom_reply_new(ctx, t, &r)) != WECOM_OK)
		return (rc);
	wecom_reply_free(r);

	media_id = NULL;
	if (ctx->channel == WECOM_CHANNEL_APP)
		rc = upload_app(ctx, type, filename, data, len, &media_id);
	else if (ctx->sink != NULL && ctx->sink->upload != NULL)
		rc = ctx->sink->upload(ctx->sink, type, filename, data, len,
		    &media_id);
	else
		rc = WECOM_ERROR;
	if (rc != WECOM_OK)
		return (rc);
	if ((rc = wecom_reply_new(ctx, t, &r)) == WECOM_OK) {
		r->media_id = media_id;
		media_id = NULL;
		rc = wecom_reply_commit(ctx, r, 0);
	}
	free(media_id);

	return (rc);
}

static int
upload_type(const char *type, enum wecom_reply_type *t)
{
	if (type == NULL)
		return (WECOM_ERROR);
	if (strcmp(type, "image") == 0)
		*t = WECOM_REPLY_IMAGE;
	else if (strcmp(type, "voice") == 0)
		*t = WECOM_REPLY_VOICE;
	else if (strcmp(type, "video") == 0)
		*t = WECOM_REPLY_VIDEO;
	else if (strcmp(type, "file") == 0)
		*t = WECOM_REPLY_FILE;
	else
		return (WECOM_ERROR);

	return (WECOM_OK);
}

/* An app's: its client, made for threaded apps with a secret. */
static int
upload_app(struct wecom_ctx *ctx, const char *type, const char *filename,
    const void *data, size_t len, char **media_id)
{
	struct wecom_api_error	err;

	if (ctx->client == NULL)
		return (WECOM_ERROR);

	return (wecom_media_upload_mem(ctx->client, type, filename, data, len,
	    media_id, &err) == WECOM_API_OK ? WECOM_OK : WECOM_ERROR);
}

/* The finished stream, with the image in base64 and its MD5. */
static int
upload_inline(struct wecom_ctx *ctx, const void *data, size_t len)
{
	struct wecom_reply	*r;
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	int			 rc, bad = 0;

	if (len > INLINE_MAX)
		return (WECOM_ERR_TOO_MANY);
	if ((rc = wecom_reply_new(ctx, WECOM_REPLY_STREAM, &r)) != WECOM_OK)
		return (rc);
	r->finish = 1;
	r->content = wecom_reply_clean(ctx->stream, &bad);
	r->image = malloc((len + 2) / 3 * 4 + 1);
	if (bad || r->image == NULL ||
	    EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1) {
		wecom_reply_free(r);
		return (WECOM_ERROR);
	}
	EVP_EncodeBlock((unsigned char *)r->image, data, (int)len);
	for (i = 0; i < mdlen; i++) {
		r->image_md5[2 * i] = "0123456789abcdef"[md[i] >> 4];
		r->image_md5[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
	}

	return (wecom_reply_commit(ctx, r, 0));
}
