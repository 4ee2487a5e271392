/* SPDX-License-Identifier: ISC */
/*
 * Private to new-app and new-aibot: what the command line asked for
 * and what was made of it (wecom-admin-new.c), printed for the
 * operator by wecom-admin-guide.c.
 */

#ifndef WECOM_ADMIN_NEW_H
#define WECOM_ADMIN_NEW_H

#include <limits.h>

#include "wecom_crypto.h"

/* A Secret's file, as new-aibot finds it. */
#define SECRET_MISSING	0
#define SECRET_EMPTY	1
#define SECRET_FILLED	2

struct newopts {
	const struct cmd	*cmd;
	int			 bot;		/* new-aibot */
	int			 ws;		/* bot: mode = websocket */
	int			 mode_set;
	int			 force;
	int			 made_secret;	/* its empty file, just now */
	const char		*conf, *name;
	const char		*corpid, *agentid, *bot_id, *handler;
	const char		*path, *secret_file, *url, *dir;
	char			*corpid_copy;
	char			 upath[256];	/* the callback path */
	char			 sdir[PATH_MAX];
	char			 token_path[PATH_MAX + 80];
	char			 aeskey_path[PATH_MAX + 80];
	char			 secret_path[PATH_MAX + 80];
	char			 token[40];
	char			 aeskey[WECOM_AESKEY_LEN + 1];
};

extern const struct cmd	new_app_cmd, new_aibot_cmd;

/* wecom-admin-guide.c */
void	guide_keyed(const struct newopts *);
void	guide_ws(const struct newopts *);
void	guide_ws_pending(const struct newopts *, int);

#endif
