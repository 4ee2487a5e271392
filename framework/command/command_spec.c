/* SPDX-License-Identifier: ISC */
/*
 * Which keys are commands, and their command lines split into words.
 * Filled in the parent while the apps are set up, before any fork, and
 * read-only afterwards: the helper finds a request's command here, in
 * its own copy.
 */

#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_cmd.h"

/* Outside quotes these mean what only a shell can do. */
#define CMD_SHELL_CHARS	"|&;<>()$`*?[~\n"
#define CMD_WORDS_MAX	64

static TAILQ_HEAD(, wecom_cmd)	cmds = TAILQ_HEAD_INITIALIZER(cmds);

static int	cmd_split(const char *, char **, size_t *, char *, size_t);
static int	cmd_word(const char **, char *, char *, size_t);
static int	cmd_limits(struct wecom_cmd *, const struct wecom_conf_section *,
		    char *, size_t);
static int	cmd_number(const char *, long long, long long *);
static void	cmd_free(struct wecom_cmd *);

int
wecom_cmd_declare(const struct wecom_conf_section *sec, const char *key,
    char *err, size_t errlen)
{
	struct wecom_cmd	*c;
	const char		*line;
	size_t			 n, i;

	*err = '\0';
	if ((line = wecom_conf_get(sec, key)) == NULL)
		return (WECOM_CMD_OK);	/* not configured: runs refuse */
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->argv = calloc(CMD_WORDS_MAX + 1, sizeof(char *))) == NULL ||
	    asprintf(&c->section, "%s %s", sec->type, sec->name) == -1 ||
	    (c->key = strdup(key)) == NULL)
		goto fail;
	if (cmd_limits(c, sec, err, errlen) != WECOM_CMD_OK)
		goto fail;
	n = 0;
	if (c->shell) {
		c->argv[n++] = strdup("/bin/sh");
		c->argv[n++] = strdup("-c");
		c->argv[n++] = strdup(line);
	} else if (cmd_split(line, c->argv, &n, err, errlen) != WECOM_CMD_OK)
		goto fail;
	for (i = 0; i < n; i++) {
		if (c->argv[i] == NULL)
			goto fail;
		if (strstr(c->argv[i], "%s") != NULL)
			c->to_file = 1;
	}
	TAILQ_INSERT_TAIL(&cmds, c, list);
	return (WECOM_CMD_OK);
fail:
	if (*err == '\0')
		snprintf(err, errlen, "out of memory");
	cmd_free(c);
	return (WECOM_CMD_ERROR);
}

const struct wecom_cmd *
wecom_cmd_find(const char *section, const char *key)
{
	const struct wecom_cmd	*c;

	TAILQ_FOREACH(c, &cmds, list) {
		if (strcmp(c->section, section) == 0 &&
		    strcmp(c->key, key) == 0)
			return (c);
	}

	return (NULL);
}

int
wecom_cmd_declared(void)
{
	return (!TAILQ_EMPTY(&cmds));
}

/* KEY_timeout_ms, KEY_output_max (K and M allowed), KEY_shell, KEY_dir. */
static int
cmd_limits(struct wecom_cmd *c, const struct wecom_conf_section *sec,
    char *err, size_t errlen)
{
	char		 name[128];
	const char	*v;
	long long	 n;

	c->timeout_ms = WECOM_CMD_TIMEOUT_DEFAULT;
	c->output_max = WECOM_CMD_OUTPUT_DEFAULT;
	c->dir = "/tmp";
	snprintf(name, sizeof(name), "%s_timeout_ms", c->key);
	if ((v = wecom_conf_get(sec, name)) != NULL) {
		if (cmd_number(v, 3600 * 1000, &n) != WECOM_CMD_OK || n == 0)
			goto bad;
		c->timeout_ms = n;
	}
	snprintf(name, sizeof(name), "%s_output_max", c->key);
	if ((v = wecom_conf_get(sec, name)) != NULL) {
		if (cmd_number(v, 1LL << 31, &n) != WECOM_CMD_OK || n == 0)
			goto bad;
		c->output_max = n;
	}
	snprintf(name, sizeof(name), "%s_shell", c->key);
	if ((v = wecom_conf_get(sec, name)) != NULL) {
		if (strcmp(v, "yes") != 0 && strcmp(v, "no") != 0)
			goto bad;
		c->shell = strcmp(v, "yes") == 0;
	}
	snprintf(name, sizeof(name), "%s_dir", c->key);
	if ((v = wecom_conf_get(sec, name)) != NULL) {
		if (*v != '/')
			goto bad;
		c->dir = v;
	}
	return (WECOM_CMD_OK);
bad:
	snprintf(err, errlen, "%s: bad value '%s' (%s)", name, v,
	    strstr(name, "_shell") != NULL ? "yes or no" :
	    strstr(name, "_dir") != NULL ? "an absolute path" :
	    strstr(name, "_timeout") != NULL ? "1 to 3600000 ms" :
	    "1 to 2G bytes, K and M allowed");
	return (WECOM_CMD_ERROR);
}

