/* SPDX-License-Identifier: ISC */
/*
 * Private: what the calling thread is doing, for a log line written
 * where nothing may allocate (sandbox.c). Both strings must outlive the
 * work; kind NULL means the thread's own loop.
 */

#ifndef WECOM_ACTIVITY_H
#define WECOM_ACTIVITY_H

struct wecom_activity {
	const char	*kind;		/* "app", "request", "upkeep" */
	const char	*name;
};

struct wecom_activity	wecom_activity_set(const char *, const char *);
void			wecom_activity_restore(struct wecom_activity);
struct wecom_activity	wecom_activity(void);

#endif
