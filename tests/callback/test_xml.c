/* SPDX-License-Identifier: ISC */
/*
 * The XML model: what a callback's XML becomes, and what hostile XML
 * can never do.
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

#define SAMPLE	"<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>" \
	"<FromUserName><![CDATA[mycreate]]></FromUserName>" \
	"<CreateTime>1409659813</CreateTime><MsgType><![CDATA[text]]></MsgType>" \
	"<Content><![CDATA[hello]]></Content><MsgId>4561255354251345929</MsgId>" \
	"<AgentID>218</AgentID></xml>"

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
parse(const char *s)
{
	return (wecom_xml_parse(x, s, strlen(s)));
}

static void
reads_tencents_sample_message(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(parse(SAMPLE), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	assert_int_equal(msg.type, WECOM_MSG_TEXT);
	assert_int_equal(msg.event_type, WECOM_EVENT_NONE);
	assert_string_equal(msg.from_user, "mycreate");
	assert_string_equal(msg.to_user, "wx5823bf96d3bd56c7");
	assert_string_equal(msg.content, "hello");
	assert_string_equal(msg.msgid, "4561255354251345929");
	assert_int_equal(msg.create_time, 1409659813);
	assert_int_equal(msg.agentid, 218);
	assert_null(msg.event);
}

static void
keeps_msgid_an_opaque_string(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(parse("<xml><FromUserName>u</FromUserName><MsgType>"
	    "text</MsgType><MsgId>CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==</MsgId>"
	    "</xml>"), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	assert_string_equal(msg.msgid, "CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==");
}

static void
reads_nested_and_repeated_elements_by_path_and_name(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(parse("<xml>\n  <FromUserName>u</FromUserName>\n"
	    "<MsgType>event</MsgType><Event>pic_weixin</Event>"
	    "<EventKey>k</EventKey><SendPicsInfo><Count>2</Count><PicList>"
	    "<item><PicMd5Sum>aa</PicMd5Sum></item><item><PicMd5Sum>bb"
	    "</PicMd5Sum></item></PicList></SendPicsInfo>"
	    "<Future><Field>new</Field></Future></xml>"), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	assert_int_equal(msg.type, WECOM_MSG_EVENT);
	assert_int_equal(msg.event_type, WECOM_EVENT_PIC_WEIXIN);
	assert_int_equal(msg.pic_count, 2);
	assert_int_equal(wecom_msg_count(&msg, "PicMd5Sum"), 2);
	assert_string_equal(wecom_msg_get_nth(&msg, "PicMd5Sum", 1), "bb");
	assert_string_equal(wecom_msg_get(&msg,
	    "SendPicsInfo/PicList/item/PicMd5Sum"), "aa");
	assert_string_equal(wecom_msg_get(&msg, "Future/Field"), "new");
	assert_string_equal(wecom_msg_get(&msg, "Field"), "new");
	assert_null(wecom_msg_get(&msg, "Missing"));
	assert_null(wecom_msg_get_nth(&msg, "PicMd5Sum", 2));
	assert_int_equal(wecom_msg_count(&msg, "item"), 2);
	assert_string_equal(wecom_msg_get(&msg, "SendPicsInfo"), "");
}

static void
keeps_the_field_table_sorted(void **state)
{
	assert_true(wecom_msg_table_sorted());
}

static void
ignores_a_declared_encoding(void **state)
{
	/* iconv would be asked for GBK: outside the worker's sandbox. */
	assert_int_equal(parse("<?xml version=\"1.0\" encoding=\"GBK\"?>"
	    "<xml><A>\xe4\xb8\xad</A></xml>"), WECOM_OK);
	assert_string_equal(wecom_xml_get(x, "A"), "\xe4\xb8\xad");
	assert_int_equal(parse("<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?>"
	    "<xml><A>a</A></xml>"), WECOM_OK);
}

