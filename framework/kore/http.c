/* SPDX-License-Identifier: ISC */
/*
 * Answering requests, for every part of the Kore glue: statuses, JSON,
 * one log line per refusal (who, where, why: never a secret or a body),
 * the same told to the shared ring of the last refusals (/status), and
 * who the client is behind a local proxy. Holds only the ring's mapping.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom_crypto.h"
#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_metrics.h"
#include "wecom_http.h"
#include "wecom_push.h"

static int	http_status(int);
static const char	*http_client(struct http_request *, char *, size_t);
static const char	*http_path(struct http_request *, char *, size_t);
static void	http_log(struct http_request *, int, int, const char *);
static const char	*http_real_ip(struct http_request *, const char *);
static const char	*http_peer_text(struct http_request *, char *, size_t);

/* Made by observe.c in the parent, before the fork. */
static struct wecom_metrics	*ring;

void
wecom_http_init(struct wecom_metrics *m)
{
	ring = m;
}

/* A signed request from outside the app's timestamp window. */
int
wecom_http_stale(struct http_request *req, struct wecom_metrics *m,
    const struct wecom_app *app)
{
	wecom_metrics_inc(m, app->index, WECOM_M_STALE);

	return (wecom_http_refuse(req, 403, 0,
	    "timestamp outside timestamp_window (a replay?)"));
}

/* The URL verification answers plain text, callbacks XML. */
void
wecom_http_answer(struct http_request *req, struct wecom_result *res)
{
	if (res->code != WECOM_OK) {
		wecom_http_refuse(req, http_status(res->code), res->code,
		    res->why);
	} else {
		if (res->body != NULL)
			http_response_header(req, "content-type",
			    req->method == HTTP_METHOD_GET ?
			    "text/plain; charset=utf-8" :
			    "application/xml; charset=utf-8");
		http_response(req, 200, res->body, res->len);
	}
	wecom_result_clear(res);
}

static int
http_status(int code)
{
	switch (code) {
	case WECOM_ERR_SIGNATURE:
		return (403);
	case WECOM_ERR_PARSE_XML:
	case WECOM_ERR_RECEIVEID:
	case WECOM_ERR_DECRYPT:
	case WECOM_ERR_BUFFER:
	case WECOM_ERR_B64_DECODE:
		return (400);
	default:
		return (500);
	}
}

int
wecom_http_refuse(struct http_request *req, int status, int code,
    const char *why)
{
	http_log(req, status, code, why);
	http_response(req, status, NULL, 0);

	return (KORE_RESULT_OK);
}

void
wecom_http_log(struct http_request *req, int status, const char *why)
{
	http_log(req, status, 0, why);
}

static void
http_log(struct http_request *req, int status, int code, const char *why)
{
	struct wecom_metrics_refusal	 r;
	char				 addr[2 * INET6_ADDRSTRLEN + 8];
	char				 path[256];
	const char			*p;

	http_client(req, addr, sizeof(addr));
	p = http_path(req, path, sizeof(path));
	kore_log(LOG_NOTICE, "wecom: %s %s %s: %d%s%s%s%s", addr,
	    http_method_text(req->method), p, status, code ? " " : "",
	    code ? wecom_strerror(code) : "", why ? ": " : "", why ? why : "");
	if (ring == NULL)
		return;
	/* The line's own parts; the ring cuts what does not fit. */
	memset(&r, 0, sizeof(r));
	r.time = time(NULL);
	r.status = status;
	kore_strlcpy(r.peer, addr, sizeof(r.peer));
	kore_strlcpy(r.method, http_method_text(req->method), sizeof(r.method));
	kore_strlcpy(r.path, p, sizeof(r.path));
	(void)snprintf(r.why, sizeof(r.why), "%s%s%s", code ?
	    wecom_strerror(code) : "", code && why ? ": " : "", why ? why : "");
	wecom_metrics_refusal(ring, &r);
}

/*
 * A JSON answer (the push API, the relay); takes o. The text is wiped
 * once sent: it may hold a token.
 */
