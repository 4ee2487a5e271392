/* SPDX-License-Identifier: ISC */
/*
 * The shared store: WeCom's limit of 20 messages a minute per group
 * robot, counted for every server and tool on the database. Each send
 * takes its turn under a transaction-scoped advisory lock on the robot,
 * so that two senders never both take the 20th slot.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

static int	robot_count(struct wecom_store *, const char *, int,
		    int64_t *);

/*
 * A send to robot (a hash of its key) now: WECOM_STORE_OK and it is
 * counted; WECOM_STORE_NONE and *wait_ms until a slot frees.
 */
int
wecom_store_robot_turn(struct wecom_store *st, const char *robot,
    int per_minute, int64_t *wait_ms)
{
	const char	*p[1] = { robot };
	int		 rc;

	*wait_ms = 0;
	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, "BEGIN", 0, NULL, NULL) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_ERROR;
	/* After the lock, a new statement: it sees every earlier send. */
	if (wecom_store_exec(st, "SELECT pg_advisory_xact_lock(2003790959, "
	    "hashtext($1))", 1, p, NULL) != WECOM_STORE_OK ||
	    (rc = robot_count(st, robot, per_minute, wait_ms)) !=
	    WECOM_STORE_OK)
		goto out;
	if (wecom_store_exec(st, "INSERT INTO wecom_robot_send (robot) "
	    "VALUES ($1)", 1, p, NULL) != WECOM_STORE_OK)
		rc = WECOM_STORE_ERROR;
out:
	if (rc == WECOM_STORE_ERROR ||
	    wecom_store_exec(st, "COMMIT", 0, NULL, NULL) != WECOM_STORE_OK) {
		(void)wecom_store_exec(st, "ROLLBACK", 0, NULL, NULL);
		rc = WECOM_STORE_ERROR;
	}

	return (rc);
}

/* The sends of the last minute; full: how long until the oldest ages. */
static int
robot_count(struct wecom_store *st, const char *robot, int per_minute,
    int64_t *wait_ms)
{
	const char	*p[1] = { robot };
	PGresult	*r;
	int		 n;

	if (wecom_store_exec(st, "DELETE FROM wecom_robot_send WHERE robot = "
	    "$1 AND sent_at < now() - interval '60 s'", 1, p, NULL) !=
	    WECOM_STORE_OK || wecom_store_exec(st, "SELECT count(*), "
	    "coalesce(ceil(extract(epoch FROM min(sent_at) + interval '60 s' "
	    "- now()) * 1000), 0) FROM wecom_robot_send WHERE robot = $1", 1,
	    p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	n = atoi(PQgetvalue(r, 0, 0));
	*wait_ms = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	PQclear(r);
	if (*wait_ms < 1)
		*wait_ms = 1;

	return (n < per_minute ? WECOM_STORE_OK : WECOM_STORE_NONE);
}
