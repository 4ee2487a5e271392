/* SPDX-License-Identifier: ISC */
/*
 * A bounded GET of a whole URL: an intelligent bot's file, which lies
 * on WeCom's file servers and not below api_base. The request is made
 * as every API request is (client_http.c: the CA bundle, timeouts,
 * TLS checks) and retried as they are on the network and 5xx; only
 * its URL and the judging of its answer, raw bytes, are its own.
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"

/* The servers may move a file behind a redirect: a few, http(s) only. */
#define DOWNLOAD_REDIRS	3

struct download {
	struct wecom_buf	*buf;
	size_t			 max;
	int			 too_large;
};

static size_t	download_write(char *, size_t, size_t, void *);
static int	download_try(struct wecom_client *, struct client_req *,
		    const char *, struct download *, struct client_retry *,
		    struct wecom_api_error *);
static int	download_judge(struct client_req *, const struct download *,
		    struct wecom_api_error *);

int
wecom_client_download(struct wecom_client *c, const char *url, size_t max,
    void **data, size_t *len, struct wecom_api_error *err)
{
	struct wecom_api_error	local;
	struct client_req	req;
	struct client_retry	r;
	struct download		dl;
	int			act;

	if (err == NULL)
		err = &local;
	wecom_client_err_clear(err);
	*data = NULL;
	*len = 0;
	if (url == NULL || (strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "http://", 7) != 0) || max == 0)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "not an http(s) URL, or no room for a download"));
	/* "download" names it in messages: the URL may carry a signature. */
	if (wecom_client_req_init(&req, REQ_GET, "download", NULL, 0) !=
	    WECOM_API_OK) {
		wecom_client_req_free(&req);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}
	req.resp.max = max;
	memset(&dl, 0, sizeof(dl));
	dl.buf = &req.resp;
	dl.max = max;
	wecom_client_retry_start(&r);
	while ((act = download_try(c, &req, url, &dl, &r, err)) ==
	    REQ_BACKOFF && wecom_client_pause(c, &r))
		;
	if (wecom_client_retry_end(&r, act, err) == WECOM_API_OK &&
	    (*data = wecom_buf_take(&req.resp, len)) == NULL)
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
	wecom_client_req_free(&req);

	return (err->code);
}

/* One try: the API request's set-up, aimed at url, bounded by dl. */
static int
download_try(struct wecom_client *c, struct client_req *req, const char *url,
    struct download *dl, struct client_retry *r, struct wecom_api_error *err)
{
	CURL		*e;
	CURLcode	 rc;

	if (wecom_client_req_prepare(c, req, NULL, err) != WECOM_API_OK)
		return (REQ_FAIL);
	dl->too_large = 0;
	e = req->easy;
	/* prepare() aimed at api_base: a download's URL is whole. */
	rc = curl_easy_setopt(e, CURLOPT_URL, url);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, download_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, dl);
	/* A Content-Length over max is refused before any byte is read. */
	rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)dl->max);
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)DOWNLOAD_REDIRS);
	rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (rc != CURLE_OK) {
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "cannot set up the download");
		return (REQ_FAIL);
	}
	wecom_client_req_perform(req);
	r->attempts++;

	return (download_judge(req, dl, err));
}

/* Without a length announced, the body stops here once over max. */
static size_t
download_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct download	*dl = arg;
	size_t		 n = size * nmemb;

	if (n > dl->max - dl->buf->len) {
		dl->too_large = 1;
		return (0);
	}
	wecom_buf_add(dl->buf, ptr, n);

	return (dl->buf->err ? 0 : n);
}

static int
download_judge(struct client_req *req, const struct download *dl,
    struct wecom_api_error *err)
{
	err->http_status = req->http_status;
	err->curl_code = req->curl_rc;
	if (req->curl_rc == CURLE_FILESIZE_EXCEEDED || dl->too_large) {
		wecom_client_err_set(err, WECOM_API_ERR_TOO_LARGE, 0,
		    "the file is larger than %zu bytes", dl->max);
		return (REQ_FAIL);
	}
	if (req->curl_rc == CURLE_WRITE_ERROR) {
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory for the download");
		return (REQ_FAIL);
	}
	/* TLS, network: judged as any API request's failure is. */
	if (req->curl_rc != CURLE_OK)
		return (wecom_client_req_finish(req, err));
	if (req->http_status >= 500) {
		wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "HTTP %ld for the download", req->http_status);
		return (REQ_BACKOFF);
	}
	if (req->http_status != 200) {
		wecom_client_err_set(err, WECOM_API_ERR_HTTP, 0,
		    "HTTP %ld for the download (expired? the URL lives about "
		    "5 minutes)", req->http_status);
		return (REQ_FAIL);
	}

	return (REQ_DONE);
}
