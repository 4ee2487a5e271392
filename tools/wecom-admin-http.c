/* SPDX-License-Identifier: ISC */
/*
 * One HTTP request of wecom-admin (callback, status) with libcurl: to
 * our own server, not to WeCom, so not through the API client. The
 * loopback is never sent through a proxy; other hosts follow the
 * usual proxy variables, as a browser would.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "wecom-admin.h"

#define BODY_MAX	(4 * 1024 * 1024)
#define CONNECT_MS	5000L
/* Past WeCom's 5 s and a threaded app's longest deadline (4.5 s). */
#define TOTAL_MS	15000L

static size_t	collect(char *, size_t, size_t, void *);

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
	struct reply	*r = arg;
	char		*nb;

	n *= size;
	if (r->len + n > BODY_MAX)
		return (0);
	if ((nb = realloc(r->body, r->len + n + 1)) == NULL)
		return (0);
	r->body = nb;
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = '\0';

	return (n);
}

/*
 * GET url, or POST body (ctype) when body is given. 0: r has the
 * status and the body ("" if none); -1: no answer, r->error says why.
 */
int
http_request(const char *url, const char *ctype, const char *body,
    size_t len, struct reply *r)
{
	struct curl_slist	*hdr;
	CURL			*e;
	CURLcode		 cc;
	char			 line[128];

	memset(r, 0, sizeof(*r));
	if ((r->body = calloc(1, 1)) == NULL || (e = curl_easy_init()) ==
	    NULL) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		return (-1);
	}
	hdr = NULL;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, TOTAL_MS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "wecom-admin/" WECOM_VERSION);
	if (body != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		hdr = curl_slist_append(hdr, line);
		/* WeCom sends no Expect: 100-continue; neither do we. */
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)len);
	}
	if ((cc = curl_easy_perform(e)) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	else
		snprintf(r->error, sizeof(r->error), "%s",
		    curl_easy_strerror(cc));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(e);

	return (cc == CURLE_OK ? 0 : -1);
}

void
reply_free(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
