/* SPDX-License-Identifier: ISC */
/*
 * framework/conf/config_ini.c, config.c and config_schema.c: the INI
 * reader, env: and file: values, the checks on [global] and [app NAME],
 * the environment overrides, and the schema every key is checked by.
 * Every config file is written to a fresh mkdtemp directory.
 */

#include <sys/stat.h>

#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "wecom_config.h"
#include "wecom_conf_schema.h"

#define AESKEY	"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
#define AESKEY2	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

/* A complete [app NAME] section: six lines. */
#define APP(name, path)							\
	"[app " name "]\n"						\
	"corpid = ww0123456789abcdef\n"					\
	"agentid = 1000002\n"						\
	"token = QDG6eK\n"						\
	"aeskey = " AESKEY "\n"						\
	"path = " path "\n"

static char	dir[] = "/tmp/wecom-test-config-XXXXXX";
static char	conf_file[64];

static const char *const envvars[] = { "WECOM_API_BASE", "WECOM_CONF",
    "WECOM_TEST_SECRET", "WECOM_RETRY_ATTEMPTS", "WECOM_RETRY_BASE_MS",
    "WECOM_RETRY_MAX_MS", "WECOM_OUTBOX_MAX_AGE", "WECOM_OUTBOX_BATCH",
    "WECOM_OUTBOX_BACKOFF_MS", NULL };

/* Every number of the config and the values it may take. */
struct range {
	const char	*key;
	long long	 min, max;
};

static const struct range	global_ranges[] = {
	{ "connect_timeout_ms",	100,	600000 },
	{ "timeout_ms",		100,	600000 },
	{ "body_max",		4096,	64 * 1024 * 1024 },
	{ "timestamp_window",	0,	365 * 86400 },
	{ "handler_threads",	1,	256 },
	{ "handler_queue",	1,	65536 },
	{ "api_threads",	1,	64 },
	{ "dedupe_window",	0,	86400 },
	{ "dedupe_entries",	16,	1024 * 1024 },
	{ "retry_attempts",	1,	20 },
	{ "retry_base_ms",	1,	60000 },
	{ "retry_max_ms",	1,	600000 },
	{ "outbox_max_age",	1,	30 * 86400 },
	{ "outbox_batch",	1,	1000000 },
	{ "outbox_interval_ms",	100,	3600000 },
	{ "outbox_backoff_ms",	1,	3600000 },
	{ NULL,			0,	0 }
};

static const struct range	app_ranges[] = {
	{ "agentid",		0,	2147483647 },
	{ "deadline_ms",	100,	4500 },
	{ "timestamp_window",	0,	365 * 86400 },
	{ NULL,			0,	0 }
};

/* [app main] of six lines; a seventh line may follow. */
#define APP_MAIN							\
	"[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"		\
	"aeskey = " AESKEY "\npath = /cb\n"

/* Write text to a file under the temp dir; the path stays valid. */
static const char *
write_file(const char *name, const char *text, mode_t mode)
{
	static char	path[8][128];
	static int	next;
	char		*p;
	FILE		*fp;

	p = path[next++ % 8];
	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	unlink(p);
	assert_non_null(fp = fopen(p, "w"));
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(p, mode), 0);
	return (p);
}

static int
load(struct wecom_conf *conf, const char *text, char *err, size_t errlen)
{
	write_file("wecom.conf", text, 0644);
	err[0] = '\0';
	return (wecom_conf_load(conf, conf_file, err, errlen));
}

