/* SPDX-License-Identifier: ISC */
/*
 * framework/outbox/outbox_admin.c: the operator's listing, retry and
 * drop, on records written as the drain writes them — without HTTP.
 * wecom-admin's own test (tests/tools/) drives them through the CLI
 * against the fake WeCom.
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

#include "outbox_private.h"

#define NLISTED	8

struct listed {
	int	n;
	char	key[NLISTED][WECOM_OUTBOX_KEY_MAX + 1];
	char	state[NLISTED][16];
	char	target[NLISTED][128];
	char	errmsg[NLISTED][64];
	char	why[NLISTED][32];
	long	errcode[NLISTED];
	int	attempts[NLISTED];
	int64_t	next[NLISTED];
};

struct fixture {
	char			dir[64];
	char			state[128];
	struct wecom_conf	conf;
	struct outbox_dirs	d;
};

static void
on_entry(void *arg, const struct wecom_outbox_entry *e)
{
	struct listed	*l = arg;
	int		 i;

	assert_true(l->n < NLISTED);
	i = l->n++;
	snprintf(l->key[i], sizeof(l->key[i]), "%s", e->key);
	snprintf(l->state[i], sizeof(l->state[i]), "%s", e->state);
	snprintf(l->target[i], sizeof(l->target[i]), "%s", e->target);
	snprintf(l->errmsg[i], sizeof(l->errmsg[i]), "%s", e->errmsg);
	snprintf(l->why[i], sizeof(l->why[i]), "%s", e->why);
	l->errcode[i] = e->errcode;
	l->attempts[i] = e->attempts;
	l->next[i] = e->next;
}

static int
setup(void **state)
{
	struct fixture	*f;

	f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/wecom-obadmin-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	f->conf.state_dir = f->state;
	assert_int_equal(wecom_outbox_dirs_init(&f->d, f->state, 1),
	    WECOM_API_OK);
	*state = f;

	return (0);
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;
	char		 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);

	return (0);
}

/* A record as the drain leaves it in dir: failed ones with their error. */
static void
put(struct fixture *f, int dir, const char *key, int64_t created,
    const char *touser, const char *robot)
{
	struct outbox_record	 r;
	char			*s;

	memset(&r, 0, sizeof(r));
	snprintf(r.key, sizeof(r.key), "%s", key);
	r.created = created;
	r.next = created + 60000;
	r.attempts = 2;
	if (robot != NULL)
		r.robot = strdup(robot);
	else {
		r.app = strdup("main");
		r.touser = strdup(touser);
	}
	r.msg = json_pack("{s:s, s:{s:s}}", "msgtype", "text", "text",
	    "content", "disk full");
	r.dup_interval = 14400;
	if (dir == OB_FAILED) {
		r.error.code = WECOM_API_ERR_REJECTED;
		r.error.errcode = 81013;
		r.error.errmsg = strdup("user & party & tag all invalid");
		r.error.at = created + 1000;
		r.failed_at = created + 1000;
		strcpy(r.failed_why, "rejected");
	}
	assert_non_null(s = wecom_outbox_record_encode(&r));
	assert_int_equal(wecom_outbox_write(f->d.sub[dir], key, s, strlen(s),
	    created, 0), WECOM_API_OK);
	free(s);
	wecom_outbox_record_free(&r);
}

static void
lists_queued_then_failed_oldest_first_with_target_and_error(void **state)
{
	struct fixture	*f = *state;
	struct listed	 l;

	put(f, OB_NEW, "young", 1700000002000LL, "zhangsan|lisi", NULL);
	put(f, OB_NEW, "old", 1700000001000LL, NULL, "ops");
	put(f, OB_FAILED, "lost", 1700000000000LL, "ghost", NULL);
	assert_int_equal(wecom_outbox_write(f->d.sub[OB_FAILED], "junk", "{",
	    1, 1690000000000LL, 0), WECOM_API_OK);

	memset(&l, 0, sizeof(l));
	assert_int_equal(wecom_outbox_admin_list(&f->conf, 0, on_entry, &l),
	    WECOM_API_OK);
	assert_int_equal(l.n, 4);
	assert_string_equal(l.key[0], "old");
	assert_string_equal(l.state[0], "queued");
	assert_string_equal(l.target[0], "robot ops");
	assert_string_equal(l.key[1], "young");
	assert_string_equal(l.target[1], "app main to zhangsan|lisi");
	assert_int_equal(l.attempts[1], 2);
	assert_string_equal(l.errmsg[1], "");
	assert_string_equal(l.key[2], "junk");
	assert_string_equal(l.state[2], "failed");
	assert_string_equal(l.why[2], "not a record");
	assert_string_equal(l.key[3], "lost");
	assert_string_equal(l.why[3], "rejected");
	assert_int_equal(l.errcode[3], 81013);
	assert_string_equal(l.errmsg[3], "user & party & tag all invalid");

	memset(&l, 0, sizeof(l));
	assert_int_equal(wecom_outbox_admin_list(&f->conf, 1, on_entry, &l),
	    WECOM_API_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.key[0], "junk");
	assert_string_equal(l.key[1], "lost");
}

