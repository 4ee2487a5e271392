/* SPDX-License-Identifier: ISC */
/*
 * wecom-send: send a WeCom message from a shell, a cron job or a
 * monitoring hook, through an app of the config or a group robot.
 * Exit codes follow sysexits(3) so that scripts can tell a typo from a
 * WeCom refusal from an outage. This file: the command line; the text
 * is read by wecom-send-input.c, sent by wecom-send-msg.c.
 */

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "wecom-send.h"

enum { O_TEXTCARD = 256, O_NEWS, O_PICURL, O_BTNTXT, O_JSON, O_MENTION,
	O_MENTION_MOBILE, O_FALLBACK, O_SAFE, O_IDTRANS, O_DUP, O_TRUNCATE,
	O_RECALL, O_CREATE_CHAT, O_OWNER, O_SPOOL, O_FLUSH, O_NOW, O_KEY,
	O_CONF_KEYS, O_AIBOT, O_GROUP };

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "app",	required_argument,	NULL, 'a' },
	{ "to",		required_argument,	NULL, 't' },
	{ "party",	required_argument,	NULL, 'p' },
	{ "tag",	required_argument,	NULL, 'T' },
	{ "chat",	required_argument,	NULL, 'C' },
	{ "webhook",	required_argument,	NULL, 'w' },
	{ "aibot",	required_argument,	NULL, O_AIBOT },
	{ "group",	no_argument,		NULL, O_GROUP },
	{ "markdown",	no_argument,		NULL, 'm' },
	{ "image",	required_argument,	NULL, 'I' },
	{ "file",	required_argument,	NULL, 'F' },
	{ "voice",	required_argument,	NULL, 'V' },
	{ "video",	required_argument,	NULL, 'v' },
	{ "textcard",	required_argument,	NULL, O_TEXTCARD },
	{ "news",	required_argument,	NULL, O_NEWS },
	{ "picurl",	required_argument,	NULL, O_PICURL },
	{ "btntxt",	required_argument,	NULL, O_BTNTXT },
	{ "json",	required_argument,	NULL, O_JSON },
	{ "mention",	required_argument,	NULL, O_MENTION },
	{ "mention-mobile", required_argument,	NULL, O_MENTION_MOBILE },
	{ "fallback-to", required_argument,	NULL, O_FALLBACK },
	{ "safe",	no_argument,		NULL, O_SAFE },
	{ "id-trans",	no_argument,		NULL, O_IDTRANS },
	{ "dup-check",	required_argument,	NULL, O_DUP },
	{ "truncate",	no_argument,		NULL, O_TRUNCATE },
	{ "recall",	required_argument,	NULL, O_RECALL },
	{ "create-chat", required_argument,	NULL, O_CREATE_CHAT },
	{ "owner",	required_argument,	NULL, O_OWNER },
	{ "spool",	no_argument,		NULL, O_SPOOL },
	{ "flush",	no_argument,		NULL, O_FLUSH },
	{ "now",	no_argument,		NULL, O_NOW },
	{ "key",	required_argument,	NULL, O_KEY },
	{ "conf-keys",	no_argument,		NULL, O_CONF_KEYS },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static int	unusable(const struct opts *, const struct wecom_conf *,
		    char *, size_t);
