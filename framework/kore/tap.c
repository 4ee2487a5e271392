/* SPDX-License-Identifier: ISC */
/*
 * The parts that watch every message (the message log, the live events)
 * register here, in each worker; one tap on every app calls them in
 * turn after each handler chain (router.c), on whichever thread ran it.
 * First in the glue's order: it calls nothing of the others, they hand
 * it function pointers.
 */

#include <stddef.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_server.h"

#define WATCHERS_MAX	4

struct watcher {
	void	(*fn)(void *, const struct wecom_ctx *);
	void	 *arg;
};

/* Per worker, filled at start-up before any message: read-only after. */
static struct watcher	watchers[WATCHERS_MAX];
static size_t		nwatchers;
static struct wecom_tap	tap;

static void	tap_all(void *, const struct wecom_ctx *);

int
wecom_tap_add(struct wecom_server *s, void (*fn)(void *,
    const struct wecom_ctx *), void *arg)
{
	struct wecom_app	*app;

	if (nwatchers == WATCHERS_MAX)
		return (WECOM_ERROR);
	watchers[nwatchers].fn = fn;
	watchers[nwatchers++].arg = arg;
	tap.fn = tap_all;
	TAILQ_FOREACH(app, &s->apps, list)
		app->tap = &tap;

	return (WECOM_OK);
}

static void
tap_all(void *arg, const struct wecom_ctx *ctx)
{
	size_t	i;

	for (i = 0; i < nwatchers; i++)
		watchers[i].fn(watchers[i].arg, ctx);
}
