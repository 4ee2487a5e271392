/* SPDX-License-Identifier: ISC */
/*
 * wecom-send --to NAME: a member's name in place of their userid, from
 * the app's contacts cache (state_dir/contacts-APP.json, which the
 * server keeps). An item that is a userid of the cache stays; a name
 * of exactly one member becomes their userid; a name several members
 * share stops the send and lists them. Without a cache, or when no
 * member has that name, the item goes as given and WeCom says whether
 * it knows it.
 */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "wecom_buf.h"
#include "wecom_contacts.h"
#include "wecom-send.h"

static int	name_one(json_t *, const char *, struct wecom_buf *);
static void	name_candidates(json_t *, const char *);

int
resolve_names(struct opts *o, const struct wecom_conf *conf)
{
	const struct wecom_app_conf	*a;
	struct wecom_buf		 b;
	json_error_t			 jerr;
	json_t				*doc, *users;
	char				 path[PATH_MAX], *list, *p, *item;
	int				 rc;

	if (o->to.touser == NULL || o->webhook != NULL || o->aibot != NULL)
		return (EX_OK);
	a = o->app != NULL ? wecom_conf_app(conf, o->app) :
	    TAILQ_FIRST(&conf->apps);
	if (a == NULL || wecom_contacts_path(conf, a->name, "contacts", path,
	    sizeof(path)) != WECOM_API_OK)
		return (EX_OK);
	if ((doc = json_load_file(path, 0, &jerr)) == NULL) {
		if (access(path, F_OK) == 0)
			fprintf(stderr, "wecom-send: %s: %s: --to is sent as "
			    "given\n", path, jerr.text);
		return (EX_OK);
	}
	users = json_object_get(doc, "users");
	if ((list = strdup(o->to.touser)) == NULL) {
		json_decref(doc);
		return (EX_OSERR);
	}
	memset(&b, 0, sizeof(b));
	rc = EX_OK;
	for (p = list; (item = strsep(&p, "|,")) != NULL;) {
		item += strspn(item, " \t");
		item[strcspn(item, "\t")] = '\0';
		while (*item != '\0' && item[strlen(item) - 1] == ' ')
			item[strlen(item) - 1] = '\0';
		if (*item != '\0' && name_one(users, item, &b) != 0)
			rc = EX_USAGE;
	}
	free(list);
	json_decref(doc);
	if (rc == EX_OK && (o->resolved = wecom_buf_take(&b, NULL)) == NULL)
		rc = EX_OSERR;
	wecom_buf_free(&b);
	if (rc == EX_OK)
		o->to.touser = o->resolved;

	return (rc);
}

/* The item, or the userid of the one member by that name, to b. */
static int
name_one(json_t *users, const char *item, struct wecom_buf *b)
{
	const char	*id, *name, *found;
	json_t		*u;
	size_t		 i, n;

	found = NULL;
	n = 0;
	json_array_foreach(users, i, u) {
		id = json_string_value(json_object_get(u, "userid"));
		/* WeCom's userids: the same regardless of case. */
		if (id != NULL && strcasecmp(id, item) == 0) {
			found = item;
			n = 1;
			break;
		}
		name = json_string_value(json_object_get(u, "name"));
		if (id != NULL && name != NULL && strcmp(name, item) == 0) {
			found = id;
			n++;
		}
	}
	if (n > 1) {
		name_candidates(users, item);
		return (-1);
	}
	wecom_buf_addf(b, "%s%s", b->len > 0 ? "|" : "", n == 1 ? found :
	    item);

	return (0);
}

/* "zhang san: zhangsan (dept 2), zhangsan2 (dept 3, 4)" */
static void
name_candidates(json_t *users, const char *item)
{
	const char	*id, *name;
	json_t		*u, *d;
	size_t		 i, j, n;

	fprintf(stderr, "wecom-send: %s:", item);
	n = 0;
	json_array_foreach(users, i, u) {
		id = json_string_value(json_object_get(u, "userid"));
		name = json_string_value(json_object_get(u, "name"));
		if (id == NULL || name == NULL || strcmp(name, item) != 0)
			continue;
		fprintf(stderr, "%s %s (dept", n++ ? "," : "", id);
		json_array_foreach(json_object_get(u, "department"), j, d)
			fprintf(stderr, "%s %lld", j ? "," : "",
			    (long long)json_integer_value(d));
		fprintf(stderr, ")");
	}
	fprintf(stderr, "\nwecom-send: --to: %zu members have that name: give "
	    "one's userid (nothing sent)\n", n);
}
