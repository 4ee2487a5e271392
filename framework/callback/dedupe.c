/* SPDX-License-Identifier: ISC */
/*
 * The retry table: a fixed array of slots in one shared mapping, found
 * through a hash of the key (a SHA-1, so its first bytes will do) and
 * kept in claim order on a list whose head is the first to evict.
 * Links are slot indices, not pointers, so any process can follow them.
 *
 * One process-shared robust mutex guards it all. A worker killed while
 * holding it leaves the links possibly half-changed; the next process
 * to lock gets EOWNERDEAD and rebuilds every link from the slots
 * themselves, whose state is always written last.
 */

#include <sys/types.h>
#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wecom.h"
#include "wecom_dedupe.h"
#include "wecom_shm.h"

#define NIL		UINT32_MAX

#define SLOT_FREE	0
#define SLOT_RUNNING	1
#define SLOT_DONE	2

struct slot {
	unsigned char	key[WECOM_DEDUPE_KEY_LEN];
	uint8_t		state;		/* written last, with release */
	uint16_t	replylen;
	int64_t		claimed;	/* when the running attempt began */
	uint32_t	hnext;		/* hash chain */
	uint32_t	prev;		/* claim order */
	uint32_t	next;
	char		reply[WECOM_DEDUPE_REPLY_MAX];
};

/* All of it, the header included, lives in the shared mapping. */
struct wecom_dedupe {
	pthread_mutex_t	 lock;
	size_t		 mapsz;
	uint32_t	 nslots;
	uint32_t	 mask;		/* buckets - 1 */
	int		 window;
	int		 ttl;
	uint32_t	 freelist;	/* through next */
	uint32_t	 head;		/* oldest claim */
	uint32_t	 tail;
	uint64_t	 recoveries;
	/* For a status page: read without the lock, written under it. */
	uint32_t	 used;		/* slots off the free list */
	uint64_t	 claims;
	uint64_t	 evicted;	/* live claims taken for new keys */
	uint32_t	*buckets;
	struct slot	*slots;
};

void	(*wecom_dedupe_locked_hook)(void);

static int		 dd_lock(struct wecom_dedupe *);
static void		 dd_unlock(struct wecom_dedupe *);
static void		 dd_rebuild(struct wecom_dedupe *);
static uint32_t		 dd_bucket(const struct wecom_dedupe *,
			    const unsigned char *);
static uint32_t		 dd_find(struct wecom_dedupe *, const unsigned char *);
static uint32_t		 dd_take(struct wecom_dedupe *, time_t);
static int		 dd_expired(const struct wecom_dedupe *,
			    const struct slot *, time_t);
static void		 dd_link(struct wecom_dedupe *, uint32_t);
static void		 dd_unlink(struct wecom_dedupe *, uint32_t);
static void		 dd_lru_append(struct wecom_dedupe *, uint32_t);
static void		 dd_lru_remove(struct wecom_dedupe *, uint32_t);
static void		 dd_release(struct wecom_dedupe *, uint32_t);

struct wecom_dedupe *
wecom_dedupe_new(size_t entries, int window_sec, int running_ttl_sec)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	size_t			 nbuckets, boff, soff, sz;
	uint32_t		 i;
	int			 rc;

	if (entries == 0)
		entries = WECOM_DEDUPE_ENTRIES_DEFAULT;
	if (entries > WECOM_DEDUPE_ENTRIES_MAX || window_sec <= 0 ||
	    running_ttl_sec <= 0)
		return (NULL);

	/* Twice as many buckets as slots keeps the chains short. */
	for (nbuckets = 1; nbuckets < entries * 2; nbuckets <<= 1)
		;
	boff = (sizeof(*dd) + 63) & ~(size_t)63;
	soff = boff + nbuckets * sizeof(uint32_t);
	soff = (soff + _Alignof(struct slot) - 1) &
	    ~(size_t)(_Alignof(struct slot) - 1);
	sz = soff + entries * sizeof(struct slot);
	if ((dd = wecom_shm_map(&sz)) == NULL)
		return (NULL);

	dd->mapsz = sz;
	dd->nslots = entries;
	dd->mask = nbuckets - 1;
	dd->window = window_sec;
	dd->ttl = running_ttl_sec;
	dd->buckets = (uint32_t *)((char *)dd + boff);
	dd->slots = (struct slot *)((char *)dd + soff);
	dd->head = dd->tail = NIL;
	for (i = 0; i < nbuckets; i++)
		dd->buckets[i] = NIL;
	dd->freelist = NIL;
	for (i = entries; i-- > 0;) {
		dd->slots[i].next = dd->freelist;
		dd->freelist = i;
	}

	rc = wecom_shm_mutex_init(&dd->lock);

	/* Let OpenSSL load its configuration now, in the parent: the
	 * workers' sandbox allows no file I/O. */
	memset(key, 0, sizeof(key));
	wecom_dedupe_key("", NULL, key);

	if (rc == -1) {
		munmap(dd, sz);
		return (NULL);
	}
	return (dd);
}

