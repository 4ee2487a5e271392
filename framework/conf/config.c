/* SPDX-License-Identifier: ISC */
/*
 * conf/wecom.conf as the server and the tools use it: read by the INI
 * reader (config_ini.c), then checked here, the [global] section against
 * the table of its numbers and each [app NAME] section for what a WeCom
 * app needs. Every error names the file, the line and the key, because
 * a config mistake is the first thing a new user meets.
 */

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_crypto.h"
#include "wecom_config.h"
#include "wecom_conf_ini.h"

/* WeCom's agentid is a 32-bit int in its JSON. */
#define AGENTID_MAX		2147483647LL
/* WeCom waits 5 s for an answer: a threaded app must answer before. */
#define DEADLINE_MS_DEFAULT	3000
#define DEADLINE_MS_MIN		100
#define DEADLINE_MS_MAX		4500
#define WINDOW_MAX		(365LL * 86400)

/*
 * Every number of [global]: its bounds, its default, the environment
 * variable that overrides the file, and where wecom_conf_load() puts
 * it. All of them are checked at load, none is replaced in silence.
 */
enum num_type { NUM_LONG, NUM_SIZE };

struct conf_num {
	const char	*key;
	const char	*env;
	long long	 def, min, max;
	enum num_type	 type;
	size_t		 off;
};

#define NUM(f, t, env, def, min, max)					\
	{ #f, env, def, min, max, t, offsetof(struct wecom_conf, f) }

static const struct conf_num	globals[] = {
	NUM(connect_timeout_ms, NUM_LONG, NULL, 5000, 100, 600000),
	NUM(timeout_ms, NUM_LONG, NULL, 15000, 100, 600000),
	NUM(body_max, NUM_SIZE, NULL, 256 * 1024, 4096, 64 * 1024 * 1024),
	/* Replay protection: WeCom's timestamps are its own clock's. */
	NUM(timestamp_window, NUM_LONG, NULL, 300, 0, WINDOW_MAX),
	NUM(handler_threads, NUM_LONG, NULL, 4, 1, 256),
	NUM(handler_queue, NUM_LONG, NULL, 256, 1, 65536),
	NUM(api_threads, NUM_LONG, NULL, 2, 1, 64),
	/* WeCom's retries come within seconds of each other. 0: off. */
	NUM(dedupe_window, NUM_LONG, NULL, 60, 0, 86400),
	NUM(dedupe_entries, NUM_LONG, NULL, 512, 16,
	    WECOM_CONF_DEDUPE_ENTRIES_MAX),
	NUM(retry_attempts, NUM_LONG, "WECOM_RETRY_ATTEMPTS", 4, 1, 20),
	NUM(retry_base_ms, NUM_LONG, "WECOM_RETRY_BASE_MS", 250, 1, 60000),
	NUM(retry_max_ms, NUM_LONG, "WECOM_RETRY_MAX_MS", 30000, 1, 600000),
	NUM(outbox_max_age, NUM_LONG, "WECOM_OUTBOX_MAX_AGE", 14400, 1,
	    30 * 86400),
	NUM(outbox_batch, NUM_LONG, "WECOM_OUTBOX_BATCH", 200, 1, 1000000),
	NUM(outbox_interval_ms, NUM_LONG, NULL, 1000, 100, 3600000),
	NUM(outbox_backoff_ms, NUM_LONG, "WECOM_OUTBOX_BACKOFF_MS", 30000, 1,
	    3600000),
	{ NULL, NULL, 0, 0, 0, NUM_LONG, 0 }
};

/* The other keys of [global]. */
static const char *const	globals_other[] = { "api_base", "state_dir",
	"metrics_path", "healthz_path", "metrics_allow", "ca_file", NULL };

static int	conf_global(struct conf_parse *);
static int	conf_global_known(const char *);
static int	conf_global_numbers(struct conf_parse *,
		    const struct wecom_conf_section *);
static int	conf_app(struct conf_parse *, struct wecom_conf_section *);
static int	conf_app_settings(struct conf_parse *,
		    const struct wecom_conf_section *, struct wecom_app_conf *);
static int	conf_app_values(struct conf_parse *,
		    const struct wecom_conf_section *);
static int	conf_number(struct conf_parse *,
		    const struct wecom_conf_section *, const char *,
		    const char *, long long, long long, long long *);
static int	conf_parse_number(const char *, long long, long long,
		    long long *);
static const char	*conf_need(struct conf_parse *,
			    const struct wecom_conf_section *, const char *);

const char *
wecom_conf_path(void)
{
	const char	*p;

	if ((p = getenv("WECOM_CONF")) != NULL && *p != '\0')
		return (p);
	return (WECOM_CONF_DEFAULT);
}

int
wecom_conf_load(struct wecom_conf *conf, const char *path, char *err,
    size_t errlen)
{
	struct conf_parse		 ps;
	struct wecom_conf_section	*s;
	int				 rc;

	memset(conf, 0, sizeof(*conf));
	TAILQ_INIT(&conf->sections);
	TAILQ_INIT(&conf->apps);
	memset(&ps, 0, sizeof(ps));
	ps.conf = conf;
	ps.err = err;
	ps.errlen = errlen;

	if ((conf->file = strdup(path)) == NULL)
		return (wecom_conf_fail(&ps, 0, "out of memory"));
	if ((rc = wecom_conf_read(&ps, path)) != WECOM_CONF_OK)
		return (rc);

	if ((rc = conf_global(&ps)) != WECOM_CONF_OK)
		return (rc);
	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, "app") == 0 &&
		    (rc = conf_app(&ps, s)) != WECOM_CONF_OK)
			return (rc);
	}

	return (WECOM_CONF_OK);
}

