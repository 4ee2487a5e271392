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
static int	outcome_done(json_t *, struct wecom_send_result *,
		    struct wecom_api_error *);
static int	outcome_record(const struct outbox_record *, int,
		    struct wecom_api_error *);
static char	*dup_str(json_t *, const char *, int *);

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
		rc = outcome_done(o, res, err);
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
		rc = outcome_record(&r, i, err);
		wecom_outbox_record_free(&r);
		return (rc);
	}

	return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
	    "message %s is not in the outbox", key));
}

static int
outcome_done(json_t *o, struct wecom_send_result *res,
    struct wecom_api_error *err)
{
	int	nomem;

	nomem = 0;
	if (!json_is_object(o))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "unreadable done/ record"));
	/* msgid is msgids[0], as a send's result has it: freed with it. */
	res->msgids[0] = dup_str(o, "msgid", &nomem);
	res->msgid = res->msgids[0];
	res->invaliduser = dup_str(o, "invaliduser", &nomem);
	res->invalidparty = dup_str(o, "invalidparty", &nomem);
	res->invalidtag = dup_str(o, "invalidtag", &nomem);
	res->nparts = 1;
	if (nomem) {
		wecom_send_result_free(res);
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	}

	return (WECOM_API_OK);
}

/* Failed for good, or still queued with the last attempt's error. */
static int
outcome_record(const struct outbox_record *r, int dir,
    struct wecom_api_error *err)
{
	int	code;

	code = r->error.code != 0 ? r->error.code : WECOM_API_ERR_UNAVAILABLE;
	if (r->error.code != 0 || dir == OB_FAILED) {
		wecom_client_err_set(err, code, r->error.errcode, "%s",
		    r->error.errmsg ? r->error.errmsg : "never sent");
	}

	return (dir == OB_FAILED ? code : WECOM_OUTBOX_QUEUED);
}

static char *
dup_str(json_t *o, const char *name, int *nomem)
{
	const char	*s;
	char		*d;

	if ((s = json_string_value(json_object_get(o, name))) == NULL)
		return (NULL);
	if ((d = strdup(s)) == NULL)
		*nomem = 1;
	return (d);
}
