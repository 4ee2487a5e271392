/* SPDX-License-Identifier: ISC */
/*
 * framework/outbox_*: the record and its JSON, the message kept in it,
 * keys, backoff, and the atomic file operations — without HTTP. The
 * drainer itself is tested against the fake WeCom (tests/outbox/).
 */

#include <sys/stat.h>

#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "client_private.h"
#include "outbox_private.h"

static void
fill(struct outbox_record *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->key, "k-0001");
	r->created = 1700000000123LL;
	r->next = 1700000000500LL;
	r->attempts = 2;
	r->app = strdup("main");
	r->touser = strdup("zhangsan|lisi");
	r->toparty = strdup("2");
	r->msg = json_pack("{s:s, s:{s:s}}", "msgtype", "text", "text",
	    "content", "磁盘告警 disk full");
	r->safe = 1;
	r->id_trans = 1;
	r->long_content = WECOM_LONG_TRUNCATE;
	r->fb_user = strdup("wangwu");
	r->dup_interval = 14400;
	r->error.code = WECOM_API_ERR_UNAVAILABLE;
	r->error.errcode = -1;
	r->error.errmsg = strdup("system busy");
	r->error.hint = strdup("retry later");
	r->error.at = 1700000000400LL;
}

static void
decodes_what_it_encoded(void **state)
{
	struct outbox_record	r, back;
	char			*s;

	fill(&r);
	assert_non_null(s = wecom_outbox_record_encode(&r));
	assert_int_equal(wecom_outbox_record_decode(&back, s, strlen(s)),
	    WECOM_API_OK);
	assert_string_equal(back.key, "k-0001");
	assert_true(back.created == r.created);
	assert_true(back.next == r.next);
	assert_int_equal(back.attempts, 2);
	assert_string_equal(back.app, "main");
	assert_null(back.robot);
	assert_null(back.chat);
	assert_string_equal(back.touser, "zhangsan|lisi");
	assert_string_equal(back.toparty, "2");
	assert_null(back.totag);
	assert_true(json_equal(back.msg, r.msg));
	assert_int_equal(back.safe, 1);
	assert_int_equal(back.id_trans, 1);
	assert_int_equal(back.long_content, WECOM_LONG_TRUNCATE);
	assert_string_equal(back.fb_user, "wangwu");
	assert_int_equal(back.dup_interval, 14400);
	assert_int_equal(back.error.code, WECOM_API_ERR_UNAVAILABLE);
	assert_int_equal(back.error.errcode, -1);
	assert_string_equal(back.error.errmsg, "system busy");
	assert_string_equal(back.error.hint, "retry later");
	free(s);
	wecom_outbox_record_free(&back);
	wecom_outbox_record_free(&r);
}

static void
keeps_a_robot_by_name_and_a_failure_reason(void **state)
{
	struct outbox_record	r, back;
	char			*s;

	memset(&r, 0, sizeof(r));
	strcpy(r.key, "0123456789abcdef0123456789abcdef");
	r.created = r.next = 1700000000000LL;
	r.robot = strdup("ops");
	r.msg = json_pack("{s:s, s:{s:s}}", "msgtype", "markdown",
	    "markdown", "content", "**x**");
	r.failed_at = 1700000009000LL;
	strcpy(r.failed_why, "max_age");
	assert_non_null(s = wecom_outbox_record_encode(&r));
	assert_int_equal(wecom_outbox_record_decode(&back, s, strlen(s)),
	    WECOM_API_OK);
	assert_string_equal(back.robot, "ops");
	assert_null(back.app);
	assert_string_equal(back.failed_why, "max_age");
	assert_true(back.failed_at == 1700000009000LL);
	free(s);
	wecom_outbox_record_free(&back);
	wecom_outbox_record_free(&r);
}

static void
refuses_records_it_would_not_write(void **state)
{
	static const char *const bad[] = {
		"",
		"{\"v\":1,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"to\":{\"touser\":\"a\"}",	/* cut */
		"{\"v\":2,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"to\":{\"touser\":\"a\"},\"dup_interval\":1,"
		    "\"msg\":{\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}}",
		"{\"v\":1,\"key\":\"../etc\",\"created\":1,\"next\":1,"
		    "\"attempts\":0,\"app\":\"main\",\"to\":{\"touser\":\"a\"},"
		    "\"dup_interval\":1,"
		    "\"msg\":{\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}}",
		/* both an app and a robot */
		"{\"v\":1,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"robot\":\"ops\",\"dup_interval\":1,"
		    "\"msg\":{\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}}",
		/* an app without recipients */
		"{\"v\":1,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"dup_interval\":1,"
		    "\"msg\":{\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}}",
		/* a msgtype without its object */
		"{\"v\":1,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"to\":{\"touser\":\"a\"},\"dup_interval\":1,"
		    "\"msg\":{\"msgtype\":\"text\"}}",
		/* a duplicate-check interval WeCom would refuse */
		"{\"v\":1,\"key\":\"k\",\"created\":1,\"next\":1,\"attempts\":0,"
		    "\"app\":\"main\",\"to\":{\"touser\":\"a\"},"
		    "\"dup_interval\":86400,"
		    "\"msg\":{\"msgtype\":\"text\",\"text\":{\"content\":\"x\"}}}",
	};
	struct outbox_record	r;
	size_t			i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(wecom_outbox_record_decode(&r, bad[i],
		    strlen(bad[i])), WECOM_API_ERR_PROTOCOL);
}

