/* SPDX-License-Identifier: ISC */
/*
 * The retry table: a callback WeCom re-sends runs its handlers once,
 * whichever worker process gets each attempt, and a worker that dies
 * holding the lock stops no one.
 */

#include <sys/types.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

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

#include "wecom.h"
#include "wecom_crypto.h"
#include "wecom_msg.h"
#include "wecom_xml.h"
#include "wecom_dedupe.h"

#define TOKEN	"QDG6eK"
#define AESKEY	"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
#define CORPID	"wx5823bf96d3bd56c7"

#define T0	1700000000
#define WINDOW	60
#define TTL	30

#define TEXT_MSG "<xml><ToUserName><![CDATA[" CORPID "]]></ToUserName>" \
	"<FromUserName><![CDATA[zhangsan]]></FromUserName>" \
	"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>" \
	"<Content><![CDATA[hello]]></Content>" \
	"<MsgId>CAIQg/PKxgYY2sC9tpuAgAMg9/zKaw==</MsgId>" \
	"<AgentID>1000002</AgentID></xml>"

/* An event with every field the key looks at; %s are filled per test. */
#define EVENT_FMT "<xml><ToUserName><![CDATA[" CORPID "]]></ToUserName>" \
	"<FromUserName><![CDATA[%s]]></FromUserName>" \
	"<CreateTime>%s</CreateTime><MsgType><![CDATA[event]]></MsgType>" \
	"<Event><![CDATA[%s]]></Event><EventKey><![CDATA[%s]]></EventKey>" \
	"<ChangeType><![CDATA[%s]]></ChangeType>" \
	"<TaskId><![CDATA[%s]]></TaskId>" \
	"<ResponseCode><![CDATA[%s]]></ResponseCode>" \
	"<BatchJob><JobId><![CDATA[%s]]></JobId></BatchJob>" \
	"<ExternalUserID><![CDATA[%s]]></ExternalUserID>" \
	"<ChatId><![CDATA[%s]]></ChatId>" \
	"<FailReason><![CDATA[%s]]></FailReason>" \
	"<AgentID>1000002</AgentID></xml>"

#define NFIELDS	11

static const char *const base[NFIELDS] = {
	"zhangsan", "1700000000", "change_external_contact", "k1",
	"add_external_contact", "task1", "rc1", "job1", "wmEXT1", "wrCHAT1",
	"none",
};

static void
key_of_xml(const char *app, const char *xml,
    unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	struct wecom_xml	*x;
	struct wecom_msg	 msg;

	assert_non_null(x = wecom_xml_new());
	assert_int_equal(wecom_xml_parse(x, xml, strlen(xml)), WECOM_OK);
	assert_int_equal(wecom_msg_load(&msg, x), WECOM_OK);
	wecom_dedupe_key(app, &msg, key);
	wecom_xml_free(x);
}

static void
key_of_event(const char *app, const char *const f[NFIELDS],
    unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	char	xml[2048];
	int	n;

	n = snprintf(xml, sizeof(xml), EVENT_FMT, f[0], f[1], f[2], f[3],
	    f[4], f[5], f[6], f[7], f[8], f[9], f[10]);
	assert_true(n > 0 && (size_t)n < sizeof(xml));
	key_of_xml(app, xml, key);
}

/* What a worker decrypts from one of WeCom's attempts. */
static void
key_of_attempt(struct wecom_crypto *wc, const char *plain, char *prev,
    unsigned char key[WECOM_DEDUPE_KEY_LEN])
{
	char		 b64[4096];
	const char	*msg;
	size_t		 b64len, len;

	assert_int_equal(wecom_crypto_encrypt(wc, plain, strlen(plain), b64,
	    sizeof(b64), &b64len), WECOM_OK);
	/* Each attempt is encrypted anew: another random prefix. */
	assert_string_not_equal(b64, prev);
	memcpy(prev, b64, b64len + 1);
	assert_int_equal(wecom_crypto_decrypt(wc, b64, b64len, &msg, &len),
	    WECOM_OK);
	key_of_xml("app", msg, key);
}

static void
simple_key(unsigned char key[WECOM_DEDUPE_KEY_LEN], uint32_t n)
{
	memset(key, 0, WECOM_DEDUPE_KEY_LEN);
	/* Spread over the buckets like a digest, and unique. */
	n = n * 2654435761u;
	memcpy(key, &n, sizeof(n));
	key[19] = 1;
}

