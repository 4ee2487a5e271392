/* SPDX-License-Identifier: ISC */
/*
 * Test app for a bot's inbound files: an image, file or video message
 * is answered "size N sha256 HEX" of its decrypted bytes, or "error
 * CODE" as wecom_msg_file() returned it. A mixed message fetches the
 * image its text names ("1": the second), the first without a text.
 * At most MEDIA_MAX bytes. Threaded: the download blocks.
 */

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wecom.h"

#define MEDIA_MAX	65536

static int
media_file(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 md[EVP_MAX_MD_SIZE];
	char			 out[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int		 mdlen, i;
	size_t			 n, len;
	void			*data;
	int			 rc;

	n = 0;
	if (msg->type == WECOM_MSG_MIXED && msg->content != NULL)
		n = strtoul(msg->content, NULL, 10);
	rc = wecom_msg_file(ctx, msg, n, MEDIA_MAX, &data, &len);
	if (rc != WECOM_OK) {
		wecom_reply_textf(ctx, "error %d", rc);
		return (WECOM_STOP);
	}
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL)) {
		free(data);
		wecom_reply_text(ctx, "error sha256");
		return (WECOM_STOP);
	}
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * mdlen] = '\0';
	wecom_reply_textf(ctx, "size %zu sha256 %s", len, out);
	free(data);

	return (WECOM_STOP);
}

static int
media_init(struct wecom_app *app)
{
	static const char *const	types[] = { "image", "file", "video",
					    "mixed" };
	size_t				i;

	wecom_app_set_threaded(app, 1);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (wecom_on_msg(app, types[i], media_file, NULL) != WECOM_OK)
			return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

WECOM_APP("media", media_init);