/* A positive number up to max, with an optional K or M. */
static int
cmd_number(const char *v, long long max, long long *out)
{
	char	*end;

	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *out < 0)
		return (WECOM_CMD_ERROR);
	if (*end == 'K' || *end == 'k')
		*out *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		*out *= 1024 * 1024, end++;
	if (*end != '\0' || *out > max)
		return (WECOM_CMD_ERROR);

	return (WECOM_CMD_OK);
}

/*
 * Split a line as sh would, without what only a shell does: a
 * metacharacter outside quotes is an error naming it, so that a line
 * written for sh never runs as something else.
 */
static int
cmd_split(const char *line, char **words, size_t *n, char *err,
    size_t errlen)
{
	char	word[4096];
	int	rc;

	for (;;) {
		line += strspn(line, " \t");
		if (*line == '\0')
			break;
		if (*n == CMD_WORDS_MAX) {
			snprintf(err, errlen, "more than %d words",
			    CMD_WORDS_MAX);
			return (WECOM_CMD_ERROR);
		}
		if ((rc = cmd_word(&line, word, err, errlen)) != WECOM_CMD_OK)
			return (rc);
		words[(*n)++] = strdup(word);
	}
	if (*n == 0) {
		snprintf(err, errlen, "an empty command");
		return (WECOM_CMD_ERROR);
	}
	if (strchr(words[0], '=') != NULL && strchr(words[0], '/') == NULL) {
		snprintf(err, errlen, "'%s' sets a variable: only a shell "
		    "can (set the key's _shell = yes)", words[0]);
		return (WECOM_CMD_ERROR);
	}

	return (WECOM_CMD_OK);
}

/* One word: quotes and backslashes as in sh, into out. */
static int
cmd_word(const char **linep, char *out, char *err, size_t errlen)
{
	const char	*p = *linep;
	char		 quote = 0;
	size_t		 len = 0;

	for (; *p != '\0' && (quote || (*p != ' ' && *p != '\t')); p++) {
		if (quote == 0 && (*p == '\'' || *p == '"')) {
			quote = *p;
			continue;
		}
		if (quote != 0 && *p == quote) {
			quote = 0;
			continue;
		}
		if (quote == 0 && strchr(CMD_SHELL_CHARS, *p) != NULL) {
			snprintf(err, errlen, "'%c' needs a shell: quote it, "
			    "or set the key's _shell = yes", *p);
			return (WECOM_CMD_ERROR);
		}
		if (*p == '\\' && quote != '\'' && p[1] != '\0' &&
		    (quote == 0 || strchr("\"\\$`", p[1]) != NULL))
			p++;
		if (len == 4095) {
			snprintf(err, errlen, "a word longer than 4095 bytes");
			return (WECOM_CMD_ERROR);
		}
		out[len++] = *p;
	}
	if (quote != 0) {
		snprintf(err, errlen, "an unterminated %c", quote);
		return (WECOM_CMD_ERROR);
	}
	out[len] = '\0';
	*linep = p;

	return (WECOM_CMD_OK);
}

static void
cmd_free(struct wecom_cmd *c)
{
	size_t	i;

	if (c == NULL)
		return;
	for (i = 0; c->argv != NULL && c->argv[i] != NULL; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->section);
	free(c->key);
	free(c);
}
