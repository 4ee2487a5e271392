/* SPDX-License-Identifier: ISC */
/*
 * The trusted-IP relay. WeCom takes API calls only from an app's
 * trusted IPs (errcode 60020); this host has one, the monitoring tools
 * may not. Tools that let their WeCom base URL be changed (Alertmanager
 * api_url, most SDKs) point it here:
 *
 *	/cgi-bin/API			from a network in [relay] allow
 *	/relay/KEY/cgi-bin/API		with the relay key, from anywhere
 *
 * gettoken is answered from this host's token cache (one fetch for the
 * whole fleet), for the corpid and secret of an [app] section only;
 * message/send, webhook/send and media/upload go to WeCom once each, as
 * they came, on a handler thread, and WeCom's answer goes back as it is.
 *
 *	[relay]
 *	key     = file:/etc/wecom/relay.key
 *	allow   = 10.0.0.0/8 192.168.1.0/24
 *	corpids = ww0123456789abcdef	; default: those of the [app]s
 */

#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_netlist.h"
#include "wecom_push.h"
#include "wecom_runner.h"
#include "wecom_http.h"
#include "wecom_server.h"

#define RELAY_PREFIX	"/relay/"
#define CGI_PREFIX	"/cgi-bin/"
#define RELAY_CORPS_MAX	1024

static const char *const relay_apis[] = {
	"gettoken", "message/send", "webhook/send", "media/upload", NULL
};

struct relay_job {
	const char			*api;
	const struct wecom_app_conf	*app;		/* gettoken's */
	const char			*why;		/* a refusal, and */
	long				 errcode;	/* WeCom's code */
	char				*query;
	char				*ctype;
	char				*body;
	size_t				 len;
	int				 rc;
	long				 ttl;
	char				 token[WECOM_TOKEN_MAX + 1];
	struct wecom_forward		 fw;
	struct wecom_api_error		 err;
};

/* Read in the parent; read-only in the workers. */
static const struct wecom_conf	*conf;
static int			 enabled;
static unsigned char		 key_hash[SHA256_DIGEST_LENGTH];
static int			 has_key;
static struct wecom_netlist	 allow;
static char			 corps[RELAY_CORPS_MAX];

static const char	*relay_api(struct http_request *, char *, size_t);
static int	relay_allowed(struct http_request *, const char *);
static int	relay_start(struct http_request *, const char *);
static int	relay_gettoken(struct http_request *, struct relay_job *);
static int	relay_corp(const char *);
static int	relay_app(struct relay_job *, const char *, const char *);
static int	relay_read(struct http_request *, struct relay_job *);
static void	relay_chore(struct wecom_job *);
static int	relay_answer(void *, struct wecom_job *);
static void	relay_release(void *);
static int	relay_json(struct http_request *, int, long, const char *);

