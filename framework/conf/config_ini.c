/* SPDX-License-Identifier: ISC */
/*
 * The INI reader of conf/wecom.conf: "[type name]" sections of "key =
 * value" lines, kept in order with their line numbers, and the lookups
 * on them. A value "env:NAME" or "file:/path" is replaced at once by
 * what it names, so that secrets stay out of the file. Which sections
 * exist and take a name is the schema's (config_schema.c); what the
 * keys mean is for config.c and the modules that own them. Every
 * error names the file and the line, because a config mistake is the
 * first thing a new user meets.
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

#include "wecom_conf_ini.h"
#include "wecom_conf_schema.h"

#define LINE_MAX_LEN	4096
#define SECRET_MAX	1024

static int	conf_line(struct conf_parse *, char *);
static int	conf_section(struct conf_parse *, char *);
static int	conf_keyvalue(struct conf_parse *, char *);
static void	conf_comment(char *);
static int	conf_resolve(struct conf_parse *, struct wecom_conf_kv *);
static int	conf_read_secret(struct conf_parse *, struct wecom_conf_kv *,
		    const char *);
static char	*conf_trim(char *);

int
wecom_conf_read(struct conf_parse *ps, const char *path)
{
	char	 buf[LINE_MAX_LEN];
	FILE	*fp;
	int	 rc;

	if ((fp = fopen(path, "r")) == NULL)
		return (wecom_conf_fail(ps, 0, "cannot open: %s",
		    strerror(errno)));

	rc = WECOM_CONF_OK;
	while (rc == WECOM_CONF_OK && fgets(buf, sizeof(buf), fp) != NULL) {
		ps->line++;
		if (strchr(buf, '\n') == NULL && !feof(fp))
			rc = wecom_conf_fail(ps, ps->line, "line too long");
		else
			rc = conf_line(ps, buf);
	}
	if (rc == WECOM_CONF_OK && ferror(fp))
		rc = wecom_conf_fail(ps, ps->line, "read error");
	fclose(fp);

	return (rc);
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

/* The last value of key in the section, or NULL. */
const char *
wecom_conf_get(const struct wecom_conf_section *s, const char *key)
{
	const struct wecom_conf_kv	*kv;

	if ((kv = wecom_conf_kv_last(s, key)) == NULL || kv->deferred != NULL)
		return (NULL);

	return (kv->value);
}

/* The last line of key in the section: the one that counts. */
const struct wecom_conf_kv *
wecom_conf_kv_last(const struct wecom_conf_section *s, const char *key)
{
	const struct wecom_conf_kv	*kv, *last;

	last = NULL;
	if (s == NULL)
		return (NULL);
	TAILQ_FOREACH(kv, &s->keys, list) {
		if (strcmp(kv->key, key) == 0)
			last = kv;
	}

	return (last);
}

static int
conf_line(struct conf_parse *ps, char *buf)
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
conf_section(struct conf_parse *ps, char *p)
{
	struct wecom_conf_section	*s;
	const struct conf_sect		*t;
	char				*end, *type, *name;

	if ((end = strchr(p, ']')) == NULL || end[1] != '\0')
		return (wecom_conf_fail(ps, ps->line,
		    "malformed section header"));
	*end = '\0';
	type = conf_trim(p + 1);
	name = type + strcspn(type, " \t");
	if (*name != '\0') {
		*name++ = '\0';
		name = conf_trim(name);
	}
	if (*type == '\0')
		return (wecom_conf_fail(ps, ps->line, "empty section name"));
	/* A misspelt section would be ignored, and its keys with it. */
	if ((t = wecom_conf_sect_find(type)) == NULL)
		return (wecom_conf_fail(ps, ps->line, "unknown section [%s] "
		    "(wecom-send --conf-keys lists every section and key)",
		    type));
	if (t->name != NULL && *name == '\0')
		return (wecom_conf_fail(ps, ps->line,
		    "section [%s] needs a name, e.g. [%s main]", type, type));
	if (t->name == NULL && *name != '\0')
		return (wecom_conf_fail(ps, ps->line,
		    "section [%s] takes no name: [%s]", type, type));
	if (wecom_conf_section(ps->conf, type, name) != NULL)
		return (wecom_conf_fail(ps, ps->line,
		    "duplicate section [%s%s%s]", type, *name ? " " : "", name));

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (wecom_conf_fail(ps, ps->line, "out of memory"));
	TAILQ_INIT(&s->keys);
	s->line = ps->line;
	s->type = strdup(type);
	s->name = strdup(name);
	TAILQ_INSERT_TAIL(&ps->conf->sections, s, list);
	if (s->type == NULL || s->name == NULL)
		return (wecom_conf_fail(ps, ps->line, "out of memory"));
	ps->cur = s;

	return (WECOM_CONF_OK);
}

