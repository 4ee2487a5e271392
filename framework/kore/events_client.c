/* SPDX-License-Identifier: ISC */
/*
 * One client of the live events (events.c has the route and the
 * worker's list): what it may see, its queue, its pings and how it is
 * closed. Its queue is Kore's send queue for the connection, bounded
 * here: an event it has no room for closes it, and is never held for
 * it. On the worker's event loop only.
 */

#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_push.h"
#include "wecom_server.h"

/* A client's queue: frames written but not yet taken by its peer. */
#define CLIENT_QUEUE_FRAMES	256
#define CLIENT_QUEUE_BYTES	(1024 * 1024)

static size_t	client_backlog(struct connection *, size_t *);
static void	client_drop(struct connection *);
static int	list_has(const char *, const char *, int);

/*
 * What cl sees: the apps of its key's scope its filter names (none or
 * empty: all of them), of the types named (none: any). Naming an app
 * that does not exist is 400, one outside the scope 403, why said.
 */
int
wecom_events_client_filters(struct wecom_events_client *cl,
    const struct wecom_app_list *list, const char *apps, const char *types,
    char *why, size_t len)
{
	const struct wecom_app	*app;
	const char		*p, *name;
	size_t			 n, found;

	if (apps != NULL && apps[strspn(apps, " ,")] == '\0')
		apps = NULL;
	for (p = apps; p != NULL && *(p += strspn(p, " ,")) != '\0'; p += n) {
		n = strcspn(p, " ,");
		found = 0;
		TAILQ_FOREACH(app, list, list) {
			name = app->conf->name;
			if (strlen(name) != n || strncmp(name, p, n) != 0)
				continue;
			found = 1;
			if (cl->key->apps != NULL &&
			    !list_has(cl->key->apps, name, 0)) {
				(void)snprintf(why, len, "app %s is outside "
				    "the key's scope", name);
				return (403);
			}
		}
		if (!found) {
			(void)snprintf(why, len, "no app or bot named %.*s",
			    (int)(n > 64 ? 64 : n), p);
			return (400);
		}
	}
	cl->nallow = 0;
	TAILQ_FOREACH(app, list, list)
		if (app->index + 1 > cl->nallow)
			cl->nallow = app->index + 1;
	if ((cl->allow = calloc(cl->nallow + 1, 1)) == NULL ||
	    (types != NULL && types[strspn(types, " ,")] != '\0' &&
	    (cl->types = strdup(types)) == NULL)) {
		(void)snprintf(why, len, "out of memory");
		return (503);
	}
	TAILQ_FOREACH(app, list, list)
		cl->allow[app->index] = (cl->key->apps == NULL ||
		    list_has(cl->key->apps, app->conf->name, 0)) &&
		    (apps == NULL || list_has(apps, app->conf->name, 0));

	return (0);
}

/* A type filter names msgtypes ("text") and events ("click") alike. */
int
wecom_events_client_wants(const struct wecom_events_client *cl,
    const struct wecom_event *e)
{
	if (e->app >= cl->nallow || !cl->allow[e->app])
		return (0);
	return (cl->types == NULL || list_has(cl->types, e->msgtype, 1) ||
	    (e->event[0] != '\0' && list_has(cl->types, e->event, 1)));
}

/*
 * A filter named in the first frame (a string, comma-separated, or a
 * list of strings) into buf; absent or null: dflt, the query's. 0 or -1
 * (another type, or too long).
 */
int
wecom_events_list(json_t *o, const char *name, const char *dflt, char *buf,
    size_t len)
{
	json_t		*v, *item;
	const char	*s;
	size_t		 i, off, n;

	v = json_object_get(o, name);
	buf[0] = '\0';
	if (v == NULL || json_is_null(v)) {
		if (dflt != NULL && kore_strlcpy(buf, dflt, len) >= len)
			return (-1);
		return (0);
	}
	if (json_is_string(v))
		return (kore_strlcpy(buf, json_string_value(v), len) >= len ?
		    -1 : 0);
	if (!json_is_array(v))
		return (-1);
	off = 0;
	json_array_foreach(v, i, item) {
		if ((s = json_string_value(item)) == NULL ||
		    (n = strlen(s)) + 2 > len - off)
			return (-1);
		if (i > 0)
			buf[off++] = ',';
		memcpy(buf + off, s, n + 1);
		off += n;
	}

	return (0);
}

/* {"type":"AuthCheckResult","retCode":0}, or a refusal with a message. */
void
wecom_events_client_result(struct wecom_events_client *cl, int code,
    const char *why)
{
	json_t	*o;
	char	*s;

	if (code == WECOM_EVENTS_RET_OK)
		o = json_pack("{s:s, s:i}", "type", "AuthCheckResult",
		    "retCode", code);
	else
		o = json_pack("{s:s, s:i, s:s}", "type", "AuthCheckResult",
		    "retCode", code, "message", why);
	s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (s != NULL)
		kore_websocket_send(cl->c, WEBSOCKET_OP_TEXT, s, strlen(s));
	free(s);
}

