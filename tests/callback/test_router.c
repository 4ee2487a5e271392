/* SPDX-License-Identifier: ISC */
/*
 * Router, replies and the callback pipeline, without HTTP: handler
 * order, WECOM_STOP, defaults, EventKey filters, every reply type (as
 * passive XML and as the late message sent from the same record), and
 * Tencent's sample POST answered end to end.
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

#include <libxml/parser.h>

#include "wecom_crypto.h"
#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_msg.h"
#include "wecom_reply.h"
#include "wecom_xml.h"
#include "client_private.h"	/* the JSON a message would send */

#define CORPID	"wx5823bf96d3bd56c7"

static char	trace[256];

static int
tracer(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	const char	*name = arg;

	strncat(trace, name, sizeof(trace) - strlen(trace) - 1);
	if (strchr(name, '!') != NULL)
		return (WECOM_STOP);
	return (WECOM_NEXT);
}

struct fixture {
	struct wecom_conf	 conf;
	struct wecom_app_list	 apps;
	struct wecom_app	*app;
	struct wecom_xml	*x;
};

static int
router_init(struct wecom_app *app)
{
	return (WECOM_OK);
}

WECOM_APP("router-test", router_init);

static int
setup(void **state)
{
	struct fixture	*f;
	char		 path[] = "/tmp/wecom-router-XXXXXX", err[256];
	FILE		*fp;
	int		 fd;

	f = calloc(1, sizeof(*f));
	fd = mkstemp(path);
	fp = fdopen(fd, "w");
	fprintf(fp, "[app t]\nhandler = router-test\ncorpid = %s\n"
	    "agentid = 1\ntoken = QDG6eK\naeskey = jWmYm7qr5nMoAUwZRjGtBxmz3"
	    "KA1tkAj3ykkR6q2B2C\npath = /t\n", CORPID);
	fclose(fp);
	if (wecom_conf_load(&f->conf, path, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	unlink(path);
	if (wecom_apps_setup(&f->apps, &f->conf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	f->app = TAILQ_FIRST(&f->apps);
	f->x = wecom_xml_new();
	*state = f;
	trace[0] = '\0';
	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	wecom_apps_free(&f->apps);
	wecom_conf_free(&f->conf);
	wecom_xml_free(f->x);
	free(f);
	return (0);
}

/* Route one plaintext message; ctx holds what the handlers replied. */
static void
route_ctx(struct fixture *f, const char *xml, struct wecom_ctx *ctx)
{
	struct wecom_msg	msg;

	assert_int_equal(wecom_xml_parse(f->x, xml, strlen(xml)), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, f->x), WECOM_OK);
	memset(ctx, 0, sizeof(*ctx));
	ctx->app = f->app;
	ctx->msg = &msg;
	trace[0] = '\0';
	wecom_route_run(ctx);
	ctx->msg = NULL;
}

/* Route one plaintext message; returns the reply XML or NULL. */
static char *
route(struct fixture *f, const char *xml)
{
	struct wecom_ctx	ctx;
	char			*reply;

	route_ctx(f, xml, &ctx);
	reply = ctx.reply;
	ctx.reply = NULL;
	wecom_ctx_reset(&ctx);
	return (reply);
}

#define TEXT(c)	"<xml><ToUserName>" CORPID "</ToUserName><FromUserName>bob" \
	"</FromUserName><MsgType>text</MsgType><Content>" c "</Content></xml>"
#define EVENT(e, k) "<xml><ToUserName>" CORPID "</ToUserName><FromUserName>" \
	"bob</FromUserName><MsgType>event</MsgType><Event>" e "</Event>" \
	"<EventKey>" k "</EventKey></xml>"

static void
runs_handlers_in_registration_order(void **state)
{
	struct fixture	*f = *state;

	wecom_on_msg(f->app, "text", tracer, "a");
	wecom_on_event(f->app, "click", NULL, tracer, "x");
	wecom_on_msg(f->app, "text", tracer, "b");
	wecom_on_default(f->app, tracer, "d");
	wecom_on_msg(f->app, "text", tracer, "c");
	free(route(f, TEXT("hi")));
	assert_string_equal(trace, "abc");
}

static void
stops_the_chain_on_wecom_stop(void **state)
{
	struct fixture	*f = *state;

	wecom_on_msg(f->app, "text", tracer, "a");
	wecom_on_msg(f->app, "text", tracer, "b!");
	wecom_on_msg(f->app, "text", tracer, "c");
	free(route(f, TEXT("hi")));
	assert_string_equal(trace, "ab!");
}

static void
runs_defaults_only_when_nothing_matched(void **state)
{
	struct fixture	*f = *state;

	wecom_on_msg(f->app, "image", tracer, "i");
	wecom_on_default(f->app, tracer, "d1");
	wecom_on_default(f->app, tracer, "d2");
	free(route(f, TEXT("hi")));
	assert_string_equal(trace, "d1d2");
}

static void
filters_events_by_name_and_key(void **state)
{
	struct fixture	*f = *state;

	wecom_on_event(f->app, "click", "photo", tracer, "P");
	wecom_on_event(f->app, "CLICK", NULL, tracer, "C");
	wecom_on_event(f->app, "view", NULL, tracer, "V");
	wecom_on_msg(f->app, "click", tracer, "M");
	free(route(f, EVENT("click", "photo")));
	assert_string_equal(trace, "PC");
	free(route(f, EVENT("click", "status")));
	assert_string_equal(trace, "C");
	free(route(f, EVENT("view", "https://x")));
	assert_string_equal(trace, "V");
}

static void
refuses_bad_registrations(void **state)
{
	struct fixture	*f = *state;

	assert_int_equal(wecom_on_msg(f->app, NULL, tracer, NULL), WECOM_ERROR);
	assert_int_equal(wecom_on_msg(f->app, "event", tracer, NULL),
	    WECOM_ERROR);
	assert_int_equal(wecom_on_msg(f->app, "text", NULL, NULL), WECOM_ERROR);
	assert_int_equal(wecom_on_event(f->app, NULL, NULL, tracer, NULL),
	    WECOM_ERROR);
}

/* What a command's stderr may hold, and what the member should see. */
#define R	"\xef\xbf\xbd"
#define BYTES_IN	"a\x01" "b\xff" "c\xc3(" "d\xe2\x82" "x\xed\xa0\x80" \
	"e\xef\xbf\xbf" "f\xf4\x90\x80\x80" "g\xc0\xaf" "h\t\n\x1b[0m" \
	"\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 ]]> \x7f" "z\xe4\xb8"
#define BYTES_OUT	"a" R "b" R "c" R "(d" R "x" R R R "e" R "f" R R R R \
	"g" R R "h\t\n" R "[0m\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80 ]]> \x7f" "z" R

static int
reply_all(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	static const struct wecom_article a[9] = { { "T<1>", "D", "U", "P" } };
	const char	*c = msg->content;

	if (strcmp(c, "text") == 0) {
		assert_int_equal(wecom_reply_text(ctx, "a ]]> b & <c>"), 0);
		assert_int_equal(wecom_reply_text(ctx, "again"),
		    WECOM_ERR_REPLIED);
	} else if (strcmp(c, "image") == 0)
		wecom_reply_image(ctx, "M1");
	else if (strcmp(c, "voice") == 0)
		wecom_reply_voice(ctx, "M2");
	else if (strcmp(c, "video") == 0)
		wecom_reply_video(ctx, "M3", "T", NULL);
	else if (strcmp(c, "news") == 0) {
		assert_int_equal(wecom_reply_news(ctx, a, 9),
		    WECOM_ERR_TOO_MANY);
		assert_int_equal(wecom_reply_news(ctx, a, 0),
		    WECOM_ERR_TOO_MANY);
		assert_int_equal(wecom_reply_news(ctx, a, 2), WECOM_OK);
	} else if (strcmp(c, "button") == 0)
		wecom_reply_update_button(ctx, "Done");
	else if (strcmp(c, "bytes") == 0)
		wecom_reply_text(ctx, BYTES_IN);
	return (WECOM_NEXT);
}

static void
builds_every_reply_type(void **state)
{
	struct fixture	*f = *state;
	struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ TEXT("text"), "<MsgType><![CDATA[text]]></MsgType><Content>"
		    "<![CDATA[a ]]]]><![CDATA[> b & <c>]]></Content>" },
		{ TEXT("image"), "<Image><MediaId><![CDATA[M1]]></MediaId>"
		    "</Image>" },
		{ TEXT("voice"), "<Voice><MediaId><![CDATA[M2]]></MediaId>" },
		{ TEXT("video"), "<Video><MediaId><![CDATA[M3]]></MediaId><Title>"
		    "<![CDATA[T]]></Title><Description><![CDATA[]]>" },
		{ TEXT("news"), "<ArticleCount>2</ArticleCount><Articles><item>"
		    "<Title><![CDATA[T<1>]]></Title>" },
		{ TEXT("button"), "<MsgType><![CDATA[update_button]]></MsgType>"
		    "<Button><ReplaceName><![CDATA[Done]]></ReplaceName>" },
	};
	char	*r;
	size_t	 i;

	wecom_on_msg(f->app, "text", reply_all, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = route(f, cases[i].in);
		assert_non_null(r);
		if (strstr(r, cases[i].want) == NULL)
			fail_msg("%s\nlacks %s", r, cases[i].want);
		assert_non_null(strstr(r, "<ToUserName><![CDATA[bob]]>"));
		assert_non_null(strstr(r, "<FromUserName><![CDATA[" CORPID));
		free(r);
	}
	assert_null(route(f, TEXT("nothing")));
}

/*
 * WeCom refuses a reply that is not well-formed: libxml2 and our own
 * parser must both read the member's text back.
 */
static void
makes_any_bytes_well_formed_xml(void **state)
{
	struct fixture	*f = *state;
	xmlDocPtr	 doc;
	xmlNodePtr	 n;
	xmlChar		*text;
	char		*r;

	wecom_on_msg(f->app, "text", reply_all, NULL);
	r = route(f, TEXT("bytes"));
	assert_non_null(r);
	doc = xmlReadMemory(r, (int)strlen(r), NULL, "UTF-8", XML_PARSE_NONET |
	    XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL)
		fail_msg("libxml2 refuses the reply: %s", r);
	for (n = xmlDocGetRootElement(doc)->children; n != NULL; n = n->next)
		if (xmlStrcmp(n->name, BAD_CAST "Content") == 0)
			break;
	assert_non_null(n);
	text = xmlNodeGetContent(n);
	assert_string_equal((const char *)text, BYTES_OUT);
	xmlFree(text);
	xmlFreeDoc(doc);

	assert_int_equal(wecom_xml_parse(f->x, r, strlen(r)), WECOM_OK);
	assert_string_equal(wecom_xml_get(f->x, "Content"), BYTES_OUT);
	free(r);
}

/* The JSON message/send would carry, the text's content included. */
static char *
outmsg_json(const struct wecom_outmsg *m)
{
	json_t	*b;
	char	*s;

	b = wecom_client_msg_body(m, wecom_client_msg_content(m));
	assert_non_null(b);
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(b);
	assert_non_null(s);
	return (s);
}

/*
 * A reply that missed the deadline goes out as a message built from
 * the record its passive XML was rendered from: same type, same text.
 */
static void
sends_a_late_reply_of_each_type_as_its_message(void **state)
{
	struct fixture	*f = *state;
	struct {
		const char	*in;
		const char	*type;
		const char	*json;
	} cases[] = {
		{ TEXT("text"), "text", "{\"msgtype\":\"text\",\"text\":"
		    "{\"content\":\"a ]]> b & <c>\"}}" },
		{ TEXT("image"), "image", "{\"image\":{\"media_id\":\"M1\"},"
		    "\"msgtype\":\"image\"}" },
		{ TEXT("voice"), "voice", "{\"msgtype\":\"voice\",\"voice\":"
		    "{\"media_id\":\"M2\"}}" },
		{ TEXT("video"), "video", "{\"msgtype\":\"video\",\"video\":"
		    "{\"description\":\"\",\"media_id\":\"M3\",\"title\":"
		    "\"T\"}}" },
		{ TEXT("news"), "news", "{\"msgtype\":\"news\",\"news\":"
		    "{\"articles\":[{\"description\":\"D\",\"picurl\":\"P\","
		    "\"title\":\"T<1>\",\"url\":\"U\"},{\"description\":"
		    "\"\",\"picurl\":\"\",\"title\":\"\",\"url\":\"\"}]}}" },
	};
	struct wecom_ctx	 ctx;
	struct wecom_outmsg	*m;
	char			*s;
	size_t			 i;

	wecom_on_msg(f->app, "text", reply_all, NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		route_ctx(f, cases[i].in, &ctx);
		assert_non_null(ctx.rec);
		assert_non_null(ctx.reply);
		assert_string_equal(ctx.rec->to_user, "bob");
		assert_int_equal(wecom_xml_parse(f->x, ctx.reply,
		    ctx.reply_len), WECOM_OK);
		assert_string_equal(wecom_xml_get(f->x, "MsgType"),
		    cases[i].type);
		m = wecom_reply_outmsg(ctx.rec);
		assert_non_null(m);
		assert_string_equal(wecom_outmsg_type(m), cases[i].type);
		s = outmsg_json(m);
		assert_string_equal(s, cases[i].json);
		free(s);
		wecom_outmsg_free(m);
		wecom_ctx_reset(&ctx);
	}

	/* Only a passive reply can update a card's button. */
	route_ctx(f, TEXT("button"), &ctx);
	assert_non_null(ctx.rec);
	assert_null(wecom_reply_outmsg(ctx.rec));
	wecom_ctx_reset(&ctx);

	route_ctx(f, TEXT("nothing"), &ctx);
	assert_null(ctx.rec);
	assert_null(ctx.reply);
}

/* Bytes no XML can carry: U+FFFD in the late message too, as in the XML. */
static void
sends_a_late_reply_with_the_same_sanitised_text(void **state)
{
	struct fixture		*f = *state;
	struct wecom_ctx	 ctx;
	struct wecom_outmsg	*m;
	json_t			*b;

	wecom_on_msg(f->app, "text", reply_all, NULL);
	route_ctx(f, TEXT("bytes"), &ctx);
	assert_non_null(ctx.rec);
	assert_string_equal(ctx.rec->content, BYTES_OUT);
	assert_int_equal(wecom_xml_parse(f->x, ctx.reply, ctx.reply_len),
	    WECOM_OK);
	assert_string_equal(wecom_xml_get(f->x, "Content"), BYTES_OUT);

	m = wecom_reply_outmsg(ctx.rec);
	assert_non_null(m);
	assert_string_equal(wecom_client_msg_content(m), BYTES_OUT);
	/* jansson takes only valid UTF-8: WeCom would get all of it. */
	b = wecom_client_msg_body(m, wecom_client_msg_content(m));
	assert_non_null(b);
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(b, "text"), "content")), BYTES_OUT);
	json_decref(b);
	wecom_outmsg_free(m);
	wecom_ctx_reset(&ctx);
}

