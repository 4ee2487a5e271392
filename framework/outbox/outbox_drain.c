/* SPDX-License-Identifier: ISC */
/*
 * The drain side of the outbox: send what is due (drain), one record
 * now for a caller that waits (drain_key), and count what waits
 * (stats).
 *
 * A message goes new/ → sending/ → done/ or failed/ (or back to new/
 * with a later due time), each step one rename or one atomic write.
 * Only the holder of the flock on outbox/lock drains, so a record is
 * never sent by two processes at once; the kernel drops the lock of a
 * killed drainer. A drain first recovers what a killed drainer left in
 * sending/, prunes old entries, then hands each due record, soonest
 * first, to outbox_attempt.c until its budget or batch is spent.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "outbox_private.h"

#define PRUNE_EVERY_MS		(10 * 60 * 1000)
#define TMP_KEEP_MS		(60 * 60 * 1000)
#define LOCK_POLL_MS		20

struct due {
	char		*key;
	int64_t		 next;
	int64_t		 created;
};

static int	drain_lock(struct outbox_drain *, int *);
static int	drain_due(struct outbox_drain *, const struct timespec *,
		    long, int);
static long	elapsed_ms(const struct timespec *);
static void	prune(struct outbox_drain *, int64_t);
static int	load_due(struct outbox_drain *, struct due **, size_t *);
static int	due_entry(struct outbox_drain *, const char *, struct due *);
static int	due_cmp(const void *, const void *);
static void	count_queue(const struct outbox_dirs *, size_t *, long *);

/*
 * WECOM_API_OK with *fd locked, OUTBOX_EXISTS if another drainer still
 * holds it after wait_ms.
 */
int
wecom_outbox_lock(const struct outbox_dirs *d, long wait_ms, int *fd)
{
	char	path[PATH_MAX];
	int	n;

	*fd = -1;
	n = snprintf(path, sizeof(path), "%s/lock", d->root);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return (WECOM_API_ERR_IO);
	while (flock(*fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK && wait_ms > 0) {
			/* flock has no timeout of its own. */
			wecom_client_sleep_ms(wait_ms < LOCK_POLL_MS ?
			    wait_ms : LOCK_POLL_MS);
			wait_ms -= LOCK_POLL_MS;
			continue;
		}
		n = errno == EWOULDBLOCK ? OUTBOX_EXISTS : WECOM_API_ERR_IO;
		close(*fd);
		*fd = -1;
		return (n);
	}

	return (WECOM_API_OK);
}

/*
 * The directories and the lock: WECOM_API_OK with *fd locked, or
 * OUTBOX_EXISTS (stats.busy) if another drainer is at work.
 */
static int
drain_lock(struct outbox_drain *dr, int *fd)
{
	int	rc;

	if (wecom_outbox_dirs_init(&dr->d, dr->conf->state_dir, 1) !=
	    WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "cannot create %s/outbox: %s",
		    dr->conf->state_dir, strerror(errno));
		return (WECOM_API_ERR_IO);
	}
	if ((rc = wecom_outbox_lock(&dr->d, 0, fd)) == OUTBOX_EXISTS) {
		dr->st->busy = 1;
		count_queue(&dr->d, &dr->st->remaining, &dr->st->oldest_age);
		return (OUTBOX_EXISTS);
	}
	if (rc != WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "cannot lock %s/lock: %s",
		    dr->d.root, strerror(errno));
		return (WECOM_API_ERR_IO);
	}

	return (WECOM_API_OK);
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* What is due, soonest first, until the budget (from t0) or max is spent. */
static int
drain_due(struct outbox_drain *dr, const struct timespec *t0, long budget_ms,
    int max)
{
	struct due	*due;
	size_t		 n, i;
	int		 rc, sent;

	rc = load_due(dr, &due, &n);
	for (i = 0, sent = 0; rc == WECOM_API_OK && i < n; i++) {
		if (due[i].next > wecom_outbox_now_ms() ||
		    (max > 0 && sent >= max) ||
		    (budget_ms > 0 && elapsed_ms(t0) >= budget_ms))
			break;
		wecom_outbox_attempt(dr, due[i].key);
		sent++;
	}
	for (i = 0; i < n; i++)
		free(due[i].key);
	free(due);

	return (rc);
}

