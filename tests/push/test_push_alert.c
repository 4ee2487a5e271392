/* SPDX-License-Identifier: ISC */
/*
 * framework/push/push_alert.c and alert_time.c: Alertmanager webhooks as
 * WeCom markdown, their times in UTC. The payloads are what Alertmanager
 * 0.27 sends to a webhook_config; the big ones are built with jansson.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "wecom_client.h"
#include "wecom_alert_time.h"
#include "wecom_push_alert.h"

/* One alert of the DiskFull group; %s: status, instance, times. */
#define DISK_ALERT(status, inst, pct, mnt, start, end)			\
	"{\"status\":\"" status "\",\"labels\":{\"alertname\":\"DiskFull\","	\
	"\"instance\":\"" inst "\",\"job\":\"node\","			\
	"\"severity\":\"critical\"},\"annotations\":{\"summary\":"	\
	"\"Disk almost full\",\"description\":\"Disk " mnt " is " pct	\
	"% full\"},\"startsAt\":\"" start "\",\"endsAt\":\"" end "\","	\
	"\"generatorURL\":\"http://prom:9090/graph?g0.expr=x\","	\
	"\"fingerprint\":\"" inst "\"}"

#define DISK_GROUP(trunc, alerts)					\
	"{\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"DiskFull\\\"}\"," \
	"\"truncatedAlerts\":" trunc ",\"status\":\"firing\","		\
	"\"receiver\":\"wecom\",\"groupLabels\":{\"alertname\":\"DiskFull\"}," \
	"\"commonLabels\":{\"alertname\":\"DiskFull\",\"job\":\"node\","	\
	"\"severity\":\"critical\"},\"commonAnnotations\":"		\
	"{\"summary\":\"Disk almost full\"},"				\
	"\"externalURL\":\"http://am:9093\",\"alerts\":[" alerts "]}"

#define ZERO	"0001-01-01T00:00:00Z"

/* Resolved first, as Alertmanager may send them: firing must lead. */
static const char sample[] = DISK_GROUP("0",
    DISK_ALERT("resolved", "db3:9100", "91", "/var",
	"2026-11-22T09:00:00Z", "2026-11-22T09:40:00Z") ","
    DISK_ALERT("firing", "db1:9100", "97", "/var",
	"2026-11-22T10:00:00Z", ZERO) ","
    DISK_ALERT("firing", "db2:9100", "95", "/data",
	"2026-11-22T18:05:00.123+08:00", ZERO));

static const char sample_md[] =
    "## <font color=\"warning\">[FIRING:2, RESOLVED:1]</font> DiskFull\n"
    "> job: node · severity: critical\n"
    "\n"
    "<font color=\"warning\">**db1:9100**</font> — Disk almost full\n"
    "Disk /var is 97% full\n"
    "<font color=\"comment\">since 2026-11-22 10:00:00 UTC</font>\n"
    "\n"
    "<font color=\"warning\">**db2:9100**</font> — Disk almost full\n"
    "Disk /data is 95% full\n"
    "<font color=\"comment\">since 2026-11-22 10:05:00 UTC</font>\n"
    "\n"
    "<font color=\"info\">**db3:9100**</font> — Disk almost full\n"
    "Disk /var is 91% full\n"
    "<font color=\"comment\">resolved 2026-11-22 09:40:00 UTC</font>";

static char *
render(const char *json)
{
	char	 err[256];
	char	*md;

	err[0] = '\0';
	md = wecom_alert_markdown(json, strlen(json), 0, err, sizeof(err));
	if (md == NULL)
		fail_msg("refused: %s", err);
	assert_true(strlen(md) <= WECOM_MARKDOWN_MAX);
	return (md);
}

/* The byte offset of a whole line of md; fails the test if absent. */
static size_t
line_at(const char *md, const char *line)
{
	const char	*p;
	size_t		 n;

	n = strlen(line);
	for (p = md; (p = strstr(p, line)) != NULL; p++) {
		if ((p == md || p[-1] == '\n') &&
		    (p[n] == '\n' || p[n] == '\0'))
			return (p - md);
	}
	fail_msg("no line \"%s\" in:\n%s", line, md);
	return (0);
}

static size_t
count(const char *s, const char *what)
{
	size_t	n;

	for (n = 0; (s = strstr(s, what)) != NULL; s++)
		n++;
	return (n);
}

