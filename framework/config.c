/*
 * The INI parser for conf/wecom.conf and the checks on its [global] and
 * [app NAME] sections. Every error names the file, the line and the key,
 * because a config mistake is the first thing a new user meets.
 */

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom_crypto.h"
#include "wecom_config.h"

#define LINE_MAX_LEN	4096
#define SECRET_MAX	1024

struct parse {
	struct wecom_conf		*conf;
	struct wecom_conf_section	*cur;
	char				*err;
	size_t				 errlen;
	int				 line;
};

static int	conf_fail(struct parse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	conf_line(struct parse *, char *);
static int	conf_section(struct parse *, char *);
static int	conf_keyvalue(struct parse *, char *);
static int	conf_resolve(struct parse *, struct wecom_conf_kv *);
static int	conf_read_secret(struct parse *, struct wecom_conf_kv *,
		    const char *);
static int	conf_global(struct parse *);
static int	conf_app(struct parse *, struct wecom_conf_section *);
static int	conf_number(struct parse *, const struct wecom_conf_section *,
		    const char *, long long, long long, long long *);
static const char	*conf_need(struct parse *,
			    const struct wecom_conf_section *, const char *);
static char	*conf_trim(char *);

const char *
wecom_conf_path(void)
{
	const char	*p;

	if ((p = getenv("WECOM_CONF")) != NULL && *p != '\0')
		return (p);
	return (WECOM_CONF_DEFAULT);
}

int
wecom_conf_load(struct wecom_conf *conf, const char *path, char *err,
    size_t errlen)
{
	struct parse			 ps;
	struct wecom_conf_section	*s;
	char				 buf[LINE_MAX_LEN];
	FILE				*fp;
	int				 rc;

	memset(conf, 0, sizeof(*conf));
	TAILQ_INIT(&conf->sections);
	TAILQ_INIT(&conf->apps);
	memset(&ps, 0, sizeof(ps));
	ps.conf = conf;
	ps.err = err;
	ps.errlen = errlen;

	if ((conf->file = strdup(path)) == NULL)
		return (conf_fail(&ps, 0, "out of memory"));
	if ((fp = fopen(path, "r")) == NULL)
		return (conf_fail(&ps, 0, "cannot open: %s", strerror(errno)));

	rc = WECOM_CONF_OK;
	while (rc == WECOM_CONF_OK && fgets(buf, sizeof(buf), fp) != NULL) {
		ps.line++;
		if (strchr(buf, '\n') == NULL && !feof(fp))
			rc = conf_fail(&ps, ps.line, "line too long");
		else
			rc = conf_line(&ps, buf);
	}
	if (rc == WECOM_CONF_OK && ferror(fp))
		rc = conf_fail(&ps, ps.line, "read error");
	fclose(fp);
	if (rc != WECOM_CONF_OK)
		return (rc);

	if ((rc = conf_global(&ps)) != WECOM_CONF_OK)
		return (rc);
	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, "app") == 0 &&
		    (rc = conf_app(&ps, s)) != WECOM_CONF_OK)
			return (rc);
	}

	return (WECOM_CONF_OK);
}

void
wecom_conf_free(struct wecom_conf *conf)
{
	struct wecom_conf_section	*s;
	struct wecom_conf_kv		*kv;
	struct wecom_app_conf		*app;

	while ((app = TAILQ_FIRST(&conf->apps)) != NULL) {
		TAILQ_REMOVE(&conf->apps, app, list);
		free(app);
	}
	while ((s = TAILQ_FIRST(&conf->sections)) != NULL) {
		TAILQ_REMOVE(&conf->sections, s, list);
		while ((kv = TAILQ_FIRST(&s->keys)) != NULL) {
			TAILQ_REMOVE(&s->keys, kv, list);
			/* Values may be secrets: do not leave them in memory. */
			memset(kv->value, 0, strlen(kv->value));
			free(kv->key);
			free(kv->value);
			free(kv);
		}
		free(s->type);
		free(s->name);
		free(s);
	}
	free(conf->file);
	conf->file = NULL;
}

const struct wecom_app_conf *
wecom_conf_app(const struct wecom_conf *conf, const char *name)
{
	const struct wecom_app_conf	*app;

	TAILQ_FOREACH(app, &conf->apps, list) {
		if (strcmp(app->name, name) == 0)
			return (app);
	}

	return (NULL);
}

const struct wecom_conf_section *
wecom_conf_section(const struct wecom_conf *conf, const char *type,
    const char *name)
{
	const struct wecom_conf_section	*s;

	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, type) == 0 && strcmp(s->name, name) == 0)
			return (s);
	}

	return (NULL);
}

/*
 * A [global] number: the environment variable env (if set and not empty)
 * overrides the file; a missing or out-of-range value gives def. The
 * knobs read this way were checked by wecom_conf_load() already.
 */
