/* SPDX-License-Identifier: ISC */
/*
 * The schema of conf/wecom.conf: every section, every key, and what a
 * value of each must be. It is the one place a key is described: the
 * loader (config.c) checks and fills by it, and `wecom-send --conf-keys`
 * prints it as the README's table (config_doc.c), so the three cannot
 * drift apart. Keys an app's own code reads from its [app NAME] section
 * (wecom_app_conf()) are the app's, not the framework's: they are not
 * here, and each app's source documents its own.
 */

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_crypto.h"
#include "wecom_conf_schema.h"
#include "wecom_netlist.h"

/* WeCom's agentid is a 32-bit int in its JSON. */
#define AGENTID_MAX		2147483647LL
/* WeCom waits 5 s for an answer: a threaded app must answer before. */
#define DEADLINE_MS_MIN		100
#define DEADLINE_MS_MAX		4500
#define WINDOW_MAX		(365LL * 86400)

static int	check_token(const char *);
static int	check_aeskey(const char *);
static int	check_mode(const char *);
static int	check_ws_url(const char *);
static int	check_store(const char *);
static int	conf_parse_number(const char *, long long, long long,
		    long long *);

const struct conf_sect	wecom_conf_sects[] = {
	{ "global",	NULL,	0 },
	{ "app",	"NAME",	1 },
	{ "apikey",	"NAME",	0 },
	{ "relay",	NULL,	0 },
	{ "robot",	"NAME",	0 },
	{ "aibot",	"NAME",	1 },
	{ NULL,		NULL,	0 }
};

/* A [global] number or string, and its member of struct wecom_conf. */
#define GNUM(f, st, def, min, max, env, meaning)			\
	{ "global", #f, CONF_NUMBER, def, NULL, min, max, NULL, env,	\
	    meaning, NULL, st, offsetof(struct wecom_conf, f) }
#define GSTR(f, type, def, form, env, meaning)				\
	{ "global", #f, type, def, NULL, 0, 0, form, env, meaning,	\
	    NULL, CONF_STR, offsetof(struct wecom_conf, f) }

