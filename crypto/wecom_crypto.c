/* SPDX-License-Identifier: ISC */
/*
 * The WXBizMsgCrypt scheme: SHA1 signatures over the sorted parameters,
 * AES-256-CBC with the IV taken from the key, and PKCS#7 padding to a
 * 32-byte block. All primitives come from OpenSSL.
 */

#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "wecom_crypto.h"
#include "wecom_crypto_private.h"

#define TOKEN_MAX	128
#define RID_MAX		128

static const unsigned char	b64ok[256] = {
	['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1,
	['+'] = 1, ['/'] = 1,
};

#define B64_CHAR(c)	(b64ok[(unsigned char)(c)])

/* Bumped in every forked child: a random pool never crosses a fork. */
static volatile unsigned int	forks;
static pthread_once_t		atfork_once = PTHREAD_ONCE_INIT;

struct wecom_crypto {
	char		 token[TOKEN_MAX + 1];
	char		 receiveid[RID_MAX + 1];
	size_t		 ridlen;
	int		 anyrid;	/* NULL given: not checked */
	unsigned char	 key[WECOM_KEY_BYTES];
	EVP_CIPHER_CTX	*enc;
	EVP_CIPHER_CTX	*dec;
	EVP_MD		*sha1;
	unsigned char	*scratch;
	size_t		 scratchsz;
	/* CSPRNG output drawn in bulk: one RAND_bytes call costs more than
	 * the AES of a reply. Emptied by a fork, so children never share it. */
	unsigned char	 pool[512];
	size_t		 poolleft;
	unsigned int	 poolfork;
};

static int	crypto_scratch(struct wecom_crypto *, size_t);
static int	crypto_b64_decode(const char *, size_t, unsigned char *,
		    size_t *);
static int	crypto_cmp(const void *, const void *);
static int	crypto_random(struct wecom_crypto *, unsigned char *, size_t);
static void	crypto_atfork(void);
static void	crypto_forked(void);

static const struct {
	int		 code;
	const char	*name;
} errnames[] = {
	{ WECOM_OK,		"0 OK" },
	{ WECOM_ERR_SIGNATURE,	"-40001 ValidateSignatureError" },
	{ WECOM_ERR_PARSE_XML,	"-40002 ParseXmlError" },
	{ WECOM_ERR_SHA,	"-40003 ComputeSignatureError" },
	{ WECOM_ERR_AESKEY,	"-40004 IllegalAesKey" },
	{ WECOM_ERR_RECEIVEID,	"-40005 ValidateCorpidError" },
	{ WECOM_ERR_ENCRYPT,	"-40006 EncryptAESError" },
	{ WECOM_ERR_DECRYPT,	"-40007 DecryptAESError" },
	{ WECOM_ERR_BUFFER,	"-40008 IllegalBuffer" },
	{ WECOM_ERR_B64_ENCODE,	"-40009 EncodeBase64Error" },
	{ WECOM_ERR_B64_DECODE,	"-40010 DecodeBase64Error" },
	{ WECOM_ERR_BUILD_XML,	"-40011 GenReturnXmlError" },
};

const char *
wecom_strerror(int code)
{
	size_t		i;

	for (i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++) {
		if (errnames[i].code == code)
			return (errnames[i].name);
	}

	return ("unknown error");
}

/*
 * An EncodingAESKey is 43 characters of [A-Za-z0-9] that decode, with
 * one '=' appended, to exactly 32 bytes.
 */
int
wecom_crypto_check_aeskey(const char *aeskey)
{
	unsigned char	key[WECOM_KEY_BYTES];
	int		rc;

	rc = wecom_crypto_key_decode(aeskey, 0, key);
	OPENSSL_cleanse(key, sizeof(key));

	return (rc);
}

struct wecom_crypto *
wecom_crypto_new(const char *token, const char *aeskey, const char *receiveid,
    int *err)
{
	struct wecom_crypto	*wc;

	*err = WECOM_ERR_AESKEY;
	if (strlen(token) > TOKEN_MAX ||
	    (receiveid != NULL && strlen(receiveid) > RID_MAX))
		return (NULL);
	if ((wc = calloc(1, sizeof(*wc))) == NULL)
		return (NULL);
	if (receiveid == NULL) {
		wc->anyrid = 1;
		receiveid = "";
	}
	if (pthread_once(&atfork_once, crypto_atfork) != 0)
		goto fail;

	if ((*err = wecom_crypto_key_decode(aeskey, 0, wc->key)) != WECOM_OK)
		goto fail;

	*err = WECOM_ERR_DECRYPT;
	memcpy(wc->token, token, strlen(token) + 1);
	memcpy(wc->receiveid, receiveid, strlen(receiveid) + 1);
	wc->ridlen = strlen(receiveid);

	/* Fetch once: per-call lookups are a measurable cost. */
	if ((wc->sha1 = EVP_MD_fetch(NULL, "SHA1", NULL)) == NULL ||
	    (wc->enc = EVP_CIPHER_CTX_new()) == NULL ||
	    (wc->dec = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (!EVP_EncryptInit_ex(wc->enc, EVP_aes_256_cbc(), NULL, wc->key,
	    wc->key) || !EVP_DecryptInit_ex(wc->dec, EVP_aes_256_cbc(), NULL,
	    wc->key, wc->key))
		goto fail;
	EVP_CIPHER_CTX_set_padding(wc->enc, 0);
	EVP_CIPHER_CTX_set_padding(wc->dec, 0);

	*err = WECOM_OK;
	return (wc);

fail:
	wecom_crypto_free(wc);
	return (NULL);
}

void
wecom_crypto_free(struct wecom_crypto *wc)
{
	if (wc == NULL)
		return;

	EVP_CIPHER_CTX_free(wc->enc);
	EVP_CIPHER_CTX_free(wc->dec);
	EVP_MD_free(wc->sha1);
	if (wc->scratch != NULL) {
		OPENSSL_cleanse(wc->scratch, wc->scratchsz);
		free(wc->scratch);
	}
	OPENSSL_cleanse(wc, sizeof(*wc));
	free(wc);
}

/*
 * msg_signature = hex(sha1(sorted(token, timestamp, nonce, encrypt)
 * concatenated)). The pieces are hashed in order, never copied.
 */
int
wecom_crypto_sign(const struct wecom_crypto *wc, const char *timestamp,
    const char *nonce, const char *encrypt, char out[WECOM_SIG_LEN + 1])
{
	static const char	 hex[] = "0123456789abcdef";
	const char		*parts[4];
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen, i;
	EVP_MD_CTX		*ctx;
	int			 rc;

	rc = WECOM_ERR_SHA;
	parts[0] = wc->token;
	parts[1] = timestamp;
	parts[2] = nonce;
	parts[3] = encrypt;
	qsort(parts, 4, sizeof(parts[0]), crypto_cmp);

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return (rc);
	if (!EVP_DigestInit_ex(ctx, wc->sha1, NULL))
		goto out;
	for (i = 0; i < 4; i++) {
		if (!EVP_DigestUpdate(ctx, parts[i], strlen(parts[i])))
			goto out;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen * 2 != WECOM_SIG_LEN)
		goto out;

	for (i = 0; i < mdlen; i++) {
		out[i * 2] = hex[md[i] >> 4];
		out[i * 2 + 1] = hex[md[i] & 0x0f];
	}
	out[WECOM_SIG_LEN] = '\0';
	rc = WECOM_OK;

out:
	EVP_MD_CTX_free(ctx);
	return (rc);
}

/*
 * Constant time: the comparison must not tell an attacker how many
 * bytes of a forged signature were right.
 */
int
wecom_crypto_verify(const struct wecom_crypto *wc, const char *timestamp,
    const char *nonce, const char *encrypt, const char *signature)
{
	char	expect[WECOM_SIG_LEN + 1];

	if (wecom_crypto_sign(wc, timestamp, nonce, encrypt, expect) != WECOM_OK)
		return (WECOM_ERR_SHA);
	if (strlen(signature) != WECOM_SIG_LEN ||
	    CRYPTO_memcmp(expect, signature, WECOM_SIG_LEN) != 0)
		return (WECOM_ERR_SIGNATURE);

	return (WECOM_OK);
}

/*
 * Decrypt a base64 Encrypt value. On success *msg points at the
 * NUL-terminated message inside wc's scratch buffer: it stays valid
 * until the next call on wc.
 */
int
wecom_crypto_decrypt(struct wecom_crypto *wc, const char *b64, size_t b64len,
    const char **msg, size_t *msglen)
{
	unsigned char	*p;
	size_t		 len, pad, mlen;
	int		 outl;

	if (b64len == 0 || b64len > (WECOM_MSG_MAX / 3 + 1) * 4)
		return (WECOM_ERR_B64_DECODE);
	if (crypto_scratch(wc, b64len / 4 * 3) != WECOM_OK)
		return (WECOM_ERR_DECRYPT);
	p = wc->scratch;

	if (crypto_b64_decode(b64, b64len, p, &len) != WECOM_OK)
		return (WECOM_ERR_B64_DECODE);
	if (len < WECOM_BLOCK || len % 16 != 0)
		return (WECOM_ERR_DECRYPT);

	/* Re-arm the IV only; the key schedule is kept. */
	if (!EVP_DecryptInit_ex(wc->dec, NULL, NULL, NULL, wc->key) ||
	    !EVP_DecryptUpdate(wc->dec, p, &outl, p, (int)len) ||
	    (size_t)outl != len)
		return (WECOM_ERR_DECRYPT);

	pad = p[len - 1];
	if (pad < 1 || pad > WECOM_BLOCK)
		return (WECOM_ERR_BUFFER);
	len -= pad;
	if (len < WECOM_RANDOM_BYTES + 4)
		return (WECOM_ERR_BUFFER);

	p += WECOM_RANDOM_BYTES;
	mlen = ((size_t)p[0] << 24) | ((size_t)p[1] << 16) |
	    ((size_t)p[2] << 8) | (size_t)p[3];
	p += 4;
	len -= WECOM_RANDOM_BYTES + 4;
	if (mlen > len)
		return (WECOM_ERR_BUFFER);

	if (!wc->anyrid && (len - mlen != wc->ridlen ||
	    memcmp(p + mlen, wc->receiveid, wc->ridlen) != 0))
		return (WECOM_ERR_RECEIVEID);

	/* The receiveid is checked or ignored: its first byte may go. */
	p[mlen] = '\0';
	*msg = (const char *)p;
	*msglen = mlen;

	return (WECOM_OK);
}

/*
 * Encrypt msg as random(16) | len(4, big endian) | msg | receiveid,
 * padded to 32 bytes, and write the base64 text, NUL-terminated, to out.
 */
int
wecom_crypto_encrypt(struct wecom_crypto *wc, const void *msg, size_t msglen,
    char *out, size_t outsz, size_t *outlen)
{
	unsigned char	*p;
	size_t		 len, pad;
	int		 outl, b64;

	if (msglen > WECOM_MSG_MAX)
		return (WECOM_ERR_ENCRYPT);
	if (outsz < WECOM_CRYPTO_B64LEN(msglen, wc->ridlen))
		return (WECOM_ERR_B64_ENCODE);

	len = WECOM_RANDOM_BYTES + 4 + msglen + wc->ridlen;
	pad = WECOM_BLOCK - len % WECOM_BLOCK;
	if (crypto_scratch(wc, len + pad) != WECOM_OK)
		return (WECOM_ERR_ENCRYPT);
	p = wc->scratch;

	if (crypto_random(wc, p, WECOM_RANDOM_BYTES) != WECOM_OK)
		return (WECOM_ERR_ENCRYPT);
	p[16] = (msglen >> 24) & 0xff;
	p[17] = (msglen >> 16) & 0xff;
	p[18] = (msglen >> 8) & 0xff;
	p[19] = msglen & 0xff;
	memcpy(p + 20, msg, msglen);
	memcpy(p + 20 + msglen, wc->receiveid, wc->ridlen);
	memset(p + len, (int)pad, pad);
	len += pad;

	if (!EVP_EncryptInit_ex(wc->enc, NULL, NULL, NULL, wc->key) ||
	    !EVP_EncryptUpdate(wc->enc, p, &outl, p, (int)len) ||
	    (size_t)outl != len)
		return (WECOM_ERR_ENCRYPT);

	if ((b64 = EVP_EncodeBlock((unsigned char *)out, p, (int)len)) < 0)
		return (WECOM_ERR_B64_ENCODE);
	*outlen = (size_t)b64;

	return (WECOM_OK);
}

/* A nonce for a reply envelope: decimal digits from the CSPRNG. */
int
wecom_crypto_nonce(struct wecom_crypto *wc, char *out, size_t outsz)
{
	unsigned char	r[32];
	size_t		i, n;

	if (outsz < 2 || outsz - 1 > sizeof(r))
		return (WECOM_ERR_BUFFER);
	n = outsz - 1;
	if (crypto_random(wc, r, n) != WECOM_OK)
		return (WECOM_ERR_ENCRYPT);
	for (i = 0; i < n; i++)
		out[i] = '0' + r[i] % 10;
	out[n] = '\0';

	return (WECOM_OK);
}

/* n random bytes as 2n hex digits, for ids (a bot's stream id). */
int
wecom_random_hex(char *out, size_t n)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		r[32];
	size_t			i;

	if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
		return (WECOM_ERR_ENCRYPT);
	for (i = 0; i < n; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * n] = '\0';

	return (WECOM_OK);
}

/*
 * An EncodingAESKey: 43 of [A-Za-z0-9], '=' left off. With b64, any
 * base64 of 32 bytes (a bot message's file key): '+' and '/' too, and
 * the '=' may be there.
 */
int
wecom_crypto_key_decode(const char *aeskey, int b64, unsigned char *key)
{
	unsigned char	buf[WECOM_KEY_BYTES + 3];
	char		in[WECOM_AESKEY_LEN + 2];
	size_t		i, len;
	int		rc;

	len = strlen(aeskey);
	if (len != WECOM_AESKEY_LEN && (!b64 || len != WECOM_AESKEY_LEN + 1 ||
	    aeskey[WECOM_AESKEY_LEN] != '='))
		return (WECOM_ERR_AESKEY);
	for (i = 0; i < WECOM_AESKEY_LEN; i++) {
		if (!B64_CHAR(aeskey[i]) || (!b64 && (aeskey[i] == '+' ||
		    aeskey[i] == '/')))
			return (WECOM_ERR_AESKEY);
	}

	memcpy(in, aeskey, WECOM_AESKEY_LEN);
	in[WECOM_AESKEY_LEN] = '=';
	in[WECOM_AESKEY_LEN + 1] = '\0';

	rc = WECOM_ERR_AESKEY;
	if (crypto_b64_decode(in, WECOM_AESKEY_LEN + 1, buf, &len) ==
	    WECOM_OK && len == WECOM_KEY_BYTES) {
		memcpy(key, buf, WECOM_KEY_BYTES);
		rc = WECOM_OK;
	}
	/* Both copies are the key: the encoded one as much as the bytes. */
	OPENSSL_cleanse(in, sizeof(in));
	OPENSSL_cleanse(buf, sizeof(buf));

	return (rc);
}

/*
 * Strict base64: length a multiple of 4, at most two '=' at the end.
 * EVP_DecodeBlock counts padding as zero bytes; take them off again.
 */
static int
crypto_b64_decode(const char *in, size_t len, unsigned char *out,
    size_t *outlen)
{
	size_t	eq, i;
	int	n;

	if (len == 0 || len % 4 != 0 || len > INT32_MAX)
		return (WECOM_ERR_B64_DECODE);
	eq = 0;
	if (in[len - 1] == '=')
		eq++;
	if (in[len - 2] == '=')
		eq++;
	/* EVP_DecodeBlock skips blanks and stops at '-': allow neither. */
	for (i = 0; i < len - eq; i++) {
		if (!B64_CHAR(in[i]))
			return (WECOM_ERR_B64_DECODE);
	}

	if ((n = EVP_DecodeBlock(out, (const unsigned char *)in, (int)len)) < 0)
		return (WECOM_ERR_B64_DECODE);

	*outlen = (size_t)n - eq;
	return (WECOM_OK);
}

static int
crypto_scratch(struct wecom_crypto *wc, size_t need)
{
	unsigned char	*p;

	if (need <= wc->scratchsz)
		return (WECOM_OK);
	if ((p = malloc(need)) == NULL)
		return (WECOM_ERR_BUFFER);
	if (wc->scratch != NULL) {
		OPENSSL_cleanse(wc->scratch, wc->scratchsz);
		free(wc->scratch);
	}
	wc->scratch = p;
	wc->scratchsz = need;

	return (WECOM_OK);
}

static int
crypto_cmp(const void *a, const void *b)
{
	return (strcmp(*(const char * const *)a, *(const char * const *)b));
}

static int
crypto_random(struct wecom_crypto *wc, unsigned char *out, size_t len)
{
	if (len > sizeof(wc->pool))
		return (WECOM_ERR_ENCRYPT);
	if (wc->poolfork != forks || wc->poolleft < len) {
		if (RAND_bytes(wc->pool, sizeof(wc->pool)) != 1)
			return (WECOM_ERR_ENCRYPT);
		wc->poolleft = sizeof(wc->pool);
		wc->poolfork = forks;
	}
	wc->poolleft -= len;
	memcpy(out, wc->pool + wc->poolleft, len);
	/* Used bytes never stay behind. */
	OPENSSL_cleanse(wc->pool + wc->poolleft, len);

	return (WECOM_OK);
}

static void
crypto_atfork(void)
{
	(void)pthread_atfork(NULL, NULL, crypto_forked);
}

static void
crypto_forked(void)
{
	forks++;
}
