/* SPDX-License-Identifier: ISC */
/*
 * The database file: opened by every worker's writer and by queries,
 * made on first use. WAL lets queries read while a worker writes, and
 * a worker wait only for another's short transaction (busy_timeout).
 * Nothing may need a path outside state_dir (the workers may run in a
 * chroot): temporary tables stay in memory. Queries and retention keep
 * one spare connection; lines for the log function are made here too,
 * and the handles to the shared store are found here.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "wecom.h"
#include "msglog_private.h"

/*
 * id is the cursor: keyset pagination walks it, newest first. time is
 * when the server received the message (or made the reply), in unix
 * seconds; fields is a JSON object, path → value.
 */
static const char	*schema[] = {
	"CREATE TABLE IF NOT EXISTS messages ("
	"  id INTEGER PRIMARY KEY,"
	"  direction TEXT NOT NULL,"
	"  app TEXT NOT NULL,"
	"  channel TEXT NOT NULL,"
	"  type TEXT NOT NULL,"
	"  sender TEXT,"
	"  chat TEXT,"
	"  msgid TEXT,"
	"  time INTEGER NOT NULL,"
	"  content TEXT,"
	"  fields TEXT NOT NULL DEFAULT '{}')",
	"CREATE INDEX IF NOT EXISTS messages_time ON messages(time)",
	"CREATE INDEX IF NOT EXISTS messages_app ON messages(app, id)",
	"CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender, id)",
	"CREATE INDEX IF NOT EXISTS messages_chat ON messages(chat, id)",
	/*
	 * With a shared store: rows first … last of this file that the
	 * store's transaction txid took, or may have, and that are still
	 * here (msglog_move.c).
	 */
	"CREATE TABLE IF NOT EXISTS messages_moving ("
	"  txid INTEGER PRIMARY KEY,"
	"  first INTEGER NOT NULL,"
	"  last INTEGER NOT NULL)",
	NULL
};

/*
 * Full text, where this SQLite has FTS5: trigrams, so that Chinese,
 * which has no spaces between words, is found by any part of three
 * characters or more (shorter searches scan with LIKE). The index only
 * holds content and reads its rows from the table. No triggers keep it
 * in step: a trigger makes every INSERT a statement savepoint, on which
 * FTS5 flushes its index (measured: 47 us a row). The writer indexes a
 * whole batch with one statement, retention unindexes before deleting.
 */
static const char	*schema_fts[] = {
	"CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
	"  content, content='messages', content_rowid='id',"
	"  tokenize='trigram case_sensitive 0')",
	NULL
};

#define SCHEMA_VERSION	2	/* PRAGMA user_version once it is made */
#define SCHEMA_SET	"PRAGMA user_version = 2"

static int	db_busy(void *, int);
static int64_t	db_now_ms(void);
static int	db_schema(sqlite3 *, char *, size_t);
static int	db_version(sqlite3 *);
static int	db_list(sqlite3 *, const char **);

int
wecom_msglog_db_open(const char *path, long busy_ms, sqlite3 **dbp,
    char *err, size_t errlen)
{
	sqlite3	*db;
	int	 fd;

	*dbp = NULL;
	err[0] = '\0';
	/* Chats: only the server's user may read them (-wal, -shm follow). */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return (WECOM_ERROR);
	}
	close(fd);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) :
		    "out of memory");
		sqlite3_close(db);
		return (WECOM_ERROR);
	}
	sqlite3_busy_handler(db, db_busy, (void *)(intptr_t)busy_ms);
	if (wecom_msglog_db_exec(db, "PRAGMA journal_mode = WAL") != WECOM_OK ||
	    wecom_msglog_db_exec(db, "PRAGMA synchronous = NORMAL") !=
	    WECOM_OK ||
	    wecom_msglog_db_exec(db, "PRAGMA temp_store = MEMORY") !=
	    WECOM_OK ||
	    db_schema(db, err, errlen) != WECOM_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", path,
			    sqlite3_errmsg(db));
		sqlite3_close(db);
		return (WECOM_ERROR);
	}
	*dbp = db;

	return (WECOM_OK);
}

/*
 * Another worker's transaction holds the lock: try again every
 * millisecond, for busy_ms in all. SQLite's own busy_timeout sleeps up
 * to 100 ms between tries, long past a batch that takes a few: the
 * queue would fill meanwhile. By the clock, not by tries: on a loaded
 * machine a millisecond's sleep takes longer, and busy_ms would grow.
 */
static int
db_busy(void *arg, int tries)
{
	static __thread int64_t	 until;
	struct timespec		 ts = { 0, 1000000 };

	if (tries == 0)
		until = db_now_ms() + (intptr_t)arg;
	if (db_now_ms() >= until)
		return (0);
	nanosleep(&ts, NULL);

	return (1);
}

