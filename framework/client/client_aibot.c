/* SPDX-License-Identifier: ISC */
/*
 * An intelligent bot's response_url: the one answer a callback-mode bot
 * may still give after its stream window (6 minutes) or to a card
 * click, within an hour, once. The URL comes from a verified message;
 * it is posted to only when it lies below api_base, so that tests, a
 * relay or a private deployment see it as every other call, and
 * nothing else is ever reached from a message's content.
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"

int
wecom_aibot_respond(struct wecom_client *c, const char *response_url,
    const char *body, struct wecom_api_error *err)
{
	struct client_req	 req;
	const char		*base, *rel, *q;
	char			*path;
	json_t			*o;
	int			 rc;

	wecom_client_err_clear(err);
	base = c->conf->api_base;
	if (response_url == NULL || body == NULL ||
	    strncmp(response_url, base, strlen(base)) != 0)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "response_url is not below api_base"));
	if ((o = json_loads(body, 0, NULL)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "response body is not JSON"));
	rel = response_url + strlen(base);
	q = strchr(rel, '?');
	if ((path = strndup(rel, q ? (size_t)(q - rel) : strlen(rel))) ==
	    NULL) {
		json_decref(o);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}
	rc = wecom_client_req_init(&req, REQ_POST_JSON, path, q ? q + 1 : NULL,
	    0);
	free(path);
	if (rc == WECOM_API_OK)
		rc = wecom_client_req_body(&req, o);
	else
		json_decref(o);
	if (rc != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else
		rc = wecom_client_call(c, &req, err);
	wecom_client_req_free(&req);

	return (rc);
}
