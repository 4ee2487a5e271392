/* SPDX-License-Identifier: ISC */
/*
 * A callback-mode bot's threaded handlers: WeCom waits at most 5 s for
 * the answer, but asks again ("refresh") for 6 minutes while the answer
 * is an unfinished stream. So the request is answered with the stream
 * so far — at the first update, or at the deadline — and the rest goes
 * to the stream table, which the refreshes read. What finishes after
 * the window goes to the message's response_url, once. Given a shared
 * store, each update goes there too, for a refresh that the load
 * balancer sends to another server.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_client.h"
#include "wecom_reply.h"
#include "wecom_runner.h"
#include "wecom_store.h"
#include "wecom_aibot.h"

/* Room for the last write before WeCom's final refresh. */
#define WINDOW_MARGIN	10
/* One stream in this many clears the store of those past their window. */
#define PRUNE_EVERY	256

struct cb_sink {
	struct wecom_sink	 base;		/* first */
	struct wecom_streams	*st;
	const struct wecom_conf	*conf;
	struct wecom_job	*job;
	char			*response_url;
	time_t			 born;
	int			 woke;
};

static void	cb_start(struct wecom_sink *);
static int	cb_push(struct wecom_sink *, const struct wecom_reply *,
		    const char *, size_t);
static int	cb_put(struct cb_sink *, const char *, int);
static void	cb_release(struct wecom_sink *);
static int	cb_late(struct cb_sink *, const struct wecom_reply *);
static char	*stream_answer(const char *, const char *, int, size_t *);

struct wecom_sink *
wecom_aibot_sink_callback(struct wecom_streams *st,
    const struct wecom_conf *conf, const struct wecom_msg *msg,
    struct wecom_job *job)
{
	struct cb_sink	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	s->base.start = cb_start;
	s->base.push = cb_push;
	s->base.release = cb_release;
	s->st = st;
	s->conf = conf;
	s->job = job;
	s->born = time(NULL);
	if ((msg->response_url != NULL &&
	    (s->response_url = strdup(msg->response_url)) == NULL) ||
	    wecom_random_hex(s->base.stream_id, 16) != WECOM_OK ||
	    wecom_streams_open(st, s->base.stream_id, s->born) != WECOM_OK) {
		cb_release(&s->base);
		return (NULL);
	}

	return (&s->base);
}

char *
wecom_aibot_stream_answer(struct wecom_streams *st, const char *id,
    size_t *len)
{
	char	content[WECOM_STREAM_MAX + 1];
	time_t	born;
	int	finish;

	if (id == NULL || wecom_streams_get(st, id, content, sizeof(content),
	    &finish, &born) != WECOM_OK)
		return (NULL);
	return (stream_answer(id, content, finish, len));
}

/* On a chore thread: the answer for a stream another server runs. */
char *
wecom_aibot_stream_answer_shared(const char *store, const char *id,
    size_t *len)
{
	struct wecom_store	*st;
	char			*content, *out;
	int64_t			 born;
	int			 finish;

	if (id == NULL || (st = wecom_store_thread(store)) == NULL ||
	    wecom_store_stream_get(st, id, &content, &finish, &born) !=
	    WECOM_STORE_OK)
		return (NULL);
	out = stream_answer(id, content, finish, len);
	free(content);

	return (out);
}

static char *
stream_answer(const char *id, const char *content, int finish, size_t *len)
{
	struct wecom_reply	 r;
	char			*out;

	memset(&r, 0, sizeof(r));
	r.type = WECOM_REPLY_STREAM;
	r.stream_id = (char *)id;
	r.content = (char *)content;
	r.finish = finish;
	if (wecom_reply_json(&r, &out, len) != WECOM_OK)
		return (NULL);

	return (out);
}

/*
 * On the handler's thread: the stream, empty, in the store. WeCom
 * learns its id from the first answer, which the deadline may send
 * before this runs; a refresh elsewhere meanwhile finds nothing and is
 * answered as an unknown stream is, empty.
 */
static void
cb_start(struct wecom_sink *sink)
{
	static __thread unsigned int	 n;
	struct cb_sink			*s = (struct cb_sink *)sink;
	struct wecom_store		*st;

	if ((st = wecom_store_thread(s->conf->store)) == NULL)
		return;
	(void)wecom_store_stream_put(st, sink->stream_id, "", 0, s->born);
	if (++n % PRUNE_EVERY == 0)
		(void)wecom_store_stream_prune(st, (int64_t)time(NULL) -
		    WECOM_STREAM_WINDOW);
}

/* The table here, and the store for the other servers. */
static int
cb_put(struct cb_sink *s, const char *content, int finish)
{
	struct wecom_store	*st;

	if (wecom_streams_put(s->st, s->base.stream_id, content, finish,
	    time(NULL)) != WECOM_OK)
		return (WECOM_ERROR);
	if ((st = wecom_store_thread(s->conf->store)) != NULL)
		(void)wecom_store_stream_put(st, s->base.stream_id, content,
		    finish, s->born);

	return (WECOM_OK);
}

/* On the handler's thread: an update, or the orphaned job's answer. */
static int
cb_push(struct wecom_sink *sink, const struct wecom_reply *rec,
    const char *body, size_t len)
{
	struct cb_sink	*s = (struct cb_sink *)sink;

	if (rec->type == WECOM_REPLY_STREAM && !rec->finish) {
		if (time(NULL) < s->born + WECOM_STREAM_WINDOW)
			(void)cb_put(s, rec->content, 0);
		/* The waiting request can answer with it now. */
		if (!s->woke) {
			s->woke = 1;
			wecom_runner_wake(s->job);
		}
		return (WECOM_OK);
	}
	if (rec->type == WECOM_REPLY_STREAM &&
	    time(NULL) < s->born + WECOM_STREAM_WINDOW - WINDOW_MARGIN &&
	    cb_put(s, rec->content, 1) == WECOM_OK)
		return (WECOM_OK);

	return (cb_late(s, rec));
}

/* Past the window, or not a stream: the message's response_url. */
static int
cb_late(struct cb_sink *s, const struct wecom_reply *rec)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	char			*body;
	int			 rc;

	if (s->response_url == NULL ||
	    (body = wecom_reply_json_message(rec)) == NULL)
		return (WECOM_ERROR);
	rc = WECOM_ERROR;
	if ((c = wecom_client_new_robot(s->conf, &err)) != NULL) {
		if (wecom_aibot_respond(c, s->response_url, body, &err) ==
		    WECOM_API_OK)
			rc = WECOM_OK;
		wecom_client_free(c);
	}
	free(body);

	return (rc);
}

static void
cb_release(struct wecom_sink *sink)
{
	struct cb_sink	*s = (struct cb_sink *)sink;

	free(s->response_url);
	free(s);
}
