/* SPDX-License-Identifier: ISC */
/*
 * One message now: what a caller that must answer at once (the push
 * API) uses after wecom_outbox_put(). The message is on disk before
 * any attempt, so a crash or a WeCom outage loses nothing: the next
 * drain sends what this could not. The outcome is read back from the
 * outbox itself, which makes a repeated request answer the same. And
 * the keys of all that waits, for a caller that sends every one now.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_private.h"
#include "outbox_private.h"

struct key_list {
	const struct wecom_conf	 *conf;
	char			**v;
	size_t			  n, cap;
	int			  nomem;
};

static int	outcome(const struct outbox_dirs *, const char *,
		    struct wecom_send_result *, struct wecom_api_error *);
static int	key_cmp(const void *, const void *);
static void	key_add(void *, const char *);

int
wecom_outbox_send(const struct wecom_conf *conf, const char *key,
    long wait_ms, wecom_outbox_log_fn log, void *arg,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct outbox_dirs	d;
	int			fd, rc;

	memset(res, 0, sizeof(*res));
	wecom_client_err_clear(err);
	if (key == NULL || wecom_outbox_key_valid(key) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "not an outbox key"));
	/* Put in the store unless this host's files had the key. */
	if (!wecom_outbox_in_files(conf, key) && (rc =
	    wecom_outbox_shared_send(conf, key, wait_ms, log, arg, res,
	    err)) !=
	    OUTBOX_MISSING)
		return (rc);
	if (wecom_outbox_dirs_init(&d, conf->state_dir, 1) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot use %s/outbox", conf->state_dir));

	if ((rc = wecom_outbox_lock(&d, wait_ms, &fd)) == WECOM_API_OK) {
		if (wecom_outbox_exists(d.sub[OB_NEW], key) == OUTBOX_EXISTS)
			wecom_outbox_drain_key(conf, &d, key, log, arg);
		close(fd);
	} else if (rc != OUTBOX_EXISTS) {
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot lock %s/lock", d.root));
	}

	return (outcome(&d, key, res, err));
}

/* Where the record is now says how it fared. */
static int
outcome(const struct outbox_dirs *d, const char *key,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct outbox_record	 r;
	json_t			*o;
	char			*data;
	size_t			 len;
	int			 i, rc;

	if (wecom_outbox_read(d->sub[OB_DONE], key, &data, &len) ==
	    WECOM_API_OK) {
		o = json_loadb(data, len, 0, NULL);
		free(data);
		rc = wecom_outbox_outcome_done(o, res, err);
		json_decref(o);
		return (rc);
	}
	for (i = OB_FAILED; i >= OB_NEW; i--) {
		if (i == OB_DONE || wecom_outbox_read(d->sub[i], key, &data,
		    &len) != WECOM_API_OK)
			continue;
		rc = wecom_outbox_record_decode(&r, data, len);
		free(data);
		if (rc != WECOM_API_OK)
			break;
		rc = wecom_outbox_outcome_record(&r, i, err);
		wecom_outbox_record_free(&r);
		return (rc);
	}

	return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
	    "message %s is not in the outbox", key));
}

/*
 * This host's queued files in key order, then the store's rows oldest
 * first; a key the files know is theirs (as wecom_outbox_send() asks).
 */
int
wecom_outbox_keys(const struct wecom_conf *conf, char ***keys, size_t *n)
{
	struct outbox_dirs	d;
	struct key_list		kl;
	int			rc;

	*keys = NULL;
	*n = 0;
	memset(&kl, 0, sizeof(kl));
	kl.conf = conf;
	if (wecom_outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	if ((rc = wecom_outbox_list(d.sub[OB_NEW], &kl.v, &kl.n)) !=
	    WECOM_API_OK && rc != OUTBOX_MISSING)
		return (rc);
	kl.cap = kl.n;
	if (kl.n > 1)
		qsort(kl.v, kl.n, sizeof(*kl.v), key_cmp);
	rc = wecom_outbox_shared_keys(conf, key_add, &kl);
	if (kl.nomem) {
		wecom_outbox_list_free(kl.v, kl.n);
		return (WECOM_API_ERR_NOMEM);
	}
	*keys = kl.v;
	*n = kl.n;

	return (rc);
}

void
wecom_outbox_keys_free(char **keys, size_t n)
{
	wecom_outbox_list_free(keys, n);
}

static int
key_cmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static void
key_add(void *arg, const char *key)
{
	struct key_list	 *kl = arg;
	char		**nv;
	size_t		  cap;

	if (kl->nomem || wecom_outbox_in_files(kl->conf, key))
		return;
	if (kl->n == kl->cap) {
		cap = kl->cap ? kl->cap * 2 : 64;
		if ((nv = reallocarray(kl->v, cap, sizeof(*nv))) == NULL) {
			kl->nomem = 1;
			return;
		}
		kl->v = nv;
		kl->cap = cap;
	}
	if ((kl->v[kl->n] = strdup(key)) == NULL)
		kl->nomem = 1;
	else
		kl->n++;
}
