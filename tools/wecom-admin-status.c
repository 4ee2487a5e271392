/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin status: what the running server says of itself. Its
 * status page in JSON (/status.json) shown as indented text, or, from
 * a server without one, its /healthz text as it is.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>

#include "wecom-admin.h"

#define STATUS_PATH	"/status.json"
#define HEALTHZ_PATH	"/healthz"

static void	usage(FILE *);
static void	scalar(json_t *);
static int	flat(json_t *);
static void	flat_line(json_t *);
static void	show(json_t *, int, int);
static int	get(const char *, const char *, struct reply *);
static int	healthz(const char *, const char *);

static const struct cmd	cmd = { "status", usage };

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin status [--url URL] [-c CONF]\n"
"\n"
"Reads the running server's status endpoint: GET URL" STATUS_PATH ", shown\n"
"as indented text; from a server without it, GET URL + healthz_path of\n"
"the config's [global] (default " HEALTHZ_PATH "), printed as it is. The\n"
"server answers them only to the addresses of metrics_allow (default\n"
"the loopback): run it on the server's host.\n"
"\n"
"  --url URL          the server; default " URL_DEFAULT "\n"
"  -c, --config CONF  see wecom-admin --help (for healthz_path only)\n"
"\n"
"Exit: 0 shown; 64 usage; 69 no answer; 76 not a 200.\n");
}

static void
scalar(json_t *v)
{
	if (json_is_string(v))
		printf("%s", json_string_value(v));
	else if (json_is_integer(v))
		printf("%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		printf("%g", json_real_value(v));
	else
		printf("%s", json_is_true(v) ? "true" : json_is_false(v) ?
		    "false" : "null");
}

/* Fits on its line: a scalar, {}, or an array of scalars. */
static int
flat(json_t *v)
{
	json_t	*x;
	size_t	 i;

	if (json_is_object(v))
		return (json_object_size(v) == 0);
	if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			if (json_is_object(x) || json_is_array(x))
				return (0);
		}
	}
	return (1);
}

/* A flat value and the end of its line: "[0, 0, 1]" for an array. */
static void
flat_line(json_t *v)
{
	json_t	*x;
	size_t	 i;

	if (json_is_object(v))
		printf("{}");
	else if (json_is_array(v)) {
		printf("[");
		json_array_foreach(v, i, x) {
			printf("%s", i > 0 ? ", " : "");
			scalar(x);
		}
		printf("]");
	} else
		scalar(v);
	putchar('\n');
}

/*
 * "key: value", what does not fit indented below its key; an object in
 * an array starts on its "- " line (hang: the line is begun already).
 */
static void
show(json_t *v, int depth, int hang)
{
	const char	*k;
	json_t		*x;
	size_t		 i;

	if (json_is_object(v)) {
		json_object_foreach(v, k, x) {
			printf("%*s%s:", hang ? 0 : depth * 2, "", k);
			hang = 0;
			putchar(flat(x) ? ' ' : '\n');
			if (flat(x))
				flat_line(x);
			else
				show(x, depth + 1, 0);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x) {
			printf("%*s-", hang ? 0 : depth * 2, "");
			hang = 0;
			putchar(flat(x) || json_is_object(x) ? ' ' : '\n');
			if (flat(x))
				flat_line(x);
			else
				show(x, depth + 1, json_is_object(x));
		}
	} else {
		printf("%*s", depth * 2, "");
		flat_line(v);
	}
}

static int
get(const char *url, const char *path, struct reply *r)
{
	char	*full;
	size_t	 len;
	int	 rc;

	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		len--;
	if (asprintf(&full, "%.*s%s", (int)len, url, path) == -1) {
		memset(r, 0, sizeof(*r));
		snprintf(r->error, sizeof(r->error), "out of memory");
		return (-1);
	}
	if ((rc = http_request(full, NULL, NULL, 0, r)) == -1) {
		fprintf(stderr, "wecom-admin: %s: no answer: %s\n", full,
		    r->error);
		reply_free(r);
	}
	free(full);

	return (rc);
}

/* No status page: the health check, at the config's path, as it is. */
static int
healthz(const char *url, const char *path)
{
	struct wecom_conf	conf;
	struct reply		r;
	char			where[256], err[512];
	int			rc;

	snprintf(where, sizeof(where), "%s", HEALTHZ_PATH);
	if (wecom_conf_load(&conf, path, err, sizeof(err)) == WECOM_CONF_OK)
		snprintf(where, sizeof(where), "%s", conf.healthz_path);
	wecom_conf_free(&conf);
	if (get(url, where, &r) == -1)
		return (EX_UNAVAILABLE);
	fwrite(r.body, 1, r.len, stdout);
	if (r.len > 0 && r.body[r.len - 1] != '\n')
		putchar('\n');
	rc = r.status == 200 ? EX_OK : EX_PROTOCOL;
	if (rc != EX_OK)
		fprintf(stderr, "wecom-admin: %s%s: HTTP %ld\n", url, where,
		    r.status);
	reply_free(&r);

	return (rc);
}

int
cmd_status(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "url",	required_argument,	NULL, 'u' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	struct reply			 r;
	json_t				*j;
	const char			*url, *path;
	int				 ch, rc;

	url = URL_DEFAULT;
	path = conf_path;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'u': url = optarg; break;
		case 'h': help(&cmd);
		default: bad_option(&cmd, argc, argv, ch);
		}
	}
	if (optind < argc)
		usage_error(&cmd, "takes no arguments ('%s')", argv[optind]);
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
		usage_error(&cmd, "--url is http://host:port or https://host");

	if (get(url, STATUS_PATH, &r) == -1)
		return (EX_UNAVAILABLE);
	j = r.status == 200 ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	reply_free(&r);
	if (j == NULL)
		rc = healthz(url, path);
	else {
		show(j, 0, 0);
		json_decref(j);
		rc = EX_OK;
	}

	return (rc == EX_OK && fflush(stdout) != 0 ? EX_IOERR : rc);
}
