/*
 * Lists of addresses and networks ("127.0.0.1/32, 10.0.0.0/8, ::1"):
 * who may read /metrics, who may use the relay without a key.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdlib.h>
#include <string.h>

#include "wecom_netlist.h"

/* 0, or -1 on a bad entry or more than WECOM_NETLIST_MAX of them. */
int
wecom_netlist_parse(struct wecom_netlist *nl, const char *list)
{
	struct wecom_net	*n;
	char			*copy, *p, *item, *slash;
	int			 max, rc;

	memset(nl, 0, sizeof(*nl));
	if ((copy = strdup(list)) == NULL)
		return (-1);
	rc = 0;
	p = copy;
	while (rc == 0 && (item = strsep(&p, ", ")) != NULL) {
		if (*item == '\0')
			continue;
		if (nl->n == WECOM_NETLIST_MAX) {
			rc = -1;
			break;
		}
		n = &nl->net[nl->n++];
		if ((slash = strchr(item, '/')) != NULL)
			*slash++ = '\0';
		n->family = strchr(item, ':') ? AF_INET6 : AF_INET;
		max = n->family == AF_INET ? 32 : 128;
		n->bits = slash ? atoi(slash) : max;
		if (inet_pton(n->family, item, n->addr) != 1 || n->bits < 0 ||
		    n->bits > max || (slash && slash[strspn(slash,
		    "0123456789")] != '\0'))
			rc = -1;
	}
	free(copy);

	return (rc);
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
