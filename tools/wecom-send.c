/* SPDX-License-Identifier: ISC */
/*
 * wecom-send: send a WeCom message from a shell, a cron job or a
 * monitoring hook, through an app of conf/wecom.conf or a group robot.
 * Exit codes follow sysexits(3) so that scripts can tell a typo from a
 * WeCom refusal from an outage.
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "wecom_client.h"
#include "wecom_outbox.h"

/* Text on stdin: more is refused, never cut. */
#define INPUT_MAX	(1024 * 1024)

enum kind { K_TEXT, K_MARKDOWN, K_IMAGE, K_FILE, K_VOICE, K_VIDEO,
	K_TEXTCARD, K_NEWS, K_JSON };

static const char *const kind_type[] = { "text", "markdown", "image", "file",
	"voice", "video", "textcard", "news", NULL };

struct opts {
	const char		*conf, *app;
	struct wecom_target	 to;
	const char		*chat, *webhook;
	enum kind		 kind;
	int			 nkinds;
	const char		*file;
	const char		*title, *url, *btntxt, *picurl;
	const char		*json_type, *json;
	const char		*mention, *mention_mobile, *fallback_to;
	const char		*recall, *create_chat, *owner;
	const char		*key;
	int			 spool, flush;
	struct wecom_send_opts	 so;
	int			 quiet;
	char			*text;
};

enum { O_TEXTCARD = 256, O_NEWS, O_PICURL, O_BTNTXT, O_JSON, O_MENTION,
	O_MENTION_MOBILE, O_FALLBACK, O_SAFE, O_IDTRANS, O_DUP, O_TRUNCATE,
	O_RECALL, O_CREATE_CHAT, O_OWNER, O_SPOOL, O_FLUSH, O_KEY,
	O_CONF_KEYS };

