/* SPDX-License-Identifier: ISC */
/*
 * Private to wecom-admin callback: the callback asked for
 * (wecom-admin-callback.c) and its envelopes, sealed and opened as
 * WeCom's (wecom-admin-envelope.c).
 */

#ifndef WECOM_ADMIN_CALLBACK_H
#define WECOM_ADMIN_CALLBACK_H

#include <stdint.h>

#include "wecom_crypto.h"

struct cbopts {
	const char	*conf, *name, *event, *key, *url, *from;
	char		*text;
	/* From NAME's section. */
	int		 bot;
	const char	*token, *aeskey, *path, *corpid, *bot_id, *rid;
	int64_t		 agentid;
	long long	 now;
	char		 msgid[20];
};

/* A callback's body and query, as WeCom would send them. */
struct sealed {
	char	*body;
	char	 timestamp[24];
	char	 nonce[16];
	char	 signature[WECOM_SIG_LEN + 1];
};

/* A string that grows; a failure is told once, at sb_done(). */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 failed;
};

void	sb_add(struct sbuf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	sb_cdata(struct sbuf *, const char *);
char	*sb_done(struct sbuf *);
int	random_digits(char *, size_t);
int	seal(const struct cbopts *, struct wecom_crypto *, const char *,
	    struct sealed *);
char	*request_url(const struct cbopts *, const struct sealed *);
int	open_reply(const struct cbopts *, struct wecom_crypto *,
	    const struct reply *);
void	sealed_free(struct sealed *);

#endif
