/* SPDX-License-Identifier: ISC */
/*
 * message/send and message/recall, and the part loop every sender
 * shares: content beyond WeCom's limit goes out as ordered parts (or
 * truncated), one request each, and the result lists every msgid.
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"

struct send_ctx {
	const struct wecom_target	*to;
	const struct wecom_send_opts	*opts;
};

static int	send_app(struct wecom_client *, const void *, json_t *,
		    struct wecom_send_result *, struct wecom_api_error *);
static int	set_list(json_t *, const char *, const char *);
static int	has_target(const struct wecom_target *);

int
wecom_client_send_parts(struct wecom_client *c, const void *ctx,
    const struct wecom_outmsg *m, const struct wecom_send_opts *opts,
    client_send_fn fn, struct wecom_send_result *res,
    struct wecom_api_error *err)
{
	const char	 *content;
	char		**parts;
	size_t		  n, i;
	json_t		 *body;
	int		  rc;

	content = wecom_client_msg_content(m);
	parts = NULL;
	n = 0;
	if (content != NULL && (rc = wecom_split(content, strlen(content),
	    wecom_client_msg_limit(m),
	    opts ? opts->long_content : WECOM_LONG_SPLIT, &parts, &n)) !=
	    WECOM_API_OK)
		return (wecom_client_err_set(err, rc, 0,
		    "cannot split the content"));

	rc = WECOM_API_OK;
	for (i = 0; rc == WECOM_API_OK && i < (content ? n : 1); i++) {
		if ((body = wecom_client_msg_body(m,
		    content ? parts[i] : NULL)) == NULL)
			rc = wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
			    "cannot build the %s message (not UTF-8?)",
			    wecom_outmsg_type(m));
		else
			rc = fn(c, ctx, body, res, err);
	}
	wecom_split_free(parts, n);

	return (rc);
}

int
wecom_message_send(struct wecom_client *c, const struct wecom_target *to,
    const struct wecom_outmsg *m, const struct wecom_send_opts *opts,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_send_result	 local;
	struct send_ctx			 ctx;
	struct wecom_outmsg		*fb;
	int				 rc;

	wecom_client_err_clear(err);
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	if (c->app == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "message/send needs an [app] (this client is for robots)"));
	if (m == NULL || to == NULL || !has_target(to))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "message/send needs a message and a user, party or tag"));
	ctx.to = to;
	ctx.opts = opts;
	rc = wecom_client_send_parts(c, &ctx, m, opts, send_app, res, err);

	/* Markdown does not render on the WeChat plugin: text for them. */
	if (rc == WECOM_API_OK && opts != NULL &&
	    has_target(&opts->fallback_to) &&
	    wecom_client_msg_fallback(m) != NULL) {
		if ((fb = wecom_outmsg_text(wecom_client_msg_fallback(m))) ==
		    NULL) {
			rc = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
			    "out of memory");
		} else {
			ctx.to = &opts->fallback_to;
			rc = wecom_client_send_parts(c, &ctx, fb, opts,
			    send_app, res, err);
			wecom_outmsg_free(fb);
		}
	}
	if (res == &local)
		wecom_send_result_free(res);

	return (rc);
}

int
wecom_send_text(struct wecom_client *c, const char *touser, const char *text,
    struct wecom_api_error *err)
{
	struct wecom_target	 to;
	struct wecom_outmsg	*m;
	int			 rc;