static void	usage(FILE *, int) __attribute__((noreturn));
static void	bad_option(int, char **, int) __attribute__((noreturn));
static void	parse(struct opts *, int, char **);
static void	check(struct opts *, int);

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
"usage: wecom-send [-q] [-c CONF] [-a APP] TARGET [TYPE] [TEXT ... | < text]\n"
"       wecom-send --spool [--key K] [-c CONF] [-a APP] TARGET [TYPE] [TEXT]\n"
"       wecom-send --flush [--now] [-q] [-c CONF]\n"
"       wecom-send --conf-keys\n"
"\n"
"Targets (one):\n"
"  -t, --to U1,U2        users (UserID; @all for everyone), or members' names:\n"
"                        a name exactly one member of the app's contacts\n"
"                        cache (state_dir/contacts-APP.json, kept by the\n"
"                        server) has becomes their UserID; a name several\n"
"                        share is refused (exit 64) with their UserIDs\n"
"  -p, --party P1,P2     departments;  -T, --tag T1,T2  tags\n"
"                        (--to, --party and --tag combine)\n"
"  -C, --chat CHATID     an app group chat\n"
"  -w, --webhook ROBOT   a group robot: a [robot NAME] of the config; else a\n"
"                        raw key, a UUID, or the webhook URL with key=\n"
"                        (visible in ps: prefer the config). Any other\n"
"                        ROBOT is a usage error\n"
"      --aibot BOT --chat ID [--group]   an intelligent bot's conversation:\n"
"                        a member's UserID, or with --group a group chatid.\n"
"                        Queued for the server, which holds the bot's long\n"
"                        connection (text, markdown, --json template_card)\n"
"TEXT is the arguments joined by blanks; without TEXT, stdin is read.\n"
"TEXT and data on stdin together are refused (exit 64).\n"
"Types (default text; text beyond 2048 bytes, markdown beyond 4096, is\n"
"sent as ordered parts \"(1/3) \"...):\n"
"  -m, --markdown        TEXT is markdown\n"
"  -I, --image FILE      -F, --file FILE   -V, --voice FILE   -v, --video FILE\n"
"                        uploaded first (robots: image inline, file/voice)\n"
"      --textcard TITLE URL   a text card; TEXT is its description\n"
"      --btntxt TEXT     the card's button text\n"
"      --news TITLE URL  a news article; TEXT is its description\n"
"      --picurl URL      the article's picture\n"
"      --json MSGTYPE JSON    any type as its JSON object (template_card,\n"
"                        miniprogram_notice, mpnews ...)\n"
"Options:\n"
"  -c, --config CONF     default $WECOM_CONF, else /etc/wecom/wecom.conf,\n"
"                        else conf/wecom.conf if the working directory\n"
"                        has one and /etc/wecom/wecom.conf does not exist\n"
"  -a, --app APP         an [app NAME] of the config; default the first\n"
"      --mention U1,U2   robot text: @ these UserIDs (@all works)\n"
"      --mention-mobile M1,M2   robot text: @ these mobile numbers\n"
"      --fallback-to U1,U2   markdown: these users (on the WeChat plugin,\n"
"                        where markdown does not render) get TEXT as text\n"
"      --safe            confidential message (safe=1)\n"
"      --id-trans        enable_id_trans=1\n"
"      --dup-check SECS  enable_duplicate_check, interval SECS\n"
"      --truncate        cut long content with a visible notice, no parts\n"
"      --recall MSGID    recall a message sent by the app\n"
"      --create-chat NAME   create an app group chat of the --to users\n"
"                        (--owner U, --chat CHATID optional); prints chatid\n"
"  -q, --quiet           print nothing on success\n"
"  -h, --help            this text\n"
"      --conf-keys       print every key of the config file (section, type,\n"
"                        default, range, environment variable, meaning) as\n"
"                        a Markdown table, and exit; reads no config\n"
"Outbox (state_dir/outbox; see docs/outbox.md):\n"
"      --spool           queue the message instead of sending it; prints\n"
"                        its key. Text, markdown, textcard, news, --json;\n"
"                        robots by [robot NAME] only. Exit 0 once queued.\n"
"      --key KEY         the message's idempotency key (default random):\n"
"                        a key queued or delivered before is not queued again\n"
"      --flush           send what is due in the outbox now (cron: every few\n"
"                        minutes); prints delivered, failed, remaining.\n"
"                        Exit 0 all sent, 69 some remain for a retry later,\n"
"                        76 some failed for good (moved to outbox/failed/)\n"
"      --now             with --flush: every queued message now, its backoff\n"
"                        ignored (once an outage is fixed): this host's and,\n"
"                        with [global] store, the database's. Exit 69 also\n"
"                        if the database does not answer (files flushed)\n"
"\n"
"Prints \"msgid: ID\" per message sent and any invaliduser/invalidparty/\n"
"invalidtag/unlicenseduser. Retries -1, 45009, 45033, HTTP 5xx and network\n"
"errors with backoff (WECOM_RETRY_ATTEMPTS, WECOM_RETRY_MAX_MS).\n"
"\n"
"Exit status:\n"
"   0  sent\n"
"  64  usage error, or a --to name several members share (EX_USAGE)\n"
"  65  bad input: empty text, text on stdin over 1 MiB or with a NUL byte,\n"
"      invalid JSON (EX_DATAERR)\n"
"  66  a file to send, or stdin, cannot be read (EX_NOINPUT)\n"
"  69  WeCom unavailable after retries: network, HTTP 5xx, busy (EX_UNAVAILABLE)\n"
"  70  internal error (EX_SOFTWARE)\n"
"  74  state directory not usable (EX_IOERR)\n"
"  76  WeCom rejected the request; errcode and hint printed (EX_PROTOCOL)\n"
"  78  configuration error: file, app, secret (EX_CONFIG)\n");
	exit(code);
}

