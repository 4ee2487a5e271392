/* SPDX-License-Identifier: ISC */
/*
 * The contacts API without a server: names folded for matching, the
 * query string checked parameter by parameter, a key's apps, pages
 * walked forward and back (also across a change of the file), the
 * departments below one, and what is answered before any cache.
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

#include <jansson.h>

#include "wecom_config.h"
#include "wecom_push.h"
#include "wecom_push_contacts.h"

#define KEY_CRM		"crm-key-0123456789"
#define KEY_BOTH	"both-key-0123456789"
#define KEY_ANY		"any-key-0123456789"
#define KEY_SENDER	"sender-key-0123456789"
#define BASE		"http://h/api/v1/users"

struct fx {
	char			 dir[64];
	struct wecom_conf	 conf;
	struct wecom_apikey_list keys;
};

/* Seven members; departments 1 ← 2 ← 4, 1 ← 3, and a loop 5 ⇄ 6. */
static const char *const users_json =
    "{\"version\":1,\"app\":\"crm\",\"refreshed\":1,"
    "\"departments\":[{\"id\":1,\"parentid\":0},{\"id\":2,\"parentid\":1},"
    "{\"id\":3,\"parentid\":1},{\"id\":4,\"parentid\":2},"
    "{\"id\":5,\"parentid\":6},{\"id\":6,\"parentid\":5}],"
    "\"users\":[{\"userid\":\"a1\",\"name\":\"Zhang San\",\"department\":[2]},"
    "{\"userid\":\"a2\",\"name\":\"zhang san\",\"department\":[3]},"
    "{\"userid\":\"a3\",\"name\":\"王五\",\"department\":[4]},"
    "{\"userid\":\"a4\",\"name\":\"Иван\",\"department\":[3,4]},"
    "{\"userid\":\"a5\",\"name\":null,\"department\":[1]},"
    "{\"userid\":\"a6\",\"name\":\"x\",\"department\":[5]},"
    "{\"userid\":\"a7\",\"name\":\"y\",\"department\":[6]}]}";

static void
put(struct fx *f, const char *name, const char *text)
{
	char	path[128];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	assert_non_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
}