	memset(&to, 0, sizeof(to));
	to.touser = touser;
	if ((m = wecom_outmsg_text(text)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = wecom_message_send(c, &to, m, NULL, NULL, err);
	wecom_outmsg_free(m);

	return (rc);
}

static int
has_target(const struct wecom_target *to)
{
	return ((to->touser && *to->touser) || (to->toparty && *to->toparty) ||
	    (to->totag && *to->totag));
}

static int
set_list(json_t *o, const char *key, const char *list)
{
	char	*v;
	int	 rc;

	if (list == NULL || *list == '\0')
		return (WECOM_API_OK);
	if ((v = wecom_client_join(list)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = json_object_set_new(o, key, json_string(v)) == 0 ?
	    WECOM_API_OK : WECOM_API_ERR_ARG;
	free(v);

	return (rc);
}

/* One part to message/send: recipients, agentid and options added. */
static int
send_app(struct wecom_client *c, const void *arg, json_t *body,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	const struct send_ctx		*ctx = arg;
	const struct wecom_send_opts	*o = ctx->opts;
	struct client_req		 req;
	int				 rc;

	rc = set_list(body, "touser", ctx->to->touser);
	if (rc == WECOM_API_OK)
		rc = set_list(body, "toparty", ctx->to->toparty);
	if (rc == WECOM_API_OK)
		rc = set_list(body, "totag", ctx->to->totag);
	json_object_set_new(body, "agentid", json_integer(c->app->agentid));
	if (o != NULL) {
		json_object_set_new(body, "safe", json_integer(o->safe));
		json_object_set_new(body, "enable_id_trans",
		    json_integer(o->enable_id_trans != 0));
		json_object_set_new(body, "enable_duplicate_check",
		    json_integer(o->enable_duplicate_check != 0));
		if (o->duplicate_check_interval > 0)
			json_object_set_new(body, "duplicate_check_interval",
			    json_integer(o->duplicate_check_interval));
	}
	if (rc != WECOM_API_OK) {
		json_decref(body);
		return (wecom_client_err_set(err, rc, 0, "bad recipient list"));
	}

	if ((rc = wecom_client_req_init(&req, REQ_POST_JSON, "message/send",
	    NULL, 1)) == WECOM_API_OK)
		rc = wecom_client_req_body(&req, body);
	else
		json_decref(body);
	if (rc != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_call(c, &req, err)) == WECOM_API_OK)
		rc = wecom_client_result_take(res, req.json);
	else if (req.json != NULL)
		wecom_client_result_invalid(res, req.json);
	wecom_client_req_free(&req);

	return (rc);
}

static int
take_str(char **dst, json_t *o, const char *key)
{
	json_t	*v;

	v = json_object_get(o, key);
	if (!json_is_string(v) || (*dst != NULL && json_string_length(v) == 0))
		return (WECOM_API_OK);
	free(*dst);
	if ((*dst = strdup(json_string_value(v))) == NULL)
		return (WECOM_API_ERR_NOMEM);

	return (WECOM_API_OK);
}

/* Adds one part's answer: its msgid, and who did not get it. */
int
wecom_client_result_take(struct wecom_send_result *res, json_t *ans)
{
	json_t	*id;

	id = json_object_get(ans, "msgid");
	if (json_is_string(id) && res->nparts < WECOM_MSGID_MAX &&
	    (res->msgids[res->nparts] = strdup(json_string_value(id))) == NULL)
		return (WECOM_API_ERR_NOMEM);
	res->nparts++;
	res->msgid = res->msgids[0];

	return (wecom_client_result_invalid(res, ans));
}

/* Also on 81013, which names the recipients it could not reach. */
int
wecom_client_result_invalid(struct wecom_send_result *res, json_t *ans)
{
	int	rc;

	rc = take_str(&res->invaliduser, ans, "invaliduser");
	if (rc == WECOM_API_OK)
		rc = take_str(&res->invalidparty, ans, "invalidparty");
	if (rc == WECOM_API_OK)
		rc = take_str(&res->invalidtag, ans, "invalidtag");
	if (rc == WECOM_API_OK)
		rc = take_str(&res->unlicenseduser, ans, "unlicenseduser");

	return (rc);
}

void
wecom_send_result_free(struct wecom_send_result *res)
{
	size_t	i;

	for (i = 0; i < WECOM_MSGID_MAX; i++)
		free(res->msgids[i]);
	free(res->invaliduser);
	free(res->invalidparty);
	free(res->invalidtag);
	free(res->unlicenseduser);
	memset(res, 0, sizeof(*res));
}

int
wecom_message_recall(struct wecom_client *c, const char *msgid,
    struct wecom_api_error *err)
{
	struct client_req	 req;
	json_t			*body;
	int			 rc;

	wecom_client_err_clear(err);
	if (msgid == NULL || *msgid == '\0')
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "recall needs a msgid"));
	if ((rc = wecom_client_req_init(&req, REQ_POST_JSON,
	    "message/recall", NULL, 1)) != WECOM_API_OK)
		return (wecom_client_err_set(err, rc, 0, "out of memory"));
	body = json_pack("{s:s}", "msgid", msgid);
	if (body == NULL || (rc = wecom_client_req_body(&req, body)) !=
	    WECOM_API_OK)
		rc = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
	else
		rc = wecom_client_call(c, &req, err);
	wecom_client_req_free(&req);

	return (rc);
}
