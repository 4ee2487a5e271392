/* SPDX-License-Identifier: ISC */
/*
 * Micro-benchmark of the callback pipeline alone — verify, decrypt,
 * parse, route, reply, encrypt — with no HTTP: per-message CPU cost.
 *   build/bench/pipeline conf/wecom.conf callbacks.txt [rounds]
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wecom_crypto.h"
#include "wecom_config.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_xml.h"

struct cb {
	char			*body;
	char			*qs;
	struct wecom_query	 q;
};

static size_t
load(const char *file, struct cb **out)
{
	struct cb	*cbs = NULL;
	size_t		 n = 0, cap = 0, sz = 0;
	char		*line = NULL, *tab, *qs, *p;
	FILE		*fp;

	if ((fp = fopen(file, "r")) == NULL)
		return (0);
	while (getline(&line, &sz, fp) > 0) {
		if ((tab = strchr(line, '\t')) == NULL)
			continue;
		*tab = '\0';
		tab[strcspn(tab + 1, "\n") + 1] = '\0';
		if (n == cap && (cbs = realloc(cbs, (cap = cap * 2 + 64) *
		    sizeof(*cbs))) == NULL)
			abort();
		memset(&cbs[n], 0, sizeof(cbs[n]));
		cbs[n].body = strdup(tab + 1);
		qs = cbs[n].qs = strdup(strchr(line, '?') + 1);
		while ((p = strsep(&qs, "&")) != NULL) {
			if (strncmp(p, "msg_signature=", 14) == 0)
				cbs[n].q.signature = p + 14;
			else if (strncmp(p, "timestamp=", 10) == 0)
				cbs[n].q.timestamp = p + 10;
			else if (strncmp(p, "nonce=", 6) == 0)
				cbs[n].q.nonce = p + 6;
		}
		n++;
	}
	free(line);
	fclose(fp);
	*out = cbs;
	return (n);
}

int
main(int argc, char **argv)
{
	struct wecom_conf	 conf;
	struct wecom_app_list	 apps;
	struct wecom_result	 res;
	struct wecom_xml	*x;
	struct cb		*cbs;
	struct timespec		 t0, t1;
	size_t			 n, i, r, rounds, replies;
	char			 err[512];
	double			 ns;

	if (argc < 3) {
		fprintf(stderr, "usage: pipeline CONF CALLBACKS [ROUNDS]\n");
		return (64);
	}
	rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 5;
	if (wecom_conf_load(&conf, argv[1], err, sizeof(err)) != 0 ||
	    wecom_apps_setup(&apps, &conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (78);
	}
	if ((n = load(argv[2], &cbs)) == 0 || (x = wecom_xml_new()) == NULL)
		return (66);

	replies = 0;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			wecom_callback_post(TAILQ_FIRST(&apps), x, &cbs[i].q,
			    cbs[i].body, strlen(cbs[i].body), &res);
			if (res.code == WECOM_OK && res.body != NULL)
				replies++;
			wecom_result_clear(&res);
		}
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);

	ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) /
	    (double)(n * rounds);
	printf("pipeline: %zu callbacks, %zu encrypted replies, %.2f us CPU "
	    "per callback (%.0f/s on one core)\n", n * rounds, replies,
	    ns / 1000, 1e9 / ns);

	/* Everything is freed, so that a valgrind run can say "no leaks". */
	for (i = 0; i < n; i++) {
		free(cbs[i].body);
		free(cbs[i].qs);
	}
	free(cbs);
	wecom_xml_free(x);
	wecom_apps_free(&apps);
	wecom_conf_free(&conf);

	return (replies == n * rounds ? 0 : 1);
}