static void
assert_mentions(const char *err, const char *needle)
{
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

/*
 * Load text, expect a refusal whose message starts with file:line: and
 * mentions every further string; the conf is freed as a caller must.
 */
static void
refuses(const char *text, int line, ...)
{
	struct wecom_conf	 conf;
	char			 err[512], where[128];
	const char		*needle;
	va_list			 ap;
	int			 rc;

	/* Free first: a failed assertion leaves the function. */
	rc = load(&conf, text, err, sizeof(err));
	wecom_conf_free(&conf);
	if (rc != WECOM_CONF_ERROR)
		fail_msg("accepted a config it should refuse:\n%s", text);
	snprintf(where, sizeof(where), "%s:%d: ", conf_file, line);
	if (strncmp(err, where, strlen(where)) != 0)
		fail_msg("error \"%s\" does not start with \"%s\"", err, where);
	va_start(ap, line);
	while ((needle = va_arg(ap, const char *)) != NULL)
		assert_mentions(err, needle);
	va_end(ap);
}

static void
loads(struct wecom_conf *conf, const char *text)
{
	char	err[512];

	if (load(conf, text, err, sizeof(err)) != WECOM_CONF_OK) {
		wecom_conf_free(conf);
		fail_msg("refused a valid config: %s\n%s", err, text);
	}
}

static int
rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static int
setup_dir(void **state)
{
	if (mkdtemp(dir) == NULL)
		return (-1);
	snprintf(conf_file, sizeof(conf_file), "%s/wecom.conf", dir);
	return (0);
}

static int
teardown_dir(void **state)
{
	return (nftw(dir, rm, 8, FTW_DEPTH | FTW_PHYS));
}

/* The runner's environment must not leak into a test. */
static int
clean_env(void **state)
{
	int	i;

	for (i = 0; envvars[i] != NULL; i++)
		unsetenv(envvars[i]);
	return (0);
}

static void
reads_global_and_two_apps(void **state)
{
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*a, *b;
	const struct wecom_conf_section	*s;

	loads(&conf,
	    "# WeCom apps\n"
	    "; another comment\n"
	    "[global]\n"
	    "api_base = http://127.0.0.1:9999/cgi-bin/\n"
	    "state_dir = /tmp/wecom-state\n"
	    "connect_timeout_ms = 2000\n"
	    "timeout_ms = 9000\n"
	    "body_max = 65536\n"
	    "\n"
	    APP("main", "/wecom/main")
	    "secret = s3cr3t\n"
	    "\n"
	    "[app monitor]\n"
	    "  handler = echo  \n"
	    "corpid = \"wwfedcba9876543210\"\n"
	    "agentid = 42\n"
	    "token = tok2\n"
	    "aeskey = " AESKEY2 "\n"
	    "path = /wecom/monitor\n"
	    "[robot alerts]\n"
	    "key = abc\n");

	assert_string_equal(conf.file, conf_file);
	assert_string_equal(conf.api_base, "http://127.0.0.1:9999/cgi-bin/");
	assert_string_equal(conf.state_dir, "/tmp/wecom-state");
	assert_int_equal(conf.connect_timeout_ms, 2000);
	assert_int_equal(conf.timeout_ms, 9000);
	assert_int_equal(conf.body_max, 65536);

	a = TAILQ_FIRST(&conf.apps);
	assert_non_null(a);
	assert_ptr_equal(wecom_conf_app(&conf, "main"), a);
	assert_string_equal(a->name, "main");
	assert_string_equal(a->handler, "main");
	assert_string_equal(a->corpid, "ww0123456789abcdef");
	assert_int_equal(a->agentid, 1000002);
	assert_string_equal(a->token, "QDG6eK");
	assert_string_equal(a->aeskey, AESKEY);
	assert_string_equal(a->secret, "s3cr3t");
	assert_string_equal(a->path, "/wecom/main");
	assert_int_equal(a->section->line, 10);

	b = TAILQ_NEXT(a, list);
	assert_non_null(b);
	assert_ptr_equal(wecom_conf_app(&conf, "monitor"), b);
	assert_null(TAILQ_NEXT(b, list));
	assert_string_equal(b->handler, "echo");
	assert_string_equal(b->corpid, "wwfedcba9876543210");
	assert_int_equal(b->agentid, 42);
	assert_string_equal(b->token, "tok2");
	assert_string_equal(b->aeskey, AESKEY2);
	assert_null(b->secret);
	assert_string_equal(b->path, "/wecom/monitor");
	assert_null(wecom_conf_app(&conf, "nope"));

	/* Sections of other modules are kept for them. */
	s = wecom_conf_section(&conf, "robot", "alerts");
	assert_non_null(s);
	assert_string_equal(wecom_conf_get(s, "key"), "abc");
	assert_null(wecom_conf_get(s, "nope"));
	assert_null(wecom_conf_section(&conf, "robot", "other"));
	wecom_conf_free(&conf);
}

static void
defaults_without_a_global_section(void **state)
{
	struct wecom_conf	conf;

	loads(&conf, APP("main", "/cb"));
	assert_string_equal(conf.api_base, WECOM_API_BASE_DEFAULT);
	assert_string_equal(conf.state_dir, WECOM_STATE_DIR_DEFAULT);
	assert_int_equal(conf.connect_timeout_ms, 5000);
	assert_int_equal(conf.timeout_ms, 15000);
	assert_int_equal(conf.body_max, 256 * 1024);
	assert_null(wecom_conf_section(&conf, "global", ""));
	wecom_conf_free(&conf);
}

static void
reads_crlf_and_a_last_line_without_newline(void **state)
{
	struct wecom_conf	conf;

	loads(&conf, "[global]\r\nstate_dir = /srv/w\r\n[app main]\r\n"
	    "corpid = ww1\r\nagentid = 7\r\ntoken = t\r\n"
	    "aeskey = " AESKEY "\r\npath = /cb");
	assert_string_equal(conf.state_dir, "/srv/w");
	assert_string_equal(wecom_conf_app(&conf, "main")->path, "/cb");
	assert_int_equal(wecom_conf_app(&conf, "main")->agentid, 7);
	wecom_conf_free(&conf);
}

static void
names_file_line_and_key_of_each_missing_required_key(void **state)
{
	static const char *const keys[] = { "corpid", "agentid", "token",
	    "aeskey", "path" };
	static const char *const lines[] = { "corpid = ww1\n",
	    "agentid = 1000002\n", "token = QDG6eK\n",
	    "aeskey = " AESKEY "\n", "path = /cb\n" };
	char	text[1024], key[32];
	size_t	i, j, k;

	/* j == 0: the key is absent; j == 1: its value is empty. */
	for (i = 0; i < 5; i++) {
		for (j = 0; j < 2; j++) {
			/* The header of [app main] is on line 9. */
			snprintf(text, sizeof(text), "# apps\n\n"
			    APP("other", "/other") "[app main]\n");
			for (k = 0; k < 5; k++) {
				if (k != i)
					strncat(text, lines[k], sizeof(text) -
					    strlen(text) - 1);
				else if (j == 1)
					snprintf(text + strlen(text),
					    sizeof(text) - strlen(text),
					    "%s =\n", keys[k]);
			}
			snprintf(key, sizeof(key), "missing key '%s'", keys[i]);
			refuses(text, 9, "[app main]", key, NULL);
		}
	}
}

static void
names_minus_40004_for_a_bad_aeskey(void **state)
{
	refuses("[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"
	    "aeskey = " AESKEY "x\npath = /cb\n", 5, "[app main]",
	    "'aeskey'", "-40004", NULL);
	refuses("[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"
	    "path = /cb\naeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2+\n",
	    6, "'aeskey'", "-40004", NULL);
}

static void
refuses_a_duplicate_section(void **state)
{
	refuses(APP("main", "/a") "\n" APP("main", "/b"), 8,
	    "duplicate section", "main", NULL);
	refuses("[global]\n[global]\n", 2, "duplicate section", "global",
	    NULL);
}

static void
refuses_one_callback_path_for_two_apps(void **state)
{
	refuses(APP("main", "/wecom/cb") APP("monitor", "/wecom/cb"), 7,
	    "[app monitor]", "/wecom/cb", "already used by [app main]", NULL);
}

static void
refuses_a_key_outside_a_section(void **state)
{
	refuses("# first a comment\ntoken = abc\n" APP("main", "/cb"), 2,
	    "key outside a section", NULL);
}

static void
refuses_malformed_section_headers(void **state)
{
	refuses("[app main\ncorpid = ww1\n", 1, "malformed section header",
	    NULL);
	refuses("\n[app main] x\n", 2, "malformed section header", NULL);
	refuses("[]\n", 1, "empty section name", NULL);
	refuses("[ ]\n", 1, "empty section name", NULL);
	refuses("[app]\n", 1, "needs a name", "[app main]", NULL);
	refuses(APP("main", "/cb") "just a word\n", 7, "expected key = value",
	    NULL);
	refuses("[app main]\n= value\n", 2, "empty key", NULL);
}

static void
refuses_an_unknown_global_key(void **state)
{
	refuses("[global]\nstate_dir = /tmp\napi_bsae = http://x/\n"
	    APP("main", "/cb"), 3, "[global]", "unknown key 'api_bsae'", NULL);
}

static void
resolves_env_values_and_names_an_unset_variable(void **state)
{
	struct wecom_conf	 conf;
	const char		*text;

	text = APP("main", "/cb") "secret = env:WECOM_TEST_SECRET\n";
	setenv("WECOM_TEST_SECRET", "from-the-environment", 1);
	loads(&conf, text);
	assert_string_equal(wecom_conf_app(&conf, "main")->secret,
	    "from-the-environment");
	wecom_conf_free(&conf);

	/* Required keys may come from the environment too. */
	setenv("WECOM_TEST_SECRET", AESKEY2, 1);
	loads(&conf, "[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"
	    "aeskey = \"env:WECOM_TEST_SECRET\"\npath = /cb\n");
	assert_string_equal(wecom_conf_app(&conf, "main")->aeskey, AESKEY2);
	wecom_conf_free(&conf);

	unsetenv("WECOM_TEST_SECRET");
	refuses(text, 7, "'secret'", "WECOM_TEST_SECRET", "not set", NULL);
	setenv("WECOM_TEST_SECRET", "", 1);
	refuses(text, 7, "'secret'", "WECOM_TEST_SECRET", "not set", NULL);
}

static void
reads_a_secret_file_of_mode_0600(void **state)
{
	struct wecom_conf	 conf;
	const char		*secret;
	char			 text[512];

	secret = write_file("secret", "  the-corp-secret\n\n", 0600);
	snprintf(text, sizeof(text), APP("main", "/cb") "secret = file:%s\n",
	    secret);
	loads(&conf, text);
	assert_string_equal(wecom_conf_app(&conf, "main")->secret,
	    "the-corp-secret");
	wecom_conf_free(&conf);

	secret = write_file("token", "QDG6eK\n", 0400);
	snprintf(text, sizeof(text), "[app main]\ncorpid = ww1\nagentid = 1\n"
	    "token = file:%s\naeskey = " AESKEY "\npath = /cb\n", secret);
	loads(&conf, text);
	assert_string_equal(wecom_conf_app(&conf, "main")->token, "QDG6eK");
	wecom_conf_free(&conf);
}

static void
rejects_a_secret_file_readable_by_others(void **state)
{
	const char	*secret;
	char		 text[512];

	secret = write_file("secret", "the-corp-secret\n", 0644);
	snprintf(text, sizeof(text), APP("main", "/cb") "secret = file:%s\n",
	    secret);
	refuses(text, 7, "'secret'", secret, "readable by others",
	    "chmod 600", NULL);

	/* Group access is as bad. */
	write_file("secret", "the-corp-secret\n", 0640);
	refuses(text, 7, "'secret'", "chmod 600", NULL);
}

static void
names_a_missing_or_unreadable_secret_file(void **state)
{
	char	text[512], big[2048];

	snprintf(text, sizeof(text), APP("main", "/cb") "secret = file:%s/%s\n",
	    dir, "no-such-file");
	refuses(text, 7, "'secret'", "no-such-file", "cannot open", NULL);

	snprintf(text, sizeof(text), APP("main", "/cb") "secret = file:%s\n",
	    dir);
	refuses(text, 7, "'secret'", "not a regular file", NULL);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(text, sizeof(text), APP("main", "/cb") "secret = file:%s\n",
	    write_file("big", big, 0600));
	refuses(text, 7, "'secret'", "at most 1024 bytes", NULL);
}

static void
lets_wecom_api_base_override_the_file(void **state)
{
	struct wecom_conf	conf;

	setenv("WECOM_API_BASE", "http://127.0.0.1:8081/fake/", 1);
	loads(&conf, "[global]\napi_base = https://example.com/cgi-bin/\n"
	    APP("main", "/cb"));
	assert_string_equal(conf.api_base, "http://127.0.0.1:8081/fake/");
	wecom_conf_free(&conf);

	loads(&conf, APP("main", "/cb"));
	assert_string_equal(conf.api_base, "http://127.0.0.1:8081/fake/");
	wecom_conf_free(&conf);

	/* Empty means unset. */
	setenv("WECOM_API_BASE", "", 1);
	loads(&conf, APP("main", "/cb"));
	assert_string_equal(conf.api_base, WECOM_API_BASE_DEFAULT);
	wecom_conf_free(&conf);
}

/* The line named is the key's own, not its section's. */
static void
refuses_an_api_base_without_http(void **state)
{
	refuses("\n[global]\napi_base = qyapi.weixin.qq.com/cgi-bin/\n"
	    APP("main", "/cb"), 3, "'api_base'", "https://", NULL);
	refuses("[global]\napi_base = ftp://example.com/\n", 2, "'api_base'",
	    NULL);
}

/*
 * The value came from the environment, not from the line named: the
 * message must say so or the user edits the wrong thing.
 */
static void
names_wecom_api_base_when_the_override_is_bad(void **state)
{
	struct wecom_conf	conf;
	char			err[512];

	int			rc;

	setenv("WECOM_API_BASE", "qyapi.weixin.qq.com", 1);
	rc = load(&conf, "[global]\n"
	    "api_base = https://qyapi.weixin.qq.com/cgi-bin/\n"
	    APP("main", "/cb"), err, sizeof(err));
	wecom_conf_free(&conf);
	assert_int_equal(rc, WECOM_CONF_ERROR);
	assert_mentions(err, "'api_base'");
	assert_mentions(err, "WECOM_API_BASE");
}

static void
refuses_non_numeric_retry_and_outbox_settings(void **state)
{
	refuses("[global]\nretry_attempts = 3x\n", 2, "'retry_attempts'",
	    "whole number", NULL);
	refuses("[global]\noutbox_max_age = 0\n", 2, "'outbox_max_age'",
	    NULL);
}

static void
refuses_non_numeric_timeouts_and_agentid(void **state)
{
	refuses("[global]\ntimeout_ms = 10s\n", 2, "'timeout_ms'",
	    "whole number", NULL);
	refuses("[global]\ntimeout_ms =\n", 2, "'timeout_ms'", NULL);
	refuses("[global]\nconnect_timeout_ms = abc\n", 2,
	    "'connect_timeout_ms'", NULL);
	refuses("[global]\nconnect_timeout_ms = 50\n", 2,
	    "'connect_timeout_ms'", "from 100 to", NULL);
	refuses("[global]\nbody_max = 99999999999999999999999\n", 2,
	    "'body_max'", NULL);
	refuses("[app main]\ncorpid = ww1\nagentid = 10000x2\ntoken = t\n"
	    "aeskey = " AESKEY "\npath = /cb\n", 3, "'agentid'", NULL);
	refuses("[app main]\ncorpid = ww1\nagentid = -5\ntoken = t\n"
	    "aeskey = " AESKEY "\npath = /cb\n", 3, "'agentid'", NULL);
}

/* A [global] number as stored in its member of struct wecom_conf. */
static long long
global_value(const struct wecom_conf *conf, const char *key)
{
#define MEMBER(f)	{ #f, offsetof(struct wecom_conf, f) }
	static const struct {
		const char	*key;
		size_t		 off;
	} members[] = {
		MEMBER(connect_timeout_ms), MEMBER(timeout_ms),
		MEMBER(timestamp_window), MEMBER(handler_threads),
		MEMBER(handler_queue), MEMBER(api_threads),
		MEMBER(dedupe_window), MEMBER(dedupe_entries),
		MEMBER(retry_attempts), MEMBER(retry_base_ms),
		MEMBER(retry_max_ms), MEMBER(outbox_max_age),
		MEMBER(outbox_batch), MEMBER(outbox_interval_ms),
		MEMBER(outbox_backoff_ms),
	};
#undef MEMBER
	size_t	i;

	if (strcmp(key, "body_max") == 0)
		return ((long long)conf->body_max);
	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		if (strcmp(members[i].key, key) == 0)
			return (*(const long *)(const void *)
			    ((const char *)conf + members[i].off));
	fail_msg("no member for [global] %s", key);
	return (-1);
}

static long long
app_value(const struct wecom_app_conf *app, const char *key)
{
	if (strcmp(key, "agentid") == 0)
		return (app->agentid);
	if (strcmp(key, "deadline_ms") == 0)
		return (app->deadline_ms);
	if (strcmp(key, "timestamp_window") == 0)
		return (app->timestamp_window);
	fail_msg("no member for [app] %s", key);
	return (-1);
}

/* min - 1 and max + 1 are refused, naming the line, key and bounds. */
static void
refuses_out_of_range(const char *head, int line, const char *section,
    const struct range *r)
{
	char	text[512], key[64], bounds[64];
	int	i;

	snprintf(key, sizeof(key), "key '%s'", r->key);
	snprintf(bounds, sizeof(bounds), "from %lld to %lld", r->min, r->max);
	for (i = 0; i < 2; i++) {
		snprintf(text, sizeof(text), "%s%s = %lld\n", head, r->key,
		    i == 0 ? r->min - 1 : r->max + 1);
		refuses(text, line, section, key, bounds, NULL);
	}
}

static void
refuses_every_global_number_just_outside_its_range(void **state)
{
	const struct range	*r;

	for (r = global_ranges; r->key != NULL; r++)
		refuses_out_of_range("[global]\n", 2, "[global]", r);
}

static void
accepts_every_global_number_at_its_bounds(void **state)
{
	struct wecom_conf	 conf;
	const struct range	*r;
	char			 text[512];
	long long		 v, got;
	int			 i;

	for (r = global_ranges; r->key != NULL; r++) {
		for (i = 0; i < 2; i++) {
			v = i == 0 ? r->min : r->max;
			snprintf(text, sizeof(text), "[global]\n%s = %lld\n",
			    r->key, v);
			loads(&conf, text);
			got = global_value(&conf, r->key);
			wecom_conf_free(&conf);
			if (got != v)
				fail_msg("%s = %lld came back as %lld", r->key,
				    v, got);
		}
	}
}

static void
refuses_every_app_number_just_outside_its_range(void **state)
{
	const struct range	*r;

	/* The last agentid counts: line 7 replaces line 3. */
	for (r = app_ranges; r->key != NULL; r++)
		refuses_out_of_range(APP_MAIN, 7, "[app main]", r);
}

static void
accepts_every_app_number_at_its_bounds(void **state)
{
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*app;
	const struct range		*r;
	char				 text[512];
	long long			 v, got;
	int				 i;

	for (r = app_ranges; r->key != NULL; r++) {
		for (i = 0; i < 2; i++) {
			v = i == 0 ? r->min : r->max;
			snprintf(text, sizeof(text), APP_MAIN "%s = %lld\n",
			    r->key, v);
			loads(&conf, text);
			app = wecom_conf_app(&conf, "main");
			got = app ? app_value(app, r->key) : -1;
			wecom_conf_free(&conf);
			if (got != v)
				fail_msg("[app] %s = %lld came back as %lld",
				    r->key, v, got);
		}
	}
}

/* What a user saw: 50 became 4, and 50 ms became 1000. */
static void
refuses_retry_attempts_50_and_outbox_interval_ms_50(void **state)
{
	struct wecom_conf	conf;
	char			err[512], want[256];
	int			rc;

	rc = load(&conf, "[global]\nretry_attempts = 50\n", err, sizeof(err));
	wecom_conf_free(&conf);
	assert_int_equal(rc, WECOM_CONF_ERROR);
	snprintf(want, sizeof(want), "%s:2: [global]: key 'retry_attempts' "
	    "must be a whole number from 1 to 20", conf_file);
	assert_string_equal(err, want);

	refuses("[global]\nstate_dir = /tmp\n\noutbox_interval_ms = 50\n", 4,
	    "[global]", "key 'outbox_interval_ms'", "from 100 to 3600000",
	    NULL);
}

static void
defaults_every_number(void **state)
{
	static const struct {
		const char	*key;
		long long	 def;
	} defs[] = {
		{ "connect_timeout_ms", 5000 }, { "timeout_ms", 15000 },
		{ "body_max", 262144 }, { "timestamp_window", 300 },
		{ "handler_threads", 4 }, { "handler_queue", 256 },
		{ "api_threads", 2 }, { "dedupe_window", 60 },
		{ "dedupe_entries", 512 }, { "retry_attempts", 4 },
		{ "retry_base_ms", 250 }, { "retry_max_ms", 30000 },
		{ "outbox_max_age", 14400 }, { "outbox_batch", 200 },
		{ "outbox_interval_ms", 1000 }, { "outbox_backoff_ms", 30000 },
	};
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*app;
	long long			 got;
	size_t				 i;

	loads(&conf, APP_MAIN);
	for (i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		got = global_value(&conf, defs[i].key);
		if (got != defs[i].def) {
			wecom_conf_free(&conf);
			fail_msg("%s: default %lld, not %lld", defs[i].key,
			    got, defs[i].def);
		}
	}
	app = wecom_conf_app(&conf, "main");
	assert_non_null(app);
	assert_int_equal(app->deadline_ms, 3000);
	assert_int_equal(app->timestamp_window, 300);
	assert_int_equal(app->threaded, 0);
	wecom_conf_free(&conf);

	/* An app's timestamp_window defaults to the [global] one. */
	loads(&conf, "[global]\ntimestamp_window = 0\n" APP_MAIN
	    "threaded = yes\n");
	app = wecom_conf_app(&conf, "main");
	assert_non_null(app);
	assert_int_equal(app->timestamp_window, 0);
	assert_int_equal(app->threaded, 1);
	wecom_conf_free(&conf);
}

static void
refuses_numbers_in_other_notations(void **state)
{
	static const char *const bad[] = { "+5", "5 ms", "0x10", "1e3",
	    "\" 5\"", "-", "5.0", "" };
	char	text[128];
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[global]\n\nretry_attempts = %s\n",
		    bad[i]);
		refuses(text, 3, "key 'retry_attempts'", "whole number", NULL);
	}
}

