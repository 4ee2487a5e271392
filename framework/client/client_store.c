/* SPDX-License-Identifier: ISC */
/*
 * The shared store seen from a tool: can it be reached, and at which
 * version of the schema (wecom-admin check).
 */

#include "client_private.h"
#include "wecom_store.h"

int
wecom_store_ping(const struct wecom_conf *conf, int *version,
    struct wecom_api_error *err)
{
	struct wecom_store	*st;
	int			 rc;

	wecom_client_err_clear(err);
	*version = 0;
	if (conf->store == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no [global] store"));
	if ((st = wecom_store_new(conf->store)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	rc = WECOM_API_OK;
	if (wecom_store_version(st, version) != WECOM_STORE_OK)
		rc = wecom_client_err_set(err, WECOM_API_ERR_UNAVAILABLE, 0,
		    "%s", wecom_store_error(st));
	wecom_store_free(st);

	return (rc);
}
