/* SPDX-License-Identifier: ISC */
/*
 * From the flat XML of a decrypted callback to struct wecom_msg: one
 * table says which element fills which field, so a new WeCom field is
 * a line here, and an unknown one is still reachable by name.
 */

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "wecom_msg.h"

enum kind { STR, I64, INT, DBL };

struct field {
	const char	*path;
	enum kind	 kind;
	size_t		 off;
};

/* Sorted by path (strcmp order): looked up with bsearch. */
static const struct field fields[] = {
#define F(p, k, m)	{ p, k, offsetof(struct wecom_msg, m) }
	F("AgentID", I64, agentid),
	F("ApprovalInfo/SpNo", STR, sp_no),
	F("ApprovalInfo/SpStatus", STR, sp_status),
	F("ApprovalInfo/ThirdNo", STR, third_no),
	F("BatchJob/ErrCode", INT, job_errcode),
	F("BatchJob/JobId", STR, job_id),
	F("BatchJob/JobType", STR, job_type),
	F("CardType", STR, card_type),
	F("ChangeType", STR, change_type),
	F("ChatId", STR, chat_id),
	F("Content", STR, content),
	F("CreateTime", I64, create_time),
	F("Department", STR, department),
	F("Description", STR, description),
	F("Event", STR, event),
	F("EventKey", STR, event_key),
	F("ExternalUserID", STR, external_user_id),
	F("Format", STR, format),
	F("FromUserName", STR, from_user),
	F("Id", STR, party_id),
	F("Label", STR, label),
	F("Latitude", DBL, latitude),
	F("Location_X", DBL, location_x),
	F("Location_Y", DBL, location_y),
	F("Longitude", DBL, longitude),
	F("MediaId", STR, media_id),
	F("MsgId", STR, msgid),
	F("MsgType", STR, msgtype),
	F("Name", STR, name),
	F("NewUserID", STR, new_user_id),
	F("OpenKfId", STR, open_kf_id),
	F("ParentId", STR, parent_id),
	F("PicUrl", STR, pic_url),
	F("Precision", DBL, precision),
	F("ResponseCode", STR, response_code),
	F("Scale", INT, scale),
	F("ScanCodeInfo/ScanResult", STR, scan_result),
	F("ScanCodeInfo/ScanType", STR, scan_type),
	F("SendLocationInfo/Label", STR, label),
	F("SendLocationInfo/Location_X", DBL, location_x),
	F("SendLocationInfo/Location_Y", DBL, location_y),
	F("SendLocationInfo/Poiname", STR, poiname),
	F("SendLocationInfo/Scale", INT, scale),
	F("SendPicsInfo/Count", INT, pic_count),
	F("TagId", STR, tag_id),
	F("TaskId", STR, task_id),
	F("ThumbMediaId", STR, thumb_media_id),
	F("Title", STR, title),
	F("ToUserName", STR, to_user),
	F("Token", STR, kf_token),
	F("Url", STR, url),
	F("UserID", STR, user_id),
	F("WelcomeCode", STR, welcome_code),
};

/* A bot's JSON message (json.c), by the same rule. */
static const struct field bot_fields[] = {
	F("aibotid", STR, aibot_id),
	F("chatid", STR, chat_id),
	F("chattype", STR, chat_type),
	F("event/eventtype", STR, event),
	F("event/template_card_event/card_type", STR, card_type),
	F("event/template_card_event/event_key", STR, event_key),
	F("event/template_card_event/task_id", STR, task_id),
	F("file/url", STR, url),
	F("from/userid", STR, from_user),
	F("image/url", STR, pic_url),
	F("mixed/msg_item/text/content", STR, content),
	F("msgid", STR, msgid),
	F("msgtype", STR, msgtype),
	F("response_url", STR, response_url),
	F("text/content", STR, content),
	F("video/url", STR, url),
	F("voice/content", STR, content),
#undef F
};

#define NFIELDS(t)	(sizeof(t) / sizeof((t)[0]))

static const char *const msgtypes[] = {
	[WECOM_MSG_TEXT] = "text",		[WECOM_MSG_IMAGE] = "image",
	[WECOM_MSG_VOICE] = "voice",		[WECOM_MSG_VIDEO] = "video",
	[WECOM_MSG_SHORTVIDEO] = "shortvideo",	[WECOM_MSG_LOCATION] = "location",
	[WECOM_MSG_LINK] = "link",		[WECOM_MSG_FILE] = "file",
	[WECOM_MSG_EVENT] = "event",		[WECOM_MSG_MIXED] = "mixed",
};

