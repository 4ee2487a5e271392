/* SPDX-License-Identifier: ISC */
/*
 * [apikey NAME] sections: the keys the push API accepts. Only a key's
 * SHA-256 is kept, and every key is compared on every lookup, in
 * constant time, so neither timing nor a memory dump gives a key away.
 *
 *	[apikey grafana]
 *	key    = file:/etc/wecom/grafana.key	; 16 characters or more
 *	app    = ops				; default app
 *	to     = zhangsan|lisi			; default recipients
 *	robot  = oncall				; or a default robot
 *	apps   = ops				; scope (default: any)
 *	robots = oncall
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "wecom_push.h"

static int	key_load(struct wecom_apikey *, const struct wecom_conf *,
		    const struct wecom_conf_section *, char *, size_t);
static int	key_names(const struct wecom_conf *,
		    const struct wecom_conf_section *, const char *,
		    const char *, char *, size_t);

int
wecom_apikeys_load(struct wecom_apikey_list *list,
    const struct wecom_conf *conf, char *err, size_t errlen)
{
	const struct wecom_conf_section	*s;
	struct wecom_apikey		*k;

	TAILQ_INIT(list);
	TAILQ_FOREACH(s, &conf->sections, list) {
		if (strcmp(s->type, "apikey") != 0)
			continue;
		if ((k = calloc(1, sizeof(*k))) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		TAILQ_INSERT_TAIL(list, k, list);
		if (key_load(k, conf, s, err, errlen) != 0)
			goto fail;
	}

	return (0);
fail:
	wecom_apikeys_free(list);
	return (-1);
}

void
wecom_apikeys_free(struct wecom_apikey_list *list)
{
	struct wecom_apikey	*k;

	while ((k = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, k, list);
		free(k);
	}
}

const struct wecom_apikey *
wecom_apikey_find(const struct wecom_apikey_list *list, const char *given)
{
	const struct wecom_apikey	*k, *found;
	unsigned char			 h[SHA256_DIGEST_LENGTH];

	if (given == NULL || SHA256((const unsigned char *)given,
	    strlen(given), h) == NULL)
		return (NULL);
	found = NULL;
	TAILQ_FOREACH(k, list, list) {
		if (CRYPTO_memcmp(k->hash, h, sizeof(h)) == 0)
			found = k;
	}
	OPENSSL_cleanse(h, sizeof(h));

	return (found);
}

static int
key_load(struct wecom_apikey *k, const struct wecom_conf *conf,
    const struct wecom_conf_section *s, char *err, size_t errlen)
{
	const char	*key;

	/* Unknown keys were refused at load, by the config schema. */
	key = wecom_conf_get(s, "key");
	if (key == NULL || strlen(key) < WECOM_APIKEY_MIN) {
		snprintf(err, errlen, "line %d: [apikey %s]: 'key' must have "
		    "%d characters or more", s->line, s->name,
		    WECOM_APIKEY_MIN);
		return (-1);
	}
	k->name = s->name;
	SHA256((const unsigned char *)key, strlen(key), k->hash);
	k->app = wecom_conf_get(s, "app");
	k->to = wecom_conf_get(s, "to");
	k->toparty = wecom_conf_get(s, "toparty");
	k->totag = wecom_conf_get(s, "totag");
	k->chat = wecom_conf_get(s, "chat");
	k->robot = wecom_conf_get(s, "robot");
	k->apps = wecom_conf_get(s, "apps");
	k->robots = wecom_conf_get(s, "robots");

	return (key_names(conf, s, "app", "app", err, errlen) != 0 ||
	    key_names(conf, s, "apps", "app", err, errlen) != 0 ||
	    key_names(conf, s, "robot", "robot", err, errlen) != 0 ||
	    key_names(conf, s, "robots", "robot", err, errlen) != 0 ? -1 : 0);
}

/* Every name in s's value of key is a [type NAME] section. */
static int
key_names(const struct wecom_conf *conf, const struct wecom_conf_section *s,
    const char *key, const char *type, char *err, size_t errlen)
{
	const char	*list, *p;
	char		 name[128];
	size_t		 n;

	if ((list = wecom_conf_get(s, key)) == NULL)
		return (0);
	for (p = list + strspn(list, " ,"); *p != '\0';
	    p += n, p += strspn(p, " ,")) {
		n = strcspn(p, " ,");
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		/* A key's apps are its apps and bots alike. */
		if (wecom_conf_section(conf, type, name) == NULL &&
		    (strcmp(type, "app") != 0 ||
		    wecom_conf_section(conf, "aibot", name) == NULL)) {
			snprintf(err, errlen, "[apikey %s]: '%s' names no "
			    "[%s %s] section", s->name, key, type, name);
			return (-1);
		}
	}

	return (0);
}

/* A key's scope, a query's kinds: names split by spaces or commas. */
int
wecom_names_has(const char *list, const char *name, size_t len)
{
	size_t	n;

	for (list += strspn(list, " ,"); *list != '\0';
	    list += n, list += strspn(list, " ,")) {
		n = strcspn(list, " ,");
		if (n == len && strncmp(list, name, n) == 0)
			return (1);
	}

	return (0);
}
