/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer: the envelope pre-check that runs before libxml2 on every
 * unsigned POST body. Whatever it lets through is ASCII with no
 * attribute or namespace inside a tag, and parses without harm.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wecom.h"
#include "wecom_crypto.h"
#include "wecom_xml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wecom_xml	*x;

/* Outside CDATA, no tag holds '=' or ':'; no byte is past ASCII. */
static void
check_passed(const uint8_t *p, size_t len)
{
	size_t	i;
	int	tag = 0;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x80)
			abort();
		if (!tag && p[i] == '<' && len - i >= 9 &&
		    memcmp(p + i, "<![CDATA[", 9) == 0) {
			while (i + 2 < len && memcmp(p + i, "]]>", 3) != 0)
				i++;
			continue;
		}
		if (p[i] == '<')
			tag = 1;
		else if (p[i] == '>')
			tag = 0;
		else if (tag && (p[i] == '=' || p[i] == ':'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char	*why;

	if (x == NULL && (x = wecom_xml_new()) == NULL)
		abort();
	if (wecom_xml_envelope_check((const char *)data, len, &why) !=
	    WECOM_OK) {
		if (why == NULL)
			abort();
		return (0);
	}
	check_passed(data, len);
	(void)wecom_xml_parse(x, (const char *)data, len);

	return (0);
}
