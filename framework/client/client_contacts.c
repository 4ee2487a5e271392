/* SPDX-License-Identifier: ISC */
/*
 * The contacts cache (wecom_contacts.h): an app's directory fetched
 * whole — department/list, then user/list of each department — and the
 * group chats it created. Files are replaced, never edited in place:
 * a refresh that fails half-way leaves the last good file as it was.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "wecom_contacts.h"

/*
 * user/list errcodes that skip one department instead of failing the
 * whole refresh: not in the app's visible range (60011), or deleted
 * since department/list answered (60123).
 */
#define SKIPPED(e)	((e) == 60011 || (e) == 60123)

static int	cts_users(struct wecom_client *, json_t *, json_t *,
		    struct wecom_contacts_stats *, struct wecom_api_error *);
static int	cts_merge(json_t *, json_t *);
static json_t	*cts_sorted(json_t *, int (*)(const void *, const void *));
static int	cts_by_id(const void *, const void *);
static int	cts_by_userid(const void *, const void *);
static int	cts_write(struct wecom_client *, const char *, json_t *,
		    struct wecom_api_error *);

int
wecom_contacts_path(const struct wecom_conf *conf, const char *app,
    const char *kind, char *buf, size_t len)
{
	const unsigned char	*p;
	int			 n;

	/* The name becomes part of a path: nothing that leaves the dir. */
	if (app == NULL || *app == '\0' || *app == '.')
		return (WECOM_API_ERR_CONFIG);
	for (p = (const unsigned char *)app; *p != '\0'; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return (WECOM_API_ERR_CONFIG);
	n = snprintf(buf, len, "%s/%s-%s.json", conf->state_dir, kind, app);

	return (n < 0 || (size_t)n >= len ? WECOM_API_ERR_IO : WECOM_API_OK);
}

int
wecom_contacts_refresh(struct wecom_client *c,
    struct wecom_contacts_stats *st, struct wecom_api_error *err)
{
	json_t	*ans, *users, *doc;
	char	 path[PATH_MAX];
	int	 rc;

	memset(st, 0, sizeof(*st));
	wecom_client_err_clear(err);
	if (c->app == NULL || wecom_contacts_path(c->conf, c->app->name,
	    "contacts", path, sizeof(path)) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no app, or an app name that cannot be a file name"));
	if ((rc = wecom_client_get_json(c, "department/list", NULL, &ans,
	    err)) != WECOM_API_OK)
		return (rc);
	doc = NULL;
	if ((users = json_object()) == NULL)
		rc = wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory");
	else if ((rc = cts_users(c, json_object_get(ans, "department"), users,
	    st, err)) == WECOM_API_OK) {
		doc = json_pack("{s:i, s:s, s:I, s:o, s:o}", "version",
		    WECOM_CONTACTS_VERSION, "app", c->app->name, "refreshed",
		    (json_int_t)time(NULL), "departments", cts_sorted(
		    json_object_get(ans, "department"), cts_by_id),
		    "users", cts_sorted(users, cts_by_userid));
		rc = doc == NULL ? wecom_client_err_set(err,
		    WECOM_API_ERR_NOMEM, 0, "out of memory") :
		    cts_write(c, path, doc, err);
	}
	json_decref(doc);
	json_decref(users);
	json_decref(ans);

	return (rc);
}


/* user/list of each department, merged into users (userid → member). */
static int
cts_users(struct wecom_client *c, json_t *depts, json_t *users,
    struct wecom_contacts_stats *st, struct wecom_api_error *err)
{
	json_t	*d, *ans, *u;
	size_t	 i, j;
	char	 q[48];
	int	 rc;

	if (!json_is_array(depts))
		return (wecom_client_err_set(err, WECOM_API_ERR_PROTOCOL, 0,
		    "department/list answered without a department list"));
	json_array_foreach(depts, i, d) {
		if (!json_is_integer(json_object_get(d, "id")))
			continue;
		st->departments++;
		snprintf(q, sizeof(q), "department_id=%lld", (long long)
		    json_integer_value(json_object_get(d, "id")));
		if ((rc = wecom_client_get_json(c, "user/list", q, &ans, err)) !=
		    WECOM_API_OK) {
			if (rc == WECOM_API_ERR_REJECTED &&
			    SKIPPED(err->errcode)) {
				st->skipped++;
				wecom_client_err_clear(err);
				continue;
			}
			return (rc);
		}
		json_array_foreach(json_object_get(ans, "userlist"), j, u) {
			if (cts_merge(users, u) != 0) {
				json_decref(ans);
				return (wecom_client_err_set(err,
				    WECOM_API_ERR_NOMEM, 0, "out of memory"));
			}
		}
		json_decref(ans);
	}
	st->users = json_object_size(users);

	return (WECOM_API_OK);
}

/*
 * A member as WeCom gave them, once: seen again in another department,
 * only the ids of "department" they lacked are added (the arrays that
 * go with it, "order" and "is_leader_in_dept", stay as first seen).
 */
static int
cts_merge(json_t *users, json_t *u)
{
	json_t		*old, *od, *nd, *v, *w;
	const char	*id;
	size_t		 i, j;
	int		 seen;

	if ((id = json_string_value(json_object_get(u, "userid"))) == NULL)
		return (0);
	/* Withheld (newer apps): null, so that readers need not guess. */
	if (!json_is_string(json_object_get(u, "name")) &&
	    json_object_set_new(u, "name", json_null()) != 0)
		return (-1);
	if ((old = json_object_get(users, id)) == NULL)
		return (json_object_set(users, id, u));
	od = json_object_get(old, "department");
	nd = json_object_get(u, "department");
	if (!json_is_array(nd))
		return (0);
	if (!json_is_array(od))
		return (json_object_set(old, "department", nd));
	json_array_foreach(nd, i, v) {
		seen = 0;
		json_array_foreach(od, j, w)
			seen |= json_equal(v, w);
		if (!seen && json_array_append(od, v) != 0)
			return (-1);
	}

	return (0);
}

/* An array (or an object's values) sorted: a new array. */
static json_t *
cts_sorted(json_t *from, int (*cmp)(const void *, const void *))
{
	json_t		**v, *out, *x;
	const char	 *k;
	size_t		  i, n;

	n = json_is_array(from) ? json_array_size(from) :
	    json_object_size(from);
	if ((out = json_array()) == NULL)
		return (NULL);
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		json_decref(out);
		return (NULL);
	}
	i = 0;
	if (json_is_array(from)) {
		json_array_foreach(from, i, x)
			v[i] = x;
	} else {
		json_object_foreach(from, k, x)
			v[i++] = x;
	}
	qsort(v, n, sizeof(*v), cmp);
	for (i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);

	return (out);
}

static int
cts_by_id(const void *a, const void *b)
{
	json_int_t	x, y;

	x = json_integer_value(json_object_get(*(json_t *const *)a, "id"));
	y = json_integer_value(json_object_get(*(json_t *const *)b, "id"));

	return (x < y ? -1 : x > y);
}

static int
cts_by_userid(const void *a, const void *b)
{
	const char	*x, *y;

	x = json_string_value(json_object_get(*(json_t *const *)a, "userid"));
	y = json_string_value(json_object_get(*(json_t *const *)b, "userid"));

	return (strcmp(x ? x : "", y ? y : ""));
}

/* mkostemp + 0600 + fsync + rename: readers see the old or the new. */
static int
cts_write(struct wecom_client *c, const char *path, json_t *doc,
    struct wecom_api_error *err)
{
	const char	*base;
	char		 tmp[PATH_MAX], *text;
	size_t		 len, off;
	ssize_t		 w;
	int		 fd, n, rc;

	if ((rc = wecom_client_state_dir(c, err)) != WECOM_API_OK)
		return (rc);
	/* In one piece: jansson writes an fd a token per write(2). */
	if ((text = json_dumps(doc, JSON_COMPACT)) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));
	len = strlen(text);
	text[len++] = '\n';	/* over the NUL, which is not written */
	base = strrchr(path, '/') + 1;
	n = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", (int)(base - path),
	    path, base);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "state_dir path too long"));
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		free(text);
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot create a file in %s: %s", c->conf->state_dir,
		    strerror(errno)));
	}
	for (off = 0; off < len; off += (size_t)w) {
		if ((w = write(fd, text + off, len - off)) == -1 &&
		    errno != EINTR)
			break;
		if (w == -1)
			w = 0;
	}
	if (off < len || fchmod(fd, 0600) == -1 || fsync(fd) == -1 ||
	    rename(tmp, path) == -1) {
		rc = wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
	}
	close(fd);
	free(text);

	return (rc);
}

