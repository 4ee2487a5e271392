/* SPDX-License-Identifier: ISC */
/*
 * wecom-send's sending: the message of the command line built, media
 * uploaded, sent to an app's users, a chat or a robot; or queued to the
 * outbox and flushed from it. WeCom's answers become sysexits(3) codes.
 */

#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "wecom-send.h"

/* How long --flush --now waits for another drainer, per message. */
#define FLUSH_WAIT_MS	5000

static const char *const kind_type[] = { "text", "markdown", "image", "file",
	"voice", "video", "textcard", "news", NULL };


static int	exit_code(int);
static int	report(const struct wecom_api_error *);
static int	is_uuid(const char *);
static struct wecom_outmsg	*build(struct opts *, struct wecom_client *, int *);
static struct wecom_outmsg	*build_media(struct opts *, struct wecom_client *,
			    int *);
static int	send_msg(struct opts *, struct wecom_client *,
		    struct wecom_outmsg *);
static int	flush_now(struct opts *, const struct wecom_conf *,
		    struct wecom_outbox_stats *);

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

/*
 * --webhook: a [robot NAME] of the config; else a raw key, taken only
 * in the forms WeCom gives it (a UUID, or the webhook URL with key=),
 * so that a mistyped name is an error and not a request with a key
 * that cannot be right. EX_OK, o->webhook the key; or EX_USAGE.
 */
int
robot_target(struct opts *o, const struct wecom_conf *conf)
{
	const char	*key, *p;
	size_t		 len;

	if ((key = wecom_robot_key(conf, o->webhook)) != NULL) {
		o->webhook = key;
		return (EX_OK);
	}
	if (is_uuid(o->webhook))
		return (EX_OK);
	if ((strncmp(o->webhook, "https://", 8) == 0 ||
	    strncmp(o->webhook, "http://", 7) == 0) &&
	    (p = strstr(o->webhook, "key=")) != NULL &&
	    (p[-1] == '?' || p[-1] == '&') &&
	    (len = strcspn(p + 4, "&#")) > 0) {
		if ((o->webhook_key = strndup(p + 4, len)) == NULL)
			return (EX_OSERR);
		o->webhook = o->webhook_key;
		return (EX_OK);
	}
	fprintf(stderr, "wecom-send: --webhook %s: no [robot %s] in %s, and "
	    "not a webhook key (a UUID) or URL\n", o->webhook, o->webhook,
	    conf->file);

	return (EX_USAGE);
}

/* 8-4-4-4-12 hex digits, as WeCom's robot keys are. */
static int
is_uuid(const char *s)
{
	int	i;

	if (strlen(s) != 36)
		return (0);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return (0);
		} else if (!isxdigit((unsigned char)s[i]))
			return (0);
	}

	return (1);
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

int
run(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;
	struct wecom_outmsg	*m;
	char			*chatid;
	int			 code;

	if ((code = resolve_names(o, conf)) != EX_OK)
		return (code);
	if (o->webhook != NULL)
		c = wecom_client_new_robot(conf, &err);
	else
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
int
spool(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_outbox_to	 to;
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	char			 key[WECOM_OUTBOX_KEY_MAX + 1];
	int			 code;

	if ((code = resolve_names(o, conf)) != EX_OK)
		return (code);
	memset(&to, 0, sizeof(to));
	to.app = o->app;
	to.to = o->to;
	to.chat = o->chat;
	to.robot = o->webhook;
	to.aibot = o->aibot;
	to.group = o->group;
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

/*
 * --flush --now: every queued message once, its backoff ignored, as
 * wecom_outbox_send() does for one: after an outage is fixed, nobody
 * should wait for the longest backoff. This host's files and the shared
 * store's rows; delivered, failed for good, or still queued are counted
 * as a drain counts them. EX_UNAVAILABLE: the store did not answer, its
 * messages were left (the files were flushed).
 */
static int
flush_now(struct opts *o, const struct wecom_conf *conf,
    struct wecom_outbox_stats *st)
{
	struct wecom_send_result	  res;
	struct wecom_api_error		  err;
	char				**keys;
	size_t				  i, n;
	int				  lrc, rc;

	lrc = wecom_outbox_keys(conf, &keys, &n);
	if (lrc != WECOM_API_OK && lrc != WECOM_API_ERR_UNAVAILABLE) {
		fprintf(stderr, "wecom-send: %s/outbox: %s\n", conf->state_dir,
		    wecom_api_strerror(lrc));
		return (EX_IOERR);
	}
	for (i = 0; i < n; i++) {
		rc = wecom_outbox_send(conf, keys[i], FLUSH_WAIT_MS, flush_log,
		    o, &res, &err);
		if (rc == WECOM_API_OK)
			st->delivered++;
		else if (rc == WECOM_OUTBOX_QUEUED)
			st->remaining++;
		else {
			st->failed++;
			(void)report(&err);
		}
		wecom_send_result_free(&res);
	}
	wecom_outbox_keys_free(keys, n);
	st->store_failed = lrc != WECOM_API_OK;

	return (EX_OK);
}

int
flush(struct opts *o, const struct wecom_conf *conf)
{
	struct wecom_outbox_stats	st;

	if (o->now) {
		memset(&st, 0, sizeof(st));
		if (flush_now(o, conf, &st) != EX_OK)
			return (EX_IOERR);
	} else if (wecom_outbox_drain(conf, 0, -1, flush_log, o, &st) !=
	    WECOM_API_OK)
		return (EX_IOERR);
	if (!o->quiet) {
		if (st.busy)
			printf("busy: another drainer is at work\n");
		if (st.store_failed)
			printf("store: unreachable, its messages not flushed\n");
		printf("delivered: %d\nfailed: %d\nremaining: %zu\n",
		    st.delivered, st.failed, st.remaining);
	}
	if (st.failed > 0)
		return (EX_PROTOCOL);

	if (st.store_failed)
		fprintf(stderr, "wecom-send: the shared store does not answer: "
		    "its queued messages were not flushed, this host's were\n");

	return (st.remaining > 0 || st.store_failed ? EX_UNAVAILABLE : EX_OK);
}