/*
 * A '#' after a blank starts a comment, as in sh: "key = value  # why".
 * A value in double quotes keeps it ("a # b"); a ';' never starts one
 * there (a command line's "a ; b" stays whole).
 */
static void
conf_comment(char *val)
{
	char	*p;

	if (*val == '"')
		return;
	for (p = val; (p = strchr(p, '#')) != NULL; p++) {
		if (p > val && (p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			(void)conf_trim(val);
			return;
		}
	}
}

static int
conf_keyvalue(struct conf_parse *ps, char *p)
{
	struct wecom_conf_kv	*kv;
	char			*eq, *key, *val;
	size_t			 len;

	if ((eq = strchr(p, '=')) == NULL)
		return (wecom_conf_fail(ps, ps->line, "expected key = value"));
	if (ps->cur == NULL)
		return (wecom_conf_fail(ps, ps->line, "key outside a section"));
	*eq = '\0';
	key = conf_trim(p);
	val = conf_trim(eq + 1);
	conf_comment(val);
	len = strlen(val);
	if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
		val[len - 1] = '\0';
		val++;
	}
	if (*key == '\0')
		return (wecom_conf_fail(ps, ps->line, "empty key"));

	if ((kv = calloc(1, sizeof(*kv))) == NULL)
		return (wecom_conf_fail(ps, ps->line, "out of memory"));
	kv->line = ps->line;
	kv->key = strdup(key);
	kv->value = strdup(val);
	TAILQ_INSERT_TAIL(&ps->cur->keys, kv, list);
	if (kv->key == NULL || kv->value == NULL)
		return (wecom_conf_fail(ps, ps->line, "out of memory"));

	if (conf_resolve(ps, kv) == WECOM_CONF_OK)
		return (WECOM_CONF_OK);
	/* Lazy: the reason waits for whoever uses the section. */
	if (!ps->lazy || strcmp(ps->cur->type, "global") == 0 ||
	    (kv->deferred = strdup(ps->err)) == NULL)
		return (WECOM_CONF_ERROR);
	ps->err[0] = '\0';

	return (WECOM_CONF_OK);
}

/* "env:NAME" and "file:/path" keep secrets out of the config file. */
static int
conf_resolve(struct conf_parse *ps, struct wecom_conf_kv *kv)
{
	const char	*env;
	char		*v;

	if (strncmp(kv->value, "file:", 5) == 0)
		return (conf_read_secret(ps, kv, kv->value + 5));
	if (strncmp(kv->value, "env:", 4) != 0)
		return (WECOM_CONF_OK);

	if ((env = getenv(kv->value + 4)) == NULL || *env == '\0')
		return (wecom_conf_fail(ps, kv->line,
		    "key '%s': environment variable %s is not set",
		    kv->key, kv->value + 4));
	if ((v = strdup(env)) == NULL)
		return (wecom_conf_fail(ps, kv->line, "out of memory"));
	free(kv->value);
	kv->value = v;

	return (WECOM_CONF_OK);
}

static int
conf_read_secret(struct conf_parse *ps, struct wecom_conf_kv *kv,
    const char *path)
{
	struct stat	st;
	char		buf[SECRET_MAX + 2], *v;
	ssize_t		n;
	int		fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (wecom_conf_fail(ps, kv->line, "key '%s': cannot open "
		    "%s: %s", kv->key, path, strerror(errno)));

	rc = WECOM_CONF_ERROR;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		wecom_conf_fail(ps, kv->line, "key '%s': %s is not a regular "
		    "file", kv->key, path);
	} else if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		wecom_conf_fail(ps, kv->line, "key '%s': %s is readable by "
		    "others (mode %03o); chmod 600 it", kv->key, path,
		    (unsigned)(st.st_mode & 0777));
	} else if ((n = read(fd, buf, sizeof(buf) - 1)) < 0 ||
	    (size_t)n > SECRET_MAX) {
		wecom_conf_fail(ps, kv->line, "key '%s': cannot read %s (at "
		    "most %d bytes)", kv->key, path, SECRET_MAX);
	} else {
		buf[n] = '\0';
		if ((v = strdup(conf_trim(buf))) == NULL) {
			wecom_conf_fail(ps, kv->line, "out of memory");
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

int
wecom_conf_fail(struct conf_parse *ps, int line, const char *fmt, ...)
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