/* The chat as appchat/create was asked to make it. */
static json_t *
cts_chat(const char *chatid, const char *name, const char *owner,
    const char *userlist)
{
	json_t	*users;
	char	*list, *p, *tok;

	if ((users = json_array()) == NULL)
		return (NULL);
	if ((list = wecom_client_join(userlist)) != NULL) {
		for (p = list; (tok = strsep(&p, "|")) != NULL;)
			if (*tok != '\0')
				json_array_append_new(users, json_string(tok));
		free(list);
	}

	return (json_pack("{s:s, s:s?, s:s?, s:o, s:I}", "chatid", chatid,
	    "name", name, "owner", owner, "users", users, "created",
	    (json_int_t)time(NULL)));
}

/* chats-APP.json as it is (a new one if there is none), under lock. */
static json_t *
cts_chats_load(const char *path, struct wecom_api_error *err)
{
	json_error_t	 jerr;
	json_t		*doc;

	if (access(path, F_OK) == -1 && errno == ENOENT)
		return (json_pack("{s:i, s:[]}", "version",
		    WECOM_CONTACTS_VERSION, "chats"));
	/* Unreadable: kept for a human, not replaced by a list of one. */
	if ((doc = json_load_file(path, 0, &jerr)) == NULL ||
	    !json_is_array(json_object_get(doc, "chats"))) {
		json_decref(doc);
		wecom_client_err_set(err, WECOM_API_ERR_IO, 0, "%s: not a "
		    "list of chats: %s", path, jerr.text);
		return (NULL);
	}

	return (doc);
}

