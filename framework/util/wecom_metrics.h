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

/* The exposition, malloc'ed, of *len bytes plus a NUL; NULL when out
 * of memory. Content-Type: text/plain; version=0.0.4 */
char	*wecom_metrics_render(struct wecom_metrics *, size_t *len);

#endif
