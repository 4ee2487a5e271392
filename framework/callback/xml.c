/* SPDX-License-Identifier: ISC */
/*
 * SAX2 parsing into the flat model of wecom_xml.h. The parser context
 * is created once and reset for every document: creating one per
 * callback costs more than parsing a WeCom message.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>

#include "wecom_crypto.h"
#include "wecom_xml.h"

/* libxml2 interns element names; bound what hostile names can add. */
#define DICT_MAX	4096
#define ARENA_MAX	(WECOM_MSG_MAX * 2)

/*
 * No DTD, no entity substitution, no network, quiet. WeCom speaks UTF-8
 * only: a declared encoding is ignored, never handed to iconv (whose
 * module lookup is outside the worker's sandbox).
 */
#define XML_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOERROR | \
			 XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | \
			 XML_PARSE_IGNORE_ENC)

static void	xml_start(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *, int, const xmlChar **, int, int,
		    const xmlChar **);
static void	xml_end(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *);
static void	xml_text(void *, const xmlChar *, int);
static void	xml_doctype(void *, const xmlChar *, const xmlChar *,
		    const xmlChar *);
static xmlEntityPtr	xml_entity(void *, const xmlChar *);
static void	xml_fail(struct wecom_xml *, const char *);
static const char	*xml_envelope_tag(const char *, const char *,
			    const char **);
static const char	*xml_envelope_cdata(const char *, const char *,
			    const char **);
static int		 xml_ascii(const char *, size_t);
static int		 xml_ascii_bytes(const char *, size_t);
static int	xml_append(struct wecom_xml *, const void *, size_t);
static int	xml_field(struct wecom_xml *, const char *, size_t);
static int	xml_context(struct wecom_xml *);
static int	xml_match(const struct wecom_xml *,
		    const struct wecom_xml_field *, const char *);

struct wecom_xml *
wecom_xml_new(void)
{
	return (calloc(1, sizeof(struct wecom_xml)));
}

void
wecom_xml_free(struct wecom_xml *x)
{
	if (x == NULL)
		return;
	if (x->ctxt != NULL)
		xmlFreeParserCtxt(x->ctxt);
	free(x->arena);
	free(x);
}

/*
 * Parse buf into x, replacing what x held. Returns WECOM_OK or
 * WECOM_ERR_PARSE_XML; wecom_xml_error() says why.
 */
int
wecom_xml_parse(struct wecom_xml *x, const char *buf, size_t len)
{
	xmlParserCtxtPtr	ctxt;

	wecom_xml_reset(x);
	if (len == 0 || len > WECOM_MSG_MAX) {
		xml_fail(x, "empty or oversized document");
		return (WECOM_ERR_PARSE_XML);
	}
	if (xml_context(x) != WECOM_OK) {
		xml_fail(x, "out of memory");
		return (WECOM_ERR_PARSE_XML);
	}
	ctxt = x->ctxt;
	if (xmlCtxtResetPush(ctxt, NULL, 0, NULL, "UTF-8") != 0) {
		xml_fail(x, "parser reset failed");
		return (WECOM_ERR_PARSE_XML);
	}
	xmlCtxtUseOptions(ctxt, XML_OPTIONS);
	ctxt->userData = x;

	if (xmlParseChunk(ctxt, buf, (int)len, 1) != 0 && !x->err)
		xml_fail(x, "not well-formed XML");
	if (!x->err && (!ctxt->wellFormed || x->nfields == 0))
		xml_fail(x, "no elements");

	return (x->err ? WECOM_ERR_PARSE_XML : WECOM_OK);
}

/*
 * WeCom's envelopes are a few elements of ASCII text: no attributes, no
 * namespaces, no declarations, comments or processing instructions;
 * only CDATA sections. Anything else is refused here, in one linear
 * pass, before libxml2 (whose attribute checks are quadratic) sees it.
 * Returns WECOM_OK, or WECOM_ERR_PARSE_XML with *why set.
 */
#define ENVELOPE_TAGS_MAX	32
#define CDATA_OPEN		"<![CDATA["

int
wecom_xml_envelope_check(const char *buf, size_t len, const char **why)
{
	const char	*p, *end;
	size_t		 tags;

	*why = NULL;
	if (!xml_ascii(buf, len)) {
		*why = "envelope: not ASCII text";
		return (WECOM_ERR_PARSE_XML);
	}
	end = buf + len;
	for (p = buf, tags = 0; *why == NULL &&
	    (p = memchr(p, '<', (size_t)(end - p))) != NULL;) {
		if ((size_t)(end - p) >= sizeof(CDATA_OPEN) - 1 &&
		    memcmp(p, CDATA_OPEN, sizeof(CDATA_OPEN) - 1) == 0)
			p = xml_envelope_cdata(p + sizeof(CDATA_OPEN) - 1, end,
			    why);
		else if (++tags > ENVELOPE_TAGS_MAX)
			*why = "envelope: too many elements";
		else
			p = xml_envelope_tag(p + 1, end, why);
	}

	return (*why == NULL ? WECOM_OK : WECOM_ERR_PARSE_XML);
}