static int
setup(void **state)
{
	static struct fx	f;
	char			conf[4096], path[128], err[256];
	FILE			*fp;

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "/tmp/test_contacts.XXXXXX");
	if (mkdtemp(f.dir) == NULL)
		return (-1);
	snprintf(conf, sizeof(conf), "[global]\nstate_dir = %s\n"
	    "[app echo]\ncorpid = ww1\nagentid = 1\ntoken = QDG6eK\n"
	    "aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C\n"
	    "path = /wecom/echo\n"
	    "[app crm]\ncorpid = ww1\nagentid = 2\nsecret = s1\ncontacts = yes\n"
	    "[app ops]\ncorpid = ww1\nagentid = 3\nsecret = s2\ncontacts = yes\n"
	    "[apikey crm]\nkey = " KEY_CRM "\napps = crm\n"
	    "[apikey both]\nkey = " KEY_BOTH "\napps = echo, ops crm\n"
	    "[apikey any]\nkey = " KEY_ANY "\n"
	    "[apikey sender]\nkey = " KEY_SENDER "\napp = ops\n", f.dir);
	snprintf(path, sizeof(path), "%s/wecom.conf", f.dir);
	if ((fp = fopen(path, "w")) == NULL)
		return (-1);
	fputs(conf, fp);
	fclose(fp);
	if (wecom_conf_load(&f.conf, path, err, sizeof(err)) != WECOM_CONF_OK ||
	    wecom_apikeys_load(&f.keys, &f.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return (-1);
	}
	put(&f, "contacts-crm.json", users_json);
	*state = &f;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;
	char		 cmd[128];

	wecom_apikeys_free(&f->keys);
	wecom_conf_free(&f->conf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	return (system(cmd) == 0 ? 0 : -1);
}

static const struct wecom_apikey *
key(struct fx *f, const char *k)
{
	return (wecom_apikey_find(&f->keys, k));
}

/* The page for qs: its JSON, or NULL with *status set. */
static json_t *
page(struct fx *f, enum wecom_contacts_kind kind, const char *k,
    const char *qs, int *status, char *why, size_t whylen)
{
	struct wecom_contacts_query	 q;
	json_t				*o;
	char				*body;

	o = NULL;
	if ((*status = wecom_push_contacts_params(&q, kind, &f->conf,
	    key(f, k), qs, why, whylen)) == 0 &&
	    (*status = wecom_push_contacts_answer(&f->conf, &q, BASE, &body,
	    why, whylen)) == 200) {
		o = json_loads(body, 0, NULL);
		free(body);
	}
	wecom_push_contacts_clear(&q);
	return (o);
}

/* "a1 a2 …": the userids (or ids) of a page's results. */
static void
ids(json_t *o, char *out, size_t len)
{
	json_t	*x;
	size_t	 i, n;

	out[0] = '\0';
	json_array_foreach(json_object_get(o, "results"), i, x) {
		n = strlen(out);
		if (json_object_get(x, "userid") != NULL)
			snprintf(out + n, len - n, "%s%s", n ? " " : "",
			    json_string_value(json_object_get(x, "userid")));
		else
			snprintf(out + n, len - n, "%s%lld", n ? " " : "",
			    (long long)json_integer_value(json_object_get(x,
			    "id")));
	}
}

/* The query string of a link, for the next request. */
static const char *
link_qs(json_t *o, const char *which)
{
	const char	*s = json_string_value(json_object_get(o, which));

	assert_non_null(s);
	assert_memory_equal(s, BASE "?", strlen(BASE) + 1);
	return (s + strlen(BASE) + 1);
}

static void
test_names_fold_without_regard_to_case(void **state)
{
	static const char *const v[][2] = {
		{ "ZhAnG San", "zhang san" },
		{ "ИВАН Ёж", "иван ёж" },
		{ "ÀÉÎ×", "àéî×" },
		{ "ΑΩ", "αω" },
		{ "ＡＢｃ", "ａｂｃ" },
		{ "王五 Wang", "王五 wang" },
		{ "\xff\xfe" "A\xc3", "\xff\xfe" "a\xc3" },	/* not UTF-8 */
		{ "\xf0\x9f\x98\x80X", "\xf0\x9f\x98\x80x" },	/* emoji */
	};
	char	*s;
	size_t	 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = wecom_push_contacts_fold(v[i][0]);
		assert_string_equal(s, v[i][1]);
		free(s);
	}
}

static void
test_refusals_name_the_parameter(void **state)
{
	static const struct {
		enum wecom_contacts_kind	 kind;
		const char			*qs, *why;
		int				 status;
	} v[] = {
		{ WECOM_CONTACTS_USERS, "sort=name", "sort: no such", 400 },
		{ WECOM_CONTACTS_USERS, "parent=1", "parent: no such", 400 },
		{ WECOM_CONTACTS_DEPARTMENTS, "name=x", "name: no such", 400 },
		{ WECOM_CONTACTS_USERS, "limit=0", "limit: must be 1 to 500",
		    400 },
		{ WECOM_CONTACTS_USERS, "limit=501", "limit:", 400 },
		{ WECOM_CONTACTS_USERS, "limit=-1", "limit:", 400 },
		{ WECOM_CONTACTS_USERS, "department=2x", "department:", 400 },
		{ WECOM_CONTACTS_USERS, "cursor=%21", "cursor: not one", 400 },
		{ WECOM_CONTACTS_USERS, "cursor=YQ", "cursor:", 400 },
		{ WECOM_CONTACTS_USERS, "name", "name: needs a value", 400 },
		{ WECOM_CONTACTS_USERS, "name=a%00b", "name: needs", 400 },
		{ WECOM_CONTACTS_USERS, "app=ops", "app: this key may not", 403 },
		{ WECOM_CONTACTS_CHATS, "app=ops", "app: this key may not", 403 },
		{ WECOM_CONTACTS_USERS, "app=nosuch", "app: this key may not",
		    403 },
	};
	struct wecom_contacts_query	q;
	struct fx			*f = *state;
	char				why[256];
	size_t				i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		why[0] = '\0';
		assert_int_equal(wecom_push_contacts_params(&q, v[i].kind,
		    &f->conf, key(f, KEY_CRM), v[i].qs, why, sizeof(why)),
		    v[i].status);
		assert_memory_equal(why, v[i].why, strlen(v[i].why));
		wecom_push_contacts_clear(&q);
	}
	/* Any app for this key, but echo has no secret to fetch with. */
	assert_int_equal(wecom_push_contacts_params(&q, WECOM_CONTACTS_USERS,
	    &f->conf, key(f, KEY_ANY), "app=echo", why, sizeof(why)), 400);
	assert_string_equal(why, "app: no [app echo] with a secret "
	    "and contacts = yes");
	wecom_push_contacts_clear(&q);
}

