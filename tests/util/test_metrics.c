/* SPDX-License-Identifier: ISC */
/*
 * Shared metrics: what every worker counts adds up in one place, and
 * /metrics is text Prometheus can parse.
 */

#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "wecom_metrics.h"

static const char *const apps[] = { "echo", "monitor" };

static struct wecom_metrics	*m;

static int
setup(void **state)
{
	m = wecom_metrics_new(apps, 2);
	return (m == NULL);
}

static int
teardown(void **state)
{
	wecom_metrics_free(m);
	return (0);
}

/* The rendered text, checked for the given line. */
static int
has_line(const char *line)
{
	char	*text, *p;
	size_t	 len, n;
	int	 found;

	assert_non_null(text = wecom_metrics_render(m, &len));
	assert_int_equal(strlen(text), len);
	found = 0;
	n = strlen(line);
	for (p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			found = 1;
	free(text);
	return (found);
}

/* How many sample lines start with the prefix. */
static int
count_lines(const char *prefix)
{
	char	*text, *p;
	int	 n;

	assert_non_null(text = wecom_metrics_render(m, NULL));
	n = 0;
	for (p = text; p != NULL && *p != '\0';
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, prefix, strlen(prefix)) == 0)
			n++;
	free(text);
	return (n);
}

static void
counts_callbacks_by_app_and_type(void **state)
{
	wecom_metrics_callback(m, 0, "text");
	wecom_metrics_callback(m, 0, "text");
	wecom_metrics_callback(m, 0, "event:click");
	wecom_metrics_callback(m, 1, "text");
	assert_int_equal(wecom_metrics_get(m, 0, WECOM_M_CALLBACKS), 3);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_CALLBACKS), 1);
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"text\"} 2"));
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"event:click\"} 1"));
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"monitor\",type=\"text\"} 1"));
}

static void
counts_each_counter_apart(void **state)
{
	int	c;

	for (c = 0; c < WECOM_M_NCOUNTERS; c++) {
		assert_int_equal(wecom_metrics_get(m, 1, c), 0);
		wecom_metrics_inc(m, 1, c);
		assert_int_equal(wecom_metrics_get(m, 1, c), 1);
	}
	wecom_metrics_inc(m, 1, WECOM_M_DUPLICATES);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_DUPLICATES), 2);
	assert_int_equal(wecom_metrics_get(m, 0, WECOM_M_DUPLICATES), 0);
	assert_true(has_line("wecom_duplicates_total{app=\"monitor\"} 2"));
	assert_true(has_line("wecom_duplicates_total{app=\"echo\"} 0"));
	assert_true(has_line("wecom_stale_total{app=\"monitor\"} 1"));
	assert_true(has_line(
	    "wecom_deferred_delivered_total{app=\"monitor\"} 1"));
	assert_true(has_line("wecom_token_refreshes_total{app=\"monitor\"} 1"));

	/* The sums move only with their labelled series. */
	wecom_metrics_inc(m, 1, WECOM_M_CALLBACKS);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_CALLBACKS), 0);
}

static void
an_unknown_app_or_counter_is_ignored(void **state)
{
	wecom_metrics_callback(m, 2, "text");
	wecom_metrics_inc(m, 99, WECOM_M_REPLIES);
	wecom_metrics_inc(m, 0, -1);
	wecom_metrics_inc(m, 0, 1000);
	wecom_metrics_gauge(m, 0, 99, 5);
	wecom_metrics_gauge(m, 5, WECOM_G_OUTBOX_DEPTH, 5);
	wecom_metrics_error(m, 2, -40001);
	wecom_metrics_api(m, 2, 0);
	assert_int_equal(wecom_metrics_get(m, 2, WECOM_M_CALLBACKS), 0);
	assert_int_equal(wecom_metrics_get(m, 0, 1000), 0);
	assert_int_equal(wecom_metrics_get_gauge(m, 0, 99), 0);
	assert_int_equal(count_lines("wecom_callbacks_total{"), 0);
	assert_int_equal(count_lines("wecom_replies_total{"), 2);
	assert_int_equal(count_lines("wecom_callback_errors_total{"), 0);
	assert_int_equal(count_lines("wecom_api_calls_total{"), 0);
}

