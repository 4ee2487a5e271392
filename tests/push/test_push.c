/* SPDX-License-Identifier: ISC */
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

#include <sys/socket.h>

#include "wecom_config.h"
#include "wecom_netlist.h"
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
	"[apikey bot]\nkey = robot-key-0123456789\nrobot = oncall\n" \
	"[apikey team]\nkey = team-key-0123456789\nto = a\n" \
	"[apikey team-ops]\nkey = team-ops-key-0123456789\nto = a\n" \
	"[apikey monitoring-team-alpha]\nkey = alpha-key-0123456789\n" \
	"to = a\n" \
	"[apikey monitoring-team-alpha2]\nkey = alpha2-key-0123456789\n" \
	"to = a\n"

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

/* The outbox key a request with this key and id gets. */
static void
outbox_key(struct fx *f, const char *k, const char *id, char *out)
{
	char	body[128];

	snprintf(body, sizeof(body), "{\"content\":\"x\",\"id\":\"%s\"}", id);
	assert_int_equal(send_json(f, k, body), 0);
	assert_true(strlen(f->p.id) > 0 && strlen(f->p.id) <=
	    WECOM_OUTBOX_KEY_MAX);
	assert_int_equal(f->p.id[strspn(f->p.id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-")], '\0');
	assert_int_not_equal(f->p.id[0], '.');
	snprintf(out, WECOM_OUTBOX_KEY_MAX + 1, "%s", f->p.id);
	wecom_push_clear(&f->p);
}

static void
test_two_keys_never_share_an_outbox_key(void **state)
{
	struct fx	*f = *state;
	char		 a[WECOM_OUTBOX_KEY_MAX + 1];
	char		 b[WECOM_OUTBOX_KEY_MAX + 1];

	outbox_key(f, "team-key-0123456789", "ops-42", a);
	outbox_key(f, "team-ops-key-0123456789", "42", b);
	assert_string_not_equal(a, b);
	/* Names alike in their first 20 characters. */
	outbox_key(f, "alpha-key-0123456789", "x", a);
	outbox_key(f, "alpha2-key-0123456789", "x", b);
	assert_string_not_equal(a, b);
	/* The same key and id: the same message. */
	outbox_key(f, "alpha-key-0123456789", "x", b);
	assert_string_equal(a, b);
}

/* {"content": "x", field: …}: n names "u0", "u1" … as a list or "a|b". */
static char *
recipients(const char *field, size_t n, int list)
{
	char	*s;
	size_t	 i, len, off;

	len = n * 16 + 64;
	if ((s = malloc(len)) == NULL)
		return (NULL);
	off = snprintf(s, len, "{\"content\":\"x\",\"%s\":%s", field,
	    list ? "[" : "\"");
	for (i = 0; i < n && off < len; i++)
		off += snprintf(s + off, len - off, list ? "%s\"u%zu\"" :
		    "%su%zu", i == 0 ? "" : list ? "," : "|", i);
	if (off < len)
		off += snprintf(s + off, len - off, list ? "]}" : "\"}");
	assert_true(off < len);

	return (s);
}

/* The answer to a request with n recipients in field. */
static int
send_many(struct fx *f, const char *field, size_t n, int list)
{
	char	*body;
	int	 rc;

	body = recipients(field, n, list);
	assert_non_null(body);
	rc = send_json(f, WIDE, body);
	free(body);

	return (rc);
}

static void
test_recipients_within_wecom_limits(void **state)
{
	struct fx	*f = *state;

	/* u0 … u999: 3890 characters and 999 bars. */
	assert_int_equal(send_many(f, "to", 1000, 1), 0);
	assert_int_equal(strlen(f->p.to.to.touser), 3890 + 999);
	assert_int_equal(send_many(f, "to", 1001, 1), 400);
	assert_non_null(strstr(f->p.why, "to: more than 1000"));
	assert_int_equal(send_many(f, "to", 1001, 0), 400);
	assert_non_null(strstr(f->p.why, "to: more than 1000"));
	assert_int_equal(send_many(f, "toparty", 100, 0), 0);
	assert_int_equal(send_many(f, "toparty", 101, 0), 400);
	assert_non_null(strstr(f->p.why, "toparty: more than 100"));
	assert_int_equal(send_many(f, "totag", 101, 0), 400);
	assert_non_null(strstr(f->p.why, "totag: more than 100"));
	/* Over 256 KiB of names: answered, and refused for the count. */
	assert_int_equal(send_many(f, "to", 32000, 1), 400);
	assert_non_null(strstr(f->p.why, "to: more than 1000"));
	wecom_push_clear(&f->p);
}

/* Whether list parses, and the prefix length of its first network. */
static int
net(const char *list)
{
	struct wecom_netlist	nl;

	if (wecom_netlist_parse(&nl, list) != 0)
		return (-1);
	return (nl.n > 0 ? nl.net[0].bits : -2);
}

static void
test_netlists_strictly_parsed(void **state)
{
	static const char *const bad[] = {
		"10.0.0.0/", "10.0.0.0/33", "10.0.0.0/ 8", "10.0.0.0/8x",
		"10.0.0.0/+8", "10.0.0.0/-1", "10.0.0.0/8/8", "::1/129",
		"::1/", "10.0.0.0/4294967304", "10.0.0.0/0x8", "/8", "10.0.0/8",
		"127.0.0.1, 10.0.0.0/",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (net(bad[i]) != -1)
			fail_msg("'%s' parsed", bad[i]);
	assert_int_equal(net("10.0.0.0/8"), 8);
	assert_int_equal(net("10.1.2.3"), 32);
	assert_int_equal(net("0.0.0.0/0"), 0);
	assert_int_equal(net("192.168.1.0/24, ::1"), 24);
	assert_int_equal(net("::1"), 128);
	assert_int_equal(net("fd00::/8"), 8);
	assert_int_equal(net("::/128"), 128);
	assert_int_equal(net(""), -2);
}

static void
test_netlist_errors_name_the_line_and_entry(void **state)
{
	struct fx		 f;
	struct wecom_netlist	 nl;
	char			 err[256];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(load(&f, "[relay]\nkey = relay-key-0123456789\n"
	    "allow = 127.0.0.1\nallow = 127.0.0.1 10.0.0.0/\n", err,
	    sizeof(err)), 0);
	assert_int_equal(wecom_netlist_conf(&nl, wecom_conf_section(&f.conf,
	    "relay", ""), "allow", "", err, sizeof(err)), WECOM_CONF_ERROR);
	assert_string_equal(err, "line 4: [relay] allow: '10.0.0.0/': not an "
	    "address or a network like 10.0.0.0/8 or fd00::/8");
	assert_int_equal(nl.n, 0);
	assert_int_equal(wecom_netlist_conf(&nl, NULL, "allow", "::1/128",
	    err, sizeof(err)), WECOM_CONF_OK);
	assert_int_equal(nl.n, 1);
	wecom_apikeys_free(&f.keys);
	wecom_conf_free(&f.conf);
}

static void
test_netlist_matches(void **state)
{
	struct wecom_netlist	nl;
	unsigned char		a[4] = { 10, 1, 2, 3 }, b[4] = { 11, 0, 0, 1 };

	(void)state;
	assert_int_equal(wecom_netlist_parse(&nl, "10.0.0.0/8"), 0);
	assert_true(wecom_netlist_match(&nl, AF_INET, a));
	assert_false(wecom_netlist_match(&nl, AF_INET, b));
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
		cmocka_unit_test(test_two_keys_never_share_an_outbox_key),
		cmocka_unit_test(test_recipients_within_wecom_limits),
		cmocka_unit_test(test_netlists_strictly_parsed),
		cmocka_unit_test(test_netlist_errors_name_the_line_and_entry),
		cmocka_unit_test(test_netlist_matches),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
