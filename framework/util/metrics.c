/* SPDX-License-Identifier: ISC */
/*
 * Shared counters. Every number is an int64_t in one MAP_SHARED mapping,
 * changed with __atomic builtins: workers never wait for each other to
 * count. Label tables (message types, API errcodes) only grow: a new
 * value is written under a process-shared robust mutex, then published
 * by bumping the table's length with release order, so readers scan
 * the published part without a lock. The layout is metrics_private.h.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wecom_buf.h"
#include "wecom_metrics.h"
#include "metrics_private.h"
#include "wecom_shm.h"

static const struct {
	const char	*name;
	const char	*help;
} counters[WECOM_M_NCOUNTERS] = {
	[WECOM_M_REPLIES] = { "wecom_replies_total",
	    "Passive replies sent." },
	[WECOM_M_DUPLICATES] = { "wecom_duplicates_total",
	    "Retries of a callback already seen, not run again." },
	[WECOM_M_DEFERRED] = { "wecom_deferred_total",
	    "Work queued to the outbox." },
	[WECOM_M_TOKEN_REFRESHES] = { "wecom_token_refreshes_total",
	    "Access token refreshes." },
	[WECOM_M_DEFERRED_DELIVERED] = { "wecom_deferred_delivered_total",
	    "Outbox items delivered." },
	[WECOM_M_DEFERRED_FAILED] = { "wecom_deferred_failed_total",
	    "Outbox items given up." },
	[WECOM_M_STALE] = { "wecom_stale_total",
	    "Callbacks refused for their timestamp." },
};

static const struct {
	const char	*name;
	const char	*help;
} gauges[WECOM_G_NGAUGES] = {
	[WECOM_G_OUTBOX_DEPTH] = { "wecom_outbox_depth",
	    "Items waiting in the outbox." },
	[WECOM_G_OUTBOX_OLDEST_SECONDS] = { "wecom_outbox_oldest_seconds",
	    "Age of the oldest item waiting in the outbox." },
	[WECOM_G_TOKEN_OK] = { "wecom_token_ok",
	    "1 if the last token refresh worked, 0 if not, -1 not known yet." },
};

static int		 m_lock(struct wecom_metrics *);
static int64_t		*m_type_slot(struct wecom_metrics *, struct m_app *,
			    const char *);
static int64_t		*m_api_slot(struct wecom_metrics *, struct m_app *,
			    long);
static void		 render_types(struct wecom_buf *, struct wecom_metrics *);
static void		 render_counters(struct wecom_buf *, struct wecom_metrics *);
static void		 render_errors(struct wecom_buf *, struct wecom_metrics *);
static void		 render_api(struct wecom_buf *, struct wecom_metrics *);
static void		 render_gauges(struct wecom_buf *, struct wecom_metrics *);
static void		 render_checks(struct wecom_buf *, struct wecom_metrics *);
static void		 render_push(struct wecom_buf *, struct wecom_metrics *);
static void		 buf_label(struct wecom_buf *, const char *);
static void		 buf_family(struct wecom_buf *, const char *, const char *,
			    const char *);
static void		 buf_series(struct wecom_buf *, struct wecom_metrics *,
			    const struct m_app *, const char *, const char *,
			    const char *, const int64_t *);

struct wecom_metrics *
wecom_metrics_new(const char *const *apps, size_t napps)
{
	struct wecom_metrics	*m;
	size_t			 aoff, hoff, noff, sz, i, off;
	int			 rc;

	aoff = (sizeof(*m) + 63) & ~(size_t)63;
	if (napps > (SIZE_MAX - aoff) / 2 / sizeof(struct m_app))
		return (NULL);
	hoff = (aoff + napps * sizeof(struct m_app) + 63) & ~(size_t)63;
	noff = hoff + sizeof(struct m_host);
	sz = noff;
	for (i = 0; i < napps; i++) {
		if (apps[i] == NULL)
			return (NULL);
		sz += strlen(apps[i]) + 1;
	}
	if ((m = wecom_shm_map(&sz)) == NULL)
		return (NULL);
	m->mapsz = sz;
	m->napps = napps;
	m->apps = (struct m_app *)((char *)m + aoff);
	m->host = (struct m_host *)((char *)m + hoff);
	m->names = (char *)m + noff;
	for (i = off = 0; i < napps; i++) {
		m->apps[i].name = off;
		memcpy(m->names + off, apps[i], strlen(apps[i]) + 1);
		off += strlen(apps[i]) + 1;
		m->apps[i].gauges[WECOM_G_TOKEN_OK] = -1;
		m->apps[i].check.c.ok = -1;
	}

	rc = wecom_shm_mutex_init(&m->lock);

	if (rc == -1) {
		munmap(m, sz);
		return (NULL);
	}
	return (m);
}

void
wecom_metrics_free(struct wecom_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	munmap(m, m->mapsz);
}

size_t
wecom_metrics_size(const struct wecom_metrics *m)
{
	return (m->mapsz);
}

void
wecom_metrics_callback(struct wecom_metrics *m, size_t app, const char *type)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL)
		return;
	__atomic_fetch_add(m_type_slot(m, a, type), 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&a->counters[WECOM_M_CALLBACKS], 1,
	    __ATOMIC_RELAXED);
	wecom_metrics_minute(m, app, WECOM_H_CALLBACKS, time(NULL));
}

void
wecom_metrics_inc(struct wecom_metrics *m, size_t app, int counter)
{
	struct m_app	*a;

	/* The sums move only with their labelled series. */
	if ((a = m_app(m, app)) == NULL || counter < 0 ||
	    counter >= WECOM_M_NCOUNTERS)
		return;
	__atomic_fetch_add(&a->counters[counter], 1, __ATOMIC_RELAXED);
	if (counter == WECOM_M_REPLIES)
		wecom_metrics_minute(m, app, WECOM_H_REPLIES, time(NULL));
	else if (counter == WECOM_M_STALE)
		wecom_metrics_minute(m, app, WECOM_H_ERRORS, time(NULL));
}

