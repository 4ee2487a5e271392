/* SPDX-License-Identifier: ISC */
/* Private to crypto/: what wecom_crypto.c and wecom_media.c share. */

#ifndef WECOM_CRYPTO_PRIVATE_H
#define WECOM_CRYPTO_PRIVATE_H

/*
 * An EncodingAESKey into its 32 bytes; b64: any base64 of 32 bytes.
 * WECOM_OK or WECOM_ERR_AESKEY.
 */
int	wecom_crypto_key_decode(const char *aeskey, int b64,
	    unsigned char *key);

#endif
