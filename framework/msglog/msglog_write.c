/* SPDX-License-Identifier: ISC */
/*
 * The writer thread's side of the databases: a batch of entries in one
 * short transaction, into the shared store when there is one, else (or
 * when it does not answer) into the host's file. When the file cannot
 * be opened, stays locked past busy_ms, or the disk is full, the batch
 * is dropped and counted: the log is worth less than the callbacks it
 * records, and an unbounded backlog would only move the failure into
 * memory. What the file keeps for the store goes up later
 * (msglog_move.c).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <sqlite3.h>

#include "wecom.h"
#include "msglog_private.h"

static const char	insert_sql[] =
	"INSERT INTO messages (direction, app, channel, type, sender, chat, "
	"msgid, time, content, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* A batch's rows into the full-text index, in one statement. */
static const char	index_sql[] =
	"INSERT INTO messages_fts(rowid, content) SELECT id, content "
	"FROM messages WHERE id > ? AND content IS NOT NULL";

/* The rows a store transaction may have taken as well (msglog_move.c). */
static const char	mark_sql[] =
	"INSERT INTO messages_moving (txid, first, last) VALUES (?, ?, ?)";

static int	write_rows(struct wecom_msglog *, const struct msglog_rows *);
static int	write_store(struct wecom_msglog *, const struct msglog_rows *,
		    int64_t *);
static void	write_kept(struct wecom_msglog *, struct wecom_store *);
static int	write_fail(struct wecom_msglog *);
static int64_t	write_last(sqlite3 *);
static int	write_insert(sqlite3 *, const struct msglog_rows *);

void
wecom_msglog_write(struct wecom_msglog *log, struct msglog_queue *batch,
    size_t n)
{
	struct msglog_rows	*rows;
	struct msglog_entry	*e;
	int			 ok = 0;

	if ((rows = wecom_msglog_rows(log, batch, n)) != NULL)
		ok = write_rows(log, rows) == WECOM_OK;
	else {
		pthread_mutex_lock(&log->lock);
		log->why = "out of memory";
		pthread_mutex_unlock(&log->lock);
	}
	wecom_msglog_rows_free(rows);
	while ((e = TAILQ_FIRST(batch)) != NULL) {
		TAILQ_REMOVE(batch, e, list);
		free(e);
	}
	pthread_mutex_lock(&log->lock);
	if (ok)
		log->logged += n;
	else
		log->dropped += n;
	pthread_mutex_unlock(&log->lock);
}

/* The store if it takes them, else the file (and then the mover). */
static int
write_rows(struct wecom_msglog *log, const struct msglog_rows *rows)
{
	int64_t	txid = 0;

	if (log->store != NULL && write_store(log, rows, &txid) == WECOM_OK)
		return (WECOM_OK);
	if (wecom_msglog_open(log) != WECOM_OK ||
	    wecom_msglog_keep(log, rows, txid) != WECOM_OK)
		return (WECOM_ERROR);
	if (log->store != NULL)
		log->backlog = 1;

	return (WECOM_OK);
}

/*
 * One transaction in the store. *txid: set when the answer to its
 * COMMIT was lost, so that the mover can ask whether it took effect.
 */