static const struct option longopts[] = {
	{ "config",	required_argument,	NULL, 'c' },
	{ "app",	required_argument,	NULL, 'a' },
	{ "to",		required_argument,	NULL, 't' },
	{ "party",	required_argument,	NULL, 'p' },
	{ "tag",	required_argument,	NULL, 'T' },
	{ "chat",	required_argument,	NULL, 'C' },
	{ "webhook",	required_argument,	NULL, 'w' },
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
	{ "key",	required_argument,	NULL, O_KEY },
	{ "conf-keys",	no_argument,		NULL, O_CONF_KEYS },
	{ "quiet",	no_argument,		NULL, 'q' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static void	usage(FILE *, int) __attribute__((noreturn));
static void	parse(struct opts *, int, char **);
static int	read_text(int, char **, char **);
static int	read_args(int, char **, char **);
static int	read_stdin(char **);
static void	*read_file(const char *, size_t *);
static int	exit_code(int);
static int	report(const struct wecom_api_error *);
static struct wecom_outmsg	*build(struct opts *, struct wecom_client *, int *);
static struct wecom_outmsg	*build_media(struct opts *, struct wecom_client *,
			    int *);
static int	run(struct opts *, const struct wecom_conf *);
static int	send_msg(struct opts *, struct wecom_client *,
		    struct wecom_outmsg *);
static int	spool(struct opts *, const struct wecom_conf *);
static int	flush(struct opts *, const struct wecom_conf *);

static void
usage(FILE *fp, int code)
{
	fprintf(fp,
"usage: wecom-send [-q] [-c CONF] [-a APP] TARGET [TYPE] [TEXT ... | < text]\n"
"       wecom-send --spool [--key K] [-c CONF] [-a APP] TARGET [TYPE] [TEXT]\n"
"       wecom-send --flush [-q] [-c CONF]\n"
"       wecom-send --conf-keys\n"
"\n"
"Targets (one):\n"
"  -t, --to U1,U2        users (UserID; @all for everyone)\n"
"  -p, --party P1,P2     departments;  -T, --tag T1,T2  tags\n"
"                        (--to, --party and --tag combine)\n"
"  -C, --chat CHATID     an app group chat\n"
"  -w, --webhook ROBOT   a group robot: a [robot NAME] of the config, or a\n"
"                        raw webhook key (visible in ps: prefer the config)\n"
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
"  -c, --config CONF     default $WECOM_CONF or conf/wecom.conf\n"
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
"\n"
"Prints \"msgid: ID\" per message sent and any invaliduser/invalidparty/\n"
"invalidtag/unlicenseduser. Retries -1, 45009, 45033, HTTP 5xx and network\n"
"errors with backoff (WECOM_RETRY_ATTEMPTS, WECOM_RETRY_MAX_MS).\n"
"\n"
"Exit status:\n"
"   0  sent\n"
"  64  usage error (EX_USAGE)\n"
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

/* An option with two values: the second is the next argument. */
static const char *
second(int argc, char **argv, const char *opt)
{
	if (optind >= argc) {
		fprintf(stderr, "wecom-send: %s needs two values\n", opt);
		usage(stderr, EX_USAGE);
	}
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
	int	ch, targets;
	char	*end;

	while ((ch = getopt_long(argc, argv, "c:a:t:p:T:C:w:mI:F:V:v:qh",
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
			    o->so.duplicate_check_interval > 14400) {
				fprintf(stderr, "wecom-send: --dup-check: "
				    "1 to 14400 seconds\n");
				usage(stderr, EX_USAGE);
			}
			break;
		case O_TRUNCATE: o->so.long_content = WECOM_LONG_TRUNCATE; break;
		case O_RECALL: o->recall = optarg; break;
		case O_CREATE_CHAT: o->create_chat = optarg; break;
		case O_OWNER: o->owner = optarg; break;
		case O_SPOOL: o->spool = 1; break;
		case O_FLUSH: o->flush = 1; break;
		case O_KEY: o->key = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout, EX_OK);
		case O_CONF_KEYS:
			/* The schema the file is loaded by, not the file. */
			exit(wecom_conf_keys_markdown(stdout) == 0 &&
			    fflush(stdout) == 0 ? EX_OK : EX_IOERR);
		default: usage(stderr, EX_USAGE);
		}
	}

	targets = (o->to.touser || o->to.toparty || o->to.totag) +
	    (o->chat != NULL && o->create_chat == NULL) +
	    (o->webhook != NULL);
	if (o->flush) {
		if (targets != 0 || o->spool || o->recall || o->create_chat ||
		    o->nkinds > 0 || o->key != NULL || optind != argc) {
			fprintf(stderr, "wecom-send: --flush takes no message\n");
			usage(stderr, EX_USAGE);
		}
		return;
	}
	if (o->key != NULL && !o->spool) {
		fprintf(stderr, "wecom-send: --key is for --spool\n");
		usage(stderr, EX_USAGE);
	}
	if (o->spool && (o->recall || o->create_chat || o->kind == K_IMAGE ||
	    o->kind == K_FILE || o->kind == K_VOICE || o->kind == K_VIDEO)) {
		fprintf(stderr, "wecom-send: --spool queues messages, not "
		    "files, recalls or chat creations\n");
		usage(stderr, EX_USAGE);
	}
	if (o->recall == NULL && o->create_chat == NULL && targets != 1) {
		fprintf(stderr, "wecom-send: give one target: --to/--party/"
		    "--tag, --chat or --webhook\n");
		usage(stderr, EX_USAGE);
	}
	if (o->nkinds > 1) {
		fprintf(stderr, "wecom-send: give at most one message type\n");
		usage(stderr, EX_USAGE);
	}
	if (o->create_chat != NULL && o->to.touser == NULL) {
		fprintf(stderr, "wecom-send: --create-chat needs --to users\n");
		usage(stderr, EX_USAGE);
	}
	if ((o->mention || o->mention_mobile) && o->webhook == NULL) {
		fprintf(stderr, "wecom-send: --mention is for --webhook\n");
		usage(stderr, EX_USAGE);
	}
	if (o->webhook != NULL && o->kind == K_VIDEO) {
		fprintf(stderr, "wecom-send: robots cannot send video\n");
		usage(stderr, EX_USAGE);
	}
}

/*
 * TEXT from the arguments, or else stdin. Not EX_OK: there is no text,
 * and stderr says why.
 */
static int
read_text(int argc, char **argv, char **out)
{
	*out = NULL;
	if (argc > 0)
		return (read_args(argc, argv, out));

	return (read_stdin(out));
}

/* The arguments joined by blanks, as echo(1) does. */
static int
read_args(int argc, char **argv, char **out)
{
	char	*buf;
	size_t	 len, off, n;
	int	 i;

	len = 0;
	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((buf = malloc(len)) == NULL) {
		fprintf(stderr, "wecom-send: out of memory\n");
		return (EX_OSERR);
	}
	for (i = 0, off = 0; i < argc; i++) {
		n = strlen(argv[i]);
		memcpy(buf + off, argv[i], n);
		off += n;
		buf[off++] = i + 1 < argc ? ' ' : '\0';
	}
	*out = buf;

	return (EX_OK);
}

/*
 * All of stdin, trailing newlines dropped, or nothing: text beyond
 * INPUT_MAX, or with a NUL byte that would end it early, is refused,
 * never sent in part.
 */
static int
read_stdin(char **out)
{
	char	*buf, *nul;
	size_t	 len, n;

	/* One byte more than allowed tells too long from just right. */
	if ((buf = malloc(INPUT_MAX + 1)) == NULL) {
		fprintf(stderr, "wecom-send: out of memory\n");
		return (EX_OSERR);
	}
	len = 0;
	while (len <= INPUT_MAX &&
	    (n = fread(buf + len, 1, INPUT_MAX + 1 - len, stdin)) > 0)
		len += n;
	if (ferror(stdin)) {
		fprintf(stderr, "wecom-send: cannot read stdin: %s; nothing "
		    "sent\n", strerror(errno));
		free(buf);
		return (EX_NOINPUT);
	}
	if (len > INPUT_MAX) {
		fprintf(stderr, "wecom-send: stdin: more than %d bytes "
		    "(1 MiB) of text; nothing sent\n", INPUT_MAX);
		free(buf);
		return (EX_DATAERR);
	}
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		fprintf(stderr, "wecom-send: stdin: a NUL byte at offset %zu: "
		    "not text (send files with --file); nothing sent\n",
		    (size_t)(nul - buf));
		free(buf);
		return (EX_DATAERR);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = buf;

	return (EX_OK);
}

static void *
read_file(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	long	 sz;

	buf = NULL;
	if ((fp = fopen(path, "rb")) == NULL)
		return (NULL);
	if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) > 0 &&
	    sz <= 20 * 1024 * 1024 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz)) != NULL) {
		if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
			free(buf);
			buf = NULL;
		} else
			*len = (size_t)sz;
	}
	fclose(fp);

	return (buf);
}

