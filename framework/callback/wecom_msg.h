/* SPDX-License-Identifier: ISC */
/* Private: building struct wecom_msg from a parsed document. */

#ifndef WECOM_MSG_H
#define WECOM_MSG_H

struct wecom_msg;
struct wecom_xml;

int		 wecom_msg_load(struct wecom_msg *, const struct wecom_xml *);
int		 wecom_msg_load_aibot(struct wecom_msg *,
		    const struct wecom_xml *);
const char	*wecom_msg_type_name(enum wecom_msg_type);
int		 wecom_msg_table_sorted(void);

#endif
