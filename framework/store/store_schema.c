/* SPDX-License-Identifier: ISC */
/*
 * The schema, versioned: each connection brings the database up to the
 * newest version this binary knows, in one transaction under an
 * advisory lock, so that servers starting together migrate once. A
 * database already newer than this binary is refused: a newer server
 * owns it, and this one keeps to its own host's state. docs/ha.md lists
 * the tables.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "wecom_store.h"

/* pg_advisory_xact_lock's key: "wecom" in ASCII, then "schema". */
#define SCHEMA_LOCK	"SELECT pg_advisory_xact_lock(2003790959, 1)"

/* Version 1: access tokens (store_token.c). */
static const char *const schema_token =
	"CREATE TABLE wecom_token ("
	"  id text PRIMARY KEY,"		/* SHA-256(corpid "\n" secret) */
	"  token text,"
	"  fetched_at bigint NOT NULL DEFAULT 0,"
	"  expires_in bigint NOT NULL DEFAULT 0,"
	"  refreshing_by text,"
	"  refresh_until timestamptz)";

/* Version 2: the outbox (store_outbox.c); one statement, its index in it. */
static const char *const schema_outbox =
	"DO $$ BEGIN "
	"CREATE TABLE wecom_outbox ("
	"  key text PRIMARY KEY,"
	"  state text NOT NULL DEFAULT 'queued'"
	"    CHECK (state IN ('queued', 'sent', 'failed')),"
	"  record text NOT NULL,"		/* the file outbox's JSON */
	"  server_only boolean NOT NULL DEFAULT false,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  not_before timestamptz NOT NULL DEFAULT now(),"
	"  claimed_by text,"			/* host:pid:thread */
	"  claimed_until timestamptz,"
	"  interrupted int NOT NULL DEFAULT 0,"
	"  sent_at timestamptz,"
	"  done text);"				/* msgid, invalid recipients */
	"CREATE INDEX wecom_outbox_due ON wecom_outbox (not_before, "
	"  created_at) WHERE state = 'queued'; "
	"END $$";

/* Version 3: leases (store_lease.c). */
static const char *const schema_lease =
	"CREATE TABLE wecom_lease ("
	"  name text PRIMARY KEY,"		/* "aibot:" bot_id … */
	"  holder text NOT NULL,"		/* host:pid:random */
	"  expires_at timestamptz NOT NULL,"
	"  epoch bigint NOT NULL DEFAULT 1,"	/* grows with each holder */
	"  backend_pid int,"			/* the holder's session */
	"  backend_start timestamptz)";

/* Version 4: the retry table (store_retry.c). */
static const char *const schema_retry =
	"CREATE TABLE wecom_retry ("
	"  key text PRIMARY KEY,"		/* the dedupe key, hex */
	"  holder text NOT NULL,"
	"  answered boolean NOT NULL DEFAULT false,"
	"  reply text,"				/* plaintext, NULL: none */
	"  created_at timestamptz NOT NULL DEFAULT now())";

/* Version 5: robots' sends of the last minute (store_robot.c). */
static const char *const schema_robot =
	"CREATE TABLE wecom_robot_send ("
	"  id bigserial PRIMARY KEY,"
	"  robot text NOT NULL,"		/* SHA-256("robot" "\n" key) */
	"  sent_at timestamptz NOT NULL DEFAULT now())";

/*
 * Version 6: the message log (log = yes), as the host's SQLite file has
 * it; id is the cursor. Substring search (q=) uses a trigram index when
 * pg_trgm can be had (trusted since PostgreSQL 13: the database's owner
 * may create it); without it, the same ILIKE scans.
 */
static const char *const schema_message =
	"DO $$ BEGIN "
	"CREATE TABLE wecom_message ("
	"  id bigserial PRIMARY KEY,"
	"  direction text NOT NULL,"		/* in, out */
	"  app text NOT NULL,"
	"  channel text NOT NULL,"
	"  type text NOT NULL,"
	"  sender text,"
	"  chat text,"
	"  msgid text,"
	"  time bigint NOT NULL,"		/* unix seconds */
	"  content text,"
	"  fields text NOT NULL DEFAULT '{}');"	/* JSON: path → value */
	"CREATE INDEX wecom_message_time ON wecom_message (time);"
	"CREATE INDEX wecom_message_app ON wecom_message (app, id);"
	"CREATE INDEX wecom_message_sender ON wecom_message (sender, id);"
	"CREATE INDEX wecom_message_chat ON wecom_message (chat, id);"
	"BEGIN "
	"  CREATE EXTENSION IF NOT EXISTS pg_trgm;"
	"  CREATE INDEX wecom_message_content ON wecom_message USING gin "
	"    (content gin_trgm_ops);"
	"EXCEPTION WHEN others THEN NULL; "
	"END; "
	"END $$";

