/* SPDX-License-Identifier: ISC */
/*
 * Private: the message log, for apps and bots with `log = yes`. Every
 * message received and every reply made becomes a row of one SQLite
 * file, state_dir/messages.db (WAL), shared by all workers; a query
 * answers with filters and cursors; rows older than log_days go.
 *
 * Recording must never slow or fail a callback: wecom_msglog_put()
 * only copies the entry into a bounded queue, and a writer thread per
 * process writes batches, one transaction each. A full queue, a locked
 * or full database drops entries, counted in the stats and told to the
 * log function at most once a minute. Plain C: the Kore glue is
 * kore/messages.c.
 *
 * With a shared store ([global] store) the rows go to its table
 * instead, one log for every server; the file keeps only what the
 * store could not take when it was down, until it answers again, and
 * queries read the store (msglog_move.c, msglog_query.c).
 */

#ifndef WECOM_MSGLOG_H
#define WECOM_MSGLOG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct wecom_msglog;
struct wecom_xml;

#define WECOM_MSGLOG_FILE	"messages.db"
#define WECOM_MSGLOG_QUEUE	4096		/* entries per process */
#define WECOM_MSGLOG_BYTES	(32 * 1024 * 1024)	/* and their bytes */
#define WECOM_MSGLOG_LIMIT	50		/* results per page */
#define WECOM_MSGLOG_LIMIT_MAX	500

/*
 * One message or reply, as the caller has it; put copies every string.
 * Its fields come either parsed (xml) or as the document itself (doc,
 * XML or a bot's JSON), which the writer thread flattens later.
 */
struct wecom_msglog_rec {
	const char		*direction;	/* "in" or "out" */
	const char		*app;
	const char		*channel;	/* "app", "aibot_websocket" … */
	const char		*type;		/* msgtype or "event:NAME" */
	const char		*sender;
	const char		*chat;
	const char		*msgid;
	const char		*content;	/* text, markdown, stream */
	int64_t			 time;		/* unix seconds; 0: now */
	const struct wecom_xml	*xml;		/* every field by path, or */
	const char		*doc;
	size_t			 doclen;
	int			 doc_json;	/* doc is JSON, else XML */
};

struct wecom_msglog_opts {
	const char	*path;			/* the database file */
	size_t		 queue_max;		/* 0: WECOM_MSGLOG_QUEUE */
	size_t		 bytes_max;		/* 0: WECOM_MSGLOG_BYTES */
	long		 busy_ms;		/* lock wait, then drop */
	const char	*store;			/* libpq URL, or NULL: none */
	/* Where failures are told (a log line, no secret), or NULL. */
	void		(*log)(void *, int priority, const char *line);
	void		*log_arg;
};

struct wecom_msglog_stats {
	uint64_t	logged;			/* rows written */
	uint64_t	dropped;		/* entries lost */
	size_t		queued;			/* waiting now */
};

/* msglog_queue.c: the queue, its writer thread, the counters. */
struct wecom_msglog	*wecom_msglog_new(const struct wecom_msglog_opts *);
int			 wecom_msglog_start(struct wecom_msglog *);
int			 wecom_msglog_put(struct wecom_msglog *,
			    const struct wecom_msglog_rec *);
void			 wecom_msglog_stats(struct wecom_msglog *,
			    struct wecom_msglog_stats *);
/* Waits until what was queued before the call is written or dropped. */
void			 wecom_msglog_flush(struct wecom_msglog *);
/* Asks the writer thread to delete rows older than days. */
void			 wecom_msglog_expire_later(struct wecom_msglog *,
			    long days);
void			 wecom_msglog_free(struct wecom_msglog *);

/*
 * msglog_retain.c: now, on the caller's thread; rows deleted or -1. The
 * store's too, in steps of MSGLOG_EXPIRE_STEP rows.
 */
long			 wecom_msglog_expire(struct wecom_msglog *,
			    int64_t before);

/*
 * msglog_params.c, msglog_query.c: GET /api/v1/messages. The query
 * string is parsed into a query (a refusal names the parameter); scope
 * is an API key's list of apps (NULL: any); base is what the links
 * start with ("http://host/api/v1/messages").
 */
struct wecom_msglog_query {
	const char	*app, *type, *sender, *chat, *direction, *q;
	int64_t		 since, until;		/* 0: open */
	int64_t		 cursor;		/* an id; 0: the newest */
	int		 newer;			/* cursor: rows after it */
	long		 limit;
	const char	*scope;
	char		*buf;			/* the strings above */
};

int	wecom_msglog_params(struct wecom_msglog_query *, const char *qs,
	    char *why, size_t whylen);
void	wecom_msglog_query_clear(struct wecom_msglog_query *);
/* 200 with *answer, or an HTTP status with why set. On any thread. */
int	wecom_msglog_query(struct wecom_msglog *,
	    const struct wecom_msglog_query *, const char *base,
	    json_t **answer, char *why, size_t whylen);

#endif
