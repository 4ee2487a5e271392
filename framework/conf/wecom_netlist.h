/* SPDX-License-Identifier: ISC */
/* Private: address and network lists (netlist.c). */

#ifndef WECOM_NETLIST_H
#define WECOM_NETLIST_H

#include "wecom_config.h"

#define WECOM_NETLIST_MAX	16

struct wecom_net {
	int		family;		/* AF_INET, AF_INET6 */
	unsigned char	addr[16];
	int		bits;
};

struct wecom_netlist {
	struct wecom_net	net[WECOM_NETLIST_MAX];
	int			n;
};

int	wecom_netlist_parse(struct wecom_netlist *, const char *);
int	wecom_netlist_conf(struct wecom_netlist *,
	    const struct wecom_conf_section *, const char *key,
	    const char *def, char *err, size_t errlen);
int	wecom_netlist_match(const struct wecom_netlist *, int family,
	    const void *addr);

#endif