long
wecom_conf_number(const struct wecom_conf *conf, const char *key,
    const char *env, long def, long min, long max)
{
	const char	*v;
	char		*end;
	long		 n;

	v = wecom_conf_get(wecom_conf_section(conf, "global", ""), key);
	if (env != NULL && getenv(env) != NULL && *getenv(env) != '\0')
		v = getenv(env);
	if (v == NULL)
		return (def);
	n = strtol(v, &end, 10);
	if (end == v || *end != '\0' || n < min || n > max)
		return (def);

	return (n);
}

/* The last value of key in the section, or NULL. */
const char *
wecom_conf_get(const struct wecom_conf_section *s, const char *key)
{
	const struct wecom_conf_kv	*kv;
	const char			*v;

	v = NULL;
	if (s == NULL)
		return (NULL);
	TAILQ_FOREACH(kv, &s->keys, list) {
		if (strcmp(kv->key, key) == 0)
			v = kv->value;
	}

	return (v);
}

static int
conf_line(struct parse *ps, char *buf)
{
	char	*p;

	p = conf_trim(buf);
	if (*p == '\0' || *p == '#' || *p == ';')
		return (WECOM_CONF_OK);
	if (*p == '[')
		return (conf_section(ps, p));

	return (conf_keyvalue(ps, p));
}

static int
conf_section(struct parse *ps, char *p)
{
	struct wecom_conf_section	*s;
	char				*end, *type, *name;

	if ((end = strchr(p, ']')) == NULL || end[1] != '\0')
		return (conf_fail(ps, ps->line, "malformed section header"));
	*end = '\0';
	type = conf_trim(p + 1);
	name = type + strcspn(type, " \t");
	if (*name != '\0') {
		*name++ = '\0';
		name = conf_trim(name);
	}
	if (*type == '\0')
		return (conf_fail(ps, ps->line, "empty section name"));
	/* One-of-a-kind sections: [global], [relay]. */
	if (strcmp(type, "global") != 0 && strcmp(type, "relay") != 0 &&
	    *name == '\0')
		return (conf_fail(ps, ps->line,
		    "section [%s] needs a name, e.g. [%s main]", type, type));
	if (wecom_conf_section(ps->conf, type, name) != NULL)
		return (conf_fail(ps, ps->line, "duplicate section [%s%s%s]",
		    type, *name ? " " : "", name));

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (conf_fail(ps, ps->line, "out of memory"));
	TAILQ_INIT(&s->keys);
	s->line = ps->line;
	s->type = strdup(type);
	s->name = strdup(name);
	TAILQ_INSERT_TAIL(&ps->conf->sections, s, list);
	if (s->type == NULL || s->name == NULL)
		return (conf_fail(ps, ps->line, "out of memory"));
	ps->cur = s;

	return (WECOM_CONF_OK);
}

static int
conf_keyvalue(struct parse *ps, char *p)
{
	struct wecom_conf_kv	*kv;
	char			*eq, *key, *val;
	size_t			 len;

	if ((eq = strchr(p, '=')) == NULL)
		return (conf_fail(ps, ps->line, "expected key = value"));
	if (ps->cur == NULL)
		return (conf_fail(ps, ps->line, "key outside a section"));
	*eq = '\0';
	key = conf_trim(p);
	val = conf_trim(eq + 1);
	len = strlen(val);
	if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
		val[len - 1] = '\0';
		val++;
	}
	if (*key == '\0')
		return (conf_fail(ps, ps->line, "empty key"));

	if ((kv = calloc(1, sizeof(*kv))) == NULL)
		return (conf_fail(ps, ps->line, "out of memory"));
	kv->line = ps->line;
	kv->key = strdup(key);
	kv->value = strdup(val);
	TAILQ_INSERT_TAIL(&ps->cur->keys, kv, list);
	if (kv->key == NULL || kv->value == NULL)
		return (conf_fail(ps, ps->line, "out of memory"));

	return (conf_resolve(ps, kv));
}

/* "env:NAME" and "file:/path" keep secrets out of the config file. */
static int
conf_resolve(struct parse *ps, struct wecom_conf_kv *kv)
{
	const char	*env;
	char		*v;

	if (strncmp(kv->value, "file:", 5) == 0)
		return (conf_read_secret(ps, kv, kv->value + 5));
	if (strncmp(kv->value, "env:", 4) != 0)
		return (WECOM_CONF_OK);

	if ((env = getenv(kv->value + 4)) == NULL || *env == '\0')
		return (conf_fail(ps, kv->line,
		    "key '%s': environment variable %s is not set",
		    kv->key, kv->value + 4));
	if ((v = strdup(env)) == NULL)
		return (conf_fail(ps, kv->line, "out of memory"));
	free(kv->value);
	kv->value = v;

	return (WECOM_CONF_OK);
}

