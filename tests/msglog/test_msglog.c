/* SPDX-License-Identifier: ISC */
/*
 * The message log without a server: a real SQLite file in a temporary
 * directory, written through the queue and its writer thread, read
 * back through the query API with every filter and both page
 * directions; retention; a full queue and a locked file drop and count.
 */

#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>
#include <sqlite3.h>

#include "wecom.h"
#include "wecom_xml.h"
#include "wecom_msglog.h"

#define BASE	"http://h/api/v1/messages"
#define DAY0	1735689600		/* 2025-01-01T00:00:00Z */
#define NDAY	300			/* messages in the synthetic day */

struct fx {
	char			 dir[64];
	char			 path[128];
	struct wecom_msglog	*log;
	char			 told[1024];
};

static void
tell(void *arg, int priority, const char *line)
{
	struct fx	*f = arg;
	size_t		 len;

	/* Every line, in order: what was told, not only the last. */
	len = strlen(f->told);
	snprintf(f->told + len, sizeof(f->told) - len, "%s\n", line);
}

static struct wecom_msglog *
open_log(struct fx *f, size_t queue_max, long busy_ms, int start)
{
	struct wecom_msglog_opts	opts;

	memset(&opts, 0, sizeof(opts));
	opts.path = f->path;
	opts.queue_max = queue_max;
	opts.busy_ms = busy_ms;
	opts.log = tell;
	opts.log_arg = f;
	f->log = wecom_msglog_new(&opts);
	assert_non_null(f->log);
	if (start)
		assert_int_equal(wecom_msglog_start(f->log), WECOM_OK);
	return (f->log);
}

static int
setup(void **state)
{
	struct fx	*f;

	f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_msglog.XXXXXX");
	if (f == NULL || mkdtemp(f->dir) == NULL)
		return (-1);
	snprintf(f->path, sizeof(f->path), "%s/messages.db", f->dir);
	*state = f;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;
	char		 cmd[128];

	wecom_msglog_free(f->log);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return (-1);
	free(f);
	return (0);
}

/* One entry of the synthetic day: i decides everything about it. */
static void
put_day(struct wecom_msglog *log, int i)
{
	static const char	*types[] = { "text", "image", "event:click" };
	struct wecom_msglog_rec	 rec;
	char			 sender[16], chat[16], msgid[16], content[64];

	snprintf(sender, sizeof(sender), "user%d", i % 5);
	snprintf(chat, sizeof(chat), "chat%d", i % 4);
	snprintf(msgid, sizeof(msgid), "m%d", i);
	snprintf(content, sizeof(content), "message %d %s", i, i % 10 == 0 ?
	    "服务器磁盘已满 DISK full" : "all good");
	memset(&rec, 0, sizeof(rec));
	rec.direction = i % 3 == 2 ? "out" : "in";
	rec.app = i % 2 ? "ops" : "hr";
	rec.channel = "app";
	rec.type = types[i % 3];
	rec.sender = sender;
	rec.chat = i % 4 == 3 ? NULL : chat;
	rec.msgid = msgid;
	rec.content = content;
	rec.time = DAY0 + (int64_t)i * 86400 / NDAY;
	assert_int_equal(wecom_msglog_put(log, &rec), WECOM_OK);
}

static int
expect_day(int (*match)(int))
{
	int	i, n;

	for (i = 0, n = 0; i < NDAY; i++)
		n += match(i);
	return (n);
}

/* The answer to a query string, which must be a 200. */
static json_t *
ask(struct wecom_msglog *log, const char *qs, const char *scope)
{
	struct wecom_msglog_query	 q;
	json_t				*ans;
	char				 why[256];
	int				 st;

	assert_int_equal(wecom_msglog_params(&q, qs, why, sizeof(why)), 0);
	q.scope = scope;
	st = wecom_msglog_query(log, &q, BASE, &ans, why, sizeof(why));
	if (st != 200)
		fail_msg("%s: %d %s", qs, st, why);
	wecom_msglog_query_clear(&q);
	return (ans);
}

static long
count_of(struct wecom_msglog *log, const char *qs)
{
	json_t	*a;
	long	 n;

	a = ask(log, qs, NULL);
	n = (long)json_integer_value(json_object_get(a, "count"));
	json_decref(a);
	return (n);
}

static void
day(struct fx *f)
{
	int	i;

	open_log(f, 0, 1000, 1);
	for (i = 0; i < NDAY; i++)
		put_day(f->log, i);
	wecom_msglog_flush(f->log);
}