/*
 * fork() for the tests: a child dies with this process, so a failed
 * assertion here never leaves workers spinning.
 */
static pid_t
spawn(void)
{
	pid_t	parent, pid;

	parent = getpid();
	if ((pid = fork()) == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(9);
	}
	return (pid);
}

static void
a_retry_re_encrypted_gets_the_same_key(void **state)
{
	struct wecom_crypto	*wc;
	unsigned char		 k1[WECOM_DEDUPE_KEY_LEN];
	unsigned char		 k2[WECOM_DEDUPE_KEY_LEN];
	unsigned char		 k3[WECOM_DEDUPE_KEY_LEN];
	char			 xml[2048], prev[4096];
	int			 err;

	assert_non_null(wc = wecom_crypto_new(TOKEN, AESKEY, CORPID, &err));
	prev[0] = '\0';

	key_of_attempt(wc, TEXT_MSG, prev, k1);
	key_of_attempt(wc, TEXT_MSG, prev, k2);
	key_of_attempt(wc, TEXT_MSG, prev, k3);
	assert_memory_equal(k1, k2, sizeof(k1));
	assert_memory_equal(k1, k3, sizeof(k1));

	snprintf(xml, sizeof(xml), EVENT_FMT, base[0], base[1], base[2],
	    base[3], base[4], base[5], base[6], base[7], base[8], base[9],
	    base[10]);
	key_of_attempt(wc, xml, prev, k2);
	key_of_attempt(wc, xml, prev, k3);
	assert_memory_equal(k2, k3, sizeof(k2));
	assert_memory_not_equal(k1, k2, sizeof(k1));

	wecom_crypto_free(wc);
}

static void
events_that_differ_in_one_field_get_different_keys(void **state)
{
	static const char *const other[NFIELDS] = {
		"lisi", "1700000001", "change_external_chat", "k2",
		"edit_external_contact", "task2", "rc2", "job2", "wmEXT2",
		"wrCHAT2", "customer refused",
	};
	unsigned char	 keys[NFIELDS + 2][WECOM_DEDUPE_KEY_LEN];
	unsigned char	 again[WECOM_DEDUPE_KEY_LEN];
	const char	*f[NFIELDS];
	size_t		 i, j;

	key_of_event("app", base, keys[0]);
	key_of_event("app", base, again);
	assert_memory_equal(keys[0], again, sizeof(again));

	for (i = 0; i < NFIELDS; i++) {
		memcpy(f, base, sizeof(f));
		f[i] = other[i];
		key_of_event("app", f, keys[i + 1]);
	}
	key_of_event("app2", base, keys[NFIELDS + 1]);

	for (i = 0; i < NFIELDS + 2; i++)
		for (j = i + 1; j < NFIELDS + 2; j++)
			if (memcmp(keys[i], keys[j], WECOM_DEDUPE_KEY_LEN) == 0)
				fail_msg("keys %zu and %zu are equal", i, j);
}

static void
a_message_is_its_msgid(void **state)
{
	struct wecom_msg	a, b;
	unsigned char		ka[WECOM_DEDUPE_KEY_LEN];
	unsigned char		kb[WECOM_DEDUPE_KEY_LEN];

	memset(&a, 0, sizeof(a));
	a.msgtype = "text";
	a.msgid = "123";
	a.content = "hello";
	a.create_time = T0;
	b = a;
	b.content = "hello again";	/* not possible, but: MsgId decides */
	wecom_dedupe_key("app", &a, ka);
	wecom_dedupe_key("app", &b, kb);
	assert_memory_equal(ka, kb, sizeof(ka));

	b.msgid = "1234";
	wecom_dedupe_key("app", &b, kb);
	assert_memory_not_equal(ka, kb, sizeof(ka));
	wecom_dedupe_key("app2", &a, kb);
	assert_memory_not_equal(ka, kb, sizeof(ka));
}

