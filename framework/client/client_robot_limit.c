/* SPDX-License-Identifier: ISC */
/*
 * WeCom accepts 20 messages a minute per robot and answers 45009 to
 * the 21st. Every process on the host that sends through one robot
 * shares a file of send times in the state dir (under an flock); with
 * [global] store, every server and tool on the database shares the
 * count there. A sender waits for its turn instead of being refused,
 * as long as the wait fits in the retry budget.
 */

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "wecom_store.h"

#define WINDOW_MS	60000

static int64_t	wall_ms(void);
static size_t	times_load(int, int64_t *, size_t, int64_t);
static void	times_save(int, const int64_t *, size_t);
static int	robot_shared(struct wecom_client *, const char *,
		    struct wecom_api_error *);
static int	robot_local(struct wecom_client *, const char *,
		    struct wecom_api_error *);

static int64_t
wall_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* The send times of the last minute, oldest first. */
static size_t
times_load(int fd, int64_t *t, size_t max, int64_t now)
{
	char		 buf[WECOM_ROBOT_PER_MINUTE * 24 + 1], *p, *end;
	long long	 v;
	ssize_t		 n;
	size_t		 count;

	count = 0;
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) <= 0)
		return (0);
	buf[n] = '\0';
	for (p = buf; count < max; p = end) {
		v = strtoll(p, &end, 10);
		if (end == p)
			break;
		if (v > now - WINDOW_MS && v <= now)
			t[count++] = v;
	}

	return (count);
}

static void
times_save(int fd, const int64_t *t, size_t n)
{
	char	buf[WECOM_ROBOT_PER_MINUTE * 24 + 1];
	size_t	i, off;

	off = 0;
	for (i = 0; i < n; i++)
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%lld\n",
		    (long long)t[i]);
	if (ftruncate(fd, 0) == 0 && pwrite(fd, buf, off, 0) != (ssize_t)off)
		(void)ftruncate(fd, 0);
}

int
wecom_client_robot_wait(struct wecom_client *c, const char *key,
    struct wecom_api_error *err)
{
	char	hash[CLIENT_HASH_HEX + 1];
	int	rc;

	if (wecom_client_token_hash("robot", key, hash) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "SHA-256 failed"));
	if (c->conf->store == NULL ||
	    (rc = robot_shared(c, hash, err)) == CLIENT_TOKEN_LOCAL)
		rc = robot_local(c, hash, err);

	return (rc);
}

/*
 * Every server and tool on the store counts: a turn now, or a wait
 * within the budget, or 45009 ourselves. CLIENT_TOKEN_LOCAL: no store.
 */
static int
robot_shared(struct wecom_client *c, const char *hash,
    struct wecom_api_error *err)
{
	struct wecom_store	*st;
	int64_t			 wait, spent;
	int			 rc;

	if ((st = wecom_client_store(c)) == NULL)
		return (CLIENT_TOKEN_LOCAL);
	for (spent = 0;;) {
		rc = wecom_store_robot_turn(st, hash, WECOM_ROBOT_PER_MINUTE,
		    &wait);
		if (rc == WECOM_STORE_ERROR)
			return (CLIENT_TOKEN_LOCAL);
		if (rc == WECOM_STORE_OK)
			return (WECOM_API_OK);
		if (spent + wait > c->total_ms)
			return (wecom_client_err_set(err,
			    WECOM_API_ERR_UNAVAILABLE, 45009, "robot limit: "
			    "%d messages per minute", WECOM_ROBOT_PER_MINUTE));
		wecom_client_sleep_ms((long)wait);
		spent += wait;
	}
}

/* This host's count: a file of send times under an flock. */
static int
robot_local(struct wecom_client *c, const char *hash,
    struct wecom_api_error *err)
{
	int64_t	t[WECOM_ROBOT_PER_MINUTE + 1], now, wait;
	char	path[PATH_MAX];
	size_t	n;
	int	fd, rc;

	if (wecom_client_state_dir(c, err) != WECOM_API_OK ||
	    snprintf(path, sizeof(path), "%s/robot-%s", c->conf->state_dir,
	    hash) >= (int)sizeof(path))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot use the state dir for the robot limit"));
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot open %s: %s", path, strerror(errno)));
	while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
		;

	rc = WECOM_API_OK;
	now = wall_ms();
	n = times_load(fd, t, WECOM_ROBOT_PER_MINUTE, now);
	if (n >= WECOM_ROBOT_PER_MINUTE) {
		wait = t[n - WECOM_ROBOT_PER_MINUTE] + WINDOW_MS - now;
		if (wait > c->total_ms) {
			rc = wecom_client_err_set(err,
			    WECOM_API_ERR_UNAVAILABLE, 45009,
			    "robot limit: %d messages per minute",
			    WECOM_ROBOT_PER_MINUTE);
		} else {
			wecom_client_sleep_ms((long)wait);
			now = wall_ms();
			n = times_load(fd, t, WECOM_ROBOT_PER_MINUTE, now);
		}
	}
	if (rc == WECOM_API_OK) {
		if (n >= WECOM_ROBOT_PER_MINUTE) {
			memmove(t, t + 1, (n - 1) * sizeof(*t));
			n--;
		}
		t[n++] = now;
		times_save(fd, t, n);
	}
	close(fd);

	return (rc);
}
