/* SPDX-License-Identifier: ISC */
/*
 * The shared store: callback-mode bots' streams. The server running a
 * stream's handlers writes each update here too, so that WeCom's
 * refresh, which the load balancer may send to any server, is answered
 * from it. A finished stream is never written again: a late update of
 * a stream cut short cannot undo its end.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

int
wecom_store_stream_put(struct wecom_store *st, const char *id,
    const char *content, int finish, int64_t born)
{
	char		 b[24];
	const char	*p[4] = { id, content, finish ? "t" : "f", b };

	snprintf(b, sizeof(b), "%lld", (long long)born);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "INSERT INTO wecom_stream (id, content, "
	    "finish, born) VALUES ($1, $2, $3::boolean, $4::bigint) "
	    "ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, "
	    "finish = EXCLUDED.finish WHERE NOT wecom_stream.finish", 4, p,
	    NULL));
}

int
wecom_store_stream_get(struct wecom_store *st, const char *id,
    char **content, int *finish, int64_t *born)
{
	const char	*p[1] = { id };
	PGresult	*r;
	int		 rc;

	*content = NULL;
	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "SELECT content, finish, born FROM "
	    "wecom_stream WHERE id = $1", 1, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_NONE;
	if (PQntuples(r) == 1) {
		rc = (*content = strdup(PQgetvalue(r, 0, 0))) != NULL ?
		    WECOM_STORE_OK : WECOM_STORE_ERROR;
		*finish = PQgetvalue(r, 0, 1)[0] == 't';
		*born = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	}
	PQclear(r);

	return (rc);
}

/* Streams WeCom no longer refreshes. */
int
wecom_store_stream_prune(struct wecom_store *st, int64_t born_before)
{
	char		 b[24];
	const char	*p[1] = { b };

	snprintf(b, sizeof(b), "%lld", (long long)born_before);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "DELETE FROM wecom_stream WHERE born < "
	    "$1::bigint", 1, p, NULL));
}
