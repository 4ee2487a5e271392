/* SPDX-License-Identifier: ISC */
/*
 * The C API against the fake WeCom: run by tests/client/c_api.test.mjs,
 * which starts the fake and passes the config in WECOM_CONF.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "wecom_client.h"

static struct wecom_conf	conf;

static struct wecom_client *
client(void)
{
	struct wecom_api_error	 err;
	struct wecom_client	*c;

	c = wecom_client_new(&conf, NULL, &err);
	assert_non_null(c);
	return (c);
}

static void
sends_a_text_in_two_lines(void **state)
{
	struct wecom_client	*c = wecom_client_new(&conf, "main", NULL);

	assert_int_equal(wecom_send_text(c, "zhangsan", "hello", NULL),
	    WECOM_API_OK);
	wecom_client_free(c);
}

static void
returns_msgid_and_invalid_recipients(void **state)
{
	struct wecom_client		*c = client();
	struct wecom_target		 to = { "zhangsan|ghost", "9", "7" };
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct wecom_outmsg		*m = wecom_outmsg_text("hi");

	assert_int_equal(wecom_message_send(c, &to, m, NULL, &res, &err),
	    WECOM_API_OK);
	assert_non_null(res.msgid);
	assert_int_equal(res.nparts, 1);
	assert_string_equal(res.invaliduser, "ghost");
	assert_string_equal(res.invalidparty, "9");
	assert_string_equal(res.invalidtag, "7");
	wecom_send_result_free(&res);
	wecom_outmsg_free(m);
	wecom_client_free(c);
}

static void
a_failure_carries_errcode_errmsg_and_hint(void **state)
{
	struct wecom_client	*c = client();
	struct wecom_api_error	 err;

	assert_int_equal(wecom_send_text(c, "ghost", "hi", &err),
	    WECOM_API_ERR_REJECTED);
	assert_int_equal(err.errcode, 81013);
	assert_non_null(strstr(err.errmsg, "invalid"));
	assert_non_null(err.hint);
	assert_int_equal(err.http_status, 200);
	wecom_client_free(c);
}

static void
uploads_media_from_memory_and_sends_it(void **state)
{
	struct wecom_client	*c = client();
	struct wecom_target	 to = { "zhangsan", NULL, NULL };
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	char			*id, *url;

	assert_int_equal(wecom_media_upload_mem(c, "file", "report.txt",
	    "hello file", 10, &id, &err), WECOM_API_OK);
	m = wecom_outmsg_media("file", id);
	assert_int_equal(wecom_message_send(c, &to, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	free(id);
	assert_int_equal(wecom_media_upload_mem(c, "sticker", "x", "hello",
	    5, &id, &err), WECOM_API_ERR_ARG);
	assert_int_equal(wecom_media_uploadimg_file(c, getenv("TEST_PNG"),
	    &url, &err), WECOM_API_OK);
	assert_non_null(strstr(url, "https://"));
	free(url);
	wecom_client_free(c);
}

static void
sends_mpnews_miniprogram_notice_and_template_card(void **state)
{
	struct wecom_client	*c = client();
	struct wecom_target	 to = { NULL, "2", NULL };
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;
	char			*thumb;

	assert_int_equal(wecom_media_upload_mem(c, "image", "t.png",
	    "\x89PNG....", 8, &thumb, &err), WECOM_API_OK);
	m = wecom_outmsg_mpnews();
	assert_int_equal(wecom_outmsg_mpnews_add(m, "T", thumb, "ops", NULL,
	    "<p>body</p>", "digest"), WECOM_API_OK);
	assert_int_equal(wecom_message_send(c, &to, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	free(thumb);
	m = wecom_outmsg_json("miniprogram_notice",
	    "{\"appid\":\"wx1\",\"title\":\"Meeting\"}");
	assert_int_equal(wecom_message_send(c, &to, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	m = wecom_outmsg_json("template_card", "{\"card_type\":\"text_notice\"}");
	assert_int_equal(wecom_message_send(c, &to, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	wecom_client_free(c);
}

static void
creates_an_app_chat_sends_to_it_and_recalls(void **state)
{
	struct wecom_client		*c = client();
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct wecom_outmsg		*m;
	char				*chatid;

	assert_int_equal(wecom_appchat_create(c, "oncall", "zhangsan",
	    "zhangsan,lisi", NULL, &chatid, &err), WECOM_API_OK);
	m = wecom_outmsg_textcard("T", "D", "https://x", NULL);
	assert_int_equal(wecom_appchat_send(c, chatid, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	free(chatid);

	m = wecom_outmsg_text("oops");
	assert_int_equal(wecom_message_send(c, &(struct wecom_target){
	    "lisi", NULL, NULL }, m, NULL, &res, &err), WECOM_API_OK);
	assert_int_equal(wecom_message_recall(c, res.msgid, &err),
	    WECOM_API_OK);
	wecom_send_result_free(&res);
	wecom_outmsg_free(m);
	wecom_client_free(c);
}

static void
robot_sends_text_markdown_and_news(void **state)
{
	struct wecom_client	*c = wecom_client_new_robot(&conf, NULL);
	const char		*key = wecom_robot_key(&conf, "ops");
	struct wecom_api_error	 err;
	struct wecom_outmsg	*m;

	assert_non_null(key);
	m = wecom_outmsg_text("robot");
	wecom_outmsg_mention(m, "@all", NULL);
	assert_int_equal(wecom_webhook_send(c, key, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	m = wecom_outmsg_markdown("**md**", NULL);
	assert_int_equal(wecom_webhook_send(c, key, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	m = wecom_outmsg_news();
	wecom_outmsg_news_add(m, "N", "d", "https://n", NULL);
	assert_int_equal(wecom_webhook_send(c, key, m, NULL, NULL, &err),
	    WECOM_API_OK);
	wecom_outmsg_free(m);
	/* A robot-only client cannot use message/send. */
	assert_int_equal(wecom_send_text(c, "zhangsan", "x", &err),
	    WECOM_API_ERR_CONFIG);
	wecom_client_free(c);
}

