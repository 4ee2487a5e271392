/* SPDX-License-Identifier: ISC */
/*
 * A bot's connection, from connect to close. aibot_subscribe goes
 * first; once WeCom accepts it, pings and the caller's requests. A drop
 * means a reconnect after a backoff; a refused subscription, one after
 * the longest backoff; disconnected_event, none ever: two servers
 * holding one bot would otherwise kick each other for ever.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "ws_private.h"

/* Our pings are the heartbeat: lws's idle pings would be a second one. */
static const lws_retry_bo_t	ws_no_idle = { .secs_since_valid_ping = 0 };

static void	ws_established(struct ws_bot *, struct lws *);
static void	ws_message(struct ws_bot *, const struct ws_msg *);
static void	ws_subscribed(struct ws_bot *, const struct ws_msg *);
static void	ws_kicked(struct ws_bot *);
static int	ws_writable(struct ws_bot *, struct lws *);
static int	ws_subscribe(struct ws_bot *, struct lws *);
static int	ws_ping(struct ws_bot *, struct lws *);
static int	ws_write(struct ws_bot *, struct lws *, char *, size_t);
static void	ws_ping_tick(lws_sorted_usec_list_t *);
static void	ws_peer_close(struct ws_bot *, const unsigned char *,
		    size_t);
static void	ws_end(struct ws_bot *, struct lws *, const char *, size_t);
static void	ws_next(struct ws_bot *, int);
static void	ws_warn(struct ws_bot *, int, long);
static void	ws_retry(lws_sorted_usec_list_t *);
static long	ws_jitter(struct wecom_ws *, long);
static int	ws_loud(const struct ws_bot *);
static void	ws_lease_kicked(struct ws_bot *);

/* ws[s]://host[:port][/path], cut up for lws. */
int
wecom_ws_parse_url(struct ws_bot *bot)
{
	const char	*h, *e, *u = bot->conf->url;
	char		*end;
	size_t		 n;
	long		 port;

	if (strncmp(u, "wss://", 6) == 0) {
		bot->tls = 1;
		bot->port = 443;
		h = u + 6;
	} else if (strncmp(u, "ws://", 5) == 0) {
		bot->port = 80;
		h = u + 5;
	} else
		return (-1);
	if (*h == '[') {
		if ((e = strchr(++h, ']')) == NULL)
			return (-1);
		n = (size_t)(e++ - h);
	} else
		e = h + (n = strcspn(h, ":/"));
	if (n == 0 || n >= sizeof(bot->host))
		return (-1);
	memcpy(bot->host, h, n);
	bot->host[n] = '\0';
	if (*e == ':') {
		errno = 0;
		port = strtol(e + 1, &end, 10);
		if (end == e + 1 || errno != 0 || port < 1 || port > 65535)
			return (-1);
		bot->port = (int)port;
		e = end;
	}
	if ((*e != '\0' && *e != '/') || strlen(e) + 2 > sizeof(bot->path))
		return (-1);
	(void)snprintf(bot->path, sizeof(bot->path), "%s", *e ? e : "/");
	/* Host: names a port not the scheme's; lws drops it for SNI. */
	if (bot->port != (bot->tls ? 443 : 80) &&
	    strchr(bot->host, ':') == NULL)
		(void)snprintf(bot->hostport, sizeof(bot->hostport), "%s:%d",
		    bot->host, bot->port);
	else
		(void)snprintf(bot->hostport, sizeof(bot->hostport), "%s",
		    bot->host);

	return (0);
}

