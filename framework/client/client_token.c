/* SPDX-License-Identifier: ISC */
/*
 * The access token of an app, cached in memory and in a 0600 file of
 * the state dir that every process on the host shares. Whoever needs a
 * fresh token takes an flock() on the app's lock file, reads the file
 * again — another process may have fetched it meanwhile — and only
 * then calls gettoken: fifty processes starting at once make one call.
 * The file is named after SHA-256(corpid "\n" secret), never the secret.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client_private.h"

/* Refresh this long before WeCom says the token expires. */
#define EARLY_SECONDS	300
#define FILE_MAX	(WECOM_TOKEN_MAX + 128)

static int	token_local(struct wecom_client *, struct client_token *,
		    struct wecom_api_error *);
static int	token_read(const struct wecom_client *, struct client_token *);
static int	token_write(const struct wecom_client *,
		    const struct client_token *, struct wecom_api_error *);
static int	token_lock(const struct wecom_client *,
		    struct wecom_api_error *);
static int	token_path(const struct wecom_client *, const char *,
		    char *, size_t);

int
wecom_client_token_hash(const char *corpid, const char *secret,
    char out[CLIENT_HASH_HEX + 1])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen, i;
	EVP_MD_CTX	*ctx;
	int		 ok;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (WECOM_API_ERR_NOMEM);
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, corpid, strlen(corpid)) == 1 &&
	    EVP_DigestUpdate(ctx, "\n", 1) == 1 &&
	    EVP_DigestUpdate(ctx, secret, strlen(secret)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return (WECOM_API_ERR_ARG);
	for (i = 0; i < mdlen; i++)
		snprintf(out + i * 2, 3, "%02x", md[i]);

	return (WECOM_API_OK);
}

int
wecom_token_get(struct wecom_client *c, char *out, size_t outsz,
    struct wecom_api_error *err)
{
	wecom_client_err_clear(err);
	return (wecom_client_token_get(c, out, outsz, err));
}

int
wecom_client_token_get(struct wecom_client *c, char *out, size_t outsz,
    struct wecom_api_error *err)
{
	struct client_token	t;
	int			rc;

	if (c->app == NULL || c->app->secret == NULL || *c->app->secret == '\0')
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "[app %s] has no secret: API calls need one",
		    c->app ? c->app->name : "?"));

	rc = WECOM_API_OK;
	if (!wecom_client_token_fresh(&c->token, EARLY_SECONDS)) {
		rc = CLIENT_TOKEN_LOCAL;
		if (c->conf->store != NULL)
			rc = wecom_client_token_shared(c, &t, err);
		if (rc == CLIENT_TOKEN_LOCAL)
			rc = token_local(c, &t, err);
		if (rc == WECOM_API_OK)
			c->token = t;
		explicit_bzero(&t, sizeof(t));
	}
	if (rc == WECOM_API_OK && strlen(c->token.value) >= outsz)
		rc = wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "token buffer too small");
	if (rc == WECOM_API_OK)
		memcpy(out, c->token.value, strlen(c->token.value) + 1);

	return (rc);
}

/* This host's tier: the file, and the flock that makes one fetch. */
static int
token_local(struct wecom_client *c, struct client_token *t,
    struct wecom_api_error *err)
{
	int	fd, rc;

	if (token_read(c, t) == WECOM_API_OK &&
	    wecom_client_token_fresh(t, EARLY_SECONDS))
		return (WECOM_API_OK);
	if ((fd = token_lock(c, err)) == -1)
		return (err ? err->code : WECOM_API_ERR_IO);
	/* Someone may have fetched it while we waited. */
	rc = WECOM_API_OK;
	if (token_read(c, t) != WECOM_API_OK ||
	    !wecom_client_token_fresh(t, EARLY_SECONDS)) {
		if ((rc = wecom_client_token_fetch(c, t, err)) == WECOM_API_OK)
			rc = token_write(c, t, err);
	}
	close(fd);	/* releases the flock */

	return (rc);
}

/*
 * WeCom rejected token: forget it, here and in the file — but only if
 * the file still holds that very token: another process may already
 * have put a good one there.
 */