static int
valid_utf8(const unsigned char *s)
{
	size_t	n, i;

	for (; *s != '\0'; s += n) {
		if (*s < 0x80)
			n = 1;
		else if ((*s & 0xe0) == 0xc0 && *s >= 0xc2)
			n = 2;
		else if ((*s & 0xf0) == 0xe0)
			n = 3;
		else if ((*s & 0xf8) == 0xf0 && *s <= 0xf4)
			n = 4;
		else
			return (0);
		for (i = 1; i < n; i++)
			if ((s[i] & 0xc0) != 0x80)
				return (0);
	}
	return (1);
}

/* A group of n firing alerts on db0 … db(n-1), as JSON text. */
static char *
storm(size_t n, int truncated, const char *summary)
{
	json_t	*root, *alerts;
	char	 inst[32], *s;
	size_t	 i;

	assert_non_null(alerts = json_array());
	for (i = 0; i < n; i++) {
		snprintf(inst, sizeof(inst), "db%zu:9100", i);
		assert_int_equal(json_array_append_new(alerts, json_pack(
		    "{s:s, s:{s:s, s:s, s:s}, s:{s:s, s:s}, s:s, s:s}",
		    "status", "firing", "labels", "alertname", "DiskFull",
		    "instance", inst, "severity", "critical",
		    "annotations", "summary", summary, "description",
		    "Disk /var is 97% full", "startsAt", "2026-11-22T10:00:00Z",
		    "endsAt", ZERO)), 0);
	}
	assert_non_null(root = json_pack("{s:s, s:i, s:s, s:{s:s}, "
	    "s:{s:s, s:s}, s:o}", "version", "4", "truncatedAlerts",
	    truncated, "status", "firing", "groupLabels", "alertname",
	    "DiskFull", "commonLabels", "alertname", "DiskFull", "severity",
	    "critical", "alerts", alerts));
	assert_non_null(s = json_dumps(root, JSON_COMPACT));
	json_decref(root);
	return (s);
}

/* Refused, and err names what is wrong. */
static void
refuses(const char *json, const char *reason)
{
	char	err[128];

	memset(err, 'x', sizeof(err));
	assert_null(wecom_alert_markdown(json, strlen(json), 0, err,
	    sizeof(err)));
	if (strstr(err, reason) != err)
		fail_msg("%s: err \"%s\", want \"%s\"", json, err, reason);
}

static void
renders_two_firing_and_one_resolved(void **state)
{
	char	*md;
	size_t	 db1, db2, db3;

	md = render(sample);
	line_at(md, "## <font color=\"warning\">[FIRING:2, RESOLVED:1]</font>"
	    " DiskFull");
	line_at(md, "> job: node · severity: critical");
	db1 = line_at(md, "<font color=\"warning\">**db1:9100**</font> — "
	    "Disk almost full");
	db2 = line_at(md, "<font color=\"warning\">**db2:9100**</font> — "
	    "Disk almost full");
	db3 = line_at(md, "<font color=\"info\">**db3:9100**</font> — "
	    "Disk almost full");
	line_at(md, "Disk /data is 95% full");
	line_at(md, "<font color=\"comment\">since 2026-11-22 10:00:00 UTC"
	    "</font>");
	line_at(md, "<font color=\"comment\">resolved 2026-11-22 09:40:00 UTC"
	    "</font>");
	assert_true(db1 < db2 && db2 < db3);
	/* The alertname is in the heading, not repeated per alert. */
	assert_int_equal(count(md, "DiskFull"), 1);
	assert_null(strstr(md, "0001"));
	assert_null(strstr(md, "more alert"));
	assert_string_equal(md, sample_md);
	free(md);
}

static void
an_all_resolved_group_is_green(void **state)
{
	char	*md;

	md = render(DISK_GROUP("0",
	    DISK_ALERT("resolved", "db1:9100", "97", "/var",
		"2026-11-22T10:00:00Z", "2026-11-22T10:30:00Z") ","
	    DISK_ALERT("resolved", "db2:9100", "95", "/data",
		"2026-11-22T10:05:00Z", "2026-11-22T10:31:15Z")));
	line_at(md, "## <font color=\"info\">[RESOLVED:2]</font> DiskFull");
	line_at(md, "<font color=\"comment\">resolved 2026-11-22 10:31:15 UTC"
	    "</font>");
	assert_null(strstr(md, "FIRING"));
	assert_null(strstr(md, "warning"));
	assert_null(strstr(md, "since"));
	free(md);
}

