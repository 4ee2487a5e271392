/* SPDX-License-Identifier: ISC */
/*
 * Private: the callback pipeline without HTTP — verify, decrypt, parse,
 * route, reply, encrypt. The Kore glue maps its codes to statuses; the
 * tests and the micro-benchmark call it directly.
 */

#ifndef WECOM_CALLBACK_H
#define WECOM_CALLBACK_H

#include <stddef.h>
#include <time.h>

struct wecom_app;
struct wecom_msg;
struct wecom_xml;

struct wecom_query {
	const char	*signature;
	const char	*timestamp;
	const char	*nonce;
	const char	*echostr;	/* URL verification only */
};

struct wecom_result {
	int		 code;		/* WECOM_OK or an official -400xx */
	const char	*why;		/* a detail for the log, or NULL */
	const char	*msgtype;	/* for the log: what arrived */
	char		*body;		/* the answer, malloc'ed; may be NULL */
	size_t		 len;
};

int	wecom_callback_fresh(const struct wecom_app *,
	    const struct wecom_query *, time_t);
void	wecom_callback_verify_url(struct wecom_app *, const struct wecom_query *,
	    struct wecom_result *);
void	wecom_callback_post(struct wecom_app *, struct wecom_xml *,
	    const struct wecom_query *, const char *body, size_t len,
	    struct wecom_result *);
int	wecom_callback_open(struct wecom_app *, struct wecom_xml *,
	    const struct wecom_query *, const char *body, size_t len,
	    struct wecom_msg *, const char **plain, size_t *plainlen,
	    struct wecom_result *);
int	wecom_callback_load(struct wecom_app *, struct wecom_xml *,
	    const char *plain, size_t len, struct wecom_msg *);
void	wecom_callback_route(struct wecom_app *, const struct wecom_msg *,
	    char **reply, size_t *len);
int	wecom_callback_seal(struct wecom_app *, const char *nonce,
	    const char *reply, size_t len, struct wecom_result *);
void	wecom_result_clear(struct wecom_result *);

#endif