/* The lock file beside chats-APP.json, which itself is replaced. */
static int
cts_lock(const char *path, struct wecom_api_error *err)
{
	char	lock[PATH_MAX];
	int	fd, n;

	n = snprintf(lock, sizeof(lock), "%.*s.lock", (int)(strlen(path) -
	    5), path);
	if (n < 0 || (size_t)n >= sizeof(lock)) {
		wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "state_dir path too long");
		return (-1);
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1) {
		wecom_client_err_set(err, WECOM_API_ERR_IO, 0, "cannot open "
		    "%s: %s", lock, strerror(errno));
		return (-1);
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno != EINTR) {
			wecom_client_err_set(err, WECOM_API_ERR_IO, 0, "cannot "
			    "lock %s: %s", lock, strerror(errno));
			close(fd);
			return (-1);
		}
	}

	return (fd);
}

int
wecom_contacts_chat_add(struct wecom_client *c, const char *chatid,
    const char *name, const char *owner, const char *userlist,
    struct wecom_api_error *err)
{
	json_t		*doc, *chats, *chat, *x;
	const char	*id;
	char		 path[PATH_MAX];
	size_t		 i;
	int		 fd, rc;

	wecom_client_err_clear(err);
	if (c->app == NULL || wecom_contacts_path(c->conf, c->app->name,
	    "chats", path, sizeof(path)) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no app, or an app name that cannot be a file name"));
	if ((rc = wecom_client_state_dir(c, err)) != WECOM_API_OK)
		return (rc);
	if ((fd = cts_lock(path, err)) == -1)
		return (WECOM_API_ERR_IO);
	rc = WECOM_API_ERR_IO;
	if ((doc = cts_chats_load(path, err)) != NULL) {
		chats = json_object_get(doc, "chats");
		/* A chatid made again (after WeCom dismissed it): once. */
		json_array_foreach(chats, i, x) {
			id = json_string_value(json_object_get(x, "chatid"));
			if (id != NULL && strcmp(id, chatid) == 0) {
				json_array_remove(chats, i);
				break;
			}
		}
		json_object_set_new(doc, "app", json_string(c->app->name));
		if ((chat = cts_chat(chatid, name, owner, userlist)) != NULL &&
		    json_array_append_new(chats, chat) == 0)
			rc = cts_write(c, path, doc, err);
		json_decref(doc);
	}
	close(fd);	/* releases the lock */

	return (rc);
}
