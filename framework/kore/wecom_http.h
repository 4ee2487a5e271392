/* SPDX-License-Identifier: ISC */
/*
 * Private: answering requests, shared by every part of the Kore glue
 * (http.c). The lowest file of the glue: it calls none of the others.
 */

#ifndef WECOM_HTTP_H
#define WECOM_HTTP_H

struct http_request;
struct json_t;
struct wecom_app;
struct wecom_metrics;
struct wecom_result;

/* Where refusals are told besides the log (NULL: nowhere). */
void	wecom_http_init(struct wecom_metrics *);
int	wecom_http_refuse(struct http_request *, int status, int code,
	    const char *why);
int	wecom_http_stale(struct http_request *, struct wecom_metrics *,
	    const struct wecom_app *);
void	wecom_http_answer(struct http_request *, struct wecom_result *);
void	wecom_http_log(struct http_request *, int status, const char *why);
int	wecom_http_json(struct http_request *, int status, struct json_t *);
const void	*wecom_http_peer(struct http_request *);

/*
 * The push API key a request presents, as a Bearer token or else in
 * X-Api-Key (never a URL's: logs keep URLs). NULL if none or unknown.
 * *given: WECOM_HTTP_KEY_GIVEN if a key came, WECOM_HTTP_KEY_OTHER if
 * an Authorization header of another scheme did.
 */
#define WECOM_HTTP_KEY_GIVEN	0x01
#define WECOM_HTTP_KEY_OTHER	0x02
struct wecom_apikey_list;
const struct wecom_apikey	*wecom_http_apikey(struct http_request *,
				    const struct wecom_apikey_list *, int *);
int	wecom_http_origin(struct http_request *, int *, void *);

#endif