const struct conf_key	wecom_conf_keys[] = {
	GSTR(api_base, CONF_URL, WECOM_API_BASE_DEFAULT, NULL,
	    "WECOM_API_BASE",
	    "WeCom's API, or what stands in for it (a relay, a test double)"),
	GSTR(state_dir, CONF_FILE, WECOM_STATE_DIR_DEFAULT, "a directory",
	    NULL, "the token cache every process shares (0600 files) and "
	    "the outbox"),
	GSTR(ca_file, CONF_FILE, WECOM_CA_FILE_DEFAULT, "a PEM file", NULL,
	    "CAs for TLS to WeCom, read before any chroot (unreadable: "
	    "curl's own)"),
	GSTR(metrics_path, CONF_URLPATH, "/metrics", NULL, NULL,
	    "Prometheus metrics, for metrics_allow only"),
	GSTR(healthz_path, CONF_URLPATH, "/healthz", NULL, NULL,
	    "the health check, for metrics_allow only"),
	GSTR(status_path, CONF_URLPATH, "/status", NULL, NULL,
	    "the status page (and its .json), for metrics_allow or a push "
	    "API key"),
	GSTR(metrics_allow, CONF_NETS, "127.0.0.1/32,::1/128", NULL, NULL,
	    "who may read those three (a unix socket always may)"),
	GNUM(connect_timeout_ms, CONF_LONG, "5000", 100, 600000, NULL,
	    "to connect to WeCom, ms"),
	GNUM(timeout_ms, CONF_LONG, "15000", 100, 600000, NULL,
	    "for one request to WeCom in all, ms"),
	GNUM(body_max, CONF_SIZE, "262144", 4096, 64 * 1024 * 1024, NULL,
	    "largest callback body, bytes (413 beyond)"),
	/* Replay protection: WeCom's timestamps are its own clock's. */
	GNUM(timestamp_window, CONF_LONG, "300", 0, WINDOW_MAX, NULL,
	    "refuse callbacks older or newer than this, s; 0: off"),
	GNUM(handler_threads, CONF_LONG, "4", 1, 256, NULL,
	    "threads per Kore worker, for threaded apps"),
	GNUM(handler_queue, CONF_LONG, "256", 1, 65536, NULL,
	    "most jobs waiting for those threads (503 beyond)"),
	GNUM(api_threads, CONF_LONG, "2", 1, 64, NULL,
	    "threads per worker for the push API and the relay"),
	/* WeCom's retries come within seconds of each other. */
	GNUM(dedupe_window, CONF_LONG, "60", 0, 86400, NULL,
	    "a callback WeCom sends again within this runs once, s; 0: off"),
	GNUM(dedupe_entries, CONF_LONG, "512", 16,
	    WECOM_CONF_DEDUPE_ENTRIES_MAX, NULL,
	    "callbacks remembered for that"),
	GNUM(retry_attempts, CONF_LONG, "4", 1, 20, "WECOM_RETRY_ATTEMPTS",
	    "requests for one API call, the first included"),
	GNUM(retry_base_ms, CONF_LONG, "250", 1, 60000, "WECOM_RETRY_BASE_MS",
	    "first wait before a retry, doubling, ms"),
	GNUM(retry_max_ms, CONF_LONG, "30000", 1, 600000, "WECOM_RETRY_MAX_MS",
	    "most time for one API call and its retries, ms"),
	GNUM(outbox_max_age, CONF_LONG, "14400", 1, 30 * 86400,
	    "WECOM_OUTBOX_MAX_AGE",
	    "a queued message is retried this long, then failed, s"),
	GNUM(outbox_batch, CONF_LONG, "200", 1, 1000000, "WECOM_OUTBOX_BATCH",
	    "most messages one drain sends"),
	GNUM(outbox_interval_ms, CONF_LONG, "1000", 100, 3600000, NULL,
	    "how often the server drains the outbox, ms"),
	GNUM(outbox_backoff_ms, CONF_LONG, "30000", 1, 3600000,
	    "WECOM_OUTBOX_BACKOFF_MS",
	    "first wait before a queued message is retried, doubling, ms"),
	GNUM(log_days, CONF_LONG, "30", 1, 3650, NULL,
	    "the message log keeps this many days (state_dir/messages.db)"),
	GNUM(aibot_ping_ms, CONF_LONG, "30000", 100, 300000, NULL,
	    "bots' long connections ping this often; 2 unanswered: reconnect"),
	GNUM(aibot_streams, CONF_LONG, "64", 4, 4096, NULL,
	    "callback-mode bots: streams answered at once (20 KiB each)"),
	/* Credentials that stop working: one alert, one recovery. */
	{ "global", "watch_robot", CONF_NAME, NULL, "none", 0, 0,
	    "a [robot NAME]", NULL, "alerts when a credential starts or stops "
	    "failing go to this robot", NULL, CONF_STR,
	    offsetof(struct wecom_conf, watch_robot) },
	{ "global", "watch_app", CONF_NAME, NULL, "none", 0, 0,
	    "an [app NAME] with a secret", NULL, "and/or through this app to "
	    "watch_to", NULL, CONF_STR, offsetof(struct wecom_conf, watch_app) },
	{ "global", "watch_to", CONF_STRING, NULL, "required with watch_app",
	    0, 0, "UserIDs joined by |", NULL, "who gets watch_app's alerts",
	    NULL, CONF_STR, offsetof(struct wecom_conf, watch_to) },
	GNUM(watch_interval_ms, CONF_LONG, "60000", 1000, 86400000, NULL,
	    "how often credentials are checked, ms"),
	/* An offset, not a zone: no tzdata is needed in a chroot. */
	GNUM(alert_utc_offset_min, CONF_LONG, "0", -720, 840, NULL,
	    "Alertmanager times are shown this far from UTC, minutes "
	    "(480: China)"),
	/* Several servers, one state (docs/ha.md). */
	{ "global", "store", CONF_SECRET, NULL, "none: this host's own state",
	    0, 0, "postgresql://user:password@host:port/db", "WECOM_STORE",
	    "PostgreSQL that several servers share tokens (and more) in",
	    check_store, CONF_STR, offsetof(struct wecom_conf, store) },

	{ .section = "app", .key = "corpid", .type = CONF_STRING,
	  .absent = "required", .form = "a CorpID: ww…",
	  .meaning = "the corp the app belongs to" },
	{ .section = "app", .key = "agentid", .type = CONF_NUMBER,
	  .absent = "required", .min = 0, .max = AGENTID_MAX,
	  .meaning = "the app's AgentId" },
	{ .section = "app", .key = "secret", .type = CONF_SECRET,
	  .absent = "none: no API calls",
	  .meaning = "the app's Secret; with it token, aeskey and path may "
	  "all be left out (send only)" },
	{ .section = "app", .key = "token", .type = CONF_SECRET,
	  .absent = "required for callbacks",
	  .form = "1-128 characters without blanks", .check = check_token,
	  .meaning = "Token of the app's callback settings" },
	{ .section = "app", .key = "aeskey", .type = CONF_SECRET,
	  .absent = "required for callbacks",
	  .form = "43 characters of [A-Za-z0-9] (-40004 IllegalAesKey)",
	  .check = check_aeskey,
	  .meaning = "EncodingAESKey of the app's callback settings" },
	{ .section = "app", .key = "path", .type = CONF_URLPATH,
	  .absent = "required for callbacks",
	  .meaning = "the path of the app's callback URL, no other app's" },
	{ .section = "app", .key = "handler", .type = CONF_STRING,
	  .absent = "the section's NAME", .form = "a WECOM_APP() name",
	  .meaning = "the C app that serves the section" },
	{ .section = "app", .key = "receiveid", .type = CONF_STRING,
	  .absent = "corpid",
	  .meaning = "ReceiveId of the envelope: a suite's SuiteId" },
	{ .section = "app", .key = "threaded", .type = CONF_YESNO,
	  .def = "no",
	  .meaning = "handlers may block: run them on the handler threads" },
	{ .section = "app", .key = "deadline_ms", .type = CONF_NUMBER,
	  .def = "3000", .min = DEADLINE_MS_MIN, .max = DEADLINE_MS_MAX,
	  .meaning = "threaded: answer empty after this and reply later, ms" },
	{ .section = "app", .key = "contacts", .type = CONF_YESNO, .def = "no",
	  .meaning = "cache its directory for /api/v1/users and wecom-send "
	  "--to NAME (needs the secret's read access)" },
	{ .section = "app", .key = "log", .type = CONF_YESNO, .def = "no",
	  .meaning = "record its messages and replies in the message log" },
	{ .section = "app", .key = "timestamp_window", .type = CONF_NUMBER,
	  .absent = "[global] timestamp_window", .min = 0, .max = WINDOW_MAX,
	  .meaning = "the app's own replay window, s; 0: off" },

	{ .section = "apikey", .key = "key", .type = CONF_SECRET,
	  .absent = "required", .form = "16 characters or more",
	  .meaning = "a key of the push API (only its SHA-256 is kept)" },
	{ .section = "apikey", .key = "app", .type = CONF_NAME,
	  .absent = "none", .form = "an [app NAME] with a secret",
	  .meaning = "default app of the key's messages" },
	{ .section = "apikey", .key = "to", .type = CONF_STRING,
	  .absent = "none", .form = "UserIDs joined by |",
	  .meaning = "default recipients" },
	{ .section = "apikey", .key = "toparty", .type = CONF_STRING,
	  .absent = "none", .form = "department IDs joined by |",
	  .meaning = "default departments" },
	{ .section = "apikey", .key = "totag", .type = CONF_STRING,
	  .absent = "none", .form = "tag IDs joined by |",
	  .meaning = "default tags" },
	{ .section = "apikey", .key = "chat", .type = CONF_STRING,
	  .absent = "none", .form = "a chatid",
	  .meaning = "default app group chat" },
	{ .section = "apikey", .key = "robot", .type = CONF_NAME,
	  .absent = "none", .form = "a [robot NAME]",
	  .meaning = "default robot, for a request that names no app" },
	{ .section = "apikey", .key = "apps", .type = CONF_NAMES,
	  .absent = "any", .form = "[app NAME]s, [aibot NAME]s, by , or blank",
	  .meaning = "the only apps and bots the key may send through" },
	{ .section = "apikey", .key = "robots", .type = CONF_NAMES,
	  .absent = "any", .form = "[robot NAME]s, by , or blank",
	  .meaning = "the only robots the key may send through" },

	{ .section = "relay", .key = "key", .type = CONF_SECRET,
	  .absent = "none: allow only",
	  .form = "16 or more of A-Z a-z 0-9 _ - .",
	  .meaning = "callers give it in /relay/KEY/cgi-bin/… or X-Relay-Key; "
	  "key or allow is required" },
	{ .section = "relay", .key = "allow", .type = CONF_NETS,
	  .absent = "none: key only",
	  .meaning = "networks that need no key (behind nginx: X-Real-IP)" },
	{ .section = "relay", .key = "corpids", .type = CONF_STRING,
	  .absent = "the corpids of the [app] sections",
	  .form = "CorpIDs, by , or blank",
	  .meaning = "the corps whose calls are relayed" },

	{ .section = "robot", .key = "key", .type = CONF_SECRET,
	  .absent = "required",
	  .meaning = "the group robot's webhook key" },

	{ .section = "aibot", .key = "handler", .type = CONF_STRING,
	  .absent = "the section's NAME", .form = "a WECOM_APP() name",
	  .meaning = "the C app whose handlers serve the bot" },
	{ .section = "aibot", .key = "mode", .type = CONF_STRING,
	  .def = "websocket", .form = "websocket or callback",
	  .check = check_mode,
	  .meaning = "a long connection out to WeCom, or JSON callbacks in" },
	{ .section = "aibot", .key = "bot_id", .type = CONF_STRING,
	  .absent = "required for websocket", .form = "the BotID",
	  .meaning = "the bot's id (admin console, API mode)" },
	{ .section = "aibot", .key = "secret", .type = CONF_SECRET,
	  .absent = "required for websocket",
	  .meaning = "the bot's long-connection Secret" },
	{ .section = "aibot", .key = "ws_url", .type = CONF_STRING,
	  .def = WECOM_AIBOT_WS_URL_DEFAULT, .form = "wss://… or ws://…",
	  .check = check_ws_url,
	  .meaning = "the long connection's endpoint" },
	{ .section = "aibot", .key = "token", .type = CONF_SECRET,
	  .absent = "required for callback",
	  .form = "1-128 characters without blanks", .check = check_token,
	  .meaning = "Token of the bot's callback settings" },
	{ .section = "aibot", .key = "aeskey", .type = CONF_SECRET,
	  .absent = "required for callback",
	  .form = "43 characters of [A-Za-z0-9] (-40004 IllegalAesKey)",
	  .check = check_aeskey,
	  .meaning = "EncodingAESKey of the bot's callback settings" },
	{ .section = "aibot", .key = "path", .type = CONF_URLPATH,
	  .absent = "required for callback",
	  .meaning = "the path of the bot's callback URL" },
	{ .section = "aibot", .key = "receiveid", .type = CONF_STRING,
	  .absent = "any (internal bots send \"\")",
	  .meaning = "ReceiveId the envelopes must carry" },
	{ .section = "aibot", .key = "threaded", .type = CONF_YESNO,
	  .absent = "the app code's choice",
	  .meaning = "handlers may block: run them on the handler threads" },
	{ .section = "aibot", .key = "deadline_ms", .type = CONF_NUMBER,
	  .def = "1000", .min = DEADLINE_MS_MIN, .max = DEADLINE_MS_MAX,
	  .meaning = "callback, threaded: then answer with the stream so far, "
	  "ms" },
	{ .section = "aibot", .key = "log", .type = CONF_YESNO, .def = "no",
	  .meaning = "record its messages and replies in the message log" },
	{ .section = "aibot", .key = "timestamp_window", .type = CONF_NUMBER,
	  .absent = "[global] timestamp_window", .min = 0, .max = WINDOW_MAX,
	  .meaning = "the bot's own replay window, s; 0: off" },

	{ .section = NULL, .key = NULL }
};