/* What is wrong, in one line, and where the rest is: exit 64. */
void
usage_error(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "wecom-send: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\ntry 'wecom-send --help'\n");
	exit(EX_USAGE);
}

/* getopt's own messages name argv[0], a path: ours name the option. */
static void
bad_option(int argc, char **argv, int ch)
{
	const char	*arg;

	arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
	if (ch == ':')
		usage_error("%s needs a value", arg);
	if (optopt != 0 && optopt < 256)
		usage_error("unknown option -%c", optopt);
	usage_error("unknown option %s", arg);
}

/* An option with two values: the second is the next argument. */
static const char *
second(int argc, char **argv, const char *opt)
{
	if (optind >= argc)
		usage_error("%s needs two values", opt);
	return (argv[optind++]);
}

static void
set_kind(struct opts *o, enum kind k)
{
	o->kind = k;
	o->nkinds++;
}

static void
parse(struct opts *o, int argc, char **argv)
{
	int	ch;
	char	*end;

	while ((ch = getopt_long(argc, argv, ":c:a:t:p:T:C:w:mI:F:V:v:qh",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 'a': o->app = optarg; break;
		case 't': o->to.touser = optarg; break;
		case 'p': o->to.toparty = optarg; break;
		case 'T': o->to.totag = optarg; break;
		case 'C': o->chat = optarg; break;
		case 'w': o->webhook = optarg; break;
		case 'm': set_kind(o, K_MARKDOWN); break;
		case 'I': set_kind(o, K_IMAGE); o->file = optarg; break;
		case 'F': set_kind(o, K_FILE); o->file = optarg; break;
		case 'V': set_kind(o, K_VOICE); o->file = optarg; break;
		case 'v': set_kind(o, K_VIDEO); o->file = optarg; break;
		case O_TEXTCARD:
			set_kind(o, K_TEXTCARD);
			o->title = optarg;
			o->url = second(argc, argv, "--textcard");
			break;
		case O_NEWS:
			set_kind(o, K_NEWS);
			o->title = optarg;
			o->url = second(argc, argv, "--news");
			break;
		case O_JSON:
			set_kind(o, K_JSON);
			o->json_type = optarg;
			o->json = second(argc, argv, "--json");
			break;
		case O_PICURL: o->picurl = optarg; break;
		case O_BTNTXT: o->btntxt = optarg; break;
		case O_MENTION: o->mention = optarg; break;
		case O_MENTION_MOBILE: o->mention_mobile = optarg; break;
		case O_FALLBACK: o->fallback_to = optarg; break;
		case O_SAFE: o->so.safe = 1; break;
		case O_IDTRANS: o->so.enable_id_trans = 1; break;
		case O_DUP:
			o->so.enable_duplicate_check = 1;
			o->so.duplicate_check_interval =
			    (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o->so.duplicate_check_interval < 1 ||
			    o->so.duplicate_check_interval > 14400)
				usage_error("--dup-check: "
				    "1 to 14400 seconds");
			break;
		case O_TRUNCATE: o->so.long_content = WECOM_LONG_TRUNCATE; break;
		case O_RECALL: o->recall = optarg; break;
		case O_CREATE_CHAT: o->create_chat = optarg; break;
		case O_OWNER: o->owner = optarg; break;
		case O_SPOOL: o->spool = 1; break;
		case O_FLUSH: o->flush = 1; break;
		case O_NOW: o->now = 1; break;
		case O_KEY: o->key = optarg; break;
		case O_AIBOT: o->aibot = optarg; break;
		case O_GROUP: o->group = 1; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout, EX_OK);
		case O_CONF_KEYS:
			/* The schema the file is loaded by, not the file. */
			exit(wecom_conf_keys_markdown(stdout) == 0 &&
			    fflush(stdout) == 0 ? EX_OK : EX_IOERR);
		default: bad_option(argc, argv, ch);
		}
	}

	check(o, argc);
}


