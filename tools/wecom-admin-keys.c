/* SPDX-License-Identifier: ISC */
/*
 * What new-app and new-aibot write: a Token and an EncodingAESKey from
 * the CSPRNG, each in a 0600 file, and a section appended to the
 * config. Every change is recorded in a struct undo, so that a config
 * the loader then refuses is put back as it was, byte for byte, and
 * the files made for it go with it.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "wecom_crypto.h"
#include "wecom-admin.h"

#define TOKEN_LEN	32
#define OLD_MAX		4096	/* a secret file we may replace */

static const char	alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* A file written for the new section: removed, or its old text back. */
struct undo_file {
	char			*path;
	char			*old;		/* NULL: it did not exist */
	size_t			 oldlen;
	struct undo_file	*next;
};

struct undo {
	struct undo_file	*files;
	char			*conf;		/* appended to, or NULL */
	off_t			 conf_size;	/* its size before */
	char			*dir;		/* made by us, or NULL */
};

static int	put_file(const char *, const char *, size_t, int);
static char	*read_small(const char *, size_t *);

/*
 * 32 characters of [A-Za-z0-9]. Bytes of 248 and more are thrown away:
 * 248 is 4 × 62, so what is kept falls evenly on the 62 characters.
 */
int
gen_token(char *out, size_t outsz)
{
	unsigned char	b[64];
	size_t		i, n;

	if (outsz < TOKEN_LEN + 1)
		return (-1);
	for (n = 0; n < TOKEN_LEN;) {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return (-1);
		for (i = 0; i < sizeof(b) && n < TOKEN_LEN; i++) {
			if (b[i] < 248)
				out[n++] = alnum[b[i] % 62];
		}
	}
	out[n] = '\0';
	OPENSSL_cleanse(b, sizeof(b));

	return (0);
}

/*
 * An EncodingAESKey: the base64 of 32 random bytes without its '=',
 * drawn again until it holds no '+' or '/' (one draw in four does), so
 * that WeCom's console takes it. The crypto layer has the last word.
 */
int
gen_aeskey(char *out, size_t outsz)
{
	unsigned char	key[WECOM_KEY_BYTES];
	char		b64[48];
	int		tries;

	if (outsz < WECOM_AESKEY_LEN + 1)
		return (-1);
	for (tries = 0; tries < 1000; tries++) {
		if (RAND_bytes(key, sizeof(key)) != 1)
			break;
		if (EVP_EncodeBlock((unsigned char *)b64, key,
		    sizeof(key)) != 44)
			break;
		b64[WECOM_AESKEY_LEN] = '\0';
		if (strspn(b64, alnum) != WECOM_AESKEY_LEN ||
		    wecom_crypto_check_aeskey(b64) != WECOM_OK)
			continue;
		memcpy(out, b64, WECOM_AESKEY_LEN + 1);
		OPENSSL_cleanse(key, sizeof(key));
		OPENSSL_cleanse(b64, sizeof(b64));
		return (0);
	}
	OPENSSL_cleanse(key, sizeof(key));

	return (-1);
}

/*
 * Where new secrets go: dir if given, else secrets/ beside the config
 * file, as an absolute path: the server reads "file:" paths from its
 * own working directory.
 */
int
secrets_dir(const char *conf, const char *dir, char *out, size_t outsz)
{
	char	real[PATH_MAX], copy[PATH_MAX];
	int	n;

	if (dir != NULL) {
		if (dir[0] == '/')
			n = snprintf(out, outsz, "%s", dir);
		else if (getcwd(real, sizeof(real)) == NULL)
			return (-1);
		else
			n = snprintf(out, outsz, "%s/%s", real, dir);
	} else {
		if (realpath(conf, real) == NULL ||
		    (size_t)snprintf(copy, sizeof(copy), "%s", real) >=
		    sizeof(copy))
			return (-1);
		n = snprintf(out, outsz, "%s/secrets", dirname(copy));
	}

	return (n < 0 || (size_t)n >= outsz ? -1 : 0);
}

struct undo *
undo_new(void)
{
	return (calloc(1, sizeof(struct undo)));
}

