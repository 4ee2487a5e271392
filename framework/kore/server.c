/*
 * The Kore glue: configuration in the parent before the fork, one route
 * for every callback path, HTTP statuses and one log line per refusal.
 * The pipeline itself lives in callback.c and knows nothing of Kore.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <libxml/uri.h>

#include <jansson.h>

#include "wecom_crypto.h"
#include "wecom_config.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_metrics.h"
#include "wecom_runner.h"
#include "wecom_server.h"
#include "wecom_xml.h"

#define QUERY_MAX	2048	/* Kore answers 414 beyond ~2000 */

int	kore_parent_configure(int, char **);
void	kore_worker_configure(void);
int	wecom_http(struct http_request *);

/* Read in the parent before the fork; read-only in workers after. */
static struct wecom_conf	conf;
static struct wecom_app_list	apps;
/* Per worker: the reusable parser. */
static struct wecom_xml		*xml;

struct query {
	struct wecom_query	 q;
	char			 buf[QUERY_MAX];
	const char		*why;
};

static int	server_query(struct http_request *, struct query *, int);
static int	server_param(struct query *, const char *, char *);
static int	server_get(struct http_request *, struct wecom_app *);
static int	server_post(struct http_request *, struct wecom_app *);
static int	server_status(int);
static const char	*server_client(struct http_request *, char *, size_t);
static const char	*server_path(struct http_request *, char *, size_t);
static void	server_log(struct http_request *, int, int, const char *);
static void	server_tick(void *, u_int64_t);

