/* SPDX-License-Identifier: ISC */
/*
 * Inside the long connection, top down: ws.c owns the thread, the lws
 * context and the public calls; ws_conn.c a bot's connection
 * (subscribe, pings, backoff, kick); ws_in.c what arrives (messages
 * reassembled and parsed, the callbacks waiting for the caller);
 * ws_queue.c what goes out (frames, requests waiting and in flight,
 * acks); ws_lease.c, given a store, which bots this server may
 * connect (a thread of its own, for libpq blocks); ws_log.c the log
 * lines. Functions shared between these files
 * carry wecom_ws_ too: libwecom.a shares one namespace with Kore, libc
 * and every app.
 *
 * ws->lock guards what other threads touch: a bot's live flag and
 * queues, the callbacks waiting, stopping. The rest is the ws thread's.
 */

#ifndef WECOM_WS_PRIVATE_H
#define WECOM_WS_PRIVATE_H

#include <sys/queue.h>

#include <pthread.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "wecom_buf.h"
#include "wecom_ws.h"

#define WS_PROTOCOL	"wecom-aibot"
#define WS_QUEUE_MAX	256		/* waiting or in flight, a bot */
#define WS_IN_MAX	4096		/* callbacks not taken yet */
#define WS_FRAME_MAX	(1024 * 1024)	/* a message, reassembled */
#define WS_HOST_MAX	256
#define WS_PATH_MAX	1024
#define WS_ID_MAX	48		/* our own req_ids */
#define WS_WHY_MAX	128
#define WS_LOUD		3		/* failures in a row logged */
#define WS_QUIET_EVERY	20		/* then one in so many */
#define WS_CLOSE_SECS	2		/* a close handshake's grace */
#define WS_STOP_MS	1000		/* wecom_ws_stop's grace */

struct ws_bot;
struct ws_lease;

/* A bot's lease_mode: may it connect? */
#define WS_LEASE_FREE		0	/* no store, or it is down: yes */
#define WS_LEASE_ASK		1	/* while lease_until is ahead */
#define WS_LEASE_OTHER		2	/* no: the store names another */

/* A request of the caller: its frame, and who waits for its ack. */
struct ws_req {
	struct ws_bot		*bot;
	char			*cmd;
	char			*req_id;
	char			*frame;	/* LWS_PRE, then JSON */
	size_t			 len;	/* of the JSON */
	int			 coalesce;
	wecom_ws_done		 done;
	void			*arg;
	lws_sorted_usec_list_t	 sul;	/* the ack's deadline */
	TAILQ_HEAD(, ws_req)	 superseded;	/* share its fate */
	TAILQ_ENTRY(ws_req)	 list;
};
TAILQ_HEAD(ws_reqs, ws_req);

struct ws_bot {
	struct wecom_ws		*ws;
	size_t			 idx;
	const struct wecom_ws_bot *conf;
	struct wecom_ws_state	*st;
	char			 host[WS_HOST_MAX];
	char			 hostport[WS_HOST_MAX + 8];
	char			 path[WS_PATH_MAX];
	int			 port;
	int			 tls;

	/* The ws thread's. */
	struct lws		*wsi;
	int			 established;
	int			 sub_sent;
	int			 subscribed;
	int			 closing;	/* at the next writable */
	int			 ping_due;
	int			 unanswered;	/* pings */
	int			 kicked;
	int			 standby;	/* the lease is not ours */
	int			 refused;
	char			 sub_id[WS_ID_MAX];
	char			 why[WS_WHY_MAX];	/* it closed */
	long			 backoff_ms;	/* the next delay */
	unsigned int		 failures;	/* in a row */
	lws_sorted_usec_list_t	 sul_ping;
	lws_sorted_usec_list_t	 sul_retry;
	struct wecom_buf	 rx;		/* a message, in pieces */

