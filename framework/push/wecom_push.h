/* SPDX-License-Identifier: ISC */
/*
 * Private: the push API, for monitoring systems and scripts that have
 * something to say to people on WeCom.
 *
 *	POST /api/v1/send		a JSON target and message
 *	GET|POST /sendmsg		key, to, content … as query or form
 *	POST /api/v1/alertmanager	Alertmanager's webhook, as markdown
 *
 * Callers hold keys from [apikey NAME] sections, never WeCom's secrets;
 * a key may be limited to some apps and robots and carries defaults for
 * what a request leaves out. Every message goes through the outbox.
 * Plain C: requests in, outbox targets and messages out. The Kore glue
 * is push.c.
 */

#ifndef WECOM_PUSH_H
#define WECOM_PUSH_H

#include <sys/queue.h>

#include <stddef.h>

#include <jansson.h>

#include "wecom_client.h"
#include "wecom_outbox.h"

#define WECOM_APIKEY_MIN	16	/* characters in a key */
#define WECOM_PUSH_ID_MAX	40	/* a caller's idempotency id */
#define WECOM_PUSH_CONTENT_MAX	16384	/* bytes; split into parts */
/* WeCom's limits for one message/send. */
#define WECOM_PUSH_USERS_MAX	1000
#define WECOM_PUSH_PARTIES_MAX	100
#define WECOM_PUSH_TAGS_MAX	100

struct wecom_apikey {
	const char			*name;
	unsigned char			 hash[32];	/* SHA-256 of the key */
	/* Defaults for a request that names no recipient, or no app. */
	const char			*app;
	const char			*to, *toparty, *totag, *chat, *robot;
	/* Scope: names separated by spaces or commas; NULL: any. */
	const char			*apps, *robots;
	TAILQ_ENTRY(wecom_apikey)	 list;
};
TAILQ_HEAD(wecom_apikey_list, wecom_apikey);

int	wecom_apikeys_load(struct wecom_apikey_list *,
	    const struct wecom_conf *, char *err, size_t errlen);
void	wecom_apikeys_free(struct wecom_apikey_list *);
const struct wecom_apikey	*wecom_apikey_find(
				    const struct wecom_apikey_list *,
				    const char *given);
/* 1 if name (len bytes) is one of list's, split by spaces or commas. */
int	wecom_names_has(const char *list, const char *name, size_t len);

/* A request, ready for wecom_outbox_put(). */
struct wecom_push {
	struct wecom_outbox_to	 to;
	struct wecom_outmsg	*msg;
	struct wecom_send_opts	 opts;
	char			 id[WECOM_OUTBOX_KEY_MAX + 1];	/* "": new */
	int			 status;	/* 400, 403 when refused */
	char			 why[192];	/* names the field at fault */
	/* What the strings above point into. */
	json_t			*doc;
	char			*text;
	char			*to_list;	/* "to": [...], joined */
};

/* Each returns 0, or the HTTP status with p->why set. */
int	wecom_push_json(struct wecom_push *, const struct wecom_conf *,
	    const struct wecom_apikey *, const char *body, size_t len);
int	wecom_push_form(struct wecom_push *, const struct wecom_conf *,
	    const struct wecom_apikey *, char *query, char *form);
int	wecom_push_alert(struct wecom_push *, const struct wecom_conf *,
	    const struct wecom_apikey *, char *query, const char *body,
	    size_t len);
void	wecom_push_clear(struct wecom_push *);

/* The value of name in a query or form (decoded in a copy), or NULL. */
char	*wecom_form_get(const char *form, const char *name);

#endif
