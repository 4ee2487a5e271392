/* SPDX-License-Identifier: ISC */
/*
 * A page of the log: the rows that match, newest first, walked by id
 * (keyset: a page costs the same at the end of a year as at its start,
 * and rows written meanwhile shift nothing). Runs on a chore thread,
 * with a connection of its own: to the host's file (WAL lets it read
 * while workers write), or with a shared store to the store, where
 * every server's rows are. One WHERE clause is built for both, in the
 * dialect of either (? or $n), and each row comes back as text.
 *
 * The store down: 503, not this host's file. The file then holds only
 * the rows this host could not put in the store, under ids of its own:
 * an answer from it would miss the other servers' rows, and a cursor
 * from it would mean another row in the store.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "wecom.h"
#include "wecom_buf.h"
#include "wecom_push.h"
#include "msglog_private.h"

#define SCOPE_MAX	64		/* apps named by one key */
#define BINDS_MAX	(SCOPE_MAX + 12)
#define COLS		(WECOM_STORE_MESSAGE_COLS + 1)	/* id first */

#define ROWS_SQL	"SELECT id, direction, app, channel, type, sender, " \
			"chat, msgid, time, content, fields FROM messages"
#define COUNT_SQL	"SELECT count(*) FROM messages"

/* Where the rows are: the host's file or the store, one of them. */
struct source {
	sqlite3			*db;
	struct wecom_store	*st;
};

/* The WHERE clause being built and what its placeholders stand for. */
struct where {
	struct wecom_buf	 sql;
	int			 pg;			/* $n, else ? */
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
	int		 newer;		/* read oldest first */
	int		 bad;		/* a row could not be made */
};

/* What follows WHERE: " AND id < ? ORDER BY id DESC LIMIT ?", its values. */
struct tail {
	const char	*sql;
	int		 n;		/* its ?s */
	int64_t		 v[2];
};

typedef void	(*row_fn)(void *, const char *const *);

static int	query_page(const struct source *,
		    const struct wecom_msglog_query *, const char *,
		    json_t **);
static void	query_why(struct wecom_msglog *, const struct source *, char *,
		    size_t);
static void	query_where(struct where *, const struct wecom_msglog_query *,
		    int);
static void	query_cond(struct where *, const char *, const char *,
		    int64_t);
static void	query_mark(struct where *, const char *, int64_t);
static void	query_text(struct where *, const char *, int);
static char	*query_sql(const struct where *, const char *);
static int	query_run(const struct source *, const struct where *, int,
		    const struct tail *, row_fn, void *);
static int	query_file(sqlite3 *, const struct where *, const char *,
		    const struct tail *, row_fn, void *);
static int	query_store(struct wecom_store *, const struct where *, int,
		    const char *, const struct tail *, row_fn, void *);
static int	query_rows(const struct source *, const struct where *,
		    const struct wecom_msglog_query *, struct page *);
static void	query_add(void *, const char *const *);
static void	query_int(void *, const char *const *);
static void	query_one(void *, const char *const *);
static json_t	*query_row(const char *const *);
static json_t	*query_link(const struct wecom_msglog_query *, const char *,
		    const struct source *, const struct where *, int64_t, int);

