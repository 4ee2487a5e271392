/* SPDX-License-Identifier: ISC */
/*
 * The outbox as the operator sees it (wecom-admin outbox): a listing
 * of what waits and what failed, a failed message queued again, a
 * message dropped. Moves hold the drain's lock, so that the server's
 * drain, wecom-send --flush and the push API never meet a record half
 * moved; each step is one atomic write or rename of outbox_fs.c, in an
 * order a crash cannot turn into a lost or a doubled message.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outbox_private.h"

#define TARGET_MAX	256

/* One listed file: its record, or why it has none. */
struct item {
	char			*key;
	int			 dir;		/* OB_* */
	int			 valid;
	int64_t			 created;
	struct outbox_record	 r;
};

struct items {
	struct item	*v;
	size_t		 n, cap;
};

static int	collect_dir(const struct outbox_dirs *, int, struct items *);
static int	collect_one(const struct outbox_dirs *, int, const char *,
		    struct items *);
static void	items_free(struct items *);
static int	item_cmp(const void *, const void *);
static void	report(const struct item *, wecom_outbox_entry_fn, void *);
static int	admin_open(const struct wecom_conf *, const char *,
		    struct outbox_dirs *, long, int *);
static int	retry_one(const struct outbox_dirs *, const char *);
static int	retry_all(const struct outbox_dirs *, int *);
static void	keep_owner(const struct outbox_dirs *, const char *);


static void
items_free(struct items *it)
{
	size_t	i;

	for (i = 0; i < it->n; i++) {
		free(it->v[i].key);
		wecom_outbox_record_free(&it->v[i].r);
	}
	free(it->v);
	memset(it, 0, sizeof(*it));
}

/* Queued before failed; within each, the oldest first. */
static int
item_cmp(const void *a, const void *b)
{
	const struct item	*x = a, *y = b;
	int			 fx, fy;

	fx = x->dir == OB_FAILED;
	fy = y->dir == OB_FAILED;
	if (fx != fy)
		return (fx - fy);
	if (x->created != y->created)
		return (x->created < y->created ? -1 : 1);
	return (strcmp(x->key, y->key));
}

/*
 * One file. A record that cannot be read is listed all the same (the
 * drain moves such files to failed/): the operator must see it to
 * drop it. One gone meanwhile was sent or moved: not listed.
 */
static int
collect_one(const struct outbox_dirs *d, int dir, const char *key,
    struct items *it)
{
	struct item	*nv, *e;
	struct stat	 st;
	char		 path[PATH_MAX], *data;
	size_t		 len;
	int		 n;

	if (wecom_outbox_read(d->sub[dir], key, &data, &len) != WECOM_API_OK)
		return (WECOM_API_OK);
	if (it->n == it->cap) {
		it->cap = it->cap ? it->cap * 2 : 32;
		if ((nv = reallocarray(it->v, it->cap, sizeof(*nv))) == NULL) {
			free(data);
			return (WECOM_API_ERR_NOMEM);
		}
		it->v = nv;
	}
	e = &it->v[it->n];
	memset(e, 0, sizeof(*e));
	if ((e->key = strdup(key)) == NULL) {
		free(data);
		return (WECOM_API_ERR_NOMEM);
	}
	it->n++;
	e->dir = dir;
	e->valid = wecom_outbox_record_decode(&e->r, data, len) ==
	    WECOM_API_OK;
	free(data);
	if (e->valid)
		e->created = e->r.created;
	else {
		/* A record's mtime is its creation time. */
		n = snprintf(path, sizeof(path), "%s/%s", d->sub[dir], key);
		if (n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0)
			e->created = (int64_t)st.st_mtime * 1000;
	}

	return (WECOM_API_OK);
}

static int
collect_dir(const struct outbox_dirs *d, int dir, struct items *it)
{
	char	**keys;
	size_t	  n, i;
	int	  rc;

	if ((rc = wecom_outbox_list(d->sub[dir], &keys, &n)) != WECOM_API_OK)
		return (rc == OUTBOX_MISSING ? WECOM_API_OK : rc);
	for (i = 0; i < n && rc == WECOM_API_OK; i++)
		rc = collect_one(d, dir, keys[i], it);
	wecom_outbox_list_free(keys, n);

	return (rc);
}

