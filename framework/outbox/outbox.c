/*
 * The outbox: queue a message (put), send what is due (drain), count
 * what waits (stats).
 *
 * A message goes new/ → sending/ → done/ or failed/ (or back to new/
 * with a later due time), each step one rename or one atomic write.
 * Only the holder of the flock on outbox/lock drains, so a record is
 * never sent by two processes at once; the kernel drops the lock of a
 * killed drainer. Before a send the drainer looks for the key in done/
 * and failed/; a record found in sending/ by the next drainer was cut
 * short by a crash and is sent again, which WeCom's duplicate check
 * absorbs for message/send.
 */

#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "client_private.h"
#include "outbox_private.h"

#define PRUNE_EVERY_MS		(10 * 60 * 1000)
#define TMP_KEEP_MS		(60 * 60 * 1000)
#define LOCK_POLL_MS		20

/* A sender of this drain: an app's client, or a robot's. */
struct dest {
	char			*name;		/* "app NAME", "robot NAME" */
	struct wecom_client	*client;
	int			 fails;		/* transient, in a row */
	TAILQ_ENTRY(dest)	 list;
};

struct drain {
	const struct wecom_conf		*conf;
	struct outbox_dirs		 d;
	wecom_outbox_log_fn		 log;
	void				*arg;
	struct wecom_outbox_stats	*st;
	int64_t				 max_age_ms;
	long				 backoff_ms;
	int				 unsynced;	/* deliveries */
	int				 once;		/* a caller waits */
	TAILQ_HEAD(, dest)		 dests;
};

struct due {
	char		*key;
	int64_t		 next;
	int64_t		 created;
};