static void
counts_errors_by_official_code(void **state)
{
	wecom_metrics_error(m, 0, -40001);
	wecom_metrics_error(m, 0, -40001);
	wecom_metrics_error(m, 0, -40011);
	wecom_metrics_error(m, 0, -40012);
	wecom_metrics_error(m, 0, -40000);
	wecom_metrics_error(m, 0, -1);
	assert_int_equal(wecom_metrics_get(m, 0, WECOM_M_ERRORS), 6);
	assert_true(has_line(
	    "wecom_callback_errors_total{app=\"echo\",code=\"-40001\"} 2"));
	assert_true(has_line(
	    "wecom_callback_errors_total{app=\"echo\",code=\"-40011\"} 1"));
	assert_true(has_line(
	    "wecom_callback_errors_total{app=\"echo\",code=\"other\"} 3"));
	assert_int_equal(count_lines("wecom_callback_errors_total{"), 3);
}

static void
counts_api_calls_by_errcode_then_other(void **state)
{
	long	i;

	wecom_metrics_api(m, 1, 0);
	wecom_metrics_api(m, 1, 0);
	wecom_metrics_api(m, 1, 42001);
	for (i = 0; i < 40; i++)
		wecom_metrics_api(m, 1, 60000 + i);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_API_CALLS), 43);
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"0\"} 2"));
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"42001\"} 1"));
	/* 32 slots: 0, 42001 and 30 of the 40; the last 10 are other. */
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"60029\"} 1"));
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"other\"} 10"));
	assert_int_equal(count_lines("wecom_api_calls_total{"),
	    WECOM_METRICS_API_MAX + 1);
	wecom_metrics_api(m, 1, 60039);
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"other\"} 11"));
}

static void
a_full_type_table_counts_as_other(void **state)
{
	char	type[WECOM_METRICS_TYPE_LEN + 8];
	int	i;

	for (i = 0; i < 70; i++) {
		snprintf(type, sizeof(type), "event:t%d", i);
		wecom_metrics_callback(m, 0, type);
	}
	assert_int_equal(count_lines("wecom_callbacks_total{app=\"echo\""),
	    WECOM_METRICS_TYPES_MAX + 1);
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"event:t63\"} 1"));
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"other\"} 6"));
	/* Known labels still count as themselves. */
	wecom_metrics_callback(m, 0, "event:t0");
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"event:t0\"} 2"));

	/* In another app, too long or no type at all is other. */
	memset(type, 'x', sizeof(type) - 1);
	type[WECOM_METRICS_TYPE_LEN] = '\0';
	wecom_metrics_callback(m, 1, type);
	wecom_metrics_callback(m, 1, NULL);
	type[WECOM_METRICS_TYPE_LEN - 1] = '\0';
	wecom_metrics_callback(m, 1, type);
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"monitor\",type=\"other\"} 2"));
	assert_int_equal(count_lines("wecom_callbacks_total{app=\"monitor\""),
	    2);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_CALLBACKS), 3);
}

static void
label_values_are_escaped(void **state)
{
	static const char *const odd[] = { "we\"com\\x\ny" };
	struct wecom_metrics	*om;
	char			*text;

	assert_non_null(om = wecom_metrics_new(odd, 1));
	wecom_metrics_callback(om, 0, "a\"b\\c\nd");
	assert_non_null(text = wecom_metrics_render(om, NULL));
	assert_non_null(strstr(text, "wecom_callbacks_total{app=\"we\\\"com"
	    "\\\\x\\ny\",type=\"a\\\"b\\\\c\\nd\"} 1\n"));
	assert_non_null(strstr(text,
	    "wecom_replies_total{app=\"we\\\"com\\\\x\\ny\"} 0\n"));
	free(text);
	wecom_metrics_free(om);
}

static void
gauges_hold_the_last_value(void **state)
{
	assert_int_equal(wecom_metrics_get_gauge(m, 0, WECOM_G_TOKEN_OK), -1);
	assert_true(has_line("wecom_token_ok{app=\"echo\"} -1"));
	wecom_metrics_gauge(m, 0, WECOM_G_TOKEN_OK, 1);
	wecom_metrics_gauge(m, 0, WECOM_G_OUTBOX_DEPTH, 17);
	wecom_metrics_gauge(m, 0, WECOM_G_OUTBOX_DEPTH, 5);
	wecom_metrics_gauge(m, 1, WECOM_G_OUTBOX_OLDEST_SECONDS, 120);
	assert_int_equal(wecom_metrics_get_gauge(m, 0, WECOM_G_TOKEN_OK), 1);
	assert_true(has_line("wecom_token_ok{app=\"echo\"} 1"));
	assert_true(has_line("wecom_token_ok{app=\"monitor\"} -1"));
	assert_true(has_line("wecom_outbox_depth{app=\"echo\"} 5"));
	assert_true(has_line(
	    "wecom_outbox_oldest_seconds{app=\"monitor\"} 120"));
}

