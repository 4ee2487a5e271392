/* SPDX-License-Identifier: ISC */
/*
 * The contacts cache files as parsed, kept by the process and lent to
 * any thread while the file is unchanged (the same inode, size and
 * mtime: the refresh replaces it by a rename): a page costs an open
 * and an fstat, not a parse of thousands of members. A table replaced
 * is freed when its last reader is done with it.
 */

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom_contacts.h"
#include "wecom_push_contacts.h"

#define TABLES_MAX	32

struct table {
	struct wecom_contacts_table	 t;	/* first: what readers get */
	char				*path;
	dev_t				 dev;
	ino_t				 ino;
	off_t				 size;
	struct timespec			 mtime;
	json_t				*doc;
	int				 refs;		/* readers */
	int				 cached;	/* in tables[] */
};

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static struct table	*tables[TABLES_MAX];

static struct table	*table_load(int, const struct stat *, const char *,
			    char *, size_t);
static int		 table_entries(json_t *, int,
			    struct wecom_contacts_entry **, size_t *);
static void		 table_install(struct table *);
static void		 table_free(struct table *);
static int		 table_cmp(const void *, const void *);
static size_t		 fold_char(unsigned int, char *);

const struct wecom_contacts_table *
wecom_push_contacts_table(const char *path, int *missing, char *why,
    size_t whylen)
{
	struct stat	 st;
	struct table	*t;
	size_t		 i;
	int		 fd;

	*missing = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1 ||
	    fstat(fd, &st) == -1) {
		*missing = errno == ENOENT;
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	pthread_mutex_lock(&lock);
	for (i = 0; i < TABLES_MAX; i++) {
		t = tables[i];
		if (t != NULL && strcmp(t->path, path) == 0 &&
		    t->dev == st.st_dev && t->ino == st.st_ino &&
		    t->size == st.st_size &&
		    t->mtime.tv_sec == st.st_mtim.tv_sec &&
		    t->mtime.tv_nsec == st.st_mtim.tv_nsec) {
			t->refs++;
			pthread_mutex_unlock(&lock);
			close(fd);
			return (&t->t);
		}
	}
	pthread_mutex_unlock(&lock);

	/* Parsed without the lock: other readers go on meanwhile. */
	t = table_load(fd, &st, path, why, whylen);
	close(fd);
	if (t == NULL)
		return (NULL);
	pthread_mutex_lock(&lock);
	table_install(t);
	t->refs++;
	pthread_mutex_unlock(&lock);

	return (&t->t);
}

void
wecom_push_contacts_table_done(const struct wecom_contacts_table *tb)
{
	struct table	*t = (struct table *)(uintptr_t)tb;

	if (t == NULL)
		return;
	pthread_mutex_lock(&lock);
	if (--t->refs == 0 && !t->cached)
		table_free(t);
	pthread_mutex_unlock(&lock);
}

