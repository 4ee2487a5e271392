/* SPDX-License-Identifier: ISC */
/*
 * The put side of the outbox: a message becomes a record in new/. The
 * target is checked against the configuration now, while the caller
 * can still be told, and named by its section only: a record never
 * holds a secret or a webhook key. put returns once the record is on
 * disk (written atomically and fsync'ed), and a key already queued,
 * delivered or failed is not queued again, so a caller may repeat a
 * put it is unsure of.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_private.h"
#include "outbox_private.h"

static int	has_target(const struct wecom_target *);
static char	*dup_or_null(const char *, int *);
static int	put_check(const struct wecom_outbox_to *,
		    const struct wecom_outmsg *, const char *,
		    struct wecom_api_error *);
static int	put_aibot(struct outbox_record *, const struct wecom_conf *,
		    const struct wecom_outbox_to *, const struct wecom_outmsg *,
		    struct wecom_api_error *);
static int	put_forward(struct outbox_record *, const struct wecom_conf *,
		    const struct wecom_outbox_to *, struct wecom_api_error *);
static int	put_robot(struct outbox_record *, const struct wecom_conf *,
		    const struct wecom_outbox_to *, struct wecom_api_error *);
static int	put_app(struct outbox_record *, const struct wecom_conf *,
		    const struct wecom_outbox_to *, struct wecom_api_error *);
static int	put_opts(struct outbox_record *,
		    const struct wecom_send_opts *, struct wecom_api_error *);
static void	put_stamp(struct outbox_record *, const struct wecom_conf *,
		    const char *);
static int	put_encode(struct outbox_record *,
		    const struct wecom_outmsg *, char **,
		    struct wecom_api_error *);
static int	put_store(const struct outbox_record *, const char *,
		    const char *, struct wecom_api_error *);

static int
has_target(const struct wecom_target *to)
{
	return ((to->touser && *to->touser) || (to->toparty && *to->toparty) ||
	    (to->totag && *to->totag));
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

static int
put_check(const struct wecom_outbox_to *dst, const struct wecom_outmsg *m,
    const char *key, struct wecom_api_error *err)
{
	if (dst == NULL || m == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "the outbox needs a target and a message"));
	if (key != NULL && wecom_outbox_key_valid(key) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "an outbox key is 1 to %d of A-Z a-z 0-9 _ . - "
		    "(not starting with .)", WECOM_OUTBOX_KEY_MAX));

	return (WECOM_API_OK);
}

/* A robot by its [robot NAME] section, which must hold a key. */
static int
put_robot(struct outbox_record *r, const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, struct wecom_api_error *err)
{
	int	nomem;

	nomem = 0;
	if (dst->chat != NULL || has_target(&dst->to))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "a robot message has no other target"));
	if (wecom_robot_key(conf, dst->robot) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no such [robot NAME] with a key: the outbox names "
		    "robots by their section and never stores a "
		    "webhook key"));
	r->robot = dup_or_null(dst->robot, &nomem);
	if (nomem)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

/* A message for a forward receiver again: the section that names it. */
static int
put_forward(struct outbox_record *r, const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, struct wecom_api_error *err)
{
	int	nomem;

	if (wecom_conf_section(conf, "app", dst->forward) == NULL &&
	    wecom_conf_section(conf, "aibot", dst->forward) == NULL)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no [app %s] or [aibot %s] to forward for", dst->forward,
		    dst->forward));
	nomem = 0;
	r->forward = dup_or_null(dst->forward, &nomem);
	if (nomem)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

/* A bot on a long connection, and one conversation of it. */
static int
put_aibot(struct outbox_record *r, const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, const struct wecom_outmsg *m,
    struct wecom_api_error *err)
{
	const struct wecom_app_conf	*bot;
	const char			*type;
	int				 nomem;

	if ((bot = wecom_conf_aibot(conf, dst->aibot)) == NULL || !bot->ws)
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no [aibot %s] with mode = websocket: a bot sends "
		    "proactively on its long connection only", dst->aibot));
	if (dst->chat == NULL || *dst->chat == '\0' || has_target(&dst->to))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "a bot's message goes to one chat: a group's chatid or "
		    "a member's UserID"));
	type = wecom_outmsg_type(m);
	if (strcmp(type, "text") != 0 && strcmp(type, "markdown") != 0 &&
	    strcmp(type, "template_card") != 0)
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "a bot sends text, markdown or a template card, not %s",
		    type));
	nomem = 0;
	r->aibot = dup_or_null(bot->name, &nomem);
	r->chat = dup_or_null(dst->chat, &nomem);
	r->chat_type = dst->group ? 2 : 1;
	if (nomem)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