static int
write_store(struct wecom_msglog *log, const struct msglog_rows *rows,
    int64_t *txid)
{
	struct wecom_store	*st;
	int64_t			 id;

	*txid = 0;
	if ((st = wecom_msglog_store(log)) == NULL)
		return (WECOM_ERROR);
	if (wecom_store_message_add(st, rows->v, rows->n, &id) !=
	    WECOM_STORE_OK) {
		write_kept(log, st);
		return (WECOM_ERROR);
	}
	if (wecom_store_message_commit(st) != WECOM_STORE_OK) {
		if (!wecom_store_connected(st))
			*txid = id;
		write_kept(log, st);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/*
 * Once until the file is empty again. Why the store is unreachable it
 * says itself, once per process; a statement it refused is told here.
 */
static void
write_kept(struct wecom_msglog *log, struct wecom_store *st)
{
	if (log->kept)
		return;
	log->kept = 1;
	if (wecom_store_connected(st))
		wecom_msglog_tell(log, LOG_WARNING, "the store refused a "
		    "batch (%s): %s keeps it", wecom_store_error(st),
		    log->path);
	else
		wecom_msglog_tell(log, LOG_WARNING, "the store does not "
		    "answer: %s keeps the rows until it does", log->path);
}

/* The writer's connection, opened again after a failure, not too often. */
int
wecom_msglog_open(struct wecom_msglog *log)
{
	char	err[256];
	time_t	now;

	if (log->db != NULL)
		return (WECOM_OK);
	now = time(NULL);
	if (log->open_failed != 0 && now - log->open_failed < MSGLOG_REOPEN_S)
		return (WECOM_ERROR);
	if (wecom_msglog_db_open(log->path, log->opts.busy_ms, &log->db, err,
	    sizeof(err)) != WECOM_OK) {
		/* Told once per failure streak; the drops say the rest. */
		if (log->open_failed == 0)
			wecom_msglog_tell(log, LOG_ERR, "cannot open %s",
			    err);
		log->open_failed = now;
		pthread_mutex_lock(&log->lock);
		log->why = "the database cannot be opened";
		pthread_mutex_unlock(&log->lock);
		return (WECOM_ERROR);
	}
	/* Once per process (and after a failure): which file, and that
	 * this process writes to it; with a store, only what it misses. */
	if (log->store == NULL)
		wecom_msglog_tell(log, LOG_INFO, "writing to %s", log->path);
	log->fts = wecom_msglog_db_has_fts(log->db);
	log->open_failed = 0;

	return (WECOM_OK);
}

/* The rows in one transaction, with the record of txid if given. */
int
wecom_msglog_keep(struct wecom_msglog *log, const struct msglog_rows *rows,
    int64_t txid)
{
	int64_t	before, mark[3];

	if (wecom_msglog_db_exec(log->db, "BEGIN IMMEDIATE") != WECOM_OK)
		return (write_fail(log));
	/* Ours alone until COMMIT: the batch's ids follow this one. */
	if ((before = write_last(log->db)) < 0 ||
	    write_insert(log->db, rows) != SQLITE_OK)
		return (write_fail(log));
	mark[0] = txid;
	mark[1] = before + 1;
	mark[2] = sqlite3_last_insert_rowid(log->db);
	if (txid != 0 && wecom_msglog_db_run(log->db, mark_sql, mark) < 0)
		return (write_fail(log));
	if (log->fts && wecom_msglog_db_run(log->db, index_sql, &before) < 0)
		return (write_fail(log));
	if (wecom_msglog_db_exec(log->db, "COMMIT") != WECOM_OK)
		return (write_fail(log));

	return (WECOM_OK);
}

static int
write_fail(struct wecom_msglog *log)
{
	pthread_mutex_lock(&log->lock);
	/* SQLite's text, static: "database is locked", "disk is full". */
	log->why = sqlite3_errstr(sqlite3_extended_errcode(log->db));
	pthread_mutex_unlock(&log->lock);
	if (sqlite3_get_autocommit(log->db) == 0)
		(void)wecom_msglog_db_exec(log->db, "ROLLBACK");
	/* A file replaced or broken under us: start again from the path. */
	switch (sqlite3_errcode(log->db)) {
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_CANTOPEN:
	case SQLITE_IOERR:
		sqlite3_close(log->db);
		log->db = NULL;
		break;
	}

	return (WECOM_ERROR);
}

/* The last id written, 0 if none, -1 on failure. */
static int64_t
write_last(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int64_t		 id = -1;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM messages",
	    -1, &st, NULL) != SQLITE_OK)
		return (-1);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);

	return (id);
}

/* Every row, with one statement; time is a number in the file. */
static int
write_insert(sqlite3 *db, const struct msglog_rows *rows)
{
	sqlite3_stmt	*st;
	const char	*const *v;
	size_t		 i;
	int		 k, rc;

	if ((rc = sqlite3_prepare_v2(db, insert_sql, -1, &st, NULL)) !=
	    SQLITE_OK)
		return (rc);
	for (i = 0; i < rows->n && rc == SQLITE_OK; i++) {
		v = rows->v + i * WECOM_STORE_MESSAGE_COLS;
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (k = 0; k < WECOM_STORE_MESSAGE_COLS; k++) {
			if (k == 7)
				sqlite3_bind_int64(st, k + 1,
				    strtoll(v[k], NULL, 10));
			else if (v[k] != NULL)
				sqlite3_bind_text(st, k + 1, v[k], -1,
				    SQLITE_STATIC);
		}
		if ((rc = sqlite3_step(st)) == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(st);

	return (rc);
}