void
wecom_ws_connect(struct ws_bot *bot)
{
	struct lws_client_connect_info	i;

	memset(&i, 0, sizeof(i));
	i.context = bot->ws->ctx;
	i.address = bot->host;
	i.port = bot->port;
	i.path = bot->path;
	i.host = bot->hostport;
	i.origin = bot->hostport;
	i.ssl_connection = bot->tls ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = WS_PROTOCOL;
	i.retry_and_idle_policy = &ws_no_idle;
	i.opaque_user_data = bot;

	bot->established = bot->sub_sent = bot->subscribed = 0;
	bot->closing = bot->ping_due = bot->unanswered = bot->refused = 0;
	bot->why[0] = '\0';
	wecom_ws_status(bot, WECOM_WS_CONNECTING);
	/*
	 * Failing at once, lws calls back nothing and says nothing: the
	 * name lookup (synchronous in this lws) is the usual culprit.
	 */
	if ((bot->wsi = lws_client_connect_via_info(&i)) == NULL) {
		(void)snprintf(bot->why, sizeof(bot->why), "%s",
		    "name lookup or socket failed");
		ws_next(bot, 0);
	}
}

int
wecom_ws_event(struct ws_bot *bot, struct lws *wsi, int reason, void *in,
    size_t len)
{
	struct ws_msg	m;

	switch (reason) {
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		ws_established(bot, wsi);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (wsi == bot->wsi && wecom_ws_rx(bot, wsi, in, len, &m)) {
			ws_message(bot, &m);
			json_decref(m.root);
		}
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return (wsi == bot->wsi ? ws_writable(bot, wsi) : -1);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (wsi == bot->wsi)
			ws_peer_close(bot, in, len);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		ws_end(bot, wsi, in, in != NULL ? len : 0);
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		ws_end(bot, wsi, NULL, 0);
		break;
	default:
		break;
	}

	return (0);
}

static void
ws_established(struct ws_bot *bot, struct lws *wsi)
{
	if (wsi != bot->wsi)
		return;
	bot->established = 1;
	lws_callback_on_writable(wsi);
	/* Until the subscribe's ack, the ping tick is its deadline. */
	lws_sul_schedule(bot->ws->ctx, 0, &bot->sul_ping, ws_ping_tick,
	    (lws_usec_t)bot->ws->conf.ack_timeout_ms * LWS_US_PER_MS);
}

static void
ws_message(struct ws_bot *bot, const struct ws_msg *m)
{
	char	ping[WS_ID_MAX];
	int	n;

	if (m->cmd != NULL) {
		if (wecom_ws_is_kick(m))
			ws_kicked(bot);
		else if (bot->subscribed && !bot->closing)
			wecom_ws_deliver(bot, m);
		return;
	}
	n = snprintf(ping, sizeof(ping), "ping-%s-", bot->ws->nonce);
	if (strcmp(m->req_id, bot->sub_id) == 0)
		ws_subscribed(bot, m);
	else if (strncmp(m->req_id, ping, (size_t)n) == 0)
		bot->unanswered = 0;
	else if (wecom_ws_acked(bot, m) == -1)
		wecom_ws_log(bot->ws, LOG_INFO, "aibot %s: an ack on %s, "
		    "which nothing waits for (late?)", bot->conf->name,
		    m->req_id);
}

static void
ws_subscribed(struct ws_bot *bot, const struct ws_msg *m)
{
	struct wecom_ws		*ws = bot->ws;
	struct wecom_ws_state	*st = bot->st;
	const char		*meaning;

	if (m->errcode != 0) {
		if ((meaning = wecom_ws_errstr(m->errcode)) == NULL)
			meaning = m->errmsg != NULL ? m->errmsg : "unknown";
		bot->refused = 1;
		st->last_errcode = m->errcode;
		(void)snprintf(st->last_error, sizeof(st->last_error), "%d %s",
		    m->errcode, meaning);
		wecom_ws_status(bot, WECOM_WS_REFUSED);
		if (ws_loud(bot))
			wecom_ws_log(ws, LOG_ERR, "aibot %s: WeCom refused "
			    "aibot_subscribe: errcode %d (%s); retrying every "
			    "%ld s", bot->conf->name, m->errcode, meaning,
			    ws->conf.backoff_max_ms / 1000);
		wecom_ws_close(bot, "subscription refused", 0);
		return;
	}
	bot->subscribed = 1;
	bot->failures = 0;
	bot->backoff_ms = ws->conf.backoff_min_ms;
	st->connects++;
	wecom_ws_status(bot, WECOM_WS_CONNECTED);
	pthread_mutex_lock(&ws->lock);
	bot->live = 1;
	pthread_mutex_unlock(&ws->lock);
	wecom_ws_log(ws, LOG_NOTICE, "aibot %s: connected to %s",
	    bot->conf->name, bot->host);
	lws_sul_schedule(ws->ctx, 0, &bot->sul_ping, ws_ping_tick,
	    (lws_usec_t)ws->conf.ping_ms * LWS_US_PER_MS);
}

