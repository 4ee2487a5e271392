/* SPDX-License-Identifier: ISC */
/*
 * The public header of the WeCom callback framework: everything an app
 * file under apps/ needs, and nothing of Kore, OpenSSL or libxml2.
 *
 * An app registers its handlers once, from its init function:
 *
 *	static int
 *	on_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
 *	{
 *		wecom_reply_text(ctx, msg->content);
 *		return (WECOM_NEXT);
 *	}
 *
 *	static int
 *	myapp_init(struct wecom_app *app)
 *	{
 *		return (wecom_on_msg(app, "text", on_text, NULL));
 *	}
 *
 *	WECOM_APP("myapp", myapp_init);
 */

#ifndef WECOM_H
#define WECOM_H

#include <stddef.h>
#include <stdint.h>

/*
 * Results: WECOM_OK (defined with the official -400xx codes it shares
 * with the crypto layer), WECOM_ERROR, or one of these.
 */
#include "wecom_crypto.h"
#include "wecom_command.h"

#define WECOM_ERROR		-1
#define WECOM_ERR_REPLIED	-2	/* the handler already replied */
#define WECOM_ERR_TOO_MANY	-3	/* e.g. more than 8 news articles */

/* What a handler returns: go on with the chain, or end it. */
#define WECOM_NEXT		0
#define WECOM_STOP		1

enum wecom_msg_type {
	WECOM_MSG_UNKNOWN = 0,
	WECOM_MSG_TEXT,
	WECOM_MSG_IMAGE,
	WECOM_MSG_VOICE,
	WECOM_MSG_VIDEO,
	WECOM_MSG_SHORTVIDEO,
	WECOM_MSG_LOCATION,
	WECOM_MSG_LINK,
	WECOM_MSG_FILE,
	WECOM_MSG_EVENT,
	WECOM_MSG_MIXED,		/* bots: text and images */
};

enum wecom_event_type {
	WECOM_EVENT_NONE = 0,
	WECOM_EVENT_UNKNOWN,
	WECOM_EVENT_SUBSCRIBE,
	WECOM_EVENT_UNSUBSCRIBE,
	WECOM_EVENT_ENTER_AGENT,
	WECOM_EVENT_LOCATION,
	WECOM_EVENT_CLICK,
	WECOM_EVENT_VIEW,
	WECOM_EVENT_SCANCODE_PUSH,
	WECOM_EVENT_SCANCODE_WAITMSG,
	WECOM_EVENT_PIC_SYSPHOTO,
	WECOM_EVENT_PIC_PHOTO_OR_ALBUM,
	WECOM_EVENT_PIC_WEIXIN,
	WECOM_EVENT_LOCATION_SELECT,
	WECOM_EVENT_BATCH_JOB_RESULT,
	WECOM_EVENT_CHANGE_CONTACT,
	WECOM_EVENT_TEMPLATE_CARD_EVENT,
	WECOM_EVENT_TEMPLATE_CARD_MENU_EVENT,
	WECOM_EVENT_OPEN_APPROVAL_CHANGE,
	WECOM_EVENT_SYS_APPROVAL_CHANGE,
	WECOM_EVENT_CHANGE_EXTERNAL_CONTACT,
	WECOM_EVENT_CHANGE_EXTERNAL_CHAT,
	WECOM_EVENT_CHANGE_EXTERNAL_TAG,
	WECOM_EVENT_KF_MSG_OR_EVENT,
	WECOM_EVENT_SHARE_AGENT_CHANGE,
	WECOM_EVENT_ENTER_CHAT,		/* bots: a member opened the chat */
	WECOM_EVENT_FEEDBACK,		/* bots: an answer was rated */
};

/* Where a message came from: wecom_ctx_channel(). */
enum wecom_channel {
	WECOM_CHANNEL_APP = 0,		/* an app's XML callback */
	WECOM_CHANNEL_AIBOT_CALLBACK,	/* an intelligent bot's JSON one */
	WECOM_CHANNEL_AIBOT_WS,		/* a bot's long connection */
};

/*
 * A decrypted callback. Strings are NUL-terminated, never NULL when the
 * element was present, NULL when it was absent; they live until the
 * handler chain ends. Any element not named here is reachable with
 * wecom_msg_get(), so new WeCom fields need no framework change.
 *
 * An intelligent bot's JSON message fills the same fields: from.userid
 * is from_user, text.content (or voice.content) content, image.url
 * pic_url, file.url and video.url url, event.eventtype event, and the
 * card event's event_key, task_id and card_type theirs. Any other
 * member is reachable by its path: wecom_msg_get(msg, "quote/text/
 * content"); an array's items repeat: wecom_msg_count(msg, "msg_item").
 */
struct wecom_msg {
	enum wecom_msg_type	 type;
	enum wecom_event_type	 event_type;