static void
field_boundaries_are_unambiguous(void **state)
{
	struct wecom_msg	a, b;
	unsigned char		ka[WECOM_DEDUPE_KEY_LEN];
	unsigned char		kb[WECOM_DEDUPE_KEY_LEN];

	memset(&a, 0, sizeof(a));
	a.msgid = "c";
	b = a;
	b.msgid = "bc";
	wecom_dedupe_key("ab", &a, ka);
	wecom_dedupe_key("a", &b, kb);
	assert_memory_not_equal(ka, kb, sizeof(ka));

	memset(&a, 0, sizeof(a));
	a.msgtype = "event";
	a.event = "click";
	a.from_user = "u";
	b = a;
	a.event_key = NULL;
	b.event_key = "";
	wecom_dedupe_key("app", &a, ka);
	wecom_dedupe_key("app", &b, kb);
	assert_memory_not_equal(ka, kb, sizeof(ka));

	b = a;
	a.event = "clickx";
	a.event_key = NULL;
	b.event = "click";
	b.event_key = "x";
	wecom_dedupe_key("app", &a, ka);
	wecom_dedupe_key("app", &b, kb);
	assert_memory_not_equal(ka, kb, sizeof(ka));

	/* An empty MsgId is no MsgId: the event fields decide. */
	b = a;
	b.msgid = "";
	wecom_dedupe_key("app", &a, ka);
	wecom_dedupe_key("app", &b, kb);
	assert_memory_equal(ka, kb, sizeof(ka));
}

static void
claims_a_callback_once(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];

	assert_non_null(dd = wecom_dedupe_new(0, WINDOW, TTL));
	key_of_xml("app", TEXT_MSG, key);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 5, NULL, 0, NULL),
	    WECOM_DEDUPE_RUNNING);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 10, NULL, 0, NULL),
	    WECOM_DEDUPE_RUNNING);
	/* Another app's callback with the same MsgId is another key. */
	key_of_xml("app2", TEXT_MSG, key);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_free(dd);
}

static void
answers_a_finished_retry_with_the_first_reply(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	const char		*r = "<xml><Content><![CDATA[你好]]></Content></xml>";
	char			 buf[WECOM_DEDUPE_REPLY_MAX + 1];
	size_t			 len;

	assert_non_null(dd = wecom_dedupe_new(16, WINDOW, TTL));
	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_NEW);
	assert_int_equal(len, 0);
	wecom_dedupe_finish(dd, key, T0 + 1, r, strlen(r));
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 5, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_DONE);
	assert_int_equal(len, strlen(r));
	assert_string_equal(buf, r);
	/* And again: DONE stays DONE. */
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 10, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_DONE);
	assert_string_equal(buf, r);

	/* No reply at all is DONE with nothing to send. */
	simple_key(key, 2);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0, NULL, 0);
	len = 99;
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_DONE);
	assert_int_equal(len, 0);
	wecom_dedupe_free(dd);
}

static void
a_full_size_reply_is_copied_intact(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	char			 r[WECOM_DEDUPE_REPLY_MAX + 1];
	char			 buf[WECOM_DEDUPE_REPLY_MAX + 1];
	size_t			 i, len;

	for (i = 0; i < sizeof(r); i++)
		r[i] = 1 + i % 255;
	assert_non_null(dd = wecom_dedupe_new(16, WINDOW, TTL));

	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0, r, WECOM_DEDUPE_REPLY_MAX);
	memset(buf, 0, sizeof(buf));
	/* Exactly the reply's size: copied, no room for a NUL. */
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf,
	    WECOM_DEDUPE_REPLY_MAX, &len), WECOM_DEDUPE_DONE);
	assert_int_equal(len, WECOM_DEDUPE_REPLY_MAX);
	assert_memory_equal(buf, r, WECOM_DEDUPE_REPLY_MAX);
	assert_int_equal(buf[WECOM_DEDUPE_REPLY_MAX], 0);

	/* A buffer too small gets no reply rather than part of one. */
	memset(buf, 'z', sizeof(buf));
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf, 100, &len),
	    WECOM_DEDUPE_DONE);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], 'z');

	/* One byte too long is kept as no reply. */
	simple_key(key, 2);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0, r, WECOM_DEDUPE_REPLY_MAX + 1);
	len = 99;
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, buf, sizeof(buf),
	    &len), WECOM_DEDUPE_DONE);
	assert_int_equal(len, 0);
	wecom_dedupe_free(dd);
}