static int m_ops(int i) { return (i % 2 == 1); }
static int m_click(int i) { return (i % 3 == 2); }
static int m_user3(int i) { return (i % 5 == 3); }
static int m_chat1(int i) { return (i % 4 == 1); }
static int m_out_ops(int i) { return (i % 3 == 2 && i % 2 == 1); }
static int m_disk(int i) { return (i % 10 == 0); }
/* since=06:00 until=12:00 of the day */
static int m_morning(int i) {
	int64_t t = DAY0 + (int64_t)i * 86400 / NDAY;
	return (t >= DAY0 + 6 * 3600 && t < DAY0 + 12 * 3600);
}

static void
filters_each_count_what_they_should(void **state)
{
	struct fx	*f = *state;

	day(f);
	assert_int_equal(count_of(f->log, ""), NDAY);
	assert_int_equal(count_of(f->log, "app=ops"), expect_day(m_ops));
	assert_int_equal(count_of(f->log, "type=event%3Aclick"),
	    expect_day(m_click));
	assert_int_equal(count_of(f->log, "sender=user3"),
	    expect_day(m_user3));
	assert_int_equal(count_of(f->log, "chat=chat1"), expect_day(m_chat1));
	assert_int_equal(count_of(f->log, "direction=out&app=ops"),
	    expect_day(m_out_ops));
	assert_int_equal(count_of(f->log, "since=2025-01-01T06:00:00Z&"
	    "until=2025-01-01T12:00:00Z"), expect_day(m_morning));
	assert_int_equal(count_of(f->log, "since=1735711200&until=1735732800"),
	    expect_day(m_morning));
	/* +08:00, its '+' sent as %2B, and as a form's space. */
	assert_int_equal(count_of(f->log, "since=2025-01-01T14:00:00%2B08:00&"
	    "until=2025-01-01T20:00+08:00"), expect_day(m_morning));
	assert_int_equal(count_of(f->log, "q=DISK"), expect_day(m_disk));
	assert_int_equal(count_of(f->log, "q=disk+full"), expect_day(m_disk));
	assert_int_equal(count_of(f->log, "app=nobody"), 0);
}

static void
full_text_finds_chinese_by_any_part(void **state)
{
	struct fx	*f = *state;

	day(f);
	assert_true(sqlite3_compileoption_used("ENABLE_FTS5"));
	/* Three characters or more: the trigram index. */
	assert_int_equal(count_of(f->log, "q=%E7%A3%81%E7%9B%98%E5%B7%B2"),
	    expect_day(m_disk));
	/* Two: a LIKE scan, the same answer. */
	assert_int_equal(count_of(f->log, "q=%E7%A3%81%E7%9B%98"),
	    expect_day(m_disk));
	/* Quotes, stars and LIKE's wildcards are only characters. */
	assert_int_equal(count_of(f->log, "q=%22DISK%22+OR+*"), 0);
	assert_int_equal(count_of(f->log, "q=%25"), 0);
	assert_int_equal(count_of(f->log, "q=_"), 0);
}

/* Walks pages with next, then back with previous: the same pages. */
static void
pages_walk_both_ways(void **state)
{
	struct fx	*f = *state;
	json_t		*a, *r;
	char		*links[64], qs[512];
	const char	*next, *prev;
	int64_t		 last = INT64_MAX, id;
	int		 pages, seen, k;
	size_t		 i;

	day(f);
	snprintf(qs, sizeof(qs), "app=ops&limit=7");
	for (pages = 0, seen = 0;; pages++) {
		links[pages] = strdup(qs);
		a = ask(f->log, qs, NULL);
		assert_int_equal(json_integer_value(json_object_get(a,
		    "count")), expect_day(m_ops));
		json_array_foreach(json_object_get(a, "results"), i, r) {
			id = json_integer_value(json_object_get(r, "id"));
			assert_true(id < last);		/* newest first */
			last = id;
			assert_string_equal(json_string_value(
			    json_object_get(r, "app")), "ops");
			seen++;
		}
		if (pages == 0)
			assert_true(json_is_null(json_object_get(a,
			    "previous")));
		next = json_string_value(json_object_get(a, "next"));
		if (next == NULL) {
			json_decref(a);
			break;
		}
		assert_true(strncmp(next, BASE "?", sizeof(BASE)) == 0);
		snprintf(qs, sizeof(qs), "%s", next + sizeof(BASE));
		json_decref(a);
	}
	assert_int_equal(seen, expect_day(m_ops));
	assert_int_equal(pages + 1, (expect_day(m_ops) + 6) / 7);

	/* Back from the last page: previous gives each page again. */
	a = ask(f->log, links[pages], NULL);
	for (k = pages; k > 0; k--) {
		prev = json_string_value(json_object_get(a, "previous"));
		assert_non_null(prev);
		snprintf(qs, sizeof(qs), "%s", prev + sizeof(BASE));
		json_decref(a);
		a = ask(f->log, qs, NULL);
		r = ask(f->log, links[k - 1], NULL);
		assert_true(json_equal(json_object_get(a, "results"),
		    json_object_get(r, "results")));
		json_decref(r);
	}
	assert_true(json_is_null(json_object_get(a, "previous")));
	json_decref(a);
	for (k = 0; k <= pages; k++)
		free(links[k]);
}

