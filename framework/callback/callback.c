/* SPDX-License-Identifier: ISC */
/*
 * The callback pipeline: authentic first (signature), then decrypted,
 * then parsed — nothing of an unsigned body is ever parsed beyond the
 * envelope that carries the signed text.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wecom_crypto.h"
#include "wecom.h"
#include "wecom_app.h"
#include "wecom_callback.h"
#include "wecom_msg.h"
#include "wecom_xml.h"

static int	callback_fail(struct wecom_result *, int, const char *);
static int	callback_echostr(const char *, size_t);
static int	callback_envelope(struct wecom_result *, const char *,
		    const char *, const char *, const char *);
static int	callback_envelope_json(struct wecom_result *, const char *,
		    const char *, const char *, const char *);
static int	callback_unseal(struct wecom_app *, struct wecom_xml *,
		    const struct wecom_query *, const char *, size_t,
		    const char **, size_t *, struct wecom_result *);
static int	callback_unseal_json(struct wecom_app *,
		    const struct wecom_query *, const char *, size_t,
		    const char **, size_t *, struct wecom_result *);
static int	callback_decrypt(struct wecom_app *,
		    const struct wecom_query *, const char *, size_t,
		    const char **, size_t *, struct wecom_result *);

/*
 * The timestamp is within the app's window of now (always, for a window
 * of 0). A captured request replayed later fails here.
 */
int
wecom_callback_fresh(const struct wecom_app *app, const struct wecom_query *q,
    time_t now)
{
	long long	ts;

	if (app->window == 0)
		return (1);
	ts = strtoll(q->timestamp, NULL, 10);

	return (ts >= (long long)now - app->window &&
	    ts <= (long long)now + app->window);
}

/*
 * GET ?msg_signature&timestamp&nonce&echostr: prove we hold the token
 * and key by answering the decrypted echostr, bare. Only a plaintext
 * shaped like WeCom's echostr (a short token, no markup) is answered:
 * the GET must not decrypt a captured callback or one of our own
 * encrypted replies for whoever replays it.
 */
void
wecom_callback_verify_url(struct wecom_app *app, const struct wecom_query *q,
    struct wecom_result *res)
{
	const char	*plain;
	size_t		 len;
	int		 rc;

	memset(res, 0, sizeof(*res));
	res->msgtype = "verify_url";
	if ((rc = wecom_crypto_verify(app->crypto, q->timestamp, q->nonce,
	    q->echostr, q->signature)) != WECOM_OK) {
		callback_fail(res, rc, NULL);
		return;
	}
	if ((rc = wecom_crypto_decrypt(app->crypto, q->echostr,
	    strlen(q->echostr), &plain, &len)) != WECOM_OK) {
		callback_fail(res, rc, "echostr");
		return;
	}
	if (!callback_echostr(plain, len)) {
		callback_fail(res, WECOM_ERR_DECRYPT,
		    "echostr: not a verification token");
		return;
	}
	if ((res->body = malloc(len + 1)) == NULL) {
		callback_fail(res, WECOM_ERR_BUFFER, "out of memory");
		return;
	}
	memcpy(res->body, plain, len + 1);
	res->len = len;
}

/*
 * Verify, decrypt and parse a POSTed callback. On success msg is loaded
 * (it points into x) and *plain is the decrypted text (inside the app's
 * crypto state: valid until its next use).
 */
int
wecom_callback_open(struct wecom_app *app, struct wecom_xml *x,
    const struct wecom_query *q, const char *body, size_t len,
    struct wecom_msg *msg, const char **plain, size_t *plainlen,
    struct wecom_result *res)
{
	int	rc;

	memset(res, 0, sizeof(*res));
	if (app->conf->kind == WECOM_KIND_AIBOT)
		rc = callback_unseal_json(app, q, body, len, plain, plainlen,
		    res);
	else
		rc = callback_unseal(app, x, q, body, len, plain, plainlen,
		    res);
	if (rc != WECOM_OK)
		return (rc);

	/* The envelope is done with: the same arena takes the message. */
	if (wecom_callback_load(app, x, *plain, *plainlen, msg) != WECOM_OK)
		return (callback_fail(res, WECOM_ERR_PARSE_XML,
		    wecom_xml_error(x)));
	res->msgtype = msg->type == WECOM_MSG_EVENT ? "event" :
	    msg->type == WECOM_MSG_UNKNOWN ? msg->msgtype :
	    wecom_msg_type_name(msg->type);

	return (WECOM_OK);
}