static struct table *
table_load(int fd, const struct stat *st, const char *path, char *why,
    size_t whylen)
{
	struct table	*t;
	json_error_t	 jerr;
	json_t		*doc;
	char		*buf;
	ssize_t		 n;
	size_t		 len;

	/* Whole, then parsed: jansson reads an fd a byte per read(2). */
	if ((buf = malloc((size_t)st->st_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (NULL);
	}
	for (len = 0; len < (size_t)st->st_size; len += (size_t)n)
		if ((n = read(fd, buf + len, (size_t)st->st_size - len)) <= 0)
			break;
	doc = json_loadb(buf, len, 0, &jerr);
	free(buf);
	if (doc == NULL) {
		snprintf(why, whylen, "%s: line %d: %s", path, jerr.line,
		    jerr.text);
		return (NULL);
	}
	if (json_integer_value(json_object_get(doc, "version")) !=
	    WECOM_CONTACTS_VERSION) {
		snprintf(why, whylen, "%s: not a contacts cache of version %d",
		    path, WECOM_CONTACTS_VERSION);
		json_decref(doc);
		return (NULL);
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->path = strdup(path)) == NULL ||
	    table_entries(json_object_get(doc, "users"), WECOM_CONTACTS_USERS,
	    &t->t.users, &t->t.nusers) != 0 ||
	    table_entries(json_object_get(doc, "departments"),
	    WECOM_CONTACTS_DEPARTMENTS, &t->t.depts, &t->t.ndepts) != 0 ||
	    table_entries(json_object_get(doc, "chats"), WECOM_CONTACTS_CHATS,
	    &t->t.chats, &t->t.nchats) != 0) {
		snprintf(why, whylen, "out of memory");
		if (t != NULL)
			t->doc = doc;
		else
			json_decref(doc);
		table_free(t);
		return (NULL);
	}
	t->doc = doc;
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->size = st->st_size;
	t->mtime = st->st_mtim;

	return (t);
}

/* Each item with the key pages are ordered by: 0 or -1 (memory). */
static int
table_entries(json_t *a, int kind, struct wecom_contacts_entry **out,
    size_t *n)
{
	struct wecom_contacts_entry	*e;
	const char			*s;
	json_t				*x;
	char				 buf[64];
	size_t				 i;

	*n = 0;
	*out = calloc(json_array_size(a) + 1, sizeof(**out));
	if (*out == NULL)
		return (-1);
	json_array_foreach(a, i, x) {
		e = &(*out)[*n];
		e->item = x;
		e->id = json_integer_value(json_object_get(x, "id"));
		e->parent = json_integer_value(json_object_get(x, "parentid"));
		if (kind == WECOM_CONTACTS_DEPARTMENTS) {
			/* Numbers in text order: zero-padded. */
			snprintf(buf, sizeof(buf), "%020lld", (long long)e->id);
			e->key = strdup(buf);
		} else if (kind == WECOM_CONTACTS_CHATS) {
			s = json_string_value(json_object_get(x, "chatid"));
			if (asprintf(&e->key, "%020lld\t%s", (long long)
			    json_integer_value(json_object_get(x, "created")),
			    s ? s : "") == -1)
				e->key = NULL;
		} else {
			s = json_string_value(json_object_get(x, "userid"));
			e->key = strdup(s ? s : "");
		}
		if (e->key == NULL)
			return (-1);
		(*n)++;
		if ((s = json_string_value(json_object_get(x, "name"))) !=
		    NULL && (e->fold = wecom_push_contacts_fold(s)) == NULL)
			return (-1);
	}
	qsort(*out, *n, sizeof(**out), table_cmp);

	return (0);
}

static int
table_cmp(const void *a, const void *b)
{
	const struct wecom_contacts_entry	*x = a, *y = b;

	return (strcmp(x->key, y->key));
}

/* Called with the lock: replaces the path's table, or takes a slot. */
static void
table_install(struct table *t)
{
	struct table	*old;
	size_t		 i, slot;

	slot = TABLES_MAX;
	for (i = 0; i < TABLES_MAX; i++) {
		if (tables[i] != NULL && strcmp(tables[i]->path, t->path) == 0)
			break;
		if (tables[i] == NULL && slot == TABLES_MAX)
			slot = i;
	}
	if (i < TABLES_MAX)
		slot = i;
	else if (slot == TABLES_MAX)
		slot = 0;	/* more files than slots: any will do */
	if ((old = tables[slot]) != NULL) {
		old->cached = 0;
		if (old->refs == 0)
			table_free(old);
	}
	tables[slot] = t;
	t->cached = 1;
}

static void
table_free(struct table *t)
{
	struct wecom_contacts_entry	*v[3];
	size_t				 n[3], i, k;

	if (t == NULL)
		return;
	v[0] = t->t.users, n[0] = t->t.nusers;
	v[1] = t->t.depts, n[1] = t->t.ndepts;
	v[2] = t->t.chats, n[2] = t->t.nchats;
	for (k = 0; k < 3; k++) {
		for (i = 0; v[k] != NULL && i < n[k]; i++) {
			free(v[k][i].key);
			free(v[k][i].fold);
		}
		free(v[k]);
	}
	json_decref(t->doc);
	free(t->path);
	free(t);
}

/*
 * A name for matching regardless of case: UTF-8 with the capitals of
 * Latin, Greek, Cyrillic and the full-width forms made small. Other
 * characters (Chinese has no case) and bytes that are not UTF-8 stay
 * as they are, so a match never starts inside a character.
 */
char *
wecom_push_contacts_fold(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned int		 c;
	char			*out, *o;
	size_t			 n;

	/* A folded character is never longer than the one it replaces. */
	if ((out = malloc(strlen(s) + 1)) == NULL)
		return (NULL);
	for (o = out; *p != '\0'; p += n) {
		n = 1;
		c = *p;
		if (c >= 0xc2 && c <= 0xdf && (p[1] & 0xc0) == 0x80) {
			c = ((c & 0x1f) << 6) | (p[1] & 0x3f);
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef && (p[1] & 0xc0) == 0x80 &&
		    (p[2] & 0xc0) == 0x80) {
			c = ((c & 0x0f) << 12) | ((p[1] & 0x3f) << 6) |
			    (p[2] & 0x3f);
			n = c >= 0x800 ? 3 : 1;
		}
		if (n == 1 && (*p >= 0x80 || c < 0x80)) {
			*o++ = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			continue;
		}
		o += fold_char(c, o);
	}
	*o = '\0';

	return (out);
}

/* One character of two or three bytes, small, as UTF-8 of that length. */
static size_t
fold_char(unsigned int c, char *o)
{
	if ((c >= 0xc0 && c <= 0xde && c != 0xd7) ||		/* À-Þ */
	    (c >= 0x391 && c <= 0x3a9 && c != 0x3a2) ||		/* Α-Ω */
	    (c >= 0x410 && c <= 0x42f))				/* А-Я */
		c += 0x20;
	else if (c >= 0x400 && c <= 0x40f)			/* Ѐ-Џ */
		c += 0x50;
	else if (c >= 0xff21 && c <= 0xff3a)			/* Ａ-Ｚ */
		c += 0x20;
	if (c < 0x800) {
		o[0] = (char)(0xc0 | (c >> 6));
		o[1] = (char)(0x80 | (c & 0x3f));
		return (2);
	}
	o[0] = (char)(0xe0 | (c >> 12));
	o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
	o[2] = (char)(0x80 | (c & 0x3f));

	return (3);
}