const struct conf_sect *
wecom_conf_sect_find(const char *type)
{
	const struct conf_sect	*t;

	for (t = wecom_conf_sects; t->type != NULL; t++)
		if (strcmp(t->type, type) == 0)
			return (t);

	return (NULL);
}

const struct conf_key *
wecom_conf_key_find(const char *type, const char *key)
{
	const struct conf_key	*k;

	for (k = wecom_conf_keys; k->key != NULL; k++)
		if (strcmp(k->section, type) == 0 && strcmp(k->key, key) == 0)
			return (k);

	return (NULL);
}

int
wecom_conf_key_fits(const struct conf_key *k, const char *v, long long *n)
{
	long long	x;

	if (k->check != NULL)
		return (k->check(v));
	switch (k->type) {
	case CONF_NUMBER:
		if (conf_parse_number(v, k->min, k->max, &x) != 0)
			return (-1);
		break;
	case CONF_YESNO:
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			return (-1);
		x = strcmp(v, "yes") == 0;
		break;
	case CONF_URL:
		return (strncmp(v, "https://", 8) == 0 ||
		    strncmp(v, "http://", 7) == 0 ? 0 : -1);
	case CONF_URLPATH:
		return (v[0] == '/' && strpbrk(v, " \t?#") == NULL ? 0 : -1);
	default:
		/* Lists of networks and names are their modules' to check. */
		return (0);
	}
	if (n != NULL)
		*n = x;

	return (0);
}