int
wecom_http_json(struct http_request *req, int status, json_t *o)
{
	char	*s;

	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return (wecom_http_refuse(req, 500, 0, "out of memory"));
	http_response_header(req, "content-type",
	    "application/json; charset=utf-8");
	http_response(req, status, s, strlen(s));
	explicit_bzero(s, strlen(s));
	free(s);

	return (KORE_RESULT_OK);
}

const void *
wecom_http_peer(struct http_request *req)
{
	struct connection	*c = req->owner;

	if (c->family == AF_INET)
		return (&c->addr.ipv4.sin_addr);
	if (c->family == AF_INET6)
		return (&c->addr.ipv6.sin6_addr);
	return (NULL);
}

static const char *
http_path(struct http_request *req, char *buf, size_t len)
{
	const char	*at, *rest;

	/* Anywhere: "//relay/KEY" or "/x/../relay/KEY" hold the key too. */
	if ((at = strstr(req->path, "/relay/")) == NULL)
		return (req->path);
	rest = strchr(at + 7, '/');
	(void)snprintf(buf, len, "%.*s/relay/…%s", (int)(at - req->path),
	    req->path, rest ? rest : "");

	return (buf);
}

static const char *
http_real_ip(struct http_request *req, const char *peer)
{
	const char	*real;

	if ((strcmp(peer, "127.0.0.1") == 0 || strcmp(peer, "::1") == 0 ||
	    strcmp(peer, "unix") == 0) &&
	    http_request_header(req, "x-real-ip", &real) &&
	    strlen(real) < INET6_ADDRSTRLEN &&
	    real[strspn(real, "0123456789abcdefABCDEF.:")] == '\0')
		return (real);

	return (NULL);
}

static const char *
http_peer_text(struct http_request *req, char *peer, size_t len)
{
	const void	*a;

	a = wecom_http_peer(req);
	if (a == NULL || inet_ntop(req->owner->family, a, peer, len) == NULL)
		kore_strlcpy(peer, "unix", len);

	return (peer);
}

static const char *
http_client(struct http_request *req, char *buf, size_t len)
{
	const char	*real;
	char		 peer[INET6_ADDRSTRLEN];

	http_peer_text(req, peer, sizeof(peer));
	if ((real = http_real_ip(req, peer)) != NULL)
		(void)snprintf(buf, len, "%s via %s", real, peer);
	else
		kore_strlcpy(buf, peer, len);

	return (buf);
}

int
wecom_http_origin(struct http_request *req, int *family, void *addr)
{
	const char	*real;
	const void	*a;
	char		 peer[INET6_ADDRSTRLEN];

	http_peer_text(req, peer, sizeof(peer));
	if ((real = http_real_ip(req, peer)) != NULL) {
		*family = strchr(real, ':') ? AF_INET6 : AF_INET;
		return (inet_pton(*family, real, addr) == 1 ? 0 : -1);
	}
	if ((a = wecom_http_peer(req)) == NULL)
		return (-1);
	*family = req->owner->family;
	memcpy(addr, a, *family == AF_INET ? 4 : 16);

	return (0);
}

const struct wecom_apikey *
wecom_http_apikey(struct http_request *req,
    const struct wecom_apikey_list *keys, int *given)
{
	const struct wecom_apikey	*key;
	const char			*h;
	char				*k;

	k = NULL;
	*given = 0;
	if (http_request_header(req, "authorization", &h)) {
		if (strncasecmp(h, "Bearer ", 7) == 0)
			k = strdup(h + 7);
		else
			*given |= WECOM_HTTP_KEY_OTHER;
	}
	if (k == NULL && http_request_header(req, "x-api-key", &h))
		k = strdup(h);
	if (k == NULL)
		return (NULL);
	*given |= WECOM_HTTP_KEY_GIVEN;
	key = wecom_apikey_find(keys, k);
	/* The key is a secret: not left in freed memory. */
	explicit_bzero(k, strlen(k));
	free(k);

	return (key);
}
