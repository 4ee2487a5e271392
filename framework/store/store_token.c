/* SPDX-License-Identifier: ISC */
/*
 * Access tokens in the shared store: one row per app (by the SHA-256 of
 * its corpid and secret, never the secret), and a refresh lease so that
 * of all the servers and tools wanting a new token one calls gettoken
 * and the others read its answer. The lease's clock is the database's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

int
wecom_store_token_read(struct wecom_store *st, const char *id,
    struct wecom_store_token *t)
{
	const char	*p[1] = { id };
	PGresult	*r;
	int		 rc;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "SELECT token, fetched_at, expires_in FROM "
	    "wecom_token WHERE id = $1 AND token IS NOT NULL", 1, p, &r) !=
	    WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_NONE;
	if (PQntuples(r) == 1 && (size_t)PQgetlength(r, 0, 0) <
	    sizeof(t->value)) {
		memset(t, 0, sizeof(*t));
		memcpy(t->value, PQgetvalue(r, 0, 0), PQgetlength(r, 0, 0));
		t->fetched_at = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		t->expires_in = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		rc = WECOM_STORE_OK;
	}
	PQclear(r);

	return (rc);
}

/*
 * The right to call gettoken for lease_s: WECOM_STORE_OK if ours. Only
 * while the row still holds seen (NULL: no token), the one the caller
 * found wanting: a token another put since then is used, not replaced.
 */
int
wecom_store_token_claim(struct wecom_store *st, const char *id,
    const char *seen, long lease_s)
{
	char		 secs[24];
	const char	*p[4] = { id, wecom_store_holder(), secs, seen };

	snprintf(secs, sizeof(secs), "%ld", lease_s);
	return (wecom_store_exec_row(st,
	    "INSERT INTO wecom_token AS t (id, "
	    "refreshing_by, refresh_until) VALUES ($1, $2, now() + "
	    "make_interval(secs => $3::int)) ON CONFLICT (id) DO UPDATE SET "
	    "refreshing_by = EXCLUDED.refreshing_by, refresh_until = "
	    "EXCLUDED.refresh_until WHERE (t.refresh_until IS NULL OR "
	    "t.refresh_until < now()) AND t.token IS NOT DISTINCT FROM "
	    "$4::text RETURNING 1", 4, p));
}

/* The token just fetched, or NULL: none; the lease ends either way. */
int
wecom_store_token_put(struct wecom_store *st, const char *id,
    const struct wecom_store_token *t)
{
	char		 at[24], in[24];
	const char	*p[4] = { id, NULL, at, in };

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (t == NULL)
		return (wecom_store_exec(st, "UPDATE wecom_token SET "
		    "refreshing_by = NULL, refresh_until = NULL WHERE id = $1",
		    1, p, NULL));
	p[1] = t->value;
	snprintf(at, sizeof(at), "%lld", (long long)t->fetched_at);
	snprintf(in, sizeof(in), "%lld", (long long)t->expires_in);

	return (wecom_store_exec(st, "UPDATE wecom_token SET token = $2, "
	    "fetched_at = $3::bigint, expires_in = $4::bigint, refreshing_by "
	    "= NULL, refresh_until = NULL WHERE id = $1", 4, p, NULL));
}

/* WeCom refused value: forget it, unless another has replaced it. */
int
wecom_store_token_drop(struct wecom_store *st, const char *id,
    const char *value)
{
	const char	*p[2] = { id, value };

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "UPDATE wecom_token SET token = NULL "
	    "WHERE id = $1 AND token = $2", 2, p, NULL));
}