/*
 * WECOM_RETRY_* and WECOM_OUTBOX_* override the file and are checked
 * like it: the message names the variable, not only the key.
 */
static void
checks_the_environment_overrides_like_the_file(void **state)
{
	struct wecom_conf	conf;

	setenv("WECOM_RETRY_ATTEMPTS", "3", 1);
	loads(&conf, "[global]\nretry_attempts = 5\n");
	assert_int_equal(conf.retry_attempts, 3);
	wecom_conf_free(&conf);

	setenv("WECOM_RETRY_ATTEMPTS", "21", 1);
	refuses("[global]\nretry_attempts = 5\n", 2, "key 'retry_attempts'",
	    "WECOM_RETRY_ATTEMPTS", "from 1 to 20", NULL);
	unsetenv("WECOM_RETRY_ATTEMPTS");

	setenv("WECOM_OUTBOX_BACKOFF_MS", "0", 1);
	refuses("[global]\nstate_dir = /tmp\n", 1, "key 'outbox_backoff_ms'",
	    "WECOM_OUTBOX_BACKOFF_MS", "from 1 to 3600000", NULL);
	setenv("WECOM_OUTBOX_BATCH", "7", 1);
	setenv("WECOM_OUTBOX_BACKOFF_MS", "200", 1);
	loads(&conf, APP_MAIN);
	assert_int_equal(conf.outbox_batch, 7);
	assert_int_equal(conf.outbox_backoff_ms, 200);
	wecom_conf_free(&conf);
}

