/* SPDX-License-Identifier: ISC */
/*
 * Contacts: each app's directory, cached in state_dir by the first
 * worker, and served to API keys from there.
 *
 * Worker 1 refreshes an app's cache every contacts_refresh seconds and
 * soon after a change_contact callback of that app, whichever worker
 * received it: the tap (on the thread that ran the handlers) only sets
 * a bit and writes an eventfd; the worker's event loop passes the bits
 * to worker 1 as a Kore message. The refresh itself — a department/list
 * and a user/list per department — runs on a thread of worker 1's own,
 * one at a time, so the event loop and the callbacks never wait for it.
 *
 *	GET /api/v1/users	 ?department= &name= &userid=
 *	GET /api/v1/departments	 ?parent=
 *	GET /api/v1/chats	 ?name= &userid=
 *
 * with app=, limit= and cursor=, and a key of [apikey NAME]. A page is
 * read and cut on a chore thread (push/push_contacts.c).
 */

#include <sys/eventfd.h>
#include <sys/stat.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_contacts.h"
#include "wecom_push.h"
#include "wecom_push_contacts.h"
#include "wecom_runner.h"
#include "wecom_http.h"
#include "wecom_server.h"

/* Our Kore message: the apps (bits by index) a change was seen for. */
#define CONTACTS_MSG		(KORE_MSG_APP_BASE + 14)
#define REFRESH_S_DEFAULT	3600
#define REFRESH_ENV		"WECOM_CONTACTS_REFRESH_S"
#define TICK_MS			500
#define RETRY_S			30	/* after a failure, doubling */
#define APPS_MAX		64	/* bits of a uint64_t */

static const struct {
	const char			*path;
	enum wecom_contacts_kind	 kind;
} paths[] = {
	{ "/api/v1/users", WECOM_CONTACTS_USERS },
	{ "/api/v1/departments", WECOM_CONTACTS_DEPARTMENTS },
	{ "/api/v1/chats", WECOM_CONTACTS_CHATS },
};

struct refresh {
	struct wecom_app		*app;
	int				 forced;	/* a change: now */
	int				 skipped;	/* the file was fresh */
	int				 rc;
	time_t				 mtime;
	long				 ms;		/* how long it took */
	struct wecom_contacts_stats	 st;
	struct wecom_api_error		 err;
};

struct read {
	struct wecom_contacts_query	 q;
	const char			*who;		/* [apikey NAME] */
	char				*base;
	char				*body;
	int				 status;
	char				 why[256];
};

static struct wecom_server	*srv;
static struct wecom_apikey_list	 keys;
static long			 refresh_s = REFRESH_S_DEFAULT;

/* Each worker: changes seen by its threads, for its event loop. */
static struct {
	struct kore_event	 evt;		/* first: Kore hands it back */
	int			 efd;
	uint64_t		 bits;		/* atomic */
} seen = { .efd = -1 };

/* Worker 1: its refresh thread, and what is due. */
static struct {
	struct kore_event	 evt;		/* first: Kore hands it back */
	struct wecom_runner	*runner;
	uint64_t		 stale;		/* a change: refresh now */
	int			 running;
	time_t			 due[APPS_MAX];
	int			 failures[APPS_MAX];
} w1;

static void	contacts_tap(void *, const struct wecom_ctx *);
static int	contacts_on(const struct wecom_app *);
static void	contacts_seen(void *, int);
static void	contacts_recv(struct kore_msg *, const void *);
static int	contacts_worker1(void);
static void	contacts_tick(void *, u_int64_t);
static void	contacts_next(void);
static void	contacts_chore(struct wecom_job *);
static void	contacts_done(void *, int);
static void	contacts_refreshed(struct wecom_job *);
static int	contacts_key(struct http_request *,
		    const struct wecom_apikey **);
static char	*contacts_base(struct http_request *);
static void	contacts_read(struct wecom_job *);
static int	contacts_answer(void *, struct wecom_job *);
static void	contacts_release(void *);
static int	contacts_fail(struct http_request *, int, const char *);

