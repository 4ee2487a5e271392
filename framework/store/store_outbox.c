/* SPDX-License-Identifier: ISC */
/*
 * The outbox in the shared store: one row per message, keyed by the
 * outbox key, so that a put repeated on any server is one message. Any
 * drainer claims a due row for a lease (FOR UPDATE SKIP LOCKED: two
 * claimers never get the same row), sends it outside any transaction,
 * then settles it only if the claim is still its own. A claimer killed
 * mid-send leaves the row to whoever claims it after the lease; the
 * claim that finds a stale holder counts an interruption. The record
 * is the file outbox's JSON; the lease's clock is the database's.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

/* Claimable: queued, due (unless named), no live claim. */
#define CLAIM_SET \
	"UPDATE wecom_outbox o SET claimed_by = $1, claimed_until = now() + " \
	"make_interval(secs => $2::int), interrupted = o.interrupted + " \
	"(o.claimed_by IS NOT NULL)::int "
#define CLAIM_FREE \
	"state = 'queued' AND (claimed_until IS NULL OR claimed_until < now())"
/* A bot's or a forward's row: only a server ($3) can send it. */
#define CLAIM_MINE	"(NOT server_only OR $3::boolean)"
#define ROW_COLS	"key, state, record, done, interrupted, " \
	"coalesce(claimed_until > now(), false)"

static int	row_copy(PGresult *, int, struct wecom_store_outbox *);
static char	*dup_value(PGresult *, int, int);

static char *
dup_value(PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return (NULL);
	return (strdup(PQgetvalue(r, row, col)));
}

/* A row of ROW_COLS; WECOM_STORE_ERROR if it does not fit or no memory. */
static int
row_copy(PGresult *r, int i, struct wecom_store_outbox *o)
{
	memset(o, 0, sizeof(*o));
	if ((size_t)PQgetlength(r, i, 0) >= sizeof(o->key) ||
	    (size_t)PQgetlength(r, i, 1) >= sizeof(o->state))
		return (WECOM_STORE_ERROR);
	memcpy(o->key, PQgetvalue(r, i, 0), PQgetlength(r, i, 0));
	memcpy(o->state, PQgetvalue(r, i, 1), PQgetlength(r, i, 1));
	o->record = dup_value(r, i, 2);
	o->done = dup_value(r, i, 3);
	o->interrupted = atoi(PQgetvalue(r, i, 4));
	o->claimed = PQgetvalue(r, i, 5)[0] == 't';
	if (o->record == NULL || (o->done == NULL && !PQgetisnull(r, i, 3))) {
		wecom_store_outbox_clear(o);
		return (WECOM_STORE_ERROR);
	}

	return (WECOM_STORE_OK);
}

void
wecom_store_outbox_clear(struct wecom_store_outbox *o)
{
	free(o->record);
	free(o->done);
	memset(o, 0, sizeof(*o));
}

/* Queued, due now. WECOM_STORE_NONE: the key was there already. */
int
wecom_store_outbox_put(struct wecom_store *st, const char *key,
    const char *record, int server_only)
{
	const char	*p[3] = { key, record, server_only ? "t" : "f" };

	return (wecom_store_exec_row(st,
	    "INSERT INTO wecom_outbox (key, record, "
	    "server_only) VALUES ($1, $2, $3::boolean) ON CONFLICT (key) DO "
	    "NOTHING RETURNING 1", 3, p));
}

/*
 * One row ours for lease_s: key's (due or not), or else the soonest
 * due one; server_only rows only if server. WECOM_STORE_NONE: none.
 */