static void
refuses_a_threaded_that_is_not_yes_or_no(void **state)
{
	refuses(APP_MAIN "threaded = true\n", 7, "[app main]",
	    "key 'threaded'", "yes or no", NULL);
}

static void
refuses_bad_token_and_path(void **state)
{
	refuses("[app main]\ncorpid = ww1\nagentid = 1\ntoken = a b\n"
	    "aeskey = " AESKEY "\npath = /cb\n", 4, "'token'", NULL);
	refuses("[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"
	    "aeskey = " AESKEY "\npath = cb\n", 6, "'path'", NULL);
	refuses("[app main]\ncorpid = ww1\nagentid = 1\ntoken = t\n"
	    "aeskey = " AESKEY "\npath = /cb?x=1\n", 6, "'path'", NULL);
}

static void
names_a_file_it_cannot_open(void **state)
{
	struct wecom_conf	conf;
	char			err[512], path[128];

	int			rc;

	snprintf(path, sizeof(path), "%s/absent.conf", dir);
	rc = wecom_conf_load(&conf, path, err, sizeof(err));
	wecom_conf_free(&conf);
	assert_int_equal(rc, WECOM_CONF_ERROR);
	assert_mentions(err, path);
	assert_mentions(err, "cannot open");
}

static void
takes_the_config_path_from_wecom_conf(void **state)
{
	assert_string_equal(wecom_conf_path(), WECOM_CONF_DEFAULT);
	setenv("WECOM_CONF", "/etc/wecom/other.conf", 1);
	assert_string_equal(wecom_conf_path(), "/etc/wecom/other.conf");
	setenv("WECOM_CONF", "", 1);
	assert_string_equal(wecom_conf_path(), WECOM_CONF_DEFAULT);
}