static void
a_row_has_every_field(void **state)
{
	struct fx		*f = *state;
	struct wecom_xml	*x;
	struct wecom_msglog_rec	 rec;
	json_t			*a, *r, *fl;
	const char		*xml = "<xml><ToUserName>ww1</ToUserName>"
	    "<FromUserName>zhangsan</FromUserName><CreateTime>1735689600"
	    "</CreateTime><MsgType>text</MsgType><Content>hello</Content>"
	    "<MsgId>42</MsgId><Info><A>1</A><B>2</B></Info><B>x</B><B>y</B>"
	    "<response_url>https://secret</response_url></xml>";
	const char		*reply = "{\"msgtype\":\"stream\",\"stream\":"
	    "{\"id\":\"s1\",\"finish\":true,\"content\":\"hi\"}}";

	open_log(f, 0, 1000, 1);
	x = wecom_xml_new();
	assert_int_equal(wecom_xml_parse(x, xml, strlen(xml)), WECOM_OK);
	memset(&rec, 0, sizeof(rec));
	rec.direction = "in";
	rec.app = "ops";
	rec.channel = "app";
	rec.type = "text";
	rec.sender = "zhangsan";
	rec.msgid = "42";
	rec.content = "hello";
	rec.time = DAY0;
	rec.xml = x;
	assert_int_equal(wecom_msglog_put(f->log, &rec), WECOM_OK);
	wecom_xml_free(x);	/* put copied everything */
	memset(&rec, 0, sizeof(rec));
	rec.direction = "out";
	rec.app = "bot";
	rec.channel = "aibot_callback";
	rec.type = "stream";
	rec.content = "hi";
	rec.doc = reply;
	rec.doclen = strlen(reply);
	rec.doc_json = 1;
	assert_int_equal(wecom_msglog_put(f->log, &rec), WECOM_OK);
	wecom_msglog_flush(f->log);

	a = ask(f->log, "", NULL);
	r = json_array_get(json_object_get(a, "results"), 1);
	assert_string_equal(json_string_value(json_object_get(r, "time")),
	    "2025-01-01T00:00:00Z");
	assert_true(json_is_null(json_object_get(r, "chat")));
	fl = json_object_get(r, "fields");
	assert_string_equal(json_string_value(json_object_get(fl, "Content")),
	    "hello");
	assert_string_equal(json_string_value(json_object_get(fl, "Info/B")),
	    "2");
	assert_int_equal(json_array_size(json_object_get(fl, "B")), 2);
	assert_null(json_object_get(fl, "Info"));	/* only holds others */
	assert_null(json_object_get(fl, "response_url"));	/* withheld */
	r = json_array_get(json_object_get(a, "results"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "type")),
	    "stream");
	fl = json_object_get(r, "fields");
	assert_string_equal(json_string_value(json_object_get(fl,
	    "stream/content")), "hi");
	json_decref(a);
}