static void
test_the_keys_first_app_by_default(void **state)
{
	static const char *const v[][2] = {
		{ KEY_CRM, "crm" },
		{ KEY_BOTH, "ops" },	/* echo first, but it has no secret */
		{ KEY_ANY, "crm" },	/* the file's first with a secret */
		{ KEY_SENDER, "ops" },	/* its default app */
	};
	struct wecom_contacts_query	q;
	struct fx			*f = *state;
	char				why[256];
	size_t				i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(wecom_push_contacts_params(&q,
		    WECOM_CONTACTS_USERS, &f->conf, key(f, v[i][0]), "",
		    why, sizeof(why)), 0);
		assert_string_equal(q.app, v[i][1]);
		wecom_push_contacts_clear(&q);
	}
}

static void
test_pages_forward_and_back(void **state)
{
	struct fx	*f = *state;
	json_t		*o, *p2, *p3;
	char		 why[256], got[256];
	int		 st;

	o = page(f, WECOM_CONTACTS_USERS, KEY_CRM, "limit=3", &st, why,
	    sizeof(why));
	assert_non_null(o);
	ids(o, got, sizeof(got));
	assert_string_equal(got, "a1 a2 a3");
	assert_int_equal(json_integer_value(json_object_get(o, "count")), 7);
	assert_true(json_is_null(json_object_get(o, "previous")));
	assert_string_equal(link_qs(o, "next"), "app=crm&limit=3&cursor=bmEz");
	p2 = page(f, WECOM_CONTACTS_USERS, KEY_CRM, link_qs(o, "next"), &st,
	    why, sizeof(why));
	ids(p2, got, sizeof(got));
	assert_string_equal(got, "a4 a5 a6");
	p3 = page(f, WECOM_CONTACTS_USERS, KEY_CRM, link_qs(p2, "next"), &st,
	    why, sizeof(why));
	ids(p3, got, sizeof(got));
	assert_string_equal(got, "a7");
	assert_true(json_is_null(json_object_get(p3, "next")));
	json_decref(o);
	/* Back from the last page. */
	o = page(f, WECOM_CONTACTS_USERS, KEY_CRM, link_qs(p3, "previous"),
	    &st, why, sizeof(why));
	ids(o, got, sizeof(got));
	assert_string_equal(got, "a4 a5 a6");
	json_decref(o);

	/* a3 and a4 leave between two pages: nothing repeated, none lost. */
	put(f, "contacts-crm.json", "{\"version\":1,\"users\":["
	    "{\"userid\":\"a1\"},{\"userid\":\"a2\"},{\"userid\":\"a5\"},"
	    "{\"userid\":\"a6\"},{\"userid\":\"a7\"},{\"userid\":\"a8\"}]}");
	o = page(f, WECOM_CONTACTS_USERS, KEY_CRM, link_qs(p2, "previous"),
	    &st, why, sizeof(why));
	ids(o, got, sizeof(got));
	assert_string_equal(got, "a1 a2");
	json_decref(o);
	o = page(f, WECOM_CONTACTS_USERS, KEY_CRM, link_qs(p2, "next"), &st,
	    why, sizeof(why));
	ids(o, got, sizeof(got));
	assert_string_equal(got, "a7 a8");
	json_decref(o);
	json_decref(p2);
	json_decref(p3);
	put(f, "contacts-crm.json", users_json);
}