/* "key = value  # why", as in sh; quoted or without a blank, kept. */
static void
ends_a_value_at_a_comment_after_a_blank(void **state)
{
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*app;
	char				 err[512];
	int				 rc;

	rc = load(&conf, "[global]\nretry_attempts = 3   # fewer\n"
	    "[app alerts]\ncorpid = ww1\t# the corp\nagentid = 5\n"
	    "secret = s3#cret\nsnap = \"cam # 1\"\nshell = a ; b\n", err,
	    sizeof(err));
	app = wecom_conf_app(&conf, "alerts");
	if (rc != WECOM_CONF_OK || app == NULL) {
		wecom_conf_free(&conf);
		fail_msg("%s", err);
	}
	assert_int_equal(conf.retry_attempts, 3);
	assert_string_equal(app->corpid, "ww1");
	assert_string_equal(app->secret, "s3#cret");
	assert_string_equal(wecom_conf_get(app->section, "snap"), "cam # 1");
	assert_string_equal(wecom_conf_get(app->section, "shell"), "a ; b");
	wecom_conf_free(&conf);
}

static void
accepts_a_send_only_app_without_callback_keys(void **state)
{
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*app;
	char				 err[512];
	int				 rc;

	rc = load(&conf, "[global]\nretry_attempts = 3\n[app alerts]\n"
	    "corpid = ww1\nagentid = 5\nsecret = s3cret\n", err, sizeof(err));
	app = wecom_conf_app(&conf, "alerts");
	if (rc != WECOM_CONF_OK || app == NULL) {
		wecom_conf_free(&conf);
		fail_msg("%s", err);
	}
	assert_null(app->path);
	assert_null(app->token);
	assert_string_equal(app->secret, "s3cret");
	wecom_conf_free(&conf);

	/* One callback key asks for all three. */
	refuses("[app alerts]\ncorpid = ww1\nagentid = 5\nsecret = s\n"
	    "path = /a\n", 1, "'token'", NULL);
}