	/* Under ws->lock. */
	int			 lease_mode;	/* WS_LEASE_* */
	int64_t			 lease_until;	/* ms, monotonic: ours till */
	int			 lease_kicked;	/* for the lease thread */
	int			 live;		/* takes requests */
	size_t			 queued;	/* waiting + in flight */
	struct ws_reqs		 waiting;
	struct ws_reqs		 inflight;
};

struct wecom_ws {
	struct wecom_ws_conf	 conf;
	struct ws_bot		*bots;
	size_t			 nbots;
	pthread_t		 tid;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	int			 efd;
	char			 nonce[17];	/* in our req_ids */
	char			 proxy[WS_HOST_MAX + 16];

	/*
	 * Set once by the thread, under the lock, before ready: other
	 * threads use it only while ready is 1 (lws_cancel_service).
	 */
	struct lws_context	*ctx;

	/* The ws thread's. */
	uint64_t		 rnd;		/* for jitter */
	int			 stop_begun;
	int			 finished;	/* the loop ends */
	lws_sorted_usec_list_t	 sul_stop;
	lws_sorted_usec_list_t	 sul_lease;	/* the deadlines' tick */
	struct ws_lease		*lease;		/* NULL: no store */
	char			 lws_last[WS_WHY_MAX]; /* its line */
	unsigned int		 lws_repeats;

	/* Under lock. */
	int			 ready;		/* 1: up, -1: not */
	int			 stopping;
	uint64_t		 seq;		/* of our req_ids */
	size_t			 nin;
	TAILQ_HEAD(, wecom_ws_in) in;
};

/* A message received whole: an ack, or a request of WeCom (cmd). */
struct ws_msg {
	json_t		*root;
	const char	*cmd;		/* NULL: an ack */
	const char	*req_id;
	json_t		*body;
	int		 errcode;	/* acks */
	const char	*errmsg;
};

/* ws_conn.c */
int	wecom_ws_parse_url(struct ws_bot *);
void	wecom_ws_connect(struct ws_bot *);
int	wecom_ws_event(struct ws_bot *, struct lws *, int, void *, size_t);
void	wecom_ws_close(struct ws_bot *, const char *, int);
void	wecom_ws_status(struct ws_bot *, int);
void	wecom_ws_settle(struct wecom_ws *);
int	wecom_ws_may(struct ws_bot *);
int64_t	wecom_ws_now_ms(void);

/* ws_in.c */
int	wecom_ws_rx(struct ws_bot *, struct lws *, const void *, size_t,
	    struct ws_msg *);
int	wecom_ws_is_kick(const struct ws_msg *);
void	wecom_ws_deliver(struct ws_bot *, const struct ws_msg *);
void	wecom_ws_in_flush(struct wecom_ws *);

/* ws_queue.c */
void	wecom_ws_reqid(struct wecom_ws *, const char *, char *, size_t);
char	*wecom_ws_frame(const char *, const char *, const char *, size_t,
	    size_t *);
struct ws_req	*wecom_ws_req_new(struct wecom_ws *, const char *,
		    const char *, const char *, size_t);
void	wecom_ws_req_free(struct ws_req *);
int	wecom_ws_queue(struct ws_bot *, struct ws_req *);
struct ws_req	*wecom_ws_take(struct ws_bot *);
int	wecom_ws_sendable(struct ws_bot *);
void	wecom_ws_sent(struct ws_bot *, struct ws_req *);
int	wecom_ws_acked(struct ws_bot *, const struct ws_msg *);
void	wecom_ws_fail_all(struct ws_bot *, int);

/* ws_lease.c */
int	wecom_ws_lease_start(struct wecom_ws *);
void	wecom_ws_lease_run(struct wecom_ws *);
void	wecom_ws_lease_stop(struct wecom_ws *);
void	wecom_ws_lease_begin(struct wecom_ws *);
void	wecom_ws_lease_apply(struct wecom_ws *);

/* ws_log.c */
void	wecom_ws_log(struct wecom_ws *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
const char	*wecom_ws_errstr(int);
void	wecom_ws_log_bind(struct wecom_ws *);

#endif
