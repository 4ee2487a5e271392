/* SPDX-License-Identifier: ISC */
/*
 * The long connection's thread and its public calls. The thread makes
 * the lws context itself and is alone in calling lws, but for
 * lws_cancel_service(), which is how other threads wake it after they
 * queued something under the lock. The caller may already be in its
 * sandbox: it hands over memory only (the CA too), and never waits on
 * the network.
 */

#include <sys/eventfd.h>
#include <sys/random.h>

#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "ws_private.h"

static int	ws_callback(struct lws *, enum lws_callback_reasons, void *,
		    void *, size_t);

static const struct lws_protocols ws_protocols[] = {
	{ .name = WS_PROTOCOL, .callback = ws_callback,
	    .rx_buffer_size = 16384 },
	{ .name = NULL }
};

static struct wecom_ws	*ws_new(void);
static int	 ws_init(struct wecom_ws *, const struct wecom_ws_conf *,
		    const struct wecom_ws_bot *, size_t,
		    struct wecom_ws_state *);
static void	 ws_defaults(struct wecom_ws_conf *);
static int	 ws_proxy(struct wecom_ws *);
static void	 ws_random(struct wecom_ws *);
static int	 ws_spawn(struct wecom_ws *);
static void	*ws_main(void *);
static struct lws_context	*ws_context(struct wecom_ws *);
static int	 ws_ca_more(struct wecom_ws *, SSL_CTX *);
static void	 ws_wake(struct wecom_ws *);
static void	 ws_stop_begin(struct wecom_ws *);
static void	 ws_stop_late(lws_sorted_usec_list_t *);
static void	 ws_teardown(struct wecom_ws *);
static void	 ws_free(struct wecom_ws *);

struct wecom_ws *
wecom_ws_start(const struct wecom_ws_conf *conf,
    const struct wecom_ws_bot *bots, size_t n, struct wecom_ws_state *states)
{
	struct wecom_ws	*ws;
	int		 ready;

	if (conf == NULL || bots == NULL || states == NULL || n == 0 ||
	    (ws = ws_new()) == NULL)
		return (NULL);
	if (ws_init(ws, conf, bots, n, states) == -1 ||
	    wecom_ws_lease_start(ws) == -1 || ws_spawn(ws) == -1) {
		ws_free(ws);
		return (NULL);
	}
	pthread_mutex_lock(&ws->lock);
	while (ws->ready == 0)
		pthread_cond_wait(&ws->cond, &ws->lock);
	ready = ws->ready;
	pthread_mutex_unlock(&ws->lock);
	if (ready == -1) {
		pthread_join(ws->tid, NULL);
		wecom_ws_log(ws, LOG_ERR, "aibot: cannot create the "
		    "libwebsockets context");
		ws_free(ws);
		return (NULL);
	}
	wecom_ws_lease_run(ws);

	return (ws);
}

static struct wecom_ws *
ws_new(void)
{
	struct wecom_ws	*ws;

	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return (NULL);
	ws->efd = -1;
	TAILQ_INIT(&ws->in);
	if (pthread_mutex_init(&ws->lock, NULL) != 0) {
		free(ws);
		return (NULL);
	}
	if (pthread_cond_init(&ws->cond, NULL) != 0) {
		pthread_mutex_destroy(&ws->lock);
		free(ws);
		return (NULL);
	}

	return (ws);
}

