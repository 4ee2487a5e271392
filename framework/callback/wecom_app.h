/* SPDX-License-Identifier: ISC */
/*
 * Private: apps bound to config sections, their handler chains, and the
 * per-callback context a handler replies through.
 */

#ifndef WECOM_APP_H
#define WECOM_APP_H

#include <sys/queue.h>

#include "wecom.h"
#include "wecom_config.h"

struct wecom_client;
struct wecom_crypto;
struct wecom_reply;

enum wecom_route_kind {
	WECOM_ROUTE_MSG,
	WECOM_ROUTE_EVENT,
	WECOM_ROUTE_DEFAULT,
};

struct wecom_route {
	enum wecom_route_kind		 kind;
	char				*type;	/* msgtype or event */
	char				*key;	/* EventKey, or NULL: any */
	wecom_handler			 fn;
	void				*arg;
	TAILQ_ENTRY(wecom_route)	 list;
};

/*
 * Who watches an app's messages (the message log, the live events):
 * called after each handler chain, on the thread that ran it, with the
 * message and the reply as made (ctx->rec, or NULL). It must not block.
 */
struct wecom_tap {
	void	(*fn)(void *arg, const struct wecom_ctx *);
	void	 *arg;
};

struct wecom_app {
	const struct wecom_app_conf	*conf;
	const struct wecom_tap		*tap;		/* NULL: none */
	struct wecom_crypto		*crypto;
	size_t				 index;		/* in the app list */
	int				 threaded;	/* handlers may block */
	char				 err[256];	/* why its init failed */
	long				 deadline_ms;	/* then answer empty */
	long				 window;	/* timestamp, seconds */
	TAILQ_HEAD(, wecom_route)	 routes;
	TAILQ_ENTRY(wecom_app)		 list;
};

TAILQ_HEAD(wecom_app_list, wecom_app);

/*
 * Where a bot's answers go that are not the passive reply: each stream
 * update (rec->finish 0), and a finished reply nobody waits for (the
 * long connection's, a callback answered already). body is rec
 * rendered (reply_json.c). Called on the handler's thread; the glue
 * that made the sink knows where it leads, and frees it with release.
 */
struct wecom_sink {
	/* On the handler's thread, before the handlers run; or NULL. */
	void	(*start)(struct wecom_sink *);
	int	(*push)(struct wecom_sink *, const struct wecom_reply *rec,
		    const char *body, size_t len);
	void	(*release)(struct wecom_sink *);
	/* The channel's own upload (a long connection's), or NULL. */
	int	(*upload)(struct wecom_sink *, const char *type,
		    const char *name, const void *, size_t, char **media_id);
	char	  stream_id[33];	/* the context's, if set */
};

/*
 * What a handler chain produced: its reply as made (wecom_reply.h) and
 * that reply's plaintext XML (a bot's: JSON), both or neither.
 */
struct wecom_ctx {
	struct wecom_app		*app;
	const struct wecom_msg		*msg;
	struct wecom_reply		*rec;
	char				*reply;
	size_t				 reply_len;
	int				 handled;	/* handlers that ran */
	struct wecom_client		*client;	/* threaded apps only */
	const struct wecom_conf		*conf;		/* all sections; may be NULL */
	enum wecom_channel		 channel;
	struct wecom_sink		*sink;		/* bots; may be NULL */
	char				 stream_id[33];	/* "": none yet */
	char				*stream;	/* the last update */
};

int	wecom_apps_setup(struct wecom_app_list *, const struct wecom_conf *,
	    char *err, size_t errlen);
void	wecom_apps_free(struct wecom_app_list *);
struct wecom_app	*wecom_app_by_path(struct wecom_app_list *,
			    const char *path);

void	wecom_route_run(struct wecom_ctx *);
enum wecom_channel	wecom_app_channel(const struct wecom_app *);
/* msg_json.c: ctx's message in the documented JSON shape. */
#define WECOM_MSG_JSON_FIELDS	0x01	/* every field by its path */
#define WECOM_MSG_JSON_WITHHOLD	0x02	/* not response_url, Token */
#define WECOM_MSG_JSON_REPLY	0x04	/* and the reply */
struct json_t;
struct json_t	*wecom_msg_json(const struct wecom_ctx *, int flags);
const char	*wecom_channel_name(enum wecom_channel);
/* stream.c: the context's stream id, made on first use; a copy. */
char	*wecom_ctx_stream_id(struct wecom_ctx *);
void	wecom_routes_free(struct wecom_app *);
void	wecom_ctx_reset(struct wecom_ctx *);

#endif
