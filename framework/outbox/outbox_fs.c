/* SPDX-License-Identifier: ISC */
/*
 * The outbox on disk: <state_dir>/outbox/{new,sending,done,failed}/,
 * 0700, one file per message, 0600. A file is written to a temporary
 * name in its own directory, fsync'ed, then renamed (or linked, when it
 * must not replace one) to its name, and the directory is fsync'ed: a
 * kill -9 or a power cut at any moment leaves the old file or the new
 * one, never half of one. Leftover temporary files are pruned.
 *
 * OUTBOX_LAZY leaves the fsyncs to a later wecom_outbox_sync_dir(): for the
 * steps of a delivery, which a power cut may undo without harm (the
 * message is sent again, into WeCom's duplicate check), and which would
 * otherwise cost a disk flush each.
 */

#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "outbox_private.h"

#define TMP_PREFIX	".tmp-"

static const char *const sub_name[OB_NDIRS] = {
	"new", "sending", "done", "failed"
};

static int	path_join(char *, size_t, const char *, const char *);

static int
path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int	n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= len ? -1 : 0);
}

int
wecom_outbox_sync_dir(const char *dir)
{
	int	fd, rc;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (WECOM_API_ERR_IO);
	rc = fsync(fd) == -1 ? WECOM_API_ERR_IO : WECOM_API_OK;
	close(fd);

	return (rc);
}

int64_t
wecom_outbox_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/*
 * The paths, and with create the directories themselves, 0700: the
 * messages are the users' data.
 */
int
wecom_outbox_dirs_init(struct outbox_dirs *d, const char *state_dir, int create)
{
	int	i;

	if (state_dir == NULL || *state_dir == '\0' ||
	    path_join(d->root, sizeof(d->root), state_dir, "outbox") == -1)
		return (WECOM_API_ERR_IO);
	for (i = 0; i < OB_NDIRS; i++) {
		if (path_join(d->sub[i], sizeof(d->sub[i]), d->root,
		    sub_name[i]) == -1)
			return (WECOM_API_ERR_IO);
	}
	if (!create)
		return (WECOM_API_OK);

	if ((mkdir(state_dir, 0700) == -1 && errno != EEXIST) ||
	    (mkdir(d->root, 0700) == -1 && errno != EEXIST) ||
	    chmod(d->root, 0700) == -1)
		return (WECOM_API_ERR_IO);
	for (i = 0; i < OB_NDIRS; i++) {
		if (mkdir(d->sub[i], 0700) == -1 && errno != EEXIST)
			return (WECOM_API_ERR_IO);
	}

	return (WECOM_API_OK);
}

/*
 * Writes dir/name atomically, mode 0600, its mtime set to mtime_ms
 * (a record's creation time: depth and age then need only stat()).
 * OUTBOX_EXCL: an existing dir/name is kept and OUTBOX_EXISTS returned.
 */
int
wecom_outbox_write(const char *dir, const char *name, const char *data,
    size_t len, int64_t mtime_ms, int flags)
{
	char		tmp[PATH_MAX], path[PATH_MAX];
	struct timespec	ts[2];
	ssize_t		n;
	size_t		off;
	int		fd, rc, placed;

	if (path_join(tmp, sizeof(tmp), dir, TMP_PREFIX "XXXXXX") == -1 ||
	    path_join(path, sizeof(path), dir, name) == -1)
		return (WECOM_API_ERR_IO);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return (WECOM_API_ERR_IO);

	rc = WECOM_API_ERR_IO;
	placed = 0;
	if (fchmod(fd, 0600) == -1)
		goto out;
	for (off = 0; off < len; off += (size_t)n) {
		if ((n = write(fd, data + off, len - off)) == -1) {
			if (errno != EINTR)
				goto out;
			n = 0;
		}
	}
	if (mtime_ms > 0) {
		ts[0].tv_sec = (time_t)(mtime_ms / 1000);
		ts[0].tv_nsec = (long)(mtime_ms % 1000) * 1000000;
		ts[1] = ts[0];
		if (futimens(fd, ts) == -1)
			goto out;
	}
	if (!(flags & OUTBOX_LAZY) && fsync(fd) == -1)
		goto out;
	if (flags & OUTBOX_EXCL) {
		if (link(tmp, path) == -1) {
			if (errno == EEXIST)
				rc = OUTBOX_EXISTS;
			goto out;
		}
	} else {
		if (rename(tmp, path) == -1)
			goto out;
		placed = 1;
	}
	rc = flags & OUTBOX_LAZY ? WECOM_API_OK : wecom_outbox_sync_dir(dir);
out:
	close(fd);
	if (!placed)
		unlink(tmp);

	return (rc);
}