static void
ws_kicked(struct ws_bot *bot)
{
	bot->kicked = 1;
	wecom_ws_status(bot, WECOM_WS_KICKED);
	if (bot->ws->lease != NULL) {
		ws_lease_kicked(bot);
		wecom_ws_log(bot->ws, LOG_ERR, "aibot %s: another connection "
		    "took over this bot (disconnected_event): a server without "
		    "the store, or cut off from it, holds it", bot->conf->name);
	} else
		wecom_ws_log(bot->ws, LOG_ERR, "aibot %s: another connection "
		    "took over this bot (disconnected_event); not reconnecting "
		    "\xe2\x80\x94 two servers are fighting over it, or it was "
		    "started twice", bot->conf->name);
	wecom_ws_close(bot, "disconnected_event", 0);
}

/* One frame per writable: subscribe, then a ping due, then a request. */
static int
ws_writable(struct ws_bot *bot, struct lws *wsi)
{
	struct ws_req	*r;

	if (bot->closing) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
		return (-1);
	}
	if (!bot->sub_sent)
		return (ws_subscribe(bot, wsi));
	if (!bot->subscribed)
		return (0);
	if (bot->ping_due) {
		bot->ping_due = 0;
		if (ws_ping(bot, wsi) == -1)
			return (-1);
	} else if ((r = wecom_ws_take(bot)) != NULL) {
		/* Failing, r is in flight: the close fails it. */
		wecom_ws_sent(bot, r);
		if (ws_write(bot, wsi, r->frame, r->len) == -1)
			return (-1);
	}
	if (bot->ping_due || wecom_ws_sendable(bot))
		lws_callback_on_writable(wsi);

	return (0);
}

static int
ws_subscribe(struct ws_bot *bot, struct lws *wsi)
{
	json_t	*j;
	char	*body = NULL, *frame = NULL;
	size_t	 len = 0;
	int	 rc = -1;

	wecom_ws_reqid(bot->ws, "sub", bot->sub_id, sizeof(bot->sub_id));
	if ((j = json_pack("{s:s, s:s}", "bot_id", bot->conf->bot_id,
	    "secret", bot->conf->secret)) == NULL ||
	    (body = json_dumps(j, JSON_COMPACT)) == NULL ||
	    (frame = wecom_ws_frame("aibot_subscribe", bot->sub_id, body,
	    strlen(body), &len)) == NULL)
		goto out;
	bot->sub_sent = 1;
	rc = ws_write(bot, wsi, frame, len);
out:
	/* No buffer of ours keeps the secret once freed. */
	if (body != NULL)
		explicit_bzero(body, strlen(body));
	if (frame != NULL)
		explicit_bzero(frame, LWS_PRE + len);
	free(body);
	free(frame);
	json_decref(j);

	return (rc);
}

static int
ws_ping(struct ws_bot *bot, struct lws *wsi)
{
	char	 id[WS_ID_MAX], *frame;
	size_t	 len;
	int	 rc;

	wecom_ws_reqid(bot->ws, "ping", id, sizeof(id));
	if ((frame = wecom_ws_frame("ping", id, NULL, 0, &len)) == NULL)
		return (-1);
	rc = ws_write(bot, wsi, frame, len);
	free(frame);

	return (rc);
}

static int
ws_write(struct ws_bot *bot, struct lws *wsi, char *frame, size_t len)
{
	if (lws_write(wsi, (unsigned char *)frame + LWS_PRE, len,
	    LWS_WRITE_TEXT) < (int)len)
		return (-1);
	bot->st->frames_out++;

	return (0);
}