void
wecom_conf_free(struct wecom_conf *conf)
{
	struct wecom_conf_section	*s;
	struct wecom_conf_kv		*kv;
	struct wecom_app_conf		*app;

	while ((app = TAILQ_FIRST(&conf->apps)) != NULL) {
		TAILQ_REMOVE(&conf->apps, app, list);
		free(app);
	}
	while ((s = TAILQ_FIRST(&conf->sections)) != NULL) {
		TAILQ_REMOVE(&conf->sections, s, list);
		while ((kv = TAILQ_FIRST(&s->keys)) != NULL) {
			TAILQ_REMOVE(&s->keys, kv, list);
			/* Values may be secrets: do not leave them in memory. */
			memset(kv->value, 0, strlen(kv->value));
			free(kv->key);
			free(kv->value);
			free(kv);
		}
		free(s->type);
		free(s->name);
		free(s);
	}
	free(conf->file);
	conf->file = NULL;
}

const struct wecom_app_conf *
wecom_conf_app(const struct wecom_conf *conf, const char *name)
{
	const struct wecom_app_conf	*app;

	TAILQ_FOREACH(app, &conf->apps, list) {
		if (strcmp(app->name, name) == 0)
			return (app);
	}

	return (NULL);
}

static int
conf_global(struct conf_parse *ps)
{
	struct wecom_conf		*conf = ps->conf;
	const struct wecom_conf_section	*s;
	const struct wecom_conf_kv	*kv;
	const char			*env;

	s = wecom_conf_section(conf, "global", "");
	conf->api_base = WECOM_API_BASE_DEFAULT;
	conf->state_dir = WECOM_STATE_DIR_DEFAULT;
	if (s != NULL) {
		TAILQ_FOREACH(kv, &s->keys, list) {
			if (!conf_global_known(kv->key))
				return (wecom_conf_fail(ps, kv->line,
				    "[global]: unknown key '%s'", kv->key));
		}
		if (wecom_conf_get(s, "api_base") != NULL)
			conf->api_base = wecom_conf_get(s, "api_base");
		if (wecom_conf_get(s, "state_dir") != NULL)
			conf->state_dir = wecom_conf_get(s, "state_dir");
	}
	if ((env = getenv("WECOM_API_BASE")) != NULL && *env != '\0')
		conf->api_base = env;
	if (strncmp(conf->api_base, "http://", 7) != 0 &&
	    strncmp(conf->api_base, "https://", 8) != 0)
		return (wecom_conf_fail(ps, s ? s->line : 0, "key 'api_base'%s: "
		    "must start with https:// or http://", conf->api_base ==
		    env ? " (from environment variable WECOM_API_BASE)" : ""));

	return (conf_global_numbers(ps, s));
}

