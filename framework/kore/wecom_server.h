/* SPDX-License-Identifier: ISC */
/*
 * Private: the Kore glue's process state — one structure, made by
 * server.c and handed to each part at start-up — and what the parts
 * offer each other. Bottom-up, each file calls only those before it:
 * tap.c (who watches messages), http.c (answers), observe.c (shared
 * counters, /metrics), status_html.c and status.c (/status), watch.c
 * (credential alerts), upkeep.c, claims.c (retries across servers),
 * dispatch.c (callbacks, threads),
 * aibot.c (long connections), push.c, contacts.c (the contacts cache
 * and its API), messages.c (the message log), relay.c, events_json.c,
 * events_bus.c, events_client.c and events.c (live events), commands.c
 * (the command helper), sandbox.c, and server.c, which routes and which
 * nothing calls.
 */

#ifndef WECOM_SERVER_H
#define WECOM_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "wecom_config.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_store.h"

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
	/* The store's counters, every process's (wecom_store_count()). */
	uint64_t		*store_counts;
};

/* tap.c: fn sees every app's messages, after their handlers. */
int	wecom_tap_add(struct wecom_server *, void (*fn)(void *,
	    const struct wecom_ctx *), void *arg);

/* observe.c */
int	wecom_observe_init(struct wecom_server *, char *, size_t);
int	wecom_observe_http(struct http_request *);
void	wecom_observe_api(void *, const char *, long);
void	wecom_dispatch_count(struct wecom_app *, const struct wecom_msg *);
void	wecom_observe_deferred(struct wecom_app *, int streams);
void	wecom_observe_delivered(struct wecom_app *, int sent, int failed);

/* status.c */
int	wecom_status_init(struct wecom_server *, char *, size_t);
int	wecom_status_http(struct http_request *);

/* watch.c: a credential's check result, on worker 1's chore thread. */
int	wecom_watch_init(struct wecom_server *, char *, size_t);
void	wecom_watch_check(const struct wecom_app *, int ok, long errcode,
	    int code, int64_t now);

/* upkeep.c */
void	wecom_upkeep_init(struct wecom_server *, struct wecom_runner *);

/* dispatch.c */
int	wecom_dispatch_init(struct wecom_server *);
int	wecom_dispatch_post(struct http_request *, struct wecom_app *,
	    struct wecom_xml *, const struct wecom_query *, const char *,
	    size_t);
int	wecom_dispatch_resume(struct http_request *);
int	wecom_dispatch_detached(struct wecom_app *, const char *, size_t,
	    const char *, struct wecom_sink *, const unsigned char *);
int	wecom_dispatch_chore(struct http_request *,
	    void (*)(struct wecom_job *), int (*)(void *, struct wecom_job *),
	    void (*)(void *), void *);

/* aibot.c */
int	wecom_aibot_preload(struct wecom_server *);
void	wecom_aibot_init(struct wecom_server *);

/* push.c */
int	wecom_push_init(struct wecom_server *, char *, size_t);
int	wecom_push_route(struct http_request *, int *);

/*
 * contacts.c (issue 13): each app's directory cached in state_dir by
 * worker 1, refreshed on change_contact; GET /api/v1/users,
 * /departments and /chats. init in each worker.
 */
void	wecom_contacts_init(struct wecom_server *);
int	wecom_contacts_route(struct http_request *, int *);

/* messages.c: the message log (log = yes) and GET /api/v1/messages. */
void	wecom_messages_init(struct wecom_server *);
void	wecom_messages_stop(void);
int	wecom_messages_route(struct http_request *, int *);
void	wecom_messages_stats(uint64_t *logged, uint64_t *dropped);

/* relay.c */
int	wecom_relay_init(const struct wecom_conf *, char *, size_t);
int	wecom_relay_route(struct http_request *, int *);

/*
 * ---- Live events (issue 13): GET /api/v1/events, a WebSocket. ----
 * events_json.c: a message as the events' JSON; events_bus.c: from the
 * handler threads to every worker's event loop; events_client.c: one
 * client; events.c: the route and the worker's clients.
 */
struct connection;
struct json_t;
struct wecom_apikey;

struct wecom_event {
	size_t		 app;		/* its index in the app list */
	const char	*msgtype;	/* "" when absent */
	const char	*event;		/* "" when absent */
	const char	*json;		/* len bytes, not NUL-terminated */
	size_t		 len;
};

