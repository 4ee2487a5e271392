/* SPDX-License-Identifier: ISC */
/*
 * The shared store: the retry table. WeCom re-sends a callback it got
 * no answer to, and the retry may reach another server: the first to
 * claim a callback's key runs its handlers and keeps its reply here;
 * a retry anywhere gets that reply (sealed afresh by the server that
 * answers), or an empty answer while the first still runs.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

/*
 * Ours unless a claim younger than window_s exists; a claim left
 * unanswered for running_s belongs to a server that died: ours too.
 */
#define CLAIM_SQL							\
	"INSERT INTO wecom_retry AS r (key, holder) VALUES ($1, $2) "	\
	"ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, "	\
	"answered = false, reply = NULL, created_at = now() WHERE "	\
	"r.created_at < now() - make_interval(secs => $3::int) OR "	\
	"(NOT r.answered AND r.created_at < now() - "			\
	"make_interval(secs => $4::int)) RETURNING 1"

int
wecom_store_retry_claim(struct wecom_store *st, const char *key,
    int window_s, int running_s, struct wecom_store_retry *out)
{
	char		 w[16], rs[16];
	const char	*p[4] = { key, wecom_store_holder(), w, rs };
	PGresult	*r;

	memset(out, 0, sizeof(*out));
	snprintf(w, sizeof(w), "%d", window_s);
	snprintf(rs, sizeof(rs), "%d", running_s);
	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, CLAIM_SQL, 4, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	out->first = PQntuples(r) == 1;
	PQclear(r);
	if (out->first)
		return (WECOM_STORE_OK);
	if (wecom_store_exec(st, "SELECT answered, reply FROM wecom_retry "
	    "WHERE key = $1", 1, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	/* Gone since (cleaned up): the next attempt claims it. */
	if (PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
		out->answered = 1;
		if (!PQgetisnull(r, 0, 1) && (out->reply =
		    strdup(PQgetvalue(r, 0, 1))) != NULL)
			out->reply_len = PQgetlength(r, 0, 1);
	}
	PQclear(r);

	return (WECOM_STORE_OK);
}

/* The handlers are done: reply (NULL: none) is what retries get. */
int
wecom_store_retry_finish(struct wecom_store *st, const char *key,
    const char *reply)
{
	const char	*p[2] = { key, reply };

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "UPDATE wecom_retry SET answered = "
	    "true, reply = $2 WHERE key = $1", 2, p, NULL));
}

/* The handlers did not run after all: a retry must run them. */
int
wecom_store_retry_forget(struct wecom_store *st, const char *key)
{
	const char	*p[1] = { key };

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "DELETE FROM wecom_retry WHERE key = "
	    "$1 AND NOT answered", 1, p, NULL));
}

/* Claims older than keep_s are no use to anyone. */
int
wecom_store_retry_prune(struct wecom_store *st, int keep_s)
{
	char		 k[16];
	const char	*p[1] = { k };

	snprintf(k, sizeof(k), "%d", keep_s);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "DELETE FROM wecom_retry WHERE "
	    "created_at < now() - make_interval(secs => $1::int)", 1, p,
	    NULL));
}
