/* SPDX-License-Identifier: ISC */
/*
 * One connection to the shared store, made when first needed. A
 * database that cannot be reached is not asked again for DOWN_MS: the
 * callers fall back to this host's state meanwhile instead of waiting
 * on a connect timeout at every call.
 */

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "wecom_store.h"

#define DOWN_MS		5000
/* The URL's own values win: they come after these. */
#define CONNECT_TIMEOUT	"3"
#define OPTIONS		"-c statement_timeout=5000 -c lock_timeout=3000 " \
			"-c client_min_messages=warning"

struct wecom_store {
	char		*url;
	PGconn		*conn;
	int64_t		 retry_at;	/* ms, monotonic */
	char		 err[256];
};

static void		store_stderr(int, const char *);
static void		store_notice(void *, const char *);

/* The tools' default; the server sets its own log. */
static wecom_store_log	store_log = store_stderr;
static uint64_t		store_own[WECOM_STORE_NCOUNTERS];
static uint64_t		*store_counts = store_own;
/* The process's view, so that a change is said once, not per thread. */
static int		store_is_down;

static int64_t	store_now_ms(void);
static int	store_alive(PGconn *);

void
wecom_store_set_log(wecom_store_log fn)
{
	store_log = fn;
}

static void
store_notice(void *arg, const char *msg)
{
}

static void
store_stderr(int warn, const char *line)
{
	fprintf(stderr, "wecom: %s\n", line);
}

struct wecom_store *
wecom_store_new(const char *url)
{
	struct wecom_store	*st;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (NULL);
	if ((st->url = strdup(url)) == NULL) {
		free(st);
		return (NULL);
	}

	return (st);
}

void
wecom_store_free(struct wecom_store *st)
{
	if (st == NULL)
		return;
	if (st->conn != NULL)
		PQfinish(st->conn);
	explicit_bzero(st->url, strlen(st->url));
	free(st->url);
	free(st);
}

/*
 * A handle per thread, made on first use and kept: handlers, chores and
 * writers would otherwise connect at each call (a thread that ends
 * before its process closes it with wecom_store_thread_end()). A forked
 * child makes its own and leaves its parent's alone: closing it from
 * the child would end the parent's session.
 */
static __thread struct wecom_store	*tl;
static __thread pid_t			 tl_pid;

struct wecom_store *
wecom_store_thread(const char *url)
{
	if (url == NULL || *url == '\0')
		return (NULL);
	if (tl != NULL && tl_pid == getpid() && strcmp(tl->url, url) == 0)
		return (tl);
	if (tl != NULL && tl_pid == getpid())
		wecom_store_free(tl);
	tl_pid = getpid();
	tl = wecom_store_new(url);

	return (tl);
}

/* A thread that ends before its process: its handle closed. */
void
wecom_store_thread_end(void)
{
	if (tl != NULL && tl_pid == getpid())
		wecom_store_free(tl);
	tl = NULL;
}

const char *
wecom_store_error(const struct wecom_store *st)
{
	return (st->err);
}

void
wecom_store_fail(struct wecom_store *st, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(st->err, sizeof(st->err), fmt, ap);
	va_end(ap);
}

/* Still connected: a statement failed (a lock timeout), not the store. */
int
wecom_store_connected(const struct wecom_store *st)
{
	return (st->conn != NULL && PQstatus(st->conn) == CONNECTION_OK);
}

void
wecom_store_set_counters(uint64_t *counts)
{
	store_counts = counts != NULL ? counts : store_own;
}

uint64_t
wecom_store_count(int which)
{
	return (__atomic_load_n(&store_counts[which], __ATOMIC_RELAXED));
}

/*
 * One statement, its parameters as text. *res (if asked for) holds its
 * rows; the caller PQclear()s it. A lost connection is made again at
 * the next call, after DOWN_MS.
 */
int
wecom_store_exec(struct wecom_store *st, const char *sql, int n,
    const char *const *params, struct pg_result **res)
{
	PGresult	*r;
	int		 ok;

	if (res != NULL)
		*res = NULL;
	if (st->conn == NULL) {
		wecom_store_fail(st, "not connected");
		return (WECOM_STORE_ERROR);
	}
	r = PQexecParams(st->conn, sql, n, NULL, params, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok) {
		snprintf(st->err, sizeof(st->err), "%s",
		    PQerrorMessage(st->conn));
		st->err[strcspn(st->err, "\n")] = '\0';
		PQclear(r);
		if (PQstatus(st->conn) != CONNECTION_OK)
			wecom_store_down(st, st->err);
		return (WECOM_STORE_ERROR);
	}
	if (res != NULL)
		*res = r;
	else
		PQclear(r);

	return (WECOM_STORE_OK);
}

