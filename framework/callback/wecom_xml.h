/* SPDX-License-Identifier: ISC */
/*
 * A flat view of a WeCom XML document (or of a bot's JSON one, json.c): every element below the root as
 * (path, text), in the order the elements end; an element that holds
 * other elements has an empty text. Both layers of a callback — the
 * envelope and the decrypted message — are this simple, so one SAX pass
 * into one arena serves both, with no DOM.
 *
 * Untrusted input: a DOCTYPE is refused, so no DTD, no entity and no
 * network access can ever be involved; depth, element count and size
 * are bounded.
 */

#ifndef WECOM_XML_H
#define WECOM_XML_H

#include <stddef.h>
#include <stdint.h>

#define WECOM_XML_DEPTH_MAX	16
#define WECOM_XML_FIELDS_MAX	512

struct wecom_xml_field {
	uint32_t	path;		/* offsets into the arena */
	uint32_t	name;		/* the last path component */
	uint32_t	value;
	uint32_t	vlen;
};

struct wecom_xml {
	void			*ctxt;		/* reused parser context */
	char			*arena;
	size_t			 len;
	size_t			 cap;
	struct wecom_xml_field	 fields[WECOM_XML_FIELDS_MAX];
	size_t			 nfields;

	/* Parse state. */
	char			 path[256];
	size_t			 pathlen;
	size_t			 stack[WECOM_XML_DEPTH_MAX + 1];
	int			 depth;
	int			 leaf;
	size_t			 mark;
	int			 err;
	const char		*why;
};

struct wecom_xml	*wecom_xml_new(void);
void			 wecom_xml_free(struct wecom_xml *);
int			 wecom_xml_parse(struct wecom_xml *, const char *,
			    size_t);
const char		*wecom_xml_error(const struct wecom_xml *);
/* json.c: a bot's JSON message, objects as paths, arrays as repeats. */
int			 wecom_xml_parse_json(struct wecom_xml *, const char *,
			    size_t);
/* For other parsers: empty x, add a field, fail with a reason. */
void			 wecom_xml_reset(struct wecom_xml *);
int			 wecom_xml_add(struct wecom_xml *, const char *path,
			    size_t plen, const char *value, size_t vlen);
void			 wecom_xml_fail(struct wecom_xml *, const char *why);
int			 wecom_xml_envelope_check(const char *, size_t,
			    const char **why);

const char	*wecom_xml_get(const struct wecom_xml *, const char *name);
const char	*wecom_xml_get_nth(const struct wecom_xml *, const char *name,
		    size_t n, size_t *len);
size_t		 wecom_xml_count(const struct wecom_xml *, const char *name);
size_t		 wecom_xml_nfields(const struct wecom_xml *);
void		 wecom_xml_field(const struct wecom_xml *, size_t,
		    const char **path, const char **value);

#endif