/* The options together: one target, one type, each option its use. */
static void
check(struct opts *o, int argc)
{
	int	targets;

	targets = (o->to.touser || o->to.toparty || o->to.totag) +
	    (o->chat != NULL && o->create_chat == NULL) +
	    (o->webhook != NULL);
	if (o->aibot != NULL && (targets != 1 || o->chat == NULL))
		usage_error("--aibot needs --chat and no other target");
	if (o->group && o->aibot == NULL)
		usage_error("--group is for --aibot");
	/* Only the server holds a bot's connection: it sends. */
	if (o->aibot != NULL)
		o->spool = 1;
	if (o->flush) {
		if (targets != 0 || o->spool || o->recall || o->create_chat ||
		    o->nkinds > 0 || o->key != NULL || optind != argc)
			usage_error("--flush takes no message");
		return;
	}
	if (o->now)
		usage_error("--now is for --flush");
	if (o->key != NULL && !o->spool)
		usage_error("--key is for --spool");
	if (o->spool && (o->recall || o->create_chat || o->kind == K_IMAGE ||
	    o->kind == K_FILE || o->kind == K_VOICE || o->kind == K_VIDEO))
		usage_error("--spool queues messages, not "
		    "files, recalls or chat creations");
	if (o->recall == NULL && o->create_chat == NULL && targets != 1)
		usage_error("give one target: --to/--party/"
		    "--tag, --chat or --webhook");
	if (o->nkinds > 1)
		usage_error("give at most one message type");
	if (o->create_chat != NULL && o->to.touser == NULL)
		usage_error("--create-chat needs --to users");
	if ((o->mention || o->mention_mobile) && o->webhook == NULL)
		usage_error("--mention is for --webhook");
	if (o->webhook != NULL && o->kind == K_VIDEO)
		usage_error("robots cannot send video");
}

/* 1 if the section this send uses has a secret that could not be read. */
static int
unusable(const struct opts *o, const struct wecom_conf *conf, char *err,
    size_t len)
{
	const struct wecom_app_conf	*a;
	const char			*why;

	if (o->aibot != NULL)
		why = wecom_conf_deferred(conf, "aibot", o->aibot);
	else if (o->webhook != NULL)
		why = wecom_conf_deferred(conf, "robot", o->webhook);
	else if ((a = o->app != NULL ? wecom_conf_app(conf, o->app) :
	    TAILQ_FIRST(&conf->apps)) != NULL)
		why = wecom_conf_deferred(conf, "app", a->name);
	else
		why = NULL;
	if (why != NULL)
		snprintf(err, len, "%s", why);

	return (why != NULL);
}

int
main(int argc, char **argv)
{
	struct opts		o;
	struct wecom_conf	conf;
	char			cerr[512];
	int			rc;

	memset(&o, 0, sizeof(o));
	o.conf = wecom_conf_path_tool();
	opterr = 0;
	parse(&o, argc, argv);
	if (optind < argc && !o.flush && o.recall == NULL &&
	    o.create_chat == NULL && stdin_has_data())
		usage_error("text given both as TEXT and on stdin; give one "
		    "(nothing sent)");
	/* Lazy: a secret of a section this send does not use is no error. */
	if (wecom_conf_load_lazy(&conf, o.conf, cerr, sizeof(cerr)) !=
	    WECOM_CONF_OK || (!o.flush && unusable(&o, &conf, cerr,
	    sizeof(cerr)))) {
		fprintf(stderr, "wecom-send: %s\n", cerr);
		wecom_conf_free(&conf);
		return (EX_CONFIG);
	}

	rc = EX_OK;
	if (o.webhook != NULL && !o.spool && !o.flush)
		rc = robot_target(&o, &conf);
	if (rc == EX_OK && !o.flush && o.recall == NULL && o.create_chat == NULL &&
	    (o.kind == K_TEXT || o.kind == K_MARKDOWN ||
	    o.kind == K_TEXTCARD || o.kind == K_NEWS)) {
		rc = read_text(argc - optind, argv + optind, &o.text);
		if (rc == EX_OK && o.text[0] == '\0' && o.kind != K_NEWS) {
			fprintf(stderr, "wecom-send: nothing to send\n");
			rc = EX_DATAERR;
		}
	}
	if (rc == EX_OK)
		rc = o.flush ? flush(&o, &conf) : o.spool ? spool(&o, &conf) :
		    run(&o, &conf);
	free(o.text);
	free(o.webhook_key);
	free(o.resolved);
	wecom_conf_free(&conf);

	return (rc);
}

