/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin callback: plays WeCom. A text or an event from a member
 * to an app (XML) or a bot in callback mode (JSON), encrypted and
 * signed as WeCom does it by the crypto layer, POSTed to the section's
 * path; the reply's envelope is opened the same way and the plaintext
 * printed. Exactly what the server sees from WeCom, without WeCom.
 * The envelopes are in wecom-admin-envelope.c.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "wecom_crypto.h"
#include "wecom-admin.h"
#include "wecom-admin-callback.h"

enum { O_EVENT = 256, O_KEY, O_URL, O_FROM };

static void	usage(FILE *);
static void	parse(struct cbopts *, int, char **);
static char	*join(int, char **);
static int	target(struct cbopts *, const struct wecom_conf *);
static char	*plain_app(const struct cbopts *, const char *);
static char	*plain_bot(const struct cbopts *, const char *);
static int	post(const struct cbopts *, struct wecom_crypto *,
		    const char *);

static const struct cmd	cmd = { "callback", usage };

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin callback NAME TEXT ... [--from USERID] [--url URL]\n"
"       wecom-admin callback NAME --event EVENT [--key KEY] [--from USERID]\n"
"           [--url URL]\n"
"\n"
"Sends the callback WeCom would send when USERID writes TEXT to NAME (an\n"
"[app NAME] with callbacks, else an [aibot NAME] in callback mode), or\n"
"when EVENT happens: the message built (XML for an app, JSON for a bot),\n"
"encrypted and signed with NAME's Token and EncodingAESKey, POSTed to\n"
"URL + NAME's path. The reply's signature is verified, the reply\n"
"decrypted and printed, or \"(empty reply)\".\n"
"\n"
"  --event EVENT      an event instead of a text: enter_agent, click,\n"
"                     subscribe … (an app); enter_chat,\n"
"                     template_card_event … (a bot)\n"
"  --key KEY          the event's EventKey (a bot: event_key)\n"
"  --from USERID      the member; default wecom-admin\n"
"  --url URL          the server; default " URL_DEFAULT "\n"
"  -c, --config CONF  see wecom-admin --help\n"
"\n"
"Exit: 0 answered 200; 64 usage; 65 TEXT not UTF-8 (a bot); 69 no\n"
"answer; 76 another status (printed with the body) or a reply that does\n"
"not verify; 78 no such app or callback bot, or the config does not load.\n");
}

int
cmd_callback(int argc, char **argv)
{
	struct cbopts		 o;
	struct wecom_conf	 conf;
	struct wecom_crypto	*wc;
	char			*plain;
	int			 rc;

	memset(&o, 0, sizeof(o));
	parse(&o, argc, argv);
	if ((rc = conf_load(&conf, o.conf)) != EX_OK) {
		free(o.text);
		return (rc);
	}
	plain = NULL;
	wc = NULL;
	if ((rc = target(&o, &conf)) != EX_OK)
		goto out;
	if ((wc = wecom_crypto_new(o.token, o.aeskey, o.rid, &rc)) == NULL) {
		fprintf(stderr, "wecom-admin: %s: %s\n", o.name,
		    wecom_strerror(rc));
		rc = EX_CONFIG;
		goto out;
	}
	plain = o.bot ? plain_bot(&o, o.msgid) : plain_app(&o, o.msgid);
	rc = plain != NULL ? post(&o, wc, plain) : EX_DATAERR;
out:
	wecom_crypto_free(wc);
	free(plain);
	free(o.text);
	wecom_conf_free(&conf);

	return (rc);
}

static void
parse(struct cbopts *o, int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "event",	required_argument,	NULL, O_EVENT },
		{ "key",	required_argument,	NULL, O_KEY },
		{ "url",	required_argument,	NULL, O_URL },
		{ "from",	required_argument,	NULL, O_FROM },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	int				ch;

	o->conf = conf_path;
	o->url = URL_DEFAULT;
	o->from = "wecom-admin";
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case O_EVENT: o->event = optarg; break;
		case O_KEY: o->key = optarg; break;
		case O_URL: o->url = optarg; break;
		case O_FROM: o->from = optarg; break;
		case 'h': help(&cmd);
		default: bad_option(&cmd, argc, argv, ch);
		}
	}
	if (optind >= argc)
		usage_error(&cmd, "no NAME given");
	o->name = argv[optind++];
	if ((optind < argc) == (o->event != NULL))
		usage_error(&cmd, "give TEXT or --event EVENT, one of them");
	if (o->key != NULL && o->event == NULL)
		usage_error(&cmd, "--key is for --event");
	if (strncmp(o->url, "http://", 7) != 0 &&
	    strncmp(o->url, "https://", 8) != 0)
		usage_error(&cmd, "--url is http://host:port or https://host");
	if (optind < argc && (o->text = join(argc - optind, argv + optind)) ==
	    NULL)
		exit(EX_OSERR);
}

