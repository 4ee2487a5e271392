/* SPDX-License-Identifier: ISC */
/*
 * The live events' way from a handler chain to the clients of every
 * worker. The tap runs on whichever thread ran the chain: it makes the
 * event's JSON there and hands it to this worker's event loop without
 * waiting — a short list under a mutex, and an eventfd — because only
 * the loop may call Kore. The loop sends it to every worker, itself
 * included, as a Kore message (through the parent); each worker gives
 * what arrives to its own clients (events.c, through a function
 * pointer).
 *
 * While no worker has a client the tap does nothing: the workers tell
 * each other when they get their first client and lose their last. A
 * worker's first client is told it is live only once every worker has
 * acknowledged that (or a second has passed: a worker being restarted
 * asks for the others' state when it starts), so that no event of
 * another worker falls between.
 */

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kore/kore.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_server.h"

/* Our one Kore message id (issue 13); its first byte says what it is. */
#define BUS_MSG		(KORE_MSG_APP_BASE + 13)
#define BUS_EVENT	1
#define BUS_STATE	2
#define BUS_ACK		3

#define BUS_ON		0x01	/* STATE: the sender has clients */
#define BUS_WANT_ACK	0x02	/* STATE: acknowledge it */
#define BUS_WANT_STATE	0x04	/* STATE: answer with yours (a new worker) */

/* An event larger than this goes without its "fields". */
#define BUS_EVENT_MAX	(256 * 1024)
/* Events waiting for the loop; more are dropped (and counted). */
#define BUS_QUEUE_MAX	1024
#define BUS_NAME_MAX	127
#define BUS_ACK_WAIT_MS	1000
#define BUS_WORKERS	256	/* Kore's worker ids are 8 bits */

struct bus_hdr {
	uint8_t		kind;
	uint8_t		flags;
	uint16_t	mtlen;		/* EVENT: then msgtype, */
	uint16_t	evlen;		/* event and the JSON follow */
	uint16_t	pad;
	uint32_t	seq;		/* STATE, ACK */
	uint32_t	app;		/* EVENT: the app's index */
};

struct item {
	TAILQ_ENTRY(item)	 list;
	size_t			 len;
	unsigned char		 data[];
};

