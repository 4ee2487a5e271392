/*
 * Private: what the Kore glue files share — answering and refusing
 * requests, counting — and the dispatch of POSTed callbacks.
 */

#ifndef WECOM_SERVER_H
#define WECOM_SERVER_H

#include <stddef.h>

struct http_request;
struct json_t;
struct wecom_app;
struct wecom_app_list;
struct wecom_conf;
struct wecom_query;
struct wecom_result;
struct wecom_xml;

int	wecom_server_refuse(struct http_request *, int status, int code,
	    const char *why);
int	wecom_server_stale(struct http_request *, struct wecom_app *);
void	wecom_server_answer(struct http_request *, struct wecom_result *);
void	wecom_server_log(struct http_request *, int status, const char *why);
int	wecom_server_json(struct http_request *, int status, struct json_t *);
const void	*wecom_server_peer(struct http_request *);
int	wecom_server_origin(struct http_request *, int *, void *);
int	wecom_push_init(const struct wecom_conf *, char *, size_t);
int	wecom_relay_init(const struct wecom_conf *, char *, size_t);
int	wecom_relay_route(struct http_request *, int *);
int	wecom_push_route(struct http_request *, int *);
void	wecom_server_deferred(struct wecom_app *);
void	wecom_server_delivered(struct wecom_app *, int delivery);

void	wecom_dispatch_preload(struct wecom_conf *);
void	wecom_sandbox_init(const struct wecom_app_list *);
int	wecom_dispatch_init(const struct wecom_conf *, struct wecom_app_list *);
int	wecom_dispatch_post(struct http_request *, struct wecom_app *,
	    struct wecom_xml *, const struct wecom_query *, const char *,
	    size_t);
int	wecom_dispatch_resume(struct http_request *);
struct wecom_job;
int	wecom_dispatch_chore(struct http_request *,
	    void (*)(struct wecom_job *), int (*)(void *, struct wecom_job *),
	    void (*)(void *), void *);

struct wecom_dedupe;
struct wecom_metrics;

int	wecom_observe_init(const struct wecom_conf *, struct wecom_app_list *,
	    char *, size_t);
int	wecom_observe_http(struct http_request *);
struct wecom_metrics	*wecom_observe_metrics(void);
void	wecom_observe_api(void *, const char *, long);

struct wecom_job;
struct wecom_runner;

void	wecom_upkeep_init(const struct wecom_conf *, struct wecom_app_list *,
	    struct wecom_runner *);
void	wecom_upkeep_done(struct wecom_job *);
struct wecom_dedupe	*wecom_observe_dedupe(void);

#endif
