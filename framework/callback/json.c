/* SPDX-License-Identifier: ISC */
/*
 * An intelligent bot's message is JSON, an app's is XML: both become the
 * same flat model (wecom_xml.h), so that handlers read a field by name
 * or path the same way on every channel. An object member is an element
 * ("from/userid"), an array's items are repeated elements of the array's
 * name ("mixed/msg_item", counted with wecom_msg_count()), and a
 * container comes after its members, as an XML element ends after its
 * children. Numbers and booleans keep their JSON text; null is "".
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "wecom_crypto.h"
#include "wecom_xml.h"

struct walk {
	struct wecom_xml	*x;
	char			 path[256];
	int			 depth;
};

static int	walk_value(struct walk *, size_t, json_t *);
static int	walk_object(struct walk *, size_t, json_t *);
static int	walk_scalar(struct walk *, size_t, json_t *);
static int	walk_name(struct walk *, size_t, const char *, size_t *);

int
wecom_xml_parse_json(struct wecom_xml *x, const char *buf, size_t len)
{
	struct walk	 w;
	json_error_t	 jerr;
	json_t		*root;
	int		 rc;

	wecom_xml_reset(x);
	if (len == 0 || len > WECOM_MSG_MAX) {
		wecom_xml_fail(x, "empty or oversized document");
		return (WECOM_ERR_PARSE_XML);
	}
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		wecom_xml_fail(x, "not a JSON object");
		return (WECOM_ERR_PARSE_XML);
	}
	memset(&w, 0, sizeof(w));
	w.x = x;
	rc = walk_object(&w, 0, root);
	json_decref(root);
	if (rc == WECOM_OK && wecom_xml_nfields(x) == 0) {
		wecom_xml_fail(x, "no members");
		rc = WECOM_ERR_PARSE_XML;
	}

	return (rc);
}

/* The members of an object below the path's first plen bytes. */
static int
walk_object(struct walk *w, size_t plen, json_t *obj)
{
	const char	*key;
	json_t		*v;
	size_t		 len;

	json_object_foreach(obj, key, v) {
		if (walk_name(w, plen, key, &len) != WECOM_OK ||
		    walk_value(w, len, v) != WECOM_OK)
			return (WECOM_ERR_PARSE_XML);
	}

	return (WECOM_OK);
}

/* The path's first plen bytes name v: an object, array or scalar. */
static int
walk_value(struct walk *w, size_t plen, json_t *v)
{
	json_t	*item;
	size_t	 i;
	int	 rc;

	if (json_is_array(v)) {
		json_array_foreach(v, i, item) {
			if (json_is_array(item)) {
				wecom_xml_fail(w->x, "nested JSON arrays");
				return (WECOM_ERR_PARSE_XML);
			}
			if (walk_value(w, plen, item) != WECOM_OK)
				return (WECOM_ERR_PARSE_XML);
		}
		return (WECOM_OK);
	}
	if (!json_is_object(v))
		return (walk_scalar(w, plen, v));

	if (++w->depth > WECOM_XML_DEPTH_MAX) {
		wecom_xml_fail(w->x, "JSON nested too deep");
		return (WECOM_ERR_PARSE_XML);
	}
	rc = walk_object(w, plen, v);
	w->depth--;
	if (rc != WECOM_OK)
		return (rc);

	return (wecom_xml_add(w->x, w->path, plen, "", 0));
}

static int
walk_scalar(struct walk *w, size_t plen, json_t *v)
{
	char	 num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		/* A NUL inside would cut the text short behind our back. */
		if (memchr(json_string_value(v), '\0',
		    json_string_length(v)) != NULL) {
			wecom_xml_fail(w->x, "NUL in a JSON string");
			return (WECOM_ERR_PARSE_XML);
		}
		return (wecom_xml_add(w->x, w->path, plen,
		    json_string_value(v), json_string_length(v)));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(num, sizeof(num), "true");
		break;
	case JSON_FALSE:
		snprintf(num, sizeof(num), "false");
		break;
	default:
		num[0] = '\0';
		break;
	}

	return (wecom_xml_add(w->x, w->path, plen, num, strlen(num)));
}

/* path[0..plen) + "/" + key; the new length in *len. */
static int
walk_name(struct walk *w, size_t plen, const char *key, size_t *len)
{
	size_t	klen;

	klen = strlen(key);
	if (klen == 0 || strchr(key, '/') != NULL ||
	    plen + klen + 2 > sizeof(w->path)) {
		wecom_xml_fail(w->x, "bad or too long JSON member name");
		return (WECOM_ERR_PARSE_XML);
	}
	if (plen > 0)
		w->path[plen++] = '/';
	memcpy(w->path + plen, key, klen);
	*len = plen + klen;

	return (WECOM_OK);
}
