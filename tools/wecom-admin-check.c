/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin check: the config loaded as the server loads it, then
 * each credential tried as far as it can be without a side effect: an
 * app's Secret by getting its token (from the shared token cache while
 * one is fresh, else by gettoken), a bot's callback keys by the crypto
 * layer. A robot's webhook cannot be tried without sending a message,
 * a bot's long connection without taking it from the server.
 */

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "wecom_client.h"
#include "wecom_crypto.h"
#include "wecom-admin.h"

enum { O_AIBOT_CONNECT = 256 };

static void	usage(FILE *);
static int	check_app(const struct wecom_conf *,
		    const struct wecom_app_conf *);
static int	check_bot(const struct wecom_app_conf *, int);
static int	check_store(const struct wecom_conf *);

static const struct cmd	cmd = { "check", usage };

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin check [--aibot-connect] [-c CONF]\n"
"\n"
"Loads the config as the server does (an error: exit 78, the loader's\n"
"message), then reports one line per section:\n"
"  app NAME: ok                   its Secret gets a token (the shared token\n"
"                                 cache's while one is fresh, else gettoken)\n"
"  app NAME: errcode N — hint     WeCom refused it, and what to do\n"
"  app NAME: callbacks only       no secret: no API calls to check\n"
"  robot NAME: configured         a webhook cannot be checked without\n"
"                                 sending a message\n"
"  aibot NAME: callback at P: keys valid\n"
"  aibot NAME: websocket: not checked: a second connection would kick\n"
"                                 the server's\n"
"  store: ok (schema version N)   [global] store answers (docs/ha.md)\n"
"  store: unreachable — why       it does not: each server keeps to its\n"
"                                 own host's state meanwhile\n"
"\n"
"  --aibot-connect    accepted, but the long connection is still not\n"
"                     tried: WeCom would hand the bot to this second\n"
"                     connection and the server would stop serving it\n"
"                     until restarted. `wecom-admin status` shows it.\n"
"  -c, --config CONF  see wecom-admin --help\n"
"\n"
"Exit: 0 all ok; 64 usage; 69 some failed; 78 the config does not load.\n");
}

/*
 * A token, or WeCom's errcode and the client's hint on it. While the
 * shared cache holds a fresh token it answers: that token was got with
 * this very Secret (the cache is keyed by it), and WeCom throttles
 * frequent gettoken calls.
 */
static int
check_app(const struct wecom_conf *conf, const struct wecom_app_conf *a)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	char			 token[WECOM_TOKEN_MAX + 1];
	int			 rc;

	if (a->secret == NULL) {
		printf("app %s: callbacks only (no secret: no API calls)\n",
		    a->name);
		return (0);
	}
	if ((c = wecom_client_new(conf, a->name, &err)) == NULL)
		rc = err.code;
	else {
		/* One request: a person waits, and 40001 must not loop. */
		wecom_client_set_retry(c, 1, 0, 0);
		rc = wecom_token_get(c, token, sizeof(token), &err);
		wecom_client_free(c);
	}
	memset(token, 0, sizeof(token));
	if (rc == WECOM_API_OK) {
		printf("app %s: ok\n", a->name);
		return (0);
	}
	if (err.errcode != 0)
		printf("app %s: errcode %ld — %s\n", a->name, err.errcode,
		    err.hint != NULL ? err.hint : err.errmsg);
	else
		printf("app %s: %s — %s%s%s\n", a->name,
		    wecom_api_strerror(err.code), err.errmsg,
		    err.hint != NULL ? "; " : "", err.hint ? err.hint : "");

	return (1);
}

static int
check_bot(const struct wecom_app_conf *b, int connect)
{
	struct wecom_crypto	*wc;
	int			 rc;

	if (b->ws) {
		printf("aibot %s: websocket: not checked: a second connection "
		    "would kick the server's%s\n", b->name, connect ?
		    " (--aibot-connect: not tried either; see "
		    "wecom-admin(1))" : "");
		return (0);
	}
	if ((wc = wecom_crypto_new(b->token, b->aeskey, NULL, &rc)) == NULL) {
		printf("aibot %s: callback at %s: keys invalid — %s\n", b->name,
		    b->path, wecom_strerror(rc));
		return (1);
	}
	wecom_crypto_free(wc);
	printf("aibot %s: callback at %s: keys valid\n", b->name, b->path);

	return (0);
}

/* The shared store: reachable, and its schema migrated. */
static int
check_store(const struct wecom_conf *conf)
{
	struct wecom_api_error	err;
	int			version;

	if (wecom_store_ping(conf, &version, &err) == WECOM_API_OK) {
		printf("store: ok (schema version %d)\n", version);
		return (0);
	}
	printf("store: unreachable — %s\n", err.errmsg);
	return (1);
}

int
cmd_check(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	   required_argument, NULL, 'c' },
		{ "aibot-connect", no_argument,	      NULL, O_AIBOT_CONNECT },
		{ "help",	   no_argument,	      NULL, 'h' },
		{ NULL,		   0,		      NULL, 0 }
	};
	const struct wecom_app_conf	*a;
	const struct wecom_conf_section	*s;
	struct wecom_conf		 conf;
	const char			*path;
	int				 ch, connect, failed, rc;

	path = conf_path;
	connect = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case O_AIBOT_CONNECT: connect = 1; break;
		case 'h': help(&cmd);
		default: bad_option(&cmd, argc, argv, ch);
		}
	}
	if (optind < argc)
		usage_error(&cmd, "takes no arguments ('%s')", argv[optind]);
	if ((rc = conf_load(&conf, path)) != EX_OK)
		return (rc);
	if ((rc = as_state_owner(&conf)) != EX_OK) {
		wecom_conf_free(&conf);
		return (rc);
	}

	failed = 0;
	TAILQ_FOREACH(a, &conf.apps, list)
		failed += check_app(&conf, a);
	TAILQ_FOREACH(s, &conf.sections, list) {
		if (strcmp(s->type, "robot") == 0)
			printf("robot %s: configured (a webhook cannot be "
			    "checked without sending a message)\n", s->name);
	}
	TAILQ_FOREACH(a, &conf.bots, list)
		failed += check_bot(a, connect);
	if (conf.store != NULL)
		failed += check_store(&conf);
	wecom_conf_free(&conf);
	if (fflush(stdout) != 0)
		return (EX_IOERR);

	return (failed ? EX_UNAVAILABLE : EX_OK);
}
