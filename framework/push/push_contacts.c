/* SPDX-License-Identifier: ISC */
/*
 * The contacts API's requests and pages (wecom_push_contacts.h): the
 * query string checked parameter by parameter, the key's scope, then
 * the cached items filtered and cut into pages. A cursor names the
 * last item seen, not a position, so that a refresh between two pages
 * neither repeats nor skips anyone.
 */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wecom_buf.h"
#include "wecom_contacts.h"
#include "wecom_push_contacts.h"

/* The parameters of each path, in enum wecom_contacts_kind's order. */
static const char *const kind_params[] = {
	"app, department, name, userid, limit, cursor",
	"app, parent, limit, cursor",
	"app, name, userid, limit, cursor",
};

static const char	b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct page {
	const struct wecom_contacts_entry	*v;	/* every item */
	size_t					 nv;
	size_t					*m;	/* those matching */
	size_t					 nm;
	size_t					 s, e;	/* m[s..e): shown */
	json_int_t				*under;	/* departments */
	size_t					 nunder;
};

static int	params_one(struct wecom_contacts_query *, const char *,
		    const char *, char *, size_t);
static int	params_number(const char *, long long, long long *);
static int	params_cursor(struct wecom_contacts_query *, const char *);
static int	params_app(struct wecom_contacts_query *,
		    const struct wecom_conf *, const struct wecom_apikey *,
		    char *, size_t);
static int	usable(const struct wecom_conf *, const char *, size_t);
static void	ans_under(const struct wecom_contacts_table *, long long,
		    struct page *);
static int	ans_match(const struct wecom_contacts_query *,
		    const struct wecom_contacts_entry *, const struct page *);
static void	ans_bounds(const struct wecom_contacts_query *, struct page *);
static json_t	*ans_page(const struct wecom_contacts_query *, const char *,
		    const struct page *);
static json_t	*ans_link(const struct wecom_contacts_query *, const char *,
		    int, const char *);
static void	add_enc(struct wecom_buf *, const char *, const char *);

int
wecom_push_contacts_params(struct wecom_contacts_query *q,
    enum wecom_contacts_kind kind, const struct wecom_conf *conf,
    const struct wecom_apikey *key, const char *qs, char *why,
    size_t whylen)
{
	const char	*p, *end;
	char		 name[32];
	size_t		 n;
	int		 status;

	memset(q, 0, sizeof(*q));
	q->kind = kind;
	q->department = q->parent = -1;
	q->limit = WECOM_CONTACTS_LIMIT;
	for (p = qs != NULL ? qs : ""; *p != '\0'; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&");
		if ((n = strcspn(p, "=&")) == 0)
			continue;
		if (n >= sizeof(name) || !wecom_names_has(kind_params[kind], p, n)) {
			snprintf(why, whylen, "%.*s: no such parameter (there "
			    "are: %s)", (int)(n < 32 ? n : 32), p,
			    kind_params[kind]);
			return (400);
		}
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		if ((status = params_one(q, name, qs, why, whylen)) != 0)
			return (status);
	}

	return (params_app(q, conf, key, why, whylen));
}

static int
params_one(struct wecom_contacts_query *q, const char *name, const char *qs,
    char *why, size_t whylen)
{
	long long	 n;
	char		*v;
	int		 ok;

	if ((v = wecom_form_get(qs, name)) == NULL) {
		snprintf(why, whylen, "%s: needs a value (URL-encoded, no NUL)",
		    name);
		return (400);
	}
	ok = 1;
	if (strcmp(name, "app") == 0) {
		free(q->app_buf);
		q->app = q->app_buf = v;
		return (0);
	}
	if (strcmp(name, "name") == 0 || strcmp(name, "userid") == 0) {
		/* Empty: no filter, as a form sends an empty field. */
		if (*v == '\0') {
			free(v);
			return (0);
		}
		if (*name == 'u') {
			free(q->userid);
			q->userid = v;
			return (0);
		}
		free(q->name);
		free(q->fold);
		q->name = v;
		if ((q->fold = wecom_push_contacts_fold(v)) != NULL)
			return (0);
		snprintf(why, whylen, "out of memory");
		return (503);
	}
	if (strcmp(name, "department") == 0)
		ok = params_number(v, LLONG_MAX, &q->department) == 0;
	else if (strcmp(name, "parent") == 0)
		ok = params_number(v, LLONG_MAX, &q->parent) == 0;
	else if (strcmp(name, "limit") == 0) {
		ok = params_number(v, WECOM_CONTACTS_LIMIT_MAX, &n) == 0 &&
		    n >= 1;
		q->limit = (long)n;
	} else
		ok = params_cursor(q, v) == 0;
	free(v);
	if (!ok)
		snprintf(why, whylen, "%s: %s", name, *name == 'c' ?
		    "not one of ours (take next or previous as given)" :
		    *name == 'l' ? "must be 1 to 500" :
		    "must be a department id (a number)");

	return (ok ? 0 : 400);
}