static int
conf_read_secret(struct parse *ps, struct wecom_conf_kv *kv, const char *path)
{
	struct stat	st;
	char		buf[SECRET_MAX + 2], *v;
	ssize_t		n;
	int		fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (conf_fail(ps, kv->line, "key '%s': cannot open %s: %s",
		    kv->key, path, strerror(errno)));

	rc = WECOM_CONF_ERROR;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		conf_fail(ps, kv->line, "key '%s': %s is not a regular file",
		    kv->key, path);
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		conf_fail(ps, kv->line, "key '%s': %s is readable by others "
		    "(mode %03o); chmod 600 it", kv->key, path,
		    (unsigned)(st.st_mode & 0777));
	} else if ((n = read(fd, buf, sizeof(buf) - 1)) < 0 ||
	    (size_t)n > SECRET_MAX) {
		conf_fail(ps, kv->line, "key '%s': cannot read %s (at most "
		    "%d bytes)", kv->key, path, SECRET_MAX);
	} else {
		buf[n] = '\0';
		if ((v = strdup(conf_trim(buf))) == NULL) {
			conf_fail(ps, kv->line, "out of memory");
		} else {
			free(kv->value);
			kv->value = v;
			rc = WECOM_CONF_OK;
		}
	}
	memset(buf, 0, sizeof(buf));
	close(fd);

	return (rc);
}

