/* SPDX-License-Identifier: ISC */
/*
 * The push API's Kore side: its paths, the caller's key, statuses and
 * JSON answers. A request is read on the event loop; queueing it in
 * the outbox and the first attempt to send it block, so they run on a
 * handler thread while the request sleeps.
 */

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>

#include "wecom.h"
#include "wecom_metrics.h"
#include "wecom_push.h"
#include "wecom_runner.h"
#include "wecom_http.h"
#include "wecom_server.h"

/* How long a request waits for another drainer before answering 202. */
#define PUSH_LOCK_WAIT_MS	2000

enum { PUSH_SEND, PUSH_SENDMSG, PUSH_ALERT };

static const struct {
	const char	*path;
	int		 kind;
} push_paths[] = {
	{ "/api/v1/send", PUSH_SEND },
	{ "/sendmsg", PUSH_SENDMSG },
	{ "/api/v1/alertmanager", PUSH_ALERT },
};

struct push_job {
	struct wecom_push		 p;
	char				*query;		/* copies the */
	char				*body;		/* push points into */
	const char			*who;		/* [apikey NAME] */
	char				 id[WECOM_OUTBOX_KEY_MAX + 1];
	int				 rc;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
};

/* Read in the parent; read-only in the workers. */
static const struct wecom_conf		*conf;
static struct wecom_apikey_list		 keys;
static struct wecom_metrics		*metrics;	/* shared */

static int	push_key(struct http_request *, const struct wecom_apikey **);
static int	push_read(struct http_request *, int, struct push_job *,
		    const struct wecom_apikey *);
static void	push_chore(struct wecom_job *);
static int	push_answer(void *, struct wecom_job *);
static void	push_release(void *);
static int	push_fail(struct http_request *, int, const char *);
static void	push_log(void *, int, const char *);

int
wecom_push_init(struct wecom_server *s, char *err, size_t errlen)
{
	const struct wecom_conf	*c = &s->conf;

	conf = c;
	metrics = s->metrics;
	return (wecom_apikeys_load(&keys, c, err, errlen) == 0 ? WECOM_OK :
	    WECOM_ERROR);
}

/* 1 if req is the push API's (then *rc is the route's result). */
int
wecom_push_route(struct http_request *req, int *rc)
{
	const struct wecom_apikey	*key;
	struct push_job			*job;
	size_t				 i;
	int				 kind, status;

	for (i = 0; i < sizeof(push_paths) / sizeof(push_paths[0]); i++)
		if (strcmp(req->path, push_paths[i].path) == 0)
			break;
	if (i == sizeof(push_paths) / sizeof(push_paths[0]) ||
	    TAILQ_EMPTY(&keys))
		return (0);
	kind = push_paths[i].kind;

	if (req->method != HTTP_METHOD_POST && (kind != PUSH_SENDMSG ||
	    req->method != HTTP_METHOD_GET)) {
		http_response_header(req, "allow", kind == PUSH_SENDMSG ?
		    "GET, POST" : "POST");
		*rc = push_fail(req, 405, "method not allowed");
		return (1);
	}
	if (push_key(req, &key) != 0) {
		http_response_header(req, "www-authenticate", "Bearer");
		*rc = push_fail(req, 401, "missing or wrong API key");
		return (1);
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		*rc = push_fail(req, 503, "out of memory");
		return (1);
	}
	if ((status = push_read(req, kind, job, key)) != 0) {
		*rc = push_fail(req, status, job->p.why);
		push_release(job);
		return (1);
	}
	*rc = wecom_dispatch_chore(req, push_chore, push_answer, push_release,
	    job);

	return (1);
}

/* Bearer token, X-Api-Key, or key= for tools that can only call a URL. */
static int
push_key(struct http_request *req, const struct wecom_apikey **key)
{
	const char	*h;
	char		*given, *form;
	int		 in_header;

	if ((*key = wecom_http_apikey(req, &keys, &in_header)) != NULL ||
	    (in_header & WECOM_HTTP_KEY_GIVEN))
		return (*key == NULL ? -1 : 0);
	given = NULL;
	if (req->query_string != NULL)
		given = wecom_form_get(req->query_string, "key");
	/* Kore's body is not NUL-terminated (and stringify would clobber it). */
	if (given == NULL && req->http_body != NULL &&
	    req->method == HTTP_METHOD_POST && http_request_header(req,
	    "content-type", &h) && strncasecmp(h,
	    "application/x-www-form-urlencoded", 33) == 0 &&
	    req->content_length <= conf->body_max &&
	    (form = strndup((const char *)req->http_body->data,
	    req->content_length)) != NULL) {
		given = wecom_form_get(form, "key");
		free(form);
	}

	*key = wecom_apikey_find(&keys, given);
	if (given != NULL) {
		explicit_bzero(given, strlen(given));
		free(given);
	}

	return (*key == NULL ? -1 : 0);
}

