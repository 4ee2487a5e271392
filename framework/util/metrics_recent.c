/* SPDX-License-Identifier: ISC */
/*
 * The recent past, in the metrics mapping, for a status page: the last
 * hour minute by minute, each credential's last check, the outbox and
 * the last refusals. Counts are single CAS loops; the records are read
 * whole through a seqlock (a sequence number, odd while written), so a
 * writer never waits: a refusal whose slot another writer holds is
 * dropped, and a reader retries a record that changed under it.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_metrics.h"
#include "metrics_private.h"

#define READ_TRIES	64

static int	seq_take(uint32_t *);
static void	seq_give(uint32_t *);
static int	seq_read(const uint32_t *, void *, const void *, size_t);
static void	str_fit(char *, size_t, const char *);
static int	refusal_cmp(const void *, const void *);

void
wecom_metrics_minute(struct wecom_metrics *m, size_t app, int series,
    int64_t now)
{
	struct m_app	*a;
	uint64_t	*w, old, new;
	uint32_t	 min;

	if ((a = m_app(m, app)) == NULL || series < 0 ||
	    series >= WECOM_H_NSERIES || now < 0)
		return;
	min = (uint32_t)(now / 60);
	w = &a->minutes[series][min % WECOM_METRICS_MINUTES];
	old = __atomic_load_n(w, __ATOMIC_RELAXED);
	do {
		if ((uint32_t)(old >> 32) != min)
			new = (uint64_t)min << 32 | 1;
		else if ((uint32_t)old == UINT32_MAX)
			return;		/* a carry would change the minute */
		else
			new = old + 1;
	} while (!__atomic_compare_exchange_n(w, &old, new, 1,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED));
}

uint64_t
wecom_metrics_history(struct wecom_metrics *m, size_t app, int series,
    int64_t now, uint32_t out[WECOM_METRICS_MINUTES])
{
	struct m_app	*a;
	uint64_t	 w, sum;
	uint32_t	 min, want;
	int		 i;

	memset(out, 0, WECOM_METRICS_MINUTES * sizeof(out[0]));
	if ((a = m_app(m, app)) == NULL || series < 0 ||
	    series >= WECOM_H_NSERIES || now < 0)
		return (0);
	min = (uint32_t)(now / 60);
	sum = 0;
	for (i = 0; i < WECOM_METRICS_MINUTES; i++) {
		/* A slot still holding an older hour's minute counts 0. */
		want = min - (WECOM_METRICS_MINUTES - 1) + i;
		w = __atomic_load_n(&a->minutes[series][want %
		    WECOM_METRICS_MINUTES], __ATOMIC_RELAXED);
		if ((uint32_t)(w >> 32) == want) {
			out[i] = (uint32_t)w;
			sum += out[i];
		}
	}

	return (sum);
}

/* The alert count is the writer's to keep: it is not taken from c. */
void
wecom_metrics_check_set(struct wecom_metrics *m, size_t app,
    const struct wecom_metrics_check *c)
{
	struct m_app	*a;
	int64_t		 alerts;

	if ((a = m_app(m, app)) == NULL || seq_take(&a->check.seq)
	    == -1)
		return;
	alerts = a->check.c.alerts;
	a->check.c = *c;
	a->check.c.alerts = alerts;
	seq_give(&a->check.seq);
}

int
wecom_metrics_check_get(struct wecom_metrics *m, size_t app,
    struct wecom_metrics_check *c)
{
	struct m_app	*a;

	memset(c, 0, sizeof(*c));
	c->ok = -1;
	if ((a = m_app(m, app)) == NULL)
		return (-1);
	if (seq_read(&a->check.seq, c, &a->check.c, sizeof(*c)) == -1) {
		memset(c, 0, sizeof(*c));
		c->ok = -1;
	}

	return (0);
}

void
wecom_metrics_alerted(struct wecom_metrics *m, size_t app)
{
	struct m_app	*a;

	if ((a = m_app(m, app)) == NULL || seq_take(&a->check.seq)
	    == -1)
		return;
	a->check.c.alerts++;
	seq_give(&a->check.seq);
}

void
wecom_metrics_outbox_set(struct wecom_metrics *m,
    const struct wecom_metrics_outbox *o)
{
	if (m == NULL || seq_take(&m->host->outbox_seq) == -1)
		return;
	m->host->outbox = *o;
	seq_give(&m->host->outbox_seq);
}