static void
a_forgotten_claim_lets_the_retry_run(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];

	assert_non_null(dd = wecom_dedupe_new(16, WINDOW, TTL));
	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_forget(dd, key);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 5, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0 + 6, "r", 1);
	/* Forgetting a finished callback would repeat its handlers. */
	wecom_dedupe_forget(dd, key);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 7, NULL, 0, NULL),
	    WECOM_DEDUPE_DONE);
	/* Unknown keys are no-ops. */
	simple_key(key, 2);
	wecom_dedupe_forget(dd, key);
	wecom_dedupe_finish(dd, key, T0, "r", 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_free(dd);
}

static void
the_window_expires(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];

	assert_non_null(dd = wecom_dedupe_new(16, WINDOW, TTL));
	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0 + 2, "r", 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + WINDOW - 1, NULL, 0,
	    NULL), WECOM_DEDUPE_DONE);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + WINDOW, NULL, 0,
	    NULL), WECOM_DEDUPE_NEW);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + WINDOW + 1, NULL, 0,
	    NULL), WECOM_DEDUPE_RUNNING);
	wecom_dedupe_free(dd);
}

static void
a_stale_running_claim_is_taken_over(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	char			 buf[16];
	size_t			 len;

	assert_non_null(dd = wecom_dedupe_new(16, WINDOW, TTL));
	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + TTL - 1, NULL, 0,
	    NULL), WECOM_DEDUPE_RUNNING);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + TTL, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	/* The new owner's claim starts afresh. */
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 2 * TTL - 1, NULL, 0,
	    NULL), WECOM_DEDUPE_RUNNING);
	wecom_dedupe_finish(dd, key, T0 + TTL + 1, "ok", 2);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + TTL + 2, buf,
	    sizeof(buf), &len), WECOM_DEDUPE_DONE);
	assert_string_equal(buf, "ok");
	wecom_dedupe_free(dd);
}

static void
a_full_table_evicts_the_oldest(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	uint32_t		 i;

	assert_non_null(dd = wecom_dedupe_new(8, WINDOW, TTL));
	for (i = 0; i < 1000; i++) {
		simple_key(key, i);
		assert_int_equal(wecom_dedupe_begin(dd, key, T0 + i / 100,
		    NULL, 0, NULL), WECOM_DEDUPE_NEW);
		if (i % 2)
			wecom_dedupe_finish(dd, key, T0, "r", 1);
		if (i % 7 == 0)
			wecom_dedupe_forget(dd, key);
	}
	/* The last ones are kept, in order, the older ones evicted. */
	for (i = 999; i > 990; i--) {
		simple_key(key, i);
		if (i % 7 == 0)
			continue;
		assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 10, NULL, 0,
		    NULL), i % 2 ? WECOM_DEDUPE_DONE : WECOM_DEDUPE_RUNNING);
	}
	simple_key(key, 0);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 10, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_free(dd);

	/* One slot still works. */
	assert_non_null(dd = wecom_dedupe_new(1, WINDOW, TTL));
	for (i = 0; i < 3; i++) {
		simple_key(key, i);
		assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
		    WECOM_DEDUPE_NEW);
		assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
		    WECOM_DEDUPE_RUNNING);
	}
	wecom_dedupe_free(dd);
}

static void
a_full_table_evicts_expired_entries_first(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	uint32_t		 i;

	/* A window shorter than the ttl: slot 0, still running, is the
	 * oldest, but the finished ones behind it have expired. */
	assert_non_null(dd = wecom_dedupe_new(4, 10, 100));
	simple_key(key, 0);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	for (i = 1; i < 4; i++) {
		simple_key(key, i);
		assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 1, NULL, 0,
		    NULL), WECOM_DEDUPE_NEW);
		wecom_dedupe_finish(dd, key, T0 + 1, "r", 1);
	}
	simple_key(key, 4);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 20, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	simple_key(key, 0);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 20, NULL, 0, NULL),
	    WECOM_DEDUPE_RUNNING);
	wecom_dedupe_free(dd);
}