/*
 * Every ping_ms: a ping, unless two are unanswered already, which
 * means the connection is dead whatever TCP says.
 */
static void
ws_ping_tick(lws_sorted_usec_list_t *sul)
{
	struct ws_bot	*bot;

	bot = lws_container_of(sul, struct ws_bot, sul_ping);
	if (bot->wsi == NULL || bot->closing)
		return;
	if (!bot->subscribed) {
		wecom_ws_close(bot, "no answer to aibot_subscribe", 1);
		return;
	}
	if (bot->unanswered >= 2) {
		wecom_ws_close(bot, "2 pings unanswered", 1);
		return;
	}
	bot->unanswered++;
	bot->ping_due = 1;
	lws_callback_on_writable(bot->wsi);
	lws_sul_schedule(bot->ws->ctx, 0, sul, ws_ping_tick,
	    (lws_usec_t)bot->ws->conf.ping_ms * LWS_US_PER_MS);
}

/*
 * Close with a reason for the log line. hard: the peer is presumed
 * gone, so no close handshake; else one, within WS_CLOSE_SECS.
 */
void
wecom_ws_close(struct ws_bot *bot, const char *why, int hard)
{
	if (bot->wsi == NULL || bot->closing)
		return;
	(void)snprintf(bot->why, sizeof(bot->why), "%s", why);
	bot->closing = 1;
	pthread_mutex_lock(&bot->ws->lock);
	bot->live = 0;
	pthread_mutex_unlock(&bot->ws->lock);
	if (hard || !bot->established) {
		lws_set_timeout(bot->wsi, PENDING_TIMEOUT_USER_OK,
		    LWS_TO_KILL_ASYNC);
		return;
	}
	lws_callback_on_writable(bot->wsi);
	lws_set_timeout(bot->wsi, PENDING_TIMEOUT_USER_OK, WS_CLOSE_SECS);
}

static void
ws_peer_close(struct ws_bot *bot, const unsigned char *in, size_t len)
{
	if (bot->why[0] != '\0')
		return;
	if (len >= 2)
		(void)snprintf(bot->why, sizeof(bot->why), "closed by the "
		    "server: %d %.*s", in[0] << 8 | in[1], (int)(len - 2),
		    (const char *)in + 2);
	else
		(void)snprintf(bot->why, sizeof(bot->why), "%s",
		    "closed by the server");
}

/*
 * The connection is over, whichever callback says so first: lws tells
 * of an end in more than one way.
 */
static void
ws_end(struct ws_bot *bot, struct lws *wsi, const char *why, size_t len)
{
	int	was;

	if (wsi == NULL || wsi != bot->wsi)
		return;
	if (bot->why[0] == '\0')
		(void)snprintf(bot->why, sizeof(bot->why), "%.*s",
		    (int)len, why != NULL ? why : "");
	if (bot->why[0] == '\0')
		(void)snprintf(bot->why, sizeof(bot->why), "%s",
		    "connection closed");
	bot->wsi = NULL;
	was = bot->subscribed;
	bot->established = bot->subscribed = 0;
	lws_sul_cancel(&bot->sul_ping);
	wecom_buf_free(&bot->rx);
	wecom_ws_fail_all(bot, 1);
	ws_next(bot, was);
}

/* After an end: what now, and when. was: it had subscribed. */
static void
ws_next(struct ws_bot *bot, int was)
{
	struct wecom_ws	*ws = bot->ws;
	long		 delay;

	if (ws->stop_begun || ws->finished) {
		wecom_ws_status(bot, WECOM_WS_STOPPED);
		wecom_ws_settle(ws);
		return;
	}
	if (bot->standby && !bot->kicked)
		wecom_ws_status(bot, WECOM_WS_STANDBY);
	if (bot->kicked || bot->standby)
		return;
	if (bot->refused)
		delay = ws_jitter(ws, ws->conf.backoff_max_ms);
	else {
		if (was)
			bot->st->drops++;
		delay = ws_jitter(ws, bot->backoff_ms);
		bot->backoff_ms *= 2;
		if (bot->backoff_ms > ws->conf.backoff_max_ms)
			bot->backoff_ms = ws->conf.backoff_max_ms;
		wecom_ws_status(bot, WECOM_WS_BACKOFF);
		if (ws_loud(bot))
			ws_warn(bot, was, delay);
	}
	bot->failures++;
	lws_sul_schedule(ws->ctx, 0, &bot->sul_retry, ws_retry,
	    (lws_usec_t)delay * LWS_US_PER_MS);
}