int
kore_parent_configure(int argc, char **argv)
{
	char	err[512];

	xmlInitParser();
	if (wecom_conf_load(&conf, wecom_conf_path(), err, sizeof(err)) !=
	    WECOM_CONF_OK)
		fatal("wecom: %s", err);
	if (wecom_apps_setup(&apps, &conf, err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", conf.file, err);
	if (wecom_observe_init(&conf, &apps, err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", conf.file, err);
	if (wecom_push_init(&conf, err, sizeof(err)) != WECOM_OK ||
	    wecom_relay_init(&conf, err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", conf.file, err);
	wecom_dispatch_preload(&conf);
	wecom_sandbox_init(&apps);
	if (TAILQ_EMPTY(&apps))
		kore_log(LOG_WARNING, "wecom: %s has no [app NAME] section",
		    conf.file);

	return (KORE_RESULT_OK);
}

void
kore_worker_configure(void)
{
	if ((xml = wecom_xml_new()) == NULL)
		fatal("wecom: out of memory");
	if (wecom_dispatch_init(&conf, &apps) != WECOM_OK)
		fatal("wecom: cannot start the handler threads");
	/* An idle worker only checks connection timeouts when it wakes. */
	kore_timer_add(server_tick, 1000, NULL, 0);
}

static void
server_tick(void *arg, u_int64_t now)
{
}

int
wecom_http(struct http_request *req)
{
	struct wecom_app	*app;
	int			 rc;

	/* A request back from a handler thread, woken up. */
	if (req->hdlr_extra != NULL)
		return (wecom_dispatch_resume(req));
	if ((app = wecom_app_by_path(&apps, req->path)) == NULL) {
		if (wecom_observe_http(req) == KORE_RESULT_OK)
			return (KORE_RESULT_OK);
		if (wecom_push_route(req, &rc) || wecom_relay_route(req, &rc))
			return (rc);
		return (wecom_server_refuse(req, 404, 0, "no app at this path"));
	}

	switch (req->method) {
	case HTTP_METHOD_GET:
		return (server_get(req, app));
	case HTTP_METHOD_POST:
		return (server_post(req, app));
	default:
		http_response_header(req, "allow", "GET, POST");
		return (wecom_server_refuse(req, 405, 0, "method not allowed"));
	}
}

static int
server_get(struct http_request *req, struct wecom_app *app)
{
	struct query		q;
	struct wecom_result	res;

	if (server_query(req, &q, 1) != KORE_RESULT_OK)
		return (wecom_server_refuse(req, 400, 0, q.why));
	if (!wecom_callback_fresh(app, &q.q, time(NULL)))
		return (wecom_server_stale(req, app));

	wecom_callback_verify_url(app, &q.q, &res);
	if (res.code != WECOM_OK)
		wecom_metrics_error(wecom_observe_metrics(), app->index,
		    res.code);
	wecom_server_answer(req, &res);

	return (KORE_RESULT_OK);
}

static int
server_post(struct http_request *req, struct wecom_app *app)
{
	struct query		q;
	struct kore_buf		*body;

	if (server_query(req, &q, 0) != KORE_RESULT_OK)
		return (wecom_server_refuse(req, 400, 0, q.why));

	/* Kore keeps the whole body in memory: content_length bytes. */
	body = req->http_body;
	if (body == NULL || req->content_length == 0)
		return (wecom_server_refuse(req, 400, 0, "empty body"));
	if (req->content_length > conf.body_max)
		return (wecom_server_refuse(req, 413, 0, "body larger than body_max"));

	return (wecom_dispatch_post(req, app, xml, &q.q,
	    (const char *)body->data, req->content_length));
}

/* A signed request from outside the app's timestamp window. */
int
wecom_server_stale(struct http_request *req, struct wecom_app *app)
{
	wecom_metrics_inc(wecom_observe_metrics(), app->index, WECOM_M_STALE);

	return (wecom_server_refuse(req, 403, 0,
	    "timestamp outside timestamp_window (a replay?)"));
}

/* The URL verification answers plain text, callbacks XML. */
void
wecom_server_answer(struct http_request *req, struct wecom_result *res)
{
	if (res->code != WECOM_OK) {
		wecom_server_refuse(req, server_status(res->code), res->code,
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

void
wecom_server_deferred(struct wecom_app *app)
{
	wecom_metrics_inc(wecom_observe_metrics(), app->index,
	    WECOM_M_DEFERRED);
	kore_log(LOG_NOTICE, "wecom: [app %s] handlers overran deadline_ms "
	    "(%ld): answered empty, the reply follows as a message",
	    app->conf->name, app->deadline_ms);
}

void
wecom_server_delivered(struct wecom_app *app, int delivery)
{
	wecom_metrics_inc(wecom_observe_metrics(), app->index,
	    delivery == WECOM_JOB_SENT ? WECOM_M_DEFERRED_DELIVERED :
	    WECOM_M_DEFERRED_FAILED);
	if (delivery == WECOM_JOB_SEND_FAILED)
		kore_log(LOG_WARNING, "wecom: [app %s] a late reply could not "
		    "be sent as a message", app->conf->name);
}

/*
 * The Kore query parser turns '+' into a space and drops undeclared
 * arguments; a raw base64 echostr needs neither. Percent-escapes are
 * decoded, '+' is kept, and a repeated parameter is refused.
 */
static int
server_query(struct http_request *req, struct query *q, int get)
{
	char	*p, *pair, *eq;

	memset(&q->q, 0, sizeof(q->q));
	q->why = "missing msg_signature, timestamp or nonce";
	if (req->query_string == NULL)
		return (KORE_RESULT_ERROR);
	if (kore_strlcpy(q->buf, req->query_string, sizeof(q->buf)) >=
	    sizeof(q->buf)) {
		q->why = "query string too long";
		return (KORE_RESULT_ERROR);
	}

	p = q->buf;
	while ((pair = strsep(&p, "&")) != NULL) {
		if ((eq = strchr(pair, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (server_param(q, pair, eq) != KORE_RESULT_OK)
			return (KORE_RESULT_ERROR);
	}

	if (q->q.signature == NULL || q->q.timestamp == NULL ||
	    q->q.nonce == NULL || (get && q->q.echostr == NULL)) {
		q->why = get ? "missing msg_signature, timestamp, nonce or "
		    "echostr" : q->why;
		return (KORE_RESULT_ERROR);
	}

	return (KORE_RESULT_OK);
}

static int
server_param(struct query *q, const char *name, char *value)
{
	const char	**slot;
	size_t		  len;

	if (strcmp(name, "msg_signature") == 0)
		slot = &q->q.signature;
	else if (strcmp(name, "timestamp") == 0)
		slot = &q->q.timestamp;
	else if (strcmp(name, "nonce") == 0)
		slot = &q->q.nonce;
	else if (strcmp(name, "echostr") == 0)
		slot = &q->q.echostr;
	else
		return (KORE_RESULT_OK);

	if (*slot != NULL) {
		q->why = "repeated query parameter";
		return (KORE_RESULT_ERROR);
	}
	/* A %00 would cut the value short behind our back. */
	if (strstr(value, "%00") != NULL ||
	    xmlURIUnescapeString(value, (int)strlen(value), value) == NULL) {
		q->why = "bad percent-encoding";
		return (KORE_RESULT_ERROR);
	}
	len = strlen(value);
	if (len == 0 || (slot == &q->q.timestamp &&
	    (len > 20 || value[strspn(value, "0123456789")] != '\0')) ||
	    (slot == &q->q.signature && len != WECOM_SIG_LEN) ||
	    (slot == &q->q.nonce && len > 64)) {
		q->why = "invalid msg_signature, timestamp or nonce";
		return (KORE_RESULT_ERROR);
	}
	*slot = value;

	return (KORE_RESULT_OK);
}

static int
server_status(int code)
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

/* One line per refusal: who, where, why — never a secret or a body. */
int
wecom_server_refuse(struct http_request *req, int status, int code,
    const char *why)
{
	server_log(req, status, code, why);
	http_response(req, status, NULL, 0);

	return (KORE_RESULT_OK);
}

/* The same line, for a refusal answered with a body of its own. */
void
wecom_server_log(struct http_request *req, int status, const char *why)
{
	server_log(req, status, 0, why);
}

static void
server_log(struct http_request *req, int status, int code, const char *why)
{
	char	addr[2 * INET6_ADDRSTRLEN + 8], path[256];

	kore_log(LOG_NOTICE, "wecom: %s %s %s: %d%s%s%s%s",
	    server_client(req, addr, sizeof(addr)), http_method_text(req->method),
	    server_path(req, path, sizeof(path)), status, code ? " " : "",
	    code ? wecom_strerror(code) : "", why ? ": " : "", why ? why : "");
}

/*
 * A JSON answer (the push API, the relay); takes o. The text is wiped
 * once sent: it may hold a token.
 */
int
wecom_server_json(struct http_request *req, int status, json_t *o)
{
	char	*s;

	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s == NULL)
		return (wecom_server_refuse(req, 500, 0, "out of memory"));
	http_response_header(req, "content-type",
	    "application/json; charset=utf-8");
	http_response(req, status, s, strlen(s));
	explicit_bzero(s, strlen(s));
	free(s);

	return (KORE_RESULT_OK);
}

/* The peer's address (family: req->owner->family), NULL on a unix socket. */
const void *
wecom_server_peer(struct http_request *req)
{
	struct connection	*c = req->owner;

	if (c->family == AF_INET)
		return (&c->addr.ipv4.sin_addr);
	if (c->family == AF_INET6)
		return (&c->addr.ipv6.sin6_addr);
	return (NULL);
}

/* The path for a log line: a relay key in it is a secret. */
static const char *
server_path(struct http_request *req, char *buf, size_t len)
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

/* Behind a local proxy (nginx), the client it names in X-Real-IP. */
static const char *
server_real_ip(struct http_request *req, const char *peer)
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
server_peer_text(struct http_request *req, char *peer, size_t len)
{
	const void	*a;

	a = wecom_server_peer(req);
	if (a == NULL || inet_ntop(req->owner->family, a, peer, len) == NULL)
		kore_strlcpy(peer, "unix", len);

	return (peer);
}

/* The peer, and behind a local proxy the client it names. */
static const char *
server_client(struct http_request *req, char *buf, size_t len)
{
	const char	*real;
	char		 peer[INET6_ADDRSTRLEN];

	server_peer_text(req, peer, sizeof(peer));
	if ((real = server_real_ip(req, peer)) != NULL)
		(void)snprintf(buf, len, "%s via %s", real, peer);
	else
		kore_strlcpy(buf, peer, len);

	return (buf);
}

/* The client's address, as server_client() names it: 0, or -1 if none. */
int
wecom_server_origin(struct http_request *req, int *family, void *addr)
{
	const char	*real;
	const void	*a;
	char		 peer[INET6_ADDRSTRLEN];

	server_peer_text(req, peer, sizeof(peer));
	if ((real = server_real_ip(req, peer)) != NULL) {
		*family = strchr(real, ':') ? AF_INET6 : AF_INET;
		return (inet_pton(*family, real, addr) == 1 ? 0 : -1);
	}
	if ((a = wecom_server_peer(req)) == NULL)
		return (-1);
	*family = req->owner->family;
	memcpy(addr, a, *family == AF_INET ? 4 : 16);

	return (0);
}
