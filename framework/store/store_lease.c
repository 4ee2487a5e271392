/* SPDX-License-Identifier: ISC */
/*
 * Leases: which server holds a thing that must be held once, such as a
 * bot's long connection. A row per name: its holder, until when (the
 * database's clock, never ours), an epoch that grows each time the
 * holder changes, and the holder's database session. A lease is free
 * once it expires, or as soon as that session is gone: a process that
 * dies, killed or not, frees what it held without waiting for the end.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

/*
 * Ours already, expired, or its holder's session gone: taken. Either
 * way one row back, saying who holds it; none if a race was lost (that
 * snapshot cannot see the winner's row).
 */
#define LEASE_TAKE							\
	"WITH me AS (SELECT pid, backend_start FROM pg_stat_activity "	\
	"  WHERE pid = pg_backend_pid()), "				\
	"t AS (INSERT INTO wecom_lease AS l (name, holder, expires_at, "\
	"  backend_pid, backend_start) SELECT $1, $2, now() + "	\
	"  make_interval(secs => $3::int), me.pid, me.backend_start "	\
	"  FROM me "							\
	"  ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, "	\
	"  expires_at = EXCLUDED.expires_at, "				\
	"  backend_pid = EXCLUDED.backend_pid, "			\
	"  backend_start = EXCLUDED.backend_start, "			\
	"  epoch = l.epoch + CASE WHEN l.holder = EXCLUDED.holder "	\
	"  THEN 0 ELSE 1 END "						\
	"  WHERE l.holder = EXCLUDED.holder OR l.expires_at < now() OR "\
	"  NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE "	\
	"  a.pid = l.backend_pid AND a.backend_start = l.backend_start) "\
	"  RETURNING holder, epoch) "					\
	"SELECT holder, epoch, true FROM t UNION ALL "			\
	"SELECT holder, epoch, false FROM wecom_lease WHERE name = $1 "	\
	"  AND NOT EXISTS (SELECT 1 FROM t)"

/*
 * Take or renew name for ttl_s: WECOM_STORE_OK if ours (l->epoch, the
 * fencing token), WECOM_STORE_NONE if another's (l->holder, "" if not
 * known), WECOM_STORE_ERROR if the database did not answer.
 */
int
wecom_store_lease_take(struct wecom_store *st, const char *name,
    const char *holder, long ttl_s, struct wecom_store_lease *l)
{
	char		 secs[24];
	const char	*p[3] = { name, holder, secs };
	PGresult	*r;
	int		 rc;

	memset(l, 0, sizeof(*l));
	snprintf(secs, sizeof(secs), "%ld", ttl_s);
	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, LEASE_TAKE, 3, p, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_NONE;
	if (PQntuples(r) == 1) {
		snprintf(l->holder, sizeof(l->holder), "%s",
		    PQgetvalue(r, 0, 0));
		l->epoch = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
		if (strcmp(PQgetvalue(r, 0, 2), "t") == 0)
			rc = WECOM_STORE_OK;
	}
	PQclear(r);

	return (rc);
}

/* Give name up, if still ours: whoever asks next takes it at once. */
int
wecom_store_lease_drop(struct wecom_store *st, const char *name,
    const char *holder)
{
	const char	*p[2] = { name, holder };

	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (wecom_store_exec(st, "DELETE FROM wecom_lease WHERE name = "
	    "$1 AND holder = $2", 2, p, NULL));
}
