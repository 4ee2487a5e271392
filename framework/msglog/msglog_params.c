/* SPDX-License-Identifier: ISC */
/*
 * The query string of GET /api/v1/messages, read by hand (Kore's parser
 * drops undeclared arguments and mangles '+'), and the links to the
 * next and previous pages. A parameter that cannot be read is refused
 * by name: a filter silently ignored would answer the wrong question.
 * Cursors are opaque to callers: base64url of a direction and an id.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom.h"
#include "wecom_buf.h"
#include "msglog_private.h"

#define Q_MAX		256		/* bytes of a full-text search */

static const char	b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int	params_one(struct wecom_msglog_query *, char *, char *,
		    char *, size_t);
static int	params_text(struct wecom_msglog_query *, const char *, char *,
		    char *, size_t);
static int	params_decode(char *);
static int	params_time(const char *, int64_t *);
static int	params_number(const char *, size_t, int *);
static int	params_offset(const char *, long *);
static int	params_cursor(struct wecom_msglog_query *, const char *);
static void	params_add(struct wecom_buf *, const char *, const char *);
static void	params_encode(char *, size_t, int, int64_t);

int
wecom_msglog_params(struct wecom_msglog_query *q, const char *qs, char *why,
    size_t whylen)
{
	char	*p, *pair, *eq;

	memset(q, 0, sizeof(*q));
	q->limit = WECOM_MSGLOG_LIMIT;
	if ((q->buf = strdup(qs != NULL ? qs : "")) == NULL) {
		snprintf(why, whylen, "out of memory");
		return (503);
	}
	p = q->buf;
	while ((pair = strsep(&p, "&")) != NULL) {
		if (*pair == '\0')
			continue;
		if ((eq = strchr(pair, '=')) != NULL)
			*eq++ = '\0';
		if (params_decode(pair) != WECOM_OK || (eq != NULL &&
		    params_decode(eq) != WECOM_OK)) {
			snprintf(why, whylen, "bad percent-encoding in the "
			    "query string");
			return (400);
		}
		if (params_one(q, pair, eq != NULL ? eq : "", why, whylen) !=
		    0)
			return (400);
	}
	if (q->since != 0 && q->until != 0 && q->until <= q->since) {
		snprintf(why, whylen, "until: must be later than since");
		return (400);
	}

	return (0);
}

void
wecom_msglog_query_clear(struct wecom_msglog_query *q)
{
	free(q->buf);
	q->buf = NULL;
}

/* One name=value; an empty value is as good as none (an empty form). */
static int
params_one(struct wecom_msglog_query *q, char *name, char *value, char *why,
    size_t whylen)
{
	size_t	 i;
	char	*end;
	int	 rc;

	if ((rc = params_text(q, name, value, why, whylen)) != 1)
		return (rc);
	if (*value == '\0')
		return (0);
	if (strcmp(name, "since") == 0 || strcmp(name, "until") == 0) {
		if (params_time(value, name[0] == 's' ? &q->since :
		    &q->until) != WECOM_OK) {
			snprintf(why, whylen, "%s: not a time (unix seconds, "
			    "or ISO 8601 such as 2025-01-31T08:00:00Z)", name);
			return (-1);
		}
		return (0);
	}
	if (strcmp(name, "limit") == 0) {
		q->limit = strtol(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end != '\0' ||
		    q->limit < 1 || q->limit > WECOM_MSGLOG_LIMIT_MAX) {
			snprintf(why, whylen, "limit: must be 1 to %d",
			    WECOM_MSGLOG_LIMIT_MAX);
			return (-1);
		}
		return (0);
	}
	if (strcmp(name, "cursor") == 0) {
		if (params_cursor(q, value) != WECOM_OK) {
			snprintf(why, whylen, "cursor: not one of ours (take "
			    "next or previous as they are)");
			return (-1);
		}
		return (0);
	}
	/* Its name, as far as it is printable. */
	for (i = 0; name[i] != '\0' && i < 32; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '_')
			name[i] = '?';
	name[i] = '\0';
	snprintf(why, whylen, "%s: unknown parameter (app, type, sender, chat, "
	    "direction, since, until, q, limit, cursor)", name);

	return (-1);
}

