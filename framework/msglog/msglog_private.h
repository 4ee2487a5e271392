/* SPDX-License-Identifier: ISC */
/*
 * Inside the message log: a queued entry, the log's state, and the
 * database steps its files share. Shared functions carry wecom_ too:
 * libwecom.a has one namespace with Kore, libc and every app.
 */

#ifndef MSGLOG_PRIVATE_H
#define MSGLOG_PRIVATE_H

#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include <sqlite3.h>

#include "wecom_msglog.h"
#include "wecom_store.h"

/* Entries per transaction (512): a batch is one INSERT in the store. */
#define MSGLOG_BATCH		WECOM_STORE_MESSAGE_BATCH
#define MSGLOG_REPORT_S		60	/* drops told at most this often */
#define MSGLOG_REOPEN_S		10	/* a failed open is tried again */
#define MSGLOG_VALUE_MAX	65536	/* a longer field is only sized */
#define MSGLOG_EXPIRE_STEP	1000	/* rows deleted per transaction
					   (msglog_retain.c's OLDEST too) */

/* One copy of a rec, in one allocation: the strings follow it. */
struct msglog_entry {
	TAILQ_ENTRY(msglog_entry)	 list;
	size_t				 size;
	int64_t				 time;
	const char			*direction, *app, *channel, *type;
	const char			*sender, *chat, *msgid, *content;
	const char			*doc;		/* or pairs */
	size_t				 doclen;
	int				 doc_json;
	const char			*pairs;		/* path\0value\0… */
	size_t				 npairs;
	char				 data[];
};
TAILQ_HEAD(msglog_queue, msglog_entry);

/*
 * A batch as text, for either database: n rows of
 * WECOM_STORE_MESSAGE_COLS values in the store's order, NULL for none.
 */
struct msglog_rows {
	size_t		  n;
	const char	**v;
	char		(*time)[24];	/* what v's times point to */
	char		**own;		/* per row: its fields, or its copy */
	int64_t		  first, last;	/* ids in the host's file, if read */
	int64_t		  times;	/* their times' sum, if read */
};

struct wecom_msglog {
	struct wecom_msglog_opts	 opts;
	char				*path;
	pthread_mutex_t			 lock;
	pthread_cond_t			 work;		/* for the writer */
	pthread_cond_t			 done;		/* for flush */
	struct msglog_queue		 queue;
	size_t				 queued, bytes;
	uint64_t			 logged, dropped;
	uint64_t			 accepted, finished;	/* entries */
	const char			*why;		/* of the last drop */
	long				 expire_days;	/* 0: none asked */
	char				*store;		/* URL, or NULL */
	int				 started, stopping;
	pthread_t			 tid;
	/* The writer thread's own. */
	sqlite3				*db;
	int				 fts;		/* db has the index */
	time_t				 open_failed;
	struct wecom_xml		*x;
	uint64_t			 told;		/* drops reported */
	time_t				 told_at;
	int				 backlog;	/* the file may hold
							   rows for the store */
	int				 more;		/* moving: go on */
	time_t				 move_at;	/* not before */
	int				 kept;		/* told: kept here */
	uint64_t			 moved;		/* rows moved up */
	/* One reader connection kept for the next query. */
	pthread_mutex_t			 rlock;
	sqlite3				*spare;
};

/*
 * msglog_db.c: the file, connections to it and to the store, and what
 * is told. Each thread uses its own store handle (NULL: no store); the
 * writer's is closed when it ends.
 */
struct wecom_store	*wecom_msglog_store(struct wecom_msglog *);
int	wecom_msglog_db_open(const char *path, long busy_ms, sqlite3 **,
	    char *err, size_t errlen);
int	wecom_msglog_db_has_fts(sqlite3 *);
int	wecom_msglog_db_exec(sqlite3 *, const char *sql);
/* sql with ?1 … ?n from v (as many as it names): rows changed, or -1. */
int	wecom_msglog_db_run(sqlite3 *, const char *sql, const int64_t *v);
sqlite3	*wecom_msglog_reader(struct wecom_msglog *, char *, size_t);
void	 wecom_msglog_reader_done(struct wecom_msglog *, sqlite3 *, int ok);
void	wecom_msglog_tell(struct wecom_msglog *, int priority,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* msglog_entry.c: rec copied into one allocation, or NULL. */
struct msglog_entry	*wecom_msglog_flatten(const struct wecom_msglog_rec *);

/* msglog_write.c: on the writer thread; the entries are dropped or
 * written, and freed. */
void	wecom_msglog_write(struct wecom_msglog *, struct msglog_queue *,
	    size_t n);
/* The writer's connection to the file, opened when first needed. */
int	wecom_msglog_open(struct wecom_msglog *);
/*
 * Rows into the file; txid: the store's transaction that may have taken
 * them too (0: none), asked about by the mover.
 */
int	wecom_msglog_keep(struct wecom_msglog *, const struct msglog_rows *,
	    int64_t txid);

/* msglog_rows.c: a batch as text. */
struct msglog_rows	*wecom_msglog_rows(struct wecom_msglog *,
			    struct msglog_queue *, size_t n);
/* The file's oldest rows (at most max), or *rows NULL if none. */
int			 wecom_msglog_rows_read(sqlite3 *, size_t max,
			    struct msglog_rows **);
void			 wecom_msglog_rows_free(struct msglog_rows *);

/*
 * msglog_move.c: on the writer thread, rows the file kept for the store
 * taken up to it, one batch a call (log->backlog, log->more).
 */
void	wecom_msglog_move(struct wecom_msglog *);

/* msglog_params.c: a page's link (malloc'ed), or NULL. */
char	*wecom_msglog_link(const struct wecom_msglog_query *,
	    const char *base, int64_t id, int newer);

#endif