static int
ws_init(struct wecom_ws *ws, const struct wecom_ws_conf *conf,
    const struct wecom_ws_bot *bots, size_t n, struct wecom_ws_state *states)
{
	struct ws_bot	*bot;
	size_t		 i;

	ws->conf = *conf;
	ws_defaults(&ws->conf);
	if (ws_proxy(ws) == -1 || conf->ca_len > INT_MAX ||
	    (ws->bots = calloc(n, sizeof(*ws->bots))) == NULL)
		return (-1);
	ws->nbots = n;
	for (i = 0; i < n; i++) {
		bot = &ws->bots[i];
		bot->ws = ws;
		bot->idx = i;
		bot->conf = &bots[i];
		bot->st = &states[i];
		bot->backoff_ms = ws->conf.backoff_min_ms;
		TAILQ_INIT(&bot->waiting);
		TAILQ_INIT(&bot->inflight);
		memset(bot->st, 0, sizeof(*bot->st));
		bot->st->since = (int64_t)time(NULL);
		if (bots[i].name == NULL || bots[i].url == NULL ||
		    bots[i].bot_id == NULL || bots[i].secret == NULL ||
		    wecom_ws_parse_url(bot) == -1) {
			wecom_ws_log(ws, LOG_ERR, "aibot %s: no bot_id, secret "
			    "or ws[s]://host[:port][/path] url", bots[i].name ?
			    bots[i].name : "?");
			return (-1);
		}
	}
	ws_random(ws);
	ws->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return (ws->efd == -1 ? -1 : 0);
}

static void
ws_defaults(struct wecom_ws_conf *c)
{
	if (c->ping_ms <= 0)
		c->ping_ms = 30000;
	if (c->ack_timeout_ms <= 0)
		c->ack_timeout_ms = 5000;
	if (c->backoff_min_ms <= 0)
		c->backoff_min_ms = 1000;
	if (c->backoff_max_ms <= 0)
		c->backoff_max_ms = 30000;
	if (c->backoff_max_ms < c->backoff_min_ms)
		c->backoff_max_ms = c->backoff_min_ms;
}

/*
 * "http://[user:pass@]host:port[/]" becomes lws's "host:port". Given no
 * proxy, lws would read $http_proxy itself: ":0" (no host, port 0) is
 * how to tell it none, so that the caller alone decides.
 */
static int
ws_proxy(struct wecom_ws *ws)
{
	const char	*p = ws->conf.proxy, *colon;
	size_t		 n;

	if (p == NULL || *p == '\0') {
		(void)snprintf(ws->proxy, sizeof(ws->proxy), ":0");
		return (0);
	}
	if (strncmp(p, "http://", 7) == 0)
		p += 7;
	n = strcspn(p, "/");
	colon = memrchr(p, ':', n);
	if (strstr(p, "://") != NULL || n >= sizeof(ws->proxy) ||
	    colon == NULL || colon + 1 == p + n ||
	    strspn(colon + 1, "0123456789") != (size_t)(p + n - colon - 1) ||
	    (p[n] != '\0' && strcmp(p + n, "/") != 0)) {
		/* The URL may hold a password: not in the log. */
		wecom_ws_log(ws, LOG_ERR, "aibot: the proxy is not "
		    "http://host:port");
		return (-1);
	}
	memcpy(ws->proxy, p, n);
	ws->proxy[n] = '\0';

	return (0);
}

/* getrandom(2) reads no file: start may run in a chroot. */
static void
ws_random(struct wecom_ws *ws)
{
	uint64_t	r[2];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		r[0] = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^
		    (uint64_t)(uintptr_t)ws;
		r[1] = r[0] * 0x9e3779b97f4a7c15ULL;
	}
	(void)snprintf(ws->nonce, sizeof(ws->nonce), "%016llx",
	    (unsigned long long)r[0]);
	ws->rnd = r[1] | 1;
}

/* The thread takes no signal: they are for the caller's main loop. */
static int
ws_spawn(struct wecom_ws *ws)
{
	sigset_t	all, old;
	int		rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ws->tid, NULL, ws_main, ws);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	return (rc == 0 ? 0 : -1);
}

static void *
ws_main(void *arg)
{
	struct wecom_ws		*ws = arg;
	struct lws_context	*ctx;
	size_t			 i;

	wecom_ws_log_bind(ws);
	ctx = ws_context(ws);
	pthread_mutex_lock(&ws->lock);
	ws->ctx = ctx;
	ws->ready = ctx != NULL ? 1 : -1;
	pthread_cond_signal(&ws->cond);
	pthread_mutex_unlock(&ws->lock);
	if (ctx == NULL)
		return (NULL);

	wecom_ws_lease_begin(ws);
	for (i = 0; i < ws->nbots; i++)
		if (!ws->bots[i].standby)
			wecom_ws_connect(&ws->bots[i]);
	while (!ws->finished)
		if (lws_service(ctx, 0) < 0)
			break;
	ws_teardown(ws);

	return (NULL);
}

