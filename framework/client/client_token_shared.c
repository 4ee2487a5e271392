/* SPDX-License-Identifier: ISC */
/*
 * The token tier several servers share ([global] store, docs/ha.md).
 * Whoever finds the shared token missing or near its end claims the
 * refresh lease and calls gettoken; the others keep using the old one
 * while it is still good, or wait for the new one: one gettoken per app
 * for every server and tool on the database. A store that does not
 * answer sends the caller to this host's files (CLIENT_TOKEN_LOCAL).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "client_private.h"
#include "wecom_store.h"

/* Refresh this long before the end; others use the old one meanwhile. */
#define SHARED_EARLY_S	300
/* Still good enough to use while another fetches. */
#define SHARED_USABLE_S	60
/* The lease: a gettoken with its retries fits in it. */
#define SHARED_LEASE_S	20
#define SHARED_POLL_MS	100

static int	shared_copy(struct client_token *,
		    const struct wecom_store_token *);
static int	shared_fetch(struct wecom_client *, struct client_token *,
		    struct wecom_api_error *);

/* The client's connection to the store, made on first use. */
struct wecom_store *
wecom_client_store(struct wecom_client *c)
{
	if (c->store == NULL && c->conf->store != NULL)
		c->store = wecom_store_new(c->conf->store);
	return (c->store);
}

int
wecom_client_token_shared(struct wecom_client *c, struct client_token *t,
    struct wecom_api_error *err)
{
	struct wecom_store_token	 s;
	struct wecom_store		*st;
	time_t				 end;
	int				 rc, have, claim;

	if ((st = wecom_client_store(c)) == NULL)
		return (CLIENT_TOKEN_LOCAL);
	end = time(NULL) + SHARED_LEASE_S + 5;
	rc = CLIENT_TOKEN_LOCAL;
	for (;;) {
		/* A statement that failed on a busy row is tried again. */
		if ((have = wecom_store_token_read(st, c->hash, &s)) ==
		    WECOM_STORE_ERROR && !wecom_store_connected(st))
			break;
		if (have == WECOM_STORE_OK && shared_copy(t, &s) &&
		    wecom_client_token_fresh(t, SHARED_EARLY_S)) {
			rc = WECOM_API_OK;
			break;
		}
		if ((claim = wecom_store_token_claim(st, c->hash,
		    have == WECOM_STORE_OK ? s.value : NULL,
		    SHARED_LEASE_S)) == WECOM_STORE_OK) {
			rc = shared_fetch(c, t, err);
			break;
		}
		if (claim == WECOM_STORE_ERROR && !wecom_store_connected(st))
			break;
		/* Another is fetching: its old token, or a short wait. */
		if (have == WECOM_STORE_OK &&
		    wecom_client_token_fresh(t, SHARED_USABLE_S)) {
			rc = WECOM_API_OK;
			break;
		}
		if (time(NULL) > end)
			break;
		wecom_client_sleep_ms(SHARED_POLL_MS);
	}
	explicit_bzero(&s, sizeof(s));

	return (rc);
}

/* WeCom refused it: no server may use it any more. */
void
wecom_client_token_unshare(struct wecom_client *c, const char *token)
{
	struct wecom_store	*st;

	if ((st = wecom_client_store(c)) != NULL)
		(void)wecom_store_token_drop(st, c->hash, token);
}

/* Ours to fetch; what we fetched goes to everyone. */
static int
shared_fetch(struct wecom_client *c, struct client_token *t,
    struct wecom_api_error *err)
{
	struct wecom_store_token	s;
	int				rc;

	memset(&s, 0, sizeof(s));
	if ((rc = wecom_client_token_fetch(c, t, err)) == WECOM_API_OK) {
		memcpy(s.value, t->value, strlen(t->value) + 1);
		s.fetched_at = t->fetched_at;
		s.expires_in = t->expires_in;
	}
	/* Put, or give the lease back at once with no token. */
	(void)wecom_store_token_put(c->store, c->hash, rc == WECOM_API_OK ?
	    &s : NULL);
	explicit_bzero(&s, sizeof(s));

	return (rc);
}

static int
shared_copy(struct client_token *t, const struct wecom_store_token *s)
{
	if (strlen(s->value) > WECOM_TOKEN_MAX)
		return (0);
	memset(t, 0, sizeof(*t));
	memcpy(t->value, s->value, strlen(s->value) + 1);
	t->fetched_at = s->fetched_at;
	t->expires_in = s->expires_in;

	return (1);
}
