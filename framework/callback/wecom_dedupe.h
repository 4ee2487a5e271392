/* SPDX-License-Identifier: ISC */
/*
 * Recognising WeCom's retries across worker processes.
 *
 * WeCom re-sends a callback it got no answer to within 5 seconds, three
 * times in all, re-encrypted each time. The table lives in one shared
 * mapping that the parent creates before Kore forks its workers, so the
 * worker that gets a retry sees the claim of the worker that got the
 * first attempt. No Kore, no file I/O: at run time only futex calls.
 *
 * Per callback:
 *
 *	wecom_dedupe_key(app, msg, key);
 *	switch (wecom_dedupe_begin(dd, key, now, buf, sizeof(buf), &len)) {
 *	case WECOM_DEDUPE_NEW:		run the handlers, then
 *		wecom_dedupe_finish(dd, key, time(NULL), reply, replylen);
 *		(or wecom_dedupe_forget(dd, key) if they never ran)
 *	case WECOM_DEDUPE_RUNNING:	the first attempt is still at work
 *	case WECOM_DEDUPE_DONE:		answer with buf/len again
 *	}
 */

#ifndef WECOM_DEDUPE_H
#define WECOM_DEDUPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "wecom_config.h"

#define WECOM_DEDUPE_KEY_LEN	20	/* a SHA-1 digest */
#define WECOM_DEDUPE_REPLY_MAX	2048	/* longer replies are not kept */

#define WECOM_DEDUPE_NEW	0	/* claimed: this attempt runs the handlers */
#define WECOM_DEDUPE_RUNNING	1	/* another attempt is still running */
#define WECOM_DEDUPE_DONE	2	/* finished: its reply was copied out */

/* Sizes the server should use unless configured otherwise. */
#define WECOM_DEDUPE_ENTRIES_DEFAULT	1024
#define WECOM_DEDUPE_ENTRIES_MAX	WECOM_CONF_DEDUPE_ENTRIES_MAX
#define WECOM_DEDUPE_WINDOW_DEFAULT	60	/* seconds */
#define WECOM_DEDUPE_RUNNING_TTL_DEFAULT 30	/* seconds */

struct wecom_msg;
struct wecom_dedupe;

/*
 * A table of `entries` slots (0: the default) in a MAP_SHARED anonymous
 * mapping; call it before the fork. A callback is a retry when its key
 * was claimed less than window_sec ago; a claim still RUNNING after
 * running_ttl_sec is taken to belong to a dead worker. NULL on failure.
 */
struct wecom_dedupe	*wecom_dedupe_new(size_t entries, int window_sec,
			    int running_ttl_sec);
void			 wecom_dedupe_free(struct wecom_dedupe *);
/* Bytes mapped, for the memory budget. */
size_t			 wecom_dedupe_size(const struct wecom_dedupe *);

/* How full the table is, for a status page. */
struct wecom_dedupe_stats {
	size_t		entries;	/* slots */
	size_t		used;		/* holding a claim, in the window or not */
	uint64_t	claims;		/* callbacks claimed since the start */
	uint64_t	evicted;	/* claims dropped inside their window:
					   the table is too small */
	int		window;		/* seconds */
};
void	wecom_dedupe_stats(struct wecom_dedupe *, struct wecom_dedupe_stats *);

/*
 * SHA-1 over the app name and the MsgId; for events (no MsgId) over the
 * app name and every field that tells one event from another. A retry
 * decrypts to the same fields, so it gets the same key.
 */
void	wecom_dedupe_key(const char *app, const struct wecom_msg *msg,
	    unsigned char key[WECOM_DEDUPE_KEY_LEN]);

/*
 * NEW: not seen within the window (or a RUNNING claim older than the
 * running ttl), now claimed as RUNNING by the caller. RUNNING: another
 * attempt holds the claim. DONE: the first attempt's reply plaintext is
 * copied to reply, NUL-terminated when there is room; *replylen 0 means
 * no reply, and so does a reply that does not fit in replysz (pass
 * WECOM_DEDUPE_REPLY_MAX + 1 bytes). reply and replylen may be NULL.
 */
int	wecom_dedupe_begin(struct wecom_dedupe *,
	    const unsigned char key[WECOM_DEDUPE_KEY_LEN], time_t now,
	    char *reply, size_t replysz, size_t *replylen);

/*
 * The claim is finished: later attempts get DONE with this reply. A
 * reply longer than WECOM_DEDUPE_REPLY_MAX is stored as no reply, so
 * a retry of it is answered empty; len 0 is no reply.
 */
void	wecom_dedupe_finish(struct wecom_dedupe *,
	    const unsigned char key[WECOM_DEDUPE_KEY_LEN], time_t now,
	    const char *reply, size_t len);

/* Drop a RUNNING claim whose handlers never ran, so a retry runs them. */
void	wecom_dedupe_forget(struct wecom_dedupe *,
	    const unsigned char key[WECOM_DEDUPE_KEY_LEN]);

/*
 * Tests only: called by wecom_dedupe_begin() with the table locked and
 * half-way through claiming a new key, so that a test can kill a worker
 * where it hurts most.
 */
extern void	(*wecom_dedupe_locked_hook)(void);

#endif