static void
a_storm_of_300_stays_within_4096_bytes(void **state)
{
	char		*json, *md, more[64];
	const char	*last;
	size_t		 shown;

	/* Multi-byte summaries, so that a cut byte would show. */
	json = storm(300, 0, "磁盘快满了 Disk almost full");
	md = render(json);
	assert_true(valid_utf8((const unsigned char *)md));
	line_at(md, "## <font color=\"warning\">[FIRING:300]</font> DiskFull");
	shown = count(md, "<font color=\"warning\">**db");
	assert_true(shown > 5 && shown < 300);
	line_at(md, "<font color=\"warning\">**db0:9100**</font> — "
	    "磁盘快满了 Disk almost full");
	snprintf(more, sizeof(more), "… and %zu more alerts", 300 - shown);
	assert_non_null(last = strrchr(md, '\n'));
	assert_string_equal(last + 1, more);
	free(md);
	free(json);
}

static void
considers_at_most_1000_alerts(void **state)
{
	char	*json, *md, more[64];
	size_t	 shown;

	json = storm(1500, 0, "Disk almost full");
	md = render(json);
	line_at(md, "## <font color=\"warning\">[FIRING:1000]</font> DiskFull");
	shown = count(md, "<font color=\"warning\">**db");
	snprintf(more, sizeof(more), "… and %zu more alerts", 1500 - shown);
	line_at(md, more);
	free(md);
	free(json);
}

static void
mentions_the_alerts_alertmanager_left_out(void **state)
{
	char	*json, *md, more[80];
	size_t	 shown;

	md = render(DISK_GROUP("5",
	    DISK_ALERT("firing", "db1:9100", "97", "/var",
		"2026-11-22T10:00:00Z", ZERO)));
	line_at(md, "<font color=\"warning\">**db1:9100**</font> — "
	    "Disk almost full");
	line_at(md, "… and 5 more alerts left out by Alertmanager");
	free(md);

	md = render(DISK_GROUP("1",
	    DISK_ALERT("firing", "db1:9100", "97", "/var",
		"2026-11-22T10:00:00Z", ZERO)));
	line_at(md, "… and 1 more alert left out by Alertmanager");
	free(md);

	json = storm(300, 7, "Disk almost full");
	md = render(json);
	shown = count(md, "<font color=\"warning\">**db");
	snprintf(more, sizeof(more), "… and %zu more alerts (7 left out by "
	    "Alertmanager)", 300 - shown + 7);
	line_at(md, more);
	free(md);
	free(json);
}

static void
names_the_field_of_a_malformed_body(void **state)
{
	refuses("", "body: not JSON");
	refuses("<html>502 Bad Gateway</html>", "body: not JSON");
	refuses("{\"alerts\":[],\"alerts\":[]}", "body: not JSON");
	refuses("[{\"status\":\"firing\"}]", "body: expected an object");
	refuses("{\"version\":\"4\",\"status\":\"firing\"}", "alerts: missing");
	refuses("{\"alerts\":{\"status\":\"firing\"}}",
	    "alerts: expected an array");
	refuses("{\"alerts\":null}", "alerts: expected an array");
	refuses("{\"alerts\":[]}", "alerts: empty");
	refuses("{\"alerts\":[{},\"firing\"]}",
	    "alerts[1]: expected an object");
	/* A NULL err is fine. */
	assert_null(wecom_alert_markdown("{}", 2, 0, NULL, 0));
}

static void
survives_missing_and_mistyped_optional_fields(void **state)
{
	char	*md;

	md = render("{\"alerts\":[{}]}");
	assert_string_equal(md, "## <font color=\"warning\">[FIRING:1]"
	    "</font> alerts\n\n<font color=\"warning\">**alert**</font>");
	free(md);

	md = render("{\"truncatedAlerts\":\"5\",\"commonLabels\":[1],"
	    "\"groupLabels\":7,\"alerts\":[{\"status\":1,\"labels\":"
	    "{\"alertname\":\"Up\",\"instance\":3,\"job\":\"x\"},"
	    "\"annotations\":\"none\",\"startsAt\":12,\"endsAt\":null}]}");
	assert_string_equal(md, "## <font color=\"warning\">[FIRING:1]"
	    "</font> alerts\n\n<font color=\"warning\">**Up**</font> job=x");
	free(md);
}

