/* SPDX-License-Identifier: ISC */
/*
 * Creating a client: which app it speaks for, its retry policy and the
 * CA bundle. The retry policy comes from [global] retry_attempts,
 * retry_base_ms, retry_max_ms, then the WECOM_RETRY_ATTEMPTS,
 * WECOM_RETRY_BASE_MS and WECOM_RETRY_MAX_MS environment variables.
 */

#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "wecom_store.h"


struct wecom_client *
wecom_client_new(const struct wecom_conf *conf, const char *app,
    struct wecom_api_error *err)
{
	struct wecom_client		*c;
	const struct wecom_app_conf	*a;

	wecom_client_err_clear(err);
	a = app != NULL ? wecom_conf_app(conf, app) : TAILQ_FIRST(&conf->apps);
	if (a == NULL) {
		wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "%s: no [app %s] section", conf->file ? conf->file : "?",
		    app ? app : "…");
		return (NULL);
	}
	if (a->secret == NULL || *a->secret == '\0') {
		wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "[app %s] has no secret: API calls need one", a->name);
		return (NULL);
	}
	if ((c = wecom_client_new_robot(conf, err)) == NULL)
		return (NULL);
	c->app = a;
	if (wecom_client_token_hash(a->corpid, a->secret, c->hash) !=
	    WECOM_API_OK) {
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "SHA-256 failed");
		wecom_client_free(c);
		return (NULL);
	}

	return (c);
}

/* A client without an app: group robots only. */
struct wecom_client *
wecom_client_new_robot(const struct wecom_conf *conf,
    struct wecom_api_error *err)
{
	static int		 curl_ready;
	struct wecom_client	*c;

	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "curl_global_init failed");
		return (NULL);
	}
	curl_ready = 1;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
		return (NULL);
	}
	c->conf = conf;
	/* Checked at load, the WECOM_RETRY_* overrides applied. */
	c->max_attempts = (int)conf->retry_attempts;
	c->base_ms = conf->retry_base_ms;
	c->total_ms = conf->retry_max_ms;
	/* Lives as long as the conf: borrowed, not copied per client. */
	c->ca_blob = conf->ca_pem;
	c->ca_len = conf->ca_len;

	return (c);
}

void
wecom_client_free(struct wecom_client *c)
{
	if (c == NULL)
		return;
	explicit_bzero(&c->token, sizeof(c->token));
	wecom_store_free(c->store);
	free(c->ca_copy);
	free(c);
}

/*
 * The server reads its CA bundle before chroot and hands it over here:
 * inside the chroot no CA file can be opened.
 */
int
wecom_client_set_ca_blob(struct wecom_client *c, const void *pem, size_t len)
{
	void	*p;

	if (len == 0)
		return (WECOM_API_ERR_ARG);
	if ((p = malloc(len)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	memcpy(p, pem, len);
	free(c->ca_copy);
	c->ca_blob = c->ca_copy = p;
	c->ca_len = len;

	return (WECOM_API_OK);
}

/* A value <= 0 keeps the current setting. */
void
wecom_client_set_retry(struct wecom_client *c, int max_attempts,
    long base_ms, long max_total_ms)
{
	if (max_attempts > 0)
		c->max_attempts = max_attempts;
	if (base_ms > 0)
		c->base_ms = base_ms;
	if (max_total_ms > 0)
		c->total_ms = max_total_ms;
}

const char *
wecom_client_app(const struct wecom_client *c)
{
	return (c->app != NULL ? c->app->name : NULL);
}

void
wecom_client_set_observer(struct wecom_client *c, wecom_api_observer fn,
    void *arg)
{
	c->observer = fn;
	c->observer_arg = arg;
}

