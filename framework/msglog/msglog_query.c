/* SPDX-License-Identifier: ISC */
/*
 * A page of the log: the rows that match, newest first, walked by id
 * (keyset: a page costs the same at the end of a year as at its start,
 * and rows written meanwhile shift nothing). Runs on a chore thread,
 * with a connection of its own; WAL lets it read while workers write.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "wecom.h"
#include "wecom_buf.h"
#include "wecom_push.h"
#include "msglog_private.h"

#define SCOPE_MAX	64		/* apps named by one key */
#define BINDS_MAX	(SCOPE_MAX + 12)

/* The WHERE clause being built and what its ?s stand for. */
struct where {
	struct wecom_buf	 sql;
	const char		*text[BINDS_MAX];	/* or, if NULL, */
	int64_t			 num[BINDS_MAX];
	int			 n;
	char			*owned[2];		/* q's patterns */
	char			 names[SCOPE_MAX][128];
};

struct page {
	json_t		*results;
	int64_t		 first, last;	/* ids, newest and oldest */
	long		 n;
};

static void	query_where(struct where *, const struct wecom_msglog_query *,
		    int);
static void	query_cond(struct where *, const char *, const char *,
		    int64_t);
static void	query_text(struct where *, const char *, int);
static sqlite3_stmt	*query_prepare(sqlite3 *, struct where *,
			    const char *, const char *);
static int	query_rows(sqlite3 *, struct where *,
		    const struct wecom_msglog_query *, struct page *);
static json_t	*query_row(sqlite3_stmt *);
static json_t	*query_col(sqlite3_stmt *, int);
static int64_t	query_int(sqlite3 *, struct where *, const char *,
		    const char *);
static json_t	*query_link(const struct wecom_msglog_query *, const char *,
		    sqlite3 *, struct where *, int64_t, int);

int
wecom_msglog_query(struct wecom_msglog *log,
    const struct wecom_msglog_query *q, const char *base, json_t **answer,
    char *why, size_t whylen)
{
	struct where	 w;
	struct page	 pg;
	sqlite3		*db;
	json_t		*next = NULL, *prev = NULL;
	int64_t		 count;
	int		 ok;

	*answer = NULL;
	if (q->scope != NULL && q->app != NULL &&
	    !wecom_names_has(q->scope, q->app, strlen(q->app))) {
		snprintf(why, whylen, "app: this key may not read %s", q->app);
		return (403);
	}
	if ((db = wecom_msglog_reader(log, why, whylen)) == NULL)
		return (503);
	memset(&w, 0, sizeof(w));
	memset(&pg, 0, sizeof(pg));
	query_where(&w, q, wecom_msglog_db_has_fts(db));
	count = query_int(db, &w, "SELECT count(*) FROM messages", "");
	ok = count >= 0 && query_rows(db, &w, q, &pg) == WECOM_OK;
	if (ok && pg.n > 0) {
		next = query_link(q, base, db, &w, pg.last, 0);
		prev = query_link(q, base, db, &w, pg.first, 1);
	} else if (ok) {
		/* An empty page: the way back to where rows are. */
		next = q->cursor && q->newer ? query_link(q, base, db, &w,
		    q->cursor + 1, 0) : json_null();
		prev = q->cursor && !q->newer ? query_link(q, base, db, &w,
		    q->cursor - 1, 1) : json_null();
	}
	if (ok)
		*answer = json_pack("{s:I, s:o, s:o, s:o}", "count",
		    (json_int_t)count, "next", next, "previous", prev,
		    "results", pg.results);
	else {
		snprintf(why, whylen, "the message log: %s",
		    sqlite3_errmsg(db));
		json_decref(pg.results);
	}
	wecom_msglog_reader_done(log, db, ok);
	wecom_buf_free(&w.sql);
	free(w.owned[0]);
	free(w.owned[1]);
	if (ok && *answer == NULL)
		snprintf(why, whylen, "out of memory");

	return (*answer != NULL ? 200 : 503);
}