static void
a_label_value_cannot_open_a_font_tag(void **state)
{
	char		*md;
	const char	*p;

	md = render("{\"commonLabels\":{\"team\":\"<b>ops</b>\"},\"alerts\":["
	    "{\"labels\":{\"alertname\":\"X</font><font color=\\\"info\\\">\","
	    "\"instance\":\"<font color=\\\"warning\\\">pwned</font>\"},"
	    "\"annotations\":{\"summary\":\"latency > 2s\",\"description\":"
	    "\"<font color=\\\"info\\\">all good</font>\"}}]}");
	assert_null(strstr(md, "pwned</font>"));
	assert_null(strstr(md, "<font color=\"info\""));
	assert_null(strstr(md, "<b>"));
	line_at(md, "> team: ‹b›ops‹/b›");
	assert_non_null(strstr(md, "‹font color=\"warning\"›pwned‹/font›"));
	assert_non_null(strstr(md, " — latency › 2s"));
	/* Every tag left is one of ours, and they pair up. */
	for (p = md; (p = strchr(p, '<')) != NULL; p++)
		assert_true(strncmp(p, "<font color=\"", 13) == 0 ||
		    strncmp(p, "</font>", 7) == 0);
	assert_int_equal(count(md, "<font"), count(md, "</font>"));
	free(md);
}

static void
keeps_chinese_label_values_intact(void **state)
{
	char	*md;

	md = render("{\"commonLabels\":{\"alertname\":\"磁盘将满\","
	    "\"机房\":\"上海\"},\"alerts\":[{\"labels\":{\"alertname\":"
	    "\"磁盘将满\",\"机房\":\"上海\",\"实例\":\"数据库一号\"},"
	    "\"annotations\":{\"summary\":\"磁盘使用率 97%\"},"
	    "\"startsAt\":\"2026-11-22T18:00:00+08:00\"}]}");
	assert_true(valid_utf8((const unsigned char *)md));
	line_at(md, "## <font color=\"warning\">[FIRING:1]</font> 磁盘将满");
	line_at(md, "> 机房: 上海");
	line_at(md, "<font color=\"warning\">**实例=数据库一号**</font> — "
	    "磁盘使用率 97%");
	line_at(md, "<font color=\"comment\">since 2026-11-22 10:00:00 UTC"
	    "</font>");
	free(md);
}

static void
cuts_a_long_value_on_a_character_boundary(void **state)
{
	char	 json[8192], *md;
	size_t	 n;

	n = (size_t)snprintf(json, sizeof(json), "{\"alerts\":[{\"labels\":"
	    "{\"alertname\":\"A\"},\"annotations\":{\"description\":\"x");
	while (n + 8 < sizeof(json) - 16) {
		memcpy(json + n, "满", 3);
		n += 3;
	}
	snprintf(json + n, sizeof(json) - n, "\"}}]}");
	md = render(json);
	assert_true(valid_utf8((const unsigned char *)md));
	assert_true(strlen(md) < 1200);
	assert_non_null(strstr(md, "满满…"));
	free(md);
}

static void
names_each_alert_when_alertnames_differ(void **state)
{
	char	*md;

	md = render("{\"groupLabels\":{\"team\":\"db\"},\"commonLabels\":"
	    "{\"team\":\"db\"},\"alerts\":[{\"labels\":{\"alertname\":"
	    "\"DiskFull\",\"instance\":\"db1:9100\",\"team\":\"db\"}},"
	    "{\"labels\":{\"alertname\":\"HighLoad\",\"instance\":\"db2:9100\","
	    "\"team\":\"db\"}},{\"labels\":{\"alertname\":\"Replication\","
	    "\"team\":\"db\"}}]}");
	line_at(md, "## <font color=\"warning\">[FIRING:3]</font> db");
	line_at(md, "> team: db");
	line_at(md, "<font color=\"warning\">**DiskFull**</font> db1:9100");
	line_at(md, "<font color=\"warning\">**HighLoad**</font> db2:9100");
	line_at(md, "<font color=\"warning\">**Replication**</font>");
	free(md);
}

