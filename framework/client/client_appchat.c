/* SPDX-License-Identifier: ISC */
/*
 * App group chats: appchat/create, then appchat/send of any message
 * kind to the chatid. Content limits and splitting as for message/send.
 * WeCom has no call that lists an app's chats: each one created here
 * is remembered in the contacts cache (chats-APP.json).
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "wecom_contacts.h"

struct chat_ctx {
	const char			*chatid;
	const struct wecom_send_opts	*opts;
};

static int	chat_send(struct wecom_client *, const void *, json_t *,
		    struct wecom_send_result *, struct wecom_api_error *);

int
wecom_appchat_create(struct wecom_client *c, const char *name,
    const char *owner, const char *userlist, const char *chatid,
    char **chatid_out, struct wecom_api_error *err)
{
	struct client_req	 req;
	struct wecom_api_error	 kept;
	json_t			*body, *users, *id;
	char			*list, *p, *tok;
	int			 rc;

	wecom_client_err_clear(err);
	*chatid_out = NULL;
	if (userlist == NULL || (list = wecom_client_join(userlist)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "appchat/create needs a userlist"));
	body = json_object();
	users = json_array();
	for (p = list; (tok = strsep(&p, "|")) != NULL;) {
		if (*tok != '\0')
			json_array_append_new(users, json_string(tok));
	}
	free(list);
	json_object_set_new(body, "userlist", users);
	if (name != NULL)
		json_object_set_new(body, "name", json_string(name));
	if (owner != NULL)
		json_object_set_new(body, "owner", json_string(owner));
	if (chatid != NULL)
		json_object_set_new(body, "chatid", json_string(chatid));

	if ((rc = wecom_client_req_init(&req, REQ_POST_JSON, "appchat/create",
	    NULL, 1)) != WECOM_API_OK ||
	    (rc = wecom_client_req_body(&req, body)) != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_call(c, &req, err)) == WECOM_API_OK) {
		id = json_object_get(req.json, "chatid");
		if (!json_is_string(id))
			rc = wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL,
			    0, "appchat/create answered without a chatid");
		else if ((*chatid_out = strdup(json_string_value(id))) ==
		    NULL)
			rc = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
			    "out of memory");
	}
	wecom_client_req_free(&req);
	/* The chat exists now whatever becomes of our list of chats. */
	if (rc == WECOM_API_OK)
		(void)wecom_contacts_chat_add(c, *chatid_out, name, owner,
		    userlist, &kept);

	return (rc);
}

int
wecom_appchat_send(struct wecom_client *c, const char *chatid,
    const struct wecom_outmsg *m, const struct wecom_send_opts *opts,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_send_result	local;
	struct chat_ctx			ctx;
	int				rc;

	wecom_client_err_clear(err);
	if (chatid == NULL || *chatid == '\0' || m == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "appchat/send needs a chatid and a message"));
	if (res == NULL)
		res = &local;
	memset(res, 0, sizeof(*res));
	ctx.chatid = chatid;
	ctx.opts = opts;
	rc = wecom_client_send_parts(c, &ctx, m, opts, chat_send, res, err);
	if (res == &local)
		wecom_send_result_free(res);

	return (rc);
}

static int
chat_send(struct wecom_client *c, const void *arg, json_t *body,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	const struct chat_ctx	*ctx = arg;
	struct client_req	 req;
	int			 rc;

	json_object_set_new(body, "chatid", json_string(ctx->chatid));
	if (ctx->opts != NULL)
		json_object_set_new(body, "safe", json_integer(ctx->opts->safe));
	if ((rc = wecom_client_req_init(&req, REQ_POST_JSON, "appchat/send",
	    NULL, 1)) != WECOM_API_OK) {
		json_decref(body);
		return (wecom_client_err_set(err, rc, 0, "out of memory"));
	}
	if ((rc = wecom_client_req_body(&req, body)) != WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_call(c, &req, err)) == WECOM_API_OK)
		rc = wecom_client_result_take(res, req.json);
	wecom_client_req_free(&req);

	return (rc);
}