static void
query_where(struct where *w, const struct wecom_msglog_query *q, int fts)
{
	const char	*list;
	size_t		 n, k;

	wecom_buf_addf(&w->sql, " WHERE 1");
	query_cond(w, "app = ?", q->app, 0);
	query_cond(w, "type = ?", q->type, 0);
	query_cond(w, "sender = ?", q->sender, 0);
	query_cond(w, "chat = ?", q->chat, 0);
	query_cond(w, "direction = ?", q->direction, 0);
	if (q->since)
		query_cond(w, "time >= ?", NULL, q->since);
	if (q->until)
		query_cond(w, "time < ?", NULL, q->until);
	if (q->q != NULL)
		query_text(w, q->q, fts);
	if (q->scope == NULL)
		return;
	/* A key's apps: at most SCOPE_MAX of them; none is nothing. */
	wecom_buf_addf(&w->sql, " AND app IN (''");
	for (k = 0, list = q->scope + strspn(q->scope, " ,"); *list != '\0' &&
	    k < SCOPE_MAX; list += n, list += strspn(list, " ,"), k++) {
		n = strcspn(list, " ,");
		snprintf(w->names[k], sizeof(w->names[k]), "%.*s", (int)n,
		    list);
		wecom_buf_addf(&w->sql, ", ?");
		w->text[w->n++] = w->names[k];
	}
	wecom_buf_addf(&w->sql, ")");
}

/* " AND cond" with its value: text, or if NULL the number. */
static void
query_cond(struct where *w, const char *cond, const char *text, int64_t num)
{
	if (text == NULL && num == 0)
		return;
	wecom_buf_addf(&w->sql, " AND %s", cond);
	w->text[w->n] = text;
	w->num[w->n++] = num;
}

/*
 * q: the trigram index finds any part of three characters or more;
 * shorter ones, or without FTS5, a LIKE scan. Either way a substring,
 * not a query language: quotes and stars are only characters.
 */
static void
query_text(struct where *w, const char *q, int fts)
{
	struct wecom_buf	 b;
	const char		*p;
	size_t			 chars;

	for (chars = 0, p = q; *p != '\0'; p++)
		if (((unsigned char)*p & 0xc0) != 0x80)
			chars++;
	memset(&b, 0, sizeof(b));
	if (fts && chars >= 3) {
		wecom_buf_add(&b, "\"", 1);
		for (p = q; *p != '\0'; p++) {
			if (*p == '"')
				wecom_buf_add(&b, "\"", 1);
			wecom_buf_add(&b, p, 1);
		}
		wecom_buf_add(&b, "\"", 1);
		w->owned[0] = wecom_buf_take(&b, NULL);
		query_cond(w, "id IN (SELECT rowid FROM messages_fts WHERE "
		    "messages_fts MATCH ?)", w->owned[0] ? w->owned[0] : "", 0);
		return;
	}
	wecom_buf_add(&b, "%", 1);
	for (p = q; *p != '\0'; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			wecom_buf_add(&b, "\\", 1);
		wecom_buf_add(&b, p, 1);
	}
	wecom_buf_add(&b, "%", 1);
	w->owned[1] = wecom_buf_take(&b, NULL);
	query_cond(w, "content LIKE ? ESCAPE '\\'", w->owned[1] ? w->owned[1] :
	    "", 0);
}

/* head + WHERE + tail, every ? bound; extra binds follow (tail's). */
static sqlite3_stmt *
query_prepare(sqlite3 *db, struct where *w, const char *head,
    const char *tail)
{
	sqlite3_stmt	*st;
	char		*sql;
	int		 i;

	if (w->sql.err || asprintf(&sql, "%s%s%s", head, w->sql.p, tail) ==
	    -1)
		return (NULL);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		st = NULL;
	free(sql);
	for (i = 0; st != NULL && i < w->n; i++) {
		if (w->text[i] != NULL)
			sqlite3_bind_text(st, i + 1, w->text[i], -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, w->num[i]);
	}

	return (st);
}