static void
the_file_is_the_servers_alone(void **state)
{
	struct fx	*f = *state;
	struct stat	 sb;

	day(f);
	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void
bad_parameters_are_named(void **state)
{
	static const struct {
		const char	*qs, *why;
	} bad[] = {
		{ "limit=0", "limit:" },
		{ "limit=501", "limit:" },
		{ "limit=ten", "limit:" },
		{ "direction=sideways", "direction:" },
		{ "since=yesterday", "since:" },
		{ "until=2025-02-30", "until:" },
		{ "since=2025-01-02&until=2025-01-01", "until:" },
		{ "cursor=bm90IG91cnM", "cursor:" },
		{ "app=a&app=b", "app:" },
		{ "sort=id", "sort:" },
		{ "q=%zz", "bad percent" },
	};
	struct wecom_msglog_query	q;
	char				why[256];
	size_t				i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(wecom_msglog_params(&q, bad[i].qs, why,
		    sizeof(why)), 400);
		if (strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
			fail_msg("%s: %s", bad[i].qs, why);
		wecom_msglog_query_clear(&q);
	}
}

static void
a_keys_scope_limits_the_apps(void **state)
{
	struct fx			*f = *state;
	struct wecom_msglog_query	 q;
	json_t				*a, *r;
	char				 why[256];
	size_t				 i;

	day(f);
	a = ask(f->log, "limit=500", "ops");
	assert_int_equal(json_integer_value(json_object_get(a, "count")),
	    expect_day(m_ops));
	json_array_foreach(json_object_get(a, "results"), i, r)
		assert_string_equal(json_string_value(json_object_get(r,
		    "app")), "ops");
	json_decref(a);
	a = ask(f->log, "", "hr, ops");
	assert_int_equal(json_integer_value(json_object_get(a, "count")),
	    NDAY);
	json_decref(a);

	assert_int_equal(wecom_msglog_params(&q, "app=hr", why, sizeof(why)),
	    0);
	q.scope = "ops";
	assert_int_equal(wecom_msglog_query(f->log, &q, BASE, &a, why,
	    sizeof(why)), 403);
	assert_null(a);
	wecom_msglog_query_clear(&q);
}

static void
retention_deletes_only_older_rows(void **state)
{
	struct fx	*f = *state;

	day(f);
	/* Rows of the first six hours go, with their full-text entries. */
	assert_int_equal(wecom_msglog_expire(f->log, DAY0 + 6 * 3600),
	    NDAY / 4);
	assert_int_equal(count_of(f->log, ""), NDAY - NDAY / 4);
	assert_int_equal(count_of(f->log, "until=1735711200"), 0);
	assert_int_equal(count_of(f->log, "q=DISK"), expect_day(m_disk) -
	    (NDAY / 4 + 9) / 10);
	assert_int_equal(wecom_msglog_expire(f->log, DAY0), 0);
}

static void
a_full_queue_drops_and_counts(void **state)
{
	struct fx			*f = *state;
	struct wecom_msglog_stats	 st;
	int				 i;

	open_log(f, 8, 1000, 0);	/* no writer yet: nothing drains */
	for (i = 0; i < 8; i++)
		put_day(f->log, i);
	for (i = 0; i < 3; i++) {
		struct wecom_msglog_rec	rec = { .direction = "in",
		    .app = "ops", .channel = "app", .type = "text" };
		assert_int_equal(wecom_msglog_put(f->log, &rec), WECOM_ERROR);
	}
	wecom_msglog_stats(f->log, &st);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.queued, 8);
	assert_int_equal(wecom_msglog_start(f->log), WECOM_OK);
	wecom_msglog_flush(f->log);
	wecom_msglog_stats(f->log, &st);
	assert_int_equal(st.logged, 8);
	assert_int_equal(count_of(f->log, ""), 8);
}

/* Another process holds the write lock past busy_ms: the batch goes. */
static void
a_locked_database_drops_counts_and_tells(void **state)
{
	struct fx			*f = *state;
	struct wecom_msglog_stats	 st;
	sqlite3				*other;
	int				 i;

	open_log(f, 0, 100, 1);
	put_day(f->log, 0);
	wecom_msglog_flush(f->log);
	assert_int_equal(sqlite3_open(f->path, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	for (i = 1; i < 4; i++)
		put_day(f->log, i);
	wecom_msglog_flush(f->log);
	wecom_msglog_stats(f->log, &st);
	assert_int_equal(st.logged, 1);
	assert_int_equal(st.dropped, 3);
	sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(other);

	put_day(f->log, 4);
	wecom_msglog_flush(f->log);
	wecom_msglog_stats(f->log, &st);
	assert_int_equal(st.logged, 2);
	assert_int_equal(count_of(f->log, ""), 2);
	/* Told within a second of the drop, with SQLite's reason. */
	for (i = 0; i < 30 && strstr(f->told, "dropped") == NULL; i++)
		usleep(100000);
	if (strstr(f->told, "dropped") == NULL)
		fail_msg("told: %s", f->told);
	assert_non_null(strstr(f->told, "locked"));
}

/* A file that is no database: callbacks' entries drop, nothing stops. */
static void
an_unusable_file_drops_and_tells(void **state)
{
	struct fx			*f = *state;
	struct wecom_msglog_stats	 st;
	FILE				*fp;

	assert_non_null(fp = fopen(f->path, "w"));
	fputs("this is not a database, and it is long enough to tell\n", fp);
	fclose(fp);
	open_log(f, 0, 100, 1);
	put_day(f->log, 0);
	wecom_msglog_flush(f->log);
	wecom_msglog_stats(f->log, &st);
	assert_int_equal(st.logged, 0);
	assert_int_equal(st.dropped, 1);
	assert_non_null(strstr(f->told, "messages.db"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(a_row_has_every_field,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    filters_each_count_what_they_should, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    full_text_finds_chinese_by_any_part, setup, teardown),
		cmocka_unit_test_setup_teardown(pages_walk_both_ways,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(bad_parameters_are_named,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(a_keys_scope_limits_the_apps,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    retention_deletes_only_older_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(a_full_queue_drops_and_counts,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    a_locked_database_drops_counts_and_tells, setup, teardown),
		cmocka_unit_test_setup_teardown(an_unusable_file_drops_and_tells,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(the_file_is_the_servers_alone,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
