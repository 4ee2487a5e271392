/* SPDX-License-Identifier: ISC */
/*
 * Private: the INI reader (config_ini.c), for the checks of config.c.
 * One load is one conf_parse: the conf being filled, the section the
 * reader is in, and where an error goes.
 */

#ifndef WECOM_CONF_INI_H
#define WECOM_CONF_INI_H

#include <stddef.h>

#include "wecom_config.h"

struct conf_parse {
	struct wecom_conf		*conf;
	struct wecom_conf_section	*cur;
	char				*err;
	size_t				 errlen;
	int				 line;
	int				 lazy;	/* wecom_conf_load_lazy() */
};

/* Every section and key of the file at path into ps->conf. */
int	wecom_conf_read(struct conf_parse *ps, const char *path);

/* The last line of key in s, the one that counts; NULL if none. */
const struct wecom_conf_kv	*wecom_conf_kv_last(
				    const struct wecom_conf_section *s,
				    const char *key);

/*
 * "file:line: " and the message into ps->err. Returns WECOM_CONF_ERROR,
 * for the caller to return in turn.
 */
int	wecom_conf_fail(struct conf_parse *ps, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