/*
 * Printable ASCII, tab and newlines only. Eight bytes at a time: a word
 * with no byte of 0x80 or more and none below 0x20 needs no closer look
 * (the second test flags a byte below 0x20 once the first has passed).
 */
static int
xml_ascii(const char *buf, size_t len)
{
	const uint64_t	hi = 0x8080808080808080ULL;
	const uint64_t	sp = 0x2020202020202020ULL;
	uint64_t	w;
	size_t		i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, buf + i, sizeof(w));
		if (((w & hi) != 0 || ((w - sp) & ~w & hi) != 0) &&
		    !xml_ascii_bytes(buf + i, 8))
			return (0);
	}

	return (xml_ascii_bytes(buf + i, len - i));
}

static int
xml_ascii_bytes(const char *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if ((unsigned char)p[i] >= 0x80 || ((unsigned char)p[i] < 0x20 &&
		    p[i] != '\t' && p[i] != '\n' && p[i] != '\r'))
			return (0);
	}

	return (1);
}

/* Past the "]]>" that ends a CDATA section (base64 holds no ']'). */
static const char *
xml_envelope_cdata(const char *p, const char *end, const char **why)
{
	const char	*q;

	while ((q = memchr(p, ']', (size_t)(end - p))) != NULL &&
	    end - q >= 3) {
		if (q[1] == ']' && q[2] == '>')
			return (q + 3);
		p = q + 1;
	}
	*why = "envelope: unterminated CDATA";

	return (end);
}

/* A tag's name: no attribute, namespace, declaration or comment. */
static const char *
xml_envelope_tag(const char *p, const char *end, const char **why)
{
	if (p < end && (*p == '!' || *p == '?')) {
		*why = "envelope: declaration, comment or instruction";
		return (p);
	}
	for (; p < end && *p != '>'; p++) {
		if (strchr("<=:\"'", *p) != NULL) {
			*why = "envelope: attributes or namespaces";
			return (p);
		}
	}
	if (p == end)
		*why = "envelope: unterminated tag";

	return (p);
}

const char *
wecom_xml_error(const struct wecom_xml *x)
{
	return (x->why ? x->why : "no error");
}

/*
 * name is a full path below the root ("ScanCodeInfo/ScanType") or an
 * element's own name ("ScanType").
 */
const char *
wecom_xml_get(const struct wecom_xml *x, const char *name)
{
	return (wecom_xml_get_nth(x, name, 0, NULL));
}

const char *
wecom_xml_get_nth(const struct wecom_xml *x, const char *name, size_t n,
    size_t *len)
{
	size_t	i;

	for (i = 0; i < x->nfields; i++) {
		if (!xml_match(x, &x->fields[i], name) || n-- > 0)
			continue;
		if (len != NULL)
			*len = x->fields[i].vlen;
		return (x->arena + x->fields[i].value);
	}

	return (NULL);
}

size_t
wecom_xml_count(const struct wecom_xml *x, const char *name)
{
	size_t	i, n;

	for (i = n = 0; i < x->nfields; i++)
		n += xml_match(x, &x->fields[i], name);

	return (n);
}

size_t
wecom_xml_nfields(const struct wecom_xml *x)
{
	return (x->nfields);
}

void
wecom_xml_field(const struct wecom_xml *x, size_t i, const char **path,
    const char **value)
{
	*path = x->arena + x->fields[i].path;
	*value = x->arena + x->fields[i].value;
}

static int
xml_match(const struct wecom_xml *x, const struct wecom_xml_field *f,
    const char *name)
{
	return (strcmp(x->arena + f->name, name) == 0 ||
	    (f->name != f->path && strcmp(x->arena + f->path, name) == 0));
}

static int
xml_context(struct wecom_xml *x)
{
	xmlSAXHandler		 sax;
	xmlParserCtxtPtr	 ctxt;

	ctxt = x->ctxt;
	if (ctxt != NULL && xmlDictSize(ctxt->dict) < DICT_MAX)
		return (WECOM_OK);
	if (ctxt != NULL)
		xmlFreeParserCtxt(ctxt);

	memset(&sax, 0, sizeof(sax));
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = xml_start;
	sax.endElementNs = xml_end;
	sax.characters = xml_text;
	sax.cdataBlock = xml_text;
	sax.internalSubset = xml_doctype;
	sax.externalSubset = xml_doctype;
	sax.getEntity = xml_entity;
	sax.getParameterEntity = xml_entity;

	x->ctxt = xmlCreatePushParserCtxt(&sax, x, NULL, 0, NULL);
	return (x->ctxt == NULL ? WECOM_ERR_PARSE_XML : WECOM_OK);
}