void
wecom_metrics_error(struct wecom_metrics *m, size_t app, int code)
{
	struct m_app	*a;
	int		 i;

	if ((a = m_app(m, app)) == NULL)
		return;
	i = code <= ERR_FIRST && code >= ERR_LAST ? ERR_FIRST - code :
	    ERR_OTHER;
	__atomic_fetch_add(&a->errors[i], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&a->counters[WECOM_M_ERRORS], 1, __ATOMIC_RELAXED);
	wecom_metrics_minute(m, app, WECOM_H_ERRORS, time(NULL));
}

void
wecom_metrics_api(struct wecom_metrics *m, size_t app, long errcode)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL)
		return;
	__atomic_fetch_add(m_api_slot(m, a, errcode), 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&a->counters[WECOM_M_API_CALLS], 1,
	    __ATOMIC_RELAXED);
}

void
wecom_metrics_gauge(struct wecom_metrics *m, size_t app, int gauge,
    int64_t value)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL || gauge < 0 ||
	    gauge >= WECOM_G_NGAUGES)
		return;
	__atomic_store_n(&a->gauges[gauge], value, __ATOMIC_RELAXED);
}

int64_t
wecom_metrics_get(struct wecom_metrics *m, size_t app, int counter)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL || counter < 0 ||
	    counter >= WECOM_M_NCOUNTERS + NSUMS)
		return (0);
	return (__atomic_load_n(&a->counters[counter], __ATOMIC_RELAXED));
}

int64_t
wecom_metrics_get_gauge(struct wecom_metrics *m, size_t app, int gauge)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL || gauge < 0 ||
	    gauge >= WECOM_G_NGAUGES)
		return (0);
	return (__atomic_load_n(&a->gauges[gauge], __ATOMIC_RELAXED));
}

/*
 * Families in a fixed order, each with its HELP and TYPE even before it
 * has a sample, so a dashboard sees every name from the start.
 */
char *
wecom_metrics_render(struct wecom_metrics *m, size_t *len)
{
	struct wecom_buf	b;

	memset(&b, 0, sizeof(b));
	render_types(&b, m);
	render_counters(&b, m);
	render_errors(&b, m);
	render_api(&b, m);
	render_gauges(&b, m);
	render_checks(&b, m);
	render_push(&b, m);

	return (wecom_buf_take(&b, len));
}

