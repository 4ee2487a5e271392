/* SPDX-License-Identifier: ISC */
/*
 * The retry policy, below any token: a try is prepare, perform and
 * judge; a transient failure waits a bounded exponential backoff with
 * jitter, within the client's attempts and total time. gettoken is
 * driven by wecom_client_retry(); client_call.c takes the same steps
 * with a token added, so the token cache can sit between the two.
 */

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "client_private.h"

static int64_t	now_ms(void);

/* Monotonic: the time budget must not jump with the wall clock. */
static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

void
wecom_client_sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Full jitter over the upper half: never zero, never in lockstep. */
long
wecom_client_backoff_ms(const struct wecom_client *c, int attempt)
{
	long	d;
	int	i;

	d = c->base_ms;
	for (i = 1; i < attempt && d < CLIENT_RETRY_CAP_MS; i++)
		d *= 2;
	if (d > CLIENT_RETRY_CAP_MS)
		d = CLIENT_RETRY_CAP_MS;
	if (d < 2)
		return (d);

	return (d / 2 + (long)arc4random_uniform((uint32_t)(d / 2 + 1)));
}

/* Taken before any token is fetched: a slow gettoken uses the budget. */
void
wecom_client_retry_start(struct client_retry *r)
{
	r->start = now_ms();
	r->tries = 0;
	r->attempts = 0;
}

/*
 * One try, judged. A request that cannot even be prepared fails with
 * err filled and is not counted; the observer sees every other one.
 */
int
wecom_client_try(struct wecom_client *c, struct client_req *req,
    const char *token, struct client_retry *r, struct wecom_api_error *err)
{
	int	act;

	if (wecom_client_req_prepare(c, req, token, err) != WECOM_API_OK)
		return (REQ_FAIL);
	wecom_client_req_perform(req);
	r->attempts++;
	act = wecom_client_req_finish(req, err);
	if (c->observer != NULL)
		c->observer(c->observer_arg, req->path,
		    act == REQ_DONE ? 0 : err->errcode != 0 ?
		    err->errcode : -2);

	return (act);
}

/*
 * After a transient failure: 1 once the backoff has been waited out and
 * another try fits the attempts and the time budget, 0 to give up.
 */
int
wecom_client_pause(const struct wecom_client *c, struct client_retry *r)
{
	long	delay;

	if (++r->tries >= c->max_attempts)
		return (0);
	delay = wecom_client_backoff_ms(c, r->tries);
	if (now_ms() - r->start + delay > c->total_ms)
		return (0);
	wecom_client_sleep_ms(delay);

	return (1);
}

/* The result of a call whose last try was judged act. */
int
wecom_client_retry_end(const struct client_retry *r, int act,
    struct wecom_api_error *err)
{
	/* Counts this call's requests, not those of a gettoken inside it. */
	if (r->attempts > 0)
		err->attempts = r->attempts;
	if (act == REQ_DONE)
		err->code = WECOM_API_OK;

	return (err->code);
}

/* The blocking driver for a request without a token. */
int
wecom_client_retry(struct wecom_client *c, struct client_req *req,
    struct wecom_api_error *err)
{
	struct wecom_api_error	local;
	struct client_retry	r;
	int			act;

	if (err == NULL) {
		wecom_client_err_clear(&local);
		err = &local;
	}
	wecom_client_retry_start(&r);
	while ((act = wecom_client_try(c, req, NULL, &r, err)) ==
	    REQ_BACKOFF && wecom_client_pause(c, &r))
		;

	return (wecom_client_retry_end(&r, act, err));
}