int
wecom_msglog_query(struct wecom_msglog *log,
    const struct wecom_msglog_query *q, const char *base, json_t **answer,
    char *why, size_t whylen)
{
	struct source	 src;
	int		 rc;

	*answer = NULL;
	if (q->scope != NULL && q->app != NULL &&
	    !wecom_names_has(q->scope, q->app, strlen(q->app))) {
		snprintf(why, whylen, "app: this key may not read %s", q->app);
		return (403);
	}
	memset(&src, 0, sizeof(src));
	if (log->store != NULL) {
		if ((src.st = wecom_msglog_store(log)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return (503);
		}
	} else if ((src.db = wecom_msglog_reader(log, why, whylen)) == NULL)
		return (503);
	if ((rc = query_page(&src, q, base, answer)) != WECOM_OK)
		query_why(log, &src, why, whylen);
	else if (*answer == NULL)
		snprintf(why, whylen, "out of memory");
	if (src.db != NULL)
		wecom_msglog_reader_done(log, src.db, rc == WECOM_OK);

	return (*answer != NULL ? 200 : 503);
}

/* The count, the page, the links: *answer (NULL: no memory), or error. */
static int
query_page(const struct source *src, const struct wecom_msglog_query *q,
    const char *base, json_t **answer)
{
	struct where	 w;
	struct page	 pg;
	struct tail	 all = { "", 0, { 0, 0 } };
	json_t		*next = NULL, *prev = NULL;
	int64_t		 count = -1;
	int		 ok;

	memset(&w, 0, sizeof(w));
	memset(&pg, 0, sizeof(pg));
	w.pg = src->st != NULL;
	query_where(&w, q, src->db != NULL && wecom_msglog_db_has_fts(src->db));
	ok = query_run(src, &w, 1, &all, query_int, &count) == WECOM_OK &&
	    count >= 0 && query_rows(src, &w, q, &pg) == WECOM_OK;
	if (ok && pg.n > 0) {
		next = query_link(q, base, src, &w, pg.last, 0);
		prev = query_link(q, base, src, &w, pg.first, 1);
	} else if (ok) {
		/* An empty page: the way back to where rows are. */
		next = q->cursor && q->newer ? query_link(q, base, src, &w,
		    q->cursor + 1, 0) : json_null();
		prev = q->cursor && !q->newer ? query_link(q, base, src, &w,
		    q->cursor - 1, 1) : json_null();
	}
	if (ok)
		*answer = json_pack("{s:I, s:o, s:o, s:o}", "count",
		    (json_int_t)count, "next", next, "previous", prev,
		    "results", pg.results);
	else
		json_decref(pg.results);
	wecom_buf_free(&w.sql);
	free(w.owned[0]);
	free(w.owned[1]);

	return (ok ? WECOM_OK : WECOM_ERROR);
}

/* Why a page failed, for the caller; the store's details go to the log. */
static void
query_why(struct wecom_msglog *log, const struct source *src, char *why,
    size_t whylen)
{
	if (src->db != NULL)
		snprintf(why, whylen, "the message log: %s",
		    sqlite3_errmsg(src->db));
	else if (wecom_store_connected(src->st)) {
		wecom_msglog_tell(log, LOG_WARNING, "a query failed in the "
		    "store: %s", wecom_store_error(src->st));
		snprintf(why, whylen, "the message log: the store failed "
		    "the query (%s)", wecom_store_error(src->st));
	} else
		snprintf(why, whylen, "the message log is kept in the shared "
		    "store, which does not answer: try again shortly (no "
		    "row is lost meanwhile)");
}

static void
query_where(struct where *w, const struct wecom_msglog_query *q, int fts)
{
	const char	*list;
	size_t		 n, k;

	wecom_buf_addf(&w->sql, " WHERE true");
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
		wecom_buf_addf(&w->sql, ", ");
		query_mark(w, w->names[k], 0);
	}
	wecom_buf_addf(&w->sql, ")");
}

/* " AND cond", its one ? in the dialect, with its value: text, or num. */
static void
query_cond(struct where *w, const char *cond, const char *text, int64_t num)
{
	const char	*mark;

	if (text == NULL && num == 0)
		return;
	mark = strchr(cond, '?');
	wecom_buf_addf(&w->sql, " AND %.*s", (int)(mark - cond), cond);
	query_mark(w, text, num);
	wecom_buf_addf(&w->sql, "%s", mark + 1);
}

static void
query_mark(struct where *w, const char *text, int64_t num)
{
	if (w->pg)
		wecom_buf_addf(&w->sql, "$%d", w->n + 1);
	else
		wecom_buf_add(&w->sql, "?", 1);
	w->text[w->n] = text;
	w->num[w->n++] = num;
}

