/* SPDX-License-Identifier: ISC */
/*
 * One message now: what a caller that must answer at once (the push
 * API) uses after wecom_outbox_put(). The message is on disk before
 * any attempt, so a crash or a WeCom outage loses nothing: the next
 * drain sends what this could not. The outcome is read back from the
 * outbox itself, which makes a repeated request answer the same.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client_private.h"
#include "outbox_private.h"

static int	outcome(const struct outbox_dirs *, const char *,
		    struct wecom_send_result *, struct wecom_api_error *);

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

