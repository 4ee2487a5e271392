/* SPDX-License-Identifier: ISC */
/*
 * The Kore glue's top: the process state made in the parent before the
 * fork and handed to every part, and one route for every path. The
 * pipeline itself lives in callback/ and knows nothing of Kore.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
#include "wecom_http.h"
#include "wecom_server.h"
#include "wecom_shm.h"
#include "wecom_store.h"
#include "wecom_xml.h"
#include "wecom_aibot.h"
#include "wecom_forward.h"
#include "wecom_outbox.h"

#define QUERY_MAX	2048	/* Kore answers 414 beyond ~2000 */
#define CA_MAX		(4 * 1024 * 1024)

int	kore_parent_configure(int, char **);
void	kore_worker_configure(void);
void	kore_worker_teardown(void);
int	wecom_http(struct http_request *);

/* The process state: made in the parent before the fork. */
static struct wecom_server	server;
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
static void	server_tick(void *, u_int64_t);
static void	server_warn(const struct wecom_app_list *);
static int	server_streams(struct wecom_server *);
static void	server_ca(struct wecom_server *);
static void	server_store_log(int, const char *);
static int	server_store(struct wecom_server *);

int
kore_parent_configure(int argc, char **argv)
{
	char	err[512];

	xmlInitParser();
	wecom_store_set_log(server_store_log);
	if (wecom_conf_load(&server.conf, wecom_conf_path(), err,
	    sizeof(err)) != WECOM_CONF_OK)
		fatal("wecom: %s", err);
	/* The framework's own app code, next to the module's. */
	wecom_forward_register();
	if (wecom_apps_setup(&server.apps, &server.conf, err, sizeof(err)) !=
	    WECOM_OK || wecom_commands_start(err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", server.conf.file, err);
	if (wecom_observe_init(&server, err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", server.conf.file, err);
	if (wecom_push_init(&server, err, sizeof(err)) != WECOM_OK ||
	    wecom_relay_init(&server.conf, err, sizeof(err)) != WECOM_OK ||
	    wecom_status_init(&server, err, sizeof(err)) != WECOM_OK ||
	    wecom_watch_init(&server, err, sizeof(err)) != WECOM_OK)
		fatal("wecom: %s: %s", server.conf.file, err);
	if (server_store(&server) != KORE_RESULT_OK ||
	    server_streams(&server) != KORE_RESULT_OK ||
	    wecom_aibot_preload(&server) != WECOM_OK)
		fatal("wecom: cannot map the bots' shared state (at most 64 "
		    "long connections)");
	server_ca(&server);
	server_warn(&server.apps);
	if (TAILQ_EMPTY(&server.apps))
		kore_log(LOG_WARNING, "wecom: %s has no [app NAME] section",
		    server.conf.file);

	return (KORE_RESULT_OK);
}

/* The shared store's lines (any thread): one when it goes, one back. */
static void
server_store_log(int warn, const char *line)
{
	kore_log(warn ? LOG_WARNING : LOG_NOTICE, "wecom: %s", line);
}

/*
 * What loads but cannot work as meant: a threaded app's late replies go
 * out as messages, which need the app's secret.
 */
static void
server_warn(const struct wecom_app_list *apps)
{
	const struct wecom_app	*app;

	TAILQ_FOREACH(app, apps, list) {
		if (app->threaded && app->conf->secret == NULL &&
		    app->conf->kind == WECOM_KIND_APP)
			kore_log(LOG_WARNING, "wecom: [app %s] is threaded but "
			    "has no secret: a reply later than deadline_ms "
			    "(%ld ms) cannot be sent and will be dropped",
			    app->conf->name, app->deadline_ms);
	}
}

/*
 * In the parent: the CA bundle the API clients verify WeCom with, for
 * workers that will run chrooted (ca_file, default Debian's bundle).
 * Every client made from conf uses it, the outbox's too.
 */
static void
server_ca(struct wecom_server *s)
{
	struct wecom_conf	*conf = &s->conf;
	const char	*path;
	char		*ca;
	FILE		*fp;
	size_t		 calen;
	long		 len;

	/* The schema gave it its default. */
	path = conf->ca_file;
	if ((fp = fopen(path, "r")) == NULL) {
		kore_log(LOG_WARNING, "wecom: cannot read ca_file %s: TLS to "
		    "WeCom will use curl's default", path);
		return;
	}
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) > 0 &&
	    len < CA_MAX && fseek(fp, 0, SEEK_SET) == 0 &&
	    (ca = malloc((size_t)len)) != NULL) {
		calen = fread(ca, 1, (size_t)len, fp);
		if (calen != (size_t)len) {
			free(ca);
			ca = NULL;
		} else {
			conf->ca_pem = ca;
			conf->ca_len = calen;
		}
	}
	fclose(fp);
}

/* With a store, its counters are the workers' sum: shared words. */
static int
server_store(struct wecom_server *s)
{
	size_t	sz;

	if (s->conf.store == NULL)
		return (KORE_RESULT_OK);
	sz = WECOM_STORE_NCOUNTERS * sizeof(uint64_t);
	if ((s->store_counts = wecom_shm_map(&sz)) == NULL)
		return (KORE_RESULT_ERROR);
	wecom_store_set_counters(s->store_counts);

	return (KORE_RESULT_OK);
}

/* Callback-mode bots answer refreshes from any worker: a shared table. */
static int
server_streams(struct wecom_server *s)
{
	const struct wecom_app_conf	*bot;

	TAILQ_FOREACH(bot, &s->conf.bots, list) {
		if (!bot->ws) {
			s->streams = wecom_streams_new(
			    (size_t)s->conf.aibot_streams);
			return (s->streams != NULL ? KORE_RESULT_OK :
			    KORE_RESULT_ERROR);
		}
	}

	return (KORE_RESULT_OK);
}

void
kore_worker_configure(void)
{
	static struct wecom_outbox_sender	forward = {
		wecom_forward_resend, &server.conf
	};

	if ((xml = wecom_xml_new()) == NULL)
		fatal("wecom: out of memory");
	wecom_commands_worker();
	/* The drain may send a forward again: this process can. */
	server.conf.forward_send = &forward;
	if (wecom_dispatch_init(&server) != WECOM_OK)
		fatal("wecom: cannot start the handler threads");
	wecom_aibot_init(&server);
	wecom_messages_init(&server);
	wecom_events_init(&server);
	wecom_contacts_init(&server);
	/* An idle worker only checks connection timeouts when it wakes. */
	kore_timer_add(server_tick, 1000, NULL, 0);
}

/*
 * The worker is done serving. What must be kept is kept here (the
 * message log's queue). Then it ends at once: its threads (handlers,
 * the bots' connections) may hold a lock of libc or of a library, and
 * exit()'s destructors would wait for it for ever — p11-kit's
 * freelocale() did, and the worker never ended. The parent sees a
 * worker that exited 0, as it expects at shutdown.
 */
void
kore_worker_teardown(void)
{
	wecom_messages_stop();
	_exit(0);
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
	if ((app = wecom_app_by_path(&server.apps, req->path)) == NULL) {
		if (wecom_observe_http(req) == KORE_RESULT_OK ||
		    wecom_status_http(req) == KORE_RESULT_OK)
			return (KORE_RESULT_OK);
		if (wecom_push_route(req, &rc) || wecom_messages_route(req, &rc) ||
		    wecom_contacts_route(req, &rc) ||
		    wecom_relay_route(req, &rc) || wecom_events_route(req, &rc))
			return (rc);
		return (wecom_http_refuse(req, 404, 0, "no app at this path"));
	}

	switch (req->method) {
	case HTTP_METHOD_GET:
		return (server_get(req, app));
	case HTTP_METHOD_POST:
		return (server_post(req, app));
	default:
		http_response_header(req, "allow", "GET, POST");
		return (wecom_http_refuse(req, 405, 0, "method not allowed"));
	}
}

static int
server_get(struct http_request *req, struct wecom_app *app)
{
	struct query		q;
	struct wecom_result	res;

	if (server_query(req, &q, 1) != KORE_RESULT_OK)
		return (wecom_http_refuse(req, 400, 0, q.why));
	if (!wecom_callback_fresh(app, &q.q, time(NULL)))
		return (wecom_http_stale(req, server.metrics, app));

	wecom_callback_verify_url(app, &q.q, &res);
	if (res.code != WECOM_OK)
		wecom_metrics_error(server.metrics, app->index,
		    res.code);
	wecom_http_answer(req, &res);

	return (KORE_RESULT_OK);
}

static int
server_post(struct http_request *req, struct wecom_app *app)
{
	struct query		q;
	struct kore_buf		*body;

	if (server_query(req, &q, 0) != KORE_RESULT_OK)
		return (wecom_http_refuse(req, 400, 0, q.why));

	/* Kore keeps the whole body in memory: content_length bytes. */
	body = req->http_body;
	if (body == NULL || req->content_length == 0)
		return (wecom_http_refuse(req, 400, 0, "empty body"));
	if (req->content_length > server.conf.body_max)
		return (wecom_http_refuse(req, 413, 0, "body larger than body_max"));

	return (wecom_dispatch_post(req, app, xml, &q.q,
	    (const char *)body->data, req->content_length));
}

/* A signed request from outside the app's timestamp window. */
/* The URL verification answers plain text, callbacks XML. */
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
	/*
	 * A %00 would cut the value short behind our back. WeCom's own
	 * values have no '%' but in echostr: the rest skip the decoder.
	 */
	if (strchr(value, '%') != NULL && (strstr(value, "%00") != NULL ||
	    xmlURIUnescapeString(value, (int)strlen(value), value) == NULL)) {
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

/* One line per refusal: who, where, why — never a secret or a body. */
/* The same line, for a refusal answered with a body of its own. */
/* The peer's address (family: req->owner->family), NULL on a unix socket. */
/* The path for a log line: a relay key in it is a secret. */
/* Behind a local proxy (nginx), the client it names in X-Real-IP. */
/* The peer, and behind a local proxy the client it names. */
/* The client's address, as server_client() names it: 0, or -1 if none. */