/*
 * A value for each key the schema gives no default, in the form the
 * schema asks for. Named sections are all called "main".
 */
static const struct {
	const char	*section, *key, *value;
} samples[] = {
	{ "global",	"watch_robot",		"main" },
	{ "global",	"watch_app",		"main" },
	{ "global",	"watch_to",		"zhangsan|lisi" },
	{ "global",	"store",	"postgresql://wecom@127.0.0.1:5432/wecom" },
	{ "app",	"corpid",		"ww0123456789abcdef" },
	{ "app",	"agentid",		"1000002" },
	{ "app",	"secret",		"s3cr3t" },
	{ "app",	"token",		"QDG6eK" },
	{ "app",	"aeskey",		AESKEY },
	{ "app",	"path",			"/wecom/main" },
	{ "app",	"handler",		"echo" },
	{ "app",	"receiveid",		"ww0123456789abcdef" },
	{ "app",	"timestamp_window",	"300" },
	{ "apikey",	"key",			"0123456789abcdef" },
	{ "apikey",	"app",			"main" },
	{ "apikey",	"to",			"zhangsan|lisi" },
	{ "apikey",	"toparty",		"1|2" },
	{ "apikey",	"totag",		"3" },
	{ "apikey",	"chat",			"chat1" },
	{ "apikey",	"robot",		"main" },
	{ "apikey",	"apps",			"main" },
	{ "apikey",	"robots",		"main" },
	{ "relay",	"key",			"relay-key-0123456789" },
	{ "relay",	"allow",		"10.0.0.0/8, ::1" },
	{ "relay",	"corpids",		"ww0123456789abcdef" },
	{ "robot",	"key",			"robot-key-1" },
	{ "aibot",	"handler",		"echo" },
	{ "aibot",	"bot_id",		"aibFAKEBOT0001" },
	{ "aibot",	"secret",		"bot-secret-1" },
	{ "aibot",	"token",		"QDG6eK" },
	{ "aibot",	"aeskey",		AESKEY },
	{ "aibot",	"path",			"/bot/main" },
	{ "aibot",	"receiveid",		"aibFAKEBOT0001" },
	{ "aibot",	"threaded",		"no" },
	{ "aibot",	"timestamp_window",	"300" },
};

/* k's default as written, or else its sample; NULL: neither. */
static const char *
written(const struct conf_key *k)
{
	size_t	i;

	if (k->def != NULL)
		return (k->def);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(samples[i].section, k->section) == 0 &&
		    strcmp(samples[i].key, k->key) == 0)
			return (samples[i].value);
	return (NULL);
}