/*
 * In each worker. The refresh period is a test knob for now
 * (WECOM_CONTACTS_REFRESH_S); contacts_refresh in [global] will be.
 */
/* contacts = yes, and a secret to read the directory with. */
static int
contacts_on(const struct wecom_app *app)
{
	return (app->conf->kind == WECOM_KIND_APP && app->conf->contacts &&
	    app->conf->secret != NULL && app->index < APPS_MAX);
}

void
wecom_contacts_init(struct wecom_server *s)
{
	struct wecom_app	*app;
	const char		*e;
	char			 err[256];
	long			 v;
	int			 any;

	srv = s;
	if ((e = getenv(REFRESH_ENV)) != NULL && (v = strtol(e, NULL, 10)) > 0)
		refresh_s = v;
	if (wecom_apikeys_load(&keys, &s->conf, err, sizeof(err)) != 0)
		kore_log(LOG_WARNING, "wecom: contacts API off: %s", err);
	any = 0;
	TAILQ_FOREACH(app, &s->apps, list)
		any |= contacts_on(app);
	if (!any)
		return;
	if ((seen.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    wecom_tap_add(s, contacts_tap, NULL) != WECOM_OK) {
		kore_log(LOG_WARNING, "wecom: contacts: change_contact "
		    "callbacks will not refresh the cache");
	} else {
		seen.evt.type = KORE_TYPE_TASK;
		seen.evt.handle = contacts_seen;
		kore_platform_schedule_read(seen.efd, &seen.evt);
	}
	if (worker != NULL && worker->id == 1 && contacts_worker1() !=
	    WECOM_OK)
		kore_log(LOG_WARNING, "wecom: contacts: no refresh thread: "
		    "the cache will not be refreshed");
}

/* Worker 1: the thread, the messages of the others, the clock. */
static int
contacts_worker1(void)
{
	if ((w1.runner = wecom_runner_new(&srv->conf, 1, APPS_MAX,
	    wecom_observe_api)) == NULL ||
	    kore_msg_register(CONTACTS_MSG, contacts_recv) != KORE_RESULT_OK)
		return (WECOM_ERROR);
	w1.evt.type = KORE_TYPE_TASK;
	w1.evt.handle = contacts_done;
	kore_platform_schedule_read(wecom_runner_fd(w1.runner), &w1.evt);
	kore_timer_add(contacts_tick, TICK_MS, NULL, 0);

	return (WECOM_OK);
}

/* Any thread, after a handler chain: must not block, nor call Kore. */
static void
contacts_tap(void *arg, const struct wecom_ctx *ctx)
{
	uint64_t	one = 1;

	if (ctx->msg == NULL ||
	    ctx->msg->event_type != WECOM_EVENT_CHANGE_CONTACT ||
	    !contacts_on(ctx->app))
		return;
	__atomic_fetch_or(&seen.bits, (uint64_t)1 << ctx->app->index,
	    __ATOMIC_RELEASE);
	(void)write(seen.efd, &one, sizeof(one));
}

/* The event loop: changes seen here go to worker 1. */
static void
contacts_seen(void *arg, int error)
{
	uint64_t	n, bits;

	while (read(seen.efd, &n, sizeof(n)) == sizeof(n))
		;
	if ((bits = __atomic_exchange_n(&seen.bits, 0, __ATOMIC_ACQUIRE)) ==
	    0)
		return;
	if (worker->id == 1) {
		w1.stale |= bits;
		contacts_next();
	} else
		kore_msg_send(1, CONTACTS_MSG, &bits, sizeof(bits));
}

static void
contacts_recv(struct kore_msg *msg, const void *data)
{
	uint64_t	bits;

	if (msg->length != sizeof(bits))
		return;
	memcpy(&bits, data, sizeof(bits));
	w1.stale |= bits;
	contacts_next();
}

static void
contacts_tick(void *arg, u_int64_t now)
{
	contacts_next();
}

/* One refresh at a time: a change first, then whatever is due. */
static void
contacts_next(void)
{
	struct wecom_app	*app, *pick;
	struct wecom_job	*job;
	struct refresh		*r;
	time_t			 now;

	if (w1.running || w1.runner == NULL)
		return;
	now = time(NULL);
	pick = NULL;
	TAILQ_FOREACH(app, &srv->apps, list) {
		if (!contacts_on(app))
			continue;
		if (w1.stale & ((uint64_t)1 << app->index)) {
			pick = app;
			break;
		}
		if (pick == NULL && w1.due[app->index] <= now)
			pick = app;
	}
	if (pick == NULL || (job = calloc(1, sizeof(*job))) == NULL)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		free(job);
		return;
	}
	r->app = pick;
	r->forced = (w1.stale & ((uint64_t)1 << pick->index)) != 0;
	job->app = pick;
	job->chore = contacts_chore;
	job->done = contacts_refreshed;
	job->arg = r;
	job->kind = "contacts";
	(void)snprintf(job->what, sizeof(job->what), "%s", pick->conf->name);
	if (wecom_runner_submit(w1.runner, job) != WECOM_OK) {
		free(r);
		free(job);
		return;
	}
	/* A change during the refresh will mark it stale again. */
	w1.stale &= ~((uint64_t)1 << pick->index);
	w1.running = 1;
}