/*
 * This host's files first (put keeps there what the store did not
 * take), then the shared store, within one budget and one batch.
 */
int
wecom_outbox_drain(const struct wecom_conf *conf, long budget_ms, int max,
    wecom_outbox_log_fn log, void *arg, struct wecom_outbox_stats *st)
{
	struct wecom_outbox_stats	local;
	struct outbox_drain		dr;
	struct timespec			t0;
	int				fd, rc, done;

	if (st == NULL)
		st = &local;
	wecom_outbox_drain_init(&dr, conf, log, arg, st);
	if (max == 0)
		max = (int)conf->outbox_batch;
	/* The budget counts recovering and pruning too. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((rc = drain_lock(&dr, &fd)) == WECOM_API_OK) {
		wecom_outbox_recover(&dr);
		prune(&dr, wecom_outbox_now_ms());
		rc = drain_due(&dr, &t0, budget_ms, max);
		close(fd);
	} else if (rc == OUTBOX_EXISTS)
		rc = WECOM_API_OK;
	else
		return (rc);
	done = st->delivered + st->failed + st->retried;
	if (rc == WECOM_API_OK && (max < 0 || done < max))
		wecom_outbox_shared_drain(&dr, budget_ms > 0 ?
		    (int64_t)t0.tv_sec * 1000 + t0.tv_nsec / 1000000 +
		    budget_ms : 0, max < 0 ? -1 : max - done);
	wecom_outbox_dests_free(&dr);
	wecom_outbox_sync_steps(&dr);
	count_queue(&dr.d, &st->remaining, &st->oldest_age);
	wecom_outbox_shared_count(conf, &st->remaining, &st->oldest_age,
	    NULL);

	return (rc);
}

/* Under the lock: one record now, due or not (outbox_send.c). */
void
wecom_outbox_drain_key(const struct wecom_conf *conf,
    const struct outbox_dirs *d, const char *key, wecom_outbox_log_fn log,
    void *arg)
{
	struct wecom_outbox_stats	st;
	struct outbox_drain		dr;

	wecom_outbox_drain_init(&dr, conf, log, arg, &st);
	dr.d = *d;
	dr.once = 1;
	wecom_outbox_attempt(&dr, key);
	wecom_outbox_dests_free(&dr);
	wecom_outbox_sync_steps(&dr);
}

/*
 * done/ keeps a key for twice the max age, long enough for any put of
 * the same key to be recognised; failed/ is the operator's to clear.
 * Temporary files of killed writers go after an hour.
 */
static void
prune(struct outbox_drain *dr, int64_t now)
{
	char		path[PATH_MAX];
	struct stat	st;
	int		i, n, fd;

	n = snprintf(path, sizeof(path), "%s/.pruned", dr->d.root);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	if (stat(path, &st) == 0 &&
	    now - (int64_t)st.st_mtim.tv_sec * 1000 < PRUNE_EVERY_MS)
		return;
	wecom_outbox_prune(dr->d.sub[OB_DONE], now - 2 * dr->max_age_ms,
	    now - TMP_KEEP_MS);
	for (i = 0; i < OB_NDIRS; i++) {
		if (i != OB_DONE)
			wecom_outbox_prune(dr->d.sub[i], 0, now - TMP_KEEP_MS);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) != -1) {
		futimens(fd, NULL);
		close(fd);
	}
}

static int
due_cmp(const void *a, const void *b)
{
	const struct due	*x = a, *y = b;

	if (x->next != y->next)
		return (x->next < y->next ? -1 : 1);
	if (x->created != y->created)
		return (x->created < y->created ? -1 : 1);
	return (strcmp(x->key, y->key));
}

