/* SPDX-License-Identifier: ISC */
/*
 * The shared store: what several servers naming one PostgreSQL database
 * ([global] store, docs/ha.md) share. Plain libpq, one connection per
 * handle, blocking with short timeouts: for handler and chore threads
 * and for the tools, never for an event loop. A handle connects on
 * first use, creates or migrates the schema then (store_schema.c), and
 * after a failure stays down for a few seconds, answering
 * WECOM_STORE_ERROR at once: the caller falls back to this host's own
 * state, and the store logs the change once each way.
 *
 * Not thread-safe: one handle per thread.
 */

#ifndef WECOM_STORE_H
#define WECOM_STORE_H

#include <stddef.h>
#include <stdint.h>

#define WECOM_STORE_OK		0
#define WECOM_STORE_ERROR	-1	/* unreachable, or it failed */
#define WECOM_STORE_NONE	1	/* no such row; a race lost */

/* Where its lines go: set once per process, before any handle. */
typedef void	(*wecom_store_log)(int warn, const char *line);
void	wecom_store_set_log(wecom_store_log);

struct wecom_store;

struct wecom_store	*wecom_store_new(const char *url);
void			 wecom_store_free(struct wecom_store *);
/* This thread's handle to url (NULL or "": none), made on first use. */
struct wecom_store	*wecom_store_thread(const char *url);
void			 wecom_store_thread_end(void);
/* Why the last call failed, for a person; never the URL's password. */
const char		*wecom_store_error(const struct wecom_store *);
int			 wecom_store_connected(const struct wecom_store *);
/* Connected, the schema migrated: its version. */
int			 wecom_store_version(struct wecom_store *, int *);
/*
 * Counters: the process's own, or words every process shares (a
 * server's workers: set before they are forked).
 */
#define WECOM_STORE_FALLBACKS	0	/* calls answered from host state */
#define WECOM_STORE_OUTAGES	1	/* a process found it unreachable */
#define WECOM_STORE_NCOUNTERS	2
void			 wecom_store_set_counters(uint64_t *);
uint64_t		 wecom_store_count(int);

/* store_token.c: an app's access token, by the hash of its secret. */
struct wecom_store_token {
	char		value[513];
	int64_t		fetched_at;	/* epoch seconds */
	int64_t		expires_in;
};

int	wecom_store_token_read(struct wecom_store *, const char *id,
	    struct wecom_store_token *);
int	wecom_store_token_claim(struct wecom_store *, const char *id,
	    const char *seen, long lease_s);
int	wecom_store_token_put(struct wecom_store *, const char *id,
	    const struct wecom_store_token *);
int	wecom_store_token_drop(struct wecom_store *, const char *id,
	    const char *value);

/* store_retry.c: the retry table, by the callback's dedupe key (hex). */
struct wecom_store_retry {
	int		 first;		/* ours: run the handlers */
	int		 answered;	/* else: done, reply is theirs */
	char		*reply;		/* free(); NULL: an empty answer */
	size_t		 reply_len;
};

int	wecom_store_retry_claim(struct wecom_store *, const char *key,
	    int window_s, int running_s, struct wecom_store_retry *);
int	wecom_store_retry_finish(struct wecom_store *, const char *key,
	    const char *reply);
int	wecom_store_retry_forget(struct wecom_store *, const char *key);
int	wecom_store_retry_prune(struct wecom_store *, int keep_s);

/*
 * store_lease.c: a name held by one holder at a time, for ttl_s at
 * most without renewal (the database's clock); free at once when the
 * holder's database session ends. For a bot's long connection.
 */
struct wecom_store_lease {
	char		holder[128];	/* who holds it */
	int64_t		epoch;		/* grows with each new holder */
};

int	wecom_store_lease_take(struct wecom_store *, const char *name,
	    const char *holder, long ttl_s, struct wecom_store_lease *);
int	wecom_store_lease_drop(struct wecom_store *, const char *name,
	    const char *holder);
/* store_lease.c ends. */

/* ---- store_outbox.c: the outbox, drained by any server. ---- */
struct wecom_store_outbox {
	char	 key[65];		/* WECOM_OUTBOX_KEY_MAX + 1 */
	char	 state[8];		/* queued, sent, failed */
	char	*record;		/* the outbox record's JSON */
	char	*done;			/* sent: what a caller asks back */
	int	 interrupted;		/* claims that found a stale one */
	int	 claimed;		/* a live claim holds it */
};

