/* SPDX-License-Identifier: ISC */
/*
 * One API request: built by wecom_client_req_prepare(), performed by
 * anyone (wecom_client_req_perform() here blocks; a curl-multi driver
 * may do it instead), judged by wecom_client_req_finish(). Retries and
 * fetching the token are left to client_retry.c and client_call.c.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"

#define USER_AGENT	"wecom-kore/" WECOM_VERSION	/* from VERSION */

static size_t	req_write(char *, size_t, size_t, void *);
static char	*req_url(const struct wecom_client *,
		    const struct client_req *, const char *);
static int	req_options(struct wecom_client *, struct client_req *);
static int	req_media(struct client_req *);
static int	req_raw(struct client_req *);
static void	req_reset(struct client_req *);
static int	finish_curl(struct client_req *, struct wecom_api_error *);
static int	finish_http(struct client_req *, struct wecom_api_error *);
static int	finish_errcode(struct client_req *, struct wecom_api_error *);

int
wecom_client_req_init(struct client_req *req, int method, const char *path,
    const char *query, int with_token)
{
	memset(req, 0, sizeof(*req));
	/* A WeCom answer is small: anything huge is not WeCom. */
	req->resp.max = CLIENT_RESP_MAX;
	req->method = method;
	req->with_token = with_token;
	if ((req->path = strdup(path)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	if (query != NULL && (req->query = strdup(query)) == NULL)
		return (WECOM_API_ERR_NOMEM);

	return (WECOM_API_OK);
}

/* Takes the reference to body. */
int
wecom_client_req_body(struct client_req *req, json_t *body)
{
	free(req->body);
	req->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);

	return (req->body == NULL ? WECOM_API_ERR_NOMEM : WECOM_API_OK);
}

void
wecom_client_req_free(struct client_req *req)
{
	req_reset(req);
	free(req->path);
	if (req->query != NULL)		/* gettoken's holds the secret */
		explicit_bzero(req->query, strlen(req->query));
	free(req->query);
	free(req->body);
	free(req->media_path);
	free(req->media_name);
	memset(req, 0, sizeof(*req));
}

/* Everything one try leaves behind; the token is wiped, not just freed. */
static void
req_reset(struct client_req *req)
{
	if (req->easy != NULL)
		curl_easy_cleanup(req->easy);
	curl_mime_free(req->mime);
	curl_slist_free_all(req->headers);
	json_decref(req->json);
	wecom_buf_free(&req->resp);
	if (req->token != NULL) {
		explicit_bzero(req->token, strlen(req->token));
		free(req->token);
	}
	req->easy = NULL;
	req->mime = NULL;
	req->headers = NULL;
	req->json = NULL;
	req->token = NULL;
	req->http_status = 0;
	req->curl_rc = CURLE_OK;
	req->curl_err[0] = '\0';
}

int
wecom_client_req_prepare(struct wecom_client *c, struct client_req *req,
    const char *token, struct wecom_api_error *err)
{
	char	*url;
	int	 rc;

	req_reset(req);
	if (token != NULL && (req->token = strdup(token)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	if ((req->easy = curl_easy_init()) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "curl_easy_init failed"));
	if ((url = req_url(c, req, token)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = curl_easy_setopt(req->easy, CURLOPT_URL, url);
	explicit_bzero(url, strlen(url));	/* may hold a token or secret */
	free(url);
	if (rc != CURLE_OK || req_options(c, req) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "cannot set up the request to %s", req->path));
	if (req->method == REQ_POST_MEDIA && req_media(req) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot attach the media of %s", req->path));

	return (WECOM_API_OK);
}

static char *
req_url(const struct wecom_client *c, const struct client_req *req,
    const char *token)
{
	const char	*base = c->conf->api_base;
	char		*url, *etok;
	size_t		 len;
	int		 n;

	etok = NULL;
	if (token != NULL && (etok = wecom_client_escape(token)) == NULL)
		return (NULL);
	len = strlen(base) + strlen(req->path) + 32 +
	    (req->query ? strlen(req->query) : 0) + (etok ? strlen(etok) : 0);
	if ((url = malloc(len)) == NULL) {
		free(etok);
		return (NULL);
	}
	n = snprintf(url, len, "%s%s%s%s%s%s%s%s", base,
	    base[0] != '\0' && base[strlen(base) - 1] == '/' ? "" : "/",
	    req->path, req->query || etok ? "?" : "",
	    req->query ? req->query : "", req->query && etok ? "&" : "",
	    etok ? "access_token=" : "", etok ? etok : "");
	if (n < 0 || (size_t)n >= len) {
		explicit_bzero(url, len);
		free(url);
		url = NULL;
	}
	if (etok != NULL) {
		explicit_bzero(etok, strlen(etok));
		free(etok);
	}

	return (url);
}

static int
req_options(struct wecom_client *c, struct client_req *req)
{
	CURL		*e = req->easy;
	CURLcode	 rc;

	rc = CURLE_OK;
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, &req->resp);
	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, req->curl_err);
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    c->conf->connect_timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, c->conf->timeout_ms);
	/* Never weakened: a token is a bearer credential. */
	rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->ca_blob != NULL) {
		struct curl_blob	blob;

		/* CURL_BLOB_COPY: curl copies it and never writes it. */
		blob.data = (void *)c->ca_blob;
		blob.len = c->ca_len;
		blob.flags = CURL_BLOB_COPY;
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (req->method == REQ_POST_JSON) {
		req->headers = curl_slist_append(NULL,
		    "Content-Type: application/json; charset=utf-8");
		if (req->headers == NULL)
			return (WECOM_API_ERR_NOMEM);
		rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(req->body));
	}
	if (req->method == REQ_POST_RAW)
		rc |= req_raw(req);

	return (rc == CURLE_OK ? WECOM_API_OK : WECOM_API_ERR_ARG);
}