/* An [app] with a secret (the first if none is named), and one target. */
static int
put_app(struct outbox_record *r, const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, struct wecom_api_error *err)
{
	const struct wecom_app_conf	*a;
	int				 nomem;

	nomem = 0;
	a = dst->app != NULL ? wecom_conf_app(conf, dst->app) :
	    TAILQ_FIRST(&conf->apps);
	if (a == NULL || a->secret == NULL || *a->secret == '\0')
		return (wecom_client_err_set(err, WECOM_API_ERR_CONFIG, 0,
		    "no [app %s] with a secret to send with",
		    dst->app ? dst->app : "…"));
	if ((dst->chat == NULL || *dst->chat == '\0') == !has_target(&dst->to))
		return (wecom_client_err_set(err, WECOM_API_ERR_ARG, 0,
		    "give users, parties or tags, or a chat"));
	r->app = dup_or_null(a->name, &nomem);
	r->chat = dup_or_null(dst->chat, &nomem);
	r->touser = dup_or_null(dst->to.touser, &nomem);
	r->toparty = dup_or_null(dst->to.toparty, &nomem);
	r->totag = dup_or_null(dst->to.totag, &nomem);
	if (nomem)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

/* The send options kept; the duplicate check is the outbox's own. */
static int
put_opts(struct outbox_record *r, const struct wecom_send_opts *opts,
    struct wecom_api_error *err)
{
	int	nomem;

	if (opts == NULL)
		return (WECOM_API_OK);
	nomem = 0;
	r->safe = opts->safe;
	r->id_trans = opts->enable_id_trans;
	r->long_content = opts->long_content;
	r->fb_user = dup_or_null(opts->fallback_to.touser, &nomem);
	r->fb_party = dup_or_null(opts->fallback_to.toparty, &nomem);
	r->fb_tag = dup_or_null(opts->fallback_to.totag, &nomem);
	if (nomem)
		return (wecom_client_err_set(err, WECOM_API_ERR_NOMEM, 0,
		    "out of memory"));

	return (WECOM_API_OK);
}

/* The key (given, or random), the times, the duplicate-check window. */
static void
put_stamp(struct outbox_record *r, const struct wecom_conf *conf,
    const char *key)
{
	/* A resend within the max age must fall inside WeCom's window. */
	r->dup_interval = (int)(conf->outbox_max_age < WECOM_DUP_INTERVAL_MAX ?
	    conf->outbox_max_age : WECOM_DUP_INTERVAL_MAX);
	if (key != NULL)
		memcpy(r->key, key, strlen(key) + 1);
	else
		wecom_outbox_key_random(r->key);
	r->created = r->next = wecom_outbox_now_ms();
}

/* The message into the record, and the record into its JSON (*s). */
static int
put_encode(struct outbox_record *r, const struct wecom_outmsg *m,
    char **s, struct wecom_api_error *err)
{
	int	rc;

	*s = NULL;
	if ((rc = wecom_outbox_record_set_msg(r, m)) == WECOM_API_OK &&
	    (*s = wecom_outbox_record_encode(r)) == NULL)
		rc = WECOM_API_ERR_NOMEM;
	if (rc == WECOM_API_ERR_NOMEM)
		return (wecom_client_err_set(err, rc, 0, "out of memory"));
	if (rc != WECOM_API_OK)
		return (wecom_client_err_set(err, rc, 0, "cannot store this %s "
		    "message (not UTF-8?)", wecom_outmsg_type(m)));

	return (WECOM_API_OK);
}

/* new/KEY, unless the key was seen before: put is idempotent. */
static int
put_store(const struct outbox_record *r, const char *state_dir,
    const char *s, struct wecom_api_error *err)
{
	struct outbox_dirs	d;
	int			i, rc;

	if (wecom_outbox_dirs_init(&d, state_dir, 1) != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot create %s/outbox: %s", state_dir,
		    strerror(errno)));
	for (i = OB_NEW; i < OB_NDIRS; i++) {
		if (wecom_outbox_exists(d.sub[i], r->key) == OUTBOX_EXISTS)
			return (WECOM_API_OK);
	}
	rc = wecom_outbox_write(d.sub[OB_NEW], r->key, s, strlen(s),
	    r->created, OUTBOX_EXCL);
	if (rc == OUTBOX_EXISTS)
		return (WECOM_API_OK);
	if (rc != WECOM_API_OK)
		return (wecom_client_err_set(err, WECOM_API_ERR_IO, 0,
		    "cannot write to %s: %s", d.sub[OB_NEW], strerror(errno)));

	return (WECOM_API_OK);
}

int
wecom_outbox_put(const struct wecom_conf *conf,
    const struct wecom_outbox_to *dst, const struct wecom_outmsg *m,
    const struct wecom_send_opts *opts, const char *key,
    char key_out[WECOM_OUTBOX_KEY_MAX + 1], struct wecom_api_error *err)
{
	struct outbox_record	 r;
	char			*s;
	int			 rc;

	wecom_client_err_clear(err);
	memset(&r, 0, sizeof(r));
	s = NULL;
	if ((rc = put_check(dst, m, key, err)) != WECOM_API_OK)
		goto out;
	if (dst->robot != NULL)
		rc = put_robot(&r, conf, dst, err);
	else if (dst->aibot != NULL)
		rc = put_aibot(&r, conf, dst, m, err);
	else if (dst->forward != NULL)
		rc = put_forward(&r, conf, dst, err);
	else
		rc = put_app(&r, conf, dst, err);
	if (rc != WECOM_API_OK ||
	    (rc = put_opts(&r, opts, err)) != WECOM_API_OK)
		goto out;
	put_stamp(&r, conf, key);
	if ((rc = put_encode(&r, m, &s, err)) != WECOM_API_OK)
		goto out;
	/* The store unless it is down or this host's files had the key. */
	if (wecom_outbox_in_files(conf, r.key) ||
	    wecom_outbox_shared_put(conf, &r, s) != WECOM_API_OK)
		rc = put_store(&r, conf->state_dir, s, err);
out:
	if (rc == WECOM_API_OK && key_out != NULL)
		memcpy(key_out, r.key, strlen(r.key) + 1);
	free(s);
	wecom_outbox_record_free(&r);

	return (rc);
}