static void
retry_queues_a_failed_message_anew_due_now(void **state)
{
	struct fixture		*f = *state;
	struct outbox_record	 r;
	struct stat		 st;
	char			*data, path[PATH_MAX + 16];
	size_t			 len;
	int64_t			 before;
	int			 n;

	put(f, OB_FAILED, "lost", 1700000000000LL, "ghost", NULL);
	before = wecom_outbox_now_ms();
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, "lost", 0, &n),
	    WECOM_API_OK);
	assert_int_equal(n, 1);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_FAILED], "lost"),
	    OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_read(f->d.sub[OB_NEW], "lost", &data,
	    &len), WECOM_API_OK);
	assert_int_equal(wecom_outbox_record_decode(&r, data, len),
	    WECOM_API_OK);
	free(data);
	/* Due now, its age from now (or max_age would fail it again). */
	assert_true(r.next >= before && r.next <= wecom_outbox_now_ms());
	assert_true(r.created == r.next);
	assert_int_equal(r.attempts, 0);
	assert_int_equal(r.error.code, 0);
	assert_null(r.error.errmsg);
	assert_true(r.failed_at == 0);
	assert_string_equal(r.failed_why, "");
	/* The message itself is untouched. */
	assert_string_equal(r.app, "main");
	assert_string_equal(r.touser, "ghost");
	assert_int_equal(r.dup_interval, 14400);
	wecom_outbox_record_free(&r);
	snprintf(path, sizeof(path), "%s/lost", f->d.sub[OB_NEW]);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* Retried by root, a record stays its owner's: the server's. */
	if (geteuid() == 0) {
		put(f, OB_FAILED, "owned", 1700000000000LL, "ghost", NULL);
		snprintf(path, sizeof(path), "%s/owned", f->d.sub[OB_FAILED]);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_int_equal(wecom_outbox_admin_retry(&f->conf, "owned", 0,
		    &n), WECOM_API_OK);
		snprintf(path, sizeof(path), "%s/owned", f->d.sub[OB_NEW]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_uid, 65534);
		assert_int_equal(st.st_gid, 65534);
	}

	/* Only a failed message is retried. */
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, "lost", 0, &n),
	    WECOM_OUTBOX_NOT_FOUND);
	assert_int_equal(n, 0);
}

static void
retry_all_moves_every_record_and_leaves_what_is_not_one(void **state)
{
	struct fixture	*f = *state;
	int		 n;

	put(f, OB_FAILED, "f1", 1700000000000LL, "ghost", NULL);
	put(f, OB_FAILED, "f2", 1700000001000LL, NULL, "ops");
	put(f, OB_NEW, "q1", 1700000002000LL, "zhangsan", NULL);
	assert_int_equal(wecom_outbox_write(f->d.sub[OB_FAILED], "junk", "{",
	    1, 0, 0), WECOM_API_OK);

	assert_int_equal(wecom_outbox_admin_retry(&f->conf, NULL, 0, &n),
	    WECOM_API_ERR_PROTOCOL);
	assert_int_equal(n, 2);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_NEW], "f1"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_NEW], "f2"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_FAILED], "junk"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, "junk", 0, &n),
	    WECOM_API_ERR_PROTOCOL);

	/* Nothing failed: nothing to do, and that is fine. */
	assert_int_equal(wecom_outbox_remove(f->d.sub[OB_FAILED], "junk", 0),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, NULL, 0, &n),
	    WECOM_API_OK);
	assert_int_equal(n, 0);
}