/* The directory for the secrets, 0700; one there already is kept. */
int
make_dir(struct undo *u, const char *dir)
{
	struct stat	st;

	if (mkdir(dir, 0700) == 0)
		return ((u->dir = strdup(dir)) == NULL ? EX_OSERR : EX_OK);
	if (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		return (EX_OK);
	fprintf(stderr, "wecom-admin: cannot make %s: %s\n", dir,
	    strerror(errno));

	return (EX_CANTCREAT);
}

/* A small file whole, or NULL. */
static char *
read_small(const char *path, size_t *len)
{
	char	*buf;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return (NULL);
	if ((buf = malloc(OLD_MAX + 1)) != NULL &&
	    (n = read(fd, buf, OLD_MAX + 1)) >= 0 && n <= OLD_MAX) {
		*len = (size_t)n;
		buf[n] = '\0';
	} else {
		free(buf);
		buf = NULL;
	}
	close(fd);

	return (buf);
}

/*
 * path holds data, mode 0600, or nothing changed: written to a
 * temporary file beside it, then linked (an existing file is kept:
 * EEXIST) or, with replace, renamed over it.
 */
static int
put_file(const char *path, const char *data, size_t len, int replace)
{
	char	tmp[PATH_MAX];
	int	fd, rc, saved;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return (-1);
	rc = -1;
	if (fchmod(fd, 0600) == 0 && write(fd, data, len) == (ssize_t)len &&
	    fsync(fd) == 0)
		rc = replace ? rename(tmp, path) : link(tmp, path);
	saved = errno;
	close(fd);
	if (rc == -1 || !replace)
		unlink(tmp);
	errno = saved;

	return (rc);
}

/* value and a newline into path, 0600; an existing path only if force. */
int
write_secret(struct undo *u, const char *path, const char *value, int force)
{
	struct undo_file	*f;
	char			*line;
	size_t			 len;
	int			 rc;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (f->path = strdup(path)) == NULL) {
		free(f);
		return (EX_OSERR);
	}
	/* Replaced only if it can be put back. */
	if (force && access(path, F_OK) == 0 &&
	    (f->old = read_small(path, &f->oldlen)) == NULL) {
		fprintf(stderr, "wecom-admin: %s: cannot keep a copy to "
		    "restore: %s\n", path, strerror(errno));
		free(f->path);
		free(f);
		return (EX_IOERR);
	}
	len = strlen(value) + 1;
	if ((line = malloc(len + 1)) == NULL)
		rc = -1;
	else {
		snprintf(line, len + 1, "%s\n", value);
		rc = put_file(path, line, len, force);
		OPENSSL_cleanse(line, len);
		free(line);
	}
	if (rc == -1) {
		fprintf(stderr, "wecom-admin: %s: %s%s\n", path,
		    strerror(errno), errno == EEXIST ? " (--force replaces "
		    "it: the console must then get the new value)" : "");
		free(f->path);
		free(f->old);
		free(f);
		return (errno == EEXIST ? EX_CANTCREAT : EX_IOERR);
	}
	f->next = u->files;
	u->files = f;

	return (EX_OK);
}

/*
 * text at the end of the config, after a newline if the file lacks
 * its last one. In place, so that its owner, mode and inode stay; its
 * size before is kept to cut it back to.
 */
int
append_conf(struct undo *u, const char *conf, const char *text)
{
	struct stat	st;
	char		last;
	int		fd, rc;

	if ((fd = open(conf, O_RDWR | O_APPEND | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		fprintf(stderr, "wecom-admin: %s: %s\n", conf, strerror(errno));
		if (fd != -1)
			close(fd);
		return (EX_CANTCREAT);
	}
	rc = EX_IOERR;
	if ((u->conf = strdup(conf)) == NULL)
		goto out;
	u->conf_size = st.st_size;
	if (st.st_size > 0 && (pread(fd, &last, 1, st.st_size - 1) != 1 ||
	    (last != '\n' && write(fd, "\n", 1) != 1)))
		goto out;
	if (write(fd, text, strlen(text)) == (ssize_t)strlen(text) &&
	    fsync(fd) == 0)
		rc = EX_OK;
out:
	if (rc != EX_OK)
		fprintf(stderr, "wecom-admin: %s: %s\n", conf, strerror(errno));
	close(fd);

	return (rc);
}

/* Everything recorded, put back: the config, the files, the directory. */
void
undo_run(struct undo *u)
{
	struct undo_file	*f;

	if (u->conf != NULL && truncate(u->conf, u->conf_size) == -1)
		fprintf(stderr, "wecom-admin: cannot restore %s: %s\n",
		    u->conf, strerror(errno));
	for (f = u->files; f != NULL; f = f->next) {
		if (f->old == NULL)
			unlink(f->path);
		else if (put_file(f->path, f->old, f->oldlen, 1) == -1)
			fprintf(stderr, "wecom-admin: cannot restore %s: %s\n",
			    f->path, strerror(errno));
	}
	if (u->dir != NULL)
		rmdir(u->dir);
}

void
undo_free(struct undo *u)
{
	struct undo_file	*f;

	if (u == NULL)
		return;
	while ((f = u->files) != NULL) {
		u->files = f->next;
		free(f->path);
		if (f->old != NULL)
			OPENSSL_cleanse(f->old, f->oldlen);
		free(f->old);
		free(f);
	}
	free(u->conf);
	free(u->dir);
	free(u);
}
