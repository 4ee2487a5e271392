/* SPDX-License-Identifier: ISC */
/*
 * The stream table: the latest content of each callback-mode stream, in
 * a mapping every worker shares (made in the parent), so that a refresh
 * callback is answered from it whichever worker WeCom reaches. A slot
 * lives until its stream is finished or its window has passed; then
 * the oldest such slot is reused. One process-shared robust mutex
 * guards the table: a worker killed while holding it leaves at worst
 * one half-written content, never a wedged table.
 */

#include <sys/mman.h>

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wecom.h"
#include "wecom_aibot.h"
#include "wecom_shm.h"

struct slot {
	char		id[WECOM_STREAM_ID_LEN + 1];	/* "": free */
	int		finish;
	int64_t		born;
	uint32_t	len;
	char		content[WECOM_STREAM_MAX + 1];
};

struct wecom_streams {
	pthread_mutex_t	lock;
	size_t		mapsz;
	size_t		nslots;
	struct slot	slots[];
};

static struct slot	*streams_find(struct wecom_streams *, const char *);
static struct slot	*streams_victim(struct wecom_streams *, time_t);
static int		 streams_lock(struct wecom_streams *);

struct wecom_streams *
wecom_streams_new(size_t slots)
{
	struct wecom_streams	*st;
	size_t			 sz;

	if (slots == 0 || slots > 65536)
		return (NULL);
	sz = sizeof(*st) + slots * sizeof(struct slot);
	if ((st = wecom_shm_map(&sz)) == NULL)
		return (NULL);
	st->mapsz = sz;
	st->nslots = slots;
	if (wecom_shm_mutex_init(&st->lock) == -1) {
		munmap(st, sz);
		return (NULL);
	}

	return (st);
}

void
wecom_streams_free(struct wecom_streams *st)
{
	if (st != NULL)
		munmap(st, st->mapsz);
}

/* A new, empty stream: id must be fresh (random). */
int
wecom_streams_open(struct wecom_streams *st, const char *id, time_t now)
{
	struct slot	*s;

	if (strlen(id) > WECOM_STREAM_ID_LEN || streams_lock(st) == -1)
		return (WECOM_ERROR);
	s = streams_victim(st, now);
	memset(s, 0, offsetof(struct slot, content) + 1);
	memcpy(s->id, id, strlen(id) + 1);
	s->born = now;
	pthread_mutex_unlock(&st->lock);

	return (WECOM_OK);
}

/* The stream's content is now this; WECOM_ERROR if it is gone. */
int
wecom_streams_put(struct wecom_streams *st, const char *id,
    const char *content, int finish, time_t now)
{
	struct slot	*s;
	size_t		 len;
	int		 rc;

	if ((len = strlen(content)) > WECOM_STREAM_MAX ||
	    streams_lock(st) == -1)
		return (WECOM_ERROR);
	rc = WECOM_ERROR;
	if ((s = streams_find(st, id)) != NULL && !s->finish) {
		memcpy(s->content, content, len + 1);
		s->len = (uint32_t)len;
		s->finish = finish;
		rc = WECOM_OK;
	}
	pthread_mutex_unlock(&st->lock);

	return (rc);
}

int
wecom_streams_get(struct wecom_streams *st, const char *id, char *content,
    size_t size, int *finish, time_t *born)
{
	struct slot	*s;
	int		 rc;

	if (streams_lock(st) == -1)
		return (WECOM_ERROR);
	rc = WECOM_ERROR;
	if ((s = streams_find(st, id)) != NULL && s->len < size) {
		memcpy(content, s->content, s->len + 1);
		*finish = s->finish;
		*born = (time_t)s->born;
		rc = WECOM_OK;
	}
	pthread_mutex_unlock(&st->lock);

	return (rc);
}

static struct slot *
streams_find(struct wecom_streams *st, const char *id)
{
	size_t	i;

	if (*id == '\0')
		return (NULL);
	for (i = 0; i < st->nslots; i++) {
		if (strcmp(st->slots[i].id, id) == 0)
			return (&st->slots[i]);
	}

	return (NULL);
}

/*
 * A free slot, else the oldest that is done with (finished, or past
 * WeCom's window), else the oldest of all: a table too small for the
 * streams running cuts the oldest short rather than refusing the new.
 */
static struct slot *
streams_victim(struct wecom_streams *st, time_t now)
{
	struct slot	*s, *done, *old;
	size_t		 i;

	done = old = NULL;
	for (i = 0; i < st->nslots; i++) {
		s = &st->slots[i];
		if (s->id[0] == '\0')
			return (s);
		if ((s->finish || s->born + WECOM_STREAM_WINDOW < now) &&
		    (done == NULL || s->born < done->born))
			done = s;
		if (old == NULL || s->born < old->born)
			old = s;
	}

	return (done != NULL ? done : old);
}

static int
streams_lock(struct wecom_streams *st)
{
	int	rc;

	rc = pthread_mutex_lock(&st->lock);
	if (rc == EOWNERDEAD)
		rc = pthread_mutex_consistent(&st->lock);

	return (rc == 0 ? 0 : -1);
}
