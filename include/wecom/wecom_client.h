/* SPDX-License-Identifier: ISC */
/*
 * The WeCom corporate API client: access tokens, message/send, media,
 * app group chats, recall, group robots and directory reads.
 *
 * Plain C over libcurl and jansson, no Kore: the server, wecom-send and
 * the tests share it. One struct wecom_client per app (or per process
 * for robots only); it is not thread-safe. Every call returns a
 * WECOM_API_* code and, when given one, fills a struct wecom_api_error
 * with what WeCom said and a hint on what to do about it.
 *
 *	struct wecom_client *c = wecom_client_new(&conf, NULL, &err);
 *	rc = wecom_send_text(c, "zhangsan|lisi", "disk full on db1", &err);
 */

#ifndef WECOM_CLIENT_H
#define WECOM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "wecom_config.h"

/*
 * Results. Distinct from the crypto -400xx codes and from WeCom's own
 * errcodes, which arrive in struct wecom_api_error.errcode.
 */
#define WECOM_API_OK			0
#define WECOM_API_ERR_ARG		-1001	/* bad argument or message */
#define WECOM_API_ERR_NOMEM		-1002
#define WECOM_API_ERR_CONFIG		-1003	/* no such app, no secret … */
#define WECOM_API_ERR_IO		-1004	/* reading a file, state dir */
#define WECOM_API_ERR_REJECTED		-1005	/* WeCom said errcode != 0 */
#define WECOM_API_ERR_UNAVAILABLE	-1006	/* still failing after retries */
#define WECOM_API_ERR_HTTP		-1007	/* an HTTP status not retried */
#define WECOM_API_ERR_PROTOCOL		-1008	/* an answer that is not JSON */
#define WECOM_API_ERR_TLS		-1009	/* certificate or TLS setup */
#define WECOM_API_ERR_TOO_LARGE		-1010	/* a download over its max */

/* Limits WeCom puts on content, in bytes (app and robot alike). */
#define WECOM_TEXT_MAX			2048
#define WECOM_MARKDOWN_MAX		4096
#define WECOM_TOKEN_MAX			512
#define WECOM_ERRMSG_MAX		256
#define WECOM_ROBOT_PER_MINUTE		20

struct wecom_api_error {
	int		code;		/* WECOM_API_* */
	long		errcode;	/* WeCom's errcode, 0 if none */
	char		errmsg[WECOM_ERRMSG_MAX];
	const char	*hint;		/* one line, or NULL */
	long		http_status;	/* 0 if no answer */
	int		curl_code;	/* CURLcode, 0 if none */
	int		attempts;	/* HTTP requests made */
};

/* Recipients of message/send: "a|b" lists; ',' is accepted too. */
struct wecom_target {
	const char	*touser;	/* UserIDs or "@all" */
	const char	*toparty;	/* department ids */
	const char	*totag;		/* tag ids */
};

/* What to do with content beyond WECOM_TEXT_MAX / WECOM_MARKDOWN_MAX. */
#define WECOM_LONG_SPLIT		0	/* ordered parts "(1/3) " … */
#define WECOM_LONG_TRUNCATE		1	/* cut, with a visible notice */

struct wecom_send_opts {
	int		 safe;			/* 0, 1, 2 */
	int		 enable_id_trans;
	int		 enable_duplicate_check;
	int		 duplicate_check_interval;	/* seconds, 0: WeCom's */
	int		 long_content;		/* WECOM_LONG_* */
	/*
	 * Markdown does not render on the WeChat plugin: these recipients
	 * get the markdown's plain-text fallback as a text message instead.
	 */
	struct wecom_target fallback_to;
};

#define WECOM_MSGID_MAX			8	/* parts kept in a result */

struct wecom_send_result {
	char		*msgid;			/* first part's msgid */
	char		*msgids[WECOM_MSGID_MAX];
	size_t		 nparts;		/* messages sent */
	char		*invaliduser;		/* "" if none */
	char		*invalidparty;
	char		*invalidtag;
	char		*unlicenseduser;
};

struct wecom_user {
	char		*userid;
	char		*name;
	char		*mobile;
	char		*email;
	char		*json;			/* the whole answer */
};

