/* SPDX-License-Identifier: ISC */
/*
 * Lists of addresses and networks ("127.0.0.1/32, 10.0.0.0/8, ::1"):
 * who may read /metrics, who may use the relay without a key. A list
 * opens a door, so it is parsed strictly: "10.0.0.0/" is a mistake,
 * not 10.0.0.0/0.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_netlist.h"

static int	netlist_parse(struct wecom_netlist *, const char *,
		    char *, size_t);
static int	net_parse(struct wecom_net *, const char *);
static int	net_bits(const char *, int);

/* 0, or -1 on a bad entry or more than WECOM_NETLIST_MAX of them. */
int
wecom_netlist_parse(struct wecom_netlist *nl, const char *list)
{
	return (netlist_parse(nl, list, NULL, 0));
}

/*
 * The list in s's value of key (def if it has none), for a module's
 * config: a bad one is refused with its line and the entry at fault.
 */
int
wecom_netlist_conf(struct wecom_netlist *nl,
    const struct wecom_conf_section *s, const char *key, const char *def,
    char *err, size_t errlen)
{
	const struct wecom_conf_kv	*kv, *last;
	char				 why[128];

	last = NULL;
	if (s != NULL)
		TAILQ_FOREACH(kv, &s->keys, list)
			if (strcmp(kv->key, key) == 0)
				last = kv;
	if (netlist_parse(nl, last ? last->value : def, why,
	    sizeof(why)) == 0)
		return (WECOM_CONF_OK);
	snprintf(err, errlen, "line %d: [%s%s%s] %s: %s",
	    last ? last->line : s ? s->line : 0, s ? s->type : "",
	    s && *s->name ? " " : "", s ? s->name : "", key, why);

	return (WECOM_CONF_ERROR);
}

/* Whether addr (4 or 16 bytes of family) is in one of the networks. */
int
wecom_netlist_match(const struct wecom_netlist *nl, int family,
    const void *addr)
{
	const unsigned char	*a = addr;
	const struct wecom_net	*n;
	int			 i, len;

	for (i = 0; i < nl->n; i++) {
		n = &nl->net[i];
		if (n->family != family)
			continue;
		len = n->bits / 8;
		if (memcmp(a, n->addr, len) != 0)
			continue;
		if (n->bits % 8 == 0 || ((a[len] ^ n->addr[len]) &
		    (0xff << (8 - n->bits % 8)) & 0xff) == 0)
			return (1);
	}

	return (0);
}

/* A refused list is left empty: a caller that goes on matches nothing. */
static int
netlist_parse(struct wecom_netlist *nl, const char *list, char *why,
    size_t whylen)
{
	char	*copy, *p, *item;
	int	 rc;

	memset(nl, 0, sizeof(*nl));
	if ((copy = strdup(list)) == NULL)
		return (-1);
	rc = 0;
	p = copy;
	while (rc == 0 && (item = strsep(&p, ", ")) != NULL) {
		if (*item == '\0')
			continue;
		if (nl->n == WECOM_NETLIST_MAX) {
			if (why != NULL)
				snprintf(why, whylen, "more than %d networks",
				    WECOM_NETLIST_MAX);
			rc = -1;
		} else if (net_parse(&nl->net[nl->n++], item) != 0) {
			if (why != NULL)
				snprintf(why, whylen, "'%.64s': not an address "
				    "or a network like 10.0.0.0/8 or fd00::/8",
				    item);
			rc = -1;
		}
	}
	free(copy);
	if (rc != 0)
		memset(nl, 0, sizeof(*nl));

	return (rc);
}

/* "10.0.0.0/8", "::1": the prefix length is the address's if none. */
static int
net_parse(struct wecom_net *n, const char *item)
{
	char		 addr[INET6_ADDRSTRLEN];
	const char	*slash;
	size_t		 len;
	int		 max;

	slash = strchr(item, '/');
	len = slash != NULL ? (size_t)(slash - item) : strlen(item);
	if (len >= sizeof(addr))
		return (-1);
	memcpy(addr, item, len);
	addr[len] = '\0';
	n->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	max = n->family == AF_INET ? 32 : 128;
	n->bits = slash != NULL ? net_bits(slash + 1, max) : max;

	return (n->bits == -1 || inet_pton(n->family, addr, n->addr) != 1 ?
	    -1 : 0);
}

/* 1 to 3 digits and nothing else, at most max; -1 if not. */
static int
net_bits(const char *s, int max)
{
	size_t	n;
	int	bits;

	n = strspn(s, "0123456789");
	if (n == 0 || n > 3 || s[n] != '\0')
		return (-1);
	bits = atoi(s);

	return (bits > max ? -1 : bits);
}