static void
the_default_table_fits_the_memory_budget(void **state)
{
	struct wecom_dedupe	*dd;
	size_t			 sz;

	assert_null(wecom_dedupe_new(16, 0, TTL));
	assert_null(wecom_dedupe_new(16, WINDOW, 0));
	assert_null(wecom_dedupe_new(WECOM_DEDUPE_ENTRIES_MAX + 1, WINDOW,
	    TTL));
	assert_non_null(dd = wecom_dedupe_new(0, WECOM_DEDUPE_WINDOW_DEFAULT,
	    WECOM_DEDUPE_RUNNING_TTL_DEFAULT));
	sz = wecom_dedupe_size(dd);
	printf("# default table (%d entries): %zu bytes mapped\n",
	    WECOM_DEDUPE_ENTRIES_DEFAULT, sz);
	assert_true(sz >= (size_t)WECOM_DEDUPE_ENTRIES_DEFAULT *
	    WECOM_DEDUPE_REPLY_MAX);
	assert_true(sz <= 3 * 1024 * 1024);
	wecom_dedupe_free(dd);
}

/*
 * Whether the kernel keeps robust futex lists, so that a lock whose
 * owner died comes back EOWNERDEAD. qemu-user, which runs the arm64
 * build's tests (tools/cross-arm64.sh), has none: there the two tests
 * of a worker killed holding the lock are skipped.
 */
static int
robust_futexes(void)
{
	void	*head;
	size_t	 len;

	return (syscall(SYS_get_robust_list, 0, &head, &len) == 0);
}

static void
die(void)
{
	raise(SIGKILL);
}

static void
on_alarm(int sig)
{
	static const char	msg[] = "wedged: the lock was never recovered\n";

	(void)write(2, msg, sizeof(msg) - 1);
	_exit(3);
}

/*
 * Several worker processes, started together, each going through the
 * same keys from a different place: every key must be claimed by
 * exactly one of them, and a DONE must carry the claimer's reply.
 */
#define WORKERS	4
#define NKEYS	5000

struct tally {
	uint32_t	claims[NKEYS];
	uint32_t	wrong_reply;
	uint32_t	running;
	uint32_t	done;
};

static void
worker(struct wecom_dedupe *dd, struct tally *t, int w, int gate)
{
	unsigned char	key[WECOM_DEDUPE_KEY_LEN];
	char		reply[64], buf[WECOM_DEDUPE_REPLY_MAX + 1];
	size_t		len;
	uint32_t	i, k;
	char		c;

	signal(SIGALRM, on_alarm);
	alarm(60);
	/* Wait for the gate to open: all start at once. */
	if (read(gate, &c, 1) != 0)
		_exit(2);
	for (i = 0; i < NKEYS; i++) {
		k = (i + w * (NKEYS / WORKERS)) % NKEYS;
		simple_key(key, k);
		switch (wecom_dedupe_begin(dd, key, T0, buf, sizeof(buf),
		    &len)) {
		case WECOM_DEDUPE_NEW:
			__atomic_fetch_add(&t->claims[k], 1, __ATOMIC_RELAXED);
			len = snprintf(reply, sizeof(reply), "key %u", k);
			if (k % 3 == 0)
				wecom_dedupe_finish(dd, key, T0, reply, len);
			else if (k % 3 == 1)
				wecom_dedupe_finish(dd, key, T0, NULL, 0);
			/* k % 3 == 2 stays running. */
			break;
		case WECOM_DEDUPE_RUNNING:
			__atomic_fetch_add(&t->running, 1, __ATOMIC_RELAXED);
			break;
		case WECOM_DEDUPE_DONE:
			__atomic_fetch_add(&t->done, 1, __ATOMIC_RELAXED);
			snprintf(reply, sizeof(reply), "key %u", k);
			if ((k % 3 == 0 && (len != strlen(reply) ||
			    strcmp(buf, reply) != 0)) || (k % 3 == 1 && len != 0))
				__atomic_fetch_add(&t->wrong_reply, 1,
				    __ATOMIC_RELAXED);
			break;
		default:
			__atomic_fetch_add(&t->wrong_reply, 1,
			    __ATOMIC_RELAXED);
		}
	}
	_exit(0);
}