/* A decrypted message into msg: an app's XML, a bot's JSON. */
int
wecom_callback_load(struct wecom_app *app, struct wecom_xml *x,
    const char *plain, size_t len, struct wecom_msg *msg)
{
	if (app->conf->kind == WECOM_KIND_AIBOT) {
		if (wecom_xml_parse_json(x, plain, len) != WECOM_OK)
			return (WECOM_ERR_PARSE_XML);
		if (wecom_msg_load_aibot(msg, x) != WECOM_OK) {
			wecom_xml_fail(x, "no msgtype");
			return (WECOM_ERR_PARSE_XML);
		}
		return (WECOM_OK);
	}
	if (wecom_xml_parse(x, plain, len) != WECOM_OK)
		return (WECOM_ERR_PARSE_XML);
	if (wecom_msg_load(msg, x) != WECOM_OK) {
		wecom_xml_fail(x, "no MsgType");
		return (WECOM_ERR_PARSE_XML);
	}

	return (WECOM_OK);
}

/* An app's XML envelope: <Encrypt> checked, its plaintext out. */
static int
callback_unseal(struct wecom_app *app, struct wecom_xml *x,
    const struct wecom_query *q, const char *body, size_t len,
    const char **plain, size_t *plainlen, struct wecom_result *res)
{
	const char	*enc, *why;
	size_t		 enclen;

	if (wecom_xml_envelope_check(body, len, &why) != WECOM_OK)
		return (callback_fail(res, WECOM_ERR_PARSE_XML, why));
	if (wecom_xml_parse(x, body, len) != WECOM_OK)
		return (callback_fail(res, WECOM_ERR_PARSE_XML,
		    wecom_xml_error(x)));
	if ((enc = wecom_xml_get_nth(x, "Encrypt", 0, &enclen)) == NULL)
		return (callback_fail(res, WECOM_ERR_PARSE_XML,
		    "no Encrypt element"));

	return (callback_decrypt(app, q, enc, enclen, plain, plainlen, res));
}

/* A bot's JSON envelope: {"encrypt": "…"}. */
static int
callback_unseal_json(struct wecom_app *app, const struct wecom_query *q,
    const char *body, size_t len, const char **plain, size_t *plainlen,
    struct wecom_result *res)
{
	json_t	*o, *enc;
	int	 rc;

	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	enc = json_object_get(o, "encrypt");
	if (!json_is_string(enc) || json_string_length(enc) == 0)
		rc = callback_fail(res, WECOM_ERR_PARSE_XML,
		    "not a JSON object with an encrypt string");
	else
		rc = callback_decrypt(app, q, json_string_value(enc),
		    json_string_length(enc), plain, plainlen, res);
	json_decref(o);

	return (rc);
}

/* Signed by the token, then decrypted: never the other way round. */
static int
callback_decrypt(struct wecom_app *app, const struct wecom_query *q,
    const char *enc, size_t enclen, const char **plain, size_t *plainlen,
    struct wecom_result *res)
{
	int	rc;

	if ((rc = wecom_crypto_verify(app->crypto, q->timestamp, q->nonce,
	    enc, q->signature)) != WECOM_OK)
		return (callback_fail(res, rc, NULL));
	if ((rc = wecom_crypto_decrypt(app->crypto, enc, enclen, plain,
	    plainlen)) != WECOM_OK)
		return (callback_fail(res, rc, "Encrypt"));

	return (WECOM_OK);
}

/*
 * Run the handlers here and now. *reply is their reply's plaintext
 * (malloc'ed) or NULL.
 */
void
wecom_callback_route(struct wecom_app *app, const struct wecom_msg *msg,
    char **reply, size_t *len)
{
	struct wecom_ctx	ctx;

	memset(&ctx, 0, sizeof(ctx));
	ctx.app = app;
	ctx.msg = msg;
	ctx.channel = wecom_app_channel(app);
	wecom_route_run(&ctx);
	*reply = ctx.reply;
	*len = ctx.reply_len;
	ctx.reply = NULL;
	wecom_ctx_reset(&ctx);
}

void
wecom_callback_post(struct wecom_app *app, struct wecom_xml *x,
    const struct wecom_query *q, const char *body, size_t len,
    struct wecom_result *res)
{
	struct wecom_msg	 msg;
	const char		*plain;
	char			*reply;
	size_t			 plainlen, rlen;

	if (wecom_callback_open(app, x, q, body, len, &msg, &plain, &plainlen,
	    res) != WECOM_OK)
		return;
	wecom_callback_route(app, &msg, &reply, &rlen);
	if (reply != NULL)
		wecom_callback_seal(app, q->nonce, reply, rlen, res);
	free(reply);
}