static int
conf_global_known(const char *key)
{
	const struct conf_num	*g;
	size_t			 i;

	for (g = globals; g->key != NULL; g++)
		if (strcmp(g->key, key) == 0)
			return (1);
	for (i = 0; globals_other[i] != NULL; i++)
		if (strcmp(globals_other[i], key) == 0)
			return (1);

	return (0);
}

/* Each number of the table, checked, or else its default. */
static int
conf_global_numbers(struct conf_parse *ps, const struct wecom_conf_section *s)
{
	const struct conf_num	*g;
	long long		 n;
	char			*p;

	for (g = globals; g->key != NULL; g++) {
		n = g->def;
		if (conf_number(ps, s, g->key, g->env, g->min, g->max, &n) !=
		    WECOM_CONF_OK)
			return (WECOM_CONF_ERROR);
		p = (char *)ps->conf + g->off;
		if (g->type == NUM_SIZE)
			*(size_t *)(void *)p = (size_t)n;
		else
			*(long *)(void *)p = (long)n;
	}

	return (WECOM_CONF_OK);
}

static int
conf_app(struct conf_parse *ps, struct wecom_conf_section *s)
{
	struct wecom_app_conf		*app;
	const struct wecom_app_conf	*o;

	if ((app = calloc(1, sizeof(*app))) == NULL)
		return (wecom_conf_fail(ps, s->line, "out of memory"));
	TAILQ_INSERT_TAIL(&ps->conf->apps, app, list);
	app->section = s;
	app->name = s->name;
	app->secret = wecom_conf_get(s, "secret");
	if ((app->handler = wecom_conf_get(s, "handler")) == NULL)
		app->handler = s->name;

	/*
	 * An app that only sends (wecom-send, alerts) needs no callback
	 * settings; one that receives callbacks needs all three.
	 */
	app->token = wecom_conf_get(s, "token");
	app->aeskey = wecom_conf_get(s, "aeskey");
	app->path = wecom_conf_get(s, "path");
	if ((app->corpid = conf_need(ps, s, "corpid")) == NULL ||
	    conf_need(ps, s, "agentid") == NULL)
		return (WECOM_CONF_ERROR);
	if ((app->secret == NULL || app->token != NULL || app->aeskey != NULL ||
	    app->path != NULL) && (conf_need(ps, s, "token") == NULL ||
	    conf_need(ps, s, "aeskey") == NULL || conf_need(ps, s, "path") ==
	    NULL))
		return (WECOM_CONF_ERROR);
	if (conf_app_settings(ps, s, app) != WECOM_CONF_OK ||
	    conf_app_values(ps, s) != WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);

	TAILQ_FOREACH(o, &ps->conf->apps, list) {
		if (o != app && o->path != NULL && app->path != NULL &&
		    strcmp(o->path, app->path) == 0)
			return (wecom_conf_fail(ps, s->line, "[app %s]: path "
			    "%s is already used by [app %s]", s->name,
			    app->path, o->name));
	}

	return (WECOM_CONF_OK);
}

/* The callback settings, on every line that sets them. */
static int
conf_app_values(struct conf_parse *ps, const struct wecom_conf_section *s)
{
	const struct wecom_conf_kv	*kv;
	const char			*v;

	TAILQ_FOREACH(kv, &s->keys, list) {
		v = kv->value;
		if (strcmp(kv->key, "aeskey") == 0 &&
		    wecom_crypto_check_aeskey(v) != WECOM_OK)
			return (wecom_conf_fail(ps, kv->line, "[app %s]: key "
			    "'aeskey' must be 43 characters of [A-Za-z0-9] "
			    "(-40004 IllegalAesKey)", s->name));
		if (strcmp(kv->key, "token") == 0 && (strlen(v) > 128 ||
		    strpbrk(v, " \t") != NULL))
			return (wecom_conf_fail(ps, kv->line, "[app %s]: key "
			    "'token' must be 1-128 characters without blanks",
			    s->name));
		if (strcmp(kv->key, "path") == 0 && (v[0] != '/' ||
		    strpbrk(v, " \t?#") != NULL))
			return (wecom_conf_fail(ps, kv->line, "[app %s]: key "
			    "'path' must start with / and hold no blank, ? "
			    "or #", s->name));
	}

	return (WECOM_CONF_OK);
}