static void
forked_workers_claim_each_key_once(void **state)
{
	struct wecom_dedupe	*dd;
	struct tally		*t;
	pid_t			 pid[WORKERS];
	int			 gate[2], i, status;

	assert_non_null(dd = wecom_dedupe_new(2 * NKEYS, WINDOW, TTL));
	t = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(t != MAP_FAILED);
	assert_int_equal(pipe(gate), 0);

	for (i = 0; i < WORKERS; i++) {
		assert_true((pid[i] = spawn()) != -1);
		if (pid[i] == 0) {
			close(gate[1]);
			worker(dd, t, i, gate[0]);
		}
	}
	close(gate[0]);
	close(gate[1]);
	for (i = 0; i < WORKERS; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}

	for (i = 0; i < NKEYS; i++)
		if (t->claims[i] != 1)
			fail_msg("key %d claimed %u times", i, t->claims[i]);
	assert_int_equal(t->wrong_reply, 0);
	assert_int_equal(t->running + t->done, (WORKERS - 1) * NKEYS);
	printf("# %d workers x %d keys: %u done, %u running answers\n",
	    WORKERS, NKEYS, t->done, t->running);

	munmap(t, sizeof(*t));
	wecom_dedupe_free(dd);
}

/* Run the check in a child, so a wedged lock fails the test instead
 * of hanging the suite. */
static int
in_child(void (*check)(struct wecom_dedupe *), struct wecom_dedupe *dd)
{
	pid_t	pid;
	int	status;

	if ((pid = spawn()) == 0) {
		signal(SIGALRM, on_alarm);
		alarm(10);
		check(dd);
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return (-1);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : 128);
}

static void
check_after_death(struct wecom_dedupe *dd)
{
	unsigned char	key[WECOM_DEDUPE_KEY_LEN];
	char		buf[64];
	size_t		len;
	uint32_t	i;

	/* The slot the dead worker was taking is back: 62 new keys fill
	 * the 64 slots without evicting the two from before the death. */
	for (i = 100; i < 162; i++) {
		simple_key(key, i);
		if (wecom_dedupe_begin(dd, key, T0 + 1, NULL, 0, NULL) !=
		    WECOM_DEDUPE_NEW)
			_exit(4);
		wecom_dedupe_finish(dd, key, T0 + 1, "x", 1);
		if (wecom_dedupe_begin(dd, key, T0 + 1, buf, sizeof(buf),
		    &len) != WECOM_DEDUPE_DONE || len != 1)
			_exit(5);
	}
	simple_key(key, 1);
	if (wecom_dedupe_begin(dd, key, T0 + 1, buf, sizeof(buf), &len) !=
	    WECOM_DEDUPE_DONE || len != 5 || strcmp(buf, "first") != 0)
		_exit(6);
	simple_key(key, 2);
	if (wecom_dedupe_begin(dd, key, T0 + 1, NULL, 0, NULL) !=
	    WECOM_DEDUPE_RUNNING)
		_exit(7);
	/* And the key it was claiming was never claimed. */
	simple_key(key, 3);
	if (wecom_dedupe_begin(dd, key, T0 + 1, NULL, 0, NULL) !=
	    WECOM_DEDUPE_NEW)
		_exit(8);
}

static void
a_worker_killed_holding_the_lock_does_not_wedge_the_others(void **state)
{
	struct wecom_dedupe	*dd;
	unsigned char		 key[WECOM_DEDUPE_KEY_LEN];
	pid_t			 pid;
	int			 status;

	if (!robust_futexes())
		skip();
	assert_non_null(dd = wecom_dedupe_new(64, WINDOW, TTL));
	simple_key(key, 1);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);
	wecom_dedupe_finish(dd, key, T0, "first", 5);
	simple_key(key, 2);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL),
	    WECOM_DEDUPE_NEW);

	if ((pid = spawn()) == 0) {
		wecom_dedupe_locked_hook = die;
		simple_key(key, 3);
		wecom_dedupe_begin(dd, key, T0, NULL, 0, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	assert_int_equal(in_child(check_after_death, dd), 0);
	/* This process sees the claim the checker made after the death. */
	simple_key(key, 3);
	assert_int_equal(wecom_dedupe_begin(dd, key, T0 + 2, NULL, 0, NULL),
	    WECOM_DEDUPE_RUNNING);
	wecom_dedupe_free(dd);
}

/* Busy workers on a small table, so that most kills land mid-change. */
static void
churn(struct wecom_dedupe *dd, uint32_t seed)
{
	unsigned char	key[WECOM_DEDUPE_KEY_LEN];
	char		buf[WECOM_DEDUPE_REPLY_MAX + 1];
	size_t		len;
	uint32_t	k;

	memset(buf, 'c', sizeof(buf));
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		k = (seed >> 8) % 256;
		simple_key(key, k);
		switch (wecom_dedupe_begin(dd, key, T0 + (seed >> 28), buf,
		    sizeof(buf), &len)) {
		case WECOM_DEDUPE_NEW:
			if (k % 5 == 0)
				wecom_dedupe_forget(dd, key);
			else
				wecom_dedupe_finish(dd, key, T0, buf,
				    k * 7);
			break;
		case WECOM_DEDUPE_DONE:
			if (len != 0 && len != k * 7)
				_exit(8);
			break;
		}
	}
}

