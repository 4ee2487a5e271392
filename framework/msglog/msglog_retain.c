/* SPDX-License-Identifier: ISC */
/*
 * Retention: rows older than log_days go, a thousand per transaction,
 * so that no worker's writer waits long for the lock meanwhile. Freed
 * pages are reused by later rows; the file does not shrink (no VACUUM,
 * which would copy the whole file and hold the lock throughout). With a
 * shared store its rows go too, a thousand per statement, by whichever
 * server's worker 1 comes first.
 */

#include <syslog.h>

#include <sqlite3.h>

#include "wecom.h"
#include "msglog_private.h"

/*
 * The same thousand oldest rows, twice in one transaction: out of the
 * full-text index (which must be told what it held), then deleted.
 */
#define OLDEST	"(SELECT id FROM messages WHERE time < ?1 " \
		"ORDER BY id LIMIT 1000)"
static const char	unindex_sql[] =
	"INSERT INTO messages_fts(messages_fts, rowid, content) SELECT "
	"'delete', id, content FROM messages WHERE id IN " OLDEST
	" AND content IS NOT NULL";
static const char	expire_sql[] =
	"DELETE FROM messages WHERE id IN " OLDEST;

static long	retain_file(struct wecom_msglog *, int64_t);
static long	retain_store(struct wecom_msglog *, int64_t);
static int	retain_step(sqlite3 *, int, int64_t);
static int	retain_run(sqlite3 *, const char *, int64_t);

/* On any thread, with connections of its own: rows deleted, or -1. */
long
wecom_msglog_expire(struct wecom_msglog *log, int64_t before)
{
	long	here, shared = 0;

	here = retain_file(log, before);
	if (log->store != NULL)
		shared = retain_store(log, before);

	return (here < 0 || shared < 0 ? -1 : here + shared);
}

static long
retain_file(struct wecom_msglog *log, int64_t before)
{
	sqlite3		*db;
	char		 err[256];
	long		 total;
	int		 n, fts;

	if ((db = wecom_msglog_reader(log, err, sizeof(err))) == NULL)
		return (-1);
	fts = wecom_msglog_db_has_fts(db);
	total = 0;
	do {
		if ((n = retain_step(db, fts, before)) < 0)
			break;
		total += n;
	} while (n == MSGLOG_EXPIRE_STEP);
	if (n < 0)
		wecom_msglog_tell(log, LOG_WARNING, "retention: %s",
		    sqlite3_errmsg(db));
	else if (total > 0)
		wecom_msglog_tell(log, LOG_INFO, "retention: %ld rows older "
		    "than log_days deleted", total);
	wecom_msglog_reader_done(log, db, n >= 0);

	return (n >= 0 ? total : -1);
}

/* The store's rows, a statement at a time: no lock held for long. */
static long
retain_store(struct wecom_msglog *log, int64_t before)
{
	struct wecom_store	*st;
	long			 n, total = 0;

	if ((st = wecom_msglog_store(log)) == NULL)
		return (-1);
	do {
		if (wecom_store_message_expire(st, before, MSGLOG_EXPIRE_STEP,
		    &n) != WECOM_STORE_OK) {
			/* Unreachable: the store said so; next hour then. */
			if (wecom_store_connected(st))
				wecom_msglog_tell(log, LOG_WARNING, "retention "
				    "in the store: %s", wecom_store_error(st));
			return (-1);
		}
		total += n;
	} while (n == MSGLOG_EXPIRE_STEP);
	if (total > 0)
		wecom_msglog_tell(log, LOG_INFO, "retention: %ld rows older "
		    "than log_days deleted from the store", total);

	return (total);
}

/* One transaction: rows deleted, or -1. */
static int
retain_step(sqlite3 *db, int fts, int64_t before)
{
	int	n;

	if (wecom_msglog_db_exec(db, "BEGIN IMMEDIATE") != WECOM_OK)
		return (-1);
	if ((fts && retain_run(db, unindex_sql, before) < 0) ||
	    (n = retain_run(db, expire_sql, before)) < 0 ||
	    wecom_msglog_db_exec(db, "COMMIT") != WECOM_OK) {
		(void)wecom_msglog_db_exec(db, "ROLLBACK");
		return (-1);
	}

	return (n);
}

/* sql with before as ?1: rows changed, or -1. */
static int
retain_run(sqlite3 *db, const char *sql, int64_t before)
{
	sqlite3_stmt	*st;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	sqlite3_bind_int64(st, 1, before);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);

	return (rc == SQLITE_DONE ? sqlite3_changes(db) : -1);
}
