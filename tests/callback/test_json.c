/* SPDX-License-Identifier: ISC */
/*
 * A bot's JSON message in the flat model (json.c) and struct wecom_msg
 * (message.c): every documented field where a handler looks for it,
 * anything else by path, and what hostile JSON can never do.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wecom.h"
#include "wecom_crypto.h"
#include "wecom_msg.h"
#include "wecom_xml.h"

static struct wecom_xml	*x;

static int
setup(void **state)
{
	x = wecom_xml_new();
	return (x == NULL);
}

static int
teardown(void **state)
{
	wecom_xml_free(x);
	return (0);
}

static int
load(const char *json, struct wecom_msg *msg)
{
	if (wecom_xml_parse_json(x, json, strlen(json)) != WECOM_OK)
		return (WECOM_ERR_PARSE_XML);
	return (wecom_msg_load_aibot(msg, x));
}

static void
reads_a_group_text_message(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(load("{\"msgid\":\"CAIQ16HMjQYY\",\"aibotid\":\"aibX\","
	    "\"chatid\":\"wrG1\",\"chattype\":\"group\",\"from\":{\"userid\":"
	    "\"zhangsan\"},\"response_url\":\"https://x/r?c=1\",\"msgtype\":"
	    "\"text\",\"text\":{\"content\":\"@bot 你好\"}}", &msg), WECOM_OK);
	assert_int_equal(msg.type, WECOM_MSG_TEXT);
	assert_string_equal(msg.msgid, "CAIQ16HMjQYY");
	assert_string_equal(msg.aibot_id, "aibX");
	assert_string_equal(msg.chat_id, "wrG1");
	assert_string_equal(msg.chat_type, "group");
	assert_string_equal(msg.from_user, "zhangsan");
	assert_string_equal(msg.response_url, "https://x/r?c=1");
	assert_string_equal(msg.content, "@bot 你好");
	assert_string_equal(wecom_msg_get(&msg, "from/userid"), "zhangsan");
	assert_string_equal(wecom_msg_get(&msg, "userid"), "zhangsan");
}

static void
reads_mixed_items_by_index(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(load("{\"msgid\":\"m\",\"msgtype\":\"mixed\","
	    "\"from\":{\"userid\":\"u\"},\"mixed\":{\"msg_item\":["
	    "{\"msgtype\":\"text\",\"text\":{\"content\":\"look\"}},"
	    "{\"msgtype\":\"image\",\"image\":{\"url\":\"https://a/1\"}},"
	    "{\"msgtype\":\"image\",\"image\":{\"url\":\"https://a/2\"}}]}}",
	    &msg), WECOM_OK);
	assert_int_equal(msg.type, WECOM_MSG_MIXED);
	assert_string_equal(msg.content, "look");
	assert_int_equal(wecom_msg_count(&msg, "msg_item"), 3);
	assert_int_equal(wecom_msg_count(&msg, "mixed/msg_item/image/url"), 2);
	assert_string_equal(wecom_msg_get_nth(&msg, "mixed/msg_item/image/url",
	    1), "https://a/2");
	assert_string_equal(wecom_msg_get_nth(&msg, "msgtype", 1), "text");
}

static void
reads_events_and_their_card(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(load("{\"msgid\":\"e\",\"msgtype\":\"event\","
	    "\"from\":{\"userid\":\"u\"},\"event\":{\"eventtype\":"
	    "\"template_card_event\",\"template_card_event\":{\"card_type\":"
	    "\"button_interaction\",\"event_key\":\"ok\",\"task_id\":\"T1\"}}}",
	    &msg), WECOM_OK);
	assert_int_equal(msg.event_type, WECOM_EVENT_TEMPLATE_CARD_EVENT);
	assert_string_equal(msg.event_key, "ok");
	assert_string_equal(msg.task_id, "T1");
	assert_string_equal(msg.card_type, "button_interaction");
	assert_int_equal(load("{\"msgtype\":\"event\",\"event\":{\"eventtype\":"
	    "\"enter_chat\"}}", &msg), WECOM_OK);
	assert_int_equal(msg.event_type, WECOM_EVENT_ENTER_CHAT);
	assert_int_equal(load("{\"msgtype\":\"event\",\"event\":{\"eventtype\":"
	    "\"feedback_event\"}}", &msg), WECOM_OK);
	assert_int_equal(msg.event_type, WECOM_EVENT_FEEDBACK);
}

static void
keeps_numbers_booleans_and_null_as_text(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(load("{\"msgtype\":\"x\",\"n\":9007199254740993,"
	    "\"f\":1.5,\"t\":true,\"no\":false,\"z\":null}", &msg), WECOM_OK);
	assert_int_equal(msg.type, WECOM_MSG_UNKNOWN);
	assert_string_equal(wecom_msg_get(&msg, "n"), "9007199254740993");
	assert_string_equal(wecom_msg_get(&msg, "f"), "1.5");
	assert_string_equal(wecom_msg_get(&msg, "t"), "true");
	assert_string_equal(wecom_msg_get(&msg, "no"), "false");
	assert_string_equal(wecom_msg_get(&msg, "z"), "");
}

static void
refuses_what_is_not_a_message(void **state)
{
	struct wecom_msg	 msg;
	char			*deep;
	size_t			 i, n = 40;

	assert_int_equal(load("[1]", &msg), WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{}", &msg), WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{\"a\":1}", &msg), WECOM_ERROR);
	assert_int_equal(load("{\"msgtype\":\"text\",\"msgtype\":\"x\"}",
	    &msg), WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{\"msgtype\":\"te\\u0000xt\"}", &msg),
	    WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{\"msgtype\":\"t\",\"a\":[[1]]}", &msg),
	    WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{\"msgtype\":\"t\",\"a/b\":1}", &msg),
	    WECOM_ERR_PARSE_XML);
	assert_int_equal(load("{\"msgtype\":\"t\"", &msg), WECOM_ERR_PARSE_XML);
	/* Deeper than the model's depth: refused, not truncated. */
	assert_non_null(deep = calloc(1, n * 16 + 64));
	strcpy(deep, "{\"msgtype\":\"t\"");
	for (i = 0; i < n; i++)
		strcat(deep, ",\"a\":{\"b\":1");
	for (i = 0; i < n; i++)
		strcat(deep, "}");
	strcat(deep, "}");
	assert_int_equal(load(deep, &msg), WECOM_ERR_PARSE_XML);
	free(deep);
	/* And the parser is fine afterwards. */
	assert_int_equal(load("{\"msgtype\":\"text\",\"text\":{\"content\":"
	    "\"ok\"}}", &msg), WECOM_OK);
	assert_string_equal(msg.content, "ok");
}

static void
refuses_more_members_than_the_model_holds(void **state)
{
	struct wecom_msg	 msg;
	char			*big;
	size_t			 i;

	assert_non_null(big = calloc(1, (WECOM_XML_FIELDS_MAX + 8) * 8 + 32));
	strcpy(big, "{\"msgtype\":\"t\",\"a\":[");
	for (i = 0; i < WECOM_XML_FIELDS_MAX + 4; i++)
		strcat(big, i ? ",1" : "1");
	strcat(big, "]}");
	assert_int_equal(load(big, &msg), WECOM_ERR_PARSE_XML);
	free(big);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_a_group_text_message),
		cmocka_unit_test(reads_mixed_items_by_index),
		cmocka_unit_test(reads_events_and_their_card),
		cmocka_unit_test(keeps_numbers_booleans_and_null_as_text),
		cmocka_unit_test(refuses_what_is_not_a_message),
		cmocka_unit_test(refuses_more_members_than_the_model_holds),
	};

	return (cmocka_run_group_tests_name("json", tests, setup, teardown));
}
