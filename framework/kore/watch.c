/* SPDX-License-Identifier: ISC */
/*
 * The credential watch. Every check of a credential — an app's secret
 * (upkeep.c's gettoken), a bot's subscribe on its long connection —
 * ends here, on worker 1's chore thread. A credential that starts
 * failing raises one alert, and one that works again one recovery
 * message, to watch_robot and/or through watch_app to watch_to. Both go
 * through the outbox, so they wait out an outage of WeCom, under a key
 * made of the credential, the transition and its time. The last state
 * of each credential is kept in state_dir/credential-watch: a restart
 * neither alerts again nor misses a recovery.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <kore/kore.h>

#include "wecom.h"
#include "wecom_app.h"
#include "wecom_client.h"
#include "wecom_config.h"
#include "wecom_metrics.h"
#include "wecom_outbox.h"
#include "wecom_server.h"

#define CREDS_MAX	64		/* as many as the metrics name */
#define STATE_FILE	"credential-watch"

struct cred {
	int	state;			/* 1 ok, 0 failing, -1 not known */
	int64_t	since;			/* of state */
};

static struct wecom_server	*srv;
static struct cred		 creds[CREDS_MAX];
static int			 loaded;

static void	watch_load(void);
static void	watch_save(void);
static void	watch_send(const struct wecom_app *, int, long, int,
		    int64_t, int64_t);
static int	watch_put(const struct wecom_app *, struct wecom_outbox_to *,
		    const struct wecom_outmsg *, int, int64_t, char);
static void	watch_text(char *, size_t, const struct wecom_app *, int,
		    long, int, int64_t, int64_t);
static const char	*watch_zh(long, int);
static void	watch_time(char *, size_t, int64_t);

