/* SPDX-License-Identifier: ISC */
/*
 * Live events: GET /api/v1/events upgrades to a WebSocket (Kore's own)
 * that receives every message and event its push API key may see, as
 * JSON (events_json.c), whichever worker handled the callback
 * (events_bus.c brings them here). docs/api.md (Live events) is the contract.
 *
 * A client authenticates with "Authorization: Bearer KEY" on the
 * upgrade, or with a first text frame {"app", "version", "key"}
 * answered by {"type":"AuthCheckResult","retCode":0} (1000: wrong key,
 * 1001: a filter refused; then the socket closes with a reason). Only
 * this worker's event loop touches the sockets. A client that reads too
 * slowly is closed once its queue (events_client.c) is full: an event
 * is never held for it. Pings keep idle connections open through
 * proxies; a client that answers none for two intervals is closed, as
 * is one that does not authenticate in time.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_push.h"
#include "wecom_http.h"
#include "wecom_server.h"

#define EVENTS_PATH		"/api/v1/events"
#define EVENTS_PING_MS		30000	/* nginx's default timeout is 60 s */
#define EVENTS_AUTH_MS		10000
/* Kept small so that a client's queue, not the kernel, is the bound. */
#define EVENTS_SNDBUF		(128 * 1024)
/* A closed client's last frames get this long to leave. */
#define EVENTS_CLOSE_MS		5000
#define EVENTS_FILTER_MAX	1024

/* Per worker; only its event loop touches it. */
static struct {
	struct wecom_server			*srv;
	struct wecom_apikey_list		 keys;
	TAILQ_HEAD(, wecom_events_client)	 clients;
	size_t					 nauth;
	unsigned long				 serial;
	long					 ping_ms, auth_ms;
	int					 up;
} ev;

/* Kore finds these by name (kore_websocket_handshake). */
void	wecom_events_ws_message(struct connection *, u_int8_t, const void *,
	    size_t);
void	wecom_events_ws_closed(struct connection *);

static long	events_env(const char *, long, long, long);
static int	events_key(struct http_request *,
		    const struct wecom_apikey **);
static int	events_upgrade(struct http_request *,
		    const struct wecom_apikey *, char *, char *, char *,
		    size_t);
static int	events_fail(struct http_request *, int, const char *);
static void	events_peer(struct http_request *, char *, size_t);
static void	events_frame(struct wecom_events_client *, u_int8_t, void *,
		    size_t);
static void	events_auth(struct wecom_events_client *);
static void	events_apps(const struct wecom_events_client *, char *,
		    size_t);
static void	events_deliver(const struct wecom_event *);
static void	events_live(void);
static void	events_tick(void *, u_int64_t);

/*
 * In each worker. Without an [apikey] section there is nothing to
 * authenticate with: the path stays a 404 and the tap is not set.
 * WECOM_EVENTS_PING_MS and WECOM_EVENTS_AUTH_MS are test knobs, read
 * once here, not configuration.
 */
void
wecom_events_init(struct wecom_server *s)
{
	char	err[256];
	long	tick;

	ev.srv = s;
	TAILQ_INIT(&ev.clients);
	if (wecom_apikeys_load(&ev.keys, &s->conf, err, sizeof(err)) != 0) {
		kore_log(LOG_ERR, "wecom: events: %s", err);
		return;
	}
	if (TAILQ_EMPTY(&ev.keys))
		return;
	ev.ping_ms = events_env("WECOM_EVENTS_PING_MS", EVENTS_PING_MS, 50,
	    3600000);
	ev.auth_ms = events_env("WECOM_EVENTS_AUTH_MS", EVENTS_AUTH_MS, 50,
	    3600000);
	if (wecom_events_bus_init(s, events_deliver, events_live) !=
	    WECOM_OK) {
		kore_log(LOG_ERR, "wecom: events: cannot start: %s "
		    "answers 503 in this worker", EVENTS_PATH);
		return;
	}
	tick = (ev.ping_ms < ev.auth_ms ? ev.ping_ms : ev.auth_ms) / 10;
	tick = tick < 20 ? 20 : tick > 1000 ? 1000 : tick;
	kore_timer_add(events_tick, (u_int64_t)tick, NULL, 0);
	ev.up = 1;
}

static long
events_env(const char *name, long def, long min, long max)
{
	const char	*s;
	char		*end;
	long		 v;

	if ((s = getenv(name)) == NULL || *s == '\0')
		return (def);
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max) {
		kore_log(LOG_WARNING, "wecom: %s=%s is not %ld to %ld ms: "
		    "using %ld", name, s, min, max, def);
		return (def);
	}

	return (v);
}

