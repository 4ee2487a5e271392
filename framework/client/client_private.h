/* SPDX-License-Identifier: ISC */
/*
 * Inside the API client. A request is built once (wecom_client_req_*),
 * then performed by whoever drives it — wecom_client_req_perform()
 * blocks, a later curl-multi driver in Kore's loop will not — and its
 * finished response is judged by wecom_client_req_finish(), which does
 * not care who performed it.
 *
 * The files depend on each other one way, bottom-up: client_error.c,
 * client_http.c (one request), client_retry.c (tries and backoff),
 * client_token.c (the token cache, fetched through client_retry.c),
 * client_call.c (tries with the token), then the API files on top.
 */

#ifndef WECOM_CLIENT_PRIVATE_H
#define WECOM_CLIENT_PRIVATE_H

#include <curl/curl.h>
#include <jansson.h>

#include "wecom_buf.h"
#include "wecom_client.h"

#define CLIENT_HASH_HEX		64	/* SHA-256 of corpid "\n" secret */
#define CLIENT_RESP_MAX		(4 * 1024 * 1024)

/* The longest pause between two attempts. */
#define CLIENT_RETRY_CAP_MS	8000

struct wecom_store;

struct client_token {
	char		value[WECOM_TOKEN_MAX + 1];
	int64_t		fetched_at;
	int64_t		expires_in;
};

struct wecom_client {
	const struct wecom_conf		*conf;
	const struct wecom_app_conf	*app;		/* NULL: robots only */
	char				 hash[CLIENT_HASH_HEX + 1];
	struct client_token		 token;		/* memory cache */
	const void			*ca_blob;	/* the conf's, or */
	void				*ca_copy;	/* one set on it */
	size_t				 ca_len;
	int				 max_attempts;
	long				 base_ms;
	long				 total_ms;
	wecom_api_observer		 observer;
	void				*observer_arg;
	struct wecom_store		*store;		/* made on first use */
};

#define REQ_GET		0
#define REQ_POST_JSON	1
#define REQ_POST_MEDIA	2
#define REQ_POST_RAW	3	/* the relay: bytes as a caller sent them */

/* What wecom_client_req_finish() decided. */
#define REQ_DONE	0	/* success: req->json holds the answer */
#define REQ_FAIL	1	/* err filled, do not retry */
#define REQ_BACKOFF	2	/* transient: retry after a delay */
#define REQ_NEWTOKEN	3	/* token rejected: drop it, retry once */

struct client_req {
	int			 method;
	int			 with_token;	/* add access_token= */
	char			*path;		/* relative to api_base */
	char			*query;		/* without the token */
	char			*body;		/* JSON */
	/* REQ_POST_MEDIA: the multipart field "media". */
	const void		*media;
	size_t			 media_len;
	char			*media_path;
	char			*media_name;
	/* REQ_POST_RAW. */
	const void		*raw;
	size_t			 raw_len;
	const char		*raw_type;
	char			*token;		/* the token this try used */

	CURL			*easy;
	curl_mime		*mime;
	struct curl_slist	*headers;
	char			 curl_err[CURL_ERROR_SIZE];
	struct wecom_buf	 resp;	/* at most CLIENT_RESP_MAX */
	long			 http_status;
	CURLcode		 curl_rc;
	json_t			*json;
};

/* client_error.c */
void	wecom_client_err_clear(struct wecom_api_error *);
int	wecom_client_err_set(struct wecom_api_error *, int code,
	    long errcode, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/* client_http.c: build, perform, judge one request. */
int	wecom_client_req_init(struct client_req *, int method,
	    const char *path, const char *query, int with_token);
void	wecom_client_req_free(struct client_req *);
int	wecom_client_req_body(struct client_req *, json_t *);
int	wecom_client_req_prepare(struct wecom_client *, struct client_req *,
	    const char *token, struct wecom_api_error *);
void	wecom_client_req_perform(struct client_req *);
int	wecom_client_req_finish(struct client_req *,
	    struct wecom_api_error *);
char	*wecom_client_escape(const char *);

/* client_retry.c: the steps of the retry loop, and its tokenless driver. */
struct client_retry {
	int64_t		start;		/* ms, monotonic */
	int		tries;		/* transient failures so far */
	int		attempts;	/* requests performed */
};

void	wecom_client_sleep_ms(long);
long	wecom_client_backoff_ms(const struct wecom_client *, int attempt);
void	wecom_client_retry_start(struct client_retry *);
int	wecom_client_try(struct wecom_client *, struct client_req *,
	    const char *token, struct client_retry *,
	    struct wecom_api_error *);
int	wecom_client_pause(const struct wecom_client *,
	    struct client_retry *);
int	wecom_client_retry_end(const struct client_retry *, int act,
	    struct wecom_api_error *);
int	wecom_client_retry(struct wecom_client *, struct client_req *,
	    struct wecom_api_error *);

/* client_token.c */
int	wecom_client_token_hash(const char *corpid, const char *secret,
	    char out[CLIENT_HASH_HEX + 1]);
int	wecom_client_state_dir(const struct wecom_client *,
	    struct wecom_api_error *);
int	wecom_client_token_get(struct wecom_client *, char *, size_t,
	    struct wecom_api_error *);
int	wecom_client_token_fresh(const struct client_token *, int64_t early);
int	wecom_client_token_fetch(struct wecom_client *, struct client_token *,
	    struct wecom_api_error *);
/* client_token_shared.c: the store's tier, or this: use the files. */
#define CLIENT_TOKEN_LOCAL	1
int	wecom_client_token_shared(struct wecom_client *, struct client_token *,
	    struct wecom_api_error *);
void	wecom_client_token_unshare(struct wecom_client *, const char *);
struct wecom_store	*wecom_client_store(struct wecom_client *);
void	wecom_client_token_drop(struct wecom_client *, const char *);

/* client_call.c: the driver the API calls use. */
int	wecom_client_get_json(struct wecom_client *, const char *path,
	    const char *query, json_t **, struct wecom_api_error *);
int	wecom_client_call(struct wecom_client *, struct client_req *,
	    struct wecom_api_error *);

/* client_msg.c */
json_t	*wecom_client_msg_body(const struct wecom_outmsg *,
	    const char *content);
const char	*wecom_client_msg_content(const struct wecom_outmsg *);
const char	*wecom_client_msg_fallback(const struct wecom_outmsg *);
size_t	wecom_client_msg_limit(const struct wecom_outmsg *);
char	*wecom_client_join(const char *list);

/* client_send.c, shared by message/send, appchat/send, webhook/send. */
typedef int	(*client_send_fn)(struct wecom_client *, const void *ctx,
		    json_t *body, struct wecom_send_result *,
		    struct wecom_api_error *);
int	wecom_client_send_parts(struct wecom_client *, const void *ctx,
	    const struct wecom_outmsg *, const struct wecom_send_opts *,
	    client_send_fn, struct wecom_send_result *,
	    struct wecom_api_error *);
int	wecom_client_result_take(struct wecom_send_result *, json_t *);
int	wecom_client_result_invalid(struct wecom_send_result *, json_t *);

/* client_media.c */
int	wecom_client_upload(struct wecom_client *, const char *path,
	    const char *query, int with_token, const char *file,
	    const char *name, const void *, size_t, json_t **,
	    struct wecom_api_error *);
int	wecom_client_media_id(json_t *, char **, struct wecom_api_error *);

/* client_robot_limit.c */
int	wecom_client_robot_wait(struct wecom_client *, const char *key,
	    struct wecom_api_error *);

#endif