/* The message sent from a record is the one that was queued. */
static void
rebuilds_text_with_mentions_and_markdown_with_fallback(void **state)
{
	struct outbox_record	 r;
	struct wecom_outmsg	*m, *back;
	json_t			*a, *b;

	memset(&r, 0, sizeof(r));
	assert_non_null(m = wecom_outmsg_text("hello"));
	assert_int_equal(wecom_outmsg_mention(m, "zhangsan,@all", "13800000000"),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_record_set_msg(&r, m), WECOM_API_OK);
	assert_non_null(back = wecom_outbox_record_msg(&r));
	a = wecom_client_msg_body(m, wecom_client_msg_content(m));
	b = wecom_client_msg_body(back, wecom_client_msg_content(back));
	assert_true(json_equal(a, b));
	/* text is rebuilt as text: long content is split again */
	assert_string_equal(wecom_client_msg_content(back), "hello");
	json_decref(a);
	json_decref(b);
	wecom_outmsg_free(back);
	wecom_outmsg_free(m);

	assert_non_null(m = wecom_outmsg_markdown("**x**", "x, plain"));
	assert_int_equal(wecom_outbox_record_set_msg(&r, m), WECOM_API_OK);
	assert_non_null(back = wecom_outbox_record_msg(&r));
	assert_string_equal(wecom_outmsg_type(back), "markdown");
	assert_string_equal(wecom_client_msg_fallback(back), "x, plain");
	wecom_outmsg_free(back);
	wecom_outmsg_free(m);

	assert_non_null(m = wecom_outmsg_textcard("t", "d", "https://e.x/", NULL));
	assert_int_equal(wecom_outbox_record_set_msg(&r, m), WECOM_API_OK);
	assert_non_null(back = wecom_outbox_record_msg(&r));
	a = wecom_client_msg_body(m, NULL);
	b = wecom_client_msg_body(back, NULL);
	assert_true(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	wecom_outmsg_free(back);
	wecom_outmsg_free(m);
	wecom_outbox_record_free(&r);
}

static void
keys_are_file_names_and_random_ones_differ(void **state)
{
	char	a[WECOM_OUTBOX_KEY_MAX + 1], b[WECOM_OUTBOX_KEY_MAX + 1];
	char	longkey[WECOM_OUTBOX_KEY_MAX + 2];

	assert_int_equal(wecom_outbox_key_valid("alert-2024.06_01"),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_key_valid(""), WECOM_API_ERR_ARG);
	assert_int_equal(wecom_outbox_key_valid(".hidden"), WECOM_API_ERR_ARG);
	assert_int_equal(wecom_outbox_key_valid("a/b"), WECOM_API_ERR_ARG);
	assert_int_equal(wecom_outbox_key_valid("a b"), WECOM_API_ERR_ARG);
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(wecom_outbox_key_valid(longkey), WECOM_API_ERR_ARG);
	longkey[WECOM_OUTBOX_KEY_MAX] = '\0';
	assert_int_equal(wecom_outbox_key_valid(longkey), WECOM_API_OK);

	wecom_outbox_key_random(a);
	wecom_outbox_key_random(b);
	assert_int_equal(strlen(a), 32);
	assert_int_equal(strspn(a, "0123456789abcdef"), 32);
	assert_string_not_equal(a, b);
}

static void
backoff_doubles_with_jitter_and_is_capped(void **state)
{
	long		d;
	int		n;
	uint32_t	rnd;

	/* Attempt n waits within [d/2, d], d = base · 2^(n-1). */
	for (n = 1; n <= 5; n++) {
		d = 1000L << (n - 1);
		assert_int_equal(wecom_outbox_backoff_ms(1000, n, 0), d / 2);
		assert_int_equal(wecom_outbox_backoff_ms(1000, n,
		    (uint32_t)d / 2), d);
		for (rnd = 0; rnd < 5000; rnd += 97) {
			assert_true(wecom_outbox_backoff_ms(1000, n, rnd) >=
			    d / 2);
			assert_true(wecom_outbox_backoff_ms(1000, n, rnd) <= d);
		}
	}
	/* 32 times the base at most, and never beyond an hour. */
	assert_true(wecom_outbox_backoff_ms(200, 50, UINT32_MAX) <= 32 * 200);
	assert_true(wecom_outbox_backoff_ms(200, 50, 0) == 16 * 200);
	assert_true(wecom_outbox_backoff_ms(600000, 50, UINT32_MAX) <=
	    OUTBOX_BACKOFF_CAP_MS);
}

static char	tmpdir[] = "/tmp/test_outbox.XXXXXX";

static int
count_files(const char *dir)
{
	DIR		*dp;
	struct dirent	*de;
	int		 n;

	n = 0;
	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(dp);
	return (n);
}

static void
writes_atomically_0600_and_keeps_an_existing_record(void **state)
{
	struct outbox_dirs	 d;
	struct stat		 st;
	char			 path[PATH_MAX + 16], *data, **names;
	size_t			 len, n;
	int			 i;

	assert_non_null(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	assert_int_equal(wecom_outbox_dirs_init(&d, path, 1), WECOM_API_OK);
	for (i = 0; i < OB_NDIRS; i++) {
		assert_int_equal(stat(d.sub[i], &st), 0);
		assert_int_equal(st.st_mode & 0777, 0700);
	}
	assert_int_equal(stat(d.root, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);

	assert_int_equal(wecom_outbox_write(d.sub[OB_NEW], "k1", "first", 5,
	    1700000000000LL, OUTBOX_EXCL), WECOM_API_OK);
	assert_int_equal(wecom_outbox_write(d.sub[OB_NEW], "k1", "second", 6, 0,
	    OUTBOX_EXCL), OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_read(d.sub[OB_NEW], "k1", &data, &len),
	    WECOM_API_OK);
	assert_string_equal(data, "first");
	free(data);
	snprintf(path, sizeof(path), "%s/k1", d.sub[OB_NEW]);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(st.st_mtime == 1700000000);	/* its birth */
	/* No temporary file is left behind, even by a refused write. */
	assert_int_equal(count_files(d.sub[OB_NEW]), 1);

	assert_int_equal(wecom_outbox_write(d.sub[OB_NEW], "k1", "third", 5,
	    0, 0), WECOM_API_OK);
	assert_int_equal(wecom_outbox_read(d.sub[OB_NEW], "k1", &data, &len),
	    WECOM_API_OK);
	assert_string_equal(data, "third");
	free(data);

	assert_int_equal(wecom_outbox_move(d.sub[OB_NEW], d.sub[OB_SENDING],
	    "k1", 0), WECOM_API_OK);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_NEW], "k1"),
	    OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_SENDING], "k1"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_move(d.sub[OB_NEW], d.sub[OB_SENDING],
	    "k1", OUTBOX_LAZY), OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_list(d.sub[OB_SENDING], &names, &n),
	    WECOM_API_OK);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], "k1");
	wecom_outbox_list_free(names, n);
	assert_int_equal(wecom_outbox_remove(d.sub[OB_SENDING], "k1", 0),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_remove(d.sub[OB_SENDING], "k1", 0),
	    OUTBOX_MISSING);
}

