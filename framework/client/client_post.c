/* SPDX-License-Identifier: ISC */
/*
 * One POST of JSON to a whole URL that is not WeCom's (an app's forward
 * receiver): made as every API request is (client_http.c: CA bundle,
 * timeouts, TLS checks), with headers of the caller's, tried once — the
 * caller decides what a failure means (the outbox retries a forward).
 * The answer is bounded, its status and body handed back as they are.
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"

int
wecom_client_post(struct wecom_client *c, const char *url,
    const char *const *headers, const char *body, size_t max,
    long *status, char **answer, size_t *alen, struct wecom_api_error *err)
{
	struct client_req	 req;
	struct curl_slist	*h;
	CURLcode		 rc;
	int			 code;

	wecom_client_err_clear(err);
	*answer = NULL;
	*alen = 0;
	*status = 0;
	if (url == NULL || (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "not an http(s) URL"));
	/* "forward" names it in messages: the URL is the user's. */
	if (wecom_client_req_init(&req, REQ_POST_RAW, "forward", NULL, 0) !=
	    WECOM_API_OK) {
		wecom_client_req_free(&req);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}
	req.raw = body;
	req.raw_len = strlen(body);
	req.raw_type = "application/json; charset=utf-8";
	req.resp.max = max;
	if (wecom_client_req_prepare(c, &req, NULL, err) != WECOM_API_OK) {
		wecom_client_req_free(&req);
		return (err->code);
	}
	/* prepare() aimed at api_base: the receiver's URL is whole. */
	rc = curl_easy_setopt(req.easy, CURLOPT_URL, url);
	for (h = req.headers; headers != NULL && *headers != NULL; headers++)
		if ((h = curl_slist_append(h, *headers)) != NULL)
			req.headers = h;
	rc |= curl_easy_setopt(req.easy, CURLOPT_HTTPHEADER, req.headers);
	if (rc != CURLE_OK || h == NULL) {
		wecom_client_req_free(&req);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "cannot set up the request"));
	}
	wecom_client_req_perform(&req);
	*status = err->http_status = req.http_status;
	err->curl_code = req.curl_rc;
	if (req.resp.err)
		code = wecom_client_err_set(err, WECOM_API_ERR_TOO_LARGE, 0,
		    "an answer over %zu bytes", max);
	else if (req.curl_rc != CURLE_OK)
		code = wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "%s", req.curl_err[0] ? req.curl_err :
		    curl_easy_strerror(req.curl_rc));
	else if ((*answer = wecom_buf_take(&req.resp, alen)) == NULL &&
	    req.resp.len > 0)
		code = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
	else
		code = WECOM_API_OK;
	wecom_client_req_free(&req);

	return (code);
}
