/* SPDX-License-Identifier: ISC */
/*
 * Group robots: webhook/send and webhook/upload_media, keyed by the
 * robot's webhook key instead of a token. The key is a credential too:
 * it is only ever put in the URL, never in an error message.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"

static int	robot_send(struct wecom_client *, const void *, json_t *,
		    struct wecom_send_result *, struct wecom_api_error *);
static char	*robot_query(const char *, const char *);

/* A [robot NAME] section's key, or NULL. */
const char *
wecom_robot_key(const struct wecom_conf *conf, const char *name)
{
	return (wecom_conf_get(wecom_conf_section(conf, "robot", name),
	    "key"));
}

static char *
robot_query(const char *key, const char *type)
{
	char	*e, *q;
	size_t	 len;

	if ((e = wecom_client_escape(key)) == NULL)
		return (NULL);
	len = strlen(e) + 32;
	if ((q = malloc(len)) != NULL)
		snprintf(q, len, "key=%s%s%s", e, type ? "&type=" : "",
		    type ? type : "");
	free(e);

	return (q);
}

int
wecom_webhook_send(struct wecom_client *c, const char *key,
    const struct wecom_outmsg *m, const struct wecom_send_opts *opts,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_send_result	local;
	int				rc;

	wecom_client_err_clear(err);
	if (key == NULL || *key == '\0' || m == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "webhook/send needs a robot key and a message"));
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	rc = wecom_client_send_parts(c, key, m, opts, robot_send, res, err);
	if (res == &local)
		wecom_send_result_free(res);

	return (rc);
}

static int
robot_send(struct wecom_client *c, const void *key, json_t *body,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct client_req	 req;
	char			*q;
	int			 rc;

	if ((q = robot_query(key, NULL)) == NULL) {
		json_decref(body);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}
	rc = wecom_client_req_init(&req, REQ_POST_JSON, "webhook/send", q, 0);
	free(q);
	if (rc == WECOM_API_OK)
		rc = wecom_client_req_body(&req, body);
	else
		json_decref(body);
	if (rc != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_robot_wait(c, key, err)) == WECOM_API_OK &&
	    (rc = wecom_client_call(c, &req, err)) == WECOM_API_OK)
		rc = wecom_client_result_take(res, req.json);
	wecom_client_req_free(&req);

	return (rc);
}

/* type: file or voice; the media_id is for this robot's messages. */
int
wecom_webhook_upload_file(struct wecom_client *c, const char *key,
    const char *type, const char *path, char **media_id,
    struct wecom_api_error *err)
{
	json_t	*ans;
	char	*q;
	int	 rc;

	wecom_client_err_clear(err);
	*media_id = NULL;
	if (key == NULL || type == NULL ||
	    (strcmp(type, "file") != 0 && strcmp(type, "voice") != 0))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "robot uploads are file or voice"));
	if ((q = robot_query(key, type)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = wecom_client_upload(c, "webhook/upload_media", q, 0, path, NULL,
	    NULL, 0, &ans, err);
	free(q);
	if (rc == WECOM_API_OK)
		rc = wecom_client_media_id(ans, media_id, err);
	json_decref(ans);

	return (rc);
}
