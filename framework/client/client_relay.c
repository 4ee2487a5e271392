/* SPDX-License-Identifier: ISC */
/*
 * What the relay needs from the client: the token's remaining life,
 * and a call passed through.
 */

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_private.h"

int
wecom_token_ttl(struct wecom_client *c, char *out, size_t outsz,
    long *seconds, struct wecom_api_error *err)
{
	int	rc;

	*seconds = 0;
	if ((rc = wecom_token_get(c, out, outsz, err)) != WECOM_API_OK)
		return (rc);
	*seconds = (long)(c->token.fetched_at + c->token.expires_in -
	    (int64_t)time(NULL));
	if (*seconds < 1)
		*seconds = 1;

	return (WECOM_API_OK);
}

int
wecom_api_forward(struct wecom_client *c, const char *path, const char *query,
    const char *content_type, const void *body, size_t len,
    struct wecom_forward *fw, struct wecom_api_error *err)
{
	struct client_req	req;
	int			rc;

	memset(fw, 0, sizeof(*fw));
	wecom_client_err_clear(err);
	if ((rc = wecom_client_req_init(&req, REQ_POST_RAW, path, query, 0)) !=
	    WECOM_API_OK) {
		wecom_client_req_free(&req);
		return (wecom_client_err_set(err, rc, 0, "out of memory"));
	}
	req.raw = body;
	req.raw_len = len;
	req.raw_type = content_type;
	if ((rc = wecom_client_req_prepare(c, &req, NULL, err)) ==
	    WECOM_API_OK) {
		wecom_client_req_perform(&req);
		if (req.curl_rc != CURLE_OK || req.http_status == 0) {
			rc = wecom_client_err_set(err,
			    WECOM_API_ERR_UNAVAILABLE, 0, "network: %s",
			    req.curl_err[0] ? req.curl_err :
			    curl_easy_strerror(req.curl_rc));
		} else {
			fw->status = req.http_status;
			fw->body = wecom_buf_take(&req.resp, &fw->len);
		}
	}
	wecom_client_req_free(&req);

	return (rc);
}

void
wecom_forward_free(struct wecom_forward *fw)
{
	free(fw->body);
	memset(fw, 0, sizeof(*fw));
}