/*
 * Every line is a HELP, a TYPE, or a sample of a family whose TYPE came
 * before; no series twice; the text ends with a newline.
 */
static void
the_exposition_parses(void **state)
{
	regex_t		 help, type, sample;
	regmatch_t	 mt[2];
	char		*text, *line, *next, *seen[512], families[4096];
	size_t		 nseen, i, len;
	int		 nsamples;

	wecom_metrics_callback(m, 0, "text");
	wecom_metrics_callback(m, 1, "event:change_contact");
	wecom_metrics_error(m, 0, -40005);
	wecom_metrics_error(m, 1, 7);
	wecom_metrics_api(m, 0, 0);
	wecom_metrics_api(m, 0, -1);
	wecom_metrics_gauge(m, 1, WECOM_G_OUTBOX_DEPTH, -3);

	assert_int_equal(regcomp(&help,
	    "^# HELP (wecom_[a-z_]+) [^\n]+$", REG_EXTENDED), 0);
	assert_int_equal(regcomp(&type,
	    "^# TYPE (wecom_[a-z_]+) (counter|gauge)$", REG_EXTENDED), 0);
	/* An app's series, or the host's (the push API's by result). */
	assert_int_equal(regcomp(&sample,
	    "^(wecom_[a-z_]+)\\{(app=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
	    "(,(type|code|errcode)=\"([^\"\\\\]|\\\\[\\\\\"n])*\")?"
	    "|result=\"[a-z]+\")\\} -?[0-9]+$", REG_EXTENDED), 0);

	assert_non_null(text = wecom_metrics_render(m, &len));
	assert_true(len > 0 && text[len - 1] == '\n');
	families[0] = '\0';
	nseen = 0;
	nsamples = 0;
	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		if (regexec(&help, line, 0, NULL, 0) == 0)
			continue;
		if (regexec(&type, line, 2, mt, 0) == 0) {
			line[mt[1].rm_eo] = '\0';
			strncat(families, " ", sizeof(families) -
			    strlen(families) - 1);
			strncat(families, line + mt[1].rm_so,
			    sizeof(families) - strlen(families) - 1);
			strncat(families, " ", sizeof(families) -
			    strlen(families) - 1);
			continue;
		}
		if (regexec(&sample, line, 2, mt, 0) != 0)
			fail_msg("line does not parse: '%s'", line);
		nsamples++;
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], line) == 0)
				fail_msg("series twice: '%s'", line);
		assert_true(nseen < sizeof(seen) / sizeof(seen[0]));
		seen[nseen++] = line;
		line[mt[1].rm_eo] = '\0';
		{
			char	want[128];

			snprintf(want, sizeof(want), " %s ", line);
			if (strstr(families, want) == NULL)
				fail_msg("no TYPE before %s", line);
		}
		line[mt[1].rm_eo] = '{';
	}
	/* 7 counters + 3 gauges for 2 apps, + 2 types, 2 codes, 2 api,
	 * and the push API's 4 results. */
	assert_int_equal(nsamples, 2 * 10 + 6 + WECOM_PUSH_NRESULTS);

	free(text);
	regfree(&help);
	regfree(&type);
	regfree(&sample);
}

/* Four workers count at once, each also adding the same new labels. */
#define WORKERS	4
#define ROUNDS	200000
#define LABELS	40

