/* SPDX-License-Identifier: ISC */
/*
 * A passive reply that missed WeCom's 5 seconds, sent instead as a
 * proactive message to the member it was meant for. Runs on a worker
 * thread (it blocks on the API). WeCom's duplicate check guards against
 * a retried send arriving twice.
 */

#include <stdio.h>
#include <string.h>

#include "wecom.h"
#include "wecom_client.h"
#include "wecom_app.h"
#include "wecom_outbox.h"
#include "wecom_xml.h"

#define DUP_CHECK_SECONDS	600

static struct wecom_outmsg	*deliver_news(const struct wecom_xml *);
static struct wecom_outmsg	*deliver_build(const struct wecom_xml *,
				    const char *);

/*
 * Send it now; if WeCom cannot be reached, the durable outbox keeps it
 * and the upkeep retries it until outbox_max_age.
 */
int
wecom_reply_deliver(struct wecom_client *c, const struct wecom_conf *conf,
    const char *app, struct wecom_xml *x, const char *reply, size_t len)
{
	struct wecom_outbox_to		 to;
	char				 key[WECOM_OUTBOX_KEY_MAX + 1];
	struct wecom_target		 target;
	struct wecom_send_opts		 opts;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct wecom_outmsg		*m;
	const char			*type;
	int				 rc;

	if (wecom_xml_parse(x, reply, len) != WECOM_OK ||
	    (type = wecom_xml_get(x, "MsgType")) == NULL)
		return (WECOM_ERROR);
	if ((m = deliver_build(x, type)) == NULL)
		return (WECOM_ERROR);

	memset(&target, 0, sizeof(target));
	memset(&opts, 0, sizeof(opts));
	memset(&res, 0, sizeof(res));
	target.touser = wecom_xml_get(x, "ToUserName");
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

/* update_button only makes sense as a passive reply: NULL. */
static struct wecom_outmsg *
deliver_build(const struct wecom_xml *x, const char *type)
{
	const char	*media;

	media = wecom_xml_get(x, "MediaId");
	if (strcmp(type, "text") == 0)
		return (wecom_outmsg_text(wecom_xml_get(x, "Content")));
	if ((strcmp(type, "image") == 0 || strcmp(type, "voice") == 0) &&
	    media != NULL)
		return (wecom_outmsg_media(type, media));
	if (strcmp(type, "video") == 0 && media != NULL)
		return (wecom_outmsg_video(media, wecom_xml_get(x, "Title"),
		    wecom_xml_get(x, "Description")));
	if (strcmp(type, "news") == 0)
		return (deliver_news(x));

	return (NULL);
}

static struct wecom_outmsg *
deliver_news(const struct wecom_xml *x)
{
	struct wecom_outmsg	*m;
	size_t			 i, n;

	if ((m = wecom_outmsg_news()) == NULL)
		return (NULL);
	n = wecom_xml_count(x, "item");
	for (i = 0; i < n; i++) {
		if (wecom_outmsg_news_add(m,
		    wecom_xml_get_nth(x, "Articles/item/Title", i, NULL),
		    wecom_xml_get_nth(x, "Articles/item/Description", i, NULL),
		    wecom_xml_get_nth(x, "Articles/item/Url", i, NULL),
		    wecom_xml_get_nth(x, "Articles/item/PicUrl", i, NULL)) != 0) {
			wecom_outmsg_free(m);
			return (NULL);
		}
	}

	return (m);
}
