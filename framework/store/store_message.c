/* SPDX-License-Identifier: ISC */
/*
 * The message log in the shared store (wecom_message), for apps and
 * bots with `log = yes`: batches written by each worker's writer thread,
 * pages read by queries, old rows deleted by retention. The rows are
 * plain strings here; what they mean is the message log's business.
 *
 * A batch is one multi-row INSERT (measured: 5 times the rows a second
 * of one INSERT per row in a transaction, and 1.5 times libpq's pipeline
 * mode). Its transaction's id is known before its COMMIT: when the
 * answer to a COMMIT is lost, the caller keeps the rows and asks later
 * what became of that transaction, so that rows are neither lost nor
 * written twice.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_buf.h"
#include "wecom_store.h"

#define COLS	"direction, app, channel, type, sender, chat, msgid, time, " \
		"content, fields"

static int	message_insert(struct wecom_store *, const char *const *,
		    size_t, int64_t *);
static void	message_close(struct wecom_store *);
static int	message_select(struct wecom_store *, const char *,
		    const char *, int, const char *const *, PGresult **);

/*
 * BEGIN and the rows; the transaction stays open for commit() or
 * rollback(). *txid: its id, to ask about if the COMMIT's answer is lost.
 */
int
wecom_store_message_add(struct wecom_store *st, const char *const *rows,
    size_t n, int64_t *txid)
{
	*txid = 0;
	if (n == 0 || n > WECOM_STORE_MESSAGE_BATCH ||
	    wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "BEGIN", 0, NULL, NULL) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (message_insert(st, rows, n, txid) != WECOM_STORE_OK) {
		message_close(st);
		return (WECOM_STORE_ERROR);
	}

	return (WECOM_STORE_OK);
}

/* One statement, its parameters $1 … $10n; it answers the txid. */
static int
message_insert(struct wecom_store *st, const char *const *rows, size_t n,
    int64_t *txid)
{
	struct wecom_buf	 sql;
	PGresult		*r;
	size_t			 i, k;
	int			 rc;

	memset(&sql, 0, sizeof(sql));
	wecom_buf_addf(&sql, "WITH ins AS (INSERT INTO wecom_message (" COLS
	    ") VALUES ");
	for (i = 0; i < n; i++) {
		wecom_buf_addf(&sql, "%s(", i > 0 ? ", " : "");
		for (k = 1; k <= WECOM_STORE_MESSAGE_COLS; k++)
			wecom_buf_addf(&sql, "$%zu%s",
			    i * WECOM_STORE_MESSAGE_COLS + k,
			    k < WECOM_STORE_MESSAGE_COLS ? ", " : ")");
	}
	wecom_buf_addf(&sql, " RETURNING 1) SELECT txid_current(), "
	    "count(*) FROM ins");
	if (sql.err) {
		wecom_buf_free(&sql);
		wecom_store_fail(st, "out of memory");
		return (WECOM_STORE_ERROR);
	}
	rc = wecom_store_exec(st, sql.p, (int)(n * WECOM_STORE_MESSAGE_COLS),
	    rows, &r);
	wecom_buf_free(&sql);
	if (rc != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	*txid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);

	return (WECOM_STORE_OK);
}

/*
 * The batch's COMMIT. WECOM_STORE_ERROR with the store still connected:
 * the database refused it, nothing was written; without it, the answer
 * was lost: ask wecom_store_message_status() later.
 */
int
wecom_store_message_commit(struct wecom_store *st)
{
	if (wecom_store_exec(st, "COMMIT", 0, NULL, NULL) != WECOM_STORE_OK) {
		message_close(st);
		return (WECOM_STORE_ERROR);
	}

	return (WECOM_STORE_OK);
}

void
wecom_store_message_rollback(struct wecom_store *st)
{
	message_close(st);
}

/* A failed transaction ended, if the connection still stands. */
static void
message_close(struct wecom_store *st)
{
	char	err[256];

	if (!wecom_store_connected(st))
		return;
	/* The reason a person reads is the failure's, not ROLLBACK's. */
	snprintf(err, sizeof(err), "%s", wecom_store_error(st));
	(void)wecom_store_exec(st, "ROLLBACK", 0, NULL, NULL);
	wecom_store_fail(st, "%s", err);
}

