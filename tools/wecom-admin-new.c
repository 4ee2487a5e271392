/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin new-app and new-aibot: a new section for the config,
 * with a Token and an EncodingAESKey drawn here and kept in 0600 files,
 * appended only if the config still loads with it — else put back as
 * it was. What the operator then pastes into the admin console is
 * printed by wecom-admin-guide.c.
 *
 * A bot on the long connection needs what only the console can give,
 * its BotID and Secret, and the loader refuses the section without
 * them: that section is written once both are there, and until then
 * the command says where they come from (exit 75, nothing changed but
 * an empty 0600 file made for the Secret).
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "wecom_crypto.h"
#include "wecom-admin.h"
#include "wecom-admin-new.h"

#define SECTION_MAX	4096

enum { OPT_CORPID = 256, OPT_AGENTID, OPT_PATH, OPT_SECRET_FILE, OPT_URL,
	OPT_HANDLER, OPT_DIR, OPT_FORCE, OPT_MODE, OPT_BOT_ID };

static const struct option longopts[] = {
	{ "config",	 required_argument,	NULL, 'c' },
	{ "corpid",	 required_argument,	NULL, OPT_CORPID },
	{ "agentid",	 required_argument,	NULL, OPT_AGENTID },
	{ "path",	 required_argument,	NULL, OPT_PATH },
	{ "secret-file", required_argument,	NULL, OPT_SECRET_FILE },
	{ "url",	 required_argument,	NULL, OPT_URL },
	{ "handler",	 required_argument,	NULL, OPT_HANDLER },
	{ "secrets-dir", required_argument,	NULL, OPT_DIR },
	{ "force",	 no_argument,		NULL, OPT_FORCE },
	{ "mode",	 required_argument,	NULL, OPT_MODE },
	{ "bot-id",	 required_argument,	NULL, OPT_BOT_ID },
	{ "help",	 no_argument,		NULL, 'h' },
	{ NULL,		 0,			NULL, 0 }
};

static void	parse(struct newopts *, int, char **);
static void	check_args(struct newopts *);
static int	printable(const char *);
static int	prepare(struct newopts *, const struct wecom_conf *);
static int	path_used(const struct wecom_conf *, const char *);
static int	add(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	section(const struct newopts *, char *, size_t);
static int	commit(struct newopts *, struct undo *);
static int	new_keyed(struct newopts *);
static int	new_ws(struct newopts *);
static int	secret_state(const char *);
static int	secret_file(struct newopts *);
static int	new_run(struct newopts *);

int
cmd_new_app(int argc, char **argv)
{
	struct newopts	o;

	memset(&o, 0, sizeof(o));
	o.cmd = &new_app_cmd;
	parse(&o, argc, argv);
	return (new_run(&o));
}

int
cmd_new_aibot(int argc, char **argv)
{
	struct newopts	o;

	memset(&o, 0, sizeof(o));
	o.cmd = &new_aibot_cmd;
	o.bot = 1;
	o.ws = 1;
	parse(&o, argc, argv);
	return (new_run(&o));
}

static void
parse(struct newopts *o, int argc, char **argv)
{
	int	ch;

	o->conf = conf_path;
	o->handler = "echo";
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 'h': help(o->cmd);
		case OPT_CORPID: o->corpid = optarg; break;
		case OPT_AGENTID: o->agentid = optarg; break;
		case OPT_PATH: o->path = optarg; break;
		case OPT_SECRET_FILE: o->secret_file = optarg; break;
		case OPT_URL: o->url = optarg; break;
		case OPT_HANDLER: o->handler = optarg; break;
		case OPT_DIR: o->dir = optarg; break;
		case OPT_FORCE: o->force = 1; break;
		case OPT_MODE:
			if (strcmp(optarg, "websocket") != 0 &&
			    strcmp(optarg, "callback") != 0)
				usage_error(o->cmd, "--mode is websocket or "
				    "callback");
			o->ws = strcmp(optarg, "websocket") == 0;
			o->mode_set = 1;
			break;
		case OPT_BOT_ID: o->bot_id = optarg; break;
		default: bad_option(o->cmd, argc, argv, ch);
		}
	}
	if (optind >= argc)
		usage_error(o->cmd, "no NAME given");
	o->name = argv[optind++];
	if (optind < argc)
		usage_error(o->cmd, "one NAME only ('%s' is one too many)",
		    argv[optind]);
	check_args(o);
}