/* Version 7: callback-mode bots' streams, for refreshes (store_stream.c). */
static const char *const schema_stream =
	"CREATE TABLE wecom_stream ("
	"  id text PRIMARY KEY,"		/* the stream's random id */
	"  content text NOT NULL DEFAULT '',"
	"  finish boolean NOT NULL DEFAULT false,"
	"  born bigint NOT NULL)";		/* unix seconds */

/* Migration n brings the schema from version n - 1 to n, for ever. */
static const char *const *const migrations[] = {
	NULL,
	&schema_token,			/* 1 */
	&schema_outbox,			/* 2 */
	&schema_lease,			/* 3 */
	&schema_retry,			/* 4 */
	&schema_robot,			/* 5 */
	&schema_message,		/* 6 */
	&schema_stream,			/* 7 */
};

#define SCHEMA_VERSION	((int)(sizeof(migrations) / sizeof(migrations[0])) - 1)

static int	schema_migrate(struct wecom_store *);
static int	schema_version(struct wecom_store *, int *);
static int	schema_step(struct wecom_store *, int);

/* Connected, the schema this binary knows: what every call first asks. */
int
wecom_store_ready(struct wecom_store *st)
{
	int	fresh;

	if (wecom_store_connect(st, &fresh) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	if (fresh && schema_migrate(st) != WECOM_STORE_OK) {
		wecom_store_down(st, wecom_store_error(st));
		return (WECOM_STORE_ERROR);
	}
	if (fresh)
		wecom_store_up(st);

	return (WECOM_STORE_OK);
}

/*
 * Ready, then a statement that returns a row when it did what it asks
 * (RETURNING 1): WECOM_STORE_OK if it did, WECOM_STORE_NONE if not.
 */
int
wecom_store_exec_row(struct wecom_store *st, const char *sql, int n,
    const char *const *params)
{
	PGresult	*r;
	int		 rc;

	if (wecom_store_ready(st) != WECOM_STORE_OK ||
	    wecom_store_exec(st, sql, n, params, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = PQntuples(r) == 1 ? WECOM_STORE_OK : WECOM_STORE_NONE;
	PQclear(r);

	return (rc);
}

/*
 * Up to date already, the common case, needs no lock: connections made
 * together (a server's threads at start, fifty cron jobs) would wait in
 * turn for the advisory lock, and under load past lock_timeout. A
 * migration waits longer for it than a statement may.
 */
static int
schema_migrate(struct wecom_store *st)
{
	int	v, rc;

	if (schema_version(st, &v) == WECOM_STORE_OK && v == SCHEMA_VERSION)
		return (WECOM_STORE_OK);
	if (wecom_store_exec(st, "BEGIN", 0, NULL, NULL) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	rc = WECOM_STORE_ERROR;
	if (wecom_store_exec(st, "SET LOCAL lock_timeout = '30s'", 0, NULL,
	    NULL) != WECOM_STORE_OK ||
	    wecom_store_exec(st, SCHEMA_LOCK, 0, NULL, NULL) !=
	    WECOM_STORE_OK || wecom_store_exec(st, "CREATE TABLE IF NOT "
	    "EXISTS wecom_schema (version int PRIMARY KEY, applied_at "
	    "timestamptz NOT NULL DEFAULT now())", 0, NULL, NULL) !=
	    WECOM_STORE_OK || schema_version(st, &v) != WECOM_STORE_OK)
		goto out;
	if (v > SCHEMA_VERSION) {
		wecom_store_fail(st, "the database's schema is version %d, "
		    "newer than this server's %d", v, SCHEMA_VERSION);
		goto out;
	}
	while (v < SCHEMA_VERSION) {
		if (schema_step(st, ++v) != WECOM_STORE_OK)
			goto out;
	}
	rc = wecom_store_exec(st, "COMMIT", 0, NULL, NULL);
out:
	if (rc != WECOM_STORE_OK)
		(void)wecom_store_exec(st, "ROLLBACK", 0, NULL, NULL);
	return (rc);
}

static int
schema_version(struct wecom_store *st, int *v)
{
	PGresult	*r;

	if (wecom_store_exec(st, "SELECT coalesce(max(version), 0) FROM "
	    "wecom_schema", 0, NULL, &r) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	*v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);

	return (WECOM_STORE_OK);
}

static int
schema_step(struct wecom_store *st, int v)
{
	char		 num[16];
	const char	*p[1] = { num };

	snprintf(num, sizeof(num), "%d", v);
	if (wecom_store_exec(st, *migrations[v], 0, NULL, NULL) !=
	    WECOM_STORE_OK || wecom_store_exec(st, "INSERT INTO wecom_schema "
	    "(version) VALUES ($1::int)", 1, p, NULL) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);

	return (WECOM_STORE_OK);
}

/* Connected, migrated: the version the database is at. */
int
wecom_store_version(struct wecom_store *st, int *v)
{
	if (wecom_store_ready(st) != WECOM_STORE_OK)
		return (WECOM_STORE_ERROR);
	return (schema_version(st, v));
}
