/* SPDX-License-Identifier: ISC */
/*
 * conf/wecom.conf as the server and the tools use it: read by the INI
 * reader (config_ini.c), then checked here against the schema
 * (config_schema.c), key by key, and each [app NAME] section for what a
 * WeCom app needs. [global] is filled in from the schema too, with its
 * defaults and environment overrides. Every error names the file, the
 * line and the key, because a config mistake is the first thing a new
 * user meets.
 */

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom_config.h"
#include "wecom_conf_ini.h"
#include "wecom_conf_schema.h"

static int	conf_load(struct wecom_conf *, const char *, int, char *,
		    size_t);
static int	conf_global(struct conf_parse *);
static int	conf_take(struct conf_parse *,
		    const struct wecom_conf_section *, const struct conf_key *);
static int	conf_lines(struct conf_parse *,
		    const struct wecom_conf_section *);
static int	conf_misfit(struct conf_parse *,
		    const struct wecom_conf_section *, int,
		    const struct conf_key *, const char *);
static const char	*conf_where(const struct wecom_conf_section *,
			    const char *, char *, size_t);
static int	conf_app(struct conf_parse *, struct wecom_conf_section *);
static int	conf_aibot(struct conf_parse *, struct wecom_conf_section *);
static int	conf_path_free(struct conf_parse *,
		    const struct wecom_app_conf *);
static void	conf_app_settings(const struct wecom_conf_section *,
		    struct wecom_app_conf *, long);
static long long	conf_app_number(const struct wecom_conf_section *,
			    const char *, long long);
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

/*
 * The tools' (wecom-send, wecom-admin): $WECOM_CONF, else the system's
 * file; conf/wecom.conf of the working directory only if there is no
 * system file and it exists, so that cron (cwd $HOME) never picks up a
 * stray relative file by surprise.
 */
const char *
wecom_conf_path_tool(void)
{
	const char	*p;

	if ((p = getenv("WECOM_CONF")) != NULL && *p != '\0')
		return (p);
	if (access(WECOM_CONF_SYSTEM, F_OK) == -1 &&
	    access(WECOM_CONF_DEFAULT, F_OK) == 0)
		return (WECOM_CONF_DEFAULT);

	return (WECOM_CONF_SYSTEM);
}

int
wecom_conf_load(struct wecom_conf *conf, const char *path, char *err,
    size_t errlen)
{
	return (conf_load(conf, path, 0, err, errlen));
}

int
wecom_conf_load_lazy(struct wecom_conf *conf, const char *path, char *err,
    size_t errlen)
{
	return (conf_load(conf, path, 1, err, errlen));
}

/* The first deferred value of [type name], else of [global]. */
const char *
wecom_conf_deferred(const struct wecom_conf *conf, const char *type,
    const char *name)
{
	const struct wecom_conf_section	*s;
	const struct wecom_conf_kv	*kv;

	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, type) != 0 || strcmp(s->name, name) != 0)
			continue;
		TAILQ_FOREACH(kv, &s->keys, list) {
			if (kv->deferred != NULL)
				return (kv->deferred);
		}
	}

	return (NULL);
}

