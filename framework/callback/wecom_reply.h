/* SPDX-License-Identifier: ISC */
/*
 * Private: a handler's reply as it was made, its type and its fields.
 * The passive reply's XML (reply_xml.c) and, when the reply is late,
 * the proactive message (deliver.c) are both built from this one
 * record, so the two cannot disagree. Its strings are already what
 * the member will see: copies made safe for XML 1.0 (U+FFFD for
 * invalid UTF-8 and controls). Those its type uses are never NULL ("" for
 * a NULL argument); the others are.
 */

#ifndef WECOM_REPLY_H
#define WECOM_REPLY_H

#include <stddef.h>

#include "wecom.h"

struct wecom_client;
struct wecom_conf;
struct wecom_ctx;
struct wecom_outmsg;

enum wecom_reply_type {
	WECOM_REPLY_TEXT,
	WECOM_REPLY_IMAGE,
	WECOM_REPLY_VOICE,
	WECOM_REPLY_VIDEO,
	WECOM_REPLY_NEWS,
	WECOM_REPLY_UPDATE_BUTTON,
	/* Bots (reply_json.c). */
	WECOM_REPLY_MARKDOWN,
	WECOM_REPLY_STREAM,
	WECOM_REPLY_CARD,
	WECOM_REPLY_FILE,		/* by media_id, long connection */
};

struct wecom_reply_article {
	char	*title;
	char	*description;
	char	*url;
	char	*pic_url;
};

struct wecom_reply {
	enum wecom_reply_type		 type;
	char				*to_user;	/* the member */
	char				*from_user;	/* the CorpID */
	char				*content;	/* text */
	char				*media_id;	/* image, voice, video */
	char				*title;		/* video */
	char				*description;	/* video */
	char				*replace_name;	/* update_button */
	struct wecom_reply_article	 articles[WECOM_NEWS_MAX];
	size_t				 narticles;	/* news */
	/* Bots. */
	char				*stream_id;	/* stream */
	int				 finish;
	char				*card;		/* JSON text */
	int				 welcome;	/* to enter_chat */
	int				 card_update;	/* to a card event */
	char				*image;		/* stream: base64 */
	char				 image_md5[33];
};

/* reply.c */
void			 wecom_reply_free(struct wecom_reply *);
int			 wecom_reply_new(struct wecom_ctx *,
			    enum wecom_reply_type, struct wecom_reply **);
int			 wecom_reply_commit(struct wecom_ctx *,
			    struct wecom_reply *, int bad);
char			*wecom_reply_clean(const char *, int *bad);

/* reply_json.c: a bot's answer, the body of a callback or frame. */
int			 wecom_reply_json(const struct wecom_reply *,
			    char **json, size_t *len);
char			*wecom_reply_json_message(const struct wecom_reply *);
/* Cut s (clean text) to WECOM_STREAM_MAX bytes with a notice. */
void			 wecom_reply_clip(char *s);

/* reply_xml.c: WeCom's name of the type; the passive reply, malloc'ed. */
const char		*wecom_reply_msgtype(enum wecom_reply_type);
int			 wecom_reply_xml(const struct wecom_reply *,
			    char **xml, size_t *len);

/* deliver.c: the proactive message of a late reply, or NULL. */
struct wecom_outmsg	*wecom_reply_outmsg(const struct wecom_reply *);
int			 wecom_reply_deliver(struct wecom_client *,
			    const struct wecom_conf *, const char *app,
			    const struct wecom_reply *);

#endif