static void
answers_tencents_sample_post_end_to_end(void **state)
{
	struct fixture		*f = *state;
	struct wecom_query	 q = { "477715d11cdb4164915debcba66cb864d751f3e6",
	    "1409659813", "1372623149", NULL };
	struct wecom_result	 res;
	const char		*body = "<xml><ToUserName><![CDATA[" CORPID
	    "]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>";

	wecom_on_msg(f->app, "text", tracer, "t");
	wecom_on_msg(f->app, "text", reply_all, NULL);
	wecom_on_default(f->app, tracer, "never");
	wecom_callback_post(f->app, f->x, &q, body, strlen(body), &res);
	assert_int_equal(res.code, WECOM_OK);
	assert_string_equal(res.msgtype, "text");
	/* "hello" is no reply_all case: the text handlers ran, no reply. */
	assert_string_equal(trace, "t");
	assert_null(res.body);

	trace[0] = '\0';
	q.signature = "477715d11cdb4164915debcba66cb864d751f3e7";
	wecom_callback_post(f->app, f->x, &q, body, strlen(body), &res);
	assert_int_equal(res.code, WECOM_ERR_SIGNATURE);
	assert_string_equal(trace, "");

	wecom_result_clear(&res);
}

static void
encrypts_and_signs_the_reply_envelope(void **state)
{
	struct fixture		*f = *state;
	struct wecom_result	 res;
	struct wecom_query	 q;
	char			 b64[1024], sig[WECOM_SIG_LEN + 1], body[1400];
	char			 esig[WECOM_SIG_LEN + 1];
	const char		*plain, *enc, *ts, *nonce;
	size_t			 len;

	wecom_on_msg(f->app, "text", reply_all, NULL);
	assert_int_equal(wecom_crypto_encrypt(f->app->crypto, TEXT("image"),
	    strlen(TEXT("image")), b64, sizeof(b64), &len), WECOM_OK);
	assert_int_equal(wecom_crypto_sign(f->app->crypto, "1700000000", "42",
	    b64, sig), WECOM_OK);
	snprintf(body, sizeof(body), "<xml><Encrypt><![CDATA[%s]]></Encrypt>"
	    "</xml>", b64);
	q.signature = sig;
	q.timestamp = "1700000000";
	q.nonce = "42";
	q.echostr = NULL;

	wecom_callback_post(f->app, f->x, &q, body, strlen(body), &res);
	assert_int_equal(res.code, WECOM_OK);
	assert_non_null(res.body);
	assert_int_equal(wecom_xml_parse(f->x, res.body, res.len), WECOM_OK);
	enc = wecom_xml_get(f->x, "Encrypt");
	ts = wecom_xml_get(f->x, "TimeStamp");
	nonce = wecom_xml_get(f->x, "Nonce");
	assert_non_null(enc);
	assert_non_null(ts);
	assert_non_null(nonce);
	assert_int_equal(wecom_crypto_sign(f->app->crypto, ts, nonce, enc,
	    esig), WECOM_OK);
	assert_string_equal(esig, wecom_xml_get(f->x, "MsgSignature"));
	enc = strdup(enc);
	assert_int_equal(wecom_crypto_decrypt(f->app->crypto, enc, strlen(enc),
	    &plain, &len), WECOM_OK);
	assert_non_null(strstr(plain, "<MediaId><![CDATA[M1]]></MediaId>"));
	free((char *)enc);
	wecom_result_clear(&res);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    runs_handlers_in_registration_order, setup, teardown),
		cmocka_unit_test_setup_teardown(stops_the_chain_on_wecom_stop,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    runs_defaults_only_when_nothing_matched, setup, teardown),
		cmocka_unit_test_setup_teardown(filters_events_by_name_and_key,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(refuses_bad_registrations,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(builds_every_reply_type,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(makes_any_bytes_well_formed_xml,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    sends_a_late_reply_of_each_type_as_its_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    sends_a_late_reply_with_the_same_sanitised_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    answers_tencents_sample_post_end_to_end, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    encrypts_and_signs_the_reply_envelope, setup, teardown),
	};

	return (cmocka_run_group_tests_name("router", tests, NULL, NULL));
}
