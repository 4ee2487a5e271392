/* SPDX-License-Identifier: ISC */
/*
 * Private: intelligent bots between the callback pipeline and the Kore
 * glue. The stream table (streams.c) keeps each callback-mode stream's
 * latest answer in memory every worker shares, so that WeCom's refresh
 * callbacks see it whichever worker they reach; the callback sink
 * (sink_callback.c) is where a threaded handler's updates and late
 * answer go in that mode. The long connection is wecom_ws.h.
 */

#ifndef WECOM_AIBOT_H
#define WECOM_AIBOT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "wecom.h"

struct wecom_app;
struct wecom_conf;
struct wecom_job;
struct wecom_msg;
struct wecom_runner;
struct wecom_sink;
struct wecom_streams;

/* WeCom asks for a stream's refreshes for 6 minutes after the message. */
#define WECOM_STREAM_WINDOW	360
#define WECOM_STREAM_ID_LEN	32

/* streams.c: made in the parent, shared by the workers. */
struct wecom_streams	*wecom_streams_new(size_t slots);
void			 wecom_streams_free(struct wecom_streams *);
int			 wecom_streams_open(struct wecom_streams *,
			    const char *id, time_t now);
int			 wecom_streams_put(struct wecom_streams *,
			    const char *id, const char *content, int finish,
			    time_t now);
int			 wecom_streams_get(struct wecom_streams *,
			    const char *id, char *content, size_t size,
			    int *finish, time_t *born);

/*
 * sink_callback.c: the answer to a stream-refresh callback, or to a
 * callback answered before its handlers finished (the stream so far):
 * the plaintext JSON, malloc'ed, or NULL for an empty answer.
 */
char	*wecom_aibot_stream_answer(struct wecom_streams *, const char *id,
	    size_t *len);
/* The same from the shared store (blocks: a chore thread's). */
char	*wecom_aibot_stream_answer_shared(const char *store, const char *id,
	    size_t *len);
/*
 * The sink of a threaded bot callback's job: a new stream in the table,
 * a wake-up of the waiting request on the first update (the runner's),
 * and the late answer in the table, or after the window to the
 * message's response_url.
 */
struct wecom_sink	*wecom_aibot_sink_callback(struct wecom_streams *,
			    const struct wecom_conf *, const struct wecom_msg *,
			    struct wecom_job *);

/*
 * sink_ws.c: the sink of a message from a bot's long connection: updates
 * and the answer on its req_id, falling back to a proactive message.
 */
struct wecom_ws;
struct wecom_sink	*wecom_aibot_sink_ws(struct wecom_ws *, size_t bot,
			    const char *req_id, const struct wecom_msg *);

/*
 * upload.c: bytes uploaded on a bot's long connection, in chunks; the
 * media_id (3 days) for a reply. From a handler thread: it waits.
 */
int	wecom_aibot_upload(struct wecom_ws *, size_t bot, const char *type,
	    const char *filename, const void *, size_t, char **media_id);
/*
 * One request on a fresh req_id (body: JSON text), its ack waited for:
 * WeCom's errcode, or WECOM_WS_TIMEOUT/_GONE; *ack its body (or NULL).
 */
int	wecom_aibot_call(struct wecom_ws *, size_t bot, const char *cmd,
	    const char *body, json_t **ack);

/*
 * send.c: the outbox's way to a bot's conversation, within WeCom's
 * limits; names are the bots' in the ws's order.
 */
struct wecom_aibot_sender;
struct wecom_outbox_sender;
struct wecom_aibot_sender	*wecom_aibot_sender_new(struct wecom_ws *,
				    const char *const *names, size_t n);
const struct wecom_outbox_sender	*wecom_aibot_sender_outbox(
				    const struct wecom_aibot_sender *);

#endif