static const char *const events[] = {
	[WECOM_EVENT_SUBSCRIBE] = "subscribe",
	[WECOM_EVENT_UNSUBSCRIBE] = "unsubscribe",
	[WECOM_EVENT_ENTER_AGENT] = "enter_agent",
	[WECOM_EVENT_LOCATION] = "LOCATION",
	[WECOM_EVENT_CLICK] = "click",
	[WECOM_EVENT_VIEW] = "view",
	[WECOM_EVENT_SCANCODE_PUSH] = "scancode_push",
	[WECOM_EVENT_SCANCODE_WAITMSG] = "scancode_waitmsg",
	[WECOM_EVENT_PIC_SYSPHOTO] = "pic_sysphoto",
	[WECOM_EVENT_PIC_PHOTO_OR_ALBUM] = "pic_photo_or_album",
	[WECOM_EVENT_PIC_WEIXIN] = "pic_weixin",
	[WECOM_EVENT_LOCATION_SELECT] = "location_select",
	[WECOM_EVENT_BATCH_JOB_RESULT] = "batch_job_result",
	[WECOM_EVENT_CHANGE_CONTACT] = "change_contact",
	[WECOM_EVENT_TEMPLATE_CARD_EVENT] = "template_card_event",
	[WECOM_EVENT_TEMPLATE_CARD_MENU_EVENT] = "template_card_menu_event",
	[WECOM_EVENT_OPEN_APPROVAL_CHANGE] = "open_approval_change",
	[WECOM_EVENT_SYS_APPROVAL_CHANGE] = "sys_approval_change",
	[WECOM_EVENT_CHANGE_EXTERNAL_CONTACT] = "change_external_contact",
	[WECOM_EVENT_CHANGE_EXTERNAL_CHAT] = "change_external_chat",
	[WECOM_EVENT_CHANGE_EXTERNAL_TAG] = "change_external_tag",
	[WECOM_EVENT_KF_MSG_OR_EVENT] = "kf_msg_or_event",
	[WECOM_EVENT_SHARE_AGENT_CHANGE] = "share_agent_change",
	[WECOM_EVENT_ENTER_CHAT] = "enter_chat",
	[WECOM_EVENT_FEEDBACK] = "feedback_event",
};

static int	msg_load(struct wecom_msg *, const struct wecom_xml *,
		    const struct field *, size_t);
static int	msg_sorted(const struct field *, size_t);
static int	msg_lookup(const char *const *, size_t, const char *);
static void	msg_set(struct wecom_msg *, const struct field *, const char *);
static int	msg_field_cmp(const void *, const void *);

/*
 * Fill msg from a parsed document. Every callback names its MsgType;
 * without one it is not a WeCom message. (Some events, such as
 * kf_msg_or_event, carry no FromUserName.)
 */
int
wecom_msg_load(struct wecom_msg *msg, const struct wecom_xml *x)
{
	return (msg_load(msg, x, fields, NFIELDS(fields)));
}

/* The same, from a bot's JSON message. */
int
wecom_msg_load_aibot(struct wecom_msg *msg, const struct wecom_xml *x)
{
	return (msg_load(msg, x, bot_fields, NFIELDS(bot_fields)));
}

static int
msg_load(struct wecom_msg *msg, const struct wecom_xml *x,
    const struct field *table, size_t n)
{
	const struct field	*f;
	const char		*path, *value;
	size_t			 i;

	memset(msg, 0, sizeof(*msg));
	msg->xml = x;

	for (i = 0; i < wecom_xml_nfields(x); i++) {
		wecom_xml_field(x, i, &path, &value);
		f = bsearch(path, table, n, sizeof(table[0]), msg_field_cmp);
		if (f != NULL)
			msg_set(msg, f, value);
	}
	if (msg->msgtype == NULL)
		return (WECOM_ERROR);

	msg->type = msg_lookup(msgtypes, NFIELDS(msgtypes), msg->msgtype);
	if (msg->type == WECOM_MSG_EVENT) {
		msg->event_type = msg_lookup(events, NFIELDS(events),
		    msg->event ? msg->event : "");
		if (msg->event_type == WECOM_EVENT_NONE)
			msg->event_type = WECOM_EVENT_UNKNOWN;
	}

	return (WECOM_OK);
}

const char *
wecom_msg_get(const struct wecom_msg *msg, const char *name)
{
	return (wecom_xml_get(msg->xml, name));
}

const char *
wecom_msg_get_nth(const struct wecom_msg *msg, const char *name, size_t n)
{
	return (wecom_xml_get_nth(msg->xml, name, n, NULL));
}

size_t
wecom_msg_count(const struct wecom_msg *msg, const char *name)
{
	return (wecom_xml_count(msg->xml, name));
}

/* For the tests: the lookup tables must stay sorted. */
int
wecom_msg_table_sorted(void)
{
	return (msg_sorted(fields, NFIELDS(fields)) &&
	    msg_sorted(bot_fields, NFIELDS(bot_fields)));
}

static int
msg_sorted(const struct field *table, size_t n)
{
	size_t	i;

	for (i = 1; i < n; i++) {
		if (strcmp(table[i - 1].path, table[i].path) >= 0)
			return (0);
	}
	return (1);
}

const char *
wecom_msg_type_name(enum wecom_msg_type type)
{
	if ((size_t)type >= sizeof(msgtypes) / sizeof(msgtypes[0]) ||
	    msgtypes[type] == NULL)
		return ("unknown");
	return (msgtypes[type]);
}

static int
msg_lookup(const char *const *names, size_t n, const char *s)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(names[i], s) == 0)
			return ((int)i);
	}

	return (0);
}

static int
msg_field_cmp(const void *key, const void *f)
{
	return (strcmp(key, ((const struct field *)f)->path));
}

static void
msg_set(struct wecom_msg *msg, const struct field *f, const char *value)
{
	char	*p = (char *)msg + f->off;

	switch (f->kind) {
	case STR:
		*(const char **)(void *)p = value;
		break;
	case I64:
		*(int64_t *)(void *)p = strtoll(value, NULL, 10);
		break;
	case INT:
		*(int *)(void *)p = (int)strtol(value, NULL, 10);
		break;
	case DBL:
		*(double *)(void *)p = strtod(value, NULL);
		break;
	}
}
