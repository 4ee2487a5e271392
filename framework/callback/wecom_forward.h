/* SPDX-License-Identifier: ISC */
/*
 * Private: the built-in app "forward" (forward.c), which POSTs each
 * message to a receiver of the user's, and what the outbox's drain
 * needs to send one again when the receiver was down.
 */

#ifndef WECOM_FORWARD_H
#define WECOM_FORWARD_H

#include <stddef.h>

struct wecom_api_error;
struct wecom_client;

/* Registers the code; called once by wecom_apps_setup(). */
void	wecom_forward_register(void);
int	wecom_forward_sign(const char *secret, const char *ts,
	    const char *body, char *header, size_t len);
/* conf->forward_send's: arg is the conf. */
int	wecom_forward_resend(void *arg, const char *name, const char *event,
	    struct wecom_api_error *);
int	wecom_forward_post(struct wecom_client *, const char *url,
	    const char *secret, const char *id, const char *body,
	    long *status, char **answer, size_t *alen,
	    struct wecom_api_error *);

#endif