/* Every section of the schema, with every key it has, into text. */
static void
write_every_key(char *text, size_t len)
{
	const struct conf_sect	*t;
	const struct conf_key	*k;
	size_t			 n;

	for (k = wecom_conf_keys; k->key != NULL; k++) {
		if (wecom_conf_sect_find(k->section) == NULL)
			fail_msg("key %s of [%s]: no such section in the "
			    "schema", k->key, k->section);
		if (written(k) == NULL)
			fail_msg("[%s] %s: no default and no sample value here",
			    k->section, k->key);
	}
	n = 0;
	text[0] = '\0';
	for (t = wecom_conf_sects; t->type != NULL; t++) {
		n += snprintf(text + n, len - n, t->name != NULL ?
		    "[%s main]\n" : "[%s]\n", t->type);
		for (k = wecom_conf_keys; k->key != NULL; k++)
			if (strcmp(k->section, t->type) == 0)
				n += snprintf(text + n, len - n, "%s = %s\n",
				    k->key, written(k));
		assert_true(n < len);
	}
}

/* 0 if k's member of struct wecom_conf is the same in a and b. */
static int
member_cmp(const struct wecom_conf *a, const struct wecom_conf *b,
    const struct conf_key *k)
{
	const char	*pa = (const char *)a + k->off;
	const char	*pb = (const char *)b + k->off;

	switch (k->store) {
	case CONF_STR:
		return (strcmp(*(const char *const *)(const void *)pa,
		    *(const char *const *)(const void *)pb));
	case CONF_SIZE:
		return (*(const size_t *)(const void *)pa !=
		    *(const size_t *)(const void *)pb);
	case CONF_LONG:
		return (*(const long *)(const void *)pa !=
		    *(const long *)(const void *)pb);
	default:
		return (0);
	}
}

/*
 * The schema's defaults are values the loader takes, and the values it
 * takes when the key is left out: the README's table cannot promise a
 * default the server refuses or does not use.
 */
static void
accepts_every_key_of_the_schema_with_its_default_written_out(void **state)
{
	struct wecom_conf		 full, bare;
	const struct wecom_app_conf	*app;
	const struct conf_key		*k;
	char				 text[8192];

	write_every_key(text, sizeof(text));
	loads(&full, text);
	loads(&bare, APP_MAIN);
	for (k = wecom_conf_keys; k->key != NULL; k++) {
		if (k->store == CONF_KEEP || k->def == NULL ||
		    member_cmp(&full, &bare, k) == 0)
			continue;
		wecom_conf_free(&full);
		wecom_conf_free(&bare);
		fail_msg("[global] %s = %s is not what leaving it out gives",
		    k->key, k->def);
	}
	app = wecom_conf_app(&full, "main");
	assert_non_null(app);
	assert_string_equal(app->handler, "echo");
	assert_int_equal(app->threaded, 0);
	assert_int_equal(app->deadline_ms, 3000);
	assert_non_null(wecom_conf_section(&full, "relay", ""));
	assert_string_equal(wecom_conf_get(wecom_conf_section(&full, "robot",
	    "main"), "key"), "robot-key-1");
	wecom_conf_free(&full);
	wecom_conf_free(&bare);
}

static void
fills_every_global_string_from_the_schema(void **state)
{
	struct wecom_conf	conf;

	loads(&conf, APP_MAIN);
	assert_string_equal(conf.api_base, WECOM_API_BASE_DEFAULT);
	assert_string_equal(conf.state_dir, WECOM_STATE_DIR_DEFAULT);
	assert_string_equal(conf.ca_file, WECOM_CA_FILE_DEFAULT);
	assert_string_equal(conf.metrics_path, "/metrics");
	assert_string_equal(conf.healthz_path, "/healthz");
	assert_string_equal(conf.metrics_allow, "127.0.0.1/32,::1/128");
	wecom_conf_free(&conf);

	loads(&conf, "[global]\nmetrics_path = /m\nca_file = /etc/ca.pem\n");
	assert_string_equal(conf.metrics_path, "/m");
	assert_string_equal(conf.ca_file, "/etc/ca.pem");
	wecom_conf_free(&conf);

	refuses("[global]\nmetrics_path = metrics\n", 2, "[global]",
	    "key 'metrics_path'", "must be /", NULL);
	refuses("[global]\n\nhealthz_path = /h?x=1\n", 3, "'healthz_path'",
	    NULL);
}

static void
refuses_unknown_keys_but_an_apps_own(void **state)
{
	struct wecom_conf		 conf;
	const struct wecom_app_conf	*app;

	refuses("[relay]\nkey = relay-key-0123456789\nalow = 10.0.0.0/8\n",
	    3, "[relay]", "unknown key 'alow'", NULL);
	refuses("[robot ops]\nkye = robot-key-1\n", 2, "[robot ops]",
	    "unknown key 'kye'", NULL);
	refuses("[apikey grafana]\nkey = 0123456789abcdef\ncolour = red\n", 3,
	    "[apikey grafana]", "unknown key 'colour'", NULL);

	/* apps/echo.c reads "greeting": free keys are the app's. */
	loads(&conf, APP_MAIN "greeting = hello\ncapture_dir = /tmp\n");
	app = wecom_conf_app(&conf, "main");
	assert_non_null(app);
	assert_string_equal(wecom_conf_get(app->section, "greeting"), "hello");
	wecom_conf_free(&conf);
}