	/* Every callback. */
	const char		*to_user;	/* ToUserName: the CorpID */
	const char		*from_user;	/* FromUserName: a UserID */
	const char		*msgtype;
	const char		*msgid;		/* an opaque string */
	int64_t			 create_time;
	int64_t			 agentid;

	/* Messages. */
	const char		*content;	/* text */
	const char		*pic_url;	/* image, link */
	const char		*media_id;	/* image voice video file */
	const char		*format;	/* voice */
	const char		*thumb_media_id; /* video, shortvideo */
	const char		*title;		/* link, file */
	const char		*description;	/* link */
	const char		*url;		/* link */
	double			 location_x;	/* location: latitude */
	double			 location_y;	/* location: longitude */
	int			 scale;
	const char		*label;

	/* Events. */
	const char		*event;		/* as sent: "click", "LOCATION" */
	const char		*event_key;
	double			 latitude;	/* LOCATION event */
	double			 longitude;
	double			 precision;
	const char		*scan_type;	/* scancode_* */
	const char		*scan_result;
	int			 pic_count;	/* pic_* : SendPicsInfo/Count */
	const char		*poiname;	/* location_select */
	const char		*job_id;	/* batch_job_result */
	const char		*job_type;
	int			 job_errcode;
	const char		*change_type;	/* change_contact, external */
	const char		*user_id;
	const char		*new_user_id;
	const char		*name;
	const char		*department;
	const char		*party_id;	/* change_contact party: Id */
	const char		*parent_id;
	const char		*tag_id;
	const char		*external_user_id;
	const char		*chat_id;
	const char		*welcome_code;
	const char		*task_id;	/* template_card_event */
	const char		*card_type;
	const char		*response_code;
	const char		*sp_no;		/* sys_approval_change */
	const char		*sp_status;
	const char		*third_no;	/* open_approval_change */
	const char		*open_kf_id;	/* kf_msg_or_event */
	const char		*kf_token;

	/* Intelligent bots. */
	const char		*aibot_id;
	const char		*chat_type;	/* "single" or "group" */
	const char		*response_url;	/* answer once, within 1 h */

	const struct wecom_xml	*xml;		/* every element, by path */
};

struct wecom_app;
struct wecom_client;
struct wecom_ctx;
struct wecom_xml;

typedef int	(*wecom_handler)(struct wecom_ctx *, const struct wecom_msg *,
		    void *);
typedef int	(*wecom_app_init)(struct wecom_app *);

/* Any element by its path below <xml> ("ScanCodeInfo/ScanResult") or
 * its own name ("ScanResult"): the first match, or NULL. An element
 * that holds others ("ScanCodeInfo") is there with an empty text. */
const char	*wecom_msg_get(const struct wecom_msg *, const char *name);
/* The n-th element (from 0) of that name, and how many there are, for
 * repeated items: wecom_msg_count(msg, "item"). */
const char	*wecom_msg_get_nth(const struct wecom_msg *, const char *name,
		    size_t n);
size_t		 wecom_msg_count(const struct wecom_msg *, const char *name);

/*
 * Handlers for a message type ("text", "image", …), an event ("click",
 * optionally only for one EventKey; NULL means any), or everything no
 * other handler matched. Handlers of one app run in the order they were
 * registered; any may return WECOM_STOP to end the chain.
 */
int	wecom_on_msg(struct wecom_app *, const char *msgtype, wecom_handler,
	    void *arg);
int	wecom_on_event(struct wecom_app *, const char *event,
	    const char *event_key, wecom_handler, void *arg);
int	wecom_on_default(struct wecom_app *, wecom_handler, void *arg);

/*
 * Handlers that may block — run a command, call the API — belong to a
 * threaded app (this call from its init, or threaded = yes in its
 * section). They run on worker threads, never on the event loop. If the
 * chain has not finished within the app's deadline_ms (default 3000,
 * WeCom gives up at 5 s), WeCom gets an empty 200 at once and the reply
 * is sent to the member as a proactive message when it is ready.
 */
void	wecom_app_set_threaded(struct wecom_app *, int on);
/*
 * Programs (wecom_command.h, docs/commands.md): from its init an app
 * names the key of its section that holds a command line ("capture");
 * a handler of a threaded app runs it and gets its output. The server's
 * command helper runs it, outside the workers' sandbox and chroot;
 * the workers themselves may not run programs at all. A bad line is an
 * error at start, naming the key. wecom_ctx_command returns WECOM_OK if
 * the command exited 0 with its output in res (free it with
 * wecom_command_result_free), else WECOM_ERROR with res->err saying why.
 */
int	wecom_app_command(struct wecom_app *, const char *key);
int	wecom_ctx_command(struct wecom_ctx *, const char *key,
	    struct wecom_command_result *res);

