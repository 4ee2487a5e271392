/* SPDX-License-Identifier: ISC */
/*
 * media/upload (temporary, 3 days), media/uploadimg (permanent URL) and
 * the robots' upload_media: one multipart field "media" with a filename,
 * from a file or from memory.
 */

#include <sys/stat.h>

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"

/* WeCom's per-type size limits, checked here to fail before uploading. */
static const struct {
	const char	*type;
	size_t		 max;
} limits[] = {
	{ "image",	10 * 1024 * 1024 },
	{ "voice",	2 * 1024 * 1024 },
	{ "video",	10 * 1024 * 1024 },
	{ "file",	20 * 1024 * 1024 },
};

static int	media_type(const char *, size_t *);
static int	media_string(json_t *, const char *, char **,
		    struct wecom_api_error *);

static int
media_type(const char *type, size_t *max)
{
	size_t	i;

	for (i = 0; type != NULL && i < sizeof(limits) / sizeof(limits[0]);
	    i++) {
		if (strcmp(limits[i].type, type) == 0) {
			*max = limits[i].max;
			return (WECOM_API_OK);
		}
	}

	return (WECOM_API_ERR_ARG);
}

/*
 * One upload. file != NULL: streamed from disk by libcurl; otherwise
 * data/len, sent as name. *out gets a reference to the answer.
 */
int
wecom_client_upload(struct wecom_client *c, const char *path, const char *query,
    int with_token, const char *file, const char *name, const void *data,
    size_t len, json_t **out, struct wecom_api_error *err)
{
	struct client_req	 req;
	struct stat		 st;
	char			*copy;
	int			 rc;

	*out = NULL;
	if (file != NULL && (stat(file, &st) == -1 || !S_ISREG(st.st_mode)))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "%s: %s", file, errno ? strerror(errno) :
		    "not a regular file"));
	if ((rc = wecom_client_req_init(&req, REQ_POST_MEDIA, path, query,
	    with_token)) != WECOM_API_OK)
		return (wecom_client_err_set(err, rc, 0, "out of memory"));
	if (file != NULL) {
		if ((copy = strdup(file)) != NULL) {
			req.media_name = strdup(basename(copy));
			free(copy);
		}
		req.media_path = strdup(file);
		if (req.media_path == NULL || req.media_name == NULL)
			rc = WECOM_API_ERR_NOMEM;
	} else {
		req.media = data;
		req.media_len = len;
		if ((req.media_name = strdup(name ? name : "media")) == NULL)
			rc = WECOM_API_ERR_NOMEM;
	}
	if (rc != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_call(c, &req, err)) == WECOM_API_OK)
		*out = json_incref(req.json);
	wecom_client_req_free(&req);

	return (rc);
}

static int
media_string(json_t *ans, const char *key, char **out,
    struct wecom_api_error *err)
{
	json_t	*v;

	v = json_object_get(ans, key);
	if (!json_is_string(v))
		return (wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL, 0,
		    "the upload answer has no %s", key));
	if ((*out = strdup(json_string_value(v))) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

static int
media_upload(struct wecom_client *c, const char *type, const char *file,
    const char *name, const void *data, size_t len, char **media_id,
    struct wecom_api_error *err)
{
	struct stat	 st;
	json_t		*ans;
	char		 query[32];
	size_t		 max;
	int		 rc;

	wecom_client_err_clear(err);
	*media_id = NULL;
	if (media_type(type, &max) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "media type must be image, voice, video or file"));
	if (file != NULL && stat(file, &st) == 0)
		len = (size_t)st.st_size;
	if (len > max)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "%s media is limited to %zu bytes (this is %zu)", type,
		    max, len));
	snprintf(query, sizeof(query), "type=%s", type);
	rc = wecom_client_upload(c, "media/upload", query, 1, file, name, data,
	    len, &ans, err);
	if (rc == WECOM_API_OK)
		rc = media_string(ans, "media_id", media_id, err);
	json_decref(ans);

	return (rc);
}

int
wecom_media_upload_file(struct wecom_client *c, const char *type,
    const char *path, char **media_id, struct wecom_api_error *err)
{
	return (media_upload(c, type, path, NULL, NULL, 0, media_id, err));
}

int
wecom_media_upload_mem(struct wecom_client *c, const char *type,
    const char *filename, const void *data, size_t len, char **media_id,
    struct wecom_api_error *err)
{
	if (data == NULL || len == 0)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "nothing to upload"));
	return (media_upload(c, type, NULL, filename, data, len, media_id,
	    err));
}

int
wecom_media_uploadimg_file(struct wecom_client *c, const char *path,
    char **url, struct wecom_api_error *err)
{
	json_t	*ans;
	int	 rc;

	wecom_client_err_clear(err);
	*url = NULL;
	rc = wecom_client_upload(c, "media/uploadimg", NULL, 1, path, NULL,
	    NULL, 0, &ans, err);
	if (rc == WECOM_API_OK)
		rc = media_string(ans, "url", url, err);
	json_decref(ans);

	return (rc);
}

int
wecom_client_media_id(json_t *ans, char **media_id, struct wecom_api_error *err)
{
	return (media_string(ans, "media_id", media_id, err));
}