void
wecom_metrics_outbox_get(struct wecom_metrics *m,
    struct wecom_metrics_outbox *o)
{
	memset(o, 0, sizeof(*o));
	if (m == NULL || seq_read(&m->host->outbox_seq, o, &m->host->outbox,
	    sizeof(*o)) == -1)
		memset(o, 0, sizeof(*o));
}

/* One push API request, by its answer's status. */
void
wecom_metrics_push(struct wecom_metrics *m, int status)
{
	int	r;

	if (m == NULL)
		return;
	r = status == 200 ? 0 : status == 202 ? 1 : status < 500 ? 2 : 3;
	__atomic_add_fetch(&m->host->push[r], 1, __ATOMIC_RELAXED);
}

int64_t
wecom_metrics_push_get(struct wecom_metrics *m, int result)
{
	if (m == NULL || result < 0 || result >= WECOM_PUSH_NRESULTS)
		return (0);
	return (__atomic_load_n(&m->host->push[result], __ATOMIC_RELAXED));
}

void
wecom_metrics_refusal(struct wecom_metrics *m,
    const struct wecom_metrics_refusal *r)
{
	struct m_refusal	*e;
	uint64_t		 n;

	if (m == NULL)
		return;
	n = __atomic_fetch_add(&m->host->nrefusals, 1, __ATOMIC_RELAXED);
	e = &m->host->refusals[n % WECOM_METRICS_REFUSALS];
	if (seq_take(&e->seq) == -1)
		return;
	e->n = n + 1;
	e->r.time = r->time;
	e->r.status = r->status;
	str_fit(e->r.peer, sizeof(e->r.peer), r->peer);
	str_fit(e->r.method, sizeof(e->r.method), r->method);
	str_fit(e->r.path, sizeof(e->r.path), r->path);
	str_fit(e->r.why, sizeof(e->r.why), r->why);
	seq_give(&e->seq);
}

size_t
wecom_metrics_refusals(struct wecom_metrics *m,
    struct wecom_metrics_refusal *out, size_t max)
{
	struct m_refusal	 got[WECOM_METRICS_REFUSALS];
	size_t			 i, n;

	if (m == NULL)
		return (0);
	for (i = n = 0; i < WECOM_METRICS_REFUSALS; i++)
		if (seq_read(&m->host->refusals[i].seq, &got[n],
		    &m->host->refusals[i], sizeof(got[n])) == 0 &&
		    got[n].n != 0)
			n++;
	qsort(got, n, sizeof(got[0]), refusal_cmp);
	for (i = 0; i < n && i < max; i++)
		out[i] = got[i].r;

	return (i);
}

/*
 * A record to write: 0 with its seq made odd, -1 if another writer has
 * it (then the caller drops its update rather than wait).
 */
static int
seq_take(uint32_t *seq)
{
	uint32_t	s;

	s = __atomic_load_n(seq, __ATOMIC_RELAXED);
	if ((s & 1) || !__atomic_compare_exchange_n(seq, &s, s + 1, 0,
	    __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return (-1);
	/* Readers must not see the new data before the odd seq. */
	__atomic_thread_fence(__ATOMIC_RELEASE);

	return (0);
}

static void
seq_give(uint32_t *seq)
{
	__atomic_fetch_add(seq, 1, __ATOMIC_RELEASE);
}

/* A copy of the record that no writer touched meanwhile: 0, else -1. */
static int
seq_read(const uint32_t *seq, void *dst, const void *src, size_t len)
{
	uint32_t	s1, s2;
	int		i;

	for (i = 0; i < READ_TRIES; i++) {
		s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
		if (s1 & 1)
			continue;
		memcpy(dst, src, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = __atomic_load_n(seq, __ATOMIC_RELAXED);
		if (s1 == s2)
			return (0);
	}

	return (-1);
}

/* Cut to fit, never inside a UTF-8 sequence. */
static void
str_fit(char *dst, size_t size, const char *src)
{
	size_t	len;

	len = src != NULL ? strnlen(src, size) : 0;
	if (len == size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)src[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(dst, src != NULL ? src : "", len);
	dst[len] = '\0';
}

static int
refusal_cmp(const void *a, const void *b)
{
	const struct m_refusal	*x = a, *y = b;

	return (x->n < y->n ? 1 : x->n > y->n ? -1 : 0);
}