void
wecom_result_clear(struct wecom_result *res)
{
	free(res->body);
	memset(res, 0, sizeof(*res));
}

/* 1 to 128 bytes of letters, digits and "-_.", as WeCom's echostr. */
#define ECHOSTR_MAX	128

static int
callback_echostr(const char *plain, size_t len)
{
	size_t	i;

	if (len == 0 || len > ECHOSTR_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if (!isalnum((unsigned char)plain[i]) &&
		    strchr("-_.", plain[i]) == NULL)
			return (0);
	}

	return (1);
}

static int
callback_fail(struct wecom_result *res, int code, const char *why)
{
	res->code = code;
	res->why = why;
	free(res->body);
	res->body = NULL;
	res->len = 0;

	return (code);
}

/*
 * Encrypt a reply's plaintext, sign it with a fresh timestamp and the
 * callback's nonce (NULL: a fresh one), and wrap it in WeCom's
 * envelope, XML for an app and JSON for a bot: res->body.
 */
int
wecom_callback_seal(struct wecom_app *app, const char *cbnonce,
    const char *reply, size_t len, struct wecom_result *res)
{
	char	*b64, sig[WECOM_SIG_LEN + 1], now[24], nonce[65];
	size_t	 sz, b64len;
	int	 rc;

	/* Room for the longest ReceiveId the crypto layer takes. */
	sz = WECOM_CRYPTO_B64LEN(len, 256);
	if ((b64 = malloc(sz)) == NULL)
		return (callback_fail(res, WECOM_ERR_ENCRYPT, "out of memory"));

	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	rc = WECOM_OK;
	if (cbnonce != NULL && strlen(cbnonce) < sizeof(nonce))
		memcpy(nonce, cbnonce, strlen(cbnonce) + 1);
	else
		rc = wecom_crypto_nonce(app->crypto, nonce, 11);
	if (rc != WECOM_OK ||
	    (rc = wecom_crypto_encrypt(app->crypto, reply, len, b64, sz,
	    &b64len)) != WECOM_OK ||
	    (rc = wecom_crypto_sign(app->crypto, now, nonce, b64, sig)) !=
	    WECOM_OK)
		callback_fail(res, rc, "reply");
	else if (app->conf->kind == WECOM_KIND_AIBOT)
		rc = callback_envelope_json(res, b64, sig, now, nonce);
	else
		rc = callback_envelope(res, b64, sig, now, nonce);
	free(b64);

	return (rc);
}

/*
 * WeCom's reply envelope, as documented. Its values are base64, hex and
 * digits: nothing in them needs escaping.
 */
static int
callback_envelope(struct wecom_result *res, const char *enc, const char *sig,
    const char *now, const char *nonce)
{
	static const char	fmt[] = "<xml>\n"
	    "<Encrypt><![CDATA[%s]]></Encrypt>\n"
	    "<MsgSignature><![CDATA[%s]]></MsgSignature>\n"
	    "<TimeStamp>%s</TimeStamp>\n"
	    "<Nonce><![CDATA[%s]]></Nonce>\n"
	    "</xml>";
	size_t			len;
	int			n;

	len = sizeof(fmt) + strlen(enc) + strlen(sig) + strlen(now) +
	    strlen(nonce);
	if ((res->body = malloc(len)) == NULL)
		return (callback_fail(res, WECOM_ERR_BUILD_XML, "no memory"));
	n = snprintf(res->body, len, fmt, enc, sig, now, nonce);
	if (n < 0 || (size_t)n >= len)
		return (callback_fail(res, WECOM_ERR_BUILD_XML, "envelope"));
	res->len = (size_t)n;

	return (WECOM_OK);
}

/* A bot's: {"encrypt", "msgsignature", "timestamp" (a number), "nonce"}. */
static int
callback_envelope_json(struct wecom_result *res, const char *enc,
    const char *sig, const char *now, const char *nonce)
{
	json_t	*o;

	o = json_pack("{s:s, s:s, s:I, s:s}", "encrypt", enc, "msgsignature",
	    sig, "timestamp", (json_int_t)strtoll(now, NULL, 10), "nonce",
	    nonce);
	if (o == NULL || (res->body = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		return (callback_fail(res, WECOM_ERR_BUILD_XML, "no memory"));
	}
	json_decref(o);
	res->len = strlen(res->body);

	return (WECOM_OK);
}