static struct lws_context *
ws_context(struct wecom_ws *ws)
{
	struct lws_context_creation_info	info;

	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.user = ws;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	/* Else lws sizes its tables by RLIMIT_NOFILE. */
	info.fd_limit_per_thread = (unsigned int)(2 * ws->nbots + 4);
	info.http_proxy_address = ws->proxy;
	if (ws->conf.ca_pem != NULL) {
		/* lws loads the first certificate; ws_ca_more the rest. */
		info.client_ssl_ca_mem = ws->conf.ca_pem;
		info.client_ssl_ca_mem_len = (unsigned int)ws->conf.ca_len;
		info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	} else
		/*
		 * Given no CA at all, lws would also trust the directory
		 * "../share", relative to wherever we run.
		 */
		info.client_ssl_ca_filepath = X509_get_default_cert_file();

	return (lws_create_context(&info));
}

/*
 * lws keeps only the first certificate of client_ssl_ca_mem: the rest
 * of a bundle joins the same store here, from memory still.
 */
static int
ws_ca_more(struct wecom_ws *ws, SSL_CTX *ssl)
{
	X509_STORE	*store;
	X509		*x;
	BIO		*bio;
	int		 n = 0;

	if (ws->conf.ca_pem == NULL ||
	    (store = SSL_CTX_get_cert_store(ssl)) == NULL ||
	    (bio = BIO_new_mem_buf(ws->conf.ca_pem,
	    (int)ws->conf.ca_len)) == NULL)
		return (0);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0)
		wecom_ws_log(ws, LOG_ERR, "aibot: the CA given holds no PEM "
		    "certificate: no wss:// connection can be verified");

	return (0);
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct wecom_ws	*ws = lws_context_user(lws_get_context(wsi));
	struct ws_bot	*bot;

	switch (reason) {
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		ws_wake(ws);
		return (0);
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_CLIENT_VERIFY_CERTS:
		return (ws_ca_more(ws, user));
	default:
		break;
	}
	if ((bot = lws_get_opaque_user_data(wsi)) == NULL)
		return (0);
	/* What lws's own error string will not say. Never overrides. */
	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION) {
		if (len == 0)
			(void)snprintf(bot->why, sizeof(bot->why), "server "
			    "certificate not trusted: %s",
			    X509_verify_cert_error_string(
			    X509_STORE_CTX_get_error(user)));
		return (0);
	}

	return (wecom_ws_event(bot, wsi, reason, in, len));
}

/* Another thread queued something, or wants us to stop. */
static void
ws_wake(struct wecom_ws *ws)
{
	struct ws_bot	*bot;
	size_t		 i;
	int		 stopping;

	pthread_mutex_lock(&ws->lock);
	stopping = ws->stopping;
	pthread_mutex_unlock(&ws->lock);
	if (stopping && !ws->stop_begun)
		ws_stop_begin(ws);
	wecom_ws_lease_apply(ws);
	for (i = 0; i < ws->nbots; i++) {
		bot = &ws->bots[i];
		if (bot->wsi != NULL && bot->subscribed && !bot->closing &&
		    wecom_ws_sendable(bot))
			lws_callback_on_writable(bot->wsi);
	}
}

