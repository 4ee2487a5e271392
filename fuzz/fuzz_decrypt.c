/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer: wecom_crypto_decrypt on arbitrary Encrypt text, and on
 * arbitrary ciphertext that is valid base64 of AES blocks (so padding,
 * length field and receiveid checks are reached, not just base64).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "wecom_crypto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct wecom_crypto	*wc;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const char	*msg;
	char		*b64;
	size_t		 mlen;
	int		 err;

	if (wc == NULL && (wc = wecom_crypto_new("QDG6eK",
	    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",
	    "wx5823bf96d3bd56c7", &err)) == NULL)
		abort();
	if (len > 65536)
		return (0);

	(void)wecom_crypto_decrypt(wc, (const char *)data, len, &msg, &mlen);

	/* The same bytes as ciphertext: base64 them first. */
	if ((b64 = malloc(len / 3 * 4 + 8)) == NULL)
		return (0);
	EVP_EncodeBlock((unsigned char *)b64, data, (int)len);
	if (wecom_crypto_decrypt(wc, b64, strlen(b64), &msg, &mlen) ==
	    WECOM_OK && strlen(msg) > mlen)
		abort();
	free(b64);

	return (0);
}
