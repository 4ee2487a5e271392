/* SPDX-License-Identifier: ISC */
/*
 * Private: what /status shows, copied out of the shared mappings once
 * per request (status.c), and its HTML (status_html.c).
 */

#ifndef WECOM_STATUS_H
#define WECOM_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "wecom_dedupe.h"
#include "wecom_metrics.h"
#include "wecom_ws.h"

#define WECOM_STATUS_ROBOTS	64

struct kore_buf;
struct wecom_app;
struct wecom_conf;

struct wecom_status_app {
	const struct wecom_app		*app;
	const char			*channel;	/* "app", "aibot …" */
	int				 credential;	/* has one to check */
	struct wecom_metrics_check	 check;
	int				 has_ws;
	struct wecom_ws_state		 ws;
	const char			*ws_status;
	uint32_t			 minutes[WECOM_H_NSERIES]
					    [WECOM_METRICS_MINUTES];
	uint64_t			 sum[WECOM_H_NSERIES];
};

struct wecom_status {
	const struct wecom_conf		*conf;
	int64_t				 now;
	struct wecom_status_app		*apps;
	size_t				 napps;
	const char			*robots[WECOM_STATUS_ROBOTS];
	size_t				 nrobots;
	struct wecom_metrics_outbox	 outbox;
	int				 dedupe_on;
	struct wecom_dedupe_stats	 dedupe;
	struct wecom_metrics_refusal	 refusals[WECOM_METRICS_REFUSALS];
	size_t				 nrefusals;
};

/* status_html.c */
void		 wecom_status_html(struct kore_buf *,
		    const struct wecom_status *);
const char	*wecom_status_hint(const struct wecom_metrics_check *);
void		 wecom_status_utf8(char *);

#endif