/* A filter by text: 0, -1 if refused, 1 if name is none of them. */
static int
params_text(struct wecom_msglog_query *q, const char *name, char *value,
    char *why, size_t whylen)
{
	static const char	*names[] = { "app", "type", "sender", "chat",
				    "direction", "q", NULL };
	const char		**slots[] = { &q->app, &q->type, &q->sender,
				    &q->chat, &q->direction, &q->q };
	size_t			 i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			break;
	if (names[i] == NULL)
		return (1);
	if (*slots[i] != NULL) {
		snprintf(why, whylen, "%s: given twice", name);
		return (-1);
	}
	*slots[i] = *value != '\0' ? value : NULL;
	if (q->direction != NULL && strcmp(q->direction, "in") != 0 &&
	    strcmp(q->direction, "out") != 0) {
		snprintf(why, whylen, "direction: must be in or out");
		return (-1);
	}
	if (q->q != NULL && strlen(q->q) > Q_MAX) {
		snprintf(why, whylen, "q: longer than %d bytes", Q_MAX);
		return (-1);
	}

	return (0);
}

/* In place: %XX, and '+' as a space, as forms send them. */
static int
params_decode(char *s)
{
	char	*out;
	int	 hi, lo;

	for (out = s; *s != '\0'; s++) {
		if (*s == '+') {
			*out++ = ' ';
		} else if (*s == '%') {
			if (!isxdigit((unsigned char)s[1]) ||
			    !isxdigit((unsigned char)s[2]))
				return (WECOM_ERROR);
			hi = isdigit((unsigned char)s[1]) ? s[1] - '0' :
			    (tolower((unsigned char)s[1]) - 'a' + 10);
			lo = isdigit((unsigned char)s[2]) ? s[2] - '0' :
			    (tolower((unsigned char)s[2]) - 'a' + 10);
			if (hi == 0 && lo == 0)
				return (WECOM_ERROR);	/* %00 */
			*out++ = (char)(hi * 16 + lo);
			s += 2;
		} else
			*out++ = *s;
	}
	*out = '\0';

	return (WECOM_OK);
}

/*
 * Unix seconds, or ISO 8601: 2025-01-31, 2025-01-31T08:00, …T08:00:00,
 * with Z, +08:00 or +0800 (a '+' read as a space is one); no zone is
 * UTC.
 */
static int
params_time(const char *s, int64_t *t)
{
	struct tm	 tm;
	const char	*p;
	long		 off = 0;
	int		 v[6] = { 0 };
	static const int len[6] = { 4, 2, 2, 2, 2, 2 };
	static const char sep[6] = { 0, '-', '-', 'T', ':', ':' };
	size_t		 i;

	if (s[strspn(s, "0123456789")] == '\0' && strlen(s) <= 12) {
		*t = strtoll(s, NULL, 10);
		return (*t > 0 ? WECOM_OK : WECOM_ERROR);
	}
	for (i = 0, p = s; i < 6; i++) {
		if (i > 0 && (*p != sep[i] && !(i == 3 && *p == ' ')))
			break;
		if (i > 0)
			p++;
		if (params_number(p, len[i], &v[i]) != WECOM_OK)
			return (WECOM_ERROR);
		p += len[i];
	}
	/* A date, or a date and at least hours and minutes. */
	if (i < 3 || i == 4 || params_offset(p, &off) != WECOM_OK)
		return (WECOM_ERROR);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = v[0] - 1900;
	tm.tm_mon = v[1] - 1;
	tm.tm_mday = v[2];
	tm.tm_hour = v[3];
	tm.tm_min = v[4];
	tm.tm_sec = v[5];
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[3] > 23 || v[4] > 59 ||
	    v[5] > 60)
		return (WECOM_ERROR);
	*t = (int64_t)timegm(&tm) - off;
	/* timegm() moves 31 February on: the calendar said no. */
	if (tm.tm_mday != v[2])
		return (WECOM_ERROR);

	return (*t > 0 ? WECOM_OK : WECOM_ERROR);
}

static int
params_number(const char *p, size_t n, int *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return (WECOM_ERROR);
		*v = *v * 10 + (p[i] - '0');
	}

	return (WECOM_OK);
}