static void
forked_workers_add_up(void **state)
{
	char	type[32], c;
	pid_t	pid[WORKERS];
	int	gate[2], i, j, status;

	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < WORKERS; i++) {
		assert_true((pid[i] = fork()) != -1);
		if (pid[i] != 0)
			continue;
		/* Never outlive a failed test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* All start when the gate closes, to race for real. */
		close(gate[1]);
		if (read(gate[0], &c, 1) != 0)
			_exit(2);
		for (j = 0; j < ROUNDS; j++) {
			/* Half on one hot label, half on new ones. */
			if (j % 2)
				snprintf(type, sizeof(type), "text");
			else
				snprintf(type, sizeof(type), "event:e%d",
				    j / 2 % LABELS);
			wecom_metrics_callback(m, 0, type);
			wecom_metrics_inc(m, 1, WECOM_M_REPLIES);
			wecom_metrics_api(m, 1, j % 2);
		}
		_exit(0);
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	assert_int_equal(wecom_metrics_get(m, 0, WECOM_M_CALLBACKS),
	    WORKERS * ROUNDS);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_REPLIES),
	    WORKERS * ROUNDS);
	assert_int_equal(wecom_metrics_get(m, 1, WECOM_M_API_CALLS),
	    WORKERS * ROUNDS);
	/* Each label once, however many workers raced to add it. */
	assert_int_equal(count_lines("wecom_callbacks_total{app=\"echo\""),
	    LABELS + 1);
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"event:e7\"} 10000"));
	assert_true(has_line(
	    "wecom_callbacks_total{app=\"echo\",type=\"text\"} 400000"));
	assert_true(has_line(
	    "wecom_api_calls_total{app=\"monitor\",errcode=\"1\"} 400000"));
	assert_int_equal(count_lines("wecom_api_calls_total{"), 2);
}

static void
the_mapping_is_small(void **state)
{
	size_t	sz;

	sz = wecom_metrics_size(m);
	printf("# metrics for 2 apps: %zu bytes mapped\n", sz);
	assert_true(sz <= 64 * 1024);
	assert_null(wecom_metrics_new((const char *const []){ "a", NULL }, 2));
}

/* The recent past (metrics_recent.c): what /status shows. */

#define T0	((int64_t)1700000000 / 60 * 60)	/* a minute's start */

static void
the_last_hour_is_kept_minute_by_minute(void **state)
{
	uint32_t	h[WECOM_METRICS_MINUTES];
	int		i;

	for (i = 0; i < 5; i++)
		wecom_metrics_minute(m, 0, WECOM_H_CALLBACKS, T0 + 10);
	wecom_metrics_minute(m, 0, WECOM_H_CALLBACKS, T0 + 59);
	wecom_metrics_minute(m, 0, WECOM_H_CALLBACKS, T0 - 60);
	wecom_metrics_minute(m, 0, WECOM_H_ERRORS, T0 - 59 * 60);
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_CALLBACKS,
	    T0 + 30, h), 7);
	assert_int_equal(h[59], 6);
	assert_int_equal(h[58], 1);
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_ERRORS, T0, h), 1);
	assert_int_equal(h[0], 1);
	/* A minute later the oldest one is out of the hour. */
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_ERRORS, T0 + 60,
	    h), 0);
	/* The same slot, an hour on: the old count is replaced, not added. */
	wecom_metrics_minute(m, 0, WECOM_H_CALLBACKS, T0 + 3600);
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_CALLBACKS,
	    T0 + 3600, h), 1);
	assert_int_equal(h[59], 1);
	/* Other apps and series are apart; unknown ones are ignored. */
	assert_int_equal(wecom_metrics_history(m, 1, WECOM_H_CALLBACKS,
	    T0 + 3600, h), 0);
	wecom_metrics_minute(m, 2, WECOM_H_CALLBACKS, T0);
	wecom_metrics_minute(m, 0, WECOM_H_NSERIES, T0);
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_NSERIES, T0, h),
	    0);
	assert_int_equal(wecom_metrics_history(m, 5, WECOM_H_ERRORS, T0, h), 0);
}

static void
callbacks_replies_and_errors_count_in_their_minute(void **state)
{
	uint32_t	h[WECOM_METRICS_MINUTES];
	int64_t		now;

	now = time(NULL);
	wecom_metrics_callback(m, 1, "text");
	wecom_metrics_callback(m, 1, "event:click");
	wecom_metrics_inc(m, 1, WECOM_M_REPLIES);
	wecom_metrics_inc(m, 1, WECOM_M_DUPLICATES);
	wecom_metrics_error(m, 1, -40001);
	wecom_metrics_inc(m, 1, WECOM_M_STALE);
	/* Unless the minute just turned, all are in the last one. */
	assert_int_equal(wecom_metrics_history(m, 1, WECOM_H_CALLBACKS,
	    now + 60, h) , 2);
	assert_int_equal(wecom_metrics_history(m, 1, WECOM_H_REPLIES, now + 60,
	    h), 1);
	assert_int_equal(wecom_metrics_history(m, 1, WECOM_H_ERRORS, now + 60,
	    h), 2);
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_CALLBACKS,
	    now + 60, h), 0);
}

