/* SPDX-License-Identifier: ISC */
/*
 * The operator's view of the outbox in the shared store (wecom-admin
 * outbox, after this host's files): its queued and failed rows listed,
 * a failed row queued anew, a row dropped. No lock is needed: each
 * change is one statement, and a row a drainer holds is not dropped.
 * A store that does not answer is left out (it says so itself, once).
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "outbox_private.h"
#include "wecom_store.h"

#define TARGET_MAX	256

struct list_ctx {
	wecom_outbox_entry_fn	 fn;
	void			*arg;
};

struct retry_ctx {
	struct wecom_store	*st;
	int			*count;
};

static void	list_row(void *, const struct wecom_store_outbox *);
static void	retry_row(void *, const struct wecom_store_outbox *);
static int	retry_one(struct wecom_store *, const char *, const char *);

/* One row as a file's record is listed (outbox_admin.c). */
static void
list_row(void *arg, const struct wecom_store_outbox *o)
{
	struct list_ctx			*c = arg;
	struct wecom_outbox_entry	 en;
	struct outbox_record		 r;
	char				 target[TARGET_MAX];
	int				 failed;

	memset(&en, 0, sizeof(en));
	failed = strcmp(o->state, "failed") == 0;
	en.key = o->key;
	en.state = failed ? "failed" : o->claimed ? "sending" : "queued";
	en.target = "?";
	en.errmsg = "";
	en.why = "not a record";
	if (wecom_outbox_record_decode(&r, o->record, strlen(o->record)) !=
	    WECOM_API_OK) {
		c->fn(c->arg, &en);
		return;
	}
	wecom_outbox_record_describe(&r, target, sizeof(target));
	en.target = target;
	en.created = r.created;
	en.next = r.next;
	en.attempts = r.attempts;
	en.code = r.error.code;
	en.errcode = r.error.errcode;
	en.errmsg = r.error.errmsg != NULL ? r.error.errmsg : "";
	en.why = failed ? r.failed_why : "";
	c->fn(c->arg, &en);
	wecom_outbox_record_free(&r);
}

void
wecom_outbox_shared_list(const struct wecom_conf *conf, int failed_only,
    wecom_outbox_entry_fn fn, void *arg)
{
	struct list_ctx		 c = { fn, arg };
	struct wecom_store	*st;

	if ((st = wecom_outbox_store(conf)) != NULL)
		(void)wecom_store_outbox_list(st, failed_only, list_row, &c);
}

/* key's failed record (record) queued anew, as a file's is. */
static int
retry_one(struct wecom_store *st, const char *key, const char *record)
{
	struct outbox_record	 r;
	char			*s;
	int			 rc;

	if (wecom_outbox_record_decode(&r, record, strlen(record)) !=
	    WECOM_API_OK)
		return (WECOM_API_ERR_PROTOCOL);
	wecom_outbox_record_requeue(&r, wecom_outbox_now_ms());
	s = wecom_outbox_record_encode(&r);
	wecom_outbox_record_free(&r);
	if (s == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = wecom_store_outbox_requeue(st, key, s);
	free(s);
	if (rc == WECOM_STORE_NONE)
		return (WECOM_OUTBOX_NOT_FOUND);

	return (rc == WECOM_STORE_OK ? WECOM_API_OK : WECOM_API_ERR_UNAVAILABLE);
}

static void
retry_row(void *arg, const struct wecom_store_outbox *o)
{
	struct retry_ctx	*c = arg;

	if (retry_one(c->st, o->key, o->record) == WECOM_API_OK)
		(*c->count)++;
}

/*
 * Failed row key (NULL: every one) queued anew; *count grows by those
 * moved. WECOM_OUTBOX_NOT_FOUND: no failed key, or no store.
 */
int
wecom_outbox_shared_retry(const struct wecom_conf *conf, const char *key,
    int *count)
{
	struct wecom_store_outbox	 o;
	struct retry_ctx		 c;
	struct wecom_store		*st;
	int				 rc;

	if ((st = wecom_outbox_store(conf)) == NULL)
		return (key == NULL ? WECOM_API_OK : WECOM_OUTBOX_NOT_FOUND);
	if (key == NULL) {
		c.st = st;
		c.count = count;
		(void)wecom_store_outbox_list(st, 1, retry_row, &c);
		return (WECOM_API_OK);
	}
	if ((rc = wecom_store_outbox_get(st, key, &o)) != WECOM_STORE_OK)
		return (rc == WECOM_STORE_NONE ? WECOM_OUTBOX_NOT_FOUND :
		    WECOM_API_ERR_UNAVAILABLE);
	rc = strcmp(o.state, "failed") != 0 ? WECOM_OUTBOX_NOT_FOUND :
	    retry_one(st, key, o.record);
	wecom_store_outbox_clear(&o);
	if (rc == WECOM_API_OK)
		(*count)++;

	return (rc);
}

/* A queued (not being sent) or failed row removed. */
int
wecom_outbox_shared_drop(const struct wecom_conf *conf, const char *key)
{
	struct wecom_store	*st;
	int			 rc;

	if ((st = wecom_outbox_store(conf)) == NULL)
		return (WECOM_OUTBOX_NOT_FOUND);
	if ((rc = wecom_store_outbox_drop(st, key)) == WECOM_STORE_ERROR)
		return (WECOM_API_ERR_UNAVAILABLE);

	return (rc == WECOM_STORE_OK ? WECOM_API_OK : WECOM_OUTBOX_NOT_FOUND);
}
