/* SPDX-License-Identifier: ISC */
/*
 * WeCom's envelopes for wecom-admin callback: the callback sealed as
 * WeCom seals it (the plaintext encrypted with the ReceiveId, the
 * signature over token, timestamp, nonce and ciphertext, an XML body
 * for an app, {"encrypt"} for a bot), and the server's reply opened:
 * its signature verified, its ciphertext decrypted, by the same crypto
 * layer the server uses.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/rand.h>

#include "wecom-admin.h"
#include "wecom-admin-callback.h"

/* The four fields of a reply envelope, in this order. */
enum { F_ENCRYPT, F_SIGNATURE, F_TIMESTAMP, F_NONCE, F_N };

static const char *const	xml_name[F_N] = {
	"Encrypt", "MsgSignature", "TimeStamp", "Nonce"
};
static const char *const	json_name[F_N] = {
	"encrypt", "msgsignature", "timestamp", "nonce"
};

static int	fields_xml(const struct reply *, char **);
static int	fields_json(const struct reply *, char **);
static int	show(struct wecom_crypto *, char **);

void
sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*np;
	size_t	 cap;
	int	 n;

	if (b->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		cap = b->len + (size_t)n + 1024;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->failed = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* s as CDATA: a "]]>" inside is split across two sections. */
void
sb_cdata(struct sbuf *b, const char *s)
{
	const char	*end;

	sb_add(b, "<![CDATA[");
	while ((end = strstr(s, "]]>")) != NULL) {
		sb_add(b, "%.*s]]]]><![CDATA[>", (int)(end - s), s);
		s = end + 3;
	}
	sb_add(b, "%s]]>", s);
}

char *
sb_done(struct sbuf *b)
{
	if (b->failed || b->p == NULL) {
		free(b->p);
		fprintf(stderr, "wecom-admin: out of memory\n");
		return (NULL);
	}
	return (b->p);
}

/* size - 1 random digits, the first not 0: a MsgId like WeCom's. */
int
random_digits(char *out, size_t size)
{
	unsigned char	r[32];
	size_t		i;

	if (size < 2 || size - 1 > sizeof(r) || RAND_bytes(r, (int)size - 1) !=
	    1)
		return (-1);
	for (i = 0; i + 1 < size; i++)
		out[i] = '0' + r[i] % 10;
	if (out[0] == '0')
		out[0] = '1';
	out[size - 1] = '\0';

	return (0);
}

int
seal(const struct cbopts *o, struct wecom_crypto *wc, const char *plain,
    struct sealed *s)
{
	struct sbuf	 b;
	char		*enc;
	size_t		 len, encsz, enclen;
	int		 rc;

	memset(s, 0, sizeof(*s));
	len = strlen(plain);
	encsz = WECOM_CRYPTO_B64LEN(len, strlen(o->rid));
	if ((enc = malloc(encsz)) == NULL)
		return (EX_OSERR);
	snprintf(s->timestamp, sizeof(s->timestamp), "%lld", o->now);
	if ((rc = wecom_crypto_encrypt(wc, plain, len, enc, encsz, &enclen)) !=
	    WECOM_OK || (rc = wecom_crypto_nonce(wc, s->nonce, 11)) !=
	    WECOM_OK || (rc = wecom_crypto_sign(wc, s->timestamp, s->nonce,
	    enc, s->signature)) != WECOM_OK) {
		fprintf(stderr, "wecom-admin: %s\n", wecom_strerror(rc));
		free(enc);
		return (EX_SOFTWARE);
	}
	memset(&b, 0, sizeof(b));
	if (o->bot)
		sb_add(&b, "{\"encrypt\":\"%s\"}", enc);
	else
		sb_add(&b, "<xml><ToUserName><![CDATA[%s]]></ToUserName>"
		    "<Encrypt><![CDATA[%s]]></Encrypt><AgentID><![CDATA[%lld]]>"
		    "</AgentID></xml>", o->corpid, enc, (long long)o->agentid);
	free(enc);

	return ((s->body = sb_done(&b)) == NULL ? EX_OSERR : EX_OK);
}

/* URL + path + the signed query; a "/" ending URL is not doubled. */
char *
request_url(const struct cbopts *o, const struct sealed *s)
{
	struct sbuf	b;
	size_t		len;

	len = strlen(o->url);
	while (len > 0 && o->url[len - 1] == '/')
		len--;
	memset(&b, 0, sizeof(b));
	sb_add(&b, "%.*s%s?msg_signature=%s&timestamp=%s&nonce=%s", (int)len,
	    o->url, o->path, s->signature, s->timestamp, s->nonce);

	return (sb_done(&b));
}

void
sealed_free(struct sealed *s)
{
	free(s->body);
	memset(s, 0, sizeof(*s));
}

/* <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml> */
static int
fields_xml(const struct reply *r, char **f)
{
	xmlDocPtr	 doc;
	xmlNodePtr	 root, n;
	xmlChar		*v;
	int		 i;

	if (r->len > 0x7fffffff || (doc = xmlReadMemory(r->body, (int)r->len,
	    NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING)) == NULL)
		return (-1);
	if ((root = xmlDocGetRootElement(doc)) != NULL &&
	    xmlStrcmp(root->name, (const xmlChar *)"xml") == 0) {
		for (n = root->children; n != NULL; n = n->next) {
			for (i = 0; i < F_N && n->type == XML_ELEMENT_NODE;
			    i++) {
				if (f[i] != NULL || xmlStrcmp(n->name,
				    (const xmlChar *)xml_name[i]) != 0 ||
				    (v = xmlNodeGetContent(n)) == NULL)
					continue;
				f[i] = strdup((const char *)v);
				xmlFree(v);
			}
		}
	}
	xmlFreeDoc(doc);

	return (0);
}

/* {"encrypt","msgsignature","timestamp","nonce"}: timestamp a number. */
static int
fields_json(const struct reply *r, char **f)
{
	json_t	*o, *v;
	char	 num[32];
	int	 i;

	if ((o = json_loadb(r->body, r->len, 0, NULL)) == NULL)
		return (-1);
	for (i = 0; i < F_N; i++) {
		v = json_object_get(o, json_name[i]);
		if (json_is_string(v))
			f[i] = strdup(json_string_value(v));
		else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(v));
			f[i] = strdup(num);
		}
	}
	json_decref(o);

	return (0);
}