static void
reads_users_and_departments(void **state)
{
	struct wecom_client	*c = client();
	struct wecom_api_error	 err;
	struct wecom_user	 u;
	char			*json;

	assert_int_equal(wecom_user_get(c, "lisi", &u, &err), WECOM_API_OK);
	assert_string_equal(u.userid, "lisi");
	assert_string_equal(u.name, "Lisi");
	assert_string_equal(u.email, "lisi@example.com");
	wecom_user_free(&u);
	assert_int_equal(wecom_user_get(c, "ghost", &u, &err),
	    WECOM_API_ERR_REJECTED);
	assert_int_equal(err.errcode, 60111);
	assert_int_equal(wecom_user_list(c, 2, &json, &err), WECOM_API_OK);
	assert_non_null(strstr(json, "\"userlist\""));
	free(json);
	assert_int_equal(wecom_department_list(c, -1, &json, &err),
	    WECOM_API_OK);
	assert_non_null(strstr(json, "\"Ops\""));
	free(json);
	wecom_client_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sends_a_text_in_two_lines),
		cmocka_unit_test(returns_msgid_and_invalid_recipients),
		cmocka_unit_test(a_failure_carries_errcode_errmsg_and_hint),
		cmocka_unit_test(uploads_media_from_memory_and_sends_it),
		cmocka_unit_test(sends_mpnews_miniprogram_notice_and_template_card),
		cmocka_unit_test(creates_an_app_chat_sends_to_it_and_recalls),
		cmocka_unit_test(robot_sends_text_markdown_and_news),
		cmocka_unit_test(reads_users_and_departments),
	};
	char	cerr[512];
	int	rc;

	if (wecom_conf_load(&conf, wecom_conf_path(), cerr, sizeof(cerr)) !=
	    WECOM_CONF_OK) {
		printf("Bail out! %s\n", cerr);
		return (1);
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	wecom_conf_free(&conf);

	return (rc);
}
