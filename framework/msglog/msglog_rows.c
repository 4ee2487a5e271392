/* SPDX-License-Identifier: ISC */
/*
 * A batch as rows of text, the same for the store and the host's file:
 * made from the queue (a document is flattened into its fields here, on
 * the writer thread, off the callback) or read back from the file to be
 * moved up to the store. Text that is not UTF-8 goes as none:
 * PostgreSQL would refuse the whole batch for it, and a query shows it
 * as null either way.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "msglog_private.h"

#define COLS		WECOM_STORE_MESSAGE_COLS
#define COL_SENDER	4	/* the first that may be none */
#define COL_TIME	7
#define COL_FIELDS	9

static const char	read_sql[] =
	"SELECT id, direction, app, channel, type, sender, chat, msgid, "
	"time, content, fields FROM messages ORDER BY id LIMIT ?";

static struct msglog_rows	*rows_new(size_t);
static int	rows_copy(struct msglog_rows *, size_t, sqlite3_stmt *);
static void	rows_clean(const char **);
static char	*rows_fields(struct wecom_msglog *,
		    const struct msglog_entry *);
static void	rows_field(json_t *, const char *, const char *);

/* The queued entries' rows; they point into the entries, kept till freed. */
struct msglog_rows *
wecom_msglog_rows(struct wecom_msglog *log, struct msglog_queue *batch,
    size_t n)
{
	struct msglog_rows	*r;
	struct msglog_entry	*e;
	const char		**v;
	size_t			 i = 0;

	if ((r = rows_new(n)) == NULL)
		return (NULL);
	TAILQ_FOREACH(e, batch, list) {
		if (i == n)
			break;
		v = r->v + i * COLS;
		v[0] = e->direction;
		v[1] = e->app;
		v[2] = e->channel;
		v[3] = e->type;
		v[4] = e->sender;
		v[5] = e->chat;
		v[6] = e->msgid;
		snprintf(r->time[i], sizeof(r->time[i]), "%" PRId64, e->time);
		v[COL_TIME] = r->time[i];
		v[8] = e->content;
		r->own[i] = rows_fields(log, e);
		v[COL_FIELDS] = r->own[i] != NULL ? r->own[i] : "{}";
		rows_clean(v);
		i++;
	}
	r->n = i;

	return (r);
}

/* The file's oldest rows, at most max; *rows NULL if it has none. */
int
wecom_msglog_rows_read(sqlite3 *db, size_t max, struct msglog_rows **rows)
{
	struct msglog_rows	*r = NULL;
	sqlite3_stmt		*st = NULL;
	int			 rc = SQLITE_NOMEM;

	*rows = NULL;
	if ((r = rows_new(max)) == NULL ||
	    (rc = sqlite3_prepare_v2(db, read_sql, -1, &st, NULL)) !=
	    SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	while (r->n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if ((rc = rows_copy(r, r->n, st)) != SQLITE_OK)
			goto out;
		if (r->n++ == 0)
			r->first = sqlite3_column_int64(st, 0);
		r->last = sqlite3_column_int64(st, 0);
		r->times += sqlite3_column_int64(st, 8);
	}
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	if (rc != SQLITE_OK || r == NULL || r->n == 0) {
		wecom_msglog_rows_free(r);
		return (rc == SQLITE_OK ? WECOM_OK : WECOM_ERROR);
	}
	*rows = r;

	return (WECOM_OK);
}

void
wecom_msglog_rows_free(struct msglog_rows *r)
{
	size_t	i;

	if (r == NULL)
		return;
	for (i = 0; r->own != NULL && i < r->n; i++)
		free(r->own[i]);
	free(r->own);
	free(r->time);
	free(r->v);
	free(r);
}

static struct msglog_rows *
rows_new(size_t n)
{
	struct msglog_rows	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	if ((r->v = calloc(n * COLS, sizeof(*r->v))) == NULL ||
	    (r->time = calloc(n, sizeof(*r->time))) == NULL ||
	    (r->own = calloc(n, sizeof(*r->own))) == NULL) {
		wecom_msglog_rows_free(r);
		return (NULL);
	}

	return (r);
}

/* Row i: the statement's columns 1 … COLS copied into one allocation. */
static int
rows_copy(struct msglog_rows *r, size_t i, sqlite3_stmt *st)
{
	const unsigned char	*text[COLS];
	size_t			 len[COLS], total = 0;
	char			*p;
	int			 k;

	for (k = 0; k < COLS; k++) {
		text[k] = sqlite3_column_text(st, k + 1);
		len[k] = (size_t)sqlite3_column_bytes(st, k + 1);
		total += len[k] + 1;
	}
	if ((p = r->own[i] = malloc(total)) == NULL)
		return (SQLITE_NOMEM);
	for (k = 0; k < COLS; k++) {
		if (text[k] == NULL) {
			r->v[i * COLS + k] = NULL;
			continue;
		}
		memcpy(p, text[k], len[k]);
		p[len[k]] = '\0';
		r->v[i * COLS + k] = p;
		p += len[k] + 1;
	}
	rows_clean(r->v + i * COLS);

	return (SQLITE_OK);
}

/* Not UTF-8, or none: none, or empty where a value must be. */
static void
rows_clean(const char **v)
{
	json_t		*s;
	const char	*p;
	int		 k;

	for (k = 0; k < COLS; k++) {
		if (v[k] == NULL && k < COL_SENDER)
			v[k] = "";
		if (v[k] == NULL || k == COL_TIME || k == COL_FIELDS)
			continue;
		for (p = v[k]; *p != '\0' && (*p & 0x80) == 0; p++)
			;
		if (*p == '\0')
			continue;		/* ASCII: the usual case */
		/* jansson's check, the one the answer's strings pass. */
		if ((s = json_string(v[k])) != NULL) {
			json_decref(s);
			continue;
		}
		v[k] = k < COL_SENDER ? "" : NULL;
	}
}

/* Every field by path; a document is flattened here, off the callback. */
static char *
rows_fields(struct wecom_msglog *log, const struct msglog_entry *e)
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
		rows_field(o, p, p + strlen(p) + 1);
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
rows_field(json_t *o, const char *path, const char *value)
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