/* In the parent: the recipients must exist, or alerts would fail late. */
int
wecom_watch_init(struct wecom_server *s, char *err, size_t errlen)
{
	const struct wecom_conf		*c = &s->conf;
	const struct wecom_app_conf	*app;

	srv = s;
	if (c->watch_robot != NULL &&
	    wecom_conf_section(c, "robot", c->watch_robot) == NULL) {
		snprintf(err, errlen, "[global] watch_robot: no [robot %s]",
		    c->watch_robot);
		return (WECOM_ERROR);
	}
	if (c->watch_app == NULL && c->watch_to == NULL)
		return (WECOM_OK);
	if (c->watch_app == NULL || c->watch_to == NULL) {
		snprintf(err, errlen, "[global] watch_app and watch_to go "
		    "together");
		return (WECOM_ERROR);
	}
	if ((app = wecom_conf_app(c, c->watch_app)) == NULL ||
	    app->secret == NULL) {
		snprintf(err, errlen, "[global] watch_app: no [app %s] with a "
		    "secret", c->watch_app);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/*
 * A check's result: ok, else WeCom's errcode (0 if none came) and our
 * code (WECOM_API_*; for a bot 0). Told to the shared metrics always,
 * to people on a change only.
 */
void
wecom_watch_check(const struct wecom_app *app, int ok, long errcode,
    int code, int64_t now)
{
	struct wecom_metrics_check	 c;
	struct cred			*cr, prev;

	if (app->index >= CREDS_MAX)
		return;
	if (!loaded)
		watch_load();
	cr = &creds[app->index];
	prev = *cr;
	if (cr->state != ok) {
		cr->state = ok;
		cr->since = now;
	}
	memset(&c, 0, sizeof(c));
	c.checked = now;
	c.since = cr->since;
	c.ok = ok;
	c.errcode = ok ? 0 : errcode;
	c.code = ok ? 0 : code;
	wecom_metrics_check_set(srv->metrics, app->index, &c);
	if (prev.state == ok)
		return;

	/* Working from the start is no news; failing from the start is. */
	if (prev.state != -1 || !ok)
		watch_send(app, ok, errcode, code, prev.since, now);
	watch_save();
}

/* "1 1700000000 app NAME" a line: state, since, kind, name to the end. */
static void
watch_load(void)
{
	struct wecom_app	*app;
	FILE			*fp;
	char			 path[1024], line[512], kind[8];
	long long		 since;
	int			 state, n;
	size_t			 i;

	loaded = 1;
	for (i = 0; i < CREDS_MAX; i++)
		creds[i].state = -1;
	snprintf(path, sizeof(path), "%s/%s", srv->conf.state_dir, STATE_FILE);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		n = 0;
		if (sscanf(line, "%d %lld %7s %n", &state, &since, kind, &n) !=
		    3 || n == 0 || (state != 0 && state != 1))
			continue;
		TAILQ_FOREACH(app, &srv->apps, list) {
			if (app->index < CREDS_MAX &&
			    strcmp(app->conf->name, line + n) == 0 &&
			    strcmp(kind, app->conf->kind == WECOM_KIND_AIBOT ?
			    "aibot" : "app") == 0) {
				creds[app->index].state = state;
				creds[app->index].since = since;
			}
		}
	}
	fclose(fp);
}

/* Written whole, then renamed over the old one. */
static void
watch_save(void)
{
	struct wecom_app	*app;
	FILE			*fp;
	char			 path[1024], tmp[1040];
	int			 bad;

	snprintf(path, sizeof(path), "%s/%s", srv->conf.state_dir, STATE_FILE);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL) {
		kore_log(LOG_WARNING, "wecom: cannot write %s: %s", tmp,
		    strerror(errno));
		return;
	}
	TAILQ_FOREACH(app, &srv->apps, list) {
		if (app->index < CREDS_MAX && creds[app->index].state != -1)
			fprintf(fp, "%d %lld %s %s\n", creds[app->index].state,
			    (long long)creds[app->index].since,
			    app->conf->kind == WECOM_KIND_AIBOT ? "aibot" :
			    "app", app->conf->name);
	}
	bad = fflush(fp) != 0 || fsync(fileno(fp)) != 0;
	if (fclose(fp) != 0 || bad || rename(tmp, path) == -1) {
		kore_log(LOG_WARNING, "wecom: cannot write %s: %s", path,
		    strerror(errno));
		unlink(tmp);
	}
}

static void
watch_send(const struct wecom_app *app, int ok, long errcode, int code,
    int64_t prev_since, int64_t now)
{
	const struct wecom_conf	*conf = &srv->conf;
	struct wecom_outbox_to	 to;
	struct wecom_outmsg	*msg;
	char			 text[1536];

	if (conf->watch_robot == NULL && conf->watch_app == NULL)
		return;
	watch_text(text, sizeof(text), app, ok, errcode, code, prev_since,
	    now);
	if ((msg = wecom_outmsg_text(text)) == NULL)
		return;
	if (conf->watch_robot != NULL) {
		memset(&to, 0, sizeof(to));
		to.robot = conf->watch_robot;
		watch_put(app, &to, msg, ok, now, 'r');
	}
	if (conf->watch_app != NULL) {
		memset(&to, 0, sizeof(to));
		to.app = conf->watch_app;
		to.to.touser = conf->watch_to;
		watch_put(app, &to, msg, ok, now, 'a');
	}
	wecom_outmsg_free(msg);
}

/*
 * The key names the credential (a hash of its section), the transition
 * and its time: queued again after a crash, it is the same message.
 */