int
wecom_store_outbox_claim(struct wecom_store *st, const char *key,
    long lease_s, int server, struct wecom_store_outbox *o)
{
	char		 secs[24];
	const char	*p[4] = { wecom_store_holder(), secs,
			    server ? "t" : "f", key };
	PGresult	*r;
	int		 rc;

	snprintf(secs, sizeof(secs), "%ld", lease_s);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (key != NULL)
		rc = wecom_store_exec(st, CLAIM_SET "WHERE o.key = $4 AND "
		    CLAIM_FREE " AND " CLAIM_MINE " RETURNING " ROW_COLS, 4,
		    p, &r);
	else
		rc = wecom_store_exec(st, CLAIM_SET "WHERE o.key = (SELECT "
		    "key FROM wecom_outbox WHERE " CLAIM_FREE " AND not_before "
		    "<= now() AND " CLAIM_MINE " ORDER BY not_before, "
		    "created_at LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING "
		    ROW_COLS, 3, p, &r);
	if (rc != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = PQntuples(r) != 1 ? WECOM_STORE_NONE : row_copy(r, 0, o);
	PQclear(r);

	return (rc);
}

/*
 * Our claim's outcome: state "sent" (done: what a caller asks back),
 * "failed", or "queued" again after delay_ms; record: the record as it
 * now stands. WECOM_STORE_NONE: the claim was lost (its lease passed
 * and another took the row): nothing changed.
 */
int
wecom_store_outbox_settle(struct wecom_store *st, const char *key,
    const char *state, const char *record, const char *done, long delay_ms)
{
	char		 ms[24];
	const char	*p[6] = { key, wecom_store_holder(), state, record,
			    done, ms };

	snprintf(ms, sizeof(ms), "%ld", delay_ms > 0 ? delay_ms : 0);
	return (wecom_store_exec_row(st,
	    "UPDATE wecom_outbox SET state = $3, record "
	    "= $4, done = $5, claimed_by = NULL, claimed_until = NULL, "
	    "sent_at = CASE WHEN $3 = 'sent' THEN now() END, not_before = "
	    "now() + make_interval(secs => $6::double precision / 1000) WHERE key = "
	    "$1 AND claimed_by = $2 AND state = 'queued' RETURNING 1", 6, p));
}

/* The row of key as it stands. */
int
wecom_store_outbox_get(struct wecom_store *st, const char *key,
    struct wecom_store_outbox *o)
{
	const char	*p[1] = { key };
	PGresult	*r;
	int		 rc;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "SELECT " ROW_COLS " FROM wecom_outbox "
	    "WHERE key = $1", 1, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = PQntuples(r) != 1 ? WECOM_STORE_NONE : row_copy(r, 0, o);
	PQclear(r);

	return (rc);
}

/* Queued (and the oldest's age, s) and failed rows, for metrics. */
int
wecom_store_outbox_count(struct wecom_store *st, size_t *queued,
    long *oldest_s, size_t *failed)
{
	PGresult	*r;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "SELECT count(*) FILTER (WHERE state = "
	    "'queued'), coalesce(extract(epoch FROM now() - min(created_at) "
	    "FILTER (WHERE state = 'queued'))::bigint, 0), count(*) FILTER "
	    "(WHERE state = 'failed') FROM wecom_outbox WHERE state <> 'sent'",
	    0, NULL, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	*queued = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	*oldest_s = strtol(PQgetvalue(r, 0, 1), NULL, 10);
	*failed = (size_t)strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);

	return (WECOM_STORE_OK);
}

/* Sent rows older than keep_s go: their keys are not put again. */
int
wecom_store_outbox_prune(struct wecom_store *st, long keep_s)
{
	char		 secs[24];
	const char	*p[1] = { secs };

	snprintf(secs, sizeof(secs), "%ld", keep_s);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "DELETE FROM wecom_outbox WHERE state = "
	    "'sent' AND sent_at < now() - make_interval(secs => $1::int)", 1,
	    p, NULL));
}

/* Every queued row (unless failed_only), then every failed one. */
int
wecom_store_outbox_list(struct wecom_store *st, int failed_only,
    void (*fn)(void *, const struct wecom_store_outbox *), void *arg)
{
	struct wecom_store_outbox	 o;
	PGresult			*r;
	int				 i, rc;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, failed_only ? "SELECT " ROW_COLS " FROM "
	    "wecom_outbox WHERE state = 'failed' ORDER BY created_at, key" :
	    "SELECT " ROW_COLS " FROM wecom_outbox WHERE state <> 'sent' "
	    "ORDER BY state = 'failed', created_at, key", 0, NULL, &r) !=
	    WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_OK;
	for (i = 0; i < PQntuples(r) && rc == WECOM_STORE_OK; i++) {
		if ((rc = row_copy(r, i, &o)) != WECOM_STORE_OK)
			break;
		fn(arg, &o);
		wecom_store_outbox_clear(&o);
	}
	PQclear(r);

	return (rc);
}

/*
 * The key of every queued row, due or not, claimed or not, oldest
 * first: for a caller that then sends each by its key.
 */
int
wecom_store_outbox_keys(struct wecom_store *st,
    void (*fn)(void *, const char *), void *arg)
{
	PGresult	*r;
	int		 i;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "SELECT key FROM wecom_outbox WHERE state = "
	    "'queued' ORDER BY created_at, key", 0, NULL, &r) !=
	    WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	for (i = 0; i < PQntuples(r); i++)
		fn(arg, PQgetvalue(r, i, 0));
	PQclear(r);

	return (WECOM_STORE_OK);
}

/* A failed row queued anew, due now, as record. NONE: not failed. */
int
wecom_store_outbox_requeue(struct wecom_store *st, const char *key,
    const char *record)
{
	const char	*p[2] = { key, record };

	return (wecom_store_exec_row(st,
	    "UPDATE wecom_outbox SET state = 'queued', "
	    "record = $2, not_before = now(), created_at = now(), interrupted "
	    "= 0, claimed_by = NULL, claimed_until = NULL WHERE key = $1 AND "
	    "state = 'failed' RETURNING 1", 2, p));
}

/* A queued (not being sent) or failed row removed. NONE: no such. */
int
wecom_store_outbox_drop(struct wecom_store *st, const char *key)
{
	const char	*p[1] = { key };

	return (wecom_store_exec_row(st,
	    "DELETE FROM wecom_outbox WHERE key = $1 AND "
	    "(state = 'failed' OR (" CLAIM_FREE ")) RETURNING 1", 1, p));
}