/* No value may break a line of the config or a path. */
static int
printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if (iscntrl((unsigned char)*s))
			return (0);
	}
	return (1);
}

static void
check_args(struct newopts *o)
{
	if (!valid_name(o->name))
		usage_error(o->cmd, "NAME is 1 to 64 of A-Z a-z 0-9 _ - "
		    "(it names files and a URL path)");
	if (o->bot ? o->corpid || o->agentid : o->mode_set || o->bot_id)
		usage_error(o->cmd, "%s", o->bot ? "--corpid and --agentid "
		    "are for new-app" : "--mode and --bot-id are for "
		    "new-aibot");
	if (!o->bot && o->agentid == NULL)
		usage_error(o->cmd, "--agentid N needed: the AgentId on the "
		    "app's page of the admin console");
	if (o->agentid && (strspn(o->agentid, "0123456789") !=
	    strlen(o->agentid) || strlen(o->agentid) > 18 || !*o->agentid))
		usage_error(o->cmd, "--agentid is a number");
	if ((o->corpid && !valid_name(o->corpid)) ||
	    (o->bot_id && !valid_name(o->bot_id)) || !valid_name(o->handler))
		usage_error(o->cmd, "--corpid, --bot-id and --handler are "
		    "A-Z a-z 0-9 _ -");
	if (o->path && (o->path[0] != '/' || strpbrk(o->path, " ?#") ||
	    !printable(o->path) || strlen(o->path) > 200))
		usage_error(o->cmd, "--path is a URL path: /wecom/%s", o->name);
	if (o->url && ((strncmp(o->url, "https://", 8) != 0 &&
	    strncmp(o->url, "http://", 7) != 0) || strchr(o->url, ' ') ||
	    !printable(o->url)))
		usage_error(o->cmd, "--url is https://your.domain");
	if ((o->secret_file && !printable(o->secret_file)) ||
	    (o->dir && !printable(o->dir)))
		usage_error(o->cmd, "a path with a control character");
	if (o->bot && !o->ws && (o->bot_id || o->secret_file))
		usage_error(o->cmd, "--bot-id and --secret-file are for "
		    "--mode websocket");
	if (o->bot && o->ws && (o->path || o->url || o->force))
		usage_error(o->cmd, "--path, --url and --force are for "
		    "--mode callback");
}

/* Whether another section's callbacks are at path already. */
static int
path_used(const struct wecom_conf *conf, const char *path)
{
	const struct wecom_app_conf	*a;

	TAILQ_FOREACH(a, &conf->apps, list) {
		if (a->path != NULL && strcmp(a->path, path) == 0)
			return (1);
	}
	TAILQ_FOREACH(a, &conf->bots, list) {
		if (a->path != NULL && strcmp(a->path, path) == 0)
			return (1);
	}

	return (0);
}

/*
 * What the config says before we change it: no such section yet, the
 * path free, the corp of the apps there for an app without --corpid.
 */