void	wecom_store_outbox_clear(struct wecom_store_outbox *);
int	wecom_store_outbox_put(struct wecom_store *, const char *key,
	    const char *record, int server_only);
int	wecom_store_outbox_claim(struct wecom_store *, const char *key,
	    long lease_s, int server, struct wecom_store_outbox *);
int	wecom_store_outbox_settle(struct wecom_store *, const char *key,
	    const char *state, const char *record, const char *done,
	    long delay_ms);
int	wecom_store_outbox_get(struct wecom_store *, const char *key,
	    struct wecom_store_outbox *);
int	wecom_store_outbox_count(struct wecom_store *, size_t *queued,
	    long *oldest_s, size_t *failed);
int	wecom_store_outbox_prune(struct wecom_store *, long keep_s);
int	wecom_store_outbox_list(struct wecom_store *, int failed_only,
	    void (*)(void *, const struct wecom_store_outbox *), void *);
int	wecom_store_outbox_keys(struct wecom_store *,
	    void (*)(void *, const char *), void *);
int	wecom_store_outbox_requeue(struct wecom_store *, const char *key,
	    const char *record);
int	wecom_store_outbox_drop(struct wecom_store *, const char *key);
/* ---- end of store_outbox.c ---- */

/* store_robot.c: a group robot's 20 messages a minute, by its key's hash. */
int	wecom_store_robot_turn(struct wecom_store *, const char *robot,
	    int per_minute, int64_t *wait_ms);

/*
 * store_stream.c: a callback-mode bot's stream, for a refresh that
 * reaches another server: its content so far, until finished.
 */
int	wecom_store_stream_put(struct wecom_store *, const char *id,
	    const char *content, int finish, int64_t born);
/* WECOM_STORE_NONE: no such stream. *content is free()'d by the caller. */
int	wecom_store_stream_get(struct wecom_store *, const char *id,
	    char **content, int *finish, int64_t *born);
int	wecom_store_stream_prune(struct wecom_store *, int64_t born_before);

/* Private to the layer. */
struct pg_result;
int	wecom_store_exec(struct wecom_store *, const char *sql, int n,
	    const char *const *params, struct pg_result **);
int	wecom_store_exec_row(struct wecom_store *, const char *sql, int n,
	    const char *const *params);
int	wecom_store_ready(struct wecom_store *);
int	wecom_store_connect(struct wecom_store *, int *fresh);
void	wecom_store_up(struct wecom_store *);
void	wecom_store_down(struct wecom_store *, const char *why);
const char	*wecom_store_holder(void);
void	wecom_store_fail(struct wecom_store *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * ---- store_message.c: the message log (log = yes), one for every
 * server. A row is WECOM_STORE_MESSAGE_COLS values, NULL for none:
 * direction, app, channel, type, sender, chat, msgid, time (unix
 * seconds), content, fields (JSON). A batch is added in a transaction
 * that stays open until commit() or rollback(); its id answers, later,
 * whether a COMMIT whose answer was lost took effect. ----
 */
#define WECOM_STORE_MESSAGE_COLS	10
#define WECOM_STORE_MESSAGE_BATCH	512	/* rows per add() at most */
#define WECOM_STORE_MESSAGE_DONE	0	/* status: committed */
#define WECOM_STORE_MESSAGE_OPEN	1	/* still running */
#define WECOM_STORE_MESSAGE_LOST	2	/* rolled back, or unknown */

int	wecom_store_message_add(struct wecom_store *, const char *const *rows,
	    size_t n, int64_t *txid);
int	wecom_store_message_commit(struct wecom_store *);
void	wecom_store_message_rollback(struct wecom_store *);
int	wecom_store_message_status(struct wecom_store *, int64_t txid,
	    int *status);
/* where: "WHERE …" (ORDER BY, LIMIT) with $1 … $n, over the columns. */
int	wecom_store_message_rows(struct wecom_store *, const char *where,
	    int n, const char *const *params,
	    void (*)(void *, const char *const *), void *);
int	wecom_store_message_count(struct wecom_store *, const char *where,
	    int n, const char *const *params, int64_t *count);
int	wecom_store_message_expire(struct wecom_store *, int64_t before,
	    long step, long *deleted);
/* ---- end of store_message.c ---- */

#endif