static void
render_types(struct wecom_buf *b, struct wecom_metrics *m)
{
	struct m_app	*a;
	size_t		 i, j, n;

	buf_family(b, "wecom_callbacks_total",
	    "Callbacks received, by message type or event:name.", "counter");
	for (i = 0; i < m->napps; i++) {
		a = &m->apps[i];
		n = __atomic_load_n(&a->ntypes, __ATOMIC_ACQUIRE);
		for (j = 0; j < n; j++)
			buf_series(b, m, a, "wecom_callbacks_total", "type",
			    a->types[j].label, &a->types[j].n);
		if (__atomic_load_n(&a->types_other, __ATOMIC_RELAXED) != 0)
			buf_series(b, m, a, "wecom_callbacks_total", "type",
			    "other", &a->types_other);
	}
}

static void
render_counters(struct wecom_buf *b, struct wecom_metrics *m)
{
	size_t	i;
	int	k;

	for (k = 0; k < WECOM_M_NCOUNTERS; k++) {
		buf_family(b, counters[k].name, counters[k].help, "counter");
		for (i = 0; i < m->napps; i++)
			buf_series(b, m, &m->apps[i], counters[k].name, NULL,
			    NULL, &m->apps[i].counters[k]);
	}
}

/* Only the codes that happened: most never do. */
static void
render_errors(struct wecom_buf *b, struct wecom_metrics *m)
{
	struct m_app	*a;
	char		 v[32];
	size_t		 i;
	int		 k;

	buf_family(b, "wecom_callback_errors_total",
	    "Callbacks refused, by official error code.", "counter");
	for (i = 0; i < m->napps; i++) {
		a = &m->apps[i];
		for (k = 0; k <= ERR_OTHER; k++) {
			if (__atomic_load_n(&a->errors[k],
			    __ATOMIC_RELAXED) == 0)
				continue;
			if (k == ERR_OTHER)
				snprintf(v, sizeof(v), "other");
			else
				snprintf(v, sizeof(v), "%d", ERR_FIRST - k);
			buf_series(b, m, a, "wecom_callback_errors_total",
			    "code", v, &a->errors[k]);
		}
	}
}

static void
render_api(struct wecom_buf *b, struct wecom_metrics *m)
{
	struct m_app	*a;
	char		 v[32];
	size_t		 i, j, n;

	buf_family(b, "wecom_api_calls_total",
	    "Corporate API calls, by the errcode WeCom answered.", "counter");
	for (i = 0; i < m->napps; i++) {
		a = &m->apps[i];
		n = __atomic_load_n(&a->napi, __ATOMIC_ACQUIRE);
		for (j = 0; j < n; j++) {
			snprintf(v, sizeof(v), "%" PRId64, a->api[j].errcode);
			buf_series(b, m, a, "wecom_api_calls_total",
			    "errcode", v, &a->api[j].n);
		}
		if (__atomic_load_n(&a->api_other, __ATOMIC_RELAXED) != 0)
			buf_series(b, m, a, "wecom_api_calls_total",
			    "errcode", "other", &a->api_other);
	}
}

static void
render_gauges(struct wecom_buf *b, struct wecom_metrics *m)
{
	size_t	i;
	int	k;

	for (k = 0; k < WECOM_G_NGAUGES; k++) {
		buf_family(b, gauges[k].name, gauges[k].help, "gauge");
		for (i = 0; i < m->napps; i++)
			buf_series(b, m, &m->apps[i], gauges[k].name, NULL,
			    NULL, &m->apps[i].gauges[k]);
	}
}

/*
 * Only credentials that are checked (an app without a secret has none),
 * each family whole, as the text format wants.
 */
static void
render_checks(struct wecom_buf *b, struct wecom_metrics *m)
{
	static const char *const	 name[2] = { "wecom_credential_ok",
					    "wecom_credential_alerts_total" };
	struct wecom_metrics_check	 c;
	int64_t				 v;
	size_t				 i;
	int				 k;

	for (k = 0; k < 2; k++) {
		if (k == 0)
			buf_family(b, name[k], "1 while an app's secret yields "
			    "a token or a bot's long connection is subscribed, "
			    "0 while it fails, -1 not known yet.", "gauge");
		else
			buf_family(b, name[k], "Alerts and recovery messages "
			    "queued for a credential (watch_robot, watch_app).",
			    "counter");
		for (i = 0; i < m->napps; i++) {
			if (wecom_metrics_check_get(m, i, &c) == -1 ||
			    c.checked == 0)
				continue;
			v = k == 0 ? c.ok : c.alerts;
			buf_series(b, m, &m->apps[i], name[k], NULL, NULL, &v);
		}
	}
}

