/* SPDX-License-Identifier: ISC */
/*
 * The writer thread's side of the database: a batch of entries in one
 * short transaction. When the file cannot be opened, stays locked past
 * busy_ms, or the disk is full, the batch is dropped and counted: the
 * log is worth less than the callbacks it records, and an unbounded
 * backlog would only move the failure into memory.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <jansson.h>
#include <sqlite3.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "msglog_private.h"

static const char	insert_sql[] =
	"INSERT INTO messages (direction, app, channel, type, sender, chat, "
	"msgid, time, content, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* A batch's rows into the full-text index, in one statement. */
static const char	index_sql[] =
	"INSERT INTO messages_fts(rowid, content) SELECT id, content "
	"FROM messages WHERE id > ? AND content IS NOT NULL";

static int	write_open(struct wecom_msglog *);
static int64_t	write_last(sqlite3 *);
static int	write_batch(struct wecom_msglog *, struct msglog_queue *);
static int	write_one(struct wecom_msglog *, sqlite3_stmt *,
		    const struct msglog_entry *);
static char	*write_fields(struct wecom_msglog *,
		    const struct msglog_entry *);
static void	write_field(json_t *, const char *, const char *);
static void	write_text(sqlite3_stmt *, int, const char *);

void
wecom_msglog_write(struct wecom_msglog *log, struct msglog_queue *batch,
    size_t n)
{
	struct msglog_entry	*e;
	int			 ok;

	ok = write_open(log) == WECOM_OK && write_batch(log, batch) ==
	    WECOM_OK;
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

/* The writer's connection, opened again after a failure, not too often. */
static int
write_open(struct wecom_msglog *log)
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
	 * this process writes to it. */
	wecom_msglog_tell(log, LOG_INFO, "writing to %s", log->path);
	log->fts = wecom_msglog_db_has_fts(log->db);
	log->open_failed = 0;

	return (WECOM_OK);
}

static int
write_batch(struct wecom_msglog *log, struct msglog_queue *batch)
{
	struct msglog_entry	*e;
	sqlite3_stmt		*st = NULL;
	int64_t			 before;
	int			 rc;

	rc = SQLITE_ERROR;
	if (wecom_msglog_db_exec(log->db, "BEGIN IMMEDIATE") != WECOM_OK)
		goto out;
	/* Ours alone until COMMIT: the batch's ids follow this one. */
	if ((before = write_last(log->db)) < 0 ||
	    sqlite3_prepare_v2(log->db, insert_sql, -1, &st, NULL) !=
	    SQLITE_OK)
		goto out;
	TAILQ_FOREACH(e, batch, list)
		if ((rc = write_one(log, st, e)) != SQLITE_DONE)
			goto out;
	sqlite3_finalize(st);
	st = NULL;
	rc = SQLITE_ERROR;
	if (log->fts && (sqlite3_prepare_v2(log->db, index_sql, -1, &st,
	    NULL) != SQLITE_OK || sqlite3_bind_int64(st, 1, before) !=
	    SQLITE_OK || sqlite3_step(st) != SQLITE_DONE))
		goto out;
	rc = wecom_msglog_db_exec(log->db, "COMMIT") == WECOM_OK ?
	    SQLITE_OK : SQLITE_ERROR;
out:
	sqlite3_finalize(st);
	if (rc == SQLITE_OK)
		return (WECOM_OK);

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

static int
write_one(struct wecom_msglog *log, sqlite3_stmt *st,
    const struct msglog_entry *e)
{
	char	*fields;
	int	 rc;

	sqlite3_reset(st);
	write_text(st, 1, e->direction);
	write_text(st, 2, e->app);
	write_text(st, 3, e->channel);
	write_text(st, 4, e->type);
	write_text(st, 5, e->sender);
	write_text(st, 6, e->chat);
	write_text(st, 7, e->msgid);
	sqlite3_bind_int64(st, 8, e->time);
	write_text(st, 9, e->content);
	fields = write_fields(log, e);
	sqlite3_bind_text(st, 10, fields ? fields : "{}", -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_clear_bindings(st);
	free(fields);

	return (rc);
}

static void
write_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s != NULL)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Every field by path; a document is flattened here, off the callback. */
static char *
write_fields(struct wecom_msglog *log, const struct msglog_entry *e)
{
	struct wecom_msglog_rec	 rec;
	struct msglog_entry	*flat = NULL;
	const char		*p;
	json_t			*o;
	char			*s;
	size_t			 i;
	int			 rc;

	if (e->doc != NULL) {
		rc = e->doc_json ? wecom_xml_parse_json(log->x, e->doc,
		    e->doclen) : wecom_xml_parse(log->x, e->doc, e->doclen);
		if (rc != WECOM_OK)
			return (NULL);
		/* The same copy as a callback's fields: the same rules. */
		memset(&rec, 0, sizeof(rec));
		rec.xml = log->x;
		rec.direction = "";
		if ((flat = wecom_msglog_flatten(&rec)) == NULL)
			return (NULL);
		e = flat;
	}
	if ((o = json_object()) == NULL) {
		free(flat);
		return (NULL);
	}
	for (i = 0, p = e->pairs; i < e->npairs; i++) {
		write_field(o, p, p + strlen(p) + 1);
		p += strlen(p) + 1;
		p += strlen(p) + 1;
	}
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(flat);

	return (s);
}

/* A path seen again (an array, repeated elements): its values, listed. */
static void
write_field(json_t *o, const char *path, const char *value)
{
	json_t	*old, *v, *a;

	if ((v = json_string(value)) == NULL)
		return;
	if ((old = json_object_get(o, path)) == NULL) {
		json_object_set_new(o, path, v);
		return;
	}
	if (json_is_array(old)) {
		json_array_append_new(old, v);
		return;
	}
	if ((a = json_array()) == NULL) {
		json_decref(v);
		return;
	}
	json_array_append(a, old);
	json_array_append_new(a, v);
	json_object_set_new(o, path, a);
}