/*
 * What became of transaction txid: WECOM_STORE_MESSAGE_DONE (committed),
 * _OPEN (still running: ask later) or _LOST (rolled back, or too old or
 * unknown to this database: the rows are written again, a duplicate
 * being better than a loss).
 */
int
wecom_store_message_status(struct wecom_store *st, int64_t txid, int *status)
{
	char		 num[24];
	const char	*p[1] = { num };
	PGresult	*r;
	const char	*s;

	*status = WECOM_STORE_MESSAGE_LOST;
	snprintf(num, sizeof(num), "%" PRId64, txid);
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (wecom_store_exec(st, "SELECT txid_status($1::bigint)", 1, p,
	    &r) != WECOM_STORE_OK)
		/* Connected: an id from the future (another database). */
		return (wecom_store_connected(st) ? WECOM_STORE_OK :
		    WECOM_STORE_ERROR);
	s = PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0);
	if (strcmp(s, "committed") == 0)
		*status = WECOM_STORE_MESSAGE_DONE;
	else if (strcmp(s, "in progress") == 0)
		*status = WECOM_STORE_MESSAGE_OPEN;
	PQclear(r);

	return (WECOM_STORE_OK);
}

/*
 * Rows that match where ("WHERE …" over the table's columns, then
 * ORDER BY and LIMIT; $1 … $n), each to fn as WECOM_STORE_MESSAGE_COLS
 * + 1 values, id first, NULL for none.
 */
int
wecom_store_message_rows(struct wecom_store *st, const char *where, int n,
    const char *const *params, void (*fn)(void *, const char *const *),
    void *arg)
{
	const char	*v[WECOM_STORE_MESSAGE_COLS + 1];
	PGresult	*r;
	int		 i, k;

	if (message_select(st, "SELECT id, " COLS, where, n, params, &r) !=
	    WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	for (i = 0; i < PQntuples(r); i++) {
		for (k = 0; k <= WECOM_STORE_MESSAGE_COLS; k++)
			v[k] = PQgetisnull(r, i, k) ? NULL :
			    PQgetvalue(r, i, k);
		fn(arg, v);
	}
	PQclear(r);

	return (WECOM_STORE_OK);
}

/* head FROM wecom_message where, its rows in *r. */
static int
message_select(struct wecom_store *st, const char *head, const char *where,
    int n, const char *const *params, PGresult **r)
{
	char	*sql;
	int	 rc;

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (asprintf(&sql, "%s FROM wecom_message %s", head, where) == -1) {
		wecom_store_fail(st, "out of memory");
		return (WECOM_STORE_ERROR);
	}
	rc = wecom_store_exec(st, sql, n, params, r);
	free(sql);

	return (rc);
}

/* How many rows match where (as for rows(), without ORDER BY). */
int
wecom_store_message_count(struct wecom_store *st, const char *where, int n,
    const char *const *params, int64_t *count)
{
	PGresult	*r;

	*count = 0;
	if (message_select(st, "SELECT count(*)", where, n, params, &r) !=
	    WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	*count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);

	return (WECOM_STORE_OK);
}

/*
 * Up to step rows older than before (unix seconds) deleted, in one
 * statement of its own; rows another server deletes meanwhile are
 * skipped, not waited for.
 */
int
wecom_store_message_expire(struct wecom_store *st, int64_t before,
    long step, long *deleted)
{
	char		 t[24], s[24];
	const char	*p[2] = { t, s };
	PGresult	*r;

	*deleted = 0;
	snprintf(t, sizeof(t), "%" PRId64, before);
	snprintf(s, sizeof(s), "%ld", step);
	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "DELETE FROM wecom_message WHERE id IN "
	    "(SELECT id FROM wecom_message WHERE time < $1::bigint LIMIT "
	    "$2::int FOR UPDATE SKIP LOCKED)", 2, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	*deleted = strtol(PQcmdTuples(r), NULL, 10);
	PQclear(r);

	return (WECOM_STORE_OK);
}
