/* SPDX-License-Identifier: ISC */
/*
 * What this thread is doing ("app echo", "request /api/v1/send"): the
 * sandbox's last log line names it when a forbidden syscall ends the
 * worker. Initial-exec TLS: it is read in a SIGSYS handler, where a lazy
 * TLS allocation (malloc) could deadlock.
 */

#include "wecom_activity.h"

static __thread struct wecom_activity	current
    __attribute__((tls_model("initial-exec")));

/* Returns what the thread did before, for wecom_activity_restore(). */
struct wecom_activity
wecom_activity_set(const char *kind, const char *name)
{
	struct wecom_activity	was = current;

	current.kind = kind;
	current.name = name;

	return (was);
}

void
wecom_activity_restore(struct wecom_activity was)
{
	current = was;
}

struct wecom_activity
wecom_activity(void)
{
	return (current);
}
