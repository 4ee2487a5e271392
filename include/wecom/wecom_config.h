/* SPDX-License-Identifier: ISC */
/*
 * conf/wecom.conf: an INI file of typed sections.
 *
 *	[global]		api_base, state_dir, timeouts …
 *	[app NAME]		one WeCom app (agent): credentials, callback path
 *	[apikey NAME]		a key of the push API
 *	[relay]			the trusted-IP relay
 *	[robot NAME]		a group robot's webhook key
 *	[aibot NAME]		an intelligent bot, served by an app's code
 *
 * One schema (framework/conf/config_schema.c) lists every key of every
 * section with its type, default, range and environment override; the
 * loader checks by it, and a section or key it does not know is refused
 * with the file and the line, but in [app NAME], whose other keys are
 * the app's own (wecom_app_conf()). A value "env:VAR" or "file:/path" is
 * read from the environment or from a file that must not be readable by
 * others. Plain C, no Kore: the server, wecom-send and the tests share it.
 */

#ifndef WECOM_CONFIG_H
#define WECOM_CONFIG_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define WECOM_CONF_DEFAULT	"conf/wecom.conf"
#define WECOM_CONF_SYSTEM	"/etc/wecom/wecom.conf"
#define WECOM_API_BASE_DEFAULT	"https://qyapi.weixin.qq.com/cgi-bin/"
#define WECOM_STATE_DIR_DEFAULT	"/var/lib/wecom"
#define WECOM_CA_FILE_DEFAULT	"/etc/ssl/certs/ca-certificates.crt"
#define WECOM_AIBOT_WS_URL_DEFAULT	"wss://openws.work.weixin.qq.com"

#define WECOM_CONF_OK		0
#define WECOM_CONF_ERROR	-1

/*
 * The largest dedupe_entries. The retry table (wecom_dedupe.h) sits
 * above the config, so it takes its own bound from this one.
 */
#define WECOM_CONF_DEDUPE_ENTRIES_MAX	(1024 * 1024)

struct wecom_conf_kv {
	char				*key;
	char				*value;
	char				*deferred;	/* lazy: why it failed */
	int				 line;
	TAILQ_ENTRY(wecom_conf_kv)	 list;
};

struct wecom_conf_section {
	char				*type;	/* "global", "app", … */
	char				*name;	/* "" for [global] */
	int				 line;
	TAILQ_HEAD(, wecom_conf_kv)	 keys;
	TAILQ_ENTRY(wecom_conf_section)	 list;
};

enum wecom_app_kind {
	WECOM_KIND_APP = 0,		/* [app NAME]: XML callbacks */
	WECOM_KIND_AIBOT		/* [aibot NAME]: JSON, or a WebSocket */
};

/*
 * A validated [app NAME] section, or an [aibot NAME] one: a bot is
 * served by an app's code (handler = …) through the same handler
 * chains, so it is described by the same structure.
 */
struct wecom_app_conf {
	enum wecom_app_kind		 kind;
	const char			*name;
	const char			*handler;	/* C app code, default name */
	const char			*corpid;
	int64_t				 agentid;
	const char			*token;		/* these three are */
	const char			*aeskey;	/* NULL in a send-only */
	const char			*secret;	/* NULL: no API calls */
	const char			*path;		/* app (no callbacks) */
	int				 threaded;	/* threaded = yes */
	int				 log;		/* log = yes */
	int				 contacts;	/* contacts = yes */
	long				 deadline_ms;	/* then answer empty */
	long				 timestamp_window;	/* s, 0: off */
	/* [aibot NAME]: mode = websocket, or JSON callbacks at path. */
	int				 ws;
	const char			*bot_id;	/* websocket */
	const char			*bot_secret;
	const char			*ws_url;
	const struct wecom_conf_section	*section;
	TAILQ_ENTRY(wecom_app_conf)	 list;
};

TAILQ_HEAD(wecom_app_conf_list, wecom_app_conf);

/*
 * [global] as loaded: every key of the schema, from the file or its
 * default. The numbers are checked against their ranges at load: a
 * value out of range stops start-up, none is replaced. WECOM_API_BASE,
 * WECOM_RETRY_ATTEMPTS, _BASE_MS, _MAX_MS and WECOM_OUTBOX_MAX_AGE,
 * _BATCH, _BACKOFF_MS override the file, and are checked the same way.
 */
struct wecom_conf {
	char				*file;
	const char			*api_base;
	const char			*state_dir;
	const char			*ca_file;
	const char			*metrics_path;
	const char			*healthz_path;
	const char			*status_path;
	const char			*metrics_allow;	/* unparsed */
	long				 connect_timeout_ms;
	long				 timeout_ms;
	size_t				 body_max;
	long				 timestamp_window;	/* s, 0: off */
	long				 handler_threads;	/* per worker */
	long				 handler_queue;		/* jobs waiting */
	long				 api_threads;		/* push, relay */
	long				 dedupe_window;		/* s, 0: off */
	long				 dedupe_entries;
	long				 retry_attempts;	/* requests */
	long				 retry_base_ms;
	long				 retry_max_ms;		/* in all */
	long				 outbox_max_age;	/* s */
	long				 outbox_batch;
	long				 outbox_interval_ms;
	long				 outbox_backoff_ms;
	long				 alert_utc_offset_min;
	long				 aibot_streams;
	long				 log_days;
	long				 aibot_ping_ms;
	const char			*watch_robot;	/* NULL: none */
	const char			*watch_app;
	const char			*watch_to;
	long				 watch_interval_ms;
	const char			*store;		/* NULL: none */
	/*
	 * Set by the server's parent: the CA bundle read before a chroot,
	 * for every client made from this conf. NULL: curl's default.
	 */
	const void			*ca_pem;
	size_t				 ca_len;
	/*
	 * Set by the server for its drain: struct wecom_outbox_sender
	 * (wecom_outbox.h). NULL: such records wait for the server.
	 */
	const void			*aibot_send;
	const void			*forward_send;
	TAILQ_HEAD(, wecom_conf_section) sections;
	struct wecom_app_conf_list	 apps;
	struct wecom_app_conf_list	 bots;		/* [aibot NAME] */
};

int	wecom_conf_load(struct wecom_conf *, const char *path,
	    char *err, size_t errlen);
/*
 * The same for a tool that uses one section (wecom-send): an env: or
 * file: value outside [global] that cannot be read does not fail the
 * load; the key reads as absent, and wecom_conf_deferred() gives the
 * reason for the sections the tool uses (NULL: all there).
 */
int	wecom_conf_load_lazy(struct wecom_conf *, const char *path,
	    char *err, size_t errlen);
const char	*wecom_conf_deferred(const struct wecom_conf *,
		    const char *type, const char *name);
void	wecom_conf_free(struct wecom_conf *);
const char	*wecom_conf_path(void);
const char	*wecom_conf_path_tool(void);

const struct wecom_app_conf	*wecom_conf_app(const struct wecom_conf *,
				    const char *name);
const struct wecom_app_conf	*wecom_conf_aibot(const struct wecom_conf *,
				    const char *name);
const struct wecom_conf_section	*wecom_conf_section(const struct wecom_conf *,
				    const char *type, const char *name);
const char	*wecom_conf_get(const struct wecom_conf_section *,
		    const char *key);

/*
 * The schema as a Markdown table (| section | key | type | default |
 * range | env | meaning |) and a note on values: the README's table of
 * keys, and `wecom-send --conf-keys`. 0, or -1 if fp had an error.
 */
int	wecom_conf_keys_markdown(FILE *fp);

#endif