/* Copies of the query and body, parsed into job->p: 0 or a status. */
static int
push_read(struct http_request *req, int kind, struct push_job *job,
    const struct wecom_apikey *key)
{
	const char	*ctype;
	size_t		 len;

	len = req->http_body != NULL ? req->content_length : 0;
	if (len > conf->body_max) {
		snprintf(job->p.why, sizeof(job->p.why), "body: larger than "
		    "body_max (%zu bytes)", conf->body_max);
		return (413);
	}
	job->who = key->name;
	job->query = strdup(req->query_string ? req->query_string : "");
	job->body = malloc(len + 1);
	if (job->query == NULL || job->body == NULL) {
		snprintf(job->p.why, sizeof(job->p.why), "out of memory");
		return (503);
	}
	if (len > 0)
		memcpy(job->body, req->http_body->data, len);
	job->body[len] = '\0';
	if (!http_request_header(req, "content-type", &ctype))
		ctype = "";

	if (kind == PUSH_ALERT)
		return (wecom_push_alert(&job->p, conf, key, job->query,
		    job->body, len));
	if (kind == PUSH_SEND || strncasecmp(ctype, "application/json", 16) == 0)
		return (wecom_push_json(&job->p, conf, key, job->body, len));

	return (wecom_push_form(&job->p, conf, key, job->query,
	    req->method == HTTP_METHOD_POST ? job->body : NULL));
}

/* A handler thread: on disk first, then one attempt to send. */
static void
push_chore(struct wecom_job *wj)
{
	struct push_job	*job = wj->arg;

	job->rc = wecom_outbox_put(conf, &job->p.to, job->p.msg, &job->p.opts,
	    job->p.id[0] ? job->p.id : NULL, job->id, &job->err);
	if (job->rc == WECOM_API_OK)
		job->rc = wecom_outbox_send(conf, job->id, PUSH_LOCK_WAIT_MS,
		    push_log, NULL, &job->res, &job->err);
}

/* Back on the event loop: sent 200, queued 202, or why not. */
static int
push_answer(void *arg, struct wecom_job *wj)
{
	struct http_request	*req = arg;
	struct push_job		*job = wj->arg;
	json_t			*o;
	int			 status;

	if (job->rc == WECOM_API_OK)
		o = json_pack("{s:i, s:s, s:s, s:s*, s:s*, s:s*, s:s*}",
		    "code", 0, "message", "sent", "id", job->id,
		    "msgid", job->res.msgid,
		    "invaliduser", job->res.invaliduser,
		    "invalidparty", job->res.invalidparty,
		    "invalidtag", job->res.invalidtag);
	else if (job->rc == WECOM_OUTBOX_QUEUED)
		o = json_pack("{s:i, s:s, s:s, s:s*}", "code", 0,
		    "message", "queued: sent as soon as WeCom takes it",
		    "id", job->id, "error", job->err.code ? job->err.errmsg :
		    NULL);
	else
		o = json_pack("{s:I, s:s, s:s*, s:s*}", "code",
		    (json_int_t)(job->err.errcode ? job->err.errcode : 500),
		    "message", job->err.errmsg, "hint", job->err.hint,
		    "id", job->id[0] ? job->id : NULL);

	switch (job->rc) {
	case WECOM_API_OK:
		status = 200;
		break;
	case WECOM_OUTBOX_QUEUED:
		status = 202;
		break;
	case WECOM_API_ERR_ARG:
		status = 400;
		break;
	case WECOM_API_ERR_REJECTED:
	case WECOM_API_ERR_HTTP:
		status = 502;
		break;
	default:
		status = 503;
		break;
	}

	wecom_metrics_push(metrics, status);
	if (status >= 400)
		wecom_http_log(req, status, job->err.errmsg);
	else
		kore_log(LOG_INFO, "wecom: push [apikey %s] %s %s", job->who,
		    status == 200 ? "sent" : "queued", job->id);

	return (wecom_http_json(req, status, o));
}

static void
push_release(void *arg)
{
	struct push_job	*job = arg;

	wecom_push_clear(&job->p);
	wecom_send_result_free(&job->res);
	free(job->query);
	free(job->body);
	free(job);
}


/* A refusal: the log line says why, the JSON tells the caller. */
static int
push_fail(struct http_request *req, int status, const char *why)
{
	wecom_metrics_push(metrics, status);
	wecom_http_log(req, status, why);
	return (wecom_http_json(req, status, json_pack("{s:i, s:s}", "code", status,
	    "message", why)));
}

static void
push_log(void *arg, int priority, const char *line)
{
	if (priority <= LOG_WARNING)
		kore_log(priority, "wecom: push: %s", line);
}