/*
 * The refresh thread. At start-up a cache younger than the period is
 * kept: a restart costs WeCom no calls.
 */
static void
contacts_chore(struct wecom_job *job)
{
	struct refresh		*r = job->arg;
	struct wecom_client	*c;
	struct stat		 st;
	struct timespec		 t0, t1;
	char			 path[PATH_MAX];

	if (!r->forced && wecom_contacts_path(&srv->conf,
	    r->app->conf->name, "contacts", path, sizeof(path)) ==
	    WECOM_API_OK && stat(path, &st) == 0 &&
	    st.st_mtime + refresh_s > time(NULL) &&
	    st.st_mtime <= time(NULL)) {
		r->skipped = 1;
		r->mtime = st.st_mtime;
		return;
	}
	if ((c = wecom_runner_client(job)) == NULL) {
		r->rc = WECOM_API_ERR_CONFIG;
		(void)snprintf(r->err.errmsg, sizeof(r->err.errmsg),
		    "no API client");
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->rc = wecom_contacts_refresh(c, &r->st, &r->err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	    (t1.tv_nsec - t0.tv_nsec) / 1000000;
	r->mtime = time(NULL);
}

/* Worker 1's event loop: the refresh thread is done. */
static void
contacts_done(void *arg, int error)
{
	struct wecom_job	*job;
	uint64_t		 n;

	while (read(wecom_runner_fd(w1.runner), &n, sizeof(n)) == sizeof(n))
		;
	while ((job = wecom_runner_done(w1.runner)) != NULL)
		job->done(job);
}

static void
contacts_refreshed(struct wecom_job *job)
{
	struct refresh	*r = job->arg;
	size_t		 i = r->app->index;
	long		 wait;

	if (r->rc == WECOM_API_OK) {
		w1.failures[i] = 0;
		w1.due[i] = r->mtime + refresh_s;
		if (!r->skipped)
			kore_log(LOG_INFO, "wecom: [app %s] contacts: %zu "
			    "members, %zu departments (%zu not readable) in "
			    "%ld ms", r->app->conf->name, r->st.users,
			    r->st.departments - r->st.skipped, r->st.skipped,
			    r->ms);
	} else {
		/* Never a loop of failures: WeCom bans such IPs (40001). */
		wait = RETRY_S << (w1.failures[i] < 10 ? w1.failures[i] : 10);
		w1.failures[i]++;
		w1.due[i] = time(NULL) + (wait < refresh_s ? wait : refresh_s);
		kore_log(LOG_WARNING, "wecom: [app %s] contacts not refreshed: "
		    "%ld %s%s%s", r->app->conf->name, r->err.errcode,
		    r->err.errmsg, r->err.hint ? " — " : "",
		    r->err.hint ? r->err.hint : "");
	}
	w1.running = 0;
	free(r);
	free(job);
	contacts_next();
}

/* 1 if req is the contacts API's (then *rc is the route's result). */
int
wecom_contacts_route(struct http_request *req, int *rc)
{
	const struct wecom_apikey	*key;
	struct read			*rd;
	size_t				 i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (strcmp(req->path, paths[i].path) == 0)
			break;
	if (i == sizeof(paths) / sizeof(paths[0]) || TAILQ_EMPTY(&keys))
		return (0);
	if (req->method != HTTP_METHOD_GET) {
		http_response_header(req, "allow", "GET");
		*rc = contacts_fail(req, 405, "method not allowed");
		return (1);
	}
	if (contacts_key(req, &key) != 0) {
		http_response_header(req, "www-authenticate", "Bearer");
		*rc = contacts_fail(req, 401, "missing or wrong API key");
		return (1);
	}
	if ((rd = calloc(1, sizeof(*rd))) == NULL ||
	    (rd->base = contacts_base(req)) == NULL) {
		free(rd);
		*rc = contacts_fail(req, 503, "out of memory");
		return (1);
	}
	rd->who = key->name;
	if ((rd->status = wecom_push_contacts_params(&rd->q, paths[i].kind,
	    &srv->conf, key, req->query_string, rd->why,
	    sizeof(rd->why))) != 0) {
		*rc = contacts_fail(req, rd->status, rd->why);
		contacts_release(rd);
		return (1);
	}
	*rc = wecom_dispatch_chore(req, contacts_read, contacts_answer,
	    contacts_release, rd);

	return (1);
}

/*
 * A Bearer token or X-Api-Key; not key= in the URL, which the links of
 * the answer would have to repeat.
 */
static int
contacts_key(struct http_request *req, const struct wecom_apikey **key)
{
	int	given;

	*key = wecom_http_apikey(req, &keys, &given);

	return (*key == NULL ? -1 : 0);
}

/*
 * Where the links of a page start: the address the client used, as
 * nginx passes it on (Host, X-Forwarded-Proto); a bare path without.
 */
static char *
contacts_base(struct http_request *req)
{
	const char	*host, *proto;
	char		*base;

	if (!http_request_header(req, "host", &host) || *host == '\0' ||
	    strlen(host) > 255 || host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]")] != '\0')
		return (strdup(req->path));
	if (!http_request_header(req, "x-forwarded-proto", &proto) ||
	    strcmp(proto, "https") != 0)
		proto = "http";
	if (asprintf(&base, "%s://%s%s", proto, host, req->path) == -1)
		return (NULL);

	return (base);
}

/* A chore thread: the file (parsed once per change), the page. */
static void
contacts_read(struct wecom_job *job)
{
	struct read	*rd = job->arg;

	rd->status = wecom_push_contacts_answer(&srv->conf, &rd->q, rd->base,
	    &rd->body, rd->why, sizeof(rd->why));
}

static int
contacts_answer(void *arg, struct wecom_job *job)
{
	struct http_request	*req = arg;
	struct read		*rd = job->arg;

	if (rd->status != 200)
		return (contacts_fail(req, rd->status, rd->why));
	http_response_header(req, "content-type",
	    "application/json; charset=utf-8");
	http_response_header(req, "cache-control", "no-store");
	http_response(req, 200, rd->body, strlen(rd->body));

	return (KORE_RESULT_OK);
}

static void
contacts_release(void *arg)
{
	struct read	*rd = arg;

	wecom_push_contacts_clear(&rd->q);
	if (rd->body != NULL)
		explicit_bzero(rd->body, strlen(rd->body));
	free(rd->body);
	free(rd->base);
	free(rd);
}

/* A refusal: the log line says why, the JSON tells the caller. */
static int
contacts_fail(struct http_request *req, int status, const char *why)
{
	wecom_http_log(req, status, why);
	return (wecom_http_json(req, status, json_pack("{s:i, s:s}", "code",
	    status, "message", why)));
}