/* One line per drop or failed attempt, as long as ws_loud() says. */
static void
ws_warn(struct ws_bot *bot, int was, long delay)
{
	char	quiet[64] = "";

	if (bot->failures + 1 == WS_LOUD)
		(void)snprintf(quiet, sizeof(quiet), " (from now on, one "
		    "failure in %d is logged)", WS_QUIET_EVERY);
	wecom_ws_log(bot->ws, LOG_WARNING, "aibot %s: %s %s (%s); retrying "
	    "in %.1f s%s", bot->conf->name, was ? "connection lost to" :
	    "cannot connect to", bot->host, bot->why, delay / 1000.0, quiet);
}

static void
ws_retry(lws_sorted_usec_list_t *sul)
{
	struct ws_bot	*bot;

	bot = lws_container_of(sul, struct ws_bot, sul_retry);
	if (bot->ws->stop_begun)
		return;
	if (wecom_ws_may(bot))
		wecom_ws_connect(bot);
	else {
		/* The lease lapsed meanwhile: it says when to try. */
		bot->standby = 1;
		wecom_ws_status(bot, WECOM_WS_STANDBY);
	}
}

/* ms, ± 20 %: bots and servers restarted together spread out. */
static long
ws_jitter(struct wecom_ws *ws, long ms)
{
	uint64_t	x = ws->rnd;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	ws->rnd = x;

	return (ms - ms / 5 + (long)(x % (uint64_t)(ms / 5 * 2 + 1)));
}

/* The first failures in a row are each logged, then one in so many. */
static int
ws_loud(const struct ws_bot *bot)
{
	return (bot->failures < WS_LOUD ||
	    (bot->failures + 1) % WS_QUIET_EVERY == 0);
}

void
wecom_ws_status(struct ws_bot *bot, int status)
{
	struct wecom_ws_state	*st = bot->st;

	if (st->status == status)
		return;
	st->status = status;
	st->since = (int64_t)time(NULL);
	st->connected_since = status == WECOM_WS_CONNECTED ? st->since : 0;
}

/* Stopping: the loop may end once no bot has a connection left. */
void
wecom_ws_settle(struct wecom_ws *ws)
{
	size_t	i;

	if (!ws->stop_begun)
		return;
	for (i = 0; i < ws->nbots; i++)
		if (ws->bots[i].wsi != NULL)
			return;
	ws->finished = 1;
}

int64_t
wecom_ws_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* May this bot connect now, as far as its lease (ws_lease.c) says? */
int
wecom_ws_may(struct ws_bot *bot)
{
	struct wecom_ws	*ws = bot->ws;
	int64_t		 now;
	int		 may;

	if (ws->lease == NULL)
		return (1);
	now = wecom_ws_now_ms();
	pthread_mutex_lock(&ws->lock);
	may = bot->lease_mode == WS_LEASE_FREE || now < bot->lease_until;
	pthread_mutex_unlock(&ws->lock);

	return (may);
}

/*
 * Kicked, with a store: off until the lease thread has given the lease
 * up and been granted it again, however the store is meanwhile.
 */
static void
ws_lease_kicked(struct ws_bot *bot)
{
	struct wecom_ws	*ws = bot->ws;

	bot->standby = 1;
	pthread_mutex_lock(&ws->lock);
	bot->lease_kicked = 1;
	bot->lease_mode = WS_LEASE_ASK;
	bot->lease_until = 0;
	pthread_mutex_unlock(&ws->lock);
}