struct wecom_client;
struct wecom_outmsg;

/* Client. app NULL: the first [app] section; robots need no app. */
struct wecom_client	*wecom_client_new(const struct wecom_conf *,
			    const char *app, struct wecom_api_error *);
struct wecom_client	*wecom_client_new_robot(const struct wecom_conf *,
			    struct wecom_api_error *);
void	wecom_client_free(struct wecom_client *);
int	wecom_client_set_ca_blob(struct wecom_client *, const void *,
	    size_t);
void	wecom_client_set_retry(struct wecom_client *, int max_attempts,
	    long base_ms, long max_total_ms);
const char	*wecom_client_app(const struct wecom_client *);

/*
 * Told of every HTTP request the client makes (metrics): the API path
 * ("message/send", "gettoken" …) and WeCom's errcode, 0 for success,
 * or -2 when no JSON answer came (network, HTTP status).
 */
typedef void	(*wecom_api_observer)(void *arg, const char *path,
		    long errcode);
void	wecom_client_set_observer(struct wecom_client *, wecom_api_observer,
	    void *arg);

/* The token for this app, from memory, the state dir or gettoken. */
int	wecom_token_get(struct wecom_client *, char *out, size_t outsz,
	    struct wecom_api_error *);
int	wecom_token_drop(struct wecom_client *, const char *token);

/*
 * [global] store (docs/ha.md): connect, bring the schema up to date and
 * say its version. WECOM_API_OK; WECOM_API_ERR_CONFIG without a store;
 * WECOM_API_ERR_UNAVAILABLE and why (never the URL's password).
 */
int	wecom_store_ping(const struct wecom_conf *, int *version,
	    struct wecom_api_error *);

/* Messages: build, send (to users/parties/tags, a chat or a robot), free. */
struct wecom_outmsg	*wecom_outmsg_text(const char *content);
struct wecom_outmsg	*wecom_outmsg_markdown(const char *content,
			    const char *fallback_text);
struct wecom_outmsg	*wecom_outmsg_media(const char *type,
			    const char *media_id);
struct wecom_outmsg	*wecom_outmsg_video(const char *media_id,
			    const char *title, const char *description);
struct wecom_outmsg	*wecom_outmsg_textcard(const char *title,
			    const char *description, const char *url,
			    const char *btntxt);
struct wecom_outmsg	*wecom_outmsg_news(void);
int	wecom_outmsg_news_add(struct wecom_outmsg *, const char *title,
	    const char *description, const char *url, const char *picurl);
struct wecom_outmsg	*wecom_outmsg_mpnews(void);
int	wecom_outmsg_mpnews_add(struct wecom_outmsg *, const char *title,
	    const char *thumb_media_id, const char *author,
	    const char *content_source_url, const char *content,
	    const char *digest);
struct wecom_outmsg	*wecom_outmsg_image_data(const void *, size_t);
struct wecom_outmsg	*wecom_outmsg_json(const char *msgtype,
			    const char *json_object);
int	wecom_outmsg_mention(struct wecom_outmsg *, const char *userids,
	    const char *mobiles);
const char	*wecom_outmsg_type(const struct wecom_outmsg *);
void	wecom_outmsg_free(struct wecom_outmsg *);

int	wecom_message_send(struct wecom_client *, const struct wecom_target *,
	    const struct wecom_outmsg *, const struct wecom_send_opts *,
	    struct wecom_send_result *, struct wecom_api_error *);
int	wecom_send_text(struct wecom_client *, const char *touser,
	    const char *text, struct wecom_api_error *);
int	wecom_message_recall(struct wecom_client *, const char *msgid,
	    struct wecom_api_error *);
void	wecom_send_result_free(struct wecom_send_result *);

/* App group chats. */
int	wecom_appchat_create(struct wecom_client *, const char *name,
	    const char *owner, const char *userlist, const char *chatid,
	    char **chatid_out, struct wecom_api_error *);
int	wecom_appchat_send(struct wecom_client *, const char *chatid,
	    const struct wecom_outmsg *, const struct wecom_send_opts *,
	    struct wecom_send_result *, struct wecom_api_error *);