static int
conf_load(struct wecom_conf *conf, const char *path, int lazy, char *err,
    size_t errlen)
{
	struct conf_parse		 ps;
	struct wecom_conf_section	*s;
	int				 rc;

	memset(conf, 0, sizeof(*conf));
	TAILQ_INIT(&conf->sections);
	TAILQ_INIT(&conf->apps);
	TAILQ_INIT(&conf->bots);
	memset(&ps, 0, sizeof(ps));
	ps.conf = conf;
	ps.err = err;
	ps.errlen = errlen;
	ps.lazy = lazy;

	if ((conf->file = strdup(path)) == NULL)
		return (wecom_conf_fail(&ps, 0, "out of memory"));
	if ((rc = wecom_conf_read(&ps, path)) != WECOM_CONF_OK)
		return (rc);

	if ((rc = conf_global(&ps)) != WECOM_CONF_OK)
		return (rc);
	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, "app") == 0)
			rc = conf_app(&ps, s);
		else if (strcmp(s->type, "aibot") == 0)
			rc = conf_aibot(&ps, s);
		else if (strcmp(s->type, "global") != 0)
			rc = conf_lines(&ps, s);
		if (rc != WECOM_CONF_OK)
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
	while ((app = TAILQ_FIRST(&conf->bots)) != NULL) {
		TAILQ_REMOVE(&conf->bots, app, list);
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
			free(kv->deferred);
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
wecom_conf_aibot(const struct wecom_conf *conf, const char *name)
{
	const struct wecom_app_conf	*bot;

	TAILQ_FOREACH(bot, &conf->bots, list) {
		if (strcmp(bot->name, name) == 0)
			return (bot);
	}

	return (NULL);
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

/* [global]: its lines, then every key of it into struct wecom_conf. */
static int
conf_global(struct conf_parse *ps)
{
	const struct wecom_conf_section	*s;
	const struct conf_key		*k;

	s = wecom_conf_section(ps->conf, "global", "");
	if (s != NULL && conf_lines(ps, s) != WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	for (k = wecom_conf_keys; k->key != NULL; k++) {
		if (k->store != CONF_KEEP && conf_take(ps, s, k) !=
		    WECOM_CONF_OK)
			return (WECOM_CONF_ERROR);
	}

	return (WECOM_CONF_OK);
}

/*
 * A [global] value into its member of the conf: the environment's when
 * that is set, else the file's last line, else the default; checked
 * whichever it is, and an error names the variable if it came from one.
 */
static int
conf_take(struct conf_parse *ps, const struct wecom_conf_section *s,
    const struct conf_key *k)
{
	const struct wecom_conf_kv	*kv;
	const char			*v, *env;
	char				*p;
	long long			 n;

	kv = wecom_conf_kv_last(s, k->key);
	v = kv != NULL ? kv->value : k->def;
	env = k->env != NULL ? getenv(k->env) : NULL;
	if (env != NULL && *env != '\0')
		v = env;
	else
		env = NULL;
	n = 0;
	if (v != NULL && wecom_conf_key_fits(k, v, &n) != 0)
		return (conf_misfit(ps, s, kv != NULL ? kv->line : s != NULL ?
		    s->line : 0, k, env != NULL ? k->env : NULL));

	p = (char *)ps->conf + k->off;
	if (k->store == CONF_STR)
		*(const char **)(void *)p = v;
	else if (k->store == CONF_SIZE)
		*(size_t *)(void *)p = (size_t)n;
	else
		*(long *)(void *)p = (long)n;

	return (WECOM_CONF_OK);
}

/*
 * Every line of s against the schema: a key it does not know is
 * refused, but in an [app NAME] section, whose other keys are the app's
 * own; a value is checked on each line that sets it, not only the last.
 */
static int
conf_lines(struct conf_parse *ps, const struct wecom_conf_section *s)
{
	const struct conf_sect		*t;
	const struct conf_key		*k;
	const struct wecom_conf_kv	*kv;
	char				 where[160];

	t = wecom_conf_sect_find(s->type);
	TAILQ_FOREACH(kv, &s->keys, list) {
		k = wecom_conf_key_find(s->type, kv->key);
		if (k == NULL && (t == NULL || !t->open))
			return (wecom_conf_fail(ps, kv->line, "%s: unknown key "
			    "'%s' (wecom-send --conf-keys lists every key)",
			    conf_where(s, s->type, where, sizeof(where)),
			    kv->key));
		if (k != NULL && kv->deferred == NULL &&
		    wecom_conf_key_fits(k, kv->value, NULL) != 0)
			return (conf_misfit(ps, s, kv->line, k, NULL));
	}

	return (WECOM_CONF_OK);
}

/*
 * "[app main]: key 'deadline_ms' must be a whole number from 100 to
 * 4500", the form from the schema. Never the value: it may be a secret.
 * A value from the environment variable env is named as such, or the
 * user would edit the wrong thing.
 */
static int
conf_misfit(struct conf_parse *ps, const struct wecom_conf_section *s,
    int line, const struct conf_key *k, const char *env)
{
	char	where[160], from[128], form[128];

	from[0] = '\0';
	if (env != NULL)
		snprintf(from, sizeof(from), " (from environment variable %s)",
		    env);

	return (wecom_conf_fail(ps, line, "%s: key '%s'%s must be %s",
	    conf_where(s, k->section, where, sizeof(where)), k->key, from,
	    wecom_conf_key_form(k, form, sizeof(form))));
}

/* "[app main]", "[global]": s's header, or type's if there is no s. */
static const char *
conf_where(const struct wecom_conf_section *s, const char *type, char *buf,
    size_t len)
{
	if (s == NULL)
		snprintf(buf, len, "[%s]", type);
	else
		snprintf(buf, len, "[%s%s%s]", s->type, *s->name ? " " : "",
		    s->name);

	return (buf);
}

static int
conf_app(struct conf_parse *ps, struct wecom_conf_section *s)
{
	struct wecom_app_conf		*app;

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
	/* A secret deferred (lazy) is there all the same. */
	if ((wecom_conf_kv_last(s, "secret") == NULL ||
	    app->token != NULL || app->aeskey != NULL ||
	    app->path != NULL) && (conf_need(ps, s, "token") == NULL ||
	    conf_need(ps, s, "aeskey") == NULL || conf_need(ps, s, "path") ==
	    NULL))
		return (WECOM_CONF_ERROR);
	if (conf_lines(ps, s) != WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	conf_app_settings(s, app, ps->conf->timestamp_window);

	return (conf_path_free(ps, app));
}

/*
 * A bot in websocket mode needs its id and secret; in callback mode
 * the callback settings, as an app does. Its envelopes carry "" as the
 * ReceiveId (internal bots): checked only when one is configured.
 */
static int
conf_aibot(struct conf_parse *ps, struct wecom_conf_section *s)
{
	struct wecom_app_conf	*bot;
	const char		*mode;

	if ((bot = calloc(1, sizeof(*bot))) == NULL)
		return (wecom_conf_fail(ps, s->line, "out of memory"));
	TAILQ_INSERT_TAIL(&ps->conf->bots, bot, list);
	bot->kind = WECOM_KIND_AIBOT;
	bot->section = s;
	bot->name = s->name;
	if ((bot->handler = wecom_conf_get(s, "handler")) == NULL)
		bot->handler = s->name;
	if (conf_lines(ps, s) != WECOM_CONF_OK)
		return (WECOM_CONF_ERROR);
	mode = wecom_conf_get(s, "mode");
	bot->ws = mode == NULL || strcmp(mode, "websocket") == 0;
	if (bot->ws) {
		if ((bot->bot_id = conf_need(ps, s, "bot_id")) == NULL ||
		    (bot->bot_secret = conf_need(ps, s, "secret")) == NULL)
			return (WECOM_CONF_ERROR);
		if ((bot->ws_url = wecom_conf_get(s, "ws_url")) == NULL)
			bot->ws_url = WECOM_AIBOT_WS_URL_DEFAULT;
	} else if ((bot->token = conf_need(ps, s, "token")) == NULL ||
	    (bot->aeskey = conf_need(ps, s, "aeskey")) == NULL ||
	    (bot->path = conf_need(ps, s, "path")) == NULL)
		return (WECOM_CONF_ERROR);
	conf_app_settings(s, bot, ps->conf->timestamp_window);

	return (conf_path_free(ps, bot));
}

/* No two sections may share a callback path. */
static int
conf_path_free(struct conf_parse *ps, const struct wecom_app_conf *app)
{
	const struct wecom_app_conf_list	*l;
	const struct wecom_app_conf		*o;
	int					 i;

	if (app->path == NULL)
		return (WECOM_CONF_OK);
	for (i = 0; i < 2; i++) {
		l = i ? &ps->conf->bots : &ps->conf->apps;
		TAILQ_FOREACH(o, l, list) {
			if (o == app || o->path == NULL ||
			    strcmp(o->path, app->path) != 0)
				continue;
			return (wecom_conf_fail(ps, app->section->line,
			    "[%s %s]: path %s is already used by [%s %s]",
			    app->section->type, app->name, app->path,
			    o->section->type, o->name));
		}
	}

	return (WECOM_CONF_OK);
}

static const char *
conf_need(struct conf_parse *ps, const struct wecom_conf_section *s,
    const char *key)
{
	const struct wecom_conf_kv	*kv;

	/* Deferred (lazy): there, but unreadable; the user is told. */
	if ((kv = wecom_conf_kv_last(s, key)) != NULL && kv->deferred != NULL)
		return ("");
	if (kv == NULL || *kv->value == '\0') {
		wecom_conf_fail(ps, s->line, "[%s %s]: missing key '%s'",
		    s->type, s->name, key);
		return (NULL);
	}

	return (kv->value);
}

/*
 * agentid and what the server does with the app's callbacks, from lines
 * conf_lines() has checked; an app's timestamp_window defaults to the
 * [global] one.
 */
static void
conf_app_settings(const struct wecom_conf_section *s,
    struct wecom_app_conf *app, long window)
{
	if (app->kind == WECOM_KIND_APP)
		app->agentid = conf_app_number(s, "agentid", 0);
	app->threaded = (int)conf_app_number(s, "threaded", 0);
	app->log = (int)conf_app_number(s, "log", 0);
	if (app->kind == WECOM_KIND_APP)
		app->contacts = (int)conf_app_number(s, "contacts", 0);
	app->deadline_ms = (long)conf_app_number(s, "deadline_ms", 0);
	app->timestamp_window = (long)conf_app_number(s, "timestamp_window",
	    window);
}

/* The last value of key in s, else its default in the schema, else def. */
static long long
conf_app_number(const struct wecom_conf_section *s, const char *key,
    long long def)
{
	const struct conf_key	*k;
	const char		*v;
	long long		 n;

	n = def;
	k = wecom_conf_key_find(s->type, key);
	if ((v = wecom_conf_get(s, key)) == NULL)
		v = k->def;
	if (v != NULL)
		(void)wecom_conf_key_fits(k, v, &n);

	return (n);
}
