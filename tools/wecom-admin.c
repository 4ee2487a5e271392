/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin: the operator's tool. Adds an app or a bot to the config
 * with fresh callback keys, checks every credential of the config,
 * plays WeCom against a callback URL, shows the server's status and
 * manages the outbox. Exit codes follow sysexits(3), as wecom-send's
 * do. This file: the command line and what the subcommands share; one
 * file per subcommand does the rest.
 */

#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "wecom-admin.h"

#define NAME_MAX_LEN	64

/* -c before the subcommand; the subcommand's own -c wins. */
const char	*conf_path;

static void	usage(FILE *);

static const struct cmd	top = { NULL, usage };

static const struct {
	const char	*name;
	int		(*run)(int, char **);
} cmds[] = {
	{ "new-app",	cmd_new_app },
	{ "new-aibot",	cmd_new_aibot },
	{ "check",	cmd_check },
	{ "callback",	cmd_callback },
	{ "status",	cmd_status },
	{ "outbox",	cmd_outbox },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin [-c CONF] COMMAND [ARGS]\n"
"\n"
"Commands (each takes -c CONF and --help):\n"
"  new-app NAME --agentid N [--corpid ID] [--path P] [--secret-file F]\n"
"                     add an [app NAME] with a new Token and EncodingAESKey;\n"
"                     prints what to paste into the admin console\n"
"  new-aibot NAME [--mode websocket|callback] [--bot-id ID] [--secret-file F]\n"
"                     add an [aibot NAME]\n"
"  check [--aibot-connect]\n"
"                     load the config as the server does; get every app's\n"
"                     token; check the bots' keys\n"
"  callback NAME TEXT | callback NAME --event EVENT [--key KEY]\n"
"                     send NAME's URL a callback signed and encrypted as\n"
"                     WeCom does; print the decrypted reply\n"
"  status [--url URL] the running server's status\n"
"  outbox list [--failed] | outbox retry KEY|--all-failed | outbox drop KEY\n"
"                     the messages waiting or failed in state_dir/outbox\n"
"\n"
"Options:\n"
"  -c, --config CONF  default $WECOM_CONF, else /etc/wecom/wecom.conf, else\n"
"                     conf/wecom.conf if the working directory has one and\n"
"                     /etc/wecom/wecom.conf does not exist\n"
"  -h, --help         this text\n"
"\n"
"Exit status: 0 done; 64 usage; 65 bad data; 66 no such message or file;\n"
"69 a check failed or a server is unreachable; 73 exists already; 74 I/O\n"
"error; 75 try again (a step is yours first, or the outbox is busy);\n"
"76 the server or WeCom answered wrongly; 78 configuration error.\n"
"See wecom-admin(1).\n");
}

/* What is wrong, in one line, and where the rest is: exit 64. */
void
usage_error(const struct cmd *c, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "wecom-admin: %s%s", c->name ? c->name : "",
	    c->name ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'wecom-admin %s%s--help'\n",
	    c->name ? c->name : "", c->name ? " " : "");
	exit(EX_USAGE);
}

/* getopt's own messages name argv[0], a path: ours name the option. */
void
bad_option(const struct cmd *c, int argc, char **argv, int ch)
{
	const char	*arg;

	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (ch == ':')
		usage_error(c, "%s needs a value", arg);
	if (optopt != 0 && optopt < 256)
		usage_error(c, "unknown option -%c", optopt);
	usage_error(c, "unknown option %s", arg);
}

void
help(const struct cmd *c)
{
	c->usage(stdout);
	exit(fflush(stdout) == 0 ? EX_OK : EX_IOERR);
}

/* The config as the server loads it; its error is the loader's. */
int
conf_load(struct wecom_conf *conf, const char *path)
{
	char	err[512];

	if (wecom_conf_load(conf, path, err, sizeof(err)) != WECOM_CONF_OK) {
		fprintf(stderr, "wecom-admin: %s\n", err);
		wecom_conf_free(conf);
		return (EX_CONFIG);
	}

	return (EX_OK);
}

/*
 * Run by root, become the owner of state_dir before writing there: a
 * token cache's lock file or an outbox record made by root could not
 * be opened by the server's user, whose calls or drain would then fail.
 * The config is read by then, its secrets with it.
 */
int
as_state_owner(const struct wecom_conf *conf)
{
	struct stat	st;

	if (geteuid() != 0 || stat(conf->state_dir, &st) == -1 ||
	    st.st_uid == 0)
		return (EX_OK);
	if (setgroups(0, NULL) == -1 || setgid(st.st_gid) == -1 ||
	    setuid(st.st_uid) == -1) {
		fprintf(stderr, "wecom-admin: cannot become the owner of %s "
		    "(uid %u): %s\n", conf->state_dir, (unsigned)st.st_uid,
		    strerror(errno));
		return (EX_OSERR);
	}

	return (EX_OK);
}

/* A section's name: a file name and a URL path too, so nothing else. */
int
valid_name(const char *s)
{
	size_t	i, len;

	len = strlen(s);
	if (len == 0 || len > NAME_MAX_LEN || s[0] == '-')
		return (0);
	for (i = 0; i < len; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return (0);
	}

	return (1);
}

int
main(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	size_t				i;
	int				ch;

	conf_path = wecom_conf_path_tool();
	opterr = 0;
	/* "+": the options before the subcommand only. */
	while ((ch = getopt_long(argc, argv, "+:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'h': help(&top);
		default: bad_option(&top, argc, argv, ch);
		}
	}
	if (optind >= argc)
		usage_error(&top, "no command given");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[optind], cmds[i].name) != 0)
			continue;
		argc -= optind;
		argv += optind;
		/* 0: getopt starts afresh on the subcommand's arguments. */
		optind = 0;
		return (cmds[i].run(argc, argv));
	}
	usage_error(&top, "unknown command '%s'", argv[optind]);
}