/* Temporary media (3 days) and permanent images. type: image|voice|… */
int	wecom_media_upload_file(struct wecom_client *, const char *type,
	    const char *path, char **media_id, struct wecom_api_error *);
int	wecom_media_upload_mem(struct wecom_client *, const char *type,
	    const char *filename, const void *, size_t, char **media_id,
	    struct wecom_api_error *);
int	wecom_media_uploadimg_file(struct wecom_client *, const char *path,
	    char **url, struct wecom_api_error *);

/*
 * Group robots. key: a [robot NAME] section's key, or a raw webhook
 * key. WeCom allows WECOM_ROBOT_PER_MINUTE messages per robot; the
 * client waits its turn across processes (state dir) rather than fail.
 */
const char	*wecom_robot_key(const struct wecom_conf *, const char *name);
/*
 * An intelligent bot's answer to its response_url (a callback's, valid
 * once, for an hour): body is the JSON text ({"msgtype":"markdown",…}).
 * The URL must lie below api_base. Any client will do (new_robot's).
 */
int	wecom_aibot_respond(struct wecom_client *, const char *response_url,
	    const char *body, struct wecom_api_error *);
int	wecom_webhook_send(struct wecom_client *, const char *key,
	    const struct wecom_outmsg *, const struct wecom_send_opts *,
	    struct wecom_send_result *, struct wecom_api_error *);
int	wecom_webhook_upload_file(struct wecom_client *, const char *key,
	    const char *type, const char *path, char **media_id,
	    struct wecom_api_error *);

/* Directory reads: the answer as WeCom gave it. department id < 0: all. */
int	wecom_user_get(struct wecom_client *, const char *userid,
	    struct wecom_user *, struct wecom_api_error *);
void	wecom_user_free(struct wecom_user *);
int	wecom_user_list(struct wecom_client *, long department_id,
	    char **json, struct wecom_api_error *);
int	wecom_department_list(struct wecom_client *, long id,
	    char **json, struct wecom_api_error *);

/*
 * The relay: a host with a fixed IP (WeCom's trusted IPs) serving the
 * calls of tools behind another one. A client for any corp's
 * credentials, with the shared token cache; a token with the seconds
 * it has left; and one call passed through as it came, once — the
 * caller has its own retries — answered with WeCom's status and body.
 */
struct wecom_forward {
	long		 status;		/* WeCom's HTTP status */
	char		*body;
	size_t		 len;
};
int	wecom_token_ttl(struct wecom_client *, char *out, size_t outsz,
	    long *seconds, struct wecom_api_error *);
int	wecom_api_forward(struct wecom_client *, const char *path,
	    const char *query, const char *content_type, const void *body,
	    size_t len, struct wecom_forward *, struct wecom_api_error *);
void	wecom_forward_free(struct wecom_forward *);

/*
 * A GET of a whole http(s) URL (an intelligent bot's file: not below
 * api_base), retried as API calls are, its body refused past max bytes
 * without reading it all: WECOM_API_ERR_TOO_LARGE. *data is malloc'ed.
 */
int	wecom_client_download(struct wecom_client *, const char *url,
	    size_t max, void **data, size_t *len, struct wecom_api_error *);

/*
 * One POST of JSON (body) to a whole http(s) URL, with extra headers
 * ("Name: value", NULL-terminated), tried once: the HTTP status and the
 * answer (malloc'ed, at most max bytes) whatever they are.
 * WECOM_API_ERR_UNAVAILABLE when no answer came (network, timeout).
 */
int	wecom_client_post(struct wecom_client *, const char *url,
	    const char *const *headers, const char *body, size_t max,
	    long *status, char **answer, size_t *alen,
	    struct wecom_api_error *);

/* Content limits, exposed for callers and tests. */
int	wecom_split(const char *text, size_t len, size_t limit,
	    int mode, char ***parts, size_t *nparts);
void	wecom_split_free(char **, size_t);
const char	*wecom_api_hint(long errcode);
const char	*wecom_api_strerror(int code);

#endif
