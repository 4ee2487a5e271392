/* SPDX-License-Identifier: ISC */
/*
 * A file uploaded on a bot's long connection (aibot-protocol.md §2):
 * init with its size and MD5, chunks of at most 512 KiB in base64, then
 * finish, which gives the media_id a reply names. Each step waits for
 * its ack on the calling (handler) thread; the ws calls every done
 * exactly once, after at most its ack timeout, so the waiter can live
 * on this stack.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "wecom.h"
#include "wecom_aibot.h"
#include "wecom_ws.h"

#define CHUNK		(512 * 1024)
#define CHUNKS_MAX	100

struct waiter {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 done;
	int		 errcode;
	json_t		*ack;		/* the ack's body */
};

static int	upload_call(struct wecom_ws *, size_t, const char *, json_t *,
		    json_t **);
static void	upload_done(void *, int, const char *);
static int	upload_chunks(struct wecom_ws *, size_t, const char *,
		    const unsigned char *, size_t);
static int	upload_md5(const void *, size_t, char *);

int
wecom_aibot_upload(struct wecom_ws *ws, size_t bot, const char *type,
    const char *filename, const void *data, size_t len, char **media_id)
{
	json_t		*ack;
	char		 md5[33], *id;
	size_t		 n;
	int		 rc;

	*media_id = NULL;
	n = (len + CHUNK - 1) / CHUNK;
	if (len == 0 || n > CHUNKS_MAX)
		return (WECOM_ERR_TOO_MANY);
	if (upload_md5(data, len, md5) != WECOM_OK ||
	    upload_call(ws, bot, "aibot_upload_media_init", json_pack(
	    "{s:s, s:s, s:I, s:I, s:s}", "type", type, "filename", filename,
	    "total_size", (json_int_t)len, "total_chunks", (json_int_t)n,
	    "md5", md5), &ack) != WECOM_OK)
		return (WECOM_ERROR);
	rc = WECOM_ERROR;
	id = json_is_string(json_object_get(ack, "upload_id")) ?
	    strdup(json_string_value(json_object_get(ack, "upload_id"))) : NULL;
	json_decref(ack);
	if (id != NULL && upload_chunks(ws, bot, id, data, len) == WECOM_OK &&
	    upload_call(ws, bot, "aibot_upload_media_finish", json_pack(
	    "{s:s}", "upload_id", id), &ack) == WECOM_OK) {
		if (json_is_string(json_object_get(ack, "media_id")) &&
		    (*media_id = strdup(json_string_value(json_object_get(ack,
		    "media_id")))) != NULL)
			rc = WECOM_OK;
		json_decref(ack);
	}
	free(id);

	return (rc);
}

static int
upload_chunks(struct wecom_ws *ws, size_t bot, const char *id,
    const unsigned char *data, size_t len)
{
	json_t	*ack;
	char	*b64;
	size_t	 i, off, n;
	int	 rc;

	if ((b64 = malloc(CHUNK / 3 * 4 + 8)) == NULL)
		return (WECOM_ERROR);
	rc = WECOM_OK;
	for (i = 0, off = 0; off < len && rc == WECOM_OK; i++, off += n) {
		n = len - off < CHUNK ? len - off : CHUNK;
		EVP_EncodeBlock((unsigned char *)b64, data + off, (int)n);
		rc = upload_call(ws, bot, "aibot_upload_media_chunk", json_pack(
		    "{s:s, s:I, s:s}", "upload_id", id, "chunk_index",
		    (json_int_t)i, "base64_data", b64), &ack);
		json_decref(ack);
	}
	free(b64);

	return (rc);
}

/* One request and its ack, waited for; *ack is the ack's body. */
static int
upload_call(struct wecom_ws *ws, size_t bot, const char *cmd, json_t *body,
    json_t **ack)
{
	char	*text;
	int	 errcode;

	*ack = NULL;
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return (WECOM_ERROR);
	errcode = wecom_aibot_call(ws, bot, cmd, text, ack);
	free(text);

	return (errcode == 0 ? WECOM_OK : WECOM_ERROR);
}

/*
 * A request on a fresh req_id, its ack waited for: WeCom's errcode, or
 * WECOM_WS_TIMEOUT or _GONE; *ack (may be NULL) the ack's body.
 */
int
wecom_aibot_call(struct wecom_ws *ws, size_t bot, const char *cmd,
    const char *body, json_t **ack)
{
	struct waiter	 w;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	if (wecom_ws_send(ws, bot, cmd, NULL, body, strlen(body), 0,
	    upload_done, &w) == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
	} else
		w.errcode = WECOM_WS_GONE;
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	if (ack != NULL)
		*ack = w.ack;
	else
		json_decref(w.ack);

	return (w.errcode);
}

/* On the ws thread. */
static void
upload_done(void *arg, int errcode, const char *body)
{
	struct waiter	*w = arg;

	pthread_mutex_lock(&w->lock);
	w->errcode = errcode;
	w->ack = body != NULL ? json_loads(body, 0, NULL) : NULL;
	w->done = 1;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static int
upload_md5(const void *data, size_t len, char *hex)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen, i;

	if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1)
		return (WECOM_ERROR);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);

	return (WECOM_OK);
}