/*
 * q: the file's trigram index finds any part of three characters or
 * more; shorter ones, or without FTS5, a LIKE scan. The store: ILIKE,
 * which its trigram index serves when pg_trgm could be had. Either way
 * a substring, not a query language: quotes and stars are only
 * characters, and % _ \ are escaped.
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
	query_cond(w, w->pg ? "content ILIKE ? ESCAPE '\\'" :
	    "content LIKE ? ESCAPE '\\'", w->owned[1] ? w->owned[1] : "", 0);
}

/* WHERE + tail, tail's ?s in the dialect, numbered after WHERE's. */
static char *
query_sql(const struct where *w, const char *tail)
{
	struct wecom_buf	 b;
	const char		*p;
	int			 k = w->n;

	if (w->sql.err)
		return (NULL);
	memset(&b, 0, sizeof(b));
	wecom_buf_add(&b, w->sql.p, w->sql.len);
	for (p = tail; *p != '\0'; p++) {
		if (*p == '?' && w->pg)
			wecom_buf_addf(&b, "$%d", ++k);
		else
			wecom_buf_add(&b, p, 1);
	}
	if (b.err) {
		wecom_buf_free(&b);
		return (NULL);
	}

	return (wecom_buf_take(&b, NULL));
}

/* The rows (count: their number, as one row) matching: each to fn. */
static int
query_run(const struct source *src, const struct where *w, int count,
    const struct tail *t, row_fn fn, void *arg)
{
	char	*sql, *full;
	int	 rc;

	if ((sql = query_sql(w, t->sql)) == NULL)
		return (WECOM_ERROR);
	if (src->st != NULL)
		rc = query_store(src->st, w, count, sql, t, fn, arg);
	else if (asprintf(&full, "%s%s", count ? COUNT_SQL : ROWS_SQL,
	    sql) == -1)
		rc = WECOM_ERROR;
	else {
		rc = query_file(src->db, w, full, t, fn, arg);
		free(full);
	}
	free(sql);

	return (rc);
}

/* Rows as text, id first, NULL for none; the tail's values after WHERE's. */
static int
query_file(sqlite3 *db, const struct where *w, const char *sql,
    const struct tail *t, row_fn fn, void *arg)
{
	const char	*v[COLS];
	sqlite3_stmt	*st;
	int		 i, rc;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return (WECOM_ERROR);
	for (i = 0; i < w->n; i++) {
		if (w->text[i] != NULL)
			sqlite3_bind_text(st, i + 1, w->text[i], -1,
			    SQLITE_STATIC);
		else
			sqlite3_bind_int64(st, i + 1, w->num[i]);
	}
	for (i = 0; i < t->n; i++)
		sqlite3_bind_int64(st, w->n + i + 1, t->v[i]);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(st) && i < COLS; i++)
			v[i] = (const char *)sqlite3_column_text(st, i);
		fn(arg, v);
	}
	sqlite3_finalize(st);

	return (rc == SQLITE_DONE ? WECOM_OK : WECOM_ERROR);
}

/* The same through the store: every value as text. */
static int
query_store(struct wecom_store *st, const struct where *w, int count,
    const char *sql, const struct tail *t, row_fn fn, void *arg)
{
	char		 nums[BINDS_MAX + 2][24];
	const char	*p[BINDS_MAX + 2], *v[1];
	int64_t		 n;
	int		 i;

	for (i = 0; i < w->n + t->n; i++) {
		snprintf(nums[i], sizeof(nums[i]), "%lld", (long long)(i <
		    w->n ? w->num[i] : t->v[i - w->n]));
		p[i] = i < w->n && w->text[i] != NULL ? w->text[i] : nums[i];
	}
	if (!count)
		return (wecom_store_message_rows(st, sql, i, p, fn, arg) ==
		    WECOM_STORE_OK ? WECOM_OK : WECOM_ERROR);
	if (wecom_store_message_count(st, sql, i, p, &n) != WECOM_STORE_OK)
		return (WECOM_ERROR);
	snprintf(nums[0], sizeof(nums[0]), "%lld", (long long)n);
	v[0] = nums[0];
	fn(arg, v);

	return (WECOM_OK);
}

