/* SPDX-License-Identifier: ISC */
/*
 * Private: the contacts API, read from the contacts cache
 * (wecom_contacts.h) with an API key of [apikey NAME]:
 *
 *	GET /api/v1/users	  department, name, userid
 *	GET /api/v1/departments	  parent
 *	GET /api/v1/chats	  name, userid (a member)
 *
 * Every path takes app, limit and cursor, and answers as the message
 * log does: {"count", "next", "previous", "results"}. The key's "apps"
 * decide which apps' contacts it reads. Plain C and jansson, no Kore:
 * the glue (kore/contacts.c) runs the reads on a chore thread.
 */

#ifndef WECOM_PUSH_CONTACTS_H
#define WECOM_PUSH_CONTACTS_H

#include <stddef.h>

#include <jansson.h>

#include "wecom_config.h"
#include "wecom_push.h"

#define WECOM_CONTACTS_LIMIT		50
#define WECOM_CONTACTS_LIMIT_MAX	500

enum wecom_contacts_kind {
	WECOM_CONTACTS_USERS,
	WECOM_CONTACTS_DEPARTMENTS,
	WECOM_CONTACTS_CHATS
};

struct wecom_contacts_query {
	enum wecom_contacts_kind kind;
	const char	*app;		/* given, or the key's */
	char		*name;		/* the parameter as given */
	char		*fold;		/* and folded, for matching */
	char		*userid;
	long long	 department;	/* -1: none */
	long long	 parent;	/* -1: none */
	long		 limit;
	char		*cursor;	/* a key; NULL: the first page */
	int		 before;	/* cursor: the items before it */
	char		*app_buf;
};

/*
 * The query string of a request made with key. 0, or 400/403 with why
 * naming the parameter at fault.
 */
int	wecom_push_contacts_params(struct wecom_contacts_query *,
	    enum wecom_contacts_kind, const struct wecom_conf *,
	    const struct wecom_apikey *, const char *qs, char *why,
	    size_t whylen);
void	wecom_push_contacts_clear(struct wecom_contacts_query *);

/*
 * The page, as JSON text in *body (malloc'ed): 200, or 503 with why.
 * base is what links start with ("https://host/api/v1/users"). Reads
 * the cache files; on any thread.
 */
int	wecom_push_contacts_answer(const struct wecom_conf *,
	    const struct wecom_contacts_query *, const char *base,
	    char **body, char *why, size_t whylen);

/* push_contacts_table.c: a cache file parsed, kept while it is unchanged. */
struct wecom_contacts_entry {
	char		*key;		/* the order of pages */
	json_t		*item;		/* as WeCom gave it */
	char		*fold;		/* the name folded, or NULL */
	json_int_t	 id, parent;	/* departments */
};

struct wecom_contacts_table {
	struct wecom_contacts_entry	*users, *depts, *chats;
	size_t				 nusers, ndepts, nchats;
};

/* NULL: *missing says whether the file is not there (yet). */
const struct wecom_contacts_table	*wecom_push_contacts_table(
					    const char *path, int *missing,
					    char *why, size_t whylen);
void	wecom_push_contacts_table_done(const struct wecom_contacts_table *);
char	*wecom_push_contacts_fold(const char *);

#endif