/*
 * Connected, *fresh if just now (the schema is then checked); after a
 * failure not tried again for DOWN_MS.
 */
int
wecom_store_connect(struct wecom_store *st, int *fresh)
{
	const char	*keys[] = { "connect_timeout", "gssencmode",
			    "application_name", "options", "dbname", NULL };
	const char	*vals[] = { CONNECT_TIMEOUT, "disable", "wecom",
			    OPTIONS, st->url, NULL };

	*fresh = 0;
	if (st->conn != NULL && store_alive(st->conn))
		return (WECOM_STORE_OK);
	if (st->retry_at > store_now_ms()) {
		__atomic_add_fetch(&store_counts[WECOM_STORE_FALLBACKS], 1,
		    __ATOMIC_RELAXED);
		return (WECOM_STORE_ERROR);
	}
	if (st->conn != NULL)
		PQfinish(st->conn);
	st->conn = PQconnectdbParams(keys, vals, 1);
	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		wecom_store_down(st, st->conn != NULL ?
		    PQerrorMessage(st->conn) : "out of memory");
		return (WECOM_STORE_ERROR);
	}
	/* A notice is no error, and stderr is no log. */
	PQsetNoticeProcessor(st->conn, store_notice, NULL);
	*fresh = 1;

	return (WECOM_STORE_OK);
}

/* The connection works, schema and all: said once, if it was down. */
void
wecom_store_up(struct wecom_store *st)
{
	if (__atomic_exchange_n(&store_is_down, 0, __ATOMIC_ACQ_REL) &&
	    store_log != NULL)
		store_log(0, "store: the database answers again: shared "
		    "state resumes");
}

/* Down for DOWN_MS; said once, until it answers again. */
void
wecom_store_down(struct wecom_store *st, const char *why)
{
	char	line[384];

	if (why != st->err)
		snprintf(st->err, sizeof(st->err), "%s", why);
	st->err[strcspn(st->err, "\n")] = '\0';
	if (st->conn != NULL) {
		PQfinish(st->conn);
		st->conn = NULL;
	}
	st->retry_at = store_now_ms() + DOWN_MS;
	__atomic_add_fetch(&store_counts[WECOM_STORE_FALLBACKS], 1,
	    __ATOMIC_RELAXED);
	if (__atomic_exchange_n(&store_is_down, 1, __ATOMIC_ACQ_REL))
		return;
	__atomic_add_fetch(&store_counts[WECOM_STORE_OUTAGES], 1,
	    __ATOMIC_RELAXED);
	if (store_log != NULL) {
		snprintf(line, sizeof(line), "store: the database is "
		    "unreachable (%s): this host's own state meanwhile",
		    st->err);
		store_log(1, line);
	}
}

static int64_t
store_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Who holds a lease, for a person reading the table: host:pid:thread. */
const char *
wecom_store_holder(void)
{
	static __thread char	holder[128];
	char			host[64];

	if (holder[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "?");
		host[sizeof(host) - 1] = '\0';
		snprintf(holder, sizeof(holder), "%s:%ld:%lx", host,
		    (long)getpid(), (unsigned long)pthread_self());
	}

	return (holder);
}

/*
 * An idle connection the server has since closed (a restart, a crash,
 * an idle timeout): what it sent, its last words then the end, is read
 * without waiting, before a statement is. Found here, nothing was sent
 * on it, and a new one is made at once, not after DOWN_MS: a routine
 * restart of PostgreSQL must not send every thread to its host's state.
 */
static int
store_alive(PGconn *conn)
{
	struct pollfd	pfd;
	int		i;

	if (PQstatus(conn) != CONNECTION_OK)
		return (0);
	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) <= 0)
		return (1);
	for (i = 0; i < 2 && PQstatus(conn) == CONNECTION_OK; i++)
		(void)PQconsumeInput(conn);

	return (PQstatus(conn) == CONNECTION_OK);
}
