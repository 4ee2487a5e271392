/* SPDX-License-Identifier: ISC */
/*
 * Private: the contacts cache of an app, in its state_dir — what the
 * contacts API serves and what `wecom-send --to NAME` resolves names
 * with. Two files per app, each replaced whole (temporary file, 0600,
 * rename), so that a reader sees the old file or the new one:
 *
 *	contacts-APP.json  {"version":1, "app":"APP", "refreshed":T,
 *			    "departments":[…by id], "users":[…by userid]}
 *	chats-APP.json	   {"version":1, "app":"APP",
 *			    "chats":[{"chatid","name","owner","users",
 *			    "created"}…]}
 *
 * Each department and member is the object WeCom answered, as it was:
 * a member listed in several departments is kept once with all their
 * ids in "department". WeCom gives newer apps fewer fields; a member
 * without a name has "name": null, never a made-up one.
 */

#ifndef WECOM_CONTACTS_H
#define WECOM_CONTACTS_H

#include <stddef.h>

#include "wecom_client.h"

#define WECOM_CONTACTS_VERSION	1

/* What a refresh found, for the log. */
struct wecom_contacts_stats {
	size_t		departments;
	size_t		users;
	size_t		skipped;	/* departments the app may not read */
};

/*
 * state_dir/KIND-APP.json ("contacts" or "chats"). WECOM_API_ERR_CONFIG
 * for an app name that cannot be a file name ("/", a leading ".").
 */
int	wecom_contacts_path(const struct wecom_conf *, const char *app,
	    const char *kind, char *buf, size_t len);

/* The app's directory from WeCom, into contacts-APP.json. Blocks. */
int	wecom_contacts_refresh(struct wecom_client *,
	    struct wecom_contacts_stats *, struct wecom_api_error *);

/*
 * A chat appchat/create made, added to chats-APP.json under a lock:
 * the server and wecom-send may both create chats. userlist as given
 * to appchat/create ("a|b" or "a,b").
 */
int	wecom_contacts_chat_add(struct wecom_client *, const char *chatid,
	    const char *name, const char *owner, const char *userlist,
	    struct wecom_api_error *);

#endif