/* Each connection gets a close handshake, all of them WS_STOP_MS. */
static void
ws_stop_begin(struct wecom_ws *ws)
{
	struct ws_bot	*bot;
	size_t		 i;

	ws->stop_begun = 1;
	lws_sul_cancel(&ws->sul_lease);
	for (i = 0; i < ws->nbots; i++) {
		bot = &ws->bots[i];
		lws_sul_cancel(&bot->sul_retry);
		if (bot->wsi != NULL)
			wecom_ws_close(bot, "stopping", 0);
		else
			wecom_ws_status(bot, WECOM_WS_STOPPED);
	}
	lws_sul_schedule(ws->ctx, 0, &ws->sul_stop, ws_stop_late,
	    (lws_usec_t)WS_STOP_MS * LWS_US_PER_MS);
	wecom_ws_settle(ws);
}

static void
ws_stop_late(lws_sorted_usec_list_t *sul)
{
	struct wecom_ws	*ws;

	ws = lws_container_of(sul, struct wecom_ws, sul_stop);
	ws->finished = 1;
}

/*
 * Nothing of ours stays scheduled on the context, and nothing waits,
 * when it goes; the connections it still holds end within its destroy.
 */
static void
ws_teardown(struct wecom_ws *ws)
{
	struct ws_bot	*bot;
	size_t		 i;

	ws->finished = 1;
	pthread_mutex_lock(&ws->lock);
	ws->ready = -1;
	pthread_mutex_unlock(&ws->lock);
	lws_sul_cancel(&ws->sul_stop);
	lws_sul_cancel(&ws->sul_lease);
	for (i = 0; i < ws->nbots; i++) {
		bot = &ws->bots[i];
		lws_sul_cancel(&bot->sul_ping);
		lws_sul_cancel(&bot->sul_retry);
		wecom_ws_fail_all(bot, 1);
	}
	lws_context_destroy(ws->ctx);
	for (i = 0; i < ws->nbots; i++) {
		bot = &ws->bots[i];
		bot->wsi = NULL;
		wecom_buf_free(&bot->rx);
		wecom_ws_status(bot, WECOM_WS_STOPPED);
	}
}

int
wecom_ws_fd(const struct wecom_ws *ws)
{
	return (ws->efd);
}

int
wecom_ws_send(struct wecom_ws *ws, size_t bot, const char *cmd,
    const char *req_id, const char *body, size_t len, int coalesce,
    wecom_ws_done done, void *arg)
{
	struct ws_req	*r;
	int		 rc = -1;

	if (bot >= ws->nbots || cmd == NULL ||
	    (r = wecom_ws_req_new(ws, cmd, req_id, body, len)) == NULL)
		return (-1);
	r->coalesce = coalesce;
	r->done = done;
	r->arg = arg;
	pthread_mutex_lock(&ws->lock);
	if (ws->ready == 1 && !ws->stopping &&
	    (rc = wecom_ws_queue(&ws->bots[bot], r)) == 0)
		lws_cancel_service(ws->ctx);
	pthread_mutex_unlock(&ws->lock);
	if (rc == -1)
		wecom_ws_req_free(r);

	return (rc);
}

void
wecom_ws_stop(struct wecom_ws *ws)
{
	size_t	i;

	if (ws == NULL)
		return;
	pthread_mutex_lock(&ws->lock);
	ws->stopping = 1;
	if (ws->ready == 1)
		lws_cancel_service(ws->ctx);
	pthread_mutex_unlock(&ws->lock);
	pthread_join(ws->tid, NULL);
	/* Closed first, then given up: no overlap with the next holder. */
	wecom_ws_lease_stop(ws);
	/* The thread failed what it held: this is for what raced it. */
	for (i = 0; i < ws->nbots; i++)
		wecom_ws_fail_all(&ws->bots[i], 0);
	ws_free(ws);
}

static void
ws_free(struct wecom_ws *ws)
{
	size_t	i;

	wecom_ws_lease_stop(ws);
	wecom_ws_in_flush(ws);
	for (i = 0; ws->bots != NULL && i < ws->nbots; i++)
		wecom_buf_free(&ws->bots[i].rx);
	free(ws->bots);
	if (ws->efd != -1)
		close(ws->efd);
	pthread_cond_destroy(&ws->cond);
	pthread_mutex_destroy(&ws->lock);
	free(ws);
}