static int
exit_code(int rc)
{
	switch (rc) {
	case WECOM_API_OK:
		return (EX_OK);
	case WECOM_API_ERR_ARG:
		return (EX_DATAERR);
	case WECOM_API_ERR_CONFIG:
		return (EX_CONFIG);
	case WECOM_API_ERR_IO:
		return (EX_IOERR);
	case WECOM_API_ERR_REJECTED:
	case WECOM_API_ERR_HTTP:
	case WECOM_API_ERR_PROTOCOL:
		return (EX_PROTOCOL);
	case WECOM_API_ERR_UNAVAILABLE:
	case WECOM_API_ERR_TLS:
		return (EX_UNAVAILABLE);
	}

	return (EX_SOFTWARE);
}

/* errcode, errmsg, hint: what the user needs to fix it. */
static int
report(const struct wecom_api_error *err)
{
	if (err->errcode != 0)
		fprintf(stderr, "wecom-send: errcode %ld: %s\n", err->errcode,
		    err->errmsg);
	else
		fprintf(stderr, "wecom-send: %s: %s\n",
		    wecom_api_strerror(err->code), err->errmsg);
	if (err->hint != NULL)
		fprintf(stderr, "wecom-send: hint: %s\n", err->hint);
	if (err->attempts > 1)
		fprintf(stderr, "wecom-send: gave up after %d requests\n",
		    err->attempts);

	return (exit_code(err->code));
}