/* 1 if req is for the live events (then *rc is the route's result). */
int
wecom_events_route(struct http_request *req, int *rc)
{
	const struct wecom_apikey	*key;
	const char			*h;
	char				*apps, *types, why[192];
	int				 status;

	if (strcmp(req->path, EVENTS_PATH) != 0 || TAILQ_EMPTY(&ev.keys))
		return (0);
	if (req->method != HTTP_METHOD_GET) {
		http_response_header(req, "allow", "GET");
		*rc = events_fail(req, 405, "method not allowed");
	} else if (!ev.up) {
		*rc = events_fail(req, 503, "live events are unavailable");
	} else if (!http_request_header(req, "upgrade", &h) ||
	    strcasecmp(h, "websocket") != 0) {
		http_response_header(req, "upgrade", "websocket");
		*rc = events_fail(req, 426, "a WebSocket upgrade is required");
	} else if (events_key(req, &key) == -1) {
		http_response_header(req, "www-authenticate", "Bearer");
		*rc = events_fail(req, 401, "missing or wrong API key");
	} else {
		apps = types = NULL;
		if (req->query_string != NULL) {
			apps = wecom_form_get(req->query_string, "app");
			types = wecom_form_get(req->query_string, "type");
		}
		/* It takes apps and types. */
		status = events_upgrade(req, key, apps, types, why,
		    sizeof(why));
		*rc = status == 0 ? KORE_RESULT_OK :
		    events_fail(req, status, why);
	}

	return (1);
}

/* 1: a key in a header; 0: none (the first frame brings it); -1: wrong. */
static int
events_key(struct http_request *req, const struct wecom_apikey **key)
{
	int	given;

	*key = wecom_http_apikey(req, &ev.keys, &given);
	/* Another scheme than Bearer is a wrong key, not a missing one. */
	if (given & WECOM_HTTP_KEY_OTHER)
		*key = NULL;
	if (given == 0)
		return (0);

	return (*key != NULL ? 1 : -1);
}

/*
 * 0 once Kore has answered the upgrade (101, or its own 400 for a bad
 * handshake), else the status to refuse with, why said.
 */
static int
events_upgrade(struct http_request *req, const struct wecom_apikey *key,
    char *apps, char *types, char *why, size_t len)
{
	struct connection		*c = req->owner;
	struct wecom_events_client	*cl;
	int				 sz = EVENTS_SNDBUF, status = 0;
	u_int64_t			 idle;

	/* Kore's allocator: Kore frees a connection's hdlr_extra left set. */
	cl = kore_calloc(1, sizeof(*cl));
	cl->key = key;
	cl->qapps = apps;
	cl->qtypes = types;
	if (key != NULL && (status = wecom_events_client_filters(cl,
	    &ev.srv->apps, apps, types, why, len)) != 0) {
		wecom_events_client_free(cl);
		return (status);
	}
	kore_websocket_handshake(req, NULL, "wecom_events_ws_message",
	    "wecom_events_ws_closed");
	if (c->proto != CONN_PROTO_WEBSOCKET) {
		wecom_events_client_free(cl);
		return (0);
	}
	cl->c = c;
	cl->id = ++ev.serial;
	cl->opened = kore_time_ms();
	events_peer(req, cl->peer, sizeof(cl->peer));
	c->hdlr_extra = cl;
	TAILQ_INSERT_TAIL(&ev.clients, cl, list);
	(void)setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* Our pings and timeouts decide; Kore's idle timer backs them up. */
	idle = 3 * (u_int64_t)(ev.ping_ms > ev.auth_ms ? ev.ping_ms :
	    ev.auth_ms);
	c->idle_timer.length = idle > kore_websocket_timeout ? idle :
	    kore_websocket_timeout;
	if (key != NULL)
		events_auth(cl);
	else
		kore_log(LOG_INFO, "wecom: events: #%lu %s: connected, "
		    "waiting for its key", cl->id, cl->peer);

	return (0);
}

/* A refusal: the log line says why, the JSON tells the caller. */
static int
events_fail(struct http_request *req, int status, const char *why)
{
	wecom_http_log(req, status, why);
	return (wecom_http_json(req, status, json_pack("{s:i, s:s}", "code",
	    status, "message", why)));
}

/* The client behind a local proxy, as the other log lines name it. */
static void
events_peer(struct http_request *req, char *buf, size_t len)
{
	unsigned char	addr[16];
	int		family;

	if (wecom_http_origin(req, &family, addr) != 0 ||
	    inet_ntop(family, addr, buf, (socklen_t)len) == NULL)
		kore_strlcpy(buf, "unix", len);
}

/* A frame: the first one of a client without a key authenticates it. */
void
wecom_events_ws_message(struct connection *c, u_int8_t op, const void *data,
    size_t len)
{
	struct wecom_events_client	*cl = c->hdlr_extra;

	/* A live client's frames mean nothing; Kore answers its pings. */
	if (cl == NULL || cl->state != WECOM_EVENTS_AUTH)
		return;
	/* Kore's receive buffer: the key in it is wiped after use. */
	events_frame(cl, op, (void *)(uintptr_t)data, len);
}