/* The relay's: the caller's bytes and content type, as they came. */
static int
req_raw(struct client_req *req)
{
	char		 h[256];
	CURLcode	 rc;

	if (snprintf(h, sizeof(h), "Content-Type: %s", req->raw_type) >=
	    (int)sizeof(h) || (req->headers = curl_slist_append(NULL, h)) ==
	    NULL)
		return (CURLE_OUT_OF_MEMORY);
	rc = curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, req->headers);
	rc |= curl_easy_setopt(req->easy, CURLOPT_POSTFIELDS, req->raw);
	rc |= curl_easy_setopt(req->easy, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->raw_len);

	return (rc);
}

/* WeCom wants the field "media" with a filename and a content type. */
static int
req_media(struct client_req *req)
{
	curl_mimepart	*part;
	CURLcode	 rc;

	if ((req->mime = curl_mime_init(req->easy)) == NULL ||
	    (part = curl_mime_addpart(req->mime)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = curl_mime_name(part, "media");
	if (req->media_path != NULL)
		rc |= curl_mime_filedata(part, req->media_path);
	else
		rc |= curl_mime_data(part, req->media, req->media_len);
	rc |= curl_mime_filename(part, req->media_name);
	rc |= curl_mime_type(part, "application/octet-stream");
	rc |= curl_easy_setopt(req->easy, CURLOPT_MIMEPOST, req->mime);

	return (rc == CURLE_OK ? WECOM_API_OK : WECOM_API_ERR_IO);
}

static size_t
req_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct wecom_buf	*b = arg;
	size_t			 n = size * nmemb;

	wecom_buf_add(b, ptr, n);

	return (b->err ? 0 : n);
}

void
wecom_client_req_perform(struct client_req *req)
{
	req->curl_rc = curl_easy_perform(req->easy);
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE,
	    &req->http_status);
}

/*
 * Judge a finished try from its curl result, HTTP status and errcode.
 * Pure: only req and err are looked at and written.
 */
int
wecom_client_req_finish(struct client_req *req, struct wecom_api_error *err)
{
	int	act;

	if (err != NULL) {
		err->http_status = req->http_status;
		err->curl_code = req->curl_rc;
	}
	if (req->curl_rc != CURLE_OK)
		return (finish_curl(req, err));
	if ((act = finish_http(req, err)) != REQ_DONE)
		return (act);

	return (finish_errcode(req, err));
}

/* A TLS or URL problem will not go away by itself; the network may. */
static int
finish_curl(struct client_req *req, struct wecom_api_error *err)
{
	switch (req->curl_rc) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ENGINE_INITFAILED:
		wecom_client_err_set(err, WECOM_API_ERR_TLS, 0, "TLS: %s",
		    req->curl_err[0] ? req->curl_err :
		    curl_easy_strerror(req->curl_rc));
		if (err != NULL)
			err->hint = "the server certificate could not be "
			    "verified: check the CA bundle and the clock";
		return (REQ_FAIL);
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "bad api_base: %s", curl_easy_strerror(req->curl_rc));
		return (REQ_FAIL);
	default:
		wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "network: %s", req->curl_err[0] ? req->curl_err :
		    curl_easy_strerror(req->curl_rc));
		if (err != NULL)
			err->hint = "WeCom was not reached: check DNS, the "
			    "firewall and https_proxy/no_proxy";
		return (REQ_BACKOFF);
	}
}

/* REQ_DONE here only means: a JSON object came back with HTTP 200. */
static int
finish_http(struct client_req *req, struct wecom_api_error *err)
{
	json_error_t	jerr;

	if (req->http_status >= 500) {
		wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "HTTP %ld from %s", req->http_status, req->path);
		return (REQ_BACKOFF);
	}
	if (req->http_status != 200) {
		wecom_client_err_set(err, WECOM_API_ERR_HTTP, 0,
		    "HTTP %ld from %s", req->http_status, req->path);
		return (REQ_FAIL);
	}
	req->json = json_loadb(req->resp.p ? req->resp.p : "",
	    req->resp.len, 0, &jerr);
	if (req->json == NULL || !json_is_object(req->json)) {
		wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL, 0,
		    "%s answered with something that is not a JSON object",
		    req->path);
		return (REQ_FAIL);
	}

	return (REQ_DONE);
}

/* WeCom's errcode: busy means back off, a stale token means renew it. */
static int
finish_errcode(struct client_req *req, struct wecom_api_error *err)
{
	json_t	*ec, *em;
	long	 code;

	ec = json_object_get(req->json, "errcode");
	em = json_object_get(req->json, "errmsg");
	code = json_is_integer(ec) ? (long)json_integer_value(ec) : 0;
	if (code == 0)
		return (REQ_DONE);
	wecom_client_err_set(err, WECOM_API_ERR_REJECTED, code, "%s",
	    json_is_string(em) ? json_string_value(em) : "(no errmsg)");
	switch (code) {
	case -1:
	case 45009:
	case 45033:
		if (err != NULL)
			err->code = WECOM_API_ERR_UNAVAILABLE;
		return (REQ_BACKOFF);
	case 40014:
	case 42001:
		return (REQ_NEWTOKEN);
	}

	return (REQ_FAIL);
}

char *
wecom_client_escape(const char *s)
{
	char	*e, *copy;

	if ((e = curl_easy_escape(NULL, s, 0)) == NULL)
		return (NULL);
	copy = strdup(e);
	curl_free(e);

	return (copy);
}