static void	olog(struct drain *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static void	describe(const struct outbox_record *, char *, size_t);
static int	has_target(const struct wecom_target *);
static int	transient(int);
static void	drain_init(struct drain *, const struct wecom_conf *,
		    wecom_outbox_log_fn, void *, struct wecom_outbox_stats *);
static void	recover(struct drain *);
static void	prune(struct drain *, int64_t);
static int	load_due(struct drain *, struct due **, size_t *);
static int	due_cmp(const void *, const void *);
static void	drain_one(struct drain *, const char *);
static int	send_record(struct drain *, struct dest *,
		    const struct outbox_record *, struct wecom_send_result *,
		    struct wecom_api_error *);
static struct dest	*dest_get(struct drain *, const struct outbox_record *,
			    struct wecom_api_error *);
static void	dests_free(struct drain *);
static int	put_record(struct drain *, int, struct outbox_record *);
static void	fail_record(struct drain *, int, struct outbox_record *,
		    const char *);
static void	count_queue(const struct outbox_dirs *, size_t *, long *);
static void	sync_dirs(struct drain *);

static void
olog(struct drain *dr, int pri, const char *fmt, ...)
{
	char	line[1024];
	va_list	ap;
	int	n;

	if (dr->log == NULL)
		return;
	n = snprintf(line, sizeof(line), "outbox: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	dr->log(dr->arg, pri, line);
}

/* "app main to zhangsan|lisi", "app main chat X", "robot ops". */
static void
describe(const struct outbox_record *r, char *buf, size_t len)
{
	if (r->robot != NULL)
		snprintf(buf, len, "robot %s", r->robot);
	else if (r->chat != NULL)
		snprintf(buf, len, "app %s chat %s", r->app, r->chat);
	else
		snprintf(buf, len, "app %s to%s%s%s%s%s%s", r->app,
		    r->touser ? " " : "", r->touser ? r->touser : "",
		    r->toparty ? " party " : "", r->toparty ? r->toparty : "",
		    r->totag ? " tag " : "", r->totag ? r->totag : "");
}

static int
has_target(const struct wecom_target *to)
{
	return ((to->touser && *to->touser) || (to->toparty && *to->toparty) ||
	    (to->totag && *to->totag));
}

/*
 * Worth another attempt later: WeCom or the network may come back, a
 * configuration may be fixed. What WeCom refused stays refused.
 */
static int
transient(int code)
{
	switch (code) {
	case WECOM_API_ERR_REJECTED:
	case WECOM_API_ERR_HTTP:
	case WECOM_API_ERR_ARG:
		return (0);
	}

	return (1);
}

static char *
dup_or_null(const char *s, int *fail)
{
	char	*d;

	if (s == NULL || *s == '\0')
		return (NULL);
	if ((d = strdup(s)) == NULL)
		*fail = 1;
	return (d);
}

int
wecom_outbox_put(const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, const struct wecom_message *m,
    const struct wecom_send_opts *opts, const char *key,
    char key_out[WECOM_OUTBOX_KEY_MAX + 1], struct wecom_api_error *err)
{
	const struct wecom_app_conf	*a;
	struct outbox_dirs		 d;
	struct outbox_record		 r;
	char				*s;
	int				 rc, i, nomem;

	client_err_clear(err);
	memset(&r, 0, sizeof(r));
	s = NULL;
	nomem = 0;
	if (dst == NULL || m == NULL)
		return (client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "the outbox needs a target and a message"));
	if (key != NULL && outbox_key_valid(key) != WECOM_API_OK)
		return (client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "an outbox key is 1 to %d of A-Z a-z 0-9 _ . - "
		    "(not starting with .)", WECOM_OUTBOX_KEY_MAX));

	if (dst->robot != NULL) {
		if (dst->chat != NULL || has_target(&dst->to))
			return (client_err_set(err, WECOM_API_ERR_ARG, 0,
			    "a robot message has no other target"));
		if (wecom_robot_key(conf, dst->robot) == NULL)
			return (client_err_set(err, WECOM_API_ERR_CONFIG, 0,
			    "no such [robot NAME] with a key: the outbox names "
			    "robots by their section and never stores a "
			    "webhook key"));
		r.robot = dup_or_null(dst->robot, &nomem);
	} else {
		a = dst->app != NULL ? wecom_conf_app(conf, dst->app) :
		    TAILQ_FIRST(&conf->apps);
		if (a == NULL || a->secret == NULL || *a->secret == '\0')
			return (client_err_set(err, WECOM_API_ERR_CONFIG, 0,
			    "no [app %s] with a secret to send with",
			    dst->app ? dst->app : "…"));
		if ((dst->chat == NULL || *dst->chat == '\0') ==
		    !has_target(&dst->to))
			return (client_err_set(err, WECOM_API_ERR_ARG, 0,
			    "give users, parties or tags, or a chat"));
		r.app = dup_or_null(a->name, &nomem);
		r.chat = dup_or_null(dst->chat, &nomem);
		r.touser = dup_or_null(dst->to.touser, &nomem);
		r.toparty = dup_or_null(dst->to.toparty, &nomem);
		r.totag = dup_or_null(dst->to.totag, &nomem);
	}
	if (opts != NULL) {
		r.safe = opts->safe;
		r.id_trans = opts->enable_id_trans;
		r.long_content = opts->long_content;
		r.fb_user = dup_or_null(opts->fallback_to.touser, &nomem);
		r.fb_party = dup_or_null(opts->fallback_to.toparty, &nomem);
		r.fb_tag = dup_or_null(opts->fallback_to.totag, &nomem);
	}
	/* A resend within the max age must fall inside WeCom's window. */
	r.dup_interval = (int)(conf->outbox_max_age < WECOM_DUP_INTERVAL_MAX ?
	    conf->outbox_max_age : WECOM_DUP_INTERVAL_MAX);
	if (key != NULL)
		memcpy(r.key, key, strlen(key) + 1);
	else
		outbox_key_random(r.key);
	r.created = r.next = outbox_now_ms();

	if (nomem || (rc = outbox_record_set_msg(&r, m)) == WECOM_API_ERR_NOMEM ||
	    (rc == WECOM_API_OK && (s = outbox_record_encode(&r)) == NULL)) {
		rc = client_err_set(err, WECOM_API_ERR_NOMEM, 0, "out of memory");
		goto out;
	}
	if (rc != WECOM_API_OK) {
		rc = client_err_set(err, rc, 0, "cannot store this %s message "
		    "(not UTF-8?)", wecom_msg_type(m));
		goto out;
	}

	if (outbox_dirs_init(&d, conf->state_dir, 1) != WECOM_API_OK) {
		rc = client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot create %s/outbox: %s", conf->state_dir,
		    strerror(errno));
		goto out;
	}
	/* A key seen before is not queued again: put is idempotent. */
	for (i = OB_NEW; i < OB_NDIRS; i++) {
		if (outbox_exists(d.sub[i], r.key) == OUTBOX_EXISTS) {
			rc = WECOM_API_OK;
			goto out;
		}
	}
	rc = outbox_write(d.sub[OB_NEW], r.key, s, strlen(s), r.created,
	    OUTBOX_EXCL);
	if (rc == OUTBOX_EXISTS)
		rc = WECOM_API_OK;
	else if (rc != WECOM_API_OK)
		rc = client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot write to %s: %s", d.sub[OB_NEW], strerror(errno));
