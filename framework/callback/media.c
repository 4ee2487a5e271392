/* SPDX-License-Identifier: ISC */
/*
 * The files of an intelligent bot's messages: an image, a file or a
 * video is a URL valid for about 5 minutes, its bytes encrypted with
 * the message's aeskey or, without one, the bot's EncodingAESKey. A
 * handler asks for one and gets the plain bytes: the download goes
 * through an API client (client/), the decryption is crypto/'s.
 *
 * This layer has no log of its own: a reason goes to stderr, which the
 * server's foreground run sends where Kore's lines go.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_client.h"
#include "wecom_crypto.h"
#include "wecom_xml.h"

/* Where a mixed message's images are, once flattened (json.c). */
#define ITEM		"mixed/msg_item"
#define ITEM_URL	"mixed/msg_item/image/url"
#define ITEM_KEY	"mixed/msg_item/image/aeskey"

struct media_ref {
	const char	*url;
	const char	*aeskey;	/* the message's, or NULL */
};

static int	media_find(const struct wecom_msg *, size_t,
		    struct media_ref *);
static int	media_item(const struct wecom_msg *, size_t,
		    struct media_ref *);
static int	media_fetch(struct wecom_ctx *, size_t, const char *,
		    size_t, void **, size_t *);
static int	media_fail(const struct wecom_ctx *, size_t, const char *,
		    const char *);

int
wecom_msg_file(struct wecom_ctx *ctx, const struct wecom_msg *msg,
    size_t n, size_t max, void **data, size_t *len)
{
	struct media_ref	 ref;
	const char		*key;
	size_t			 plen;
	void			*buf;
	int			 rc;

	*data = NULL;
	*len = 0;
	if (ctx->channel == WECOM_CHANNEL_APP)
		return (media_fail(ctx, n, "not a bot's message", NULL));
	if (!ctx->app->threaded || ctx->conf == NULL)
		return (media_fail(ctx, n, "threaded apps only: a download "
		    "would stall the event loop", NULL));
	if (max == 0 || max > WECOM_MSG_MAX * (size_t)1024)
		return (media_fail(ctx, n, "max must be 1 byte to 1 GiB",
		    NULL));
	if (media_find(msg, n, &ref) != WECOM_OK)
		return (media_fail(ctx, n, "the message has no such file",
		    NULL));
	key = ref.aeskey != NULL && *ref.aeskey != '\0' ? ref.aeskey :
	    ctx->app->conf->aeskey;
	if (key == NULL)
		return (media_fail(ctx, n, "no aeskey in the message and the "
		    "bot has no EncodingAESKey (websocket mode)", NULL));

	/* The padding (at most a block) comes on top of max plain bytes. */
	if ((rc = media_fetch(ctx, n, ref.url, max + WECOM_BLOCK, &buf,
	    len)) != WECOM_OK)
		return (rc == WECOM_ERR_TOO_MANY ? rc : WECOM_ERROR);
	if ((rc = wecom_crypto_media_decrypt(key, buf, *len, &plen)) !=
	    WECOM_OK || plen > max) {
		free(buf);
		*len = 0;
		if (rc == WECOM_OK)
			return (WECOM_ERR_TOO_MANY);
		return (media_fail(ctx, n, "cannot decrypt",
		    wecom_strerror(rc)));
	}
	*data = buf;
	*len = plen;

	return (WECOM_OK);
}

/* image.url, file.url or video.url as the n = 0th; a mixed one's n-th. */
static int
media_find(const struct wecom_msg *msg, size_t n, struct media_ref *ref)
{
	static const char *const	types[] = { "image", "file", "video" };
	char				path[32];
	size_t				i;

	memset(ref, 0, sizeof(*ref));
	if (msg->type == WECOM_MSG_MIXED)
		return (media_item(msg, n, ref));
	if (n != 0)
		return (WECOM_ERROR);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/url", types[i]);
		if ((ref->url = wecom_msg_get(msg, path)) == NULL)
			continue;
		(void)snprintf(path, sizeof(path), "%s/aeskey", types[i]);
		ref->aeskey = wecom_msg_get(msg, path);
		return (WECOM_OK);
	}

	return (WECOM_ERROR);
}

/*
 * The n-th item with an image. An item's members come before the item
 * itself in the flat model, so its url and aeskey are paired when the
 * item ends: counting urls and aeskeys apart would mix them up when
 * only some images carry a key.
 */
static int
media_item(const struct wecom_msg *msg, size_t n, struct media_ref *ref)
{
	const char	*path, *value, *url, *key;
	size_t		 i, nf;

	url = key = NULL;
	nf = wecom_xml_nfields(msg->xml);
	for (i = 0; i < nf; i++) {
		wecom_xml_field(msg->xml, i, &path, &value);
		if (strcmp(path, ITEM_URL) == 0)
			url = value;
		else if (strcmp(path, ITEM_KEY) == 0)
			key = value;
		else if (strcmp(path, ITEM) == 0) {
			if (url != NULL && n-- == 0) {
				ref->url = url;
				ref->aeskey = key;
				return (WECOM_OK);
			}
			url = key = NULL;
		}
	}

	return (WECOM_ERROR);
}

static int
media_fetch(struct wecom_ctx *ctx, size_t n, const char *url, size_t max,
    void **buf, size_t *len)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	int			 rc;

	if ((c = wecom_client_new_robot(ctx->conf, &err)) == NULL)
		return (media_fail(ctx, n, "no client", err.errmsg));
	rc = wecom_client_download(c, url, max, buf, len, &err);
	wecom_client_free(c);
	if (rc == WECOM_API_ERR_TOO_LARGE)
		return (WECOM_ERR_TOO_MANY);
	if (rc != WECOM_API_OK)
		return (media_fail(ctx, n, "download failed", err.errmsg));

	return (WECOM_OK);
}

/* Says why on stderr; always WECOM_ERROR. */
static int
media_fail(const struct wecom_ctx *ctx, size_t n, const char *why,
    const char *detail)
{
	fprintf(stderr, "wecom: [%s %s] wecom_msg_file(%zu): %s%s%s\n",
	    ctx->app->conf->kind == WECOM_KIND_AIBOT ? "aibot" : "app",
	    ctx->app->conf->name, n, why, detail != NULL ? ": " : "",
	    detail != NULL ? detail : "");

	return (WECOM_ERROR);
}
