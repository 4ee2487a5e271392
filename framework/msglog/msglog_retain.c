/* SPDX-License-Identifier: ISC */
/*
 * Retention: rows older than log_days go, a thousand per transaction,
 * so that no worker's writer waits long for the lock meanwhile. Freed
 * pages are reused by later rows; the file does not shrink (no VACUUM,
 * which would copy the whole file and hold the lock throughout).
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

static int	retain_step(sqlite3 *, int, int64_t);
static int	retain_run(sqlite3 *, const char *, int64_t);

/* On any thread, with a connection of its own: rows deleted, or -1. */
long
wecom_msglog_expire(struct wecom_msglog *log, int64_t before)
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
