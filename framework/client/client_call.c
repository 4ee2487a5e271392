/* SPDX-License-Identifier: ISC */
/*
 * An API call as the senders make it: the retry steps of client_retry.c
 * with the app's access token added to every try. A rejected token is
 * replaced once per call; 40001 (wrong secret) comes back from gettoken
 * as a plain failure, so it can never loop.
 */

#include <string.h>

#include "client_private.h"

int
wecom_client_call(struct wecom_client *c, struct client_req *req,
    struct wecom_api_error *err)
{
	char			token[WECOM_TOKEN_MAX + 1];
	struct wecom_api_error	local;
	struct client_retry	r;
	int			act, renewed;

	if (err == NULL) {
		wecom_client_err_clear(&local);
		err = &local;
	}
	wecom_client_retry_start(&r);
	renewed = 0;
	for (;;) {
		/* Read again each try: the cache may have moved on. */
		token[0] = '\0';
		if (req->with_token && wecom_client_token_get(c, token,
		    sizeof(token), err) != WECOM_API_OK) {
			act = REQ_FAIL;
			break;
		}
		act = wecom_client_try(c, req, req->with_token ? token : NULL,
		    &r, err);
		if (act == REQ_NEWTOKEN && req->with_token && !renewed) {
			renewed = 1;
			wecom_client_token_drop(c, token);
			continue;
		}
		if (act != REQ_BACKOFF || !wecom_client_pause(c, &r))
			break;
	}
	explicit_bzero(token, sizeof(token));

	return (wecom_client_retry_end(&r, act, err));
}