void
wecom_dedupe_free(struct wecom_dedupe *dd)
{
	if (dd == NULL)
		return;
	pthread_mutex_destroy(&dd->lock);
	munmap(dd, dd->mapsz);
}

size_t
wecom_dedupe_size(const struct wecom_dedupe *dd)
{
	return (dd->mapsz);
}

/* Without the lock: a status page must never hold up a callback. */
void
wecom_dedupe_stats(struct wecom_dedupe *dd, struct wecom_dedupe_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (dd == NULL)
		return;
	st->entries = dd->nslots;
	st->window = dd->window;
	st->used = __atomic_load_n(&dd->used, __ATOMIC_RELAXED);
	st->claims = __atomic_load_n(&dd->claims, __ATOMIC_RELAXED);
	st->evicted = __atomic_load_n(&dd->evicted, __ATOMIC_RELAXED);
}

int
wecom_dedupe_begin(struct wecom_dedupe *dd,
    const unsigned char key[WECOM_DEDUPE_KEY_LEN], time_t now,
    char *reply, size_t replysz, size_t *replylen)
{
	struct slot	*s;
	uint32_t	 i;
	int		 rc;

	if (replylen != NULL)
		*replylen = 0;
	/* Without the table, running a retry twice beats losing it. */
	if (dd_lock(dd) == -1)
		return (WECOM_DEDUPE_NEW);

	if ((i = dd_find(dd, key)) != NIL) {
		s = &dd->slots[i];
		if (!dd_expired(dd, s, now)) {
			if (s->state == SLOT_RUNNING) {
				rc = WECOM_DEDUPE_RUNNING;
				goto out;
			}
			if (reply != NULL && s->replylen <= replysz) {
				memcpy(reply, s->reply, s->replylen);
				if (s->replylen < replysz)
					reply[s->replylen] = '\0';
				if (replylen != NULL)
					*replylen = s->replylen;
			}
			rc = WECOM_DEDUPE_DONE;
			goto out;
		}
		/* Expired, or its owner presumably died: claim it anew. */
		dd_lru_remove(dd, i);
	} else {
		i = dd_take(dd, now);
		s = &dd->slots[i];
		memcpy(s->key, key, WECOM_DEDUPE_KEY_LEN);
		dd_link(dd, i);
		if (wecom_dedupe_locked_hook != NULL)
			wecom_dedupe_locked_hook();
	}

	s->claimed = now;
	s->replylen = 0;
	__atomic_store_n(&s->state, SLOT_RUNNING, __ATOMIC_RELEASE);
	dd_lru_append(dd, i);
	__atomic_store_n(&dd->claims, dd->claims + 1, __ATOMIC_RELAXED);
	rc = WECOM_DEDUPE_NEW;

out:
	dd_unlock(dd);
	return (rc);
}

void
wecom_dedupe_finish(struct wecom_dedupe *dd,
    const unsigned char key[WECOM_DEDUPE_KEY_LEN], time_t now,
    const char *reply, size_t len)
{
	struct slot	*s;
	uint32_t	 i;

	/* A reply we cannot keep whole is better not repeated at all. */
	if (len > WECOM_DEDUPE_REPLY_MAX || reply == NULL)
		len = 0;
	if (dd_lock(dd) == -1)
		return;
	if ((i = dd_find(dd, key)) != NIL) {
		s = &dd->slots[i];
		if (s->state == SLOT_RUNNING) {
			if (len > 0)
				memcpy(s->reply, reply, len);
			s->replylen = len;
			__atomic_store_n(&s->state, SLOT_DONE,
			    __ATOMIC_RELEASE);
		}
	}
	dd_unlock(dd);
}

void
wecom_dedupe_forget(struct wecom_dedupe *dd,
    const unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	uint32_t	 i;

	if (dd_lock(dd) == -1)
		return;
	if ((i = dd_find(dd, key)) != NIL &&
	    dd->slots[i].state == SLOT_RUNNING)
		dd_release(dd, i);
	dd_unlock(dd);
}

static int
dd_lock(struct wecom_dedupe *dd)
{
	int	rc;

	rc = pthread_mutex_lock(&dd->lock);
	if (rc == EOWNERDEAD) {
		/* The holder died mid-change: trust only the slots. */
		dd_rebuild(dd);
		dd->recoveries++;
		if (pthread_mutex_consistent(&dd->lock) != 0) {
			pthread_mutex_unlock(&dd->lock);
			return (-1);
		}
		rc = 0;
	}

	return (rc == 0 ? 0 : -1);
}

static void
dd_unlock(struct wecom_dedupe *dd)
{
	pthread_mutex_unlock(&dd->lock);
}

/*
 * Relink every slot from its state, key and claim time. The claim
 * order is restored by insertion from the tail: slots are mostly taken
 * in index order, so this is near linear.
 */