static int
prepare(struct newopts *o, const struct wecom_conf *conf)
{
	const struct wecom_app_conf	*first;
	const char			*type;
	int				 n;

	type = o->bot ? "aibot" : "app";
	if (wecom_conf_section(conf, type, o->name) != NULL) {
		fprintf(stderr, "wecom-admin: %s has [%s %s] already; "
		    "nothing changed\n", o->conf, type, o->name);
		return (EX_CANTCREAT);
	}
	/* Below /wecom/: the path the shipped nginx passes on. */
	if (o->path != NULL)
		n = snprintf(o->upath, sizeof(o->upath), "%s", o->path);
	else
		n = snprintf(o->upath, sizeof(o->upath), "/wecom/%s", o->name);
	if (n < 0 || (size_t)n >= sizeof(o->upath))
		return (EX_SOFTWARE);
	if ((!o->bot || !o->ws) && path_used(conf, o->upath)) {
		fprintf(stderr, "wecom-admin: path %s is another section's "
		    "in %s; give --path\n", o->upath, o->conf);
		return (EX_CANTCREAT);
	}
	if (!o->bot && o->corpid == NULL) {
		if ((first = TAILQ_FIRST(&conf->apps)) == NULL)
			usage_error(o->cmd, "--corpid ID needed (no [app] in "
			    "%s to take it from)", o->conf);
		o->corpid = first->corpid;
	}
	if (secrets_dir(o->conf, o->dir, o->sdir, sizeof(o->sdir)) == -1 ||
	    (size_t)snprintf(o->token_path, sizeof(o->token_path),
	    "%s/%s.token", o->sdir, o->name) >= sizeof(o->token_path) ||
	    (size_t)snprintf(o->aeskey_path, sizeof(o->aeskey_path),
	    "%s/%s.aeskey", o->sdir, o->name) >= sizeof(o->aeskey_path)) {
		fprintf(stderr, "wecom-admin: no directory for the secrets "
		    "beside %s\n", o->conf);
		return (EX_CANTCREAT);
	}

	return (EX_OK);
}

static int
new_run(struct newopts *o)
{
	struct wecom_conf	conf;
	int			rc;

	if ((rc = conf_load(&conf, o->conf)) != EX_OK)
		return (rc);
	rc = prepare(o, &conf);
	/* corpid may be the config's: kept for the section. */
	if (rc == EX_OK && o->corpid != NULL &&
	    (o->corpid = o->corpid_copy = strdup(o->corpid)) == NULL)
		rc = EX_OSERR;
	wecom_conf_free(&conf);
	if (rc == EX_OK)
		rc = o->bot && o->ws ? new_ws(o) : new_keyed(o);
	free(o->corpid_copy);
	OPENSSL_cleanse(o->token, sizeof(o->token));
	OPENSSL_cleanse(o->aeskey, sizeof(o->aeskey));

	return (rc);
}

static int
add(char *buf, size_t size, const char *fmt, ...)
{
	va_list	ap;
	size_t	len;
	int	n;

	len = strlen(buf);
	va_start(ap, fmt);
	n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);

	return (n < 0 || (size_t)n >= size - len ? -1 : 0);
}

/* The section as it goes into the config: secrets by file only. */
static int
section(const struct newopts *o, char *buf, size_t size)
{
	int	rc;

	buf[0] = '\0';
	rc = add(buf, size, "\n# Added by wecom-admin %s.\n[%s %s]\n"
	    "handler = %s\n", o->cmd->name, o->bot ? "aibot" : "app", o->name,
	    o->handler);
	if (!o->bot)
		rc |= add(buf, size, "corpid  = %s\nagentid = %s\n", o->corpid,
		    o->agentid);
	if (o->bot)
		rc |= add(buf, size, "mode    = %s\n", o->ws ? "websocket" :
		    "callback");
	if (o->ws)
		rc |= add(buf, size, "bot_id  = %s\nsecret  = file:%s\n",
		    o->bot_id, o->secret_path);
	else
		rc |= add(buf, size, "token   = file:%s\naeskey  = file:%s\n"
		    "path    = %s\n", o->token_path, o->aeskey_path, o->upath);
	if (!o->bot && o->secret_file != NULL)
		rc |= add(buf, size, "secret  = file:%s\n", o->secret_path);

	return (rc);
}

/*
 * The section appended, then the whole config loaded as the server
 * loads it: if that fails, everything done is undone.
 */
static int
commit(struct newopts *o, struct undo *u)
{
	struct wecom_conf	conf;
	char			text[SECTION_MAX], err[512];
	int			rc;

	if (section(o, text, sizeof(text)) == -1) {
		fprintf(stderr, "wecom-admin: the section is too long\n");
		rc = EX_SOFTWARE;
	} else if ((rc = append_conf(u, o->conf, text)) == EX_OK) {
		if (wecom_conf_load(&conf, o->conf, err, sizeof(err)) !=
		    WECOM_CONF_OK) {
			fprintf(stderr, "wecom-admin: %s\nwecom-admin: %s put "
			    "back as it was; nothing added\n", err, o->conf);
			rc = EX_CONFIG;
		}
		wecom_conf_free(&conf);
	}
	if (rc != EX_OK)
		undo_run(u);

	return (rc);
}