static void
a_check_is_read_whole_and_keeps_its_alert_count(void **state)
{
	struct wecom_metrics_check	c, got;

	assert_int_equal(wecom_metrics_check_get(m, 0, &got), 0);
	assert_int_equal(got.checked, 0);
	assert_int_equal(got.ok, -1);
	assert_int_equal(wecom_metrics_check_get(m, 7, &got), -1);
	assert_int_equal(got.ok, -1);

	memset(&c, 0, sizeof(c));
	c.checked = T0;
	c.since = T0 - 5;
	c.errcode = 40001;
	c.code = -1005;
	c.ok = 0;
	c.alerts = 99;			/* not the caller's to set */
	wecom_metrics_check_set(m, 0, &c);
	wecom_metrics_alerted(m, 0);
	wecom_metrics_alerted(m, 0);
	c.checked = T0 + 60;
	wecom_metrics_check_set(m, 0, &c);
	assert_int_equal(wecom_metrics_check_get(m, 0, &got), 0);
	assert_int_equal(got.checked, T0 + 60);
	assert_int_equal(got.since, T0 - 5);
	assert_int_equal(got.errcode, 40001);
	assert_int_equal(got.code, -1005);
	assert_int_equal(got.ok, 0);
	assert_int_equal(got.alerts, 2);
	wecom_metrics_alerted(m, 9);
	wecom_metrics_check_set(m, 9, &c);
}

static void
credentials_show_in_the_exposition_once_checked(void **state)
{
	struct wecom_metrics_check	c;

	assert_int_equal(count_lines("wecom_credential_ok{"), 0);
	assert_int_equal(count_lines("# TYPE wecom_credential_ok gauge"), 1);
	assert_int_equal(count_lines(
	    "# TYPE wecom_credential_alerts_total counter"), 1);
	memset(&c, 0, sizeof(c));
	c.checked = c.since = T0;
	c.ok = 1;
	wecom_metrics_check_set(m, 1, &c);
	assert_true(has_line("wecom_credential_ok{app=\"monitor\"} 1"));
	assert_true(has_line(
	    "wecom_credential_alerts_total{app=\"monitor\"} 0"));
	c.ok = 0;
	wecom_metrics_check_set(m, 1, &c);
	wecom_metrics_alerted(m, 1);
	assert_true(has_line("wecom_credential_ok{app=\"monitor\"} 0"));
	assert_true(has_line(
	    "wecom_credential_alerts_total{app=\"monitor\"} 1"));
	assert_int_equal(count_lines("wecom_credential_ok{app=\"echo\""), 0);
}

static void
the_outbox_is_the_last_drain_s(void **state)
{
	struct wecom_metrics_outbox	o, got;

	wecom_metrics_outbox_get(m, &got);
	assert_int_equal(got.checked, 0);
	o.checked = T0;
	o.queued = 3;
	o.failed = 2;
	o.oldest = 40;
	wecom_metrics_outbox_set(m, &o);
	wecom_metrics_outbox_get(m, &got);
	assert_memory_equal(&o, &got, sizeof(o));
}

static void
refusal(int64_t t, int status, const char *path, const char *why)
{
	struct wecom_metrics_refusal	r;

	memset(&r, 0, sizeof(r));
	r.time = t;
	r.status = status;
	snprintf(r.peer, sizeof(r.peer), "192.0.2.7 via 127.0.0.1");
	snprintf(r.method, sizeof(r.method), "POST");
	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.why, sizeof(r.why), "%s", why);
	wecom_metrics_refusal(m, &r);
}

