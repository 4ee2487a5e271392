/*
 * The push API's rules without a server: [apikey] sections checked at
 * load, keys found by their hash only, recipients from the request or
 * the key's defaults, scopes, and refusals that name the field.
 */

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
#include "wecom_push.h"

#define WIDE	"wide-key-0123456789"
#define NARROW	"narrow-key-0123456789"
#define BOT	"robot-key-0123456789"
#define JUST_X	"{\"content\":\"x\"}"

#define KEYS \
	"[app ops]\ncorpid = ww1\nagentid = 1\nsecret = s1\n" \
	"[app other]\ncorpid = ww1\nagentid = 2\nsecret = s2\n" \
	"[robot oncall]\nkey = robot-1\n" \
	"[robot noisy]\nkey = robot-2\n" \
	"[apikey wide]\nkey = wide-key-0123456789\nto = zhangsan\n" \
	"[apikey narrow]\nkey = narrow-key-0123456789\napp = other\n" \
	"apps = other\nrobots = oncall\ntoparty = 2\n" \
	"[apikey bot]\nkey = robot-key-0123456789\nrobot = oncall\n"

struct fx {
	struct wecom_conf	 conf;
	struct wecom_apikey_list keys;
	struct wecom_push	 p;
};

static int
load(struct fx *f, const char *text, char *err, size_t errlen)
{
	char	path[] = "/tmp/test_push.XXXXXX";
	int	fd, rc;

	if ((fd = mkstemp(path)) == -1 || write(fd, text, strlen(text)) !=
	    (ssize_t)strlen(text))
		return (-1);
	close(fd);
	rc = wecom_conf_load(&f->conf, path, err, errlen);
	unlink(path);
	if (rc != WECOM_CONF_OK)
		return (-1);
	return (wecom_apikeys_load(&f->keys, &f->conf, err, errlen));
}

static int
setup(void **state)
{
	static struct fx	f;
	char			err[256];

	memset(&f, 0, sizeof(f));
	if (load(&f, KEYS, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (-1);
	}
	*state = &f;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	wecom_push_clear(&f->p);
	wecom_apikeys_free(&f->keys);
	wecom_conf_free(&f->conf);
	return (0);
}

static const struct wecom_apikey *
key(struct fx *f, const char *k)
{
	return (wecom_apikey_find(&f->keys, k));
}

/* A JSON request with the key given by value. */
static int
send_json(struct fx *f, const char *k, const char *body)
{
	wecom_push_clear(&f->p);
	return (wecom_push_json(&f->p, &f->conf, key(f, k), body,
	    strlen(body)));
}

static void
test_keys_found_by_value_only(void **state)
{
	struct fx	*f = *state;

	assert_string_equal(key(f, WIDE)->name, "wide");
	assert_string_equal(key(f, NARROW)->name, "narrow");
	assert_null(key(f, "wide-key-012345678"));
	assert_null(key(f, "wide-key-01234567890"));
	assert_null(key(f, ""));
	assert_null(key(f, NULL));
}

static void
test_bad_sections_refused(void **state)
{
	static const char *const bad[][2] = {
		{ "[apikey a]\nkey = short\n", "16 characters" },
		{ "[apikey a]\nkey = long-enough-key-0123\nrobot = none\n",
		    "[robot none]" },
		{ "[apikey a]\nkey = long-enough-key-0123\napps = ops, x\n",
		    "[app x]" },
		{ "[apikey a]\nkey = long-enough-key-0123\ncolour = red\n",
		    "unknown key 'colour'" },
	};
	struct fx	 f;
	char		 text[1024], err[256];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&f, 0, sizeof(f));
		snprintf(text, sizeof(text), "[app ops]\ncorpid = ww1\n"
		    "agentid = 1\nsecret = s\n%s", bad[i][0]);
		err[0] = '\0';
		assert_int_equal(load(&f, text, err, sizeof(err)), -1);
		assert_non_null(strstr(err, bad[i][1]));
		wecom_conf_free(&f.conf);
	}
}