/* An app, or a bot in callback mode: new keys, then the section. */
static int
new_keyed(struct newopts *o)
{
	struct undo	*u;
	int		 rc;

	if (!o->force && (access(o->token_path, F_OK) == 0 ||
	    access(o->aeskey_path, F_OK) == 0)) {
		fprintf(stderr, "wecom-admin: %s exists: it may hold the keys "
		    "the console has now. --force replaces them (the console "
		    "must then get the new ones); nothing changed\n",
		    access(o->token_path, F_OK) == 0 ? o->token_path :
		    o->aeskey_path);
		return (EX_CANTCREAT);
	}
	if (o->secret_file != NULL && (rc = secret_file(o)) != EX_OK)
		return (rc);
	if (gen_token(o->token, sizeof(o->token)) == -1 ||
	    gen_aeskey(o->aeskey, sizeof(o->aeskey)) == -1) {
		fprintf(stderr, "wecom-admin: no random bytes\n");
		return (EX_OSERR);
	}
	if ((u = undo_new()) == NULL)
		return (EX_OSERR);
	if ((rc = make_dir(u, o->sdir)) == EX_OK &&
	    (rc = write_secret(u, o->token_path, o->token, o->force)) ==
	    EX_OK &&
	    (rc = write_secret(u, o->aeskey_path, o->aeskey, o->force)) ==
	    EX_OK)
		rc = commit(o, u);
	else
		undo_run(u);
	undo_free(u);
	if (rc == EX_OK)
		guide_keyed(o);

	return (rc);
}

/* Missing, empty (blanks only) or filled; unreadable counts as missing. */
static int
secret_state(const char *path)
{
	char	buf[64];
	ssize_t	n, i;
	int	fd, state;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (SECRET_MISSING);
	state = SECRET_EMPTY;
	while (state == SECRET_EMPTY && (n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			if (!isspace((unsigned char)buf[i]))
				state = SECRET_FILLED;
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);

	return (state);
}

/* --secret-file: an absolute path, to a file there is. */
static int
secret_file(struct newopts *o)
{
	if (realpath(o->secret_file, o->secret_path) == NULL) {
		fprintf(stderr, "wecom-admin: --secret-file %s: %s\n",
		    o->secret_file, strerror(errno));
		return (EX_NOINPUT);
	}
	return (EX_OK);
}

/*
 * A bot on the long connection: its section once --bot-id and the
 * Secret's file are there; until then an empty 0600 file to paste the
 * Secret into, and what to do (exit 75).
 */
static int
new_ws(struct newopts *o)
{
	struct undo	*u;
	int		 rc, fd, state;

	if (o->secret_file != NULL) {
		if ((rc = secret_file(o)) != EX_OK)
			return (rc);
	} else if ((size_t)snprintf(o->secret_path, sizeof(o->secret_path),
	    "%s/%s.secret", o->sdir, o->name) >= sizeof(o->secret_path))
		return (EX_SOFTWARE);
	if ((state = secret_state(o->secret_path)) == SECRET_MISSING &&
	    o->secret_file == NULL) {
		if ((u = undo_new()) == NULL)
			return (EX_OSERR);
		rc = make_dir(u, o->sdir);
		undo_free(u);
		if (rc != EX_OK)
			return (rc);
		if ((fd = open(o->secret_path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600)) == -1) {
			fprintf(stderr, "wecom-admin: %s: %s\n",
			    o->secret_path, strerror(errno));
			return (EX_CANTCREAT);
		}
		close(fd);
		o->made_secret = 1;
	}
	if (o->bot_id == NULL || state != SECRET_FILLED) {
		guide_ws_pending(o, state);
		return (EX_TEMPFAIL);
	}
	if ((u = undo_new()) == NULL)
		return (EX_OSERR);
	if ((rc = commit(o, u)) == EX_OK)
		guide_ws(o);
	undo_free(u);

	return (rc);
}
