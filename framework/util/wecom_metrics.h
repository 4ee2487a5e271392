/* SPDX-License-Identifier: ISC */
/*
 * Counters every worker process adds to, in one shared mapping made by
 * the parent before the fork, rendered in the Prometheus text format
 * (version 0.0.4) for a /metrics handler. Adding is an atomic add, no
 * lock; only the first sight of a new label value takes one.
 */

#ifndef WECOM_METRICS_H
#define WECOM_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Counters per app, for wecom_metrics_inc() and wecom_metrics_get(). */
#define WECOM_M_REPLIES			0	/* passive replies sent */
#define WECOM_M_DUPLICATES		1	/* retries recognised */
#define WECOM_M_DEFERRED		2	/* work queued to the outbox */
#define WECOM_M_TOKEN_REFRESHES		3
#define WECOM_M_DEFERRED_DELIVERED	4
#define WECOM_M_DEFERRED_FAILED		5
#define WECOM_M_STALE			6	/* refused for their timestamp */
#define WECOM_M_NCOUNTERS		7
/* Sums, only for wecom_metrics_get(); kept by the labelled calls. */
#define WECOM_M_CALLBACKS		7	/* wecom_metrics_callback() */
#define WECOM_M_ERRORS			8	/* wecom_metrics_error() */
#define WECOM_M_API_CALLS		9	/* wecom_metrics_api() */

/* Gauges per app. */
#define WECOM_G_OUTBOX_DEPTH		0
#define WECOM_G_OUTBOX_OLDEST_SECONDS	1
#define WECOM_G_TOKEN_OK		2	/* 1, 0, or -1: not known yet */
#define WECOM_G_NGAUGES			3

#define WECOM_METRICS_TYPES_MAX		64	/* type labels per app */
#define WECOM_METRICS_TYPE_LEN		64	/* longer ones count as other */
#define WECOM_METRICS_API_MAX		32	/* errcodes per app */

struct wecom_metrics;

/* The app index of every other call is the position in apps. */
struct wecom_metrics	*wecom_metrics_new(const char *const *apps,
			    size_t napps);
void			 wecom_metrics_free(struct wecom_metrics *);
/* Bytes mapped, for the memory budget. */
size_t			 wecom_metrics_size(const struct wecom_metrics *);

/* A callback by msgtype, or "event:click"; past the label table of
 * the app, or longer than WECOM_METRICS_TYPE_LEN - 1, it is "other". */
void	wecom_metrics_callback(struct wecom_metrics *, size_t app,
	    const char *type);
void	wecom_metrics_inc(struct wecom_metrics *, size_t app, int counter);
/* Callbacks refused with an official -40001 … -40011 code; any other
 * code is "other". */
void	wecom_metrics_error(struct wecom_metrics *, size_t app, int code);
/* API calls by the errcode WeCom answered (0: ok). */
void	wecom_metrics_api(struct wecom_metrics *, size_t app, long errcode);
void	wecom_metrics_gauge(struct wecom_metrics *, size_t app, int gauge,
	    int64_t value);

/* For tests and /healthz; an unknown app, counter or gauge reads 0. */
int64_t	wecom_metrics_get(struct wecom_metrics *, size_t app, int counter);
int64_t	wecom_metrics_get_gauge(struct wecom_metrics *, size_t app,
	    int gauge);

/*
 * The push API's requests by what came of them: sent (200), queued
 * (202), refused (4xx: the caller's), failed (5xx: WeCom or ours).
 */
#define WECOM_PUSH_NRESULTS		4
void	wecom_metrics_push(struct wecom_metrics *, int http_status);
int64_t	wecom_metrics_push_get(struct wecom_metrics *, int result);

/* The exposition, malloc'ed, of *len bytes plus a NUL; NULL when out
 * of memory. Content-Type: text/plain; version=0.0.4 */
char	*wecom_metrics_render(struct wecom_metrics *, size_t *len);

/*
 * The recent past, for a status page (metrics_recent.c): the last hour
 * minute by minute, each credential's last check, the outbox as the
 * last drain saw it, and the last refusals. Same mapping, same rule:
 * a writer never waits for a reader or for another writer.
 */
#define WECOM_H_CALLBACKS		0	/* wecom_metrics_callback() */
#define WECOM_H_REPLIES			1	/* WECOM_M_REPLIES */
#define WECOM_H_ERRORS			2	/* _error(), WECOM_M_STALE */
#define WECOM_H_NSERIES			3
#define WECOM_METRICS_MINUTES		60

/* One more in series at unix time now (the calls above do it). */
void	 wecom_metrics_minute(struct wecom_metrics *, size_t app,
	    int series, int64_t now);
/* out[WECOM_METRICS_MINUTES - 1] is now's minute, out[0] the one 59
 * minutes before; returns their sum. */
uint64_t wecom_metrics_history(struct wecom_metrics *, size_t app,
	    int series, int64_t now, uint32_t out[WECOM_METRICS_MINUTES]);

/* A credential's last check: an app's token, a bot's subscribe. */
struct wecom_metrics_check {
	int64_t		checked;	/* unix s; 0: never */
	int64_t		since;		/* unix s this state began */
	int64_t		errcode;	/* WeCom's; 0: none */
	int32_t		code;		/* the checker's result; 0: ok */
	int32_t		ok;		/* 1, 0; -1: not known yet */
	int64_t		alerts;		/* read only: _alerted() counts */
};
void	wecom_metrics_check_set(struct wecom_metrics *, size_t app,
	    const struct wecom_metrics_check *);
/* 0, or -1 for an unknown app (then *c says "never checked"). */
int	wecom_metrics_check_get(struct wecom_metrics *, size_t app,
	    struct wecom_metrics_check *);
/* An alert or a recovery message was queued for the app. */
void	wecom_metrics_alerted(struct wecom_metrics *, size_t app);

/* The host's one outbox. */
struct wecom_metrics_outbox {
	int64_t		checked;	/* unix s; 0: never */
	int64_t		queued;
	int64_t		failed;		/* given up, in failed/ */
	int64_t		oldest;		/* s, of the oldest queued */
};
void	wecom_metrics_outbox_set(struct wecom_metrics *,
	    const struct wecom_metrics_outbox *);
void	wecom_metrics_outbox_get(struct wecom_metrics *,
	    struct wecom_metrics_outbox *);

/* A refused request, as its log line tells it: never a secret. */
#define WECOM_METRICS_REFUSALS		20
struct wecom_metrics_refusal {
	int64_t		time;		/* unix s */
	int32_t		status;
	char		peer[104];	/* "192.0.2.7 via 127.0.0.1" */
	char		method[8];
	char		path[128];
	char		why[160];
};
/* Kept among the last WECOM_METRICS_REFUSALS; dropped, never waited
 * for, if another writer is at its slot. Strings are cut to fit. */
void	wecom_metrics_refusal(struct wecom_metrics *,
	    const struct wecom_metrics_refusal *);
/* Newest first; returns how many were copied to out (at most max). */
size_t	wecom_metrics_refusals(struct wecom_metrics *,
	    struct wecom_metrics_refusal *out, size_t max);

#endif