static void
prunes_old_records_and_stale_temporary_files(void **state)
{
	struct outbox_dirs	d;
	char			path[PATH_MAX + 16];
	FILE			*fp;

	snprintf(path, sizeof(path), "%s/state", tmpdir);
	assert_int_equal(wecom_outbox_dirs_init(&d, path, 0), WECOM_API_OK);
	assert_int_equal(wecom_outbox_write(d.sub[OB_DONE], "old", "x", 1,
	    1000000000000LL, 0), WECOM_API_OK);
	assert_int_equal(wecom_outbox_write(d.sub[OB_DONE], "young", "x", 1,
	    0, 0), WECOM_API_OK);
	snprintf(path, sizeof(path), "%s/.tmp-killed", d.sub[OB_DONE]);
	assert_non_null(fp = fopen(path, "w"));
	fclose(fp);
	/* A writer's temporary file is young: it stays... */
	wecom_outbox_prune(d.sub[OB_DONE], wecom_outbox_now_ms() - 60000,
	    wecom_outbox_now_ms() - 60000);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_DONE], "old"),
	    OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_DONE], "young"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_DONE], ".tmp-killed"),
	    OUTBOX_EXISTS);
	/* ...until it is older than the cut. */
	wecom_outbox_prune(d.sub[OB_DONE], 0, wecom_outbox_now_ms() + 1000);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_DONE], ".tmp-killed"),
	    OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_exists(d.sub[OB_DONE], "young"),
	    OUTBOX_EXISTS);

	snprintf(path, sizeof(path), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decodes_what_it_encoded),
		cmocka_unit_test(keeps_a_robot_by_name_and_a_failure_reason),
		cmocka_unit_test(refuses_records_it_would_not_write),
		cmocka_unit_test(
		    rebuilds_text_with_mentions_and_markdown_with_fallback),
		cmocka_unit_test(keys_are_file_names_and_random_ones_differ),
		cmocka_unit_test(backoff_doubles_with_jitter_and_is_capped),
		cmocka_unit_test(
		    writes_atomically_0600_and_keeps_an_existing_record),
		cmocka_unit_test(prunes_old_records_and_stale_temporary_files),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