static void
accepts_an_event_without_fromusername(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(parse("<xml><ToUserName>ww</ToUserName><CreateTime>1"
	    "</CreateTime><MsgType>event</MsgType><Event>kf_msg_or_event"
	    "</Event><Token>T</Token><OpenKfId>wk</OpenKfId></xml>"),
	    WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	assert_int_equal(msg.event_type, WECOM_EVENT_KF_MSG_OR_EVENT);
	assert_null(msg.from_user);
	assert_string_equal(msg.open_kf_id, "wk");
}

static void
maps_every_documented_event_name(void **state)
{
	static const char *const	names[] = { "subscribe", "unsubscribe",
	    "enter_agent", "LOCATION", "click", "view", "scancode_push",
	    "scancode_waitmsg", "pic_sysphoto", "pic_photo_or_album",
	    "pic_weixin", "location_select", "batch_job_result",
	    "change_contact", "template_card_event",
	    "template_card_menu_event", "open_approval_change",
	    "sys_approval_change", "change_external_contact",
	    "change_external_chat", "change_external_tag", "kf_msg_or_event",
	    "share_agent_change" };
	struct wecom_msg	msg;
	char			buf[256];
	size_t			i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(buf, sizeof(buf), "<xml><FromUserName>u</FromUserName>"
		    "<MsgType>event</MsgType><Event>%s</Event></xml>", names[i]);
		assert_int_equal(parse(buf), WECOM_OK);
		assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
		assert_int_equal(msg.event_type, WECOM_EVENT_SUBSCRIBE + i);
	}
	assert_int_equal(parse("<xml><FromUserName>u</FromUserName><MsgType>"
	    "event</MsgType><Event>brand_new</Event></xml>"), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	assert_int_equal(msg.event_type, WECOM_EVENT_UNKNOWN);
}

static void
decodes_entities_and_cdata(void **state)
{
	assert_int_equal(parse("<xml><A>a &lt;b&gt; &amp; &#x4E2D;</A>"
	    "<B><![CDATA[<not>&a tag]]></B></xml>"), WECOM_OK);
	assert_string_equal(wecom_xml_get(x, "A"), "a <b> & \xe4\xb8\xad");
	assert_string_equal(wecom_xml_get(x, "B"), "<not>&a tag");
}

static void
refuses_doctype_xxe_and_billion_laughs(void **state)
{
	assert_int_equal(parse("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY "
	    "e SYSTEM \"file:///etc/passwd\">]><xml><A>&e;</A></xml>"),
	    WECOM_ERR_PARSE_XML);
	assert_int_equal(parse("<!DOCTYPE xml SYSTEM \"http://127.0.0.1:9/x."
	    "dtd\"><xml><A>a</A></xml>"), WECOM_ERR_PARSE_XML);
	assert_int_equal(parse("<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
	    "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
	    "<xml><A>&c;</A></xml>"), WECOM_ERR_PARSE_XML);
	assert_int_equal(parse("<xml><A>&undeclared;</A></xml>"),
	    WECOM_ERR_PARSE_XML);
}

static void
refuses_deep_nesting_and_too_many_elements(void **state)
{
	char	*buf;
	size_t	 i, n;

	buf = malloc(1 << 20);
	n = 0;
	for (i = 0; i < 1000; i++)
		n += (size_t)sprintf(buf + n, "<a>");
	for (i = 0; i < 1000; i++)
		n += (size_t)sprintf(buf + n, "</a>");
	assert_int_equal(wecom_xml_parse(x, buf, n), WECOM_ERR_PARSE_XML);
	assert_string_equal(wecom_xml_error(x), "nesting too deep");

	n = (size_t)sprintf(buf, "<xml>");
	for (i = 0; i < WECOM_XML_FIELDS_MAX + 1; i++)
		n += (size_t)sprintf(buf + n, "<e>%zu</e>", i);
	n += (size_t)sprintf(buf + n, "</xml>");
	assert_int_equal(wecom_xml_parse(x, buf, n), WECOM_ERR_PARSE_XML);
	assert_string_equal(wecom_xml_error(x), "too many elements");
	free(buf);
}

static void
refuses_broken_documents(void **state)
{
	static const char *const	bad[] = { "", "not xml", "<xml>",
	    "<xml><A>a</B></xml>", "<xml>text only</xml>", "<xml/>",
	    "<xml><A>\xff\xfe</A></xml>", "<xml><A>a</A></xml><xml2/>",
	    "<xml><A>\xc3</A></xml>" };
	size_t				i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse(bad[i]), WECOM_ERR_PARSE_XML);
	assert_int_equal(wecom_xml_parse(x, "<xml><A>a\0b</A></xml>", 21),
	    WECOM_ERR_PARSE_XML);
}

static void
recovers_after_an_error(void **state)
{
	assert_int_equal(parse("<xml><A>"), WECOM_ERR_PARSE_XML);
	assert_int_equal(parse(SAMPLE), WECOM_OK);
	assert_string_equal(wecom_xml_get(x, "Content"), "hello");
}

static void
survives_many_distinct_element_names(void **state)
{
	char	buf[256];
	int	i;

	/* Each name is interned by libxml2: the context must be renewed. */
	for (i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "<xml><N%d>v</N%d><M%d>w</M%d>"
		    "</xml>", i, i, i, i);
		assert_int_equal(parse(buf), WECOM_OK);
		assert_int_equal(wecom_xml_nfields(x), 2);
	}
}

static void
rejects_a_message_without_msgtype(void **state)
{
	struct wecom_msg	msg;

	assert_int_equal(parse("<xml><FromUserName>u</FromUserName></xml>"),
	    WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_ERROR);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reads_tencents_sample_message),
		cmocka_unit_test(keeps_msgid_an_opaque_string),
		cmocka_unit_test(reads_nested_and_repeated_elements_by_path_and_name),
		cmocka_unit_test(maps_every_documented_event_name),
		cmocka_unit_test(decodes_entities_and_cdata),
		cmocka_unit_test(refuses_doctype_xxe_and_billion_laughs),
		cmocka_unit_test(refuses_deep_nesting_and_too_many_elements),
		cmocka_unit_test(refuses_broken_documents),
		cmocka_unit_test(recovers_after_an_error),
		cmocka_unit_test(survives_many_distinct_element_names),
		cmocka_unit_test(rejects_a_message_without_msgtype),
		cmocka_unit_test(ignores_a_declared_encoding),
		cmocka_unit_test(keeps_the_field_table_sorted),
		cmocka_unit_test(accepts_an_event_without_fromusername),
	};

	return (cmocka_run_group_tests_name("xml", tests, setup, teardown));
}