static void
the_last_20_refusals_are_kept_newest_first(void **state)
{
	struct wecom_metrics_refusal	got[WECOM_METRICS_REFUSALS + 5];
	char				path[32];
	int				i;

	assert_int_equal(wecom_metrics_refusals(m, got, 25), 0);
	refusal(T0, 404, "/a", "no app at this path");
	assert_int_equal(wecom_metrics_refusals(m, got, 25), 1);
	assert_int_equal(got[0].time, T0);
	assert_int_equal(got[0].status, 404);
	assert_string_equal(got[0].peer, "192.0.2.7 via 127.0.0.1");
	assert_string_equal(got[0].method, "POST");
	assert_string_equal(got[0].path, "/a");
	assert_string_equal(got[0].why, "no app at this path");
	for (i = 0; i < 30; i++) {
		snprintf(path, sizeof(path), "/p%d", i);
		refusal(T0 + i, 403, path, "bad signature");
	}
	assert_int_equal(wecom_metrics_refusals(m, got, 25),
	    WECOM_METRICS_REFUSALS);
	for (i = 0; i < WECOM_METRICS_REFUSALS; i++) {
		snprintf(path, sizeof(path), "/p%d", 29 - i);
		assert_string_equal(got[i].path, path);
	}
	assert_int_equal(wecom_metrics_refusals(m, got, 3), 3);
	assert_string_equal(got[2].path, "/p27");
}

/* A long UTF-8 text is cut before the field's end, never inside a
 * character: 300 bytes of "一" (3 bytes each) into 160. */
static void
a_long_refusal_is_cut_between_characters(void **state)
{
	struct wecom_metrics_refusal	got[1];
	char				why[301];
	int				i;

	for (i = 0; i < 100; i++)
		memcpy(why + 3 * i, "\xe4\xb8\x80", 3);
	why[300] = '\0';
	refusal(T0, 400, "/x", why);
	assert_int_equal(wecom_metrics_refusals(m, got, 1), 1);
	assert_int_equal(strlen(got[0].why), 159 / 3 * 3);
	assert_memory_equal(got[0].why, why, strlen(got[0].why));
}

/*
 * Workers writing at once: minute counts add up exactly, and a refusal
 * read is never half one writer's and half another's (its path and its
 * why name the same writer and number).
 */
static void
forked_writers_never_mix_a_record(void **state)
{
	struct wecom_metrics_refusal	got[WECOM_METRICS_REFUSALS];
	uint32_t			h[WECOM_METRICS_MINUTES];
	char				path[64], why[64], c;
	pid_t				pid[WORKERS];
	size_t				n, k;
	int				gate[2], i, j, status;

	assert_int_equal(pipe(gate), 0);
	for (i = 0; i < WORKERS; i++) {
		assert_true((pid[i] = fork()) != -1);
		if (pid[i] != 0)
			continue;
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(gate[1]);
		if (read(gate[0], &c, 1) != 0)
			_exit(2);
		for (j = 0; j < 20000; j++) {
			wecom_metrics_minute(m, 0, WECOM_H_REPLIES, T0);
			snprintf(path, sizeof(path), "/w%d/%d", i, j);
			snprintf(why, sizeof(why), "writer %d, refusal %d", i, j);
			refusal(T0, 403, path, why);
		}
		_exit(0);
	}
	close(gate[0]);
	close(gate[1]);
	for (k = 0; k < 200; k++) {
		n = wecom_metrics_refusals(m, got, WECOM_METRICS_REFUSALS);
		while (n-- > 0) {
			assert_int_equal(sscanf(got[n].path, "/w%d/%d", &i, &j),
			    2);
			snprintf(why, sizeof(why), "writer %d, refusal %d", i, j);
			assert_string_equal(got[n].why, why);
		}
	}
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(wecom_metrics_history(m, 0, WECOM_H_REPLIES, T0, h),
	    WORKERS * 20000);
	/* A writer drops its refusal rather than wait: most are kept. */
	assert_int_equal(wecom_metrics_refusals(m, got,
	    WECOM_METRICS_REFUSALS), WECOM_METRICS_REFUSALS);
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(counts_callbacks_by_app_and_type),
		T(counts_each_counter_apart),
		T(an_unknown_app_or_counter_is_ignored),
		T(counts_errors_by_official_code),
		T(counts_api_calls_by_errcode_then_other),
		T(a_full_type_table_counts_as_other),
		T(label_values_are_escaped),
		T(gauges_hold_the_last_value),
		T(the_exposition_parses),
		T(forked_workers_add_up),
		T(the_mapping_is_small),
		T(the_last_hour_is_kept_minute_by_minute),
		T(callbacks_replies_and_errors_count_in_their_minute),
		T(a_check_is_read_whole_and_keeps_its_alert_count),
		T(credentials_show_in_the_exposition_once_checked),
		T(the_outbox_is_the_last_drain_s),
		T(the_last_20_refusals_are_kept_newest_first),
		T(a_long_refusal_is_cut_between_characters),
		T(forked_writers_never_mix_a_record),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