/* The page: limit rows past the cursor, shown newest first. */
static int
query_rows(const struct source *src, const struct where *w,
    const struct wecom_msglog_query *q, struct page *pg)
{
	struct tail	t = { q->newer ? " AND id > ? ORDER BY id ASC LIMIT ?" :
			    " AND id < ? ORDER BY id DESC LIMIT ?", 2,
			    { q->cursor ? q->cursor : (q->newer ? 0 :
			    INT64_MAX), q->limit } };

	if ((pg->results = json_array()) == NULL)
		return (WECOM_ERROR);
	pg->newer = q->newer;
	if (query_run(src, w, 0, &t, query_add, pg) != WECOM_OK || pg->bad)
		return (WECOM_ERROR);
	if (pg->n > 0) {
		pg->first = json_integer_value(json_object_get(
		    json_array_get(pg->results, 0), "id"));
		pg->last = json_integer_value(json_object_get(
		    json_array_get(pg->results, (size_t)pg->n - 1), "id"));
	}

	return (WECOM_OK);
}

static void
query_add(void *arg, const char *const *v)
{
	struct page	*pg = arg;
	json_t		*row;

	if ((row = query_row(v)) == NULL) {
		pg->bad = 1;
		return;
	}
	/* Newer pages are read oldest first: turned round here. */
	if (pg->newer)
		json_array_insert_new(pg->results, 0, row);
	else
		json_array_append_new(pg->results, row);
	pg->n++;
}

/* The first value as a number (a count), into an int64_t. */
static void
query_int(void *arg, const char *const *v)
{
	int64_t	*n = arg;

	*n = v[0] != NULL ? strtoll(v[0], NULL, 10) : -1;
}

/* A row was found: counted. */
static void
query_one(void *arg, const char *const *v)
{
	int64_t	*n = arg;

	(*n)++;
}

/* The answer's row: time as ISO 8601 UTC, fields parsed. */
static json_t *
query_row(const char *const *v)
{
	static const char	*names[COLS] = { "id", "direction", "app",
				    "channel", "type", "sender", "chat",
				    "msgid", "time", "content", "fields" };
	json_t			*o, *j;
	char			 iso[32];
	struct tm		 tm;
	time_t			 t;
	int			 i;

	if ((o = json_object()) == NULL)
		return (NULL);
	for (i = 0; i < COLS; i++) {
		if (v[i] == NULL)
			j = NULL;
		else if (i == 0)
			j = json_integer(strtoll(v[i], NULL, 10));
		else if (i == 8) {
			t = (time_t)strtoll(v[i], NULL, 10);
			gmtime_r(&t, &tm);
			strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
			j = json_string(iso);
		} else if (i == 10)
			j = json_loads(v[i], 0, NULL);
		else
			j = json_string(v[i]);
		json_object_set_new(o, names[i], j ? j : json_null());
	}

	return (o);
}

/* The link to the rows past id (newer or older), or null if none. */
static json_t *
query_link(const struct wecom_msglog_query *q, const char *base,
    const struct source *src, const struct where *w, int64_t id, int newer)
{
	struct tail	 t = { newer ? " AND id > ? LIMIT 1" :
			    " AND id < ? LIMIT 1", 1, { id, 0 } };
	int64_t		 more = 0;
	char		*url;
	json_t		*v;

	if (query_run(src, w, 0, &t, query_one, &more) != WECOM_OK ||
	    !more || (url = wecom_msglog_link(q, base, id, newer)) == NULL)
		return (json_null());
	v = json_string(url);
	free(url);

	return (v ? v : json_null());
}