/* When new/KEY is due; one that is not a record goes to failed/. */
static int
due_entry(struct outbox_drain *dr, const char *key, struct due *e)
{
	struct outbox_record	 r;
	char			*data;
	size_t			 len;
	int			 rc;

	if ((rc = wecom_outbox_read(dr->d.sub[OB_NEW], key, &data, &len)) !=
	    WECOM_API_OK) {
		/* Otherwise it would wait there, unsaid, for ever. */
		if (errno == EACCES)
			wecom_outbox_log(dr, LOG_ERR, "%s: %s: written by "
			    "another user? Queue as the server's user (or "
			    "chown it)", key, strerror(errno));
		return (rc);
	}
	rc = wecom_outbox_record_decode(&r, data, len);
	free(data);
	if (rc != WECOM_API_OK) {
		wecom_outbox_log(dr, LOG_ERR, "%s: not a record, moved to "
		    "failed/", key);
		wecom_outbox_move(dr->d.sub[OB_NEW], dr->d.sub[OB_FAILED], key,
		    0);
		dr->st->failed++;
		return (rc);
	}
	e->next = r.next;
	e->created = r.created;
	wecom_outbox_record_free(&r);

	return (WECOM_API_OK);
}

/* The queue, soonest due first; unreadable records go to failed/. */
static int
load_due(struct outbox_drain *dr, struct due **out, size_t *nout)
{
	struct due	 *v;
	char		**keys;
	size_t		  n, i;
	int		  rc;

	*out = NULL;
	*nout = 0;
	if ((rc = wecom_outbox_list(dr->d.sub[OB_NEW], &keys, &n)) !=
	    WECOM_API_OK)
		return (rc == OUTBOX_MISSING ? WECOM_API_OK : rc);
	if (n == 0) {
		wecom_outbox_list_free(keys, n);
		return (WECOM_API_OK);
	}
	if ((v = calloc(n, sizeof(*v))) == NULL) {
		wecom_outbox_list_free(keys, n);
		return (WECOM_API_ERR_NOMEM);
	}
	for (i = 0; i < n; i++) {
		if (due_entry(dr, keys[i], &v[*nout]) != WECOM_API_OK) {
			free(keys[i]);
			continue;
		}
		v[*nout].key = keys[i];
		(*nout)++;
	}
	free(keys);
	qsort(v, *nout, sizeof(*v), due_cmp);
	*out = v;

	return (WECOM_API_OK);
}

/* Queued records (new/ and sending/); a record's mtime is its birth. */
static void
count_queue(const struct outbox_dirs *d, size_t *depth, long *oldest_age)
{
	DIR		*dp;
	struct dirent	*de;
	struct stat	 st;
	time_t		 now, oldest;
	int		 i;

	*depth = 0;
	*oldest_age = 0;
	now = time(NULL);
	oldest = now;
	for (i = OB_NEW; i <= OB_SENDING; i++) {
		if ((dp = opendir(d->sub[i])) == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.' || fstatat(dirfd(dp),
			    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			(*depth)++;
			if (st.st_mtime < oldest)
				oldest = st.st_mtime;
		}
		closedir(dp);
	}
	*oldest_age = (long)(now - oldest);
}

int
wecom_outbox_stats(const struct wecom_conf *conf, size_t *depth,
    long *oldest_age)
{
	struct outbox_dirs	d;

	*depth = 0;
	*oldest_age = 0;
	if (wecom_outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	count_queue(&d, depth, oldest_age);
	wecom_outbox_shared_count(conf, depth, oldest_age, NULL);

	return (WECOM_API_OK);
}

/* Messages given up, kept in failed/ for a person to look at. */
int
wecom_outbox_failed(const struct wecom_conf *conf, size_t *n)
{
	struct outbox_dirs	 d;
	DIR			*dp;
	struct dirent		*de;

	*n = 0;
	if (wecom_outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	wecom_outbox_shared_count(conf, NULL, NULL, n);
	if ((dp = opendir(d.sub[OB_FAILED])) == NULL)
		return (WECOM_API_OK);
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			(*n)++;
	closedir(dp);

	return (WECOM_API_OK);
}
