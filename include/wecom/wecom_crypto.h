/* SPDX-License-Identifier: ISC */
/*
 * WeCom callback crypto: the official WXBizMsgCrypt scheme on OpenSSL.
 *
 * Knows nothing of HTTP or XML: it signs, verifies, encrypts and
 * decrypts byte strings. One struct wecom_crypto per app credential set;
 * it owns reusable cipher contexts and a scratch buffer, so it must not
 * be shared between threads.
 */

#ifndef WECOM_CRYPTO_H
#define WECOM_CRYPTO_H

#include <stddef.h>

/* Results mirror the official -400xx codes. */
#define WECOM_OK			0
#define WECOM_ERR_SIGNATURE		-40001
#define WECOM_ERR_PARSE_XML		-40002
#define WECOM_ERR_SHA			-40003
#define WECOM_ERR_AESKEY		-40004
#define WECOM_ERR_RECEIVEID		-40005
#define WECOM_ERR_ENCRYPT		-40006
#define WECOM_ERR_DECRYPT		-40007
#define WECOM_ERR_BUFFER		-40008
#define WECOM_ERR_B64_ENCODE		-40009
#define WECOM_ERR_B64_DECODE		-40010
#define WECOM_ERR_BUILD_XML		-40011

#define WECOM_SIG_LEN			40	/* lowercase hex SHA1 */
#define WECOM_AESKEY_LEN		43
#define WECOM_KEY_BYTES			32
#define WECOM_RANDOM_BYTES		16
#define WECOM_BLOCK			32	/* PKCS#7 block of the scheme */

/* Upper bound of a message WeCom can send us, and we will encrypt. */
#define WECOM_MSG_MAX			(1024 * 1024)

/* Size of the base64 text wecom_crypto_encrypt() writes, NUL included. */
#define WECOM_CRYPTO_B64LEN(msglen, ridlen)				\
	((((WECOM_RANDOM_BYTES + 4 + (msglen) + (ridlen)) /		\
	    WECOM_BLOCK + 1) * WECOM_BLOCK + 2) / 3 * 4 + 1)

struct wecom_crypto;

/*
 * receiveid NULL: a decrypted message may carry any ReceiveId (an
 * intelligent bot's is "" or its own), and "" is encrypted with replies.
 */
struct wecom_crypto	*wecom_crypto_new(const char *token,
			    const char *aeskey, const char *receiveid, int *err);
void			 wecom_crypto_free(struct wecom_crypto *);

int	wecom_crypto_check_aeskey(const char *aeskey);
int	wecom_crypto_sign(const struct wecom_crypto *, const char *timestamp,
	    const char *nonce, const char *encrypt,
	    char out[WECOM_SIG_LEN + 1]);
int	wecom_crypto_verify(const struct wecom_crypto *, const char *timestamp,
	    const char *nonce, const char *encrypt, const char *signature);
int	wecom_crypto_decrypt(struct wecom_crypto *, const char *b64,
	    size_t b64len, const char **msg, size_t *msglen);
int	wecom_crypto_encrypt(struct wecom_crypto *, const void *msg,
	    size_t msglen, char *out, size_t outsz, size_t *outlen);
int	wecom_crypto_nonce(struct wecom_crypto *, char *out, size_t outsz);
/* n (at most 32) random bytes as 2n hex digits and a NUL. */
int	wecom_random_hex(char *out, size_t n);

const char	*wecom_strerror(int code);

/*
 * An intelligent bot's downloaded file (image, file, video), decrypted
 * in place: aeskey is the message's (base64 of 32 bytes) or the bot's
 * EncodingAESKey (43 characters). *plainlen: the bytes left once the
 * PKCS#7 padding is checked and off. WECOM_ERR_AESKEY, _DECRYPT (not
 * whole AES blocks), _BUFFER (bad padding: a wrong key, a damaged file).
 */
int	wecom_crypto_media_decrypt(const char *aeskey, void *buf, size_t len,
	    size_t *plainlen);

#endif
