/* SPDX-License-Identifier: ISC */
/*
 * Private: the Kore glue's process state — one structure, made by
 * server.c and handed to each part at start-up — and what the parts
 * offer each other. Bottom-up, each file calls only those before it:
 * tap.c (who watches messages), http.c (answers), observe.c (shared counters, /metrics), upkeep.c,
 * dispatch.c (callbacks, threads), push.c, relay.c, sandbox.c, and
 * server.c, which routes and which nothing calls.
 */

#ifndef WECOM_SERVER_H
#define WECOM_SERVER_H

#include <stddef.h>

#include "wecom_config.h"
#include "wecom_app.h"

struct http_request;
struct wecom_ctx;
struct wecom_dedupe;
struct wecom_job;
struct wecom_msg;
struct wecom_metrics;
struct wecom_query;
struct wecom_runner;
struct wecom_sink;
struct wecom_streams;
struct wecom_ws_state;
struct wecom_xml;

struct wecom_server {
	struct wecom_conf	 conf;		/* parent; read-only after */
	struct wecom_app_list	 apps;
	struct wecom_metrics	*metrics;	/* shared mappings, made */
	struct wecom_dedupe	*dedupe;	/* in the parent; NULL: off */
	struct wecom_streams	*streams;	/* callback-mode bots' */
	/* Long connections: their states, shared, in conf->bots' order. */
	struct wecom_ws_state	*ws_states;
	size_t			 nws;
};

/* tap.c: fn sees every app's messages, after their handlers. */
int	wecom_tap_add(struct wecom_server *, void (*fn)(void *,
	    const struct wecom_ctx *), void *arg);

/* observe.c */
int	wecom_observe_init(struct wecom_server *, char *, size_t);
int	wecom_observe_http(struct http_request *);
void	wecom_observe_api(void *, const char *, long);

/* upkeep.c */
void	wecom_upkeep_init(struct wecom_server *, struct wecom_runner *);

/* dispatch.c */
int	wecom_dispatch_init(struct wecom_server *);
int	wecom_dispatch_post(struct http_request *, struct wecom_app *,
	    struct wecom_xml *, const struct wecom_query *, const char *,
	    size_t);
int	wecom_dispatch_resume(struct http_request *);
void	wecom_dispatch_count(struct wecom_app *, const struct wecom_msg *);
int	wecom_dispatch_detached(struct wecom_app *, const char *, size_t,
	    const char *, struct wecom_sink *, const unsigned char *);
int	wecom_dispatch_chore(struct http_request *,
	    void (*)(struct wecom_job *), int (*)(void *, struct wecom_job *),
	    void (*)(void *), void *);

/* aibot.c */
int	wecom_aibot_preload(struct wecom_server *);
void	wecom_aibot_init(struct wecom_server *);

/* push.c, relay.c */
int	wecom_push_init(const struct wecom_conf *, char *, size_t);
int	wecom_push_route(struct http_request *, int *);
int	wecom_relay_init(const struct wecom_conf *, char *, size_t);
int	wecom_relay_route(struct http_request *, int *);

/* sandbox.c */
void	wecom_sandbox_init(const struct wecom_app_list *);

#endif
