/* SPDX-License-Identifier: ISC */
/*
 * The growable buffer every builder uses (metrics text, API answers,
 * reply XML): doubling growth, an optional limit, one error flag.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_buf.h"

#define BUF_FIRST	1024

static int	buf_grow(struct wecom_buf *, size_t);

void
wecom_buf_add(struct wecom_buf *b, const void *s, size_t len)
{
	if (b->err || buf_grow(b, len) == -1)
		return;
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void
wecom_buf_addf(struct wecom_buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->err || n < 0 || buf_grow(b, (size_t)n) == -1) {
		b->err = 1;
		return;
	}
	va_start(ap, fmt);
	(void)vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* The contents, now the caller's (NULL after an error); b is reset. */
char *
wecom_buf_take(struct wecom_buf *b, size_t *len)
{
	char	*p;

	if (b->err || (b->p == NULL && buf_grow(b, 0) == -1)) {
		wecom_buf_free(b);
		return (NULL);
	}
	p = b->p;
	if (len != NULL)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;

	return (p);
}

void
wecom_buf_free(struct wecom_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

/* Room for len more bytes and the NUL. */
static int
buf_grow(struct wecom_buf *b, size_t len)
{
	char	*p;
	size_t	 cap;

	if ((b->max != 0 && len > b->max - b->len) ||
	    len >= (size_t)-1 / 2 - b->len) {
		b->err = 1;
		return (-1);
	}
	if (b->p != NULL && len < b->cap - b->len)
		return (0);
	for (cap = b->cap ? b->cap : BUF_FIRST; len >= cap - b->len; cap *= 2)
		;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->err = 1;
		return (-1);
	}
	b->p = p;
	b->cap = cap;

	return (0);
}