out:
	if (rc == WECOM_API_OK && key_out != NULL)
		memcpy(key_out, r.key, strlen(r.key) + 1);
	free(s);
	outbox_record_free(&r);

	return (rc);
}

/*
 * WECOM_API_OK with *fd locked, OUTBOX_EXISTS if another drainer still
 * holds it after wait_ms.
 */
int
outbox_lock(const struct outbox_dirs *d, long wait_ms, int *fd)
{
	char	path[PATH_MAX];
	int	n;

	*fd = -1;
	n = snprintf(path, sizeof(path), "%s/lock", d->root);
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    (*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return (WECOM_API_ERR_IO);
	while (flock(*fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK && wait_ms > 0) {
			/* flock has no timeout of its own. */
			client_sleep_ms(wait_ms < LOCK_POLL_MS ? wait_ms :
			    LOCK_POLL_MS);
			wait_ms -= LOCK_POLL_MS;
			continue;
		}
		n = errno == EWOULDBLOCK ? OUTBOX_EXISTS : WECOM_API_ERR_IO;
		close(*fd);
		*fd = -1;
		return (n);
	}

	return (WECOM_API_OK);
}

static void
drain_init(struct drain *dr, const struct wecom_conf *conf,
    wecom_outbox_log_fn log, void *arg, struct wecom_outbox_stats *st)
{
	memset(st, 0, sizeof(*st));
	memset(dr, 0, sizeof(*dr));
	dr->conf = conf;
	dr->log = log;
	dr->arg = arg;
	dr->st = st;
	/* Checked at load, the environment override applied. */
	dr->max_age_ms = (int64_t)conf->outbox_max_age * 1000;
	dr->backoff_ms = conf->outbox_backoff_ms;
	TAILQ_INIT(&dr->dests);
}

int
wecom_outbox_drain(const struct wecom_conf *conf, long budget_ms, int max,
    wecom_outbox_log_fn log, void *arg, struct wecom_outbox_stats *st)
{
	struct wecom_outbox_stats	 local;
	struct drain			 dr;
	struct due			*due;
	struct timespec			 t0, t1;
	size_t				 n, i;
	int64_t				 now;
	int				 fd, rc, sent;

	if (st == NULL)
		st = &local;
	drain_init(&dr, conf, log, arg, st);
	if (max == 0)
		max = (int)conf->outbox_batch;

	if (outbox_dirs_init(&dr.d, conf->state_dir, 1) != WECOM_API_OK) {
		olog(&dr, LOG_ERR, "cannot create %s/outbox: %s",
		    conf->state_dir, strerror(errno));
		return (WECOM_API_ERR_IO);
	}
	if ((rc = outbox_lock(&dr.d, 0, &fd)) == OUTBOX_EXISTS) {
		st->busy = 1;
		count_queue(&dr.d, &st->remaining, &st->oldest_age);
		return (WECOM_API_OK);
	}
	if (rc != WECOM_API_OK) {
		olog(&dr, LOG_ERR, "cannot lock %s/lock: %s", dr.d.root,
		    strerror(errno));
		return (WECOM_API_ERR_IO);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	recover(&dr);
	prune(&dr, outbox_now_ms());
	rc = load_due(&dr, &due, &n);
	for (i = 0, sent = 0; rc == WECOM_API_OK && i < n; i++) {
		now = outbox_now_ms();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (due[i].next > now || (max > 0 && sent >= max) ||
		    (budget_ms > 0 && (t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= budget_ms))
			break;
		drain_one(&dr, due[i].key);
		sent++;
	}
	for (i = 0; i < n; i++)
		free(due[i].key);
	free(due);
	dests_free(&dr);
	sync_dirs(&dr);
	count_queue(&dr.d, &st->remaining, &st->oldest_age);
	close(fd);

	return (rc);
}

/* Under the lock: one record now, due or not (outbox_send.c). */
void
outbox_drain_key(const struct wecom_conf *conf, const struct outbox_dirs *d,
    const char *key, wecom_outbox_log_fn log, void *arg)
{
	struct wecom_outbox_stats	st;
	struct drain			dr;

	drain_init(&dr, conf, log, arg, &st);
	dr.d = *d;
	dr.once = 1;
	drain_one(&dr, key);
	dests_free(&dr);
	sync_dirs(&dr);
}

/*
 * A record in sending/ belongs to a drainer that died (we hold the
 * lock): it may or may not have reached WeCom. Unless done/ says it
 * did, it is due again at once, inside the duplicate-check window.
 */
static void
recover(struct drain *dr)
{
	struct outbox_record	  r;
	char			**keys, *data, what[256];
	size_t			  n, i, len;
	int64_t			  now;

	if (outbox_list(dr->d.sub[OB_SENDING], &keys, &n) != WECOM_API_OK)
		return;
	for (i = 0; i < n; i++) {
		if (outbox_exists(dr->d.sub[OB_DONE], keys[i]) ==
		    OUTBOX_EXISTS ||
		    outbox_exists(dr->d.sub[OB_FAILED], keys[i]) ==
		    OUTBOX_EXISTS) {
			outbox_remove(dr->d.sub[OB_NEW], keys[i], 0);
			outbox_remove(dr->d.sub[OB_SENDING], keys[i], 0);
			continue;
		}
		if (outbox_read(dr->d.sub[OB_SENDING], keys[i], &data, &len) !=
		    WECOM_API_OK)
			continue;
		dr->st->recovered++;
		if (outbox_record_decode(&r, data, len) != WECOM_API_OK) {
			olog(dr, LOG_ERR, "%s: not a record, moved to failed/",
			    keys[i]);
			outbox_move(dr->d.sub[OB_SENDING], dr->d.sub[OB_FAILED],
			    keys[i], 0);
			dr->st->failed++;
			free(data);
			continue;
		}
		free(data);
		now = outbox_now_ms();
		r.attempts++;
		r.interrupted++;
		r.inflight = now;
		r.next = now;
		describe(&r, what, sizeof(what));
		if (r.interrupted >= OUTBOX_INTERRUPT_MAX) {
			olog(dr, LOG_ERR, "%s (%s): a drainer stopped %d times "
			    "while sending it; it may have been delivered",
			    r.key, what, r.interrupted);
			fail_record(dr, OB_SENDING, &r, "interrupted");
		} else {
			olog(dr, LOG_WARNING, "%s (%s): a drainer stopped while "
			    "sending it; sending it again%s", r.key, what,
			    r.robot || r.chat ? " (robots and chats have no "
			    "duplicate check: it may arrive twice)" : "");
			put_record(dr, OB_SENDING, &r);
		}
		outbox_record_free(&r);
	}
	outbox_list_free(keys, n);
}

/*
 * done/ keeps a key for twice the max age, long enough for any put of
 * the same key to be recognised; failed/ is the operator's to clear.
 * Temporary files of killed writers go after an hour.
 */
static void
prune(struct drain *dr, int64_t now)
{
	char		path[PATH_MAX];
	struct stat	st;
	int		i, n, fd;

	n = snprintf(path, sizeof(path), "%s/.pruned", dr->d.root);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	if (stat(path, &st) == 0 &&
	    now - (int64_t)st.st_mtim.tv_sec * 1000 < PRUNE_EVERY_MS)
		return;
	outbox_prune(dr->d.sub[OB_DONE], now - 2 * dr->max_age_ms,
	    now - TMP_KEEP_MS);
	for (i = 0; i < OB_NDIRS; i++) {
		if (i != OB_DONE)
			outbox_prune(dr->d.sub[i], 0, now - TMP_KEEP_MS);
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) != -1) {
		futimens(fd, NULL);
		close(fd);
	}
}

static int
due_cmp(const void *a, const void *b)
{
	const struct due	*x = a, *y = b;

	if (x->next != y->next)
		return (x->next < y->next ? -1 : 1);
	if (x->created != y->created)
		return (x->created < y->created ? -1 : 1);
	return (strcmp(x->key, y->key));
}

/* The queue, soonest due first; unreadable records go to failed/. */
static int
load_due(struct drain *dr, struct due **out, size_t *nout)
{
	struct outbox_record	  r;
	struct due		 *v;
	char			**keys, *data;
	size_t			  n, i, len;
	int			  rc;

	*out = NULL;
	*nout = 0;
	if ((rc = outbox_list(dr->d.sub[OB_NEW], &keys, &n)) != WECOM_API_OK)
		return (rc == OUTBOX_MISSING ? WECOM_API_OK : rc);
	if (n == 0) {
		outbox_list_free(keys, n);
		return (WECOM_API_OK);
	}
	if ((v = calloc(n, sizeof(*v))) == NULL) {
		outbox_list_free(keys, n);
		return (WECOM_API_ERR_NOMEM);
	}
	for (i = 0; i < n; i++) {
		if ((rc = outbox_read(dr->d.sub[OB_NEW], keys[i], &data,
		    &len)) != WECOM_API_OK) {
			/* Otherwise it would wait there, unsaid, for ever. */
			if (errno == EACCES)
				olog(dr, LOG_ERR, "%s: %s: written by another "
				    "user? Queue as the server's user (or chown "
				    "it)", keys[i], strerror(errno));
			free(keys[i]);
			continue;
		}
		if (outbox_record_decode(&r, data, len) != WECOM_API_OK) {
			olog(dr, LOG_ERR, "%s: not a record, moved to failed/",
			    keys[i]);
			outbox_move(dr->d.sub[OB_NEW], dr->d.sub[OB_FAILED],
			    keys[i], 0);
			dr->st->failed++;
			free(keys[i]);
		} else {
			v[*nout].key = keys[i];
			v[*nout].next = r.next;
			v[*nout].created = r.created;
			(*nout)++;
			outbox_record_free(&r);
		}
		free(data);
	}
	free(keys);
	qsort(v, *nout, sizeof(*v), due_cmp);
	*out = v;

	return (WECOM_API_OK);
}

/* Back to new/ (updated), then gone from the directory it came from. */
static int
put_record(struct drain *dr, int from, struct outbox_record *r)
{
	char	*s;
	int	 rc;

	if ((s = outbox_record_encode(r)) == NULL)
		return (WECOM_API_ERR_NOMEM);
	rc = outbox_write(dr->d.sub[OB_NEW], r->key, s, strlen(s),
	    r->created, 0);
	free(s);
	if (rc != WECOM_API_OK) {
		olog(dr, LOG_ERR, "%s: cannot write to %s: %s", r->key,
		    dr->d.sub[OB_NEW], strerror(errno));
		return (rc);
	}
	if (from != OB_NEW)
		outbox_remove(dr->d.sub[from], r->key, 0);

	return (WECOM_API_OK);
}

/* To failed/, with the last error and why; reported by the caller. */
static void
fail_record(struct drain *dr, int from, struct outbox_record *r,
    const char *why)
{
	char	*s;

	r->failed_at = outbox_now_ms();
	snprintf(r->failed_why, sizeof(r->failed_why), "%s", why);
	dr->st->failed++;
	if ((s = outbox_record_encode(r)) == NULL ||
	    outbox_write(dr->d.sub[OB_FAILED], r->key, s, strlen(s),
	    r->created, 0) != WECOM_API_OK) {
		/* Keeps the record where it is: better late than lost. */
		olog(dr, LOG_ERR, "%s: cannot write to %s: %s", r->key,
		    dr->d.sub[OB_FAILED], strerror(errno));
		if (from == OB_SENDING)
			outbox_move(dr->d.sub[OB_SENDING], dr->d.sub[OB_NEW],
			    r->key, 0);
		free(s);
		return;
	}
	free(s);
	outbox_remove(dr->d.sub[from], r->key, 0);
}

static void
fail_log(struct drain *dr, const struct outbox_record *r, const char *why)
{
	char	what[256], code[32];

	describe(r, what, sizeof(what));
	code[0] = '\0';
	if (r->error.errcode != 0)
		snprintf(code, sizeof(code), "errcode %ld: ", r->error.errcode);
	olog(dr, LOG_ERR, "%s (%s) failed: %s after %d attempt%s: %s%s%s%s",
	    r->key, what, why, r->attempts, r->attempts == 1 ? "" : "s", code,
	    r->error.errmsg ? r->error.errmsg : "no answer",
	    r->error.hint ? "; hint: " : "",
	    r->error.hint ? r->error.hint : "");
}

/* One due record: sent and done, back to new/ for later, or failed. */
static void
drain_one(struct drain *dr, const char *key)
{
	struct outbox_record		 r;
	struct wecom_send_result	 res;
	struct wecom_api_error		 err;
	struct dest			*dst;
	json_t				*done;
	char				*data, *s, what[256];
	size_t				 len;
	int64_t				 now;
	long				 wait;
	int				 rc;

	/* Delivered or failed before a crash let it linger here. */
	if (outbox_exists(dr->d.sub[OB_DONE], key) == OUTBOX_EXISTS ||
	    outbox_exists(dr->d.sub[OB_FAILED], key) == OUTBOX_EXISTS) {
		outbox_remove(dr->d.sub[OB_NEW], key, 0);
		return;
	}
	if (outbox_read(dr->d.sub[OB_NEW], key, &data, &len) != WECOM_API_OK)
		return;
	rc = outbox_record_decode(&r, data, len);
	free(data);
	if (rc != WECOM_API_OK)
		return;		/* load_due() has just read it whole */

	now = outbox_now_ms();
	if (now - r.created >= dr->max_age_ms) {
		if (r.error.code == 0)
			outbox_record_set_error(&r, &(struct wecom_api_error){
			    .code = WECOM_API_ERR_UNAVAILABLE,
			    .errmsg = "never sent" }, now);
		fail_log(dr, &r, "outbox_max_age reached");
		fail_record(dr, OB_NEW, &r, "max_age");
		outbox_record_free(&r);
		return;
	}
	memset(&res, 0, sizeof(res));
	client_err_clear(&err);
	if ((dst = dest_get(dr, &r, &err)) != NULL &&
	    dst->fails >= OUTBOX_DEST_FAILS) {
		outbox_record_free(&r);
		return;		/* that destination is down: next drain */
	}
	if (outbox_move(dr->d.sub[OB_NEW], dr->d.sub[OB_SENDING], key,
	    OUTBOX_LAZY) != WECOM_API_OK) {
		outbox_record_free(&r);
		return;
	}

	r.attempts++;
	rc = dst != NULL ? send_record(dr, dst, &r, &res, &err) : err.code;
	now = outbox_now_ms();
	describe(&r, what, sizeof(what));
	if (rc == WECOM_API_OK) {
		dst->fails = 0;
		dr->st->delivered++;
		done = json_pack("{s:i, s:s, s:I, s:I, s:i, s:s*, s:s*, s:s*, "
		    "s:s*, s:s*, s:s*}", "v", OUTBOX_VERSION, "key", r.key,
		    "created", (json_int_t)r.created,
		    "delivered", (json_int_t)now, "attempts", r.attempts,
		    "app", r.app, "robot", r.robot, "msgid", res.msgid,
		    "invaliduser", res.invaliduser,
		    "invalidparty", res.invalidparty,
		    "invalidtag", res.invalidtag);
		s = done != NULL ? json_dumps(done, JSON_COMPACT) : NULL;
		/*
		 * Without done/ the record stays in sending/: the next
		 * drainer sends it again, into the duplicate check.
		 */
		if (s == NULL || outbox_write(dr->d.sub[OB_DONE], key, s,
		    strlen(s), 0, OUTBOX_LAZY) != WECOM_API_OK)
			olog(dr, LOG_ERR, "%s: delivered, but done/ cannot be "
			    "written: %s", key, strerror(errno));
		else
			outbox_remove(dr->d.sub[OB_SENDING], key, OUTBOX_LAZY);
		if (++dr->unsynced >= OUTBOX_SYNC_EVERY)
			sync_dirs(dr);
		free(s);
		json_decref(done);
		olog(dr, LOG_INFO, "%s (%s) delivered, attempt %d%s%s", key,
		    what, r.attempts, res.msgid ? ", msgid " : "",
		    res.msgid ? res.msgid : "");
	} else if (transient(rc)) {
		if (dst != NULL)
			dst->fails++;
		outbox_record_set_error(&r, &err, now);
		if (now - r.created >= dr->max_age_ms) {
			fail_log(dr, &r, "outbox_max_age reached");
			fail_record(dr, OB_SENDING, &r, "max_age");
		} else {
			wait = outbox_backoff_ms(dr->backoff_ms, r.attempts,
			    arc4random());
			/* The last try falls on the max age, not after it. */
			r.next = now + wait < r.created + dr->max_age_ms ?
			    now + wait : r.created + dr->max_age_ms;
			dr->st->retried++;
			olog(dr, rc == WECOM_API_ERR_CONFIG ? LOG_ERR :
			    LOG_WARNING, "%s (%s): %s (%s); attempt %d in "
			    "%.1f s", key, what, wecom_api_strerror(rc),
			    err.errmsg, r.attempts + 1,
			    (double)(r.next - now) / 1000);
			put_record(dr, OB_SENDING, &r);
		}
	} else {
		outbox_record_set_error(&r, &err, now);
		fail_log(dr, &r, "rejected");
		fail_record(dr, OB_SENDING, &r, "rejected");
	}
	wecom_send_result_free(&res);
	outbox_record_free(&r);
}

static int
send_record(struct drain *dr, struct dest *dst, const struct outbox_record *r,
    struct wecom_send_result *res, struct wecom_api_error *err)
{
	struct wecom_send_opts	 o;
	struct wecom_target	 to;
	struct wecom_message	*m;
	const char		*key;
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.safe = r->safe;
	o.enable_id_trans = r->id_trans;
	o.long_content = r->long_content;
	o.fallback_to.touser = r->fb_user;
	o.fallback_to.toparty = r->fb_party;
	o.fallback_to.totag = r->fb_tag;
	o.enable_duplicate_check = r->dup_interval > 0;
	o.duplicate_check_interval = r->dup_interval;
	if ((m = outbox_record_msg(r)) == NULL)
		return (client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "the stored %s message cannot be rebuilt",
		    json_string_value(json_object_get(r->msg, "msgtype"))));

	if (r->robot != NULL) {
		if ((key = wecom_robot_key(dr->conf, r->robot)) == NULL)
			rc = client_err_set(err, WECOM_API_ERR_CONFIG, 0,
			    "no [robot %s] with a key", r->robot);
		else
			rc = wecom_webhook_send(dst->client, key, m, &o, res,
			    err);
	} else if (r->chat != NULL) {
		rc = wecom_appchat_send(dst->client, r->chat, m, &o, res, err);
	} else {
		to.touser = r->touser;
		to.toparty = r->toparty;
		to.totag = r->totag;
		rc = wecom_message_send(dst->client, &to, m, &o, res, err);
	}
	wecom_msg_free(m);

	return (rc);
}

/*
 * Makes the last deliveries' steps durable. Until then a power cut may
 * undo them: those messages are sent again, into the duplicate check.
 */
static void
sync_dirs(struct drain *dr)
{
	if (dr->unsynced == 0)
		return;
	outbox_sync_dir(dr->d.sub[OB_DONE]);
	outbox_sync_dir(dr->d.sub[OB_SENDING]);
	outbox_sync_dir(dr->d.sub[OB_NEW]);
	dr->unsynced = 0;
}

/* The client of a record's app or robot, made once per drain. */
static struct dest *
dest_get(struct drain *dr, const struct outbox_record *r,
    struct wecom_api_error *err)
{
	struct dest	*dst;
	char		 name[256];

	snprintf(name, sizeof(name), "%s %s", r->robot ? "robot" : "app",
	    r->robot ? r->robot : r->app);
	TAILQ_FOREACH(dst, &dr->dests, list) {
		if (strcmp(dst->name, name) == 0)
			return (dst);
	}
	if ((dst = calloc(1, sizeof(*dst))) == NULL ||
	    (dst->name = strdup(name)) == NULL) {
		free(dst);
		client_err_set(err, WECOM_API_ERR_NOMEM, 0, "out of memory");
		return (NULL);
	}
	dst->client = r->robot != NULL ?
	    wecom_client_new_robot(dr->conf, err) :
	    wecom_client_new(dr->conf, r->app, err);
	if (dst->client == NULL) {
		free(dst->name);
		free(dst);
		return (NULL);
	}
	/*
	 * A caller waits for this one: a single try, and no wait for a
	 * robot's turn. What fails is retried by the next drain.
	 */
	if (dr->once)
		wecom_client_set_retry(dst->client, 1, 0, 1);
	TAILQ_INSERT_TAIL(&dr->dests, dst, list);

	return (dst);
}

static void
dests_free(struct drain *dr)
{
	struct dest	*dst;

	while ((dst = TAILQ_FIRST(&dr->dests)) != NULL) {
		TAILQ_REMOVE(&dr->dests, dst, list);
		wecom_client_free(dst->client);
		free(dst->name);
		free(dst);
	}
}

/* Queued records (new/ and sending/); a record's mtime is its birth. */
static void
count_queue(const struct outbox_dirs *d, size_t *depth, long *oldest_age)
{
	DIR		*dp;
	struct dirent	*de;
	struct stat	 st;
	time_t		 now, oldest;
	int		 i;

	*depth = 0;
	*oldest_age = 0;
	now = time(NULL);
	oldest = now;
	for (i = OB_NEW; i <= OB_SENDING; i++) {
		if ((dp = opendir(d->sub[i])) == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.' || fstatat(dirfd(dp),
			    de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1)
				continue;
			(*depth)++;
			if (st.st_mtime < oldest)
				oldest = st.st_mtime;
		}
		closedir(dp);
	}
	*oldest_age = (long)(now - oldest);
}

int
wecom_outbox_stats(const struct wecom_conf *conf, size_t *depth,
    long *oldest_age)
{
	struct outbox_dirs	d;

	*depth = 0;
	*oldest_age = 0;
	if (outbox_dirs_init(&d, conf->state_dir, 0) != WECOM_API_OK)
		return (WECOM_API_ERR_IO);
	count_queue(&d, depth, oldest_age);

	return (WECOM_API_OK);
}
