/* SPDX-License-Identifier: ISC */
/*
 * A token from WeCom (gettoken), and whether one is still good: what
 * both tiers of the cache, this host's files and the shared store, ask.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client_private.h"

/* Good for more than early seconds (at most half its life). */
int
wecom_client_token_fresh(const struct client_token *t, int64_t early)
{
	int64_t	now;

	if (t->value[0] == '\0' || t->expires_in <= 0)
		return (0);
	now = (int64_t)time(NULL);
	if (early > t->expires_in / 2)
		early = t->expires_in / 2;
	/* A fetch time in the future means a clock jump: distrust it. */
	return (t->fetched_at <= now + 60 &&
	    now < t->fetched_at + t->expires_in - early);
}

int
wecom_client_token_fetch(struct wecom_client *c, struct client_token *t,
    struct wecom_api_error *err)
{
	struct client_req	 req;
	json_t			*tok, *exp;
	char			*q, *cid, *sec;
	size_t			 len;
	int			 rc;

	cid = wecom_client_escape(c->app->corpid);
	sec = wecom_client_escape(c->app->secret);
	q = NULL;
	if (cid != NULL && sec != NULL) {
		len = strlen(cid) + strlen(sec) + 32;
		if ((q = malloc(len)) != NULL)
			snprintf(q, len, "corpid=%s&corpsecret=%s", cid, sec);
	}
	rc = q == NULL ? WECOM_API_ERR_NOMEM :
	    wecom_client_req_init(&req, REQ_GET, "gettoken", q, 0);
	if (sec != NULL)
		explicit_bzero(sec, strlen(sec));
	if (q != NULL)
		explicit_bzero(q, strlen(q));
	free(cid);
	free(sec);
	free(q);
	if (rc != WECOM_API_OK)
		return (wecom_client_err_set(err, rc, 0, "out of memory"));

	/* Not wecom_client_call(): it sits above us, asking for a token. */
	if ((rc = wecom_client_retry(c, &req, err)) == WECOM_API_OK) {
		tok = json_object_get(req.json, "access_token");
		exp = json_object_get(req.json, "expires_in");
		if (!json_is_string(tok) || json_string_length(tok) == 0 ||
		    json_string_length(tok) > WECOM_TOKEN_MAX ||
		    !json_is_integer(exp) || json_integer_value(exp) <= 0) {
			rc = wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL,
			    0, "gettoken answered without a usable token");
		} else {
			memset(t, 0, sizeof(*t));
			memcpy(t->value, json_string_value(tok),
			    json_string_length(tok));
			t->fetched_at = (int64_t)time(NULL);
			t->expires_in = json_integer_value(exp);
		}
	}
	wecom_client_req_free(&req);

	return (rc);
}
