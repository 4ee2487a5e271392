/* SPDX-License-Identifier: ISC */
/*
 * Test app: answers every callback with a text listing the typed fields
 * of struct wecom_msg that were set, one "name=value" a line, then every
 * element by path — so tests can check what reached the handler.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"

#define S(f)	if (msg->f != NULL) fprintf(fp, #f "=%s\n", msg->f)
#define N(f)	if (msg->f != 0) fprintf(fp, #f "=%lld\n", (long long)msg->f)
#define D(f)	if (msg->f != 0) fprintf(fp, #f "=%.6f\n", msg->f)

static void
dump_typed(FILE *fp, const struct wecom_msg *msg)
{
	fprintf(fp, "type=%d\nevent_type=%d\n", msg->type, msg->event_type);
	S(to_user); S(from_user); S(msgtype); S(msgid); N(create_time);
	N(agentid); S(content); S(pic_url); S(media_id); S(format);
	S(thumb_media_id); S(title); S(description); S(url); D(location_x);
	D(location_y); N(scale); S(label); S(event); S(event_key);
	D(latitude); D(longitude); D(precision); S(scan_type); S(scan_result);
	N(pic_count); S(poiname); S(job_id); S(job_type); N(job_errcode);
	S(change_type); S(user_id); S(new_user_id); S(name); S(department);
	S(party_id); S(parent_id); S(tag_id); S(external_user_id); S(chat_id);
	S(welcome_code); S(task_id); S(card_type); S(response_code); S(sp_no);
	S(sp_status); S(third_no); S(open_kf_id); S(kf_token);
}

static int
dump(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	const char	*v;
	char		*buf, key[64];
	size_t		 len, i;
	FILE		*fp;

	if ((fp = open_memstream(&buf, &len)) == NULL)
		return (WECOM_STOP);
	dump_typed(fp, msg);
	/* Repeated elements, by index: the generic access path. */
	for (i = 0; (v = wecom_msg_get_nth(msg, "PicMd5Sum", i)) != NULL; i++)
		fprintf(fp, "PicMd5Sum[%zu]=%s\n", i, v);
	fprintf(fp, "count(item)=%zu\n", wecom_msg_count(msg, "item"));
	snprintf(key, sizeof(key), "%s", "X-Unknown/Deep");
	if ((v = wecom_msg_get(msg, key)) != NULL)
		fprintf(fp, "X-Unknown/Deep=%s\n", v);
	fclose(fp);

	wecom_reply_text(ctx, buf);
	free(buf);
	return (WECOM_STOP);
}

static int
dump_init(struct wecom_app *app)
{
	return (wecom_on_default(app, dump, NULL));
}

WECOM_APP("dump", dump_init);