static void
render_push(struct wecom_buf *b, struct wecom_metrics *m)
{
	static const char *const	result[WECOM_PUSH_NRESULTS] = {
		"sent", "queued", "refused", "failed"
	};
	int				r;

	buf_family(b, "wecom_push_requests_total", "Push API requests, by "
	    "what came of them.", "counter");
	for (r = 0; r < WECOM_PUSH_NRESULTS; r++)
		wecom_buf_addf(b, "wecom_push_requests_total{result=\"%s\"} "
		    "%lld\n", result[r],
		    (long long)wecom_metrics_push_get(m, r));
}

static int
m_lock(struct wecom_metrics *m)
{
	int	rc;

	/* A dead holder can at worst have written a label it never
	 * published: the tables are consistent as they are. */
	if ((rc = pthread_mutex_lock(&m->lock)) == EOWNERDEAD &&
	    (rc = pthread_mutex_consistent(&m->lock)) != 0)
		pthread_mutex_unlock(&m->lock);

	return (rc == 0 ? 0 : -1);
}

/*
 * The counter of a type label: found among the published ones without
 * a lock; added under the lock, where another process may just have
 * added it.
 */
static int64_t *
m_type_slot(struct wecom_metrics *m, struct m_app *a, const char *type)
{
	size_t		 i, n, len;
	int64_t		*slot;

	if (type == NULL || (len = strlen(type)) >= WECOM_METRICS_TYPE_LEN)
		return (&a->types_other);

	n = __atomic_load_n(&a->ntypes, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++)
		if (strcmp(a->types[i].label, type) == 0)
			return (&a->types[i].n);
	if (n == WECOM_METRICS_TYPES_MAX || m_lock(m) == -1)
		return (&a->types_other);

	slot = &a->types_other;
	n = a->ntypes;
	for (; i < n; i++)
		if (strcmp(a->types[i].label, type) == 0)
			break;
	if (i < n) {
		slot = &a->types[i].n;
	} else if (n < WECOM_METRICS_TYPES_MAX) {
		memcpy(a->types[n].label, type, len + 1);
		__atomic_store_n(&a->ntypes, n + 1, __ATOMIC_RELEASE);
		slot = &a->types[n].n;
	}
	pthread_mutex_unlock(&m->lock);

	return (slot);
}

static int64_t *
m_api_slot(struct wecom_metrics *m, struct m_app *a, long errcode)
{
	size_t		 i, n;
	int64_t		*slot;

	n = __atomic_load_n(&a->napi, __ATOMIC_ACQUIRE);
	for (i = 0; i < n; i++)
		if (a->api[i].errcode == errcode)
			return (&a->api[i].n);
	if (n == WECOM_METRICS_API_MAX || m_lock(m) == -1)
		return (&a->api_other);

	slot = &a->api_other;
	n = a->napi;
	for (; i < n; i++)
		if (a->api[i].errcode == errcode)
			break;
	if (i < n) {
		slot = &a->api[i].n;
	} else if (n < WECOM_METRICS_API_MAX) {
		a->api[n].errcode = errcode;
		__atomic_store_n(&a->napi, n + 1, __ATOMIC_RELEASE);
		slot = &a->api[n].n;
	}
	pthread_mutex_unlock(&m->lock);

	return (slot);
}

/* A label value as the text format wants it: \, " and newline escaped. */
static void
buf_label(struct wecom_buf *b, const char *s)
{
	size_t	run;

	while (*s != '\0') {
		run = strcspn(s, "\\\"\n");
		wecom_buf_add(b, s, run);
		s += run;
		if (*s == '\0')
			break;
		if (*s == '\n')
			wecom_buf_add(b, "\\n", 2);
		else if (*s == '"')
			wecom_buf_add(b, "\\\"", 2);
		else
			wecom_buf_add(b, "\\\\", 2);
		s++;
	}
}

static void
buf_family(struct wecom_buf *b, const char *name, const char *help,
    const char *type)
{
	wecom_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
buf_series(struct wecom_buf *b, struct wecom_metrics *m, const struct m_app *a,
    const char *name, const char *label, const char *value, const int64_t *n)
{
	wecom_buf_addf(b, "%s{app=\"", name);
	buf_label(b, m->names + a->name);
	if (label != NULL) {
		wecom_buf_addf(b, "\",%s=\"", label);
		buf_label(b, value);
	}
	wecom_buf_addf(b, "\"} %" PRId64 "\n", __atomic_load_n(n, __ATOMIC_RELAXED));
}
