/* SPDX-License-Identifier: ISC */
/*
 * Handler chains. Every handler whose filter matches runs, in the order
 * it was registered, until one returns WECOM_STOP; default handlers run
 * only when no other handler matched.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wecom.h"
#include "wecom_activity.h"
#include "wecom_app.h"

static int	route_add(struct wecom_app *, enum wecom_route_kind,
		    const char *, const char *, wecom_handler, void *);
static int	route_match(const struct wecom_route *,
		    const struct wecom_msg *);
static int	route_chain(struct wecom_ctx *, int);

int
wecom_on_msg(struct wecom_app *app, const char *msgtype, wecom_handler fn,
    void *arg)
{
	if (msgtype == NULL || strcmp(msgtype, "event") == 0)
		return (WECOM_ERROR);
	return (route_add(app, WECOM_ROUTE_MSG, msgtype, NULL, fn, arg));
}

int
wecom_on_event(struct wecom_app *app, const char *event,
    const char *event_key, wecom_handler fn, void *arg)
{
	if (event == NULL)
		return (WECOM_ERROR);
	return (route_add(app, WECOM_ROUTE_EVENT, event, event_key, fn, arg));
}

int
wecom_on_default(struct wecom_app *app, wecom_handler fn, void *arg)
{
	return (route_add(app, WECOM_ROUTE_DEFAULT, NULL, NULL, fn, arg));
}

void
wecom_route_run(struct wecom_ctx *ctx)
{
	struct wecom_activity	was;

	was = wecom_activity_set("app", ctx->app->conf->name);
	if (route_chain(ctx, 0) == 0)
		route_chain(ctx, 1);
	/* What came and what goes back, for whoever watches (a log). */
	if (ctx->app->tap != NULL)
		ctx->app->tap->fn(ctx->app->tap->arg, ctx);
	wecom_activity_restore(was);
}

void
wecom_routes_free(struct wecom_app *app)
{
	struct wecom_route	*r;

	while ((r = TAILQ_FIRST(&app->routes)) != NULL) {
		TAILQ_REMOVE(&app->routes, r, list);
		free(r->type);
		free(r->key);
		free(r);
	}
}

/*
 * Run the matching message and event handlers, or the default ones.
 * Returns how many ran.
 */
static int
route_chain(struct wecom_ctx *ctx, int defaults)
{
	struct wecom_route	*r;
	int			 matched;

	matched = 0;
	TAILQ_FOREACH(r, &ctx->app->routes, list) {
		if ((r->kind == WECOM_ROUTE_DEFAULT) != defaults)
			continue;
		if (!defaults && !route_match(r, ctx->msg))
			continue;
		matched++;
		ctx->handled++;
		if (r->fn(ctx, ctx->msg, r->arg) == WECOM_STOP)
			break;
	}

	return (matched);
}

/* Event names compare without case: WeCom sends both "click" and "LOCATION". */
static int
route_match(const struct wecom_route *r, const struct wecom_msg *msg)
{
	if (r->kind == WECOM_ROUTE_MSG)
		return (msg->type != WECOM_MSG_EVENT &&
		    strcmp(r->type, msg->msgtype) == 0);

	if (msg->type != WECOM_MSG_EVENT || msg->event == NULL ||
	    strcasecmp(r->type, msg->event) != 0)
		return (0);

	return (r->key == NULL ||
	    (msg->event_key != NULL && strcmp(r->key, msg->event_key) == 0));
}

static int
route_add(struct wecom_app *app, enum wecom_route_kind kind, const char *type,
    const char *key, wecom_handler fn, void *arg)
{
	struct wecom_route	*r;

	if (app == NULL || fn == NULL || (r = calloc(1, sizeof(*r))) == NULL)
		return (WECOM_ERROR);

	r->kind = kind;
	r->fn = fn;
	r->arg = arg;
	if ((type != NULL && (r->type = strdup(type)) == NULL) ||
	    (key != NULL && (r->key = strdup(key)) == NULL)) {
		free(r->type);
		free(r);
		return (WECOM_ERROR);
	}
	TAILQ_INSERT_TAIL(&app->routes, r, list);

	return (WECOM_OK);
}
