/* SPDX-License-Identifier: ISC */
/*
 * App code registers itself at load time (WECOM_APP); each [app NAME]
 * config section is then bound to the code it names, gets its own
 * crypto state, and lets the code register its handlers.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_crypto.h"
#include "wecom.h"
#include "wecom_app.h"
#include "wecom_cmd.h"

struct app_code {
	const char		*name;
	wecom_app_init		 init;
	TAILQ_ENTRY(app_code)	 list;
};

/* Filled by constructors before main() or when the module is loaded. */
static TAILQ_HEAD(, app_code)	codes = TAILQ_HEAD_INITIALIZER(codes);

static struct wecom_app	*app_listed(struct wecom_app_list *,
			    const struct wecom_app_conf *, size_t);
static const struct app_code	*app_code_find(const char *);
static int			 app_bind(struct wecom_app_list *,
				    const struct wecom_app_conf *, size_t, char *,
				    size_t);

void
wecom_app_register(const char *name, wecom_app_init init)
{
	struct app_code	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		abort();
	c->name = name;
	c->init = init;
	TAILQ_INSERT_TAIL(&codes, c, list);
}

int
wecom_apps_setup(struct wecom_app_list *apps, const struct wecom_conf *conf,
    char *err, size_t errlen)
{
	const struct wecom_app_conf	*ac;
	size_t				 n;

	n = 0;
	TAILQ_INIT(apps);
	TAILQ_FOREACH(ac, &conf->apps, list) {
		/*
		 * A send-only app has no callback to serve, but is listed:
		 * /healthz, /metrics and the token checks show it too.
		 */
		if (ac->path == NULL ? app_listed(apps, ac, n++) == NULL :
		    app_bind(apps, ac, n++, err, errlen) != WECOM_OK) {
			if (ac->path == NULL)
				snprintf(err, errlen, "out of memory");
			return (WECOM_ERROR);
		}
	}
	/* A bot is served by an app's code, on either channel. */
	TAILQ_FOREACH(ac, &conf->bots, list) {
		if (app_bind(apps, ac, n++, err, errlen) != WECOM_OK)
			return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

enum wecom_channel
wecom_app_channel(const struct wecom_app *app)
{
	if (app->conf->kind == WECOM_KIND_APP)
		return (WECOM_CHANNEL_APP);
	return (app->conf->ws ? WECOM_CHANNEL_AIBOT_WS :
	    WECOM_CHANNEL_AIBOT_CALLBACK);
}

void
wecom_apps_free(struct wecom_app_list *apps)
{
	struct wecom_app	*app;

	while ((app = TAILQ_FIRST(apps)) != NULL) {
		TAILQ_REMOVE(apps, app, list);
		wecom_routes_free(app);
		wecom_crypto_free(app->crypto);
		free(app);
	}
}

struct wecom_app *
wecom_app_by_path(struct wecom_app_list *apps, const char *path)
{
	struct wecom_app	*app;

	TAILQ_FOREACH(app, apps, list) {
		if (app->conf->path != NULL &&
		    strcmp(app->conf->path, path) == 0)
			return (app);
	}

	return (NULL);
}

void
wecom_app_set_threaded(struct wecom_app *app, int on)
{
	app->threaded = on;
}

int
wecom_app_command(struct wecom_app *app, const char *key)
{
	char	err[200];

	if (wecom_cmd_declare(app->conf->section, key, err, sizeof(err)) ==
	    WECOM_CMD_OK)
		return (WECOM_OK);
	snprintf(app->err, sizeof(app->err), "%s: %s", key, err);
	return (WECOM_ERROR);
}

int
wecom_ctx_command(struct wecom_ctx *ctx, const char *key,
    struct wecom_command_result *res)
{
	char	section[256];

	/* It may take seconds: never on the event loop. */
	if (!ctx->app->threaded) {
		memset(res, 0, sizeof(*res));
		snprintf(res->err, sizeof(res->err), "commands run only in "
		    "a threaded app (wecom_app_set_threaded)");
		return (WECOM_ERROR);
	}
	snprintf(section, sizeof(section), "%s %s",
	    ctx->app->conf->section->type, ctx->app->conf->section->name);

	return (wecom_cmd_request(section, key, res) == WECOM_CMD_OK ?
	    WECOM_OK : WECOM_ERROR);
}

struct wecom_client *
wecom_ctx_client(struct wecom_ctx *ctx)
{
	return (ctx->client);
}

const char *
wecom_app_name(const struct wecom_app *app)
{
	return (app->conf->name);
}

const char *
wecom_app_conf(const struct wecom_app *app, const char *key)
{
	return (wecom_conf_get(app->conf->section, key));
}

const char *
wecom_ctx_app_conf(const struct wecom_ctx *ctx, const char *key)
{
	return (wecom_app_conf(ctx->app, key));
}

/* threaded, deadline_ms and timestamp_window were checked at load. */
/* An app in the list, with its settings: no code, no keys yet. */
static struct wecom_app *
app_listed(struct wecom_app_list *apps, const struct wecom_app_conf *ac,
    size_t index)
{
	struct wecom_app	*app;

	if ((app = calloc(1, sizeof(*app))) == NULL)
		return (NULL);
	TAILQ_INIT(&app->routes);
	TAILQ_INSERT_TAIL(apps, app, list);
	app->conf = ac;
	app->index = index;
	app->threaded = ac->threaded;
	app->deadline_ms = ac->deadline_ms;
	app->window = ac->timestamp_window;

	return (app);
}

static int
app_bind(struct wecom_app_list *apps, const struct wecom_app_conf *ac,
    size_t index, char *err, size_t errlen)
{
	const struct app_code	*code;
	struct wecom_app	*app;
	const char		*rid;
	int			 rc;

	if ((code = app_code_find(ac->handler)) == NULL) {
		snprintf(err, errlen, "[%s %s]: no app code named '%s' "
		    "(is apps/%s.c built into the module?)",
		    ac->section->type, ac->name, ac->handler, ac->handler);
		return (WECOM_ERROR);
	}
	if ((app = app_listed(apps, ac, index)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return (WECOM_ERROR);
	}

	/*
	 * Self-built apps sign with the CorpID, suites with their suiteid;
	 * a bot's ReceiveId is checked only when one is configured. A bot
	 * on a long connection has no envelopes at all.
	 */
	rid = wecom_conf_get(ac->section, "receiveid");
	if (rid == NULL && ac->kind == WECOM_KIND_APP)
		rid = ac->corpid;
	if (ac->token != NULL && (app->crypto = wecom_crypto_new(ac->token,
	    ac->aeskey, rid, &rc)) == NULL) {
		snprintf(err, errlen, "[%s %s]: %s", ac->section->type,
		    ac->name, wecom_strerror(rc));
		return (WECOM_ERROR);
	}
	if (code->init(app) != WECOM_OK) {
		snprintf(err, errlen, "[%s %s]: %s%s%s", ac->section->type,
		    ac->name, app->err[0] ? app->err : "init of '",
		    app->err[0] ? "" : code->name, app->err[0] ? "" : "' failed");
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

static const struct app_code *
app_code_find(const char *name)
{
	const struct app_code	*c;

	TAILQ_FOREACH(c, &codes, list) {
		if (strcmp(c->name, name) == 0)
			return (c);
	}

	return (NULL);
}
