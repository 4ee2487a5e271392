/* SPDX-License-Identifier: ISC */
/*
 * Private to wecom-send: the command line as parsed (wecom-send.c), the
 * text it sends (wecom-send-input.c), the sending (wecom-send-msg.c) and
 * names in --to (wecom-send-names.c).
 */

#ifndef WECOM_SEND_H
#define WECOM_SEND_H

#include <stddef.h>

#include "wecom_client.h"
#include "wecom_outbox.h"

/* Text on stdin: more is refused, never cut. */
#define INPUT_MAX	(1024 * 1024)

enum kind { K_TEXT, K_MARKDOWN, K_IMAGE, K_FILE, K_VOICE, K_VIDEO,
	K_TEXTCARD, K_NEWS, K_JSON };

struct opts {
	const char		*conf, *app;
	struct wecom_target	 to;
	const char		*chat, *webhook, *aibot;
	int			 group;
	enum kind		 kind;
	int			 nkinds;
	const char		*file;
	const char		*title, *url, *btntxt, *picurl;
	const char		*json_type, *json;
	const char		*mention, *mention_mobile, *fallback_to;
	const char		*recall, *create_chat, *owner;
	const char		*key;
	char			*webhook_key;	/* from a URL */
	int			 spool, flush, now;
	struct wecom_send_opts	 so;
	int			 quiet;
	char			*text;
	char			*resolved;	/* --to with names replaced */
};


/* wecom-send.c */
void	usage_error(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* wecom-send-input.c */
int	stdin_has_data(void);
int	read_text(int, char **, char **);
void	*read_file(const char *, size_t *);

/* wecom-send-msg.c */
int	robot_target(struct opts *, const struct wecom_conf *);
int	run(struct opts *, const struct wecom_conf *);
int	spool(struct opts *, const struct wecom_conf *);
int	flush(struct opts *, const struct wecom_conf *);

/* wecom-send-names.c */
int	resolve_names(struct opts *, const struct wecom_conf *);

#endif