/* One event, or the close of a client with no room for it. */
void
wecom_events_client_send(struct wecom_events_client *cl, const char *json,
    size_t len)
{
	size_t	frames, bytes;
	char	why[96];

	frames = client_backlog(cl->c, &bytes);
	if (frames >= CLIENT_QUEUE_FRAMES ||
	    bytes + len > CLIENT_QUEUE_BYTES) {
		(void)snprintf(why, sizeof(why), "too slow: %zu frames (%zu "
		    "bytes) unread", frames, bytes);
		wecom_events_client_close(cl, WECOM_EVENTS_CLOSE_SLOW, why);
		return;
	}
	kore_websocket_send(cl->c, WEBSOCKET_OP_TEXT, json, len);
}

/* Frames and bytes in Kore's send queue: what the peer has not taken. */
static size_t
client_backlog(struct connection *c, size_t *bytes)
{
	struct netbuf	*nb;
	size_t		 n = 0;

	*bytes = 0;
	TAILQ_FOREACH(nb, &c->send_queue, list) {
		n++;
		*bytes += nb->b_len - nb->s_off;
	}

	return (n);
}

/*
 * A close frame with a reason, ahead of whatever the client has not
 * taken; Kore ends the connection once it is sent (events.c's timer,
 * if it is not taken soon). cl may be freed on return.
 */
void
wecom_events_client_close(struct wecom_events_client *cl, int code,
    const char *why)
{
	struct connection	*c = cl->c;
	u_int8_t		 frame[125];
	size_t			 n;

	if (cl->state == WECOM_EVENTS_CLOSING)
		return;
	kore_log(LOG_NOTICE, "wecom: events: #%lu %s: closed: %s", cl->id,
	    cl->peer, why);
	cl->state = WECOM_EVENTS_CLOSING;
	cl->closing = kore_time_ms();
	client_drop(c);
	frame[0] = (u_int8_t)(code >> 8);
	frame[1] = (u_int8_t)code;
	n = strlen(why);
	n = n > sizeof(frame) - 2 ? sizeof(frame) - 2 : n;
	memcpy(frame + 2, why, n);
	c->flags |= CONN_WS_CLOSE_SENT | CONN_CLOSE_EMPTY;
	kore_websocket_send(c, WEBSOCKET_OP_CLOSE, frame, n + 2);
}

/* The unsent frames go; one half-sent must be finished first. */
static void
client_drop(struct connection *c)
{
	struct netbuf	*nb, *next;

	nb = TAILQ_FIRST(&c->send_queue);
	if (nb != NULL && nb->s_off > 0)
		nb = TAILQ_NEXT(nb, list);
	for (; nb != NULL; nb = next) {
		next = TAILQ_NEXT(nb, list);
		if (c->snb == nb)
			c->snb = NULL;
		net_remove_netbuf(c, nb);
	}
}

/*
 * Kore restarts a connection's idle timer on every event it handles:
 * a pong is one, our own writes are not. Two intervals without one and
 * the client is gone, or too slow to matter.
 */
void
wecom_events_client_ping(struct wecom_events_client *cl, uint64_t now,
    long ping_ms)
{
	struct connection	*c = cl->c;
	u_int64_t		 last;
	char			 why[64];

	last = (c->flags & CONN_IDLE_TIMER_ACT) ? c->idle_timer.start : now;
	if (now > last && now - last >= 2 * (u_int64_t)ping_ms) {
		(void)snprintf(why, sizeof(why), "no answer to pings for "
		    "%llu ms", (unsigned long long)(now - last));
		wecom_events_client_close(cl, WECOM_EVENTS_CLOSE_NO_PONG, why);
		return;
	}
	if (now >= cl->next_ping) {
		kore_websocket_send(c, WEBSOCKET_OP_PING, NULL, 0);
		cl->next_ping = now + (u_int64_t)ping_ms;
	}
}

void
wecom_events_client_free(struct wecom_events_client *cl)
{
	free(cl->allow);
	free(cl->types);
	free(cl->qapps);
	free(cl->qtypes);
	kore_free(cl);
}

/* Whether a list of names (separated by spaces or commas) has name. */
static int
list_has(const char *list, const char *name, int nocase)
{
	const char	*p;
	size_t		 n, len;

	len = strlen(name);
	for (p = list + strspn(list, " ,"); *p != '\0';
	    p += n, p += strspn(p, " ,")) {
		n = strcspn(p, " ,");
		if (n == len && (nocase ? strncasecmp(p, name, n) :
		    strncmp(p, name, n)) == 0)
			return (1);
	}

	return (0);
}
