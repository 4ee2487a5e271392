/* SPDX-License-Identifier: ISC */
/*
 * framework/client_*: the pure parts of the API client — splitting
 * long content, the errcode hints, building message bodies, and how a
 * finished response is judged (retry, new token, fail) — without HTTP.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "client_private.h"

/* Valid UTF-8 that starts each character only where it should. */
static int
utf8_whole(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 need = 0;

	for (; *p != '\0'; p++) {
		if (need > 0) {
			if ((*p & 0xc0) != 0x80)
				return (0);
			need--;
		} else if ((*p & 0x80) == 0)
			need = 0;
		else if ((*p & 0xe0) == 0xc0)
			need = 1;
		else if ((*p & 0xf0) == 0xe0)
			need = 2;
		else if ((*p & 0xf8) == 0xf0)
			need = 3;
		else
			return (0);
	}
	return (need == 0);
}

static char *
repeat(const char *unit, size_t times)
{
	size_t	 ul = strlen(unit), i;
	char	*s = malloc(ul * times + 1);

	for (i = 0; i < times; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * times] = '\0';
	return (s);
}

static void
short_text_is_sent_as_is(void **state)
{
	char	**parts;
	size_t	  n;

	assert_int_equal(wecom_split("hello", 5, WECOM_TEXT_MAX,
	    WECOM_LONG_SPLIT, &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 1);
	assert_string_equal(parts[0], "hello");
	wecom_split_free(parts, n);
}

static void
text_of_exactly_2048_bytes_is_one_message(void **state)
{
	char	*s = repeat("a", WECOM_TEXT_MAX), **parts;
	size_t	 n;

	assert_int_equal(wecom_split(s, strlen(s), WECOM_TEXT_MAX,
	    WECOM_LONG_SPLIT, &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(parts[0]), WECOM_TEXT_MAX);
	wecom_split_free(parts, n);
	free(s);
}

static void
chinese_text_splits_on_character_boundaries_into_marked_parts(void **state)
{
	char	*s = repeat("磁盘空间不足", 400), **parts, marker[48];
	size_t	 n, i, total;

	/* 400 * 18 bytes = 7200 bytes: four parts of at most 2048. */
	assert_int_equal(wecom_split(s, strlen(s), WECOM_TEXT_MAX,
	    WECOM_LONG_SPLIT, &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 4);
	total = 0;
	for (i = 0; i < n; i++) {
		snprintf(marker, sizeof(marker), "(%zu/%zu) ", i + 1, n);
		assert_true(strncmp(parts[i], marker, strlen(marker)) == 0);
		assert_true(strlen(parts[i]) <= WECOM_TEXT_MAX);
		assert_true(utf8_whole(parts[i]));
		total += strlen(parts[i]) - strlen(marker);
	}
	assert_int_equal(total, strlen(s));	/* nothing lost */
	wecom_split_free(parts, n);
	free(s);
}

static void
split_prefers_line_breaks(void **state)
{
	char	*line = repeat("x", 99), *s, **parts;
	size_t	 n, i, len;

	/* 40 lines of 99 x + "\n": a part must end where a line ends. */
	s = repeat("", 1);
	len = 0;
	s = realloc(s, 40 * 100 + 1);
	for (i = 0; i < 40; i++) {
		memcpy(s + len, line, 99);
		s[len + 99] = '\n';
		len += 100;
	}
	s[--len] = '\0';	/* no newline after the last line */
	assert_int_equal(wecom_split(s, len, WECOM_TEXT_MAX, WECOM_LONG_SPLIT,
	    &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		len = strlen(parts[i]);
		assert_int_equal(parts[i][len - 1], 'x');
		assert_int_equal((len - strlen("(1/2) ") + 1) % 100, 0);
	}
	wecom_split_free(parts, n);
	free(line);
	free(s);
}

static void
markdown_limit_is_4096_bytes(void **state)
{
	char	*s = repeat("# 标题\n", 500), **parts;
	size_t	 n, i;

	assert_int_equal(wecom_split(s, strlen(s), WECOM_MARKDOWN_MAX,
	    WECOM_LONG_SPLIT, &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		assert_true(strlen(parts[i]) <= WECOM_MARKDOWN_MAX);
		assert_true(utf8_whole(parts[i]));
	}
	wecom_split_free(parts, n);
	free(s);
}

static void
truncation_keeps_the_limit_and_says_so(void **state)
{
	char	*s = repeat("告警", 1000), **parts;
	size_t	 n;

	assert_int_equal(wecom_split(s, strlen(s), WECOM_TEXT_MAX,
	    WECOM_LONG_TRUNCATE, &parts, &n), WECOM_API_OK);
	assert_int_equal(n, 1);
	assert_true(strlen(parts[0]) <= WECOM_TEXT_MAX);
	assert_true(utf8_whole(parts[0]));
	assert_non_null(strstr(parts[0], "truncated"));
	assert_non_null(strstr(parts[0], "more bytes"));
	wecom_split_free(parts, n);
	free(s);
}

static void
hints_name_the_fix_for_common_errcodes(void **state)
{
	assert_non_null(strstr(wecom_api_hint(60020), "trusted IP"));
	assert_non_null(strstr(wecom_api_hint(40001), "secret"));
	assert_non_null(strstr(wecom_api_hint(48002), "not allowed"));
	assert_non_null(strstr(wecom_api_hint(81013), "recipient"));
	assert_non_null(strstr(wecom_api_hint(301002), "another app"));
	assert_null(wecom_api_hint(0));
	assert_null(wecom_api_hint(123456));
}

/* Judge a synthetic response, as a curl-multi driver would hand it. */
static int
judge(CURLcode crc, long status, const char *body,
    struct wecom_api_error *err)
{
	struct client_req	req;
	int			act;

	memset(err, 0, sizeof(*err));
	assert_int_equal(wecom_client_req_init(&req, REQ_GET, "message/send",
	    NULL, 1), WECOM_API_OK);
	req.curl_rc = crc;
	req.http_status = status;
	if (body != NULL) {
		wecom_buf_add(&req.resp, body, strlen(body));
	}
	act = wecom_client_req_finish(&req, err);
	wecom_client_req_free(&req);
	return (act);
}

static void
responses_are_judged_without_performing(void **state)
{
	struct wecom_api_error	e;

	assert_int_equal(judge(CURLE_OK, 200,
	    "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":\"m\"}", &e), REQ_DONE);
	assert_int_equal(judge(CURLE_OK, 200,
	    "{\"errcode\":-1,\"errmsg\":\"system busy\"}", &e), REQ_BACKOFF);
	assert_int_equal(e.errcode, -1);
	assert_int_equal(judge(CURLE_OK, 200, "{\"errcode\":45009}", &e),
	    REQ_BACKOFF);
	assert_int_equal(judge(CURLE_OK, 200, "{\"errcode\":45033}", &e),
	    REQ_BACKOFF);
	assert_int_equal(judge(CURLE_OK, 502, "bad gateway", &e), REQ_BACKOFF);
	assert_int_equal(e.code, WECOM_API_ERR_UNAVAILABLE);
	assert_int_equal(e.http_status, 502);
	assert_int_equal(judge(CURLE_GOT_NOTHING, 0, NULL, &e), REQ_BACKOFF);
	assert_int_equal(judge(CURLE_OPERATION_TIMEDOUT, 0, NULL, &e),
	    REQ_BACKOFF);
	assert_int_equal(judge(CURLE_OK, 200, "{\"errcode\":40014}", &e),
	    REQ_NEWTOKEN);
	assert_int_equal(judge(CURLE_OK, 200, "{\"errcode\":42001}", &e),
	    REQ_NEWTOKEN);
	assert_int_equal(judge(CURLE_OK, 200,
	    "{\"errcode\":40001,\"errmsg\":\"invalid credential\"}", &e),
	    REQ_FAIL);
	assert_int_equal(e.code, WECOM_API_ERR_REJECTED);
	assert_string_equal(e.errmsg, "invalid credential");
	assert_non_null(e.hint);
	assert_int_equal(judge(CURLE_OK, 200,
	    "{\"errcode\":60020,\"errmsg\":\"not allow to access from your "
	    "ip\"}", &e), REQ_FAIL);
	assert_non_null(strstr(e.hint, "trusted IP"));
	assert_int_equal(judge(CURLE_OK, 404, "nope", &e), REQ_FAIL);
	assert_int_equal(e.code, WECOM_API_ERR_HTTP);
	assert_int_equal(judge(CURLE_OK, 200, "<html>proxy</html>", &e),
	    REQ_FAIL);
	assert_int_equal(e.code, WECOM_API_ERR_PROTOCOL);
	assert_int_equal(judge(CURLE_PEER_FAILED_VERIFICATION, 0, NULL, &e),
	    REQ_FAIL);
	assert_int_equal(e.code, WECOM_API_ERR_TLS);
}

static void
builds_a_text_message_body(void **state)
{
	struct wecom_outmsg	*m;
	json_t			*b;
	char			*s;

	m = wecom_outmsg_text("disk full");
	assert_int_equal(wecom_outmsg_mention(m, "zhangsan,@all", "13800000000"),
	    WECOM_API_OK);
	b = wecom_client_msg_body(m, "part");
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"msgtype\":\"text\",\"text\":{\"content\":"
	    "\"part\",\"mentioned_list\":[\"zhangsan\",\"@all\"],"
	    "\"mentioned_mobile_list\":[\"13800000000\"]}}");
	free(s);
	json_decref(b);
	wecom_outmsg_free(m);
}

static void
builds_cards_news_and_robot_images(void **state)
{
	struct wecom_outmsg	*m;
	json_t			*b;
	char			*s;

	m = wecom_outmsg_textcard("T", "D", "https://u", NULL);
	b = wecom_client_msg_body(m, NULL);
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"msgtype\":\"textcard\",\"textcard\":"
	    "{\"description\":\"D\",\"title\":\"T\",\"url\":\"https://u\"}}");
	free(s);
	json_decref(b);
	wecom_outmsg_free(m);

	m = wecom_outmsg_news();
	assert_int_equal(wecom_outmsg_news_add(m, "A", NULL, "https://a", NULL),
	    WECOM_API_OK);
	assert_int_equal(wecom_outmsg_news_add(m, NULL, NULL, NULL, NULL),
	    WECOM_API_ERR_ARG);
	b = wecom_client_msg_body(m, NULL);
	assert_int_equal(json_array_size(json_object_get(json_object_get(b,
	    "news"), "articles")), 1);
	json_decref(b);
	wecom_outmsg_free(m);

	/* md5("abc") = 900150983cd24fb0d6963f7d28e17f72, base64 YWJj. */
	m = wecom_outmsg_image_data("abc", 3);
	b = wecom_client_msg_body(m, NULL);
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"image\":{\"base64\":\"YWJj\",\"md5\":"
	    "\"900150983cd24fb0d6963f7d28e17f72\"},\"msgtype\":\"image\"}");
	free(s);
	json_decref(b);
	wecom_outmsg_free(m);

	assert_null(wecom_outmsg_json("template_card", "[1,2]"));
	assert_null(wecom_outmsg_json("template_card", "{bad"));
}

static void
recipient_lists_take_commas_or_bars(void **state)
{
	char	*s;

	s = wecom_client_join("zhangsan, lisi|wangwu");
	assert_string_equal(s, "zhangsan|lisi|wangwu");
	free(s);
}

static void
token_file_name_hides_the_secret(void **state)
{
	char	a[CLIENT_HASH_HEX + 1], b[CLIENT_HASH_HEX + 1];

	assert_int_equal(wecom_client_token_hash("wwcorp", "s3cret", a),
	    WECOM_API_OK);
	assert_int_equal(wecom_client_token_hash("wwcorp", "other", b),
	    WECOM_API_OK);
	assert_int_equal(strlen(a), 64);
	assert_null(strstr(a, "s3cret"));
	assert_string_not_equal(a, b);
	/* sha256("wwcorp\ns3cret"), computed with sha256sum. */
	assert_string_equal(a, "185040ca804170425e10529cc4864700"
	    "b0eba6e974add05182a7087e0a7f1f23");
}

static void
backoff_grows_and_stays_bounded(void **state)
{
	struct wecom_client	c;
	long			d;
	int			i;

	memset(&c, 0, sizeof(c));
	c.base_ms = 100;
	for (i = 0; i < 50; i++) {
		d = wecom_client_backoff_ms(&c, 1);
		assert_true(d >= 50 && d <= 100);
		d = wecom_client_backoff_ms(&c, 3);
		assert_true(d >= 200 && d <= 400);
		d = wecom_client_backoff_ms(&c, 30);
		assert_true(d >= CLIENT_RETRY_CAP_MS / 2 &&
		    d <= CLIENT_RETRY_CAP_MS);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(short_text_is_sent_as_is),
		cmocka_unit_test(text_of_exactly_2048_bytes_is_one_message),
		cmocka_unit_test(
		    chinese_text_splits_on_character_boundaries_into_marked_parts),
		cmocka_unit_test(split_prefers_line_breaks),
		cmocka_unit_test(markdown_limit_is_4096_bytes),
		cmocka_unit_test(truncation_keeps_the_limit_and_says_so),
		cmocka_unit_test(hints_name_the_fix_for_common_errcodes),
		cmocka_unit_test(responses_are_judged_without_performing),
		cmocka_unit_test(builds_a_text_message_body),
		cmocka_unit_test(builds_cards_news_and_robot_images),
		cmocka_unit_test(recipient_lists_take_commas_or_bars),
		cmocka_unit_test(token_file_name_hides_the_secret),
		cmocka_unit_test(backoff_grows_and_stays_bounded),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