static int
watch_put(const struct wecom_app *app, struct wecom_outbox_to *to,
    const struct wecom_outmsg *msg, int ok, int64_t now, char dest)
{
	struct wecom_api_error	 err;
	char			 key[WECOM_OUTBOX_KEY_MAX + 1];
	const unsigned char	*p;
	uint64_t		 h;
	int			 rc;

	h = 0xcbf29ce484222325ULL;
	for (p = (const unsigned char *)app->conf->name; *p != '\0'; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	h = (h ^ (uint64_t)app->conf->kind) * 0x100000001b3ULL;
	snprintf(key, sizeof(key), "watch-%016" PRIx64 "-%s-%lld-%c", h,
	    ok ? "up" : "down", (long long)now, dest);
	memset(&err, 0, sizeof(err));
	if ((rc = wecom_outbox_put(&srv->conf, to, msg, NULL, key, NULL,
	    &err)) != WECOM_API_OK) {
		kore_log(LOG_WARNING, "wecom: [%s %s] credential %s: cannot "
		    "queue the message: %s", app->conf->kind ==
		    WECOM_KIND_AIBOT ? "aibot" : "app", app->conf->name, ok ?
		    "recovered" : "failing", err.errmsg);
		return (rc);
	}
	wecom_metrics_alerted(srv->metrics, app->index);
	kore_log(LOG_NOTICE, "wecom: [%s %s] credential %s: message queued "
	    "(%s)", app->conf->kind == WECOM_KIND_AIBOT ? "aibot" : "app",
	    app->conf->name, ok ? "working again" : "failing", key);

	return (rc);
}

/* English, then Chinese; the errcode and its hint, never a secret. */
static void
watch_text(char *buf, size_t len, const struct wecom_app *app, int ok,
    long errcode, int code, int64_t prev_since, int64_t now)
{
	const char	*name = app->conf->name, *hint;
	char		 why[512], since[32];
	int		 bot;

	bot = app->conf->kind == WECOM_KIND_AIBOT;
	if (ok) {
		watch_time(since, sizeof(since), prev_since);
		snprintf(buf, len, "[wecom] Credential working again: %s \"%s\" "
		    "%s (failing since %s, %lld min).\n[企业微信] 凭据已恢复：%s"
		    "「%s」%s（自 %s 起失效）。", bot ? "bot" : "app", name,
		    bot ? "is subscribed on its long connection" : "gets an "
		    "access token", since, (long long)(now - prev_since) / 60,
		    bot ? "智能机器人" : "应用", name, bot ? "长连接已重新订阅成功" :
		    "可以正常获取 access_token", since);
		return;
	}
	hint = errcode != 0 ? wecom_api_hint(errcode) : NULL;
	if (errcode != 0)
		snprintf(why, sizeof(why), "errcode %ld%s%s", errcode,
		    hint ? " — " : "", hint ? hint : "");
	else
		snprintf(why, sizeof(why), "%s", wecom_api_strerror(code));
	snprintf(buf, len, "[wecom] Credential failing: %s \"%s\" %s: %s.\n"
	    "[企业微信] 凭据失效：%s「%s」%s，%s。", bot ? "bot" : "app", name,
	    bot ? "was refused on its long connection" : "cannot get an access "
	    "token", why, bot ? "智能机器人" : "应用", name, bot ?
	    "长连接订阅被拒绝" : "无法获取 access_token", watch_zh(errcode, code));
}

static const char *
watch_zh(long errcode, int code)
{
	static char	buf[160];

	switch (errcode) {
	case 0:
		return (code == WECOM_API_ERR_UNAVAILABLE ? "多次重试后仍无法连接"
		    "企业微信" : "请查看服务日志");
	case 40001:
		return ("错误码 40001：Secret 错误，请使用该应用自己的 Secret");
	case 40013:
		return ("错误码 40013：企业 ID（corpid）错误");
	case 60020:
		return ("错误码 60020：本机 IP 不在该应用的企业可信 IP 中");
	case 853000:
		return ("错误码 853000：bot_id 或 secret 错误");
	}
	/* One chore thread calls this: a static buffer is safe. */
	snprintf(buf, sizeof(buf), "错误码 %ld", errcode);
	return (buf);
}

static void
watch_time(char *buf, size_t len, int64_t t)
{
	time_t		tt = (time_t)t;
	struct tm	tm;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
}