static void
xml_start(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nns, const xmlChar **ns, int nattr, int ndef,
    const xmlChar **attrs)
{
	struct wecom_xml	*x = ctx;
	size_t			 nlen;

	if (x->err)
		return;
	if (x->depth >= WECOM_XML_DEPTH_MAX) {
		xml_fail(x, "nesting too deep");
		return;
	}

	/* A child: whatever text its parent had was only layout. */
	x->len = x->mark;
	x->stack[x->depth++] = x->pathlen;
	x->leaf = 1;
	if (x->depth == 1)
		return;

	nlen = strlen((const char *)localname);
	if (x->pathlen + nlen + 2 > sizeof(x->path)) {
		xml_fail(x, "element path too long");
		return;
	}
	if (x->pathlen > 0)
		x->path[x->pathlen++] = '/';
	memcpy(x->path + x->pathlen, localname, nlen);
	x->pathlen += nlen;
	x->path[x->pathlen] = '\0';
}

static void
xml_end(void *ctx, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri)
{
	struct wecom_xml	*x = ctx;
	size_t			 plen;

	if (x->err || x->depth == 0)
		return;
	plen = x->pathlen;
	x->pathlen = x->stack[--x->depth];
	if (x->depth == 0) {
		x->len = x->mark;
		return;
	}

	/* A container is kept too, empty, so that its items can be counted. */
	if (!x->leaf)
		x->len = x->mark;
	x->leaf = 0;
	xml_field(x, x->path, plen);
}

/*
 * The text from x->mark to the end of the arena becomes the value of a
 * field at path, which is copied after it.
 */
static int
xml_field(struct wecom_xml *x, const char *path, size_t plen)
{
	struct wecom_xml_field	*f;
	const char		*slash;

	if (x->nfields == WECOM_XML_FIELDS_MAX) {
		xml_fail(x, "too many elements");
		return (WECOM_ERR_PARSE_XML);
	}
	f = &x->fields[x->nfields];
	f->value = (uint32_t)x->mark;
	f->vlen = (uint32_t)(x->len - x->mark);
	if (xml_append(x, "", 1) != WECOM_OK)
		return (WECOM_ERR_PARSE_XML);
	/* A container's path is a prefix of the buffer: terminate it here. */
	f->path = (uint32_t)x->len;
	if (xml_append(x, path, plen) != WECOM_OK ||
	    xml_append(x, "", 1) != WECOM_OK)
		return (WECOM_ERR_PARSE_XML);
	slash = memrchr(path, '/', plen);
	f->name = f->path + (slash ? (uint32_t)(slash - path + 1) : 0);

	x->nfields++;
	x->mark = x->len;

	return (WECOM_OK);
}

/* Another parser's document (a bot's JSON) into the same model. */
void
wecom_xml_reset(struct wecom_xml *x)
{
	x->len = x->nfields = x->pathlen = x->mark = 0;
	x->depth = x->leaf = x->err = 0;
	x->why = NULL;
}

int
wecom_xml_add(struct wecom_xml *x, const char *path, size_t plen,
    const char *value, size_t vlen)
{
	if (x->err || xml_append(x, value, vlen) != WECOM_OK)
		return (WECOM_ERR_PARSE_XML);

	return (xml_field(x, path, plen));
}

void
wecom_xml_fail(struct wecom_xml *x, const char *why)
{
	xml_fail(x, why);
}

static void
xml_text(void *ctx, const xmlChar *text, int len)
{
	struct wecom_xml	*x = ctx;

	if (x->err || !x->leaf)
		return;
	xml_append(x, text, (size_t)len);
}

/* Any DOCTYPE ends the parse: no DTD ever reaches the entity machinery. */
static void
xml_doctype(void *ctx, const xmlChar *name, const xmlChar *ext,
    const xmlChar *sys)
{
	xml_fail(ctx, "DOCTYPE not allowed");
}

static xmlEntityPtr
xml_entity(void *ctx, const xmlChar *name)
{
	xml_fail(ctx, "entity reference not allowed");
	return (NULL);
}

static void
xml_fail(struct wecom_xml *x, const char *why)
{
	if (!x->err) {
		x->err = 1;
		x->why = why;
	}
	if (x->ctxt != NULL)
		xmlStopParser(x->ctxt);
}

static int
xml_append(struct wecom_xml *x, const void *p, size_t len)
{
	char	*n;
	size_t	 cap;

	if (x->len + len > x->cap) {
		if (x->len + len > ARENA_MAX) {
			xml_fail(x, "document too large");
			return (WECOM_ERR_PARSE_XML);
		}
		cap = x->cap ? x->cap : 1024;
		while (cap < x->len + len)
			cap *= 2;
		if ((n = realloc(x->arena, cap)) == NULL) {
			xml_fail(x, "out of memory");
			return (WECOM_ERR_PARSE_XML);
		}
		x->arena = n;
		x->cap = cap;
	}
	memcpy(x->arena + x->len, p, len);
	x->len += len;

	return (WECOM_OK);
}