static void
report(const struct item *e, wecom_outbox_entry_fn fn, void *arg)
{
	static const char *const	 state[OB_NDIRS] = {
		"queued", "sending", "done", "failed"
	};
	struct wecom_outbox_entry	 en;
	char				 target[TARGET_MAX];

	memset(&en, 0, sizeof(en));
	en.key = e->key;
	en.state = state[e->dir];
	en.created = e->created;
	en.errmsg = "";
	en.why = "";
	if (!e->valid) {
		en.target = "?";
		en.why = "not a record";
		fn(arg, &en);
		return;
	}
	wecom_outbox_record_describe(&e->r, target, sizeof(target));
	en.target = target;
	en.next = e->r.next;
	en.attempts = e->r.attempts;
	en.code = e->r.error.code;
	en.errcode = e->r.error.errcode;
	if (e->r.error.errmsg != NULL)
		en.errmsg = e->r.error.errmsg;
	if (e->dir == OB_FAILED)
		en.why = e->r.failed_why;
	fn(arg, &en);
}

int
wecom_outbox_admin_list(const struct wecom_conf *conf, int failed_only,
    wecom_outbox_entry_fn fn, void *arg)
{
	struct outbox_dirs	d;
	struct items		it;
	size_t			i;
	int			rc;

	if (wecom_outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	/* The shared store's first: this host's files hold the rest. */
	wecom_outbox_shared_list(conf, failed_only, fn, arg);
	memset(&it, 0, sizeof(it));
	rc = WECOM_API_OK;
	if (!failed_only) {
		rc = collect_dir(&d, OB_NEW, &it);
		if (rc == WECOM_API_OK)
			rc = collect_dir(&d, OB_SENDING, &it);
	}
	if (rc == WECOM_API_OK)
		rc = collect_dir(&d, OB_FAILED, &it);
	if (rc == WECOM_API_OK) {
		if (it.n > 0)
			qsort(it.v, it.n, sizeof(*it.v), item_cmp);
		for (i = 0; i < it.n; i++)
			report(&it.v[i], fn, arg);
	}
	items_free(&it);

	return (rc);
}

/*
 * The directories and the drain's lock, for a change: *fd locked.
 * An outbox never used has nothing to change: WECOM_OUTBOX_NOT_FOUND.
 */
static int
admin_open(const struct wecom_conf *conf, const char *key,
    struct outbox_dirs *d, long wait_ms, int *fd)
{
	struct stat	st;
	int		rc;

	*fd = -1;
	if (key != NULL && wecom_outbox_key_valid(key) != WECOM_API_OK)
		return (WECOM_API_ERR_ARG);
	if (wecom_outbox_dirs_init(d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	if (stat(d->root, &st) == -1)
		return (errno == ENOENT ? WECOM_OUTBOX_NOT_FOUND :
		    WECOM_API_ERR_IO);
	if ((rc = wecom_outbox_lock(d, wait_ms, fd)) == OUTBOX_EXISTS)
		return (WECOM_API_ERR_UNAVAILABLE);

	return (rc);
}

/*
 * An operator's root must not leave a record the server's user cannot
 * read (the drain would skip it for ever): new/KEY gets the owner
 * failed/KEY had. No drain runs meanwhile: we hold the lock.
 */
static void
keep_owner(const struct outbox_dirs *d, const char *key)
{
	char		from[PATH_MAX], to[PATH_MAX];
	struct stat	st;
	int		n;

	if (geteuid() != 0)
		return;
	n = snprintf(from, sizeof(from), "%s/%s", d->sub[OB_FAILED], key);
	if (n < 0 || (size_t)n >= sizeof(from) || stat(from, &st) == -1 ||
	    st.st_uid == 0)
		return;
	n = snprintf(to, sizeof(to), "%s/%s", d->sub[OB_NEW], key);
	if (n > 0 && (size_t)n < sizeof(to))
		(void)chown(to, st.st_uid, st.st_gid);
}

/*
 * new/KEY is written before failed/KEY goes: a crash in between leaves
 * both, and the drain, finding the key failed, drops the new one. The
 * message is then still failed, never lost, never sent twice.
 */
static int
retry_one(const struct outbox_dirs *d, const char *key)
{
	struct outbox_record	 r;
	char			*data, *s;
	size_t			 len;
	int			 rc;

	rc = wecom_outbox_read(d->sub[OB_FAILED], key, &data, &len);
	if (rc == OUTBOX_MISSING)
		return (WECOM_OUTBOX_NOT_FOUND);
	if (rc != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	rc = wecom_outbox_record_decode(&r, data, len);
	free(data);
	if (rc != WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);
	wecom_outbox_record_requeue(&r, wecom_outbox_now_ms());
	if ((s = wecom_outbox_record_encode(&r)) == NULL) {
		wecom_outbox_record_free(&r);
		return (WECOM_API_ERR_NOMEM);
	}
	rc = wecom_outbox_write(d->sub[OB_NEW], key, s, strlen(s), r.created,
	    0);
	free(s);
	wecom_outbox_record_free(&r);
	if (rc != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	keep_owner(d, key);
	if (wecom_outbox_remove(d->sub[OB_FAILED], key, 0) == WECOM_API_ERR_IO)
		return (WECOM_API_ERR_IO);

	return (WECOM_API_OK);
}

/* Every failed record; those that are not records stay and are told. */
static int
retry_all(const struct outbox_dirs *d, int *count)
{
	char	**keys;
	size_t	  n, i;
	int	  rc, one;

	if ((rc = wecom_outbox_list(d->sub[OB_FAILED], &keys, &n)) !=
	    WECOM_API_OK)
		return (rc == OUTBOX_MISSING ? WECOM_API_OK : rc);
	for (i = 0; i < n; i++) {
		one = retry_one(d, keys[i]);
		if (one == WECOM_API_OK)
			(*count)++;
		else if (one != WECOM_OUTBOX_NOT_FOUND && rc == WECOM_API_OK)
			rc = one;
	}
	wecom_outbox_list_free(keys, n);

	return (rc);
}

int
wecom_outbox_admin_retry(const struct wecom_conf *conf, const char *key,
    long wait_ms, int *count)
{
	struct outbox_dirs	d;
	int			fd, rc;

	*count = 0;
	if ((rc = admin_open(conf, key, &d, wait_ms, &fd)) == WECOM_API_OK) {
		if (key == NULL)
			rc = retry_all(&d, count);
		else if ((rc = retry_one(&d, key)) == WECOM_API_OK)
			*count = 1;
		close(fd);
	} else if (key == NULL && rc == WECOM_OUTBOX_NOT_FOUND)
		rc = WECOM_API_OK;
	/* Not this host's: the shared store's, if there is one. */
	if (key == NULL)
		(void)wecom_outbox_shared_retry(conf, NULL, count);
	else if (rc == WECOM_OUTBOX_NOT_FOUND)
		rc = wecom_outbox_shared_retry(conf, key, count);

	return (rc);
}

/*
 * Under the lock sending/ holds only what a killed drainer left, which
 * the next drain would send: it goes too.
 */
int
wecom_outbox_admin_drop(const struct wecom_conf *conf, const char *key,
    long wait_ms)
{
	static const int	dirs[] = { OB_NEW, OB_SENDING, OB_FAILED };
	struct outbox_dirs	d;
	size_t			i;
	int			fd, rc, one;

	if (key == NULL)
		return (WECOM_API_ERR_ARG);
	if ((rc = admin_open(conf, key, &d, wait_ms, &fd)) != WECOM_API_OK)
		return (rc == WECOM_OUTBOX_NOT_FOUND ?
		    wecom_outbox_shared_drop(conf, key) : rc);
	rc = WECOM_OUTBOX_NOT_FOUND;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		one = wecom_outbox_remove(d.sub[dirs[i]], key, 0);
		if (one == WECOM_API_OK && rc == WECOM_OUTBOX_NOT_FOUND)
			rc = WECOM_API_OK;
		else if (one == WECOM_API_ERR_IO)
			rc = WECOM_API_ERR_IO;
	}
	close(fd);
	if (rc == WECOM_OUTBOX_NOT_FOUND)
		rc = wecom_outbox_shared_drop(conf, key);

	return (rc);
}
