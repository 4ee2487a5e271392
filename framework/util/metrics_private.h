/* SPDX-License-Identifier: ISC */
/*
 * Private: the layout of the shared metrics mapping, for metrics.c (the
 * counters and their exposition) and metrics_recent.c (the last hour,
 * the checks, the refusals). Everything here lives in the mapping.
 */

#ifndef WECOM_METRICS_PRIVATE_H
#define WECOM_METRICS_PRIVATE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "wecom_metrics.h"

#define ERR_FIRST	-40001
#define ERR_LAST	-40011
#define ERR_OTHER	(ERR_FIRST - ERR_LAST + 1)	/* index of "other" */
#define NSUMS		3

struct m_type {
	char		label[WECOM_METRICS_TYPE_LEN];
	int64_t		n;
};

struct m_api {
	int64_t		errcode;
	int64_t		n;
};

/* A record read whole: seq is odd while it is written (a seqlock). */
struct m_check {
	uint32_t			seq;
	struct wecom_metrics_check	c;
};

struct m_app {
	int64_t		counters[WECOM_M_NCOUNTERS + NSUMS];
	int64_t		gauges[WECOM_G_NGAUGES];
	int64_t		errors[ERR_OTHER + 1];
	uint32_t	ntypes;		/* published entries */
	uint32_t	napi;
	int64_t		types_other;
	int64_t		api_other;
	size_t		name;		/* offset of the app's name */
	struct m_type	types[WECOM_METRICS_TYPES_MAX];
	struct m_api	api[WECOM_METRICS_API_MAX];
	/* Per minute: the minute's index (unix s / 60) in the high 32
	 * bits, its count in the low 32, so one CAS rotates and adds. */
	uint64_t	minutes[WECOM_H_NSERIES][WECOM_METRICS_MINUTES];
	struct m_check	check;
};

struct m_refusal {
	uint32_t			seq;
	uint64_t			n;	/* order of arrival */
	struct wecom_metrics_refusal	r;
};

/* What is the host's, not an app's. */
struct m_host {
	int64_t				push[WECOM_PUSH_NRESULTS];
	uint32_t			outbox_seq;
	struct wecom_metrics_outbox	outbox;
	uint64_t			nrefusals;	/* ever recorded */
	struct m_refusal		refusals[WECOM_METRICS_REFUSALS];
};

/* All in the shared mapping: header, apps, host, then the names. */
struct wecom_metrics {
	pthread_mutex_t	 lock;		/* label inserts only */
	size_t		 mapsz;
	size_t		 napps;
	struct m_app	*apps;
	struct m_host	*host;
	char		*names;
};

/* Inline, so that the two files share it without calling each other. */
static inline struct m_app *
m_app(struct wecom_metrics *m, size_t app)
{
	if (m == NULL || app >= m->napps)
		return (NULL);
	return (&m->apps[app]);
}

#endif
