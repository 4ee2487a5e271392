/* SPDX-License-Identifier: ISC */
/*
 * Private: the schema of conf/wecom.conf (config_schema.c). One table
 * holds every section and every key that any part of the server reads,
 * with its type, default, range or form, environment variable and
 * meaning: config.c loads and checks by it, config_doc.c prints it for
 * the README (wecom-send --conf-keys). A key read anywhere else must be
 * added here, or the loader refuses it.
 */

#ifndef WECOM_CONF_SCHEMA_H
#define WECOM_CONF_SCHEMA_H

#include <stddef.h>

#include "wecom_config.h"

enum conf_type {
	CONF_NUMBER,		/* a whole number from min to max */
	CONF_YESNO,		/* yes or no */
	CONF_STRING,
	CONF_SECRET,		/* a string never logged: env: or file: */
	CONF_URL,		/* https://… or http://… */
	CONF_URLPATH,		/* a path of this server's URLs: /… */
	CONF_FILE,		/* a file or a directory of this host */
	CONF_NETS,		/* addresses and networks (netlist.c) */
	CONF_NAME,		/* the name of another section */
	CONF_NAMES		/* names of other sections */
};

/* Where wecom_conf_load() puts a [global] value in struct wecom_conf. */
enum conf_store {
	CONF_KEEP,		/* nowhere: the module that owns it reads it */
	CONF_LONG,
	CONF_SIZE,
	CONF_STR
};

struct conf_key {
	const char	*section;	/* "global", "app" … */
	const char	*key;
	enum conf_type	 type;
	const char	*def;		/* the default as written; NULL: none */
	const char	*absent;	/* without def: what leaving it out does */
	long long	 min, max;	/* numbers */
	const char	*form;		/* the others: what a value must be */
	const char	*env;		/* overrides the file; NULL: none */
	const char	*meaning;	/* one line */
	int		(*check)(const char *);	/* 0: fits; NULL: the type's */
	enum conf_store	 store;
	size_t		 off;		/* of the member in struct wecom_conf */
};

struct conf_sect {
	const char	*type;
	const char	*name;		/* "NAME" of [app NAME]; NULL: one of a kind */
	int		 open;		/* other keys are its handler's own */
};

extern const struct conf_sect	wecom_conf_sects[];	/* up to type NULL */
extern const struct conf_key	wecom_conf_keys[];	/* up to key NULL */

const struct conf_sect	*wecom_conf_sect_find(const char *type);
const struct conf_key	*wecom_conf_key_find(const char *type,
			    const char *key);

/* 0 if v is a value of k (a number's or a yes/no's in *n), else -1. */
int	wecom_conf_key_fits(const struct conf_key *k, const char *v,
	    long long *n);

/* What a value of k must be: "a whole number from 1 to 20", "yes or no". */
const char	*wecom_conf_key_form(const struct conf_key *k, char *buf,
		    size_t len);

#endif