static int64_t
db_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The schema, once, in one transaction: every worker may try at once. */
static int
db_schema(sqlite3 *db, char *err, size_t errlen)
{
	err[0] = '\0';
	/* Made already: a query need not wait for the write lock. */
	if (db_version(db) == SCHEMA_VERSION)
		return (WECOM_OK);
	if (wecom_msglog_db_exec(db, "BEGIN IMMEDIATE") != WECOM_OK)
		return (WECOM_ERROR);
	if (db_list(db, schema) != WECOM_OK) {
		snprintf(err, errlen, "schema: %s", sqlite3_errmsg(db));
		(void)wecom_msglog_db_exec(db, "ROLLBACK");
		return (WECOM_ERROR);
	}
	/* Without FTS5 (another build of SQLite) q= falls back to LIKE. */
	if (sqlite3_compileoption_used("ENABLE_FTS5") &&
	    db_list(db, schema_fts) != WECOM_OK) {
		(void)wecom_msglog_db_exec(db, "ROLLBACK");
		if (wecom_msglog_db_exec(db, "BEGIN IMMEDIATE") != WECOM_OK ||
		    db_list(db, schema) != WECOM_OK) {
			(void)wecom_msglog_db_exec(db, "ROLLBACK");
			return (WECOM_ERROR);
		}
	}

	if (wecom_msglog_db_exec(db, SCHEMA_SET) != WECOM_OK) {
		(void)wecom_msglog_db_exec(db, "ROLLBACK");
		return (WECOM_ERROR);
	}

	return (wecom_msglog_db_exec(db, "COMMIT"));
}

static int
db_version(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 v;

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return (-1);
	v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);

	return (v);
}

static int
db_list(sqlite3 *db, const char **list)
{
	size_t	i;

	for (i = 0; list[i] != NULL; i++)
		if (wecom_msglog_db_exec(db, list[i]) != WECOM_OK)
			return (WECOM_ERROR);

	return (WECOM_OK);
}

int
wecom_msglog_db_exec(sqlite3 *db, const char *sql)
{
	return (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ?
	    WECOM_OK : WECOM_ERROR);
}

/* Whether the full-text index was made (by this or another worker). */
int
wecom_msglog_db_has_fts(sqlite3 *db)
{
	sqlite3_stmt	*st;
	int		 found;

	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE "
	    "name = 'messages_fts'", -1, &st, NULL) != SQLITE_OK)
		return (0);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);

	return (found);
}

/* One line for the log function, no secret in it (paths, SQLite's words). */
void
wecom_msglog_tell(struct wecom_msglog *log, int priority, const char *fmt,
    ...)
{
	char	line[512];
	va_list	ap;
	int	n;

	if (log->opts.log == NULL)
		return;
	n = snprintf(line, sizeof(line), "message log: ");
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	log->opts.log(log->opts.log_arg, priority, line);
}

/* A connection for this thread: the one kept, or a new one. */
sqlite3 *
wecom_msglog_reader(struct wecom_msglog *log, char *err, size_t errlen)
{
	sqlite3	*db;

	pthread_mutex_lock(&log->rlock);
	db = log->spare;
	log->spare = NULL;
	pthread_mutex_unlock(&log->rlock);
	if (db == NULL && wecom_msglog_db_open(log->path, log->opts.busy_ms,
	    &db, err, errlen) != WECOM_OK)
		return (NULL);

	return (db);
}

/* Kept for the next query if it is sound and none is kept yet. */
void
wecom_msglog_reader_done(struct wecom_msglog *log, sqlite3 *db, int ok)
{
	if (ok && sqlite3_get_autocommit(db)) {
		pthread_mutex_lock(&log->rlock);
		if (log->spare == NULL) {
			log->spare = db;
			db = NULL;
		}
		pthread_mutex_unlock(&log->rlock);
	}
	sqlite3_close(db);
}

/* This thread's handle to the store (NULL: no store). */
struct wecom_store *
wecom_msglog_store(struct wecom_msglog *log)
{
	return (wecom_store_thread(log->store));
}

/* sql with ?1 … ?n from v (as many as it names): rows changed, or -1. */
int
wecom_msglog_db_run(sqlite3 *db, const char *sql, const int64_t *v)
{
	sqlite3_stmt	*st;
	int		 i, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (-1);
	for (i = 0; i < sqlite3_bind_parameter_count(st); i++)
		sqlite3_bind_int64(st, i + 1, v[i]);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);

	return (rc == SQLITE_DONE ? sqlite3_changes(db) : -1);
}