#define WECOM_EVENTS_RET_OK		0	/* AuthCheckResult retCode */
#define WECOM_EVENTS_RET_WRONG_KEY	1000
#define WECOM_EVENTS_RET_FILTER		1001
#define WECOM_EVENTS_CLOSE_POLICY	1008	/* close codes (RFC 6455) */
#define WECOM_EVENTS_CLOSE_SLOW		4000
#define WECOM_EVENTS_CLOSE_NO_PONG	4001

enum wecom_events_state {
	WECOM_EVENTS_AUTH,		/* waiting for its key */
	WECOM_EVENTS_WAIT,		/* until every worker knows */
	WECOM_EVENTS_LIVE,
	WECOM_EVENTS_CLOSING,
};

struct wecom_events_client {
	struct connection		*c;
	const struct wecom_apikey	*key;		/* NULL: not yet */
	unsigned char			*allow;		/* by app index */
	size_t				 nallow;
	char				*types;		/* NULL: any */
	char				*qapps, *qtypes; /* the query's */
	char				 peer[48];
	unsigned long			 id;
	enum wecom_events_state		 state;
	int				 counted;	/* authenticated */
	uint64_t			 opened, next_ping, closing;
	TAILQ_ENTRY(wecom_events_client) list;
};

char	*wecom_events_json(const struct wecom_ctx *, size_t max, size_t *len);
int	wecom_events_bus_init(struct wecom_server *,
	    void (*deliver)(const struct wecom_event *), void (*live)(void));
int	wecom_events_bus_want(int on);
void	wecom_events_bus_tick(void);
int	wecom_events_client_filters(struct wecom_events_client *,
	    const struct wecom_app_list *, const char *apps,
	    const char *types, char *why, size_t);
int	wecom_events_client_wants(const struct wecom_events_client *,
	    const struct wecom_event *);
int	wecom_events_list(struct json_t *, const char *name,
	    const char *dflt, char *buf, size_t);
void	wecom_events_client_result(struct wecom_events_client *, int code,
	    const char *why);
void	wecom_events_client_send(struct wecom_events_client *,
	    const char *json, size_t);
void	wecom_events_client_close(struct wecom_events_client *, int code,
	    const char *why);
void	wecom_events_client_ping(struct wecom_events_client *, uint64_t now,
	    long ping_ms);
void	wecom_events_client_free(struct wecom_events_client *);
void	wecom_events_init(struct wecom_server *);
int	wecom_events_route(struct http_request *, int *);
/* ---- end of live events ---- */

/* claims.c: WeCom's retries across servers (the store's retry table) */
struct wecom_claim {
	struct wecom_app		*app;
	struct wecom_xml		*x;
	struct wecom_query		 q;	/* into sig, ts, nonce */
	char				 sig[48], ts[24], nonce[72];
	char				*body;
	size_t				 len;
	unsigned char			 dkey[20];
	int				 rc;	/* WECOM_STORE_OK: res */
	struct wecom_store_retry	 res;
};
void	wecom_claims_init(struct wecom_server *, struct wecom_runner *);
int	wecom_claim_seen(struct wecom_app *, const struct wecom_msg *,
	    unsigned char *, char *, size_t, size_t *);
int	wecom_claim_ours(struct wecom_claim *);
void	wecom_claim_keep(const unsigned char *, const char *, size_t,
	    int forget);
struct wecom_claim	*wecom_claim_new(struct wecom_app *, struct wecom_xml *,
			    const struct wecom_query *, const char *, size_t,
			    const unsigned char *);
void	wecom_claim_free(void *);
void	wecom_claim_chore(struct wecom_job *);

/* refresh.c: a bot's stream refresh, from this host's table or the store */
struct wecom_refresh {
	struct wecom_app	*app;
	char			 nonce[72];
	char			 id[33];	/* WECOM_STREAM_ID_LEN + 1 */
	int			 ask_store;	/* not here: a chore's */
	char			*answer;	/* NULL: an empty one */
	size_t			 len;
};
void	wecom_refresh_init(struct wecom_server *);
int	wecom_refresh_is(const struct wecom_app *, const struct wecom_msg *);
struct wecom_refresh	*wecom_refresh_new(struct wecom_app *, const char *,
			    const struct wecom_msg *);
void	wecom_refresh_chore(struct wecom_job *);
void	wecom_refresh_free(void *);

/* commands.c: the command helper, started in the parent */
int	wecom_commands_start(char *, size_t);
void	wecom_commands_worker(void);

#endif
