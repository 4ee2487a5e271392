/* SPDX-License-Identifier: ISC */
/*
 * Private: the long connection of intelligent bots (aibot-protocol.md
 * §2). One thread, one libwebsockets context, one client connection per
 * bot of the host: it subscribes, pings, reconnects with backoff, stops
 * for good when WeCom says another connection took the bot over, hands
 * the callbacks it receives to the caller through an eventfd, and sends
 * the caller's requests, those sharing a req_id one at a time. Given
 * a shared store, a bot connects only while this server holds its lease
 * there (ws_lease.c), so that of several servers exactly one does.
 */

#ifndef WECOM_WS_H
#define WECOM_WS_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

struct wecom_ws;

struct wecom_ws_bot {			/* strings outlive the ws */
	const char	*name;		/* for log lines */
	const char	*url;		/* wss://host[:port][/path] or ws://… */
	const char	*bot_id;
	const char	*secret;	/* never logged */
};

enum wecom_ws_status {
	WECOM_WS_CONNECTING,
	WECOM_WS_CONNECTED,		/* subscribed */
	WECOM_WS_BACKOFF,
	WECOM_WS_KICKED,
	WECOM_WS_REFUSED,		/* the subscribe's errcode */
	WECOM_WS_STOPPED,
	WECOM_WS_STANDBY		/* another server holds the lease */
};

/* With a store, who holds each bot's connection (ws_lease.c). */
enum wecom_ws_lease {
	WECOM_WS_LEASE_NONE,		/* no store: connect */
	WECOM_WS_LEASE_HELD,		/* this server's: connect */
	WECOM_WS_LEASE_OTHER,		/* lease_holder's: stand by */
	WECOM_WS_LEASE_DOWN		/* the store is down: connect */
};

/*
 * Per bot, written by the ws thread only, with plain stores: readers may
 * be other processes (it can live in shared memory).
 */
struct wecom_ws_state {
	int		status;		/* enum wecom_ws_status */
	int64_t		since;		/* unix s of the last status change */
	int64_t		connected_since;	/* 0: not connected */
	uint64_t	connects;	/* successful subscribes */
	uint64_t	drops;		/* connections lost or closed for pings */
	uint64_t	frames_in, frames_out;
	uint64_t	acks_failed;	/* errcode != 0 or timeout */
	int		last_errcode;
	char		last_error[96];	/* "846608 stream update expired" … */
	/* These by the lease's thread only. */
	int		lease;		/* enum wecom_ws_lease */
	int64_t		lease_epoch;	/* ours, while held */
	char		lease_holder[64];	/* "host:pid" holding it */
};

struct wecom_ws_conf {
	const void	*ca_pem;	/* NULL: OpenSSL's default paths */
	size_t		 ca_len;
	const char	*proxy;		/* "http://host:port" or NULL */
	long		 ping_ms;	/* 30000 */
	long		 ack_timeout_ms;	/* 5000 */
	long		 backoff_min_ms;	/* 1000 */
	long		 backoff_max_ms;	/* 30000 */
	/*
	 * The shared store's URL, or NULL: each bot connects only while
	 * this server holds its lease there ("aibot:" bot_id).
	 */
	const char	*store;
	/* LOG_ERR … LOG_INFO of <syslog.h>; NULL: stderr */
	void		(*log)(int prio, const char *line);
};

/*
 * An inbound callback frame: aibot_msg_callback or aibot_event_callback,
 * never disconnected_event (the ws handles that itself).
 */
struct wecom_ws_in {
	size_t			 bot;		/* index in the bots array */
	char			*cmd;
	char			*req_id;
	char			*body;		/* "body" as compact JSON text */
	size_t			 len;
	TAILQ_ENTRY(wecom_ws_in) list;
};

/*
 * An ack's outcome: WeCom's errcode (0: ok), or one of these. WeCom's
 * own -1 ("system busy") reads as a timeout: both say try again later.
 */
#define WECOM_WS_TIMEOUT	-1	/* no ack within ack_timeout_ms */
#define WECOM_WS_GONE		-2	/* the connection closed first */

/* The JSON text of the ack's body, or NULL. */
typedef void (*wecom_ws_done)(void *arg, int errcode, const char *ack_body);

/*
 * Start the thread; it connects every bot at once. The states (n of
 * them, like the bots) are zeroed first. NULL if a url or the proxy is
 * malformed, or lws cannot make its context (then a log line says so).
 * Beware, process-wide: lws's log level (errors only, to conf->log),
 * and SIGPIPE ignored, which lws does on its own.
 */
struct wecom_ws	*wecom_ws_start(const struct wecom_ws_conf *,
		    const struct wecom_ws_bot *, size_t,
		    struct wecom_ws_state *);
int		 wecom_ws_fd(const struct wecom_ws *);
struct wecom_ws_in *wecom_ws_next(struct wecom_ws *);
void		 wecom_ws_in_free(struct wecom_ws_in *);

/*
 * Queue a request on a bot's connection: thread-safe, never blocks on
 * the network. body is the JSON text of the "body" object (NULL: none);
 * req_id is the callback's, for a reply, or NULL for a fresh one.
 * Requests sharing a req_id go one at a time, each after the previous
 * one's ack or timeout; others go independently.
 *
 * coalesce: if the last request queued on this req_id is unsent and was
 * queued with coalesce too, this one takes its place. The replaced one
 * is not a failure: it shares the fate of the request that superseded
 * it, its done called right after that one's, with the same errcode
 * and ack body (0 when the newer content was acked; WECOM_WS_GONE if
 * the connection closed first, and so on).
 *
 * done is called exactly once, on the ws thread or from wecom_ws_stop;
 * it may be NULL. Returns 0, or -1 if the bot is out of range or not
 * connected, the body is not a JSON object, or 256 requests of the bot
 * wait already; then done is never called.
 */
int	wecom_ws_send(struct wecom_ws *, size_t bot, const char *cmd,
	    const char *req_id, const char *body, size_t len, int coalesce,
	    wecom_ws_done done, void *arg);

/*
 * Close every connection (no reconnect; a second at most for the close
 * handshakes), fail what is queued with WECOM_WS_GONE, join the
 * thread, free. Not from a done: that runs on the thread it joins.
 */
void	wecom_ws_stop(struct wecom_ws *);

#endif