static void
test_defaults_and_request(void **state)
{
	struct fx	*f = *state;
	char		 q[] = "to=lisi%7Cwangwu&content=a+b%21";

	assert_int_equal(send_json(f, WIDE, JUST_X), 0);
	assert_string_equal(f->p.to.app, "ops");
	assert_string_equal(f->p.to.to.touser, "zhangsan");
	wecom_push_clear(&f->p);

	assert_int_equal(wecom_push_form(&f->p, &f->conf,
	    key(f, WIDE), q, NULL), 0);
	assert_string_equal(f->p.to.to.touser, "lisi|wangwu");
	wecom_push_clear(&f->p);

	/* A key's robot, unless the request names an app. */
	assert_int_equal(send_json(f, BOT, JUST_X), 0);
	assert_string_equal(f->p.to.robot, "oncall");
	assert_null(f->p.to.app);
	assert_int_equal(send_json(f, BOT,
	    "{\"content\":\"x\",\"app\":\"ops\",\"to\":\"a\"}"), 0);
	assert_null(f->p.to.robot);
	assert_string_equal(f->p.to.app, "ops");
	wecom_push_clear(&f->p);
}

static void
test_scope(void **state)
{
	struct fx	*f = *state;

	assert_int_equal(send_json(f, NARROW, JUST_X), 0);
	assert_string_equal(f->p.to.app, "other");
	assert_string_equal(f->p.to.to.toparty, "2");
	wecom_push_clear(&f->p);
	assert_int_equal(send_json(f, NARROW,
	    "{\"content\":\"x\",\"app\":\"ops\",\"to\":\"a\"}"), 403);
	assert_non_null(strstr(f->p.why, "app: ops"));
	wecom_push_clear(&f->p);
	assert_int_equal(send_json(f, NARROW,
	    "{\"content\":\"x\",\"robot\":\"noisy\"}"), 403);
	assert_non_null(strstr(f->p.why, "robot: noisy"));
	wecom_push_clear(&f->p);
}

static void
test_refusals_name_the_field(void **state)
{
	static const char *const bad[][2] = {
		{ "[]", "body:" },
		{ "{\"to\":\"a\"}", "content: missing" },
		{ "{\"content\":\"x\",\"to\":[1]}", "to:" },
		{ "{\"content\":\"x\",\"id\":\"a b\"}", "id:" },
		{ "{\"msgtype\":\"news\",\"news\":5}", "news: expected an object" },
		{ "{\"content\":\"x\",\"content\":\"y\"}", "body:" },
	};
	struct fx	*f = *state;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(wecom_push_json(&f->p, &f->conf,
		    key(f, WIDE), bad[i][0],
		    strlen(bad[i][0])), 400);
		if (strstr(f->p.why, bad[i][1]) == NULL)
			fail_msg("%s: %s", bad[i][0], f->p.why);
		wecom_push_clear(&f->p);
	}
}

static void
test_form_decoding(void **state)
{
	struct fx	*f = *state;
	char		 twice[] = "content=a&content=b";
	char		 nul[] = "content=a%00b";
	char		*v;

	assert_int_equal(wecom_push_form(&f->p, &f->conf,
	    key(f, WIDE), twice, NULL), 400);
	assert_non_null(strstr(f->p.why, "content: given twice"));
	wecom_push_clear(&f->p);
	assert_int_equal(wecom_push_form(&f->p, &f->conf,
	    key(f, WIDE), nul, NULL), 400);
	wecom_push_clear(&f->p);

	v = wecom_form_get("a=1&key=x+y%2Bz&b=2", "key");
	assert_string_equal(v, "x y+z");
	free(v);
	assert_null(wecom_form_get("keys=1&akey=2", "key"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_found_by_value_only),
		cmocka_unit_test(test_bad_sections_refused),
		cmocka_unit_test(test_defaults_and_request),
		cmocka_unit_test(test_scope),
		cmocka_unit_test(test_refusals_name_the_field),
		cmocka_unit_test(test_form_decoding),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