/* The page: limit rows past the cursor, shown newest first. */
static int
query_rows(sqlite3 *db, struct where *w, const struct wecom_msglog_query *q,
    struct page *pg)
{
	sqlite3_stmt	*st;
	json_t		*row;
	int		 rc;

	st = query_prepare(db, w, "SELECT id, direction, app, channel, type, "
	    "sender, chat, msgid, time, content, fields FROM messages",
	    q->newer ? " AND id > ? ORDER BY id ASC LIMIT ?" :
	    " AND id < ? ORDER BY id DESC LIMIT ?");
	if (st == NULL || (pg->results = json_array()) == NULL) {
		sqlite3_finalize(st);
		return (WECOM_ERROR);
	}
	sqlite3_bind_int64(st, w->n + 1, q->cursor ? q->cursor : (q->newer ?
	    0 : INT64_MAX));
	sqlite3_bind_int64(st, w->n + 2, q->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((row = query_row(st)) == NULL)
			break;
		/* Newer pages are read oldest first: turned round here. */
		if (q->newer)
			json_array_insert_new(pg->results, 0, row);
		else
			json_array_append_new(pg->results, row);
		pg->n++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return (WECOM_ERROR);
	if (pg->n > 0) {
		pg->first = json_integer_value(json_object_get(
		    json_array_get(pg->results, 0), "id"));
		pg->last = json_integer_value(json_object_get(
		    json_array_get(pg->results, (size_t)pg->n - 1), "id"));
	}

	return (WECOM_OK);
}

static json_t *
query_row(sqlite3_stmt *st)
{
	static const char	*names[] = { "id", "direction", "app",
				    "channel", "type", "sender", "chat",
				    "msgid", "time", "content", "fields" };
	json_t			*o, *v;
	char			 iso[32];
	struct tm		 tm;
	time_t			 t;
	int			 i;

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < 11; i++) {
		if (i == 8) {
			t = (time_t)sqlite3_column_int64(st, i);
			gmtime_r(&t, &tm);
			strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
			v = json_string(iso);
		} else if (i == 10 && sqlite3_column_text(st, i) != NULL)
			v = json_loads((const char *)sqlite3_column_text(st, i),
			    0, NULL);
		else
			v = query_col(st, i);
		json_object_set_new(o, names[i], v ? v : json_null());
	}

	return (o);
}

static json_t *
query_col(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_INTEGER:
		return (json_integer(sqlite3_column_int64(st, i)));
	case SQLITE_NULL:
		return (json_null());
	default:
		return (json_stringn((const char *)sqlite3_column_text(st, i),
		    (size_t)sqlite3_column_bytes(st, i)));
	}
}

/* The first column of the first row; -1 on failure. */
static int64_t
query_int(sqlite3 *db, struct where *w, const char *head, const char *tail)
{
	sqlite3_stmt	*st;
	int64_t		 v;

	if ((st = query_prepare(db, w, head, tail)) == NULL)
		return (-1);
	v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_finalize(st);

	return (v);
}

/* The link to the rows past id (newer or older), or null if none. */
static json_t *
query_link(const struct wecom_msglog_query *q, const char *base,
    sqlite3 *db, struct where *w, int64_t id, int newer)
{
	sqlite3_stmt	*st;
	char		*url;
	json_t		*v;
	int		 more;

	st = query_prepare(db, w, "SELECT 1 FROM messages", newer ?
	    " AND id > ? LIMIT 1" : " AND id < ? LIMIT 1");
	if (st == NULL)
		return (json_null());
	sqlite3_bind_int64(st, w->n + 1, id);
	more = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	if (!more || (url = wecom_msglog_link(q, base, id, newer)) == NULL)
		return (json_null());
	v = json_string(url);
	free(url);

	return (v ? v : json_null());
}