/* "", Z, ±HH:MM or ±HHMM (a space for '+'): seconds east of UTC. */
static int
params_offset(const char *p, long *off)
{
	int	sign, h, m;

	*off = 0;
	if (*p == '\0' || (p[0] == 'Z' && p[1] == '\0'))
		return (WECOM_OK);
	if (*p != '+' && *p != '-' && *p != ' ')
		return (WECOM_ERROR);
	sign = *p++ == '-' ? -1 : 1;
	if (params_number(p, 2, &h) != WECOM_OK)
		return (WECOM_ERROR);
	p += 2;
	if (*p == ':')
		p++;
	if (params_number(p, 2, &m) != WECOM_OK || p[2] != '\0' || h > 23 ||
	    m > 59)
		return (WECOM_ERROR);
	*off = sign * (h * 3600L + m * 60L);

	return (WECOM_OK);
}

/* "o<id>": rows older than id; "n<id>": newer. */
static int
params_cursor(struct wecom_msglog_query *q, const char *s)
{
	char		 plain[32];
	const char	*c;
	char		*end;
	size_t		 i, n;
	unsigned	 bits, acc;

	for (i = 0, n = 0, bits = 0, acc = 0; s[i] != '\0'; i++) {
		if ((c = strchr(b64url, s[i])) == NULL ||
		    n >= sizeof(plain) - 1)
			return (WECOM_ERROR);
		acc = (acc << 6) | (unsigned)(c - b64url);
		if ((bits += 6) >= 8) {
			bits -= 8;
			plain[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	plain[n] = '\0';
	if (n < 2 || (plain[0] != 'o' && plain[0] != 'n') ||
	    !isdigit((unsigned char)plain[1]))
		return (WECOM_ERROR);
	q->newer = plain[0] == 'n';
	q->cursor = strtoll(plain + 1, &end, 10);

	return (*end == '\0' && q->cursor > 0 ? WECOM_OK : WECOM_ERROR);
}

/* The same query, one page on: base?filters&limit&cursor. */
char *
wecom_msglog_link(const struct wecom_msglog_query *q, const char *base,
    int64_t id, int newer)
{
	struct wecom_buf	 b;
	char			 num[32];

	memset(&b, 0, sizeof(b));
	wecom_buf_addf(&b, "%s?", base);
	params_add(&b, "app", q->app);
	params_add(&b, "type", q->type);
	params_add(&b, "sender", q->sender);
	params_add(&b, "chat", q->chat);
	params_add(&b, "direction", q->direction);
	snprintf(num, sizeof(num), "%lld", (long long)q->since);
	params_add(&b, "since", q->since ? num : NULL);
	snprintf(num, sizeof(num), "%lld", (long long)q->until);
	params_add(&b, "until", q->until ? num : NULL);
	params_add(&b, "q", q->q);
	snprintf(num, sizeof(num), "%ld", q->limit);
	params_add(&b, "limit", q->limit != WECOM_MSGLOG_LIMIT ? num : NULL);
	params_encode(num, sizeof(num), newer, id);
	wecom_buf_addf(&b, "cursor=%s", num);

	return (wecom_buf_take(&b, NULL));
}

/* base64url, unpadded, of "o<id>" or "n<id>". */
static void
params_encode(char *out, size_t outlen, int newer, int64_t id)
{
	char		 plain[24];
	size_t		 i, n, o;
	unsigned	 acc, bits;

	n = (size_t)snprintf(plain, sizeof(plain), "%c%lld", newer ? 'n' :
	    'o', (long long)id);
	for (i = 0, o = 0, acc = 0, bits = 0; i < n; i++) {
		acc = (acc << 8) | (unsigned char)plain[i];
		for (bits += 8; bits >= 6 && o < outlen - 1; bits -= 6)
			out[o++] = b64url[(acc >> (bits - 6)) & 63];
	}
	if (bits > 0 && o < outlen - 1)
		out[o++] = b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
}

/* name=value& with value percent-encoded. */
static void
params_add(struct wecom_buf *b, const char *name, const char *value)
{
	const unsigned char	*p;

	if (value == NULL)
		return;
	wecom_buf_addf(b, "%s=", name);
	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (isalnum(*p) || strchr("-._~", *p) != NULL)
			wecom_buf_add(b, p, 1);
		else
			wecom_buf_addf(b, "%%%02X", *p);
	}
	wecom_buf_add(b, "&", 1);
}