/* The arguments joined by blanks, as echo(1) does. */
static char *
join(int argc, char **argv)
{
	char	*buf;
	size_t	 len, off, n;
	int	 i;

	for (i = 0, len = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((buf = malloc(len)) == NULL)
		return (NULL);
	for (i = 0, off = 0; i < argc; i++) {
		n = strlen(argv[i]);
		memcpy(buf + off, argv[i], n);
		off += n;
		buf[off++] = i + 1 < argc ? ' ' : '\0';
	}

	return (buf);
}

/*
 * NAME's keys and path, and the ReceiveId WeCom puts in its envelopes:
 * the CorpID for an app (or its receiveid), "" for a bot (or its).
 */
static int
target(struct cbopts *o, const struct wecom_conf *conf)
{
	const struct wecom_app_conf	*a;
	const char			*rid;

	if ((a = wecom_conf_app(conf, o->name)) == NULL &&
	    (a = wecom_conf_aibot(conf, o->name)) == NULL) {
		fprintf(stderr, "wecom-admin: %s: no [app %s] or [aibot %s]\n",
		    o->conf, o->name, o->name);
		return (EX_CONFIG);
	}
	if (a->token == NULL || a->path == NULL) {
		fprintf(stderr, "wecom-admin: [%s %s] gets no callbacks (%s)\n",
		    a->section->type, o->name, a->kind == WECOM_KIND_AIBOT ?
		    "mode = websocket" : "no token, aeskey, path");
		return (EX_CONFIG);
	}
	o->bot = a->kind == WECOM_KIND_AIBOT;
	o->token = a->token;
	o->aeskey = a->aeskey;
	o->path = a->path;
	o->corpid = a->corpid;
	o->agentid = a->agentid;
	o->bot_id = a->bot_id != NULL ? a->bot_id : a->name;
	if ((rid = wecom_conf_get(a->section, "receiveid")) == NULL)
		rid = o->bot ? "" : a->corpid;
	o->rid = rid;
	o->now = (long long)time(NULL);
	if (random_digits(o->msgid, sizeof(o->msgid)) == -1)
		return (EX_OSERR);

	return (EX_OK);
}

/* What an app gets: WeCom's plaintext XML, text or event. */
static char *
plain_app(const struct cbopts *o, const char *msgid)
{
	struct sbuf	b;

	memset(&b, 0, sizeof(b));
	sb_add(&b, "<xml><ToUserName>");
	sb_cdata(&b, o->corpid);
	sb_add(&b, "</ToUserName><FromUserName>");
	sb_cdata(&b, o->from);
	sb_add(&b, "</FromUserName><CreateTime>%lld</CreateTime>", o->now);
	if (o->event != NULL) {
		sb_add(&b, "<MsgType><![CDATA[event]]></MsgType><Event>");
		sb_cdata(&b, o->event);
		sb_add(&b, "</Event>");
		if (o->key != NULL) {
			sb_add(&b, "<EventKey>");
			sb_cdata(&b, o->key);
			sb_add(&b, "</EventKey>");
		}
	} else {
		sb_add(&b, "<MsgType><![CDATA[text]]></MsgType><Content>");
		sb_cdata(&b, o->text);
		sb_add(&b, "</Content><MsgId>%s</MsgId>", msgid);
	}
	sb_add(&b, "<AgentID>%lld</AgentID></xml>", (long long)o->agentid);

	return (sb_done(&b));
}

/* What a bot gets: its JSON, a text or an event, from a single chat. */
static char *
plain_bot(const struct cbopts *o, const char *msgid)
{
	json_t	*m, *ev;
	char	*s;

	if (o->event != NULL) {
		ev = json_pack("{s:s}", "eventtype", o->event);
		if (ev != NULL && o->key != NULL && json_object_set_new(ev,
		    o->event, json_pack("{s:s}", "event_key", o->key)) != 0) {
			json_decref(ev);
			ev = NULL;
		}
		m = ev == NULL ? NULL : json_pack("{s:s, s:I, s:s, s:s, "
		    "s:{s:s}, s:s, s:o}", "msgid", msgid, "create_time",
		    (json_int_t)o->now, "aibotid", o->bot_id, "chattype",
		    "single", "from", "userid", o->from, "msgtype", "event",
		    "event", ev);
	} else
		m = json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:{s:s}}",
		    "msgid", msgid, "aibotid", o->bot_id, "chattype", "single",
		    "from", "userid", o->from, "msgtype", "text", "text",
		    "content", o->text);
	if (m == NULL) {
		fprintf(stderr, "wecom-admin: a bot's message is JSON: the "
		    "text, the event and the user must be UTF-8\n");
		return (NULL);
	}
	s = json_dumps(m, JSON_COMPACT);
	json_decref(m);

	return (s);
}

/*
 * The request as WeCom makes it, and what came back: printed if it
 * verifies, else told.
 */
static int
post(const struct cbopts *o, struct wecom_crypto *wc, const char *plain)
{
	struct sealed	 s;
	struct reply	 r;
	char		*url;
	int		 rc;

	if ((rc = seal(o, wc, plain, &s)) != EX_OK)
		return (rc);
	if ((url = request_url(o, &s)) == NULL) {
		sealed_free(&s);
		return (EX_OSERR);
	}
	if (http_request(url, o->bot ? "application/json" : "text/xml",
	    s.body, strlen(s.body), &r) == -1) {
		fprintf(stderr, "wecom-admin: %s: no answer: %s\n", url,
		    r.error);
		rc = EX_UNAVAILABLE;
	} else if (r.status != 200) {
		fprintf(stderr, "wecom-admin: %s: HTTP %ld\n%s%s", url,
		    r.status, r.body, r.len > 0 && r.body[r.len - 1] != '\n' ?
		    "\n" : "");
		rc = EX_PROTOCOL;
	} else if (r.len == 0) {
		printf("(empty reply)\n");
		rc = EX_OK;
	} else
		rc = open_reply(o, wc, &r);
	reply_free(&r);
	free(url);
	sealed_free(&s);
	if (rc == EX_OK && fflush(stdout) != 0)
		rc = EX_IOERR;

	return (rc);
}
