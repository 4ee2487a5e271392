/* SPDX-License-Identifier: ISC */
/*
 * A callback-mode bot's stream refresh: WeCom asks what its stream
 * shows now. It runs no handler: it is answered from the stream table,
 * whichever worker runs the stream. Given a store, a stream the table
 * does not hold may run on another server (the load balancer picked
 * this one): dispatch.c then has it read from the store on a chore
 * thread (libpq blocks; the event loop must not) while the request
 * sleeps. A store that does not answer: an empty answer, as for an
 * unknown stream.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kore/kore.h>
#include <kore/http.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_metrics.h"
#include "wecom_runner.h"
#include "wecom_server.h"
#include "wecom_aibot.h"

static struct wecom_server	*srv;

void
wecom_refresh_init(struct wecom_server *s)
{
	srv = s;
}

int
wecom_refresh_is(const struct wecom_app *app, const struct wecom_msg *msg)
{
	return (app->conf->kind == WECOM_KIND_AIBOT &&
	    strcmp(msg->msgtype, "stream") == 0);
}

/* This host's answer, or one to ask the store for; NULL: no memory. */
struct wecom_refresh *
wecom_refresh_new(struct wecom_app *app, const char *nonce,
    const struct wecom_msg *msg)
{
	struct wecom_refresh	*r;
	const char		*id;

	wecom_metrics_callback(srv->metrics, app->index, "stream_refresh");
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->app = app;
	(void)snprintf(r->nonce, sizeof(r->nonce), "%s", nonce);
	if ((id = wecom_msg_get(msg, "stream/id")) == NULL ||
	    strlen(id) >= sizeof(r->id))
		return (r);
	memcpy(r->id, id, strlen(id) + 1);
	if (srv->streams != NULL)
		r->answer = wecom_aibot_stream_answer(srv->streams, id, &r->len);
	r->ask_store = r->answer == NULL && srv->conf.store != NULL;

	return (r);
}

void
wecom_refresh_chore(struct wecom_job *job)
{
	struct wecom_refresh	*r = job->arg;

	r->answer = wecom_aibot_stream_answer_shared(srv->conf.store, r->id,
	    &r->len);
}

void
wecom_refresh_free(void *arg)
{
	struct wecom_refresh	*r = arg;

	free(r->answer);
	free(r);
}
