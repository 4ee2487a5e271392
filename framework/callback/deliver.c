/* SPDX-License-Identifier: ISC */
/*
 * A passive reply that missed WeCom's 5 seconds, sent instead as a
 * proactive message to the member it was meant for. Built from the
 * reply as the handler made it (wecom_reply.h), the record its XML was
 * rendered from: the member reads the same text either way. Runs on a
 * worker thread (it blocks on the API). WeCom's duplicate check guards
 * against a retried send arriving twice.
 */

#include <string.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_outbox.h"
#include "wecom_reply.h"

#define DUP_CHECK_SECONDS	600

static struct wecom_outmsg	*deliver_news(const struct wecom_reply *);

/*
 * Send it now; if WeCom cannot be reached, the durable outbox keeps it
 * and the upkeep retries it until outbox_max_age.
 */
int
wecom_reply_deliver(struct wecom_client *c, const struct wecom_conf *conf,
    const char *app, const struct wecom_reply *r)
{
	struct wecom_outbox_to		 to;
	char				 key[WECOM_OUTBOX_KEY_MAX + 1];
	struct wecom_target		 target;
	struct wecom_send_opts		 opts;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct wecom_outmsg		*m;
	int				 rc;

	if ((m = wecom_reply_outmsg(r)) == NULL)
		return (WECOM_ERROR);

	memset(&target, 0, sizeof(target));
	memset(&opts, 0, sizeof(opts));
	memset(&res, 0, sizeof(res));
	target.touser = r->to_user;
	opts.enable_duplicate_check = 1;
	opts.duplicate_check_interval = DUP_CHECK_SECONDS;

	rc = wecom_message_send(c, &target, m, &opts, &res, &err);
	if (rc == WECOM_API_ERR_UNAVAILABLE) {
		memset(&to, 0, sizeof(to));
		to.app = app;
		to.to = target;
		rc = wecom_outbox_put(conf, &to, m, &opts, NULL, key, &err);
	}
	wecom_send_result_free(&res);
	wecom_outmsg_free(m);

	return (rc == WECOM_API_OK ? WECOM_OK : WECOM_ERROR);
}

/* The message a reply makes; update_button only makes sense passive: NULL. */
struct wecom_outmsg *
wecom_reply_outmsg(const struct wecom_reply *r)
{
	switch (r->type) {
	case WECOM_REPLY_TEXT:
		return (wecom_outmsg_text(r->content));
	case WECOM_REPLY_IMAGE:
	case WECOM_REPLY_VOICE:
	case WECOM_REPLY_FILE:
		return (wecom_outmsg_media(wecom_reply_msgtype(r->type),
		    r->media_id));
	case WECOM_REPLY_VIDEO:
		return (wecom_outmsg_video(r->media_id, r->title,
		    r->description));
	case WECOM_REPLY_NEWS:
		return (deliver_news(r));
	case WECOM_REPLY_UPDATE_BUTTON:
	case WECOM_REPLY_CARD:
		break;
	case WECOM_REPLY_MARKDOWN:
	case WECOM_REPLY_STREAM:
		return (wecom_outmsg_markdown(r->content, NULL));
	}

	return (NULL);
}

static struct wecom_outmsg *
deliver_news(const struct wecom_reply *r)
{
	const struct wecom_reply_article	*a;
	struct wecom_outmsg			*m;
	size_t					 i;

	if ((m = wecom_outmsg_news()) == NULL)
		return (NULL);
	for (i = 0; i < r->narticles; i++) {
		a = &r->articles[i];
		if (wecom_outmsg_news_add(m, a->title, a->description, a->url,
		    a->pic_url) != 0) {
			wecom_outmsg_free(m);
			return (NULL);
		}
	}

	return (m);
}
