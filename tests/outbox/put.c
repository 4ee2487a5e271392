/* SPDX-License-Identifier: ISC */
/*
 * Queues messages through the C API, as a handler would: the
 * acceptance test needs a thousand of them faster than a thousand
 * wecom-send processes start.
 *
 *	outbox_put CONF FIRST COUNT KEYPREFIX USER
 *	→ keys KEYPREFIX<i>, texts "outbox #<i>", i = FIRST … FIRST+COUNT-1
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_outbox.h"

int
main(int argc, char **argv)
{
	struct wecom_conf	 conf;
	struct wecom_outbox_to	 to;
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	char			 cerr[256], key[WECOM_OUTBOX_KEY_MAX + 1];
	char			 text[64];
	long			 first, count, i;

	if (argc != 6) {
		fprintf(stderr, "usage: outbox_put CONF FIRST COUNT PREFIX "
		    "USER\n");
		return (64);
	}
	if (wecom_conf_load(&conf, argv[1], cerr, sizeof(cerr)) !=
	    WECOM_CONF_OK) {
		fprintf(stderr, "outbox_put: %s\n", cerr);
		return (78);
	}
	first = strtol(argv[2], NULL, 10);
	count = strtol(argv[3], NULL, 10);
	memset(&to, 0, sizeof(to));
	to.to.touser = argv[5];
	for (i = first; i < first + count; i++) {
		snprintf(key, sizeof(key), "%s%ld", argv[4], i);
		snprintf(text, sizeof(text), "outbox #%ld", i);
		if ((m = wecom_outmsg_text(text)) == NULL ||
		    wecom_outbox_put(&conf, &to, m, NULL, key, NULL, &err) !=
		    WECOM_API_OK) {
			fprintf(stderr, "outbox_put: %s: %s\n", key,
			    m ? err.errmsg : "out of memory");
			wecom_outmsg_free(m);
			wecom_conf_free(&conf);
			return (1);
		}
		wecom_outmsg_free(m);
	}
	wecom_conf_free(&conf);

	return (0);
}