void
wecom_client_token_drop(struct wecom_client *c, const char *token)
{
	struct client_token	t;
	char			path[PATH_MAX];
	int			fd;

	if (strcmp(c->token.value, token) == 0) {
		explicit_bzero(c->token.value, sizeof(c->token.value));
		c->token.fetched_at = c->token.expires_in = 0;
	}
	if (c->conf->store != NULL)
		wecom_client_token_unshare(c, token);
	if ((fd = token_lock(c, NULL)) == -1)
		return;
	if (token_read(c, &t) == WECOM_API_OK &&
	    strcmp(t.value, token) == 0 &&
	    token_path(c, "token-", path, sizeof(path)) == WECOM_API_OK)
		unlink(path);
	explicit_bzero(&t, sizeof(t));
	close(fd);
}

int
wecom_token_drop(struct wecom_client *c, const char *token)
{
	wecom_client_token_drop(c, token);
	return (WECOM_API_OK);
}

static int
token_path(const struct wecom_client *c, const char *prefix, char *buf,
    size_t len)
{
	int	n;

	n = snprintf(buf, len, "%s/%s%s", c->conf->state_dir, prefix,
	    c->hash);
	return (n < 0 || (size_t)n >= len ? WECOM_API_ERR_IO : WECOM_API_OK);
}

/* The file: "v1 FETCHED_AT EXPIRES_IN TOKEN\n". */
static int
token_read(const struct wecom_client *c, struct client_token *t)
{
	char		path[PATH_MAX], buf[FILE_MAX + 1];
	long long	at, in;
	ssize_t		n;
	int		fd, rc, off;

	memset(t, 0, sizeof(*t));
	if (token_path(c, "token-", path, sizeof(path)) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return (WECOM_API_ERR_IO);
	n = read(fd, buf, FILE_MAX);
	close(fd);

	rc = WECOM_API_ERR_IO;
	off = 0;
	if (n > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "v1 %lld %lld %n", &at, &in, &off) == 2 &&
		    off > 0 && buf[n - 1] == '\n') {
			buf[n - 1] = '\0';
			if (strlen(buf + off) > 0 &&
			    strlen(buf + off) <= WECOM_TOKEN_MAX) {
				memcpy(t->value, buf + off,
				    strlen(buf + off) + 1);
				t->fetched_at = at;
				t->expires_in = in;
				rc = WECOM_API_OK;
			}
		}
	}
	explicit_bzero(buf, sizeof(buf));

	return (rc);
}

/* mkostemp + fchmod 0600 + rename: readers see the old or the new file. */
static int
token_write(const struct wecom_client *c, const struct client_token *t,
    struct wecom_api_error *err)
{
	char	path[PATH_MAX], tmp[PATH_MAX], buf[FILE_MAX + 1];
	int	fd, n, rc;

	if (token_path(c, "token-", path, sizeof(path)) != WECOM_API_OK ||
	    token_path(c, ".tmp-", tmp, sizeof(tmp)) != WECOM_API_OK ||
	    strlen(tmp) + 8 > sizeof(tmp))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "state_dir path too long"));
	strcat(tmp, ".XXXXXX");
	n = snprintf(buf, sizeof(buf), "v1 %lld %lld %s\n",
	    (long long)t->fetched_at, (long long)t->expires_in, t->value);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot create a token file in %s: %s",
		    c->conf->state_dir, strerror(errno)));

	rc = WECOM_API_OK;
	if (fchmod(fd, 0600) == -1 || write(fd, buf, n) != n ||
	    fsync(fd) == -1 || rename(tmp, path) == -1) {
		rc = wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot write the token file in %s: %s",
		    c->conf->state_dir, strerror(errno));
		unlink(tmp);
	}
	close(fd);
	explicit_bzero(buf, sizeof(buf));

	return (rc);
}

/* Blocks until no other process is fetching this app's token. */
static int
token_lock(const struct wecom_client *c, struct wecom_api_error *err)
{
	char	path[PATH_MAX];
	int	fd;

	if (wecom_client_state_dir(c, err) != WECOM_API_OK)
		return (-1);
	if (token_path(c, "lock-", path, sizeof(path)) != WECOM_API_OK) {
		wecom_client_err_set(err, WECOM_API_ERR_IO, 0, "path too long");
		return (-1);
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot open %s: %s", path, strerror(errno));
		return (-1);
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
			    "cannot lock %s: %s", path, strerror(errno));
			close(fd);
			return (-1);
		}
	}

	return (fd);
}

int
wecom_client_state_dir(const struct wecom_client *c,
    struct wecom_api_error *err)
{
	if (mkdir(c->conf->state_dir, 0700) == -1 && errno != EEXIST)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot create state_dir %s: %s", c->conf->state_dir,
		    strerror(errno)));

	return (WECOM_API_OK);
}