static void
check_table_works(struct wecom_dedupe *dd)
{
	unsigned char	key[WECOM_DEDUPE_KEY_LEN];
	uint32_t	i;

	/* Far in the future: every old entry has expired. */
	for (i = 1000; i < 1000 + 64; i++) {
		simple_key(key, i);
		if (wecom_dedupe_begin(dd, key, T0 + 1000, NULL, 0, NULL) !=
		    WECOM_DEDUPE_NEW)
			_exit(4);
	}
	for (i = 1000; i < 1000 + 64; i++) {
		simple_key(key, i);
		if (wecom_dedupe_begin(dd, key, T0 + 1000, NULL, 0, NULL) !=
		    WECOM_DEDUPE_RUNNING)
			_exit(5);
		wecom_dedupe_finish(dd, key, T0 + 1000, "y", 1);
	}
	for (i = 1000; i < 1000 + 64; i++) {
		simple_key(key, i);
		if (wecom_dedupe_begin(dd, key, T0 + 1000, NULL, 0, NULL) !=
		    WECOM_DEDUPE_DONE)
			_exit(6);
	}
}

static void
workers_killed_at_random_leave_a_working_table(void **state)
{
	struct wecom_dedupe	*dd;
	struct timespec		 ts;
	pid_t			 pid[3];
	int			 i, round, status;

	if (!robust_futexes())
		skip();
	assert_non_null(dd = wecom_dedupe_new(64, 10, 5));
	for (i = 0; i < 3; i++) {
		assert_true((pid[i] = spawn()) != -1);
		if (pid[i] == 0)
			churn(dd, i + 1);
	}
	for (round = 0; round < 60; round++) {
		ts.tv_sec = 0;
		ts.tv_nsec = 2 * 1000 * 1000;
		nanosleep(&ts, NULL);
		i = round % 3;
		kill(pid[i], SIGKILL);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		/* Died by our hand, not by a wrong answer. */
		assert_true(WIFSIGNALED(status));
		assert_true((pid[i] = spawn()) != -1);
		if (pid[i] == 0)
			churn(dd, round + 100);
	}
	for (i = 0; i < 3; i++) {
		kill(pid[i], SIGKILL);
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFSIGNALED(status));
	}
	assert_int_equal(in_child(check_table_works, dd), 0);
	wecom_dedupe_free(dd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_retry_re_encrypted_gets_the_same_key),
		cmocka_unit_test(events_that_differ_in_one_field_get_different_keys),
		cmocka_unit_test(a_message_is_its_msgid),
		cmocka_unit_test(field_boundaries_are_unambiguous),
		cmocka_unit_test(claims_a_callback_once),
		cmocka_unit_test(answers_a_finished_retry_with_the_first_reply),
		cmocka_unit_test(a_full_size_reply_is_copied_intact),
		cmocka_unit_test(a_forgotten_claim_lets_the_retry_run),
		cmocka_unit_test(the_window_expires),
		cmocka_unit_test(a_stale_running_claim_is_taken_over),
		cmocka_unit_test(a_full_table_evicts_the_oldest),
		cmocka_unit_test(a_full_table_evicts_expired_entries_first),
		cmocka_unit_test(the_default_table_fits_the_memory_budget),
		cmocka_unit_test(forked_workers_claim_each_key_once),
		cmocka_unit_test(a_worker_killed_holding_the_lock_does_not_wedge_the_others),
		cmocka_unit_test(workers_killed_at_random_leave_a_working_table),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