/* Verified, decrypted, printed: or why not. */
static int
show(struct wecom_crypto *wc, char **f)
{
	const char	*msg;
	size_t		 len;
	int		 rc;

	if ((rc = wecom_crypto_verify(wc, f[F_TIMESTAMP], f[F_NONCE],
	    f[F_ENCRYPT], f[F_SIGNATURE])) != WECOM_OK ||
	    (rc = wecom_crypto_decrypt(wc, f[F_ENCRYPT], strlen(f[F_ENCRYPT]),
	    &msg, &len)) != WECOM_OK) {
		fprintf(stderr, "wecom-admin: the reply does not open: %d %s\n",
		    rc, wecom_strerror(rc));
		return (EX_PROTOCOL);
	}
	fwrite(msg, 1, len, stdout);
	if (len == 0 || msg[len - 1] != '\n')
		putchar('\n');

	return (EX_OK);
}

int
open_reply(const struct cbopts *o, struct wecom_crypto *wc,
    const struct reply *r)
{
	char	*f[F_N] = { NULL };
	int	 i, rc;

	rc = o->bot ? fields_json(r, f) : fields_xml(r, f);
	for (i = 0; rc == 0 && i < F_N; i++) {
		if (f[i] == NULL || *f[i] == '\0')
			rc = -1;
	}
	if (rc == -1) {
		fprintf(stderr, "wecom-admin: the reply is not an encrypted "
		    "envelope:\n%s%s", r->body, r->len > 0 &&
		    r->body[r->len - 1] != '\n' ? "\n" : "");
		rc = EX_PROTOCOL;
	} else
		rc = show(wc, f);
	for (i = 0; i < F_N; i++)
		free(f[i]);

	return (rc);
}
