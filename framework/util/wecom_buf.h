/* SPDX-License-Identifier: ISC */
/*
 * Private: the one growable byte buffer of the tree. A failed growth
 * sets err and makes every later add a no-op, so a builder checks once,
 * at the end. Contents are kept NUL-terminated.
 */

#ifndef WECOM_BUF_H
#define WECOM_BUF_H

#include <stddef.h>

struct wecom_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* 0: no limit; beyond it, err */
	int	 err;
};

void	wecom_buf_add(struct wecom_buf *, const void *, size_t);
void	wecom_buf_addf(struct wecom_buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
char	*wecom_buf_take(struct wecom_buf *, size_t *);
void	wecom_buf_free(struct wecom_buf *);

#endif
