/* SPDX-License-Identifier: ISC */
/*
 * An entry of the log, copied from what the caller has into one
 * allocation: the strings, and the fields by path. The copy is all a
 * callback pays for being logged; SQLite comes later, on the writer
 * thread.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "msglog_private.h"

/* Fields never kept: a bot's response_url and a kf callback's Token
 * let whoever holds them act for a while (never a secret in the log). */
static const char	*withheld[] = { "response_url", "Token", NULL };

struct sizer {
	size_t	len;
	size_t	npairs;
};

static size_t	entry_str(const char *);
static int	entry_keep(const struct wecom_xml *, size_t, const char **,
		    const char **);
static void	entry_pairs(const struct wecom_xml *, struct sizer *, char *);
static char	*entry_copy(char **, const char *);

struct msglog_entry *
wecom_msglog_flatten(const struct wecom_msglog_rec *rec)
{
	struct msglog_entry	*e;
	struct sizer		 sz;
	char			*p;

	memset(&sz, 0, sizeof(sz));
	if (rec->xml != NULL)
		entry_pairs(rec->xml, &sz, NULL);
	sz.len += sizeof(*e) + entry_str(rec->direction) + entry_str(rec->app) +
	    entry_str(rec->channel) + entry_str(rec->type) +
	    entry_str(rec->sender) + entry_str(rec->chat) +
	    entry_str(rec->msgid) + entry_str(rec->content) +
	    (rec->doc != NULL ? rec->doclen + 1 : 0);
	if ((e = malloc(sz.len)) == NULL)
		return (NULL);

	memset(e, 0, sizeof(*e));
	e->size = sz.len;
	e->time = rec->time != 0 ? rec->time : (int64_t)time(NULL);
	p = e->data;
	e->direction = entry_copy(&p, rec->direction);
	e->app = entry_copy(&p, rec->app);
	e->channel = entry_copy(&p, rec->channel);
	e->type = entry_copy(&p, rec->type);
	e->sender = entry_copy(&p, rec->sender);
	e->chat = entry_copy(&p, rec->chat);
	e->msgid = entry_copy(&p, rec->msgid);
	e->content = entry_copy(&p, rec->content);
	if (rec->doc != NULL) {
		memcpy(p, rec->doc, rec->doclen);
		p[rec->doclen] = '\0';
		e->doc = p;
		e->doclen = rec->doclen;
		e->doc_json = rec->doc_json;
		p += rec->doclen + 1;
	}
	if (rec->xml != NULL) {
		e->pairs = p;
		entry_pairs(rec->xml, &sz, p);
		e->npairs = sz.npairs;
	}

	return (e);
}

static size_t
entry_str(const char *s)
{
	return (s != NULL ? strlen(s) + 1 : 0);
}

static char *
entry_copy(char **p, const char *s)
{
	char	*out;
	size_t	 len;

	if (s == NULL)
		return (NULL);
	len = strlen(s) + 1;
	out = memcpy(*p, s, len);
	*p += len;

	return (out);
}

/*
 * Field i, unless withheld, or an element that only holds others: it
 * ends right after its last descendant (xml.c's order) with no text.
 */
static int
entry_keep(const struct wecom_xml *x, size_t i, const char **path,
    const char **value)
{
	const char	*prev, *pv;
	size_t		 n, plen;

	wecom_xml_field(x, i, path, value);
	for (n = 0; withheld[n] != NULL; n++)
		if (strcmp(*path, withheld[n]) == 0)
			return (0);
	if (**value != '\0' || i == 0)
		return (1);
	wecom_xml_field(x, i - 1, &prev, &pv);
	plen = strlen(*path);

	return (!(strncmp(prev, *path, plen) == 0 && prev[plen] == '/'));
}

/* Sizes the kept fields (out NULL), or copies them to out. */
static void
entry_pairs(const struct wecom_xml *x, struct sizer *sz, char *out)
{
	const char	*path, *value;
	char		 big[48];
	size_t		 i, n, plen, vlen;

	n = 0;
	for (i = 0; i < wecom_xml_nfields(x); i++) {
		if (!entry_keep(x, i, &path, &value))
			continue;
		plen = strlen(path) + 1;
		/* A base64 image is no text to search or read: its size. */
		if ((vlen = strlen(value)) > MSGLOG_VALUE_MAX) {
			snprintf(big, sizeof(big), "[%zu bytes]", vlen);
			value = big;
			vlen = strlen(big);
		}
		if (out != NULL) {
			memcpy(out, path, plen);
			memcpy(out + plen, value, vlen + 1);
			out += plen + vlen + 1;
		} else
			sz->len += plen + vlen + 1;
		n++;
	}
	sz->npairs = n;
}