static void
events_frame(struct wecom_events_client *cl, u_int8_t op, void *data,
    size_t len)
{
	json_t		*o;
	const char	*given;
	char		 apps[EVENTS_FILTER_MAX + 1];
	char		 types[EVENTS_FILTER_MAX + 1], why[192];

	o = op == WEBSOCKET_OP_TEXT ? json_loadb(data, len, 0, NULL) : NULL;
	explicit_bzero(data, len);
	if ((given = json_string_value(json_object_get(o, "key"))) != NULL) {
		cl->key = wecom_apikey_find(&ev.keys, given);
		explicit_bzero((char *)(uintptr_t)given, strlen(given));
	}
	if (cl->key == NULL) {
		json_decref(o);
		wecom_events_client_result(cl, WECOM_EVENTS_RET_WRONG_KEY,
		    "wrong API key");
		wecom_events_client_close(cl, WECOM_EVENTS_CLOSE_POLICY,
		    "wrong API key");
		return;
	}
	kore_strlcpy(why, "app and type: a string or a list of strings",
	    sizeof(why));
	if (wecom_events_list(o, "app", cl->qapps, apps, sizeof(apps)) != 0 ||
	    wecom_events_list(o, "type", cl->qtypes, types,
	    sizeof(types)) != 0 || wecom_events_client_filters(cl,
	    &ev.srv->apps, apps, types, why, sizeof(why)) != 0) {
		json_decref(o);
		wecom_events_client_result(cl, WECOM_EVENTS_RET_FILTER, why);
		wecom_events_client_close(cl, WECOM_EVENTS_CLOSE_POLICY, why);
		return;
	}
	json_decref(o);
	events_auth(cl);
}

/* Live at once, or once every worker knows this one has clients. */
static void
events_auth(struct wecom_events_client *cl)
{
	char	apps[128];

	events_apps(cl, apps, sizeof(apps));
	kore_log(LOG_NOTICE, "wecom: events: #%lu %s: [apikey %s] listening "
	    "(app %s, type %s)", cl->id, cl->peer, cl->key->name, apps,
	    cl->types != NULL ? cl->types : "any");
	cl->counted = 1;
	ev.nauth++;
	cl->next_ping = kore_time_ms() + (u_int64_t)ev.ping_ms;
	cl->state = WECOM_EVENTS_WAIT;
	if (wecom_events_bus_want(1))
		events_live();
}

/* For the log: the apps cl sees, "any" for all of them. */
static void
events_apps(const struct wecom_events_client *cl, char *buf, size_t len)
{
	const struct wecom_app	*app;
	size_t			 off = 0;
	int			 all = 1, n;

	buf[0] = '\0';
	TAILQ_FOREACH(app, &ev.srv->apps, list) {
		if (!cl->allow[app->index]) {
			all = 0;
			continue;
		}
		n = snprintf(buf + off, len - off, "%s%s", off ? "," : "",
		    app->conf->name);
		if (n < 0 || (size_t)n >= len - off) {
			(void)snprintf(buf + len - 4, 4, "...");
			off = len - 1;
		} else {
			off += (size_t)n;
		}
	}
	if (all)
		kore_strlcpy(buf, "any", len);
}

/* Every worker knows: the waiting clients are told they are live. */
static void
events_live(void)
{
	struct wecom_events_client	*cl;

	TAILQ_FOREACH(cl, &ev.clients, list) {
		if (cl->state != WECOM_EVENTS_WAIT)
			continue;
		cl->state = WECOM_EVENTS_LIVE;
		wecom_events_client_result(cl, WECOM_EVENTS_RET_OK, NULL);
	}
}

/* From every worker: each live client that may see it gets it. */
static void
events_deliver(const struct wecom_event *e)
{
	struct wecom_events_client	*cl, *next;

	for (cl = TAILQ_FIRST(&ev.clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, list);
		if (cl->state == WECOM_EVENTS_LIVE &&
		    wecom_events_client_wants(cl, e))
			wecom_events_client_send(cl, e->json, e->len);
	}
}

/* Kore's disconnect, for whatever reason: the client goes. */
void
wecom_events_ws_closed(struct connection *c)
{
	struct wecom_events_client	*cl = c->hdlr_extra;

	if (cl == NULL)
		return;
	c->hdlr_extra = NULL;
	TAILQ_REMOVE(&ev.clients, cl, list);
	if (cl->state != WECOM_EVENTS_CLOSING)
		kore_log(LOG_INFO, "wecom: events: #%lu %s: gone", cl->id,
		    cl->peer);
	if (cl->counted && --ev.nauth == 0)
		(void)wecom_events_bus_want(0);
	wecom_events_client_free(cl);
}

static void
events_tick(void *arg, u_int64_t now)
{
	struct wecom_events_client	*cl, *next;
	char				 why[64];

	for (cl = TAILQ_FIRST(&ev.clients); cl != NULL; cl = next) {
		next = TAILQ_NEXT(cl, list);
		switch (cl->state) {
		case WECOM_EVENTS_AUTH:
			if (now - cl->opened < (u_int64_t)ev.auth_ms)
				break;
			(void)snprintf(why, sizeof(why), "no key within "
			    "%ld ms", ev.auth_ms);
			wecom_events_client_close(cl,
			    WECOM_EVENTS_CLOSE_POLICY, why);
			break;
		case WECOM_EVENTS_CLOSING:
			if (now - cl->closing >= EVENTS_CLOSE_MS)
				kore_connection_disconnect(cl->c);
			break;
		default:
			wecom_events_client_ping(cl, now, ev.ping_ms);
			break;
		}
	}
	wecom_events_bus_tick();
}
