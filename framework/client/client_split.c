/* SPDX-License-Identifier: ISC */
/*
 * WeCom refuses text beyond 2048 bytes and markdown beyond 4096 (45002)
 * and some clients cut silently: we never do. Long content is split on
 * UTF-8 character boundaries, preferring a line break, then a blank,
 * into parts marked "(1/3) ", or truncated with a visible notice.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"

#define NOTICE_FMT	"\n…(truncated: %zu more bytes)"

static size_t	cut(const char *, size_t, size_t, size_t *);
static size_t	count_parts(const char *, size_t, size_t);
static int	split_parts(const char *, size_t, size_t, size_t,
		    char **);
static int	truncate_one(const char *, size_t, size_t, char **);

int
wecom_split(const char *text, size_t len, size_t limit, int mode,
    char ***parts, size_t *nparts)
{
	char	**v;
	size_t	  n, guess, mw;
	int	  rc;

	*parts = NULL;
	*nparts = 0;
	if (limit < 64)
		return (WECOM_API_ERR_ARG);
	n = 1;
	if (len > limit && mode != WECOM_LONG_TRUNCATE) {
		/* The marker's width depends on the count, and back. */
		guess = 1;
		for (;;) {
			mw = (size_t)snprintf(NULL, 0, "(%zu/%zu) ", guess,
			    guess);
			n = count_parts(text, len, limit - mw);
			if (n <= guess)
				break;
			guess = n;
		}
	}
	if ((v = calloc(n, sizeof(*v))) == NULL)
		return (WECOM_API_ERR_NOMEM);

	if (len <= limit)
		rc = (v[0] = strndup(text, len)) ? WECOM_API_OK :
		    WECOM_API_ERR_NOMEM;
	else if (mode == WECOM_LONG_TRUNCATE)
		rc = truncate_one(text, len, limit, &v[0]);
	else
		rc = split_parts(text, len, limit, n, v);
	if (rc != WECOM_API_OK) {
		wecom_split_free(v, n);
		return (rc);
	}
	*parts = v;
	*nparts = n;

	return (WECOM_API_OK);
}

void
wecom_split_free(char **parts, size_t n)
{
	size_t	i;

	if (parts == NULL)
		return;
	for (i = 0; i < n; i++)
		free(parts[i]);
	free(parts);
}

/*
 * How much of s (len bytes) goes into a part of at most budget bytes;
 * *skip is the separator dropped between this part and the next.
 */
static size_t
cut(const char *s, size_t len, size_t budget, size_t *skip)
{
	size_t	p, i;

	*skip = 0;
	if (len <= budget)
		return (len);
	for (p = budget; p > budget / 2; p--) {
		if (s[p] == '\n') {
			*skip = 1;
			return (p);
		}
	}
	for (p = budget; p > budget / 2; p--) {
		if (s[p] == ' ') {
			*skip = 1;
			return (p);
		}
	}
	/* s[budget] starts the next part: step back off a continuation. */
	p = budget;
	for (i = 0; i < 3 && p > 0 && ((unsigned char)s[p] & 0xc0) == 0x80;
	    i++)
		p--;

	return (p);
}

static size_t
count_parts(const char *s, size_t len, size_t budget)
{
	size_t	n, c, skip;

	for (n = 0; len > 0; n++) {
		c = cut(s, len, budget, &skip);
		s += c + skip;
		len -= c + skip;
	}

	return (n);
}

static int
split_parts(const char *s, size_t len, size_t limit, size_t n, char **v)
{
	char	marker[48];
	size_t	i, c, skip, mw;

	for (i = 0; i < n && len > 0; i++) {
		mw = (size_t)snprintf(marker, sizeof(marker), "(%zu/%zu) ",
		    i + 1, n);
		c = cut(s, len, limit - mw, &skip);
		if ((v[i] = malloc(mw + c + 1)) == NULL)
			return (WECOM_API_ERR_NOMEM);
		memcpy(v[i], marker, mw);
		memcpy(v[i] + mw, s, c);
		v[i][mw + c] = '\0';
		s += c + skip;
		len -= c + skip;
	}

	return (WECOM_API_OK);
}

static int
truncate_one(const char *s, size_t len, size_t limit, char **out)
{
	char	notice[64];
	size_t	keep, skip, nlen;

	nlen = (size_t)snprintf(notice, sizeof(notice), NOTICE_FMT, len);
	keep = cut(s, len, limit - nlen, &skip);
	nlen = (size_t)snprintf(notice, sizeof(notice), NOTICE_FMT,
	    len - keep);
	if ((*out = malloc(keep + nlen + 1)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	memcpy(*out, s, keep);
	memcpy(*out + keep, notice, nlen + 1);

	return (WECOM_API_OK);
}