static struct {
	struct kore_event	 evt;	/* first: Kore hands it back */
	int			 efd;
	pthread_t		 loop;
	pthread_mutex_t		 lock;
	TAILQ_HEAD(, item)	 queue;
	size_t			 nqueue;
	size_t			 dropped;
	int			 any;	/* atomic: a worker has clients */
	uint8_t			 on[BUS_WORKERS];
	int			 mine;	/* this worker has clients */
	int			 ready;	/* and every worker knows */
	uint32_t		 seq;
	unsigned		 acks;
	uint64_t		 asked;
	void			(*deliver)(const struct wecom_event *);
	void			(*live)(void);
} bus = { .efd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

static void	bus_tap(void *, const struct wecom_ctx *);
static struct item	*bus_item(const struct wecom_ctx *);
static void	bus_wake(void *, int);
static void	bus_recv(struct kore_msg *, const void *);
static void	bus_event(const struct bus_hdr *, const unsigned char *,
		    size_t);
static void	bus_state(uint16_t, const struct bus_hdr *);
static void	bus_ack(const struct bus_hdr *);
static void	bus_send(uint16_t, uint8_t, uint8_t, uint32_t);

/* In each worker, on its event loop. */
int
wecom_events_bus_init(struct wecom_server *s,
    void (*deliver)(const struct wecom_event *), void (*live)(void))
{
	bus.deliver = deliver;
	bus.live = live;
	bus.loop = pthread_self();
	TAILQ_INIT(&bus.queue);
	if (kore_msg_register(BUS_MSG, bus_recv) != KORE_RESULT_OK)
		return (WECOM_ERROR);
	if ((bus.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return (WECOM_ERROR);
	bus.evt.type = KORE_TYPE_TASK;
	bus.evt.handle = bus_wake;
	kore_platform_schedule_read(bus.efd, &bus.evt);
	if (wecom_tap_add(s, bus_tap, NULL) != WECOM_OK)
		return (WECOM_ERROR);
	/* A worker (re)started: whoever has clients says so. */
	bus_send(KORE_MSG_WORKER_ALL, BUS_STATE, BUS_WANT_STATE, 0);

	return (WECOM_OK);
}

/*
 * This worker has clients (on) or none any more. 1: every worker
 * knows already; 0: bus.live() is called once they do.
 */
int
wecom_events_bus_want(int on)
{
	if (on && bus.mine)
		return (bus.ready);
	if (!on && !bus.mine)
		return (0);
	bus.mine = on;
	bus.ready = 0;
	bus.acks = 0;
	bus.asked = kore_time_ms();
	bus_send(KORE_MSG_WORKER_ALL, BUS_STATE, on ? BUS_ON | BUS_WANT_ACK :
	    0, ++bus.seq);

	return (0);
}

/* From events.c's timer: a worker that did not answer is not waited for. */
void
wecom_events_bus_tick(void)
{
	size_t	dropped;

	if (bus.mine && !bus.ready &&
	    kore_time_ms() - bus.asked >= BUS_ACK_WAIT_MS) {
		kore_log(LOG_WARNING, "wecom: events: %u of %d workers "
		    "answered; going live without the others", bus.acks,
		    worker_count - KORE_WORKER_BASE);
		bus.ready = 1;
		bus.live();
	}
	pthread_mutex_lock(&bus.lock);
	dropped = bus.dropped;
	bus.dropped = 0;
	pthread_mutex_unlock(&bus.lock);
	if (dropped > 0)
		kore_log(LOG_WARNING, "wecom: events: %zu events dropped: "
		    "the event loop fell behind the handler threads", dropped);
}

/* Any thread, after a handler chain: never waits for the loop. */
static void
bus_tap(void *arg, const struct wecom_ctx *ctx)
{
	struct item	*it;
	uint64_t	 one = 1;

	if (!__atomic_load_n(&bus.any, __ATOMIC_RELAXED) ||
	    (it = bus_item(ctx)) == NULL)
		return;
	if (pthread_equal(pthread_self(), bus.loop)) {
		kore_msg_send(KORE_MSG_WORKER_ALL, BUS_MSG, it->data, it->len);
		free(it);
		return;
	}
	pthread_mutex_lock(&bus.lock);
	if (bus.nqueue < BUS_QUEUE_MAX) {
		TAILQ_INSERT_TAIL(&bus.queue, it, list);
		bus.nqueue++;
		it = NULL;
	} else {
		bus.dropped++;
	}
	pthread_mutex_unlock(&bus.lock);
	free(it);
	if (write(bus.efd, &one, sizeof(one)) == -1) {
		/* Only EAGAIN, at 2^64-2 unread wakes: the loop is awake. */
	}
}

/* The wire message: header, msgtype, event, JSON. */
static struct item *
bus_item(const struct wecom_ctx *ctx)
{
	struct bus_hdr	 h;
	struct item	*it;
	const char	*mt, *ev;
	char		*json;
	size_t		 len;

	if ((json = wecom_events_json(ctx, BUS_EVENT_MAX, &len)) == NULL)
		return (NULL);
	mt = ctx->msg->msgtype != NULL ? ctx->msg->msgtype : "";
	ev = ctx->msg->event != NULL ? ctx->msg->event : "";
	memset(&h, 0, sizeof(h));
	h.kind = BUS_EVENT;
	h.app = (uint32_t)ctx->app->index;
	h.mtlen = (uint16_t)strnlen(mt, BUS_NAME_MAX);
	h.evlen = (uint16_t)strnlen(ev, BUS_NAME_MAX);
	it = malloc(sizeof(*it) + sizeof(h) + h.mtlen + h.evlen + len);
	if (it != NULL) {
		it->len = sizeof(h) + h.mtlen + h.evlen + len;
		memcpy(it->data, &h, sizeof(h));
		memcpy(it->data + sizeof(h), mt, h.mtlen);
		memcpy(it->data + sizeof(h) + h.mtlen, ev, h.evlen);
		memcpy(it->data + sizeof(h) + h.mtlen + h.evlen, json, len);
	}
	free(json);

	return (it);
}

/* The eventfd: events from the handler threads, to every worker. */
static void
bus_wake(void *arg, int error)
{
	TAILQ_HEAD(, item)	 batch;
	struct item		*it;
	uint64_t		 n;

	while (read(bus.efd, &n, sizeof(n)) == sizeof(n))
		;
	TAILQ_INIT(&batch);
	pthread_mutex_lock(&bus.lock);
	TAILQ_CONCAT(&batch, &bus.queue, list);
	bus.nqueue = 0;
	pthread_mutex_unlock(&bus.lock);
	while ((it = TAILQ_FIRST(&batch)) != NULL) {
		TAILQ_REMOVE(&batch, it, list);
		kore_msg_send(KORE_MSG_WORKER_ALL, BUS_MSG, it->data, it->len);
		free(it);
	}
}

static void
bus_recv(struct kore_msg *m, const void *data)
{
	struct bus_hdr	h;

	if (data == NULL || m->length < sizeof(h))
		return;
	memcpy(&h, data, sizeof(h));
	switch (h.kind) {
	case BUS_EVENT:
		bus_event(&h, (const unsigned char *)data + sizeof(h),
		    m->length - sizeof(h));
		break;
	case BUS_STATE:
		bus_state(m->src, &h);
		break;
	case BUS_ACK:
		bus_ack(&h);
		break;
	}
}

static void
bus_event(const struct bus_hdr *h, const unsigned char *p, size_t len)
{
	struct wecom_event	ev;
	char			mt[BUS_NAME_MAX + 1], name[BUS_NAME_MAX + 1];

	if (h->mtlen > BUS_NAME_MAX || h->evlen > BUS_NAME_MAX ||
	    (size_t)h->mtlen + h->evlen > len)
		return;
	memcpy(mt, p, h->mtlen);
	mt[h->mtlen] = '\0';
	memcpy(name, p + h->mtlen, h->evlen);
	name[h->evlen] = '\0';
	ev.app = h->app;
	ev.msgtype = mt;
	ev.event = name;
	ev.json = (const char *)p + h->mtlen + h->evlen;
	ev.len = len - h->mtlen - h->evlen;
	bus.deliver(&ev);
}

/* A worker's clients came or went; a new worker asks for ours. */
static void
bus_state(uint16_t src, const struct bus_hdr *h)
{
	size_t	i;
	int	any;

	if (src >= BUS_WORKERS)
		return;
	bus.on[src] = (h->flags & BUS_ON) != 0;
	for (i = 0, any = 0; i < BUS_WORKERS && !any; i++)
		any = bus.on[i];
	__atomic_store_n(&bus.any, any, __ATOMIC_RELAXED);
	if (h->flags & BUS_WANT_ACK)
		bus_send(src, BUS_ACK, 0, h->seq);
	if ((h->flags & BUS_WANT_STATE) && worker != NULL &&
	    src != worker->id && bus.mine)
		bus_send(src, BUS_STATE, BUS_ON, 0);
}

static void
bus_ack(const struct bus_hdr *h)
{
	if (!bus.mine || bus.ready || h->seq != bus.seq)
		return;
	if (++bus.acks < (unsigned)(worker_count - KORE_WORKER_BASE))
		return;
	bus.ready = 1;
	bus.live();
}

static void
bus_send(uint16_t dst, uint8_t kind, uint8_t flags, uint32_t seq)
{
	struct bus_hdr	h;

	memset(&h, 0, sizeof(h));
	h.kind = kind;
	h.flags = flags;
	h.seq = seq;
	kore_msg_send(dst, BUS_MSG, &h, sizeof(h));
}