static void
refuses_an_unknown_section_and_a_name_where_none_is_taken(void **state)
{
	refuses(APP_MAIN "\n[aap echo]\ncorpid = ww1\n", 8,
	    "unknown section [aap]", "--conf-keys", NULL);
	refuses("[global main]\nstate_dir = /tmp\n", 1,
	    "section [global] takes no name", NULL);
	refuses("[relay x]\n", 1, "section [relay] takes no name", NULL);
	refuses("[robot]\nkey = robot-key-1\n", 1, "needs a name",
	    "[robot main]", NULL);
}

/* What `wecom-send --conf-keys` prints: a row per key of the schema. */
static void
prints_a_markdown_row_for_every_key(void **state)
{
	static const char	 head[] = "| section | key | type | default | "
	    "range | env | meaning |\n| --- |";
	const struct conf_key	*k;
	const struct conf_sect	*t;
	char			*text, row[128];
	size_t			 len;
	FILE			*fp;

	assert_non_null(fp = open_memstream(&text, &len));
	assert_int_equal(wecom_conf_keys_markdown(fp), 0);
	assert_int_equal(fclose(fp), 0);
	if (strncmp(text, head, strlen(head)) != 0) {
		free(text);
		fail_msg("the table does not start with its header");
	}
	for (k = wecom_conf_keys; k->key != NULL; k++) {
		t = wecom_conf_sect_find(k->section);
		snprintf(row, sizeof(row), "\n| `[%s%s%s]` | `%s` | ",
		    k->section, t->name ? " " : "", t->name ? t->name : "",
		    k->key);
		if (strstr(text, row) == NULL) {
			free(text);
			fail_msg("no row \"%s\"", row + 1);
		}
	}
	assert_non_null(strstr(text, "`[global]` | `retry_attempts` | number "
	    "| `4` | 1–20 | `WECOM_RETRY_ATTEMPTS` |"));
	assert_non_null(strstr(text, "UserIDs joined by \\| |"));
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(reads_global_and_two_apps, clean_env),
		cmocka_unit_test_setup(defaults_without_a_global_section,
		    clean_env),
		cmocka_unit_test_setup(
		    reads_crlf_and_a_last_line_without_newline, clean_env),
		cmocka_unit_test_setup(
		    names_file_line_and_key_of_each_missing_required_key,
		    clean_env),
		cmocka_unit_test_setup(names_minus_40004_for_a_bad_aeskey,
		    clean_env),
		cmocka_unit_test_setup(refuses_a_duplicate_section, clean_env),
		cmocka_unit_test_setup(refuses_one_callback_path_for_two_apps,
		    clean_env),
		cmocka_unit_test_setup(refuses_a_key_outside_a_section,
		    clean_env),
		cmocka_unit_test_setup(refuses_malformed_section_headers,
		    clean_env),
		cmocka_unit_test_setup(refuses_an_unknown_global_key,
		    clean_env),
		cmocka_unit_test_setup(
		    resolves_env_values_and_names_an_unset_variable, clean_env),
		cmocka_unit_test_setup(reads_a_secret_file_of_mode_0600,
		    clean_env),
		cmocka_unit_test_setup(rejects_a_secret_file_readable_by_others,
		    clean_env),
		cmocka_unit_test_setup(
		    names_a_missing_or_unreadable_secret_file, clean_env),
		cmocka_unit_test_setup(lets_wecom_api_base_override_the_file,
		    clean_env),
		cmocka_unit_test_setup(refuses_an_api_base_without_http,
		    clean_env),
		cmocka_unit_test_setup(
		    names_wecom_api_base_when_the_override_is_bad, clean_env),
		cmocka_unit_test_setup(refuses_non_numeric_timeouts_and_agentid,
		    clean_env),
		cmocka_unit_test_setup(
		    refuses_non_numeric_retry_and_outbox_settings, clean_env),
		cmocka_unit_test_setup(
		    refuses_every_global_number_just_outside_its_range,
		    clean_env),
		cmocka_unit_test_setup(
		    accepts_every_global_number_at_its_bounds, clean_env),
		cmocka_unit_test_setup(
		    refuses_every_app_number_just_outside_its_range, clean_env),
		cmocka_unit_test_setup(accepts_every_app_number_at_its_bounds,
		    clean_env),
		cmocka_unit_test_setup(
		    refuses_retry_attempts_50_and_outbox_interval_ms_50,
		    clean_env),
		cmocka_unit_test_setup(defaults_every_number, clean_env),
		cmocka_unit_test_setup(refuses_numbers_in_other_notations,
		    clean_env),
		cmocka_unit_test_setup(
		    checks_the_environment_overrides_like_the_file, clean_env),
		cmocka_unit_test_setup(refuses_a_threaded_that_is_not_yes_or_no,
		    clean_env),
		cmocka_unit_test_setup(refuses_bad_token_and_path, clean_env),
		cmocka_unit_test_setup(
		    accepts_a_send_only_app_without_callback_keys, clean_env),
		cmocka_unit_test_setup(
		    ends_a_value_at_a_comment_after_a_blank, clean_env),
		cmocka_unit_test_setup(names_a_file_it_cannot_open, clean_env),
		cmocka_unit_test_setup(takes_the_config_path_from_wecom_conf,
		    clean_env),
		cmocka_unit_test_setup(
		    accepts_every_key_of_the_schema_with_its_default_written_out,
		    clean_env),
		cmocka_unit_test_setup(fills_every_global_string_from_the_schema,
		    clean_env),
		cmocka_unit_test_setup(refuses_unknown_keys_but_an_apps_own,
		    clean_env),
		cmocka_unit_test_setup(
		    refuses_an_unknown_section_and_a_name_where_none_is_taken,
		    clean_env),
		cmocka_unit_test_setup(prints_a_markdown_row_for_every_key,
		    clean_env),
	};

	return (cmocka_run_group_tests_name("config", tests, setup_dir,
	    teardown_dir));
}