const char *
wecom_conf_key_form(const struct conf_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case CONF_NUMBER:
		snprintf(buf, len, "a whole number from %lld to %lld", k->min,
		    k->max);
		return (buf);
	case CONF_YESNO:
		return ("yes or no");
	case CONF_URL:
		return ("https://… or http://…");
	case CONF_URLPATH:
		return ("/… without blank, ? or #");
	case CONF_NETS:
		snprintf(buf, len, "addresses or networks (10.0.0.0/8, ::1), "
		    "by , or blank; %d at most", WECOM_NETLIST_MAX);
		return (buf);
	default:
		return (k->form != NULL ? k->form : "");
	}
}

static int
check_token(const char *v)
{
	return (strlen(v) > 128 || strpbrk(v, " \t") != NULL ? -1 : 0);
}

static int
check_aeskey(const char *v)
{
	return (wecom_crypto_check_aeskey(v) == WECOM_OK ? 0 : -1);
}

static int
check_mode(const char *v)
{
	return (strcmp(v, "websocket") == 0 || strcmp(v, "callback") == 0 ?
	    0 : -1);
}

/* A libpq URL: what the logs name it by, and what docs/ha.md shows. */
static int
check_store(const char *v)
{
	return (strncmp(v, "postgresql://", 13) == 0 ||
	    strncmp(v, "postgres://", 11) == 0 ? 0 : -1);
}

static int
check_ws_url(const char *v)
{
	return ((strncmp(v, "wss://", 6) == 0 || strncmp(v, "ws://", 5) == 0) &&
	    strpbrk(v, " \t") == NULL ? 0 : -1);
}

/* Decimal digits, perhaps a leading '-': the one parser of numbers. */
static int
conf_parse_number(const char *v, long long min, long long max,
    long long *out)
{
	long long	 n;
	char		*end;

	if (!isdigit((unsigned char)v[v[0] == '-']))
		return (-1);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return (-1);
	*out = n;

	return (0);
}