static const char *
conf_need(struct conf_parse *ps, const struct wecom_conf_section *s,
    const char *key)
{
	const char	*v;

	if ((v = wecom_conf_get(s, key)) == NULL || *v == '\0') {
		wecom_conf_fail(ps, s->line, "[%s %s]: missing key '%s'",
		    s->type, s->name, key);
		return (NULL);
	}

	return (v);
}

/* agentid and what the server does with the app's callbacks. */
static int
conf_app_settings(struct conf_parse *ps, const struct wecom_conf_section *s,
    struct wecom_app_conf *app)
{
	const struct wecom_conf_kv	*kv;
	long long			 n;

	n = 0;
	if (conf_number(ps, s, "agentid", NULL, 0, AGENTID_MAX, &n) !=
	    WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	app->agentid = n;
	n = DEADLINE_MS_DEFAULT;
	if (conf_number(ps, s, "deadline_ms", NULL, DEADLINE_MS_MIN,
	    DEADLINE_MS_MAX, &n) != WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	app->deadline_ms = (long)n;
	n = ps->conf->timestamp_window;
	if (conf_number(ps, s, "timestamp_window", NULL, 0, WINDOW_MAX, &n) !=
	    WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	app->timestamp_window = (long)n;

	if ((kv = wecom_conf_kv_last(s, "threaded")) != NULL) {
		if (strcmp(kv->value, "yes") != 0 &&
		    strcmp(kv->value, "no") != 0)
			return (wecom_conf_fail(ps, kv->line, "[app %s]: key "
			    "'threaded' must be yes or no", s->name));
		app->threaded = strcmp(kv->value, "yes") == 0;
	}

	return (WECOM_CONF_OK);
}

/*
 * The number under key in s, or in the environment variable env when
 * that is set: a whole number from min to max, or an error naming the
 * file, the line, the section and the key. Absent: *out is unchanged,
 * the caller's default.
 */
static int
conf_number(struct conf_parse *ps, const struct wecom_conf_section *s,
    const char *key, const char *env, long long min, long long max,
    long long *out)
{
	const struct wecom_conf_kv	*kv;
	const char			*v;
	char				 from[128];
	int				 line;

	from[0] = '\0';
	kv = wecom_conf_kv_last(s, key);
	v = kv != NULL ? kv->value : NULL;
	line = kv != NULL ? kv->line : s != NULL ? s->line : 0;
	if (env != NULL && getenv(env) != NULL && *getenv(env) != '\0') {
		v = getenv(env);
		snprintf(from, sizeof(from), " (from environment variable %s)",
		    env);
	}
	if (v == NULL || conf_parse_number(v, min, max, out) == WECOM_CONF_OK)
		return (WECOM_CONF_OK);

	return (wecom_conf_fail(ps, line, "[%s%s%s]: key '%s'%s must be a "
	    "whole number from %lld to %lld", s != NULL ? s->type : "global",
	    s != NULL && *s->name != '\0' ? " " : "", s != NULL ? s->name : "",
	    key, from, min, max));
}

/* Decimal digits, perhaps a leading '-': the one parser of numbers. */
static int
conf_parse_number(const char *v, long long min, long long max,
    long long *out)
{
	long long	 n;
	char		*end;

	if (!isdigit((unsigned char)v[v[0] == '-']))
		return (WECOM_CONF_ERROR);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return (WECOM_CONF_ERROR);
	*out = n;

	return (WECOM_CONF_OK);
}

