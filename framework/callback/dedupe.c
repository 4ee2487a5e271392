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

#include <openssl/evp.h>

#include "wecom.h"
#include "wecom_xml.h"
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

/* Fetched once, before the fork: an implicit fetch per key is costly. */
static EVP_MD	*sha1;

struct wecom_dedupe *
wecom_dedupe_new(size_t entries, int window_sec, int running_ttl_sec)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	size_t			 nbuckets, boff, soff, sz;
	uint32_t		 i;
	int			 rc;

	if (sha1 == NULL)
		sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);

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

/*
 * Keys. Every field goes in with a presence byte and its length, so no
 * two different field lists hash the same bytes ("ab"+"c" vs "a"+"bc",
 * absent vs empty).
 */
struct keyctx {
	EVP_MD_CTX	*md;
	int		 ok;
	uint64_t	 fnv[2];	/* used when OpenSSL fails */
};

static void
key_bytes(struct keyctx *kc, const void *p, size_t len)
{
	const unsigned char	*b = p;
	size_t			 i, j;

	if (kc->ok && !EVP_DigestUpdate(kc->md, p, len))
		kc->ok = 0;
	for (j = 0; j < 2; j++)
		for (i = 0; i < len; i++) {
			kc->fnv[j] ^= b[i];
			kc->fnv[j] *= 0x100000001b3ULL;
		}
}

static void
key_u64(struct keyctx *kc, uint64_t v)
{
	unsigned char	b[8];
	int		i;

	for (i = 0; i < 8; i++)
		b[i] = v >> (56 - 8 * i);
	key_bytes(kc, b, sizeof(b));
}

static void
key_str(struct keyctx *kc, const char *s)
{
	unsigned char	present;
	size_t		len;

	present = s != NULL;
	key_bytes(kc, &present, 1);
	if (s == NULL)
		return;
	len = strlen(s);
	key_u64(kc, len);
	key_bytes(kc, s, len);
}

static void
key_init(struct keyctx *kc)
{
	memset(kc, 0, sizeof(*kc));
	kc->fnv[0] = 0xcbf29ce484222325ULL;
	kc->fnv[1] = 0x84222325cbf29ce4ULL;
	kc->ok = (kc->md = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(kc->md, sha1 != NULL ? sha1 : EVP_sha1(), NULL);
}

/* An event's fields, then every element of its document if at hand. */
static void
key_event(struct keyctx *kc, const struct wecom_msg *msg)
{
	const char	*path, *value;
	size_t		 i, n;

	key_str(kc, msg->to_user);
	key_str(kc, msg->from_user);
	key_u64(kc, (uint64_t)msg->create_time);
	key_u64(kc, (uint64_t)msg->agentid);
	key_str(kc, msg->msgtype);
	key_str(kc, msg->event);
	key_str(kc, msg->event_key);
	key_str(kc, msg->change_type);
	key_str(kc, msg->user_id);
	key_str(kc, msg->new_user_id);
	key_str(kc, msg->party_id);
	key_str(kc, msg->tag_id);
	key_str(kc, msg->job_id);
	key_str(kc, msg->job_type);
	key_str(kc, msg->external_user_id);
	key_str(kc, msg->chat_id);
	key_str(kc, msg->welcome_code);
	key_str(kc, msg->task_id);
	key_str(kc, msg->card_type);
	key_str(kc, msg->response_code);
	key_str(kc, msg->sp_no);
	key_str(kc, msg->sp_status);
	key_str(kc, msg->third_no);
	key_str(kc, msg->open_kf_id);
	key_str(kc, msg->kf_token);
	key_str(kc, msg->scan_type);
	key_str(kc, msg->scan_result);
	key_str(kc, msg->content);
	key_str(kc, msg->media_id);
	n = msg->xml != NULL ? wecom_xml_nfields(msg->xml) : 0;
	key_u64(kc, n);
	for (i = 0; i < n; i++) {
		wecom_xml_field(msg->xml, i, &path, &value);
		key_str(kc, path);
		key_str(kc, value);
	}
}

static void
key_final(struct keyctx *kc, unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen;
	size_t		i;

	if (kc->ok && EVP_DigestFinal_ex(kc->md, md, &mdlen) &&
	    mdlen >= WECOM_DEDUPE_KEY_LEN) {
		memcpy(key, md, WECOM_DEDUPE_KEY_LEN);
	} else {
		/* Out of memory in OpenSSL: a weaker hash of the same
		 * bytes still matches retries, and never merges all. */
		for (i = 0; i < WECOM_DEDUPE_KEY_LEN; i++)
			key[i] = kc->fnv[i / 8 % 2] >> (8 * (i % 8));
	}
	EVP_MD_CTX_free(kc->md);
}

/*
 * A message is its MsgId. An event has none: its identity is its sender,
 * second, name and key, plus whatever tells apart two events of the
 * same second (ChangeType, UserID, TaskId and ResponseCode, JobId,
 * ExternalUserID, ChatId, approval numbers, the kf Token …). When the
 * parsed document is at hand every element goes in as well, so that a
 * field no one has listed yet still separates two events; a retry
 * carries the same plaintext, so it still matches.
 */
void
wecom_dedupe_key(const char *app, const struct wecom_msg *msg,
    unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	struct keyctx	kc;

	key_init(&kc);
	key_str(&kc, "wecom-dedupe-1");
	key_str(&kc, app);
	if (msg == NULL) {
		key_str(&kc, NULL);
	} else if (msg->msgid != NULL && msg->msgid[0] != '\0') {
		key_str(&kc, "msgid");
		key_str(&kc, msg->msgid);
	} else {
		key_str(&kc, "event");
		key_event(&kc, msg);
	}
	key_final(&kc, key);
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
		dd_release(dd, i != NIL && n < TAKE_SCAN ? i : dd->head);
	}
	i = dd->freelist;
	dd->freelist = dd->slots[i].next;

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
}