static void
drop_removes_queued_or_failed_and_leaves_done_alone(void **state)
{
	struct fixture	*f = *state;

	put(f, OB_NEW, "q1", 1700000000000LL, "zhangsan", NULL);
	put(f, OB_FAILED, "f1", 1700000000000LL, "ghost", NULL);
	put(f, OB_SENDING, "s1", 1700000000000LL, "lisi", NULL);
	assert_int_equal(wecom_outbox_write(f->d.sub[OB_DONE], "d1",
	    "{\"key\":\"d1\"}", 12, 0, 0), WECOM_API_OK);

	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "q1", 0),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_NEW], "q1"),
	    OUTBOX_MISSING);
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "f1", 0),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_FAILED], "f1"),
	    OUTBOX_MISSING);
	/* What a killed drainer left would be sent next: it goes too. */
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "s1", 0),
	    WECOM_API_OK);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_SENDING], "s1"),
	    OUTBOX_MISSING);

	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "d1", 0),
	    WECOM_OUTBOX_NOT_FOUND);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_DONE], "d1"),
	    OUTBOX_EXISTS);
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "q1", 0),
	    WECOM_OUTBOX_NOT_FOUND);
}

static void
waits_for_the_drain_lock_then_gives_up(void **state)
{
	struct fixture	*f = *state;
	struct listed	 l;
	int		 fd, n;

	put(f, OB_FAILED, "f1", 1700000000000LL, "ghost", NULL);
	/* A drainer holds the lock (another open file: flock conflicts). */
	assert_int_equal(wecom_outbox_lock(&f->d, 0, &fd), WECOM_API_OK);
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, "f1", 60, &n),
	    WECOM_API_ERR_UNAVAILABLE);
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "f1", 0),
	    WECOM_API_ERR_UNAVAILABLE);
	assert_int_equal(wecom_outbox_exists(f->d.sub[OB_FAILED], "f1"),
	    OUTBOX_EXISTS);
	/* Listing needs no lock: it works while a long flush runs. */
	memset(&l, 0, sizeof(l));
	assert_int_equal(wecom_outbox_admin_list(&f->conf, 0, on_entry, &l),
	    WECOM_API_OK);
	assert_int_equal(l.n, 1);
	close(fd);
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "f1", 0),
	    WECOM_API_OK);
}

static void
refuses_bad_keys_and_knows_an_outbox_never_used(void **state)
{
	struct fixture		*f = *state;
	struct wecom_conf	 none;
	struct listed		 l;
	char			 path[192];
	int			 n;

	assert_int_equal(wecom_outbox_admin_drop(&f->conf, "../etc", 0),
	    WECOM_API_ERR_ARG);
	assert_int_equal(wecom_outbox_admin_retry(&f->conf, ".hidden", 0, &n),
	    WECOM_API_ERR_ARG);
	assert_int_equal(wecom_outbox_admin_drop(&f->conf, NULL, 0),
	    WECOM_API_ERR_ARG);

	memset(&none, 0, sizeof(none));
	snprintf(path, sizeof(path), "%s/nothing-here", f->dir);
	none.state_dir = path;
	memset(&l, 0, sizeof(l));
	assert_int_equal(wecom_outbox_admin_list(&none, 0, on_entry, &l),
	    WECOM_API_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(wecom_outbox_admin_drop(&none, "k", 0),
	    WECOM_OUTBOX_NOT_FOUND);
	assert_int_equal(wecom_outbox_admin_retry(&none, "k", 0, &n),
	    WECOM_OUTBOX_NOT_FOUND);
	assert_int_equal(wecom_outbox_admin_retry(&none, NULL, 0, &n),
	    WECOM_API_OK);
	/* Nothing was created by looking. */
	assert_int_equal(access(path, F_OK), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    lists_queued_then_failed_oldest_first_with_target_and_error,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    retry_queues_a_failed_message_anew_due_now,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    retry_all_moves_every_record_and_leaves_what_is_not_one,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    drop_removes_queued_or_failed_and_leaves_done_alone,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    waits_for_the_drain_lock_then_gives_up,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    refuses_bad_keys_and_knows_an_outbox_never_used,
		    setup, teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