static void
test_filters(void **state)
{
	static const struct {
		enum wecom_contacts_kind	 kind;
		const char			*qs, *ids;
	} v[] = {
		/* 2 and 4 below it; a member of 3 and 4 once. */
		{ WECOM_CONTACTS_USERS, "department=2", "a1 a3 a4" },
		{ WECOM_CONTACTS_USERS, "department=1", "a1 a2 a3 a4 a5" },
		{ WECOM_CONTACTS_USERS, "department=5", "a6 a7" },  /* a loop */
		{ WECOM_CONTACTS_USERS, "department=9", "" },
		{ WECOM_CONTACTS_USERS, "name=ZHANG+san", "a1 a2" },
		{ WECOM_CONTACTS_USERS, "name=%D0%B8%D0%B2", "a4" },  /* ив */
		{ WECOM_CONTACTS_USERS, "name=%E7%8E%8B", "a3" },     /* 王 */
		{ WECOM_CONTACTS_USERS, "name=", "a1 a2 a3 a4 a5 a6 a7" },
		{ WECOM_CONTACTS_USERS, "userid=A4", "a4" },
		{ WECOM_CONTACTS_USERS, "userid=a", "" },
		{ WECOM_CONTACTS_USERS, "department=3&name=zhang", "a2" },
		{ WECOM_CONTACTS_DEPARTMENTS, "", "1 2 3 4 5 6" },
		{ WECOM_CONTACTS_DEPARTMENTS, "parent=1", "2 3" },
		{ WECOM_CONTACTS_DEPARTMENTS, "parent=0", "1" },
	};
	struct fx	*f = *state;
	json_t		*o;
	char		 why[256], got[256];
	size_t		 i;
	int		 st;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		o = page(f, v[i].kind, KEY_CRM, v[i].qs, &st, why, sizeof(why));
		if (o == NULL)
			fail_msg("%s: %d %s", v[i].qs, st, why);
		ids(o, got, sizeof(got));
		if (strcmp(got, v[i].ids) != 0)
			fail_msg("%s: got \"%s\", not \"%s\"", v[i].qs, got,
			    v[i].ids);
		json_decref(o);
	}
}

static void
test_before_any_cache(void **state)
{
	struct fx	*f = *state;
	json_t		*o;
	char		 why[256], *s;
	int		 st;

	/* No chat made yet: an empty list. */
	o = page(f, WECOM_CONTACTS_CHATS, KEY_CRM, "", &st, why, sizeof(why));
	assert_non_null(o);
	s = json_dumps(o, JSON_COMPACT);
	assert_string_equal(s, "{\"count\":0,\"next\":null,"
	    "\"previous\":null,\"results\":[]}");
	free(s);
	json_decref(o);
	/* ops has no contacts file yet: 503, and why. */
	o = page(f, WECOM_CONTACTS_USERS, KEY_BOTH, "", &st, why, sizeof(why));
	assert_null(o);
	assert_int_equal(st, 503);
	assert_memory_equal(why, "the contacts of ops are not fetched yet",
	    39);
	/* A file that is no cache of ours. */
	put(f, "contacts-ops.json", "{\"version\":7}");
	o = page(f, WECOM_CONTACTS_USERS, KEY_BOTH, "", &st, why, sizeof(why));
	assert_null(o);
	assert_int_equal(st, 503);
	assert_non_null(strstr(why, "not a contacts cache of version 1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_fold_without_regard_to_case),
		cmocka_unit_test(test_refusals_name_the_parameter),
		cmocka_unit_test(test_the_keys_first_app_by_default),
		cmocka_unit_test(test_pages_forward_and_back),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_before_any_cache),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