static int
conf_global(struct parse *ps)
{
	static const char *const	 known[] = { "api_base", "state_dir",
	    "connect_timeout_ms", "timeout_ms", "body_max", "retry_attempts",
	    "retry_base_ms", "retry_max_ms", "timestamp_window",
	    "handler_threads", "dedupe_window", "dedupe_entries",
	    "metrics_path", "healthz_path", "metrics_allow", "outbox_max_age",
	    "outbox_batch", "outbox_interval_ms", "outbox_backoff_ms", "ca_file",
	    NULL };
	static const char *const	 later[] = { "retry_attempts",
	    "retry_base_ms", "retry_max_ms", "outbox_max_age", "outbox_batch",
	    "outbox_interval_ms", "outbox_backoff_ms", NULL };
	struct wecom_conf		*conf = ps->conf;
	const struct wecom_conf_section	*s;
	const struct wecom_conf_kv	*kv;
	const char			*env;
	long long			 n;
	size_t				 i;

	s = wecom_conf_section(conf, "global", "");
	conf->api_base = WECOM_API_BASE_DEFAULT;
	conf->state_dir = WECOM_STATE_DIR_DEFAULT;
	if (s != NULL) {
		TAILQ_FOREACH(kv, &s->keys, list) {
			for (i = 0; known[i] != NULL; i++)
				if (strcmp(known[i], kv->key) == 0)
					break;
			if (known[i] == NULL)
				return (conf_fail(ps, kv->line,
				    "[global]: unknown key '%s'", kv->key));
		}
		if (wecom_conf_get(s, "api_base") != NULL)
			conf->api_base = wecom_conf_get(s, "api_base");
		if (wecom_conf_get(s, "state_dir") != NULL)
			conf->state_dir = wecom_conf_get(s, "state_dir");
	}
	if ((env = getenv("WECOM_API_BASE")) != NULL && *env != '\0')
		conf->api_base = env;
	if (strncmp(conf->api_base, "http://", 7) != 0 &&
	    strncmp(conf->api_base, "https://", 8) != 0)
		return (conf_fail(ps, s ? s->line : 0, "key 'api_base'%s: must "
		    "start with https:// or http://", conf->api_base == env ?
		    " (from environment variable WECOM_API_BASE)" : ""));

	if (conf_number(ps, s, "connect_timeout_ms", 5000, 100, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->connect_timeout_ms = (long)n;
	if (conf_number(ps, s, "timeout_ms", 15000, 100, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->timeout_ms = (long)n;
	if (conf_number(ps, s, "body_max", 256 * 1024, 4096, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->body_max = (size_t)n;
	/* Replay protection: WeCom's timestamps are its own clock's. */
	if (conf_number(ps, s, "timestamp_window", 300, 0, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->timestamp_window = (long)n;
	if (conf_number(ps, s, "handler_threads", 4, 1, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->handler_threads = (long)n;
	/* WeCom's retries come within seconds of each other. 0: off. */
	if (conf_number(ps, s, "dedupe_window", 60, 0, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->dedupe_window = (long)n;
	if (conf_number(ps, s, "dedupe_entries", 512, 16, &n) != 0)
		return (WECOM_CONF_ERROR);
	conf->dedupe_entries = (long)n;

	/* Read later with wecom_conf_number(); a typo must still stop us. */
	for (i = 0; later[i] != NULL; i++) {
		if (conf_number(ps, s, later[i], 1, 1, &n) != 0)
			return (WECOM_CONF_ERROR);
	}

	return (WECOM_CONF_OK);
}

static int
conf_app(struct parse *ps, struct wecom_conf_section *s)
{
	struct wecom_app_conf		*app;
	const struct wecom_app_conf	*o;
	const struct wecom_conf_kv	*kv;
	long long			 agentid;
	const char			*v;

	if ((app = calloc(1, sizeof(*app))) == NULL)
		return (conf_fail(ps, s->line, "out of memory"));
	TAILQ_INSERT_TAIL(&ps->conf->apps, app, list);
	app->section = s;
	app->name = s->name;
	app->secret = wecom_conf_get(s, "secret");
	if ((app->handler = wecom_conf_get(s, "handler")) == NULL)
		app->handler = s->name;

	/*
	 * An app that only sends (wecom-send, alerts) needs no callback
	 * settings; one that receives callbacks needs all three.
	 */
	app->token = wecom_conf_get(s, "token");
	app->aeskey = wecom_conf_get(s, "aeskey");
	app->path = wecom_conf_get(s, "path");
	if ((app->corpid = conf_need(ps, s, "corpid")) == NULL ||
	    conf_need(ps, s, "agentid") == NULL)
		return (WECOM_CONF_ERROR);
	if ((app->secret == NULL || app->token != NULL || app->aeskey != NULL ||
	    app->path != NULL) && (conf_need(ps, s, "token") == NULL ||
	    conf_need(ps, s, "aeskey") == NULL || conf_need(ps, s, "path") ==
	    NULL))
		return (WECOM_CONF_ERROR);
	if (conf_number(ps, s, "agentid", 0, 0, &agentid) != 0)
		return (WECOM_CONF_ERROR);
	app->agentid = agentid;

	TAILQ_FOREACH(kv, &s->keys, list) {
		v = kv->value;
		if (strcmp(kv->key, "aeskey") == 0 &&
		    wecom_crypto_check_aeskey(v) != WECOM_OK)
			return (conf_fail(ps, kv->line, "[app %s]: key 'aeskey' "
			    "must be 43 characters of [A-Za-z0-9] (-40004 "
			    "IllegalAesKey)", s->name));
		if (strcmp(kv->key, "token") == 0 && (strlen(v) > 128 ||
		    strpbrk(v, " \t") != NULL))
			return (conf_fail(ps, kv->line, "[app %s]: key 'token' "
			    "must be 1-128 characters without blanks", s->name));
		if (strcmp(kv->key, "path") == 0 && (v[0] != '/' ||
		    strpbrk(v, " \t?#") != NULL))
			return (conf_fail(ps, kv->line, "[app %s]: key 'path' "
			    "must start with / and hold no blank, ? or #",
			    s->name));
	}
	TAILQ_FOREACH(o, &ps->conf->apps, list) {
		if (o != app && o->path != NULL && app->path != NULL &&
		    strcmp(o->path, app->path) == 0)
			return (conf_fail(ps, s->line, "[app %s]: path %s is "
			    "already used by [app %s]", s->name, app->path,
			    o->name));
	}

	return (WECOM_CONF_OK);
}

static const char *
conf_need(struct parse *ps, const struct wecom_conf_section *s,
    const char *key)
{
	const char	*v;

	if ((v = wecom_conf_get(s, key)) == NULL || *v == '\0') {
		conf_fail(ps, s->line, "[%s %s]: missing key '%s'", s->type,
		    s->name, key);
		return (NULL);
	}

	return (v);
}

static int
conf_number(struct parse *ps, const struct wecom_conf_section *s,
    const char *key, long long def, long long min, long long *out)
{
	const struct wecom_conf_kv	*kv, *last;
	char				*end;

	*out = def;
	last = NULL;
	if (s != NULL) {
		TAILQ_FOREACH(kv, &s->keys, list)
			if (strcmp(kv->key, key) == 0)
				last = kv;
	}
	if (last == NULL)
		return (WECOM_CONF_OK);

	errno = 0;
	*out = strtoll(last->value, &end, 10);
	if (errno != 0 || end == last->value || *end != '\0' || *out < min)
		return (conf_fail(ps, last->line,
		    "key '%s': expected a whole number >= %lld", key, min));

	return (WECOM_CONF_OK);
}

static int
conf_fail(struct parse *ps, int line, const char *fmt, ...)
{
	va_list		ap;
	int		n;

	n = snprintf(ps->err, ps->errlen, "%s:%d: ",
	    ps->conf->file ? ps->conf->file : "?", line);
	if (n < 0 || (size_t)n >= ps->errlen)
		return (WECOM_CONF_ERROR);

	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
	va_end(ap);

	return (WECOM_CONF_ERROR);
}

static char *
conf_trim(char *s)
{
	char	*end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';

	return (s);
}
