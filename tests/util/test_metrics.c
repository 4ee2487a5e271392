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
	assert_int_equal(regcomp(&sample,
	    "^(wecom_[a-z_]+)\\{app=\"([^\"\\\\]|\\\\[\\\\\"n])*\""
	    "(,(type|code|errcode)=\"([^\"\\\\]|\\\\[\\\\\"n])*\")?\\} "
	    "-?[0-9]+$", REG_EXTENDED), 0);

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
	/* 7 counters + 3 gauges for 2 apps, + 2 types, 2 codes, 2 api. */
	assert_int_equal(nsamples, 2 * 10 + 6);

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
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
