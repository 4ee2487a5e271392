/* SPDX-License-Identifier: ISC */
/*
 * With a shared store: the rows this host's file kept while the store
 * did not answer go up to it once it does, oldest first, a batch at a
 * time, by the writer thread of whichever worker gets there first.
 *
 * Neither lost nor written twice. Before the store's COMMIT, the file
 * records which of its rows that transaction (by its id) takes, in
 * messages_moving; after it, the rows and the record are deleted
 * together. A crash in between, or a COMMIT whose answer was lost (the
 * writer records those too), leaves the record: the next mover asks
 * the store what became of the transaction (txid_status) and deletes
 * the rows if it committed, or lets them be moved again if not. A
 * record is also the lock: one mover at a time per file. Moved rows
 * get their ids, the cursor's order, when they arrive: a reader
 * following the newest rows sees them then.
 */

#include <stdlib.h>
#include <syslog.h>
#include <time.h>

#include <sqlite3.h>

#include "wecom.h"
#include "msglog_private.h"

#define MOVE_DONE	0	/* nothing left here */
#define MOVE_MORE	1	/* go on at once */
#define MOVE_LATER	2	/* the store or the file said no: wait */
#define MOVE_WAIT_S	5	/* the store's own pause when down */

static const char	first_sql[] =
	"SELECT txid, first, last FROM messages_moving ORDER BY txid LIMIT 1";
/*
 * Ours only if no other mover has a record and the rows read are all
 * here, none else: an id SQLite gave again (the newest row deleted
 * meanwhile) would come with another time.
 */
static const char	claim_sql[] =
	"INSERT INTO messages_moving (txid, first, last) SELECT ?1, ?2, ?3 "
	"WHERE NOT EXISTS (SELECT 1 FROM messages_moving) AND (SELECT "
	"count(*) = ?4 AND sum(time) = ?5 FROM messages WHERE id BETWEEN ?2 "
	"AND ?3)";
static const char	unclaim_sql[] =
	"DELETE FROM messages_moving WHERE txid = ?1";
static const char	unindex_sql[] =
	"INSERT INTO messages_fts(messages_fts, rowid, content) SELECT "
	"'delete', id, content FROM messages WHERE id BETWEEN ?2 AND ?3 AND "
	"content IS NOT NULL";
static const char	forget_sql[] =
	"DELETE FROM messages WHERE id BETWEEN ?2 AND ?3";

static int	move_settle(struct wecom_msglog *, struct wecom_store *);
static int	move_step(struct wecom_msglog *, struct wecom_store *);
static int	move_forget(struct wecom_msglog *, const int64_t *);

void
wecom_msglog_move(struct wecom_msglog *log)
{
	struct wecom_store	*st;
	int			 rc;

	log->more = 0;
	if (time(NULL) < log->move_at)
		return;
	if ((st = wecom_msglog_store(log)) == NULL ||
	    wecom_msglog_open(log) != WECOM_OK)
		rc = MOVE_LATER;
	else if ((rc = move_settle(log, st)) == MOVE_DONE)
		rc = move_step(log, st);
	switch (rc) {
	case MOVE_MORE:
		log->more = 1;
		break;
	case MOVE_LATER:
		log->move_at = time(NULL) + MOVE_WAIT_S;
		break;
	default:
		if (log->moved > 0)
			wecom_msglog_tell(log, LOG_INFO, "%llu rows kept in %s "
			    "while the store did not answer are in the store "
			    "now", (unsigned long long)log->moved, log->path);
		log->moved = 0;
		log->kept = 0;
		log->backlog = 0;
		break;
	}
}

/* The oldest record first: its rows deleted, or free to move again. */
static int
move_settle(struct wecom_msglog *log, struct wecom_store *st)
{
	sqlite3_stmt	*q;
	int64_t		 rec[3];	/* txid, first, last */
	int		 i, rc, status;

	if (sqlite3_prepare_v2(log->db, first_sql, -1, &q, NULL) != SQLITE_OK)
		return (MOVE_LATER);
	rc = sqlite3_step(q);
	for (i = 0; i < 3; i++)
		rec[i] = sqlite3_column_int64(q, i);
	sqlite3_finalize(q);
	if (rc != SQLITE_ROW)
		return (rc == SQLITE_DONE ? MOVE_DONE : MOVE_LATER);
	/* Still running: another worker's mover, or a COMMIT in flight. */
	if (wecom_store_message_status(st, rec[0], &status) !=
	    WECOM_STORE_OK || status == WECOM_STORE_MESSAGE_OPEN)
		return (MOVE_LATER);
	if (status == WECOM_STORE_MESSAGE_DONE)
		rc = move_forget(log, rec);
	else
		rc = wecom_msglog_db_run(log->db, unclaim_sql, rec) < 0 ? WECOM_ERROR :
		    WECOM_OK;

	return (rc == WECOM_OK ? MOVE_MORE : MOVE_LATER);
}

/* A batch of the oldest rows: in the store, then out of the file. */
static int
move_step(struct wecom_msglog *log, struct wecom_store *st)
{
	struct msglog_rows	*rows;
	int64_t			 claim[5];	/* txid, first, last, n, times */
	int			 rc = MOVE_LATER;

	if (wecom_msglog_rows_read(log->db, WECOM_STORE_MESSAGE_BATCH,
	    &rows) != WECOM_OK)
		return (MOVE_LATER);
	if (rows == NULL)
		return (MOVE_DONE);
	if (wecom_store_message_add(st, rows->v, rows->n, &claim[0]) !=
	    WECOM_STORE_OK)
		goto out;
	claim[1] = rows->first;
	claim[2] = rows->last;
	claim[3] = (int64_t)rows->n;
	claim[4] = rows->times;
	if (wecom_msglog_db_run(log->db, claim_sql, claim) != 1) {
		wecom_store_message_rollback(st);
		goto out;
	}
	if (wecom_store_message_commit(st) != WECOM_STORE_OK) {
		/* Refused, so not taken; else the record waits for news. */
		if (wecom_store_connected(st))
			(void)wecom_msglog_db_run(log->db, unclaim_sql, claim);
		goto out;
	}
	/* Failed: the record stays, and the next step settles it. */
	(void)move_forget(log, claim);
	log->moved += rows->n;
	rc = MOVE_MORE;
out:
	wecom_msglog_rows_free(rows);

	return (rc);
}

/* In the store: a record's rows out of the file, and the record. */
static int
move_forget(struct wecom_msglog *log, const int64_t *rec)
{
	if (wecom_msglog_db_exec(log->db, "BEGIN IMMEDIATE") != WECOM_OK)
		return (WECOM_ERROR);
	if ((log->fts && wecom_msglog_db_run(log->db, unindex_sql, rec) < 0) ||
	    wecom_msglog_db_run(log->db, forget_sql, rec) < 0 ||
	    wecom_msglog_db_run(log->db, unclaim_sql, rec) < 0 ||
	    wecom_msglog_db_exec(log->db, "COMMIT") != WECOM_OK) {
		(void)wecom_msglog_db_exec(log->db, "ROLLBACK");
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}
