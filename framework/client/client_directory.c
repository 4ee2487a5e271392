/* SPDX-License-Identifier: ISC */
/*
 * Directory reads: user/get, user/list, department/list. The answer is
 * handed back as WeCom's JSON text; user/get also picks out the fields
 * callers usually want.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"

static char	*dir_field(json_t *, const char *);

/* One GET with the token: the whole answer, errcode 0. */
int
wecom_client_get_json(struct wecom_client *c, const char *path,
    const char *query, json_t **out, struct wecom_api_error *err)
{
	struct client_req	req;
	int			rc;

	*out = NULL;
	if ((rc = wecom_client_req_init(&req, REQ_GET, path, query, 1)) !=
	    WECOM_API_OK)
		rc = wecom_client_err_set(err, rc, 0, "out of memory");
	else if ((rc = wecom_client_call(c, &req, err)) == WECOM_API_OK)
		*out = json_incref(req.json);
	wecom_client_req_free(&req);

	return (rc);
}

static char *
dir_field(json_t *o, const char *key)
{
	json_t	*v;

	v = json_object_get(o, key);
	return (strdup(json_is_string(v) ? json_string_value(v) : ""));
}

int
wecom_user_get(struct wecom_client *c, const char *userid,
    struct wecom_user *u, struct wecom_api_error *err)
{
	json_t	*ans;
	char	*q, *e;
	size_t	 len;
	int	 rc;

	wecom_client_err_clear(err);
	memset(u, 0, sizeof(*u));
	if (userid == NULL || *userid == '\0' ||
	    (e = wecom_client_escape(userid)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "user/get needs a userid"));
	len = strlen(e) + 8;
	if ((q = malloc(len)) == NULL) {
		free(e);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}
	snprintf(q, len, "userid=%s", e);
	free(e);
	rc = wecom_client_get_json(c, "user/get", q, &ans, err);
	free(q);
	if (rc != WECOM_API_OK)
		return (rc);

	u->userid = dir_field(ans, "userid");
	u->name = dir_field(ans, "name");
	u->mobile = dir_field(ans, "mobile");
	u->email = dir_field(ans, "email");
	u->json = json_dumps(ans, JSON_COMPACT);
	json_decref(ans);
	if (u->userid == NULL || u->name == NULL || u->mobile == NULL ||
	    u->email == NULL || u->json == NULL) {
		wecom_user_free(u);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}

	return (WECOM_API_OK);
}

void
wecom_user_free(struct wecom_user *u)
{
	free(u->userid);
	free(u->name);
	free(u->mobile);
	free(u->email);
	free(u->json);
	memset(u, 0, sizeof(*u));
}

static int
dir_list(struct wecom_client *c, const char *path, const char *query,
    char **json, struct wecom_api_error *err)
{
	json_t	*ans;
	int	 rc;

	wecom_client_err_clear(err);
	*json = NULL;
	if ((rc = wecom_client_get_json(c, path, query, &ans, err)) !=
	    WECOM_API_OK)
		return (rc);
	if ((*json = json_dumps(ans, JSON_COMPACT)) == NULL)
		rc = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
	json_decref(ans);

	return (rc);
}

int
wecom_user_list(struct wecom_client *c, long department_id, char **json,
    struct wecom_api_error *err)
{
	char	q[48];

	snprintf(q, sizeof(q), "department_id=%ld", department_id);
	return (dir_list(c, "user/list", q, json, err));
}

/* id < 0: every department. */
int
wecom_department_list(struct wecom_client *c, long id, char **json,
    struct wecom_api_error *err)
{
	char	q[32];

	snprintf(q, sizeof(q), "id=%ld", id);
	return (dir_list(c, "department/list", id < 0 ? NULL : q, json, err));
}
