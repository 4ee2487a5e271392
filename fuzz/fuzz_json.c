/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer: a bot's JSON into the flat model and the bot message
 * loader (json.c, message.c), one model reused across inputs as the
 * server does.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_crypto.h"
#include "wecom_msg.h"
#include "wecom_xml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wecom_xml	*x;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct wecom_msg	 msg;
	const char		*path, *value;
	size_t			 i;

	if (x == NULL && (x = wecom_xml_new()) == NULL)
		abort();
	if (wecom_xml_parse_json(x, (const char *)data, len) != WECOM_OK)
		return (0);

	for (i = 0; i < wecom_xml_nfields(x); i++) {
		wecom_xml_field(x, i, &path, &value);
		if (strlen(path) == 0 || wecom_xml_get(x, path) == NULL)
			abort();
		(void)strlen(value);
	}
	if (wecom_msg_load_aibot(&msg, x) == WECOM_OK && msg.msgtype == NULL)
		abort();

	return (0);
}