/* Decimal digits only, at most max: 0, or -1. */
static int
params_number(const char *s, long long max, long long *out)
{
	long long	n;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 18)
		return (-1);
	n = strtoll(s, NULL, 10);
	if (n > max)
		return (-1);
	*out = n;

	return (0);
}

/* base64url, unpadded, of "n" or "p" and the key of an item. */
static int
params_cursor(struct wecom_contacts_query *q, const char *s)
{
	const char	*c;
	char		*plain;
	size_t		 i, n;
	unsigned	 bits, acc;

	if ((plain = malloc(strlen(s) + 1)) == NULL)
		return (-1);
	for (i = 0, n = 0, bits = 0, acc = 0; s[i] != '\0'; i++) {
		if ((c = strchr(b64url, s[i])) == NULL) {
			free(plain);
			return (-1);
		}
		acc = (acc << 6) | (unsigned)(c - b64url);
		if ((bits += 6) >= 8) {
			bits -= 8;
			plain[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	plain[n] = '\0';
	if (n < 2 || (plain[0] != 'n' && plain[0] != 'p') ||
	    strlen(plain) != n) {
		free(plain);
		return (-1);
	}
	free(q->cursor);
	q->before = plain[0] == 'p';
	memmove(plain, plain + 1, n);
	q->cursor = plain;

	return (0);
}

/*
 * The app asked for, if the key may read it; else the key's first app
 * with a secret and contacts = yes: its "apps" in
 * order, or with no "apps", its "app", or the config's first.
 */
static int
params_app(struct wecom_contacts_query *q, const struct wecom_conf *conf,
    const struct wecom_apikey *key, char *why, size_t whylen)
{
	const struct wecom_app_conf	*a;
	const char			*p;
	size_t				 n;

	if (q->app != NULL) {
		if (key->apps != NULL && !wecom_names_has(key->apps, q->app,
		    strlen(q->app))) {
			snprintf(why, whylen, "app: this key may not read the "
			    "contacts of %s", q->app);
			return (403);
		}
		if (!usable(conf, q->app, strlen(q->app))) {
			snprintf(why, whylen, "app: no [app %s] with a secret "
			    "and contacts = yes", q->app);
			return (400);
		}
		return (0);
	}
	if (key->apps != NULL) {
		for (p = key->apps + strspn(key->apps, " ,"); *p != '\0';
		    p += n, p += strspn(p, " ,")) {
			n = strcspn(p, " ,");
			if (usable(conf, p, n) && (q->app_buf = strndup(p,
			    n)) != NULL) {
				q->app = q->app_buf;
				return (0);
			}
		}
	} else if (key->app != NULL && usable(conf, key->app,
	    strlen(key->app)))
		q->app = key->app;
	else {
		TAILQ_FOREACH(a, &conf->apps, list)
			if (usable(conf, a->name, strlen(a->name))) {
				q->app = a->name;
				break;
			}
	}
	if (q->app == NULL) {
		snprintf(why, whylen, "app: this key reads no app with a "
		    "secret and contacts = yes");
		return (400);
	}

	return (0);
}

static int
usable(const struct wecom_conf *conf, const char *name, size_t n)
{
	const struct wecom_app_conf	*a;

	TAILQ_FOREACH(a, &conf->apps, list)
		if (strlen(a->name) == n && strncmp(a->name, name, n) == 0)
			return (a->secret != NULL && a->contacts &&
			    a->kind == WECOM_KIND_APP);

	return (0);
}

void
wecom_push_contacts_clear(struct wecom_contacts_query *q)
{
	free(q->app_buf);
	free(q->name);
	free(q->fold);
	free(q->userid);
	free(q->cursor);
	memset(q, 0, sizeof(*q));
}

int
wecom_push_contacts_answer(const struct wecom_conf *conf,
    const struct wecom_contacts_query *q, const char *base, char **body,
    char *why, size_t whylen)
{
	const struct wecom_contacts_table	*t;
	struct page				 pg;
	json_t					*o;
	size_t					 i;
	int					 missing;
	char					 path[PATH_MAX];

	*body = NULL;
	if (wecom_contacts_path(conf, q->app, q->kind == WECOM_CONTACTS_CHATS ?
	    "chats" : "contacts", path, sizeof(path)) != 0) {
		snprintf(why, whylen, "app: %s cannot be a file name", q->app);
		return (503);
	}
	/* No chat was made yet: an empty list, not an error. */
	if ((t = wecom_push_contacts_table(path, &missing, why, whylen)) ==
	    NULL && !(missing && q->kind == WECOM_CONTACTS_CHATS)) {
		if (missing)
			snprintf(why, whylen, "the contacts of %s are not "
			    "fetched yet (a refresh is under way or failed: "
			    "see the server's log)", q->app);
		return (503);
	}
	memset(&pg, 0, sizeof(pg));
	if (t != NULL && q->kind == WECOM_CONTACTS_USERS) {
		pg.v = t->users;
		pg.nv = t->nusers;
		if (q->department >= 0)
			ans_under(t, q->department, &pg);
	} else if (t != NULL) {
		pg.v = q->kind == WECOM_CONTACTS_CHATS ? t->chats : t->depts;
		pg.nv = q->kind == WECOM_CONTACTS_CHATS ? t->nchats : t->ndepts;
	}
	o = NULL;
	if ((pg.m = calloc(pg.nv + 1, sizeof(*pg.m))) != NULL &&
	    (q->department < 0 || pg.under != NULL)) {
		for (i = 0; i < pg.nv; i++)
			if (ans_match(q, &pg.v[i], &pg))
				pg.m[pg.nm++] = i;
		ans_bounds(q, &pg);
		o = ans_page(q, base, &pg);
	}
	if (o != NULL)
		*body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	wecom_push_contacts_table_done(t);
	free(pg.m);
	free(pg.under);
	if (*body == NULL)
		snprintf(why, whylen, "out of memory");

	return (*body != NULL ? 200 : 503);
}

static int
cmp_id(const void *a, const void *b)
{
	json_int_t	x = *(const json_int_t *)a, y = *(const json_int_t *)b;

	return (x < y ? -1 : x > y);
}

/* The department and every one below it, sorted. */
static void
ans_under(const struct wecom_contacts_table *t, long long top,
    struct page *pg)
{
	size_t	i, j, k, n;

	if ((pg->under = calloc(t->ndepts + 1, sizeof(*pg->under))) == NULL)
		return;
	pg->under[0] = top;
	n = 1;
	/* Breadth first; a department already in is not added again. */
	for (k = 0; k < n; k++) {
		for (i = 0; i < t->ndepts && n <= t->ndepts; i++) {
			if (t->depts[i].parent != pg->under[k])
				continue;
			for (j = 0; j < n; j++)
				if (pg->under[j] == t->depts[i].id)
					break;
			if (j == n)
				pg->under[n++] = t->depts[i].id;
		}
	}
	qsort(pg->under, n, sizeof(*pg->under), cmp_id);
	pg->nunder = n;
}

/* Does the item pass every filter given? */
static int
ans_match(const struct wecom_contacts_query *q,
    const struct wecom_contacts_entry *e, const struct page *pg)
{
	const char	*s;
	json_t		*a, *x;
	json_int_t	 id;
	size_t		 i;
	int		 hit;

	if (q->fold != NULL && (e->fold == NULL ||
	    strstr(e->fold, q->fold) == NULL))
		return (0);
	if (q->parent >= 0 && e->parent != q->parent)
		return (0);
	/* WeCom's userids are compared regardless of case, as it does. */
	if (q->userid != NULL && q->kind == WECOM_CONTACTS_USERS &&
	    strcasecmp(e->key, q->userid) != 0)
		return (0);
	if (q->userid != NULL && q->kind == WECOM_CONTACTS_CHATS) {
		hit = 0;
		json_array_foreach(json_object_get(e->item, "users"), i, x)
			hit |= (s = json_string_value(x)) != NULL &&
			    strcasecmp(s, q->userid) == 0;
		if (!hit)
			return (0);
	}
	if (pg->under == NULL)
		return (1);
	a = json_object_get(e->item, "department");
	json_array_foreach(a, i, x) {
		id = json_integer_value(x);
		if (bsearch(&id, pg->under, pg->nunder, sizeof(id),
		    cmp_id) != NULL)
			return (1);
	}

	return (0);
}

/* Which matches the page shows: after the cursor, or just before it. */
static void
ans_bounds(const struct wecom_contacts_query *q, struct page *pg)
{
	size_t	k;

	if (q->cursor == NULL) {
		pg->s = 0;
		pg->e = pg->nm < (size_t)q->limit ? pg->nm : (size_t)q->limit;
		return;
	}
	for (k = 0; k < pg->nm; k++) {
		if (q->before ? strcmp(pg->v[pg->m[k]].key, q->cursor) >= 0 :
		    strcmp(pg->v[pg->m[k]].key, q->cursor) > 0)
			break;
	}
	if (q->before) {
		pg->e = k;
		pg->s = k > (size_t)q->limit ? k - (size_t)q->limit : 0;
	} else {
		pg->s = k;
		pg->e = pg->nm - k > (size_t)q->limit ? k + (size_t)q->limit :
		    pg->nm;
	}
}

/* {"count", "next", "previous", "results"}: copies of the items. */
static json_t *
ans_page(const struct wecom_contacts_query *q, const char *base,
    const struct page *pg)
{
	const char	*first, *last;
	json_t		*res;
	size_t		 i;

	if ((res = json_array()) == NULL)
		return (NULL);
	/* Copies: the cached items are shared by every thread. */
	for (i = pg->s; i < pg->e; i++)
		json_array_append_new(res, json_deep_copy(
		    pg->v[pg->m[i]].item));
	/* An empty page (all gone since): the way back from the cursor. */
	first = pg->e > pg->s ? pg->v[pg->m[pg->s]].key : q->cursor;
	last = pg->e > pg->s ? pg->v[pg->m[pg->e - 1]].key : q->cursor;

	return (json_pack("{s:I, s:o, s:o, s:o}", "count",
	    (json_int_t)pg->nm, "next", pg->e < pg->nm && last != NULL ?
	    ans_link(q, base, 0, last) : json_null(), "previous",
	    pg->s > 0 && first != NULL ? ans_link(q, base, 1, first) :
	    json_null(), "results", res));
}

/* The same query for the page after (or before) the item of key. */
static json_t *
ans_link(const struct wecom_contacts_query *q, const char *base, int before,
    const char *key)
{
	struct wecom_buf	 b;
	json_t			*v;
	char			*url;
	const unsigned char	*p;
	unsigned		 acc, bits;

	memset(&b, 0, sizeof(b));
	wecom_buf_addf(&b, "%s?", base);
	add_enc(&b, "app", q->app);
	if (q->department >= 0)
		wecom_buf_addf(&b, "department=%lld&", q->department);
	if (q->parent >= 0)
		wecom_buf_addf(&b, "parent=%lld&", q->parent);
	add_enc(&b, "name", q->name);
	add_enc(&b, "userid", q->userid);
	if (q->limit != WECOM_CONTACTS_LIMIT)
		wecom_buf_addf(&b, "limit=%ld&", q->limit);
	wecom_buf_addf(&b, "cursor=%c", b64url[(before ? 'p' : 'n') >> 2]);
	acc = (unsigned)(before ? 'p' : 'n') & 3;
	bits = 2;
	for (p = (const unsigned char *)key; *p != '\0'; p++) {
		acc = (acc << 8) | *p;
		for (bits += 8; bits >= 6; bits -= 6)
			wecom_buf_add(&b, &b64url[(acc >> (bits - 6)) & 63], 1);
	}
	if (bits > 0)
		wecom_buf_add(&b, &b64url[(acc << (6 - bits)) & 63], 1);
	if ((url = wecom_buf_take(&b, NULL)) == NULL)
		return (json_null());
	v = json_string(url);
	free(url);

	return (v != NULL ? v : json_null());
}

/* name=value& with the value percent-encoded, if there is one. */
static void
add_enc(struct wecom_buf *b, const char *name, const char *value)
{
	const unsigned char	*p;

	if (value == NULL)
		return;
	wecom_buf_addf(b, "%s=", name);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			wecom_buf_add(b, p, 1);
		else
			wecom_buf_addf(b, "%%%02X", *p);
	}
	wecom_buf_add(b, "&", 1);
}