static void
shows_the_labels_that_differ_without_an_instance(void **state)
{
	char	*md;

	md = render("{\"commonLabels\":{\"alertname\":\"PodCrash\","
	    "\"namespace\":\"prod\"},\"alerts\":[{\"labels\":{\"alertname\":"
	    "\"PodCrash\",\"namespace\":\"prod\",\"pod\":\"api-7f9\","
	    "\"container\":\"app\"}}]}");
	line_at(md, "<font color=\"warning\">**pod=api-7f9, container=app**"
	    "</font>");
	free(md);
}

static void
prints_times_in_utc_and_odd_ones_as_given(void **state)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "2026-11-22T10:00:00Z", "since 2026-11-22 10:00:00 UTC" },
		{ "2026-11-22T10:00:00.123456789Z",
		    "since 2026-11-22 10:00:00 UTC" },
		{ "2026-11-23T01:30:00+08:00", "since 2026-11-22 17:30:00 UTC" },
		{ "2026-12-31T23:30:00-01:00", "since 2027-01-01 00:30:00 UTC" },
		{ "2028-02-29T00:00:00Z", "since 2028-02-29 00:00:00 UTC" },
		{ "2026-02-29T00:00:00Z", "since 2026-02-29T00:00:00Z" },
		{ "2026-11-22 10:00:00", "since 2026-11-22 10:00:00" },
		{ "2026-11-22T10:00:00+0800", "since 2026-11-22T10:00:00+0800" },
		{ "2026-11-22T25:00:00Z", "since 2026-11-22T25:00:00Z" },
		{ "2026-11-22T10:00:00", "since 2026-11-22T10:00:00" },
		{ "+026-11-22T10:00:00Z", "since +026-11-22T10:00:00Z" },
		{ "yesterday <b>", "since yesterday ‹b›" },
	};
	char	 json[256], want[128], *md;
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(json, sizeof(json), "{\"alerts\":[{\"startsAt\":"
		    "\"%s\"}]}", t[i].in);
		snprintf(want, sizeof(want), "<font color=\"comment\">%s"
		    "</font>", t[i].out);
		md = render(json);
		line_at(md, want);
		free(md);
	}
	md = render("{\"alerts\":[{\"startsAt\":\"" ZERO "\"},"
	    "{\"status\":\"resolved\",\"endsAt\":\"" ZERO "\"}]}");
	assert_null(strstr(md, "comment"));
	free(md);
}

/* [global] alert_utc_offset_min: times at the reader's offset, said so. */
static void
shows_times_at_the_configured_offset(void **state)
{
	char	t[48];

	assert_int_equal(wecom_alert_time("2026-11-22T10:05:00Z", 480, t,
	    sizeof(t)), WECOM_ALERT_TIME_OK);
	assert_string_equal(t, "2026-11-22 18:05:00 UTC+08:00");
	assert_int_equal(wecom_alert_time("2026-11-22T10:05:00+08:00", -330,
	    t, sizeof(t)), WECOM_ALERT_TIME_OK);
	assert_string_equal(t, "2026-11-21 20:35:00 UTC-05:30");
	assert_int_equal(wecom_alert_time("2026-11-22T10:05:00Z", 0, t,
	    sizeof(t)), WECOM_ALERT_TIME_OK);
	assert_string_equal(t, "2026-11-22 10:05:00 UTC");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(renders_two_firing_and_one_resolved),
		cmocka_unit_test(shows_times_at_the_configured_offset),
		cmocka_unit_test(an_all_resolved_group_is_green),
		cmocka_unit_test(a_storm_of_300_stays_within_4096_bytes),
		cmocka_unit_test(considers_at_most_1000_alerts),
		cmocka_unit_test(mentions_the_alerts_alertmanager_left_out),
		cmocka_unit_test(names_the_field_of_a_malformed_body),
		cmocka_unit_test(survives_missing_and_mistyped_optional_fields),
		cmocka_unit_test(a_label_value_cannot_open_a_font_tag),
		cmocka_unit_test(keeps_chinese_label_values_intact),
		cmocka_unit_test(cuts_a_long_value_on_a_character_boundary),
		cmocka_unit_test(names_each_alert_when_alertnames_differ),
		cmocka_unit_test(
		    shows_the_labels_that_differ_without_an_instance),
		cmocka_unit_test(prints_times_in_utc_and_odd_ones_as_given),
	};

	return (cmocka_run_group_tests_name("push_alert", tests, NULL, NULL));
}