static void
dd_rebuild(struct wecom_dedupe *dd)
{
	struct slot	*s;
	uint32_t	 i, at;

	for (i = 0; i <= dd->mask; i++)
		dd->buckets[i] = NIL;
	dd->head = dd->tail = dd->freelist = NIL;
	__atomic_store_n(&dd->used, 0, __ATOMIC_RELAXED);

	for (i = 0; i < dd->nslots; i++) {
		s = &dd->slots[i];
		if (s->state != SLOT_RUNNING && s->state != SLOT_DONE)
			s->state = SLOT_FREE;
		if (s->replylen > WECOM_DEDUPE_REPLY_MAX)
			s->replylen = 0;
		if (s->state == SLOT_FREE || dd_find(dd, s->key) != NIL) {
			s->state = SLOT_FREE;
			s->next = dd->freelist;
			dd->freelist = i;
			continue;
		}
		dd_link(dd, i);
		__atomic_store_n(&dd->used, dd->used + 1, __ATOMIC_RELAXED);

		for (at = dd->tail; at != NIL &&
		    dd->slots[at].claimed > s->claimed; at = dd->slots[at].prev)
			;
		s->prev = at;
		s->next = at == NIL ? dd->head : dd->slots[at].next;
		if (s->next != NIL)
			dd->slots[s->next].prev = i;
		else
			dd->tail = i;
		if (at != NIL)
			dd->slots[at].next = i;
		else
			dd->head = i;
	}
}

static uint32_t
dd_bucket(const struct wecom_dedupe *dd, const unsigned char *key)
{
	return (((uint32_t)key[0] | (uint32_t)key[1] << 8 |
	    (uint32_t)key[2] << 16 | (uint32_t)key[3] << 24) & dd->mask);
}

static uint32_t
dd_find(struct wecom_dedupe *dd, const unsigned char *key)
{
	uint32_t	i;

	for (i = dd->buckets[dd_bucket(dd, key)]; i != NIL;
	    i = dd->slots[i].hnext)
		if (memcmp(dd->slots[i].key, key, WECOM_DEDUPE_KEY_LEN) == 0)
			return (i);

	return (NIL);
}

/*
 * A slot for a new key: a free one, else an expired one among the oldest
 * few claims (a running claim outlives finished ones), else the oldest.
 * Only a few: at thousands of callbacks a second, walking the whole
 * table cost a tenth of the server's time.
 */
#define TAKE_SCAN	8

static uint32_t
dd_take(struct wecom_dedupe *dd, time_t now)
{
	uint32_t	i;
	int		n;

	if (dd->freelist == NIL) {
		for (i = dd->head, n = 0; i != NIL && n < TAKE_SCAN;
		    i = dd->slots[i].next, n++)
			if (dd_expired(dd, &dd->slots[i], now))
				break;
		if (i == NIL || n == TAKE_SCAN)
			__atomic_store_n(&dd->evicted, dd->evicted + 1,
			    __ATOMIC_RELAXED);
		dd_release(dd, i != NIL && n < TAKE_SCAN ? i : dd->head);
	}
	i = dd->freelist;
	dd->freelist = dd->slots[i].next;
	__atomic_store_n(&dd->used, dd->used + 1, __ATOMIC_RELAXED);

	return (i);
}

static int
dd_expired(const struct wecom_dedupe *dd, const struct slot *s, time_t now)
{
	int64_t	age;

	age = (int64_t)now - s->claimed;
	if (s->state == SLOT_RUNNING)
		return (age >= dd->ttl);
	return (age >= dd->window);
}

static void
dd_link(struct wecom_dedupe *dd, uint32_t i)
{
	uint32_t	*b;

	b = &dd->buckets[dd_bucket(dd, dd->slots[i].key)];
	dd->slots[i].hnext = *b;
	*b = i;
}

static void
dd_unlink(struct wecom_dedupe *dd, uint32_t i)
{
	uint32_t	*p;

	for (p = &dd->buckets[dd_bucket(dd, dd->slots[i].key)]; *p != NIL;
	    p = &dd->slots[*p].hnext) {
		if (*p == i) {
			*p = dd->slots[i].hnext;
			break;
		}
	}
}

static void
dd_lru_append(struct wecom_dedupe *dd, uint32_t i)
{
	dd->slots[i].next = NIL;
	dd->slots[i].prev = dd->tail;
	if (dd->tail != NIL)
		dd->slots[dd->tail].next = i;
	else
		dd->head = i;
	dd->tail = i;
}

static void
dd_lru_remove(struct wecom_dedupe *dd, uint32_t i)
{
	struct slot	*s = &dd->slots[i];

	if (s->prev != NIL)
		dd->slots[s->prev].next = s->next;
	else
		dd->head = s->next;
	if (s->next != NIL)
		dd->slots[s->next].prev = s->prev;
	else
		dd->tail = s->prev;
}

/* Back to the free list; the state goes first, so a rebuild after a
 * crash half-way never resurrects the old key. */
static void
dd_release(struct wecom_dedupe *dd, uint32_t i)
{
	__atomic_store_n(&dd->slots[i].state, SLOT_FREE, __ATOMIC_RELEASE);
	dd_unlink(dd, i);
	dd_lru_remove(dd, i);
	dd->slots[i].next = dd->freelist;
	dd->freelist = i;
	__atomic_store_n(&dd->used, dd->used - 1, __ATOMIC_RELAXED);
}