int
main(int argc, char **argv)
{
	struct opts		o;
	struct wecom_conf	conf;
	char			cerr[512];
	int			rc;

	memset(&o, 0, sizeof(o));
	o.conf = wecom_conf_path();
	parse(&o, argc, argv);
	if (wecom_conf_load(&conf, o.conf, cerr, sizeof(cerr)) !=
	    WECOM_CONF_OK) {
		fprintf(stderr, "wecom-send: %s\n", cerr);
		wecom_conf_free(&conf);
		return (EX_CONFIG);
	}

	rc = EX_OK;
	if (!o.flush && o.recall == NULL && o.create_chat == NULL &&
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
	wecom_conf_free(&conf);

	return (rc);
}

/* The message of the command line; media are uploaded first. */
static struct wecom_outmsg *
build(struct opts *o, struct wecom_client *c, int *code)
{
	struct wecom_outmsg	*m;

	*code = EX_DATAERR;
	switch (o->kind) {
	case K_TEXT:
		if ((m = wecom_outmsg_text(o->text)) != NULL &&
		    (o->mention || o->mention_mobile))
			wecom_outmsg_mention(m, o->mention, o->mention_mobile);
		return (m);
	case K_MARKDOWN:
		return (wecom_outmsg_markdown(o->text, o->text));
	case K_TEXTCARD:
		return (wecom_outmsg_textcard(o->title, o->text, o->url,
		    o->btntxt));
	case K_NEWS:
		if ((m = wecom_outmsg_news()) != NULL &&
		    wecom_outmsg_news_add(m, o->title, o->text[0] ? o->text :
		    NULL, o->url, o->picurl) != WECOM_API_OK) {
			wecom_outmsg_free(m);
			m = NULL;
		}
		return (m);
	case K_JSON:
		if ((m = wecom_outmsg_json(o->json_type, o->json)) == NULL)
			fprintf(stderr, "wecom-send: --json: not a JSON "
			    "object\n");
		return (m);
	default:
		return (build_media(o, c, code));
	}
}

static struct wecom_outmsg *
build_media(struct opts *o, struct wecom_client *c, int *code)
{
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	const char		*type = kind_type[o->kind];
	char			*id;
	void			*data;
	size_t			 len;
	int			 rc;

	if (access(o->file, R_OK) == -1) {
		fprintf(stderr, "wecom-send: %s: %s\n", o->file,
		    strerror(errno));
		*code = EX_NOINPUT;
		return (NULL);
	}
	if (o->webhook != NULL && o->kind == K_IMAGE) {
		if ((data = read_file(o->file, &len)) == NULL) {
			fprintf(stderr, "wecom-send: %s: cannot read it "
			    "(at most 20 MB)\n", o->file);
			*code = EX_NOINPUT;
			return (NULL);
		}
		if ((m = wecom_outmsg_image_data(data, len)) == NULL)
			fprintf(stderr, "wecom-send: %s: robot images are at "
			    "most 2 MB\n", o->file);
		free(data);
		return (m);
	}
	if (o->webhook != NULL)
		rc = wecom_webhook_upload_file(c, o->webhook, type, o->file,
		    &id, &err);
	else
		rc = wecom_media_upload_file(c, type, o->file, &id, &err);
	if (rc != WECOM_API_OK) {
		*code = report(&err);
		return (NULL);
	}
	m = o->kind == K_VIDEO ? wecom_outmsg_video(id, NULL, NULL) :
	    wecom_outmsg_media(type, id);
	free(id);

	return (m);
}

static void
print_invalid(const char *what, const char *v)
{
	if (v != NULL && *v != '\0')
		printf("%s: %s\n", what, v);
}

static int
send_msg(struct opts *o, struct wecom_client *c, struct wecom_outmsg *m)
{
	struct wecom_send_result	res;
	struct wecom_api_error		err;
	struct wecom_target		fb;
	size_t				i;
	int				rc;

	memset(&fb, 0, sizeof(fb));
	fb.touser = o->fallback_to;
	o->so.fallback_to = fb;
	if (o->webhook != NULL)
		rc = wecom_webhook_send(c, o->webhook, m, &o->so, &res, &err);
	else if (o->chat != NULL)
		rc = wecom_appchat_send(c, o->chat, m, &o->so, &res, &err);
	else
		rc = wecom_message_send(c, &o->to, m, &o->so, &res, &err);

	for (i = 0; !o->quiet && i < res.nparts && i < WECOM_MSGID_MAX; i++) {
		if (res.msgids[i] != NULL)
			printf("msgid: %s\n", res.msgids[i]);
	}
	if (rc == WECOM_API_OK && !o->quiet && o->chat == NULL &&
	    o->webhook == NULL && res.nparts == 0)
		printf("sent\n");
	/* Also on failure: 81013 names who was not reachable. */
	print_invalid("invaliduser", res.invaliduser);
	print_invalid("invalidparty", res.invalidparty);
	print_invalid("invalidtag", res.invalidtag);
	print_invalid("unlicenseduser", res.unlicenseduser);
	if (rc == WECOM_API_OK && !o->quiet && (o->chat || o->webhook))
		printf("sent %zu message%s\n", res.nparts,
		    res.nparts == 1 ? "" : "s");
	wecom_send_result_free(&res);

	return (rc == WECOM_API_OK ? EX_OK : report(&err));
}

static int
run(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	struct wecom_outmsg	*m;
	const char		*key;
	char			*chatid;
	int			 code;

	if (o->webhook != NULL) {
		if ((key = wecom_robot_key(conf, o->webhook)) != NULL)
			o->webhook = key;
		c = wecom_client_new_robot(conf, &err);
	} else
		c = wecom_client_new(conf, o->app, &err);
	if (c == NULL)
		return (report(&err));

	if (o->recall != NULL) {
		if ((code = wecom_message_recall(c, o->recall, &err)) ==
		    WECOM_API_OK && !o->quiet)
			printf("recalled: %s\n", o->recall);
		code = code == WECOM_API_OK ? EX_OK : report(&err);
	} else if (o->create_chat != NULL) {
		code = wecom_appchat_create(c, o->create_chat, o->owner,
		    o->to.touser, o->chat, &chatid, &err);
		if (code == WECOM_API_OK)
			printf("chatid: %s\n", chatid);
		free(chatid);
		code = code == WECOM_API_OK ? EX_OK : report(&err);
	} else if ((m = build(o, c, &code)) != NULL) {
		code = send_msg(o, c, m);
		wecom_outmsg_free(m);
	}
	wecom_client_free(c);

	return (code);
}

/* Into the outbox; a drainer sends it. Robots by name, never by key. */
static int
spool(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_outbox_to	 to;
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	char			 key[WECOM_OUTBOX_KEY_MAX + 1];
	int			 code;

	memset(&to, 0, sizeof(to));
	to.app = o->app;
	to.to = o->to;
	to.chat = o->chat;
	to.robot = o->webhook;
	o->so.fallback_to.touser = o->fallback_to;
	if ((m = build(o, NULL, &code)) == NULL)
		return (code);
	code = wecom_outbox_put(conf, &to, m, &o->so, o->key, key, &err);
	wecom_outmsg_free(m);
	if (code != WECOM_API_OK)
		return (report(&err));
	if (!o->quiet)
		printf("%s\n", key);

	return (EX_OK);
}

static void
flush_log(void *arg, int pri, const char *line)
{
	const struct opts	*o = arg;

	if (pri <= LOG_ERR || (pri == LOG_WARNING && !o->quiet))
		fprintf(stderr, "wecom-send: %s\n", line);
}

static int
flush(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_outbox_stats	st;

	if (wecom_outbox_drain(conf, 0, -1, flush_log, o, &st) !=
	    WECOM_API_OK)
		return (EX_IOERR);
	if (!o->quiet) {
		if (st.busy)
			printf("busy: another drainer is at work\n");
		printf("delivered: %d\nfailed: %d\nremaining: %zu\n",
		    st.delivered, st.failed, st.remaining);
	}
	if (st.failed > 0)
		return (EX_PROTOCOL);

	return (st.remaining > 0 ? EX_UNAVAILABLE : EX_OK);
}