int
wecom_outbox_read(const char *dir, const char *name, char **data, size_t *len)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 off;
	int		 fd;

	*data = NULL;
	*len = 0;
	if (path_join(path, sizeof(path), dir, name) == -1)
		return (WECOM_API_ERR_IO);
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (errno == ENOENT ? OUTBOX_MISSING : WECOM_API_ERR_IO);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > OUTBOX_RECORD_MAX ||
	    (buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return (WECOM_API_ERR_IO);
	}
	for (off = 0; off < (size_t)st.st_size; off += (size_t)n) {
		if ((n = read(fd, buf + off, (size_t)st.st_size - off)) <= 0) {
			if (n == -1 && errno == EINTR) {
				n = 0;
				continue;
			}
			break;
		}
	}
	close(fd);
	if (off != (size_t)st.st_size) {
		free(buf);
		return (WECOM_API_ERR_IO);
	}
	buf[off] = '\0';
	*data = buf;
	*len = off;

	return (WECOM_API_OK);
}

/* from/name → to/name, replacing one there; both directories synced. */
int
wecom_outbox_move(const char *from, const char *to, const char *name, int flags)
{
	char	src[PATH_MAX], dst[PATH_MAX];

	if (path_join(src, sizeof(src), from, name) == -1 ||
	    path_join(dst, sizeof(dst), to, name) == -1)
		return (WECOM_API_ERR_IO);
	if (rename(src, dst) == -1)
		return (errno == ENOENT ? OUTBOX_MISSING : WECOM_API_ERR_IO);
	if (!(flags & OUTBOX_LAZY) &&
	    (wecom_outbox_sync_dir(to) != WECOM_API_OK ||
	    wecom_outbox_sync_dir(from) != WECOM_API_OK))
		return (WECOM_API_ERR_IO);

	return (WECOM_API_OK);
}

int
wecom_outbox_remove(const char *dir, const char *name, int flags)
{
	char	path[PATH_MAX];

	if (path_join(path, sizeof(path), dir, name) == -1)
		return (WECOM_API_ERR_IO);
	if (unlink(path) == -1)
		return (errno == ENOENT ? OUTBOX_MISSING : WECOM_API_ERR_IO);

	if (flags & OUTBOX_LAZY)
		return (WECOM_API_OK);
	return (wecom_outbox_sync_dir(dir));
}

int
wecom_outbox_exists(const char *dir, const char *name)
{
	char		path[PATH_MAX];
	struct stat	st;

	if (path_join(path, sizeof(path), dir, name) == -1)
		return (WECOM_API_ERR_IO);
	if (lstat(path, &st) == -1)
		return (errno == ENOENT ? OUTBOX_MISSING : WECOM_API_ERR_IO);

	return (OUTBOX_EXISTS);
}

/* The records of a directory (temporary files left out), unsorted. */
int
wecom_outbox_list(const char *dir, char ***names, size_t *n)
{
	DIR		 *dp;
	struct dirent	 *de;
	char		**v, **nv;
	size_t		  cap;

	*names = NULL;
	*n = 0;
	if ((dp = opendir(dir)) == NULL)
		return (errno == ENOENT ? OUTBOX_MISSING : WECOM_API_ERR_IO);
	v = NULL;
	cap = 0;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((nv = reallocarray(v, cap, sizeof(*v))) == NULL)
				goto fail;
			v = nv;
		}
		if ((v[*n] = strdup(de->d_name)) == NULL)
			goto fail;
		(*n)++;
	}
	closedir(dp);
	*names = v;

	return (WECOM_API_OK);
fail:
	closedir(dp);
	wecom_outbox_list_free(v, *n);
	*n = 0;

	return (WECOM_API_ERR_NOMEM);
}

void
wecom_outbox_list_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Removes the records last changed before records_before (0: none) and
 * the temporary files of writers killed before tmp_before.
 */
void
wecom_outbox_prune(const char *dir, int64_t records_before, int64_t tmp_before)
{
	DIR		*dp;
	struct dirent	*de;
	struct stat	 st;
	int64_t		 mtime, cut;
	int		 dfd, tmp;

	if ((dp = opendir(dir)) == NULL)
		return;
	dfd = dirfd(dp);
	while ((de = readdir(dp)) != NULL) {
		tmp = strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0;
		if (!tmp && de->d_name[0] == '.')
			continue;
		cut = tmp ? tmp_before : records_before;
		if (cut <= 0 || fstatat(dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		/* A temporary file's mtime may be set already: ctime. */
		mtime = tmp ? (int64_t)st.st_ctim.tv_sec * 1000 :
		    (int64_t)st.st_mtim.tv_sec * 1000;
		if (mtime < cut)
			unlinkat(dfd, de->d_name, 0);
	}
	closedir(dp);
}