int
wecom_relay_init(const struct wecom_conf *c, char *err, size_t errlen)
{
	const struct wecom_conf_section	*s;
	const struct wecom_app_conf	*a;
	const char			*v;
	int				 n, i;

	conf = c;
	if ((s = wecom_conf_section(c, "relay", "")) == NULL)
		return (WECOM_OK);
	enabled = 1;
	if ((v = wecom_conf_get(s, "key")) != NULL) {
		if (strlen(v) < WECOM_APIKEY_MIN ||
		    v[strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789_-.")] != '\0') {
			snprintf(err, errlen, "[relay] key: %d or more of "
			    "A-Z a-z 0-9 _ - . (it goes in URLs)",
			    WECOM_APIKEY_MIN);
			return (WECOM_ERROR);
		}
		SHA256((const unsigned char *)v, strlen(v), key_hash);
		has_key = 1;
	}
	if (wecom_netlist_conf(&allow, s, "allow", "", err, errlen) !=
	    WECOM_CONF_OK)
		return (WECOM_ERROR);
	if (!has_key && allow.n == 0) {
		snprintf(err, errlen, "[relay] needs a key or allow");
		return (WECOM_ERROR);
	}
	/* " ww1 ww2 ": a corpid is looked up as " corpid ". */
	if ((v = wecom_conf_get(s, "corpids")) != NULL) {
		n = snprintf(corps, sizeof(corps), " %s ", v);
	} else {
		n = snprintf(corps, sizeof(corps), " ");
		TAILQ_FOREACH(a, &c->apps, list)
			if (a->corpid != NULL && n > 0 &&
			    (size_t)n < sizeof(corps))
				n += snprintf(corps + n, sizeof(corps) - n,
				    "%s ", a->corpid);
	}
	if (n < 0 || (size_t)n >= sizeof(corps)) {
		snprintf(err, errlen, "[relay] corpids: too long");
		return (WECOM_ERROR);
	}
	for (i = 0; corps[i] != '\0'; i++)
		if (corps[i] == ',')
			corps[i] = ' ';

	return (WECOM_OK);
}

/* 1 if req is the relay's (then *rc is the route's result). */
int
wecom_relay_route(struct http_request *req, int *rc)
{
	const char	*api;
	char		 key[128];

	if (!enabled || (api = relay_api(req, key, sizeof(key))) == NULL)
		return (0);
	if (!relay_allowed(req, key[0] ? key : NULL)) {
		*rc = relay_json(req, 403, 403, "relay: not allowed: give the "
		    "relay key in the URL or call from a network in [relay] "
		    "allow");
		return (1);
	}
	*rc = relay_start(req, api);

	return (1);
}

/* "gettoken" … for a relayed path, and the key in it ("" if none). */
static const char *
relay_api(struct http_request *req, char *key, size_t keylen)
{
	const char	*p = req->path, *slash;
	int		 i;

	key[0] = '\0';
	if (strncmp(p, RELAY_PREFIX, strlen(RELAY_PREFIX)) == 0) {
		p += strlen(RELAY_PREFIX);
		if ((slash = strchr(p, '/')) == NULL || slash == p ||
		    (size_t)(slash - p) >= keylen)
			return (NULL);
		memcpy(key, p, (size_t)(slash - p));
		key[slash - p] = '\0';
		p = slash;
	}
	if (strncmp(p, CGI_PREFIX, strlen(CGI_PREFIX)) != 0)
		return (NULL);
	p += strlen(CGI_PREFIX);
	for (i = 0; relay_apis[i] != NULL; i++)
		if (strcmp(p, relay_apis[i]) == 0)
			return (relay_apis[i]);

	return (NULL);
}

static int
relay_allowed(struct http_request *req, const char *key)
{
	unsigned char	h[SHA256_DIGEST_LENGTH], addr[16];
	const char	*hdr;
	int		family;

	if (key == NULL && http_request_header(req, "x-relay-key", &hdr))
		key = hdr;
	if (key != NULL) {
		SHA256((const unsigned char *)key, strlen(key), h);
		return (has_key && CRYPTO_memcmp(h, key_hash, sizeof(h)) == 0);
	}

	return (wecom_http_origin(req, &family, addr) == 0 &&
	    wecom_netlist_match(&allow, family, addr));
}

static int
relay_start(struct http_request *req, const char *api)
{
	struct relay_job	*job;
	int			 status, rc;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return (relay_json(req, 503, 503, "relay: out of memory"));
	job->api = api;
	status = strcmp(api, "gettoken") == 0 ? relay_gettoken(req, job) :
	    relay_read(req, job);
	if (status != 0) {
		if (status == 405)
			http_response_header(req, "allow",
			    strcmp(api, "gettoken") == 0 ? "GET" : "POST");
		rc = relay_json(req, status, job->errcode ? job->errcode :
		    status, job->why);
		relay_release(job);
		return (rc);
	}

	return (wecom_dispatch_chore(req, relay_chore, relay_answer,
	    relay_release, job));
}

/*
 * gettoken, for the apps of the config only: a guessed secret is
 * refused here as WeCom refuses it, with no lock file left behind for
 * it and no call that could get this host's IP banned (errcode 40001).
 */
static int
relay_gettoken(struct http_request *req, struct relay_job *job)
{
	const char	*q = req->query_string ? req->query_string : "";
	char		*corpid, *secret;
	int		 status;

	job->why = "relay: gettoken is a GET";
	if (req->method != HTTP_METHOD_GET)
		return (405);
	corpid = wecom_form_get(q, "corpid");
	secret = wecom_form_get(q, "corpsecret");
	if (corpid == NULL || secret == NULL) {
		job->why = "relay: corpid and corpsecret are needed";
		status = 400;
	} else if (!relay_corp(corpid)) {
		job->why = "relay: this corpid is not relayed here "
		    "([relay] corpids)";
		status = 403;
	} else
		status = relay_app(job, corpid, secret);
	free(corpid);
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	free(secret);

	return (status);
}

/* Whether corpid is one of [relay] corpids, kept as " ww1 ww2 ". */
static int
relay_corp(const char *corpid)
{
	char	pad[80];

	if (strlen(corpid) > sizeof(pad) - 3)
		return (0);
	(void)snprintf(pad, sizeof(pad), " %s ", corpid);

	return (strstr(corps, pad) != NULL);
}

/*
 * The [app] with this corpid and secret: 0, or 200 with WeCom's own
 * errcode. Every secret of the corp is compared, by its SHA-256 and in
 * constant time, so that neither a secret nor its length leaks.
 */
static int
relay_app(struct relay_job *job, const char *corpid, const char *secret)
{
	const struct wecom_app_conf	*a;
	unsigned char			 given[SHA256_DIGEST_LENGTH];
	unsigned char			 h[SHA256_DIGEST_LENGTH];
	int				 corp;

	SHA256((const unsigned char *)secret, strlen(secret), given);
	corp = 0;
	TAILQ_FOREACH(a, &conf->apps, list) {
		if (a->corpid == NULL || a->secret == NULL ||
		    *a->secret == '\0' || strcmp(a->corpid, corpid) != 0)
			continue;
		corp = 1;
		SHA256((const unsigned char *)a->secret, strlen(a->secret), h);
		if (CRYPTO_memcmp(h, given, sizeof(h)) == 0)
			job->app = a;
	}
	explicit_bzero(given, sizeof(given));
	explicit_bzero(h, sizeof(h));
	if (job->app != NULL)
		return (0);
	job->errcode = corp ? 40001 : 40013;
	job->why = corp ? "invalid credential, hint: this relay serves "
	    "gettoken for the secrets of its [app] sections only" :
	    "invalid corpid, hint: no [app] section of this corp has a "
	    "secret on this relay";

	return (200);
}

/* What goes to WeCom, copied: 0 or a status with job->why. */
static int
relay_read(struct http_request *req, struct relay_job *job)
{
	const char	*q = req->query_string ? req->query_string : "";
	const char	*ctype;

	job->why = "relay: this API takes a POST";
	if (req->method != HTTP_METHOD_POST)
		return (405);
	/* The query goes into a URL as it is: printable ASCII only. */
	job->why = "relay: the query string has characters URLs do not";
	if (*q == '\0' || q[strspn(q, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
	    "klmnopqrstuvwxyz0123456789-._~%&=+")] != '\0')
		return (400);
	if (!http_request_header(req, "content-type", &ctype))
		ctype = "application/json";
	job->why = "relay: out of memory";
	job->len = req->http_body != NULL ? req->content_length : 0;
	if ((job->query = strdup(q)) == NULL ||
	    (job->ctype = strdup(ctype)) == NULL ||
	    (job->body = malloc(job->len + 1)) == NULL)
		return (503);
	if (job->len > 0)
		memcpy(job->body, req->http_body->data, job->len);

	return (0);
}

/* A handler thread: the token from the cache, or one call to WeCom. */
static void
relay_chore(struct wecom_job *wj)
{
	struct relay_job	*job = wj->arg;
	struct wecom_client	*c;

	if (job->app != NULL)
		c = wecom_client_new(conf, job->app->name, &job->err);
	else
		c = wecom_client_new_robot(conf, &job->err);
	if (c == NULL) {
		job->rc = job->err.code;
		return;
	}
	if (job->app != NULL)
		job->rc = wecom_token_ttl(c, job->token, sizeof(job->token),
		    &job->ttl, &job->err);
	else
		job->rc = wecom_api_forward(c, job->api, job->query, job->ctype,
		    job->body, job->len, &job->fw, &job->err);
	wecom_client_free(c);
}

static int
relay_answer(void *arg, struct wecom_job *wj)
{
	struct http_request	*req = arg;
	struct relay_job	*job = wj->arg;

	if (job->rc == WECOM_API_OK && job->app == NULL) {
		http_response_header(req, "content-type",
		    "application/json; charset=utf-8");
		http_response(req, (int)job->fw.status, job->fw.body,
		    job->fw.len);
		return (KORE_RESULT_OK);
	}
	if (job->rc == WECOM_API_OK)
		return (wecom_http_json(req, 200, json_pack("{s:i, s:s, s:s, "
		    "s:i}", "errcode", 0, "errmsg", "ok", "access_token",
		    job->token, "expires_in", (int)job->ttl)));
	/* WeCom's own refusal (40001 …) as WeCom gives it; else ours. */
	if (job->err.errcode != 0)
		return (relay_json(req, 200, job->err.errcode, job->err.errmsg));

	return (relay_json(req, 502, 502, job->err.errmsg));
}

static void
relay_release(void *arg)
{
	struct relay_job	*job = arg;

	explicit_bzero(job->token, sizeof(job->token));
	free(job->query);
	free(job->ctype);
	free(job->body);
	wecom_forward_free(&job->fw);
	free(job);
}

/*
 * A refusal in WeCom's shape, so that the caller's SDK can read it;
 * logged, even as a 200 (a guessed secret), for whoever watches.
 */
static int
relay_json(struct http_request *req, int status, long errcode,
    const char *why)
{
	wecom_http_log(req, status, why);

	return (wecom_http_json(req, status, json_pack("{s:I, s:s}",
	    "errcode", (json_int_t)errcode, "errmsg", why)));
}
