/* SPDX-License-Identifier: ISC */
/*
 * The files an intelligent bot receives (image, file, video) are
 * AES-256-CBC encrypted, the IV the key's first 16 bytes, PKCS#7
 * padding to a 32-byte block: the callback cipher without its frame
 * (no random prefix, no length, no receiveid). The key is a message's
 * own aeskey (base64 of 32 bytes) or the bot's EncodingAESKey (the
 * same without its '=').
 */

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wecom_crypto.h"
#include "wecom_crypto_private.h"

/* EVP_DecryptUpdate takes an int: larger files go in steps of this. */
#define MEDIA_STEP	(1024 * 1024)

static int	media_unpad(const unsigned char *, size_t, size_t *);
static int	media_cbc(const unsigned char *, unsigned char *, size_t);

/*
 * Decrypt len bytes of buf in place; *plainlen is what remains once
 * the padding is off. A file that was not made with this key almost
 * always ends in bad padding: that is how a wrong key shows.
 */
int
wecom_crypto_media_decrypt(const char *aeskey, void *buf, size_t len,
    size_t *plainlen)
{
	unsigned char	key[WECOM_KEY_BYTES];
	int		rc;

	*plainlen = 0;
	if (aeskey == NULL || wecom_crypto_key_decode(aeskey, 1, key) != WECOM_OK)
		return (WECOM_ERR_AESKEY);
	if (len == 0 || len % 16 != 0)
		rc = WECOM_ERR_DECRYPT;
	else if ((rc = media_cbc(key, buf, len)) == WECOM_OK)
		rc = media_unpad(buf, len, plainlen);
	OPENSSL_cleanse(key, sizeof(key));

	return (rc);
}

static int
media_cbc(const unsigned char *key, unsigned char *p, size_t len)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	 tail[16];
	size_t		 off, n;
	int		 outl, rc;

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return (WECOM_ERR_DECRYPT);
	rc = WECOM_ERR_DECRYPT;
	/* The padding is checked here, more strictly than EVP would. */
	if (!EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key) ||
	    !EVP_CIPHER_CTX_set_padding(ctx, 0))
		goto out;
	for (off = 0; off < len; off += n) {
		n = len - off < MEDIA_STEP ? len - off : MEDIA_STEP;
		if (!EVP_DecryptUpdate(ctx, p + off, &outl, p + off, (int)n) ||
		    (size_t)outl != n)
			goto out;
	}
	if (!EVP_DecryptFinal_ex(ctx, tail, &outl) || outl != 0)
		goto out;
	rc = WECOM_OK;

out:
	EVP_CIPHER_CTX_free(ctx);	/* wipes the key schedule */
	return (rc);
}

/*
 * PKCS#7: the last byte n (1 to 32) repeated n times. Every padding
 * byte is looked at, with no early exit.
 */
static int
media_unpad(const unsigned char *p, size_t len, size_t *plainlen)
{
	unsigned int	pad, bad;
	size_t		i;

	pad = p[len - 1];
	if (pad < 1 || pad > WECOM_BLOCK || pad > len)
		return (WECOM_ERR_BUFFER);
	for (i = 1, bad = 0; i <= pad; i++)
		bad |= p[len - i] ^ pad;
	if (bad != 0)
		return (WECOM_ERR_BUFFER);
	*plainlen = len - pad;

	return (WECOM_OK);
}