/* The API client of a threaded app with a secret, else NULL. */
struct wecom_client	*wecom_ctx_client(struct wecom_ctx *);

/* The app's name and its [app NAME] config values (any key). */
const char	*wecom_app_name(const struct wecom_app *);
const char	*wecom_app_conf(const struct wecom_app *, const char *key);
const char	*wecom_ctx_app_conf(const struct wecom_ctx *, const char *key);

/*
 * Passive replies: at most one per callback; a second returns
 * WECOM_ERR_REPLIED and leaves the first in place. No reply at all is
 * an empty 200.
 */
struct wecom_article {
	const char	*title;
	const char	*description;
	const char	*url;
	const char	*pic_url;
};

#define WECOM_NEWS_MAX	8

int	wecom_reply_text(struct wecom_ctx *, const char *content);
int	wecom_reply_textf(struct wecom_ctx *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	wecom_reply_image(struct wecom_ctx *, const char *media_id);
int	wecom_reply_voice(struct wecom_ctx *, const char *media_id);
int	wecom_reply_video(struct wecom_ctx *, const char *media_id,
	    const char *title, const char *description);
int	wecom_reply_news(struct wecom_ctx *, const struct wecom_article *,
	    size_t count);
int	wecom_reply_update_button(struct wecom_ctx *, const char *replace_name);
int	wecom_replied(const struct wecom_ctx *);

/*
 * Bots answer in markdown and template cards (card: the JSON text of
 * the template_card object). To an app's member, markdown goes as text;
 * a card has no passive form there (WECOM_ERR_CHANNEL). To a bot, text
 * is shown as markdown; to enter_chat a text or card is the welcome,
 * to template_card_event a card replaces the clicked one.
 */
#define WECOM_ERR_CHANNEL	-4	/* not on this channel */

int	wecom_reply_markdown(struct wecom_ctx *, const char *markdown);
int	wecom_reply_template_card(struct wecom_ctx *, const char *card);

/*
 * Streams: an answer that grows while it is produced (an LLM's). Each
 * update is the whole answer so far, in markdown, and replaces what the
 * member sees; finish ends it (NULL: with the last update). At most
 * WECOM_STREAM_MAX bytes are shown: a longer answer is cut at a
 * character and ends with a notice. On a bot's long connection every
 * update is pushed; on its callbacks WeCom's refreshes see the latest;
 * an answer not finished within 6 minutes goes to response_url or as a
 * message. On an app the finished text is the reply (a late one is sent
 * as a message): the same handler serves every channel. Threaded apps
 * only, but for a single finish. Both return WECOM_OK (an update the
 * channel no longer takes, past WeCom's window, is dropped quietly: the
 * finish still goes out), WECOM_ERR_REPLIED after a finish or another
 * reply, or WECOM_ERROR (out of memory, or the long connection down).
 */
#define WECOM_STREAM_MAX	20480

/*
 * A file's bytes as the reply (a photo): type "image", "voice", "video"
 * or "file". Uploaded as the channel needs: media/upload for a threaded
 * app with a secret, chunks on a bot's long connection; a bot's callback
 * takes an image only, inline with the finished stream (at most 10 MiB:
 * WECOM_ERR_TOO_MANY). An app's passive reply has no file:
 * WECOM_ERR_CHANNEL. Threaded apps only: it waits on the network.
 */
int	wecom_reply_upload(struct wecom_ctx *, const char *type,
	    const char *filename, const void *data, size_t len);

int	wecom_stream_update(struct wecom_ctx *, const char *markdown);
int	wecom_stream_finish(struct wecom_ctx *, const char *markdown);

enum wecom_channel	wecom_ctx_channel(const struct wecom_ctx *);

/*
 * A bot message's file (image.url, file.url, video.url, or the n-th
 * image of a mixed message's msg_item, from 0): downloaded, decrypted
 * (AES-256-CBC with the message's aeskey, else the bot's EncodingAESKey)
 * and checked, within its 5 minutes of validity and at most max bytes.
 * *data is malloc'ed. WECOM_OK, WECOM_ERR_TOO_MANY (over max) or
 * WECOM_ERROR (with a reason in the log). Threaded apps only: it waits
 * on the network.
 */
int	wecom_msg_file(struct wecom_ctx *, const struct wecom_msg *,
	    size_t n, size_t max, void **data, size_t *len);

/*
 * WECOM_APP("name", init) registers app code at load time: a config
 * section [app X] with handler = name (or named name) binds to it.
 */
void	wecom_app_register(const char *name, wecom_app_init init);

#define WECOM_APP(name, init)						\
	static void __attribute__((constructor))			\
	wecom_app_ctor_##init(void)					\
	{								\
		wecom_app_register(name, init);				\
	}

#endif
