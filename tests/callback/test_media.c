/* SPDX-License-Identifier: ISC */
/*
 * An intelligent bot's files (crypto/wecom_media.c): AES-256-CBC, IV
 * the key's first 16 bytes, PKCS#7 to 32 bytes, with either form of
 * key; and every way a file or a key can be wrong.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "wecom_crypto.h"

/* Tencent's sample EncodingAESKey, and the same 32 bytes in base64. */
#define KEY43	"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
#define KEY44	"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2A="
#define OTHER43	"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

/* Made by node:crypto with KEY43: "hello, wecom media: 你好", 26 bytes. */
#define NODE_PLAIN	"hello, wecom media: \xe4\xbd\xa0\xe5\xa5\xbd"
#define NODE_HEX	"4f26744158e50c6faef1a44a2012ec97" \
			"de4c19a396fd9e3af2cde4391db1648e"

static void
unhex(const char *hex, unsigned char *out, size_t *len)
{
	unsigned int	b;
	size_t		i;

	for (i = 0; hex[2 * i] != '\0'; i++) {
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &b), 1);
		out[i] = (unsigned char)b;
	}
	*len = i;
}

/* As WeCom does: pad with n bytes n up to block, then AES-256-CBC. */
static unsigned char *
seal(const unsigned char key[32], const void *plain, size_t len,
    size_t block, size_t *outlen)
{
	EVP_CIPHER_CTX	*ctx;
	unsigned char	*p;
	size_t		 pad;
	int		 n;

	pad = block - len % block;
	assert_non_null(p = malloc(len + pad));
	memcpy(p, plain, len);
	memset(p + len, (int)pad, pad);
	assert_non_null(ctx = EVP_CIPHER_CTX_new());
	assert_true(EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key));
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_true(EVP_EncryptUpdate(ctx, p, &n, p, (int)(len + pad)));
	assert_int_equal((size_t)n, len + pad);
	EVP_CIPHER_CTX_free(ctx);
	*outlen = len + pad;

	return (p);
}

/* Encrypts raw bytes as they are: for paddings WeCom never makes. */
static unsigned char *
seal_raw(const char *key43, const unsigned char *raw, size_t len)
{
	unsigned char	key[33], *p;
	char		in[45];
	size_t		n;

	snprintf(in, sizeof(in), "%s=", key43);
	assert_int_equal(EVP_DecodeBlock(key, (unsigned char *)in, 44), 33);
	p = seal(key, raw, len, 16, &n);
	assert_int_equal(n, len + 16);	/* a whole block of 16s: cut it */

	return (p);
}

static void
decrypts_a_file_made_by_node_crypto(void **state)
{
	unsigned char	buf[64];
	size_t		len, plen;

	unhex(NODE_HEX, buf, &len);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, buf, len, &plen),
	    WECOM_OK);
	assert_int_equal(plen, strlen(NODE_PLAIN));
	assert_memory_equal(buf, NODE_PLAIN, plen);
}

static void
takes_either_form_of_one_key(void **state)
{
	unsigned char	buf[64];
	size_t		len, plen;

	unhex(NODE_HEX, buf, &len);
	assert_int_equal(wecom_crypto_media_decrypt(KEY44, buf, len, &plen),
	    WECOM_OK);
	assert_int_equal(plen, strlen(NODE_PLAIN));
	assert_memory_equal(buf, NODE_PLAIN, plen);
}

static void
round_trips_0_to_3_mib_with_base64_keys(void **state)
{
	static const size_t	 sizes[] = { 0, 1, 15, 16, 31, 32, 33, 4096,
				    65537, 3 * 1024 * 1024 + 5 };
	unsigned char		 key[32], *plain, *enc;
	char			 b64[45];
	size_t			 i, len, plen;

	assert_non_null(plain = malloc(sizes[9]));
	assert_int_equal(RAND_bytes(plain, (int)sizes[9]), 1);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(RAND_bytes(key, sizeof(key)), 1);
		assert_int_equal(EVP_EncodeBlock((unsigned char *)b64, key,
		    sizeof(key)), 44);
		enc = seal(key, plain, sizes[i], 32, &len);
		assert_int_equal(len % 32, 0);
		assert_int_equal(wecom_crypto_media_decrypt(b64, enc, len,
		    &plen), WECOM_OK);
		assert_int_equal(plen, sizes[i]);
		assert_memory_equal(enc, plain, plen);
		free(enc);
	}
	free(plain);
}

static void
accepts_padding_to_16_bytes(void **state)
{
	unsigned char	key[33], *enc;
	char		in[45];
	size_t		len, plen;

	snprintf(in, sizeof(in), "%s=", KEY43);
	assert_int_equal(EVP_DecodeBlock(key, (unsigned char *)in, 44), 33);
	enc = seal(key, "sixteen", 7, 16, &len);
	assert_int_equal(len, 16);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, enc, len, &plen),
	    WECOM_OK);
	assert_int_equal(plen, 7);
	assert_memory_equal(enc, "sixteen", 7);
	free(enc);
}

static void
rejects_a_file_of_another_key(void **state)
{
	unsigned char	buf[64];
	size_t		len, plen;

	unhex(NODE_HEX, buf, &len);
	assert_int_equal(wecom_crypto_media_decrypt(OTHER43, buf, len, &plen),
	    WECOM_ERR_BUFFER);
	assert_int_equal(plen, 0);
}

static void
rejects_padding_0_33_and_uneven_bytes(void **state)
{
	unsigned char	raw[64], *enc;
	size_t		plen;

	memset(raw, 'a', sizeof(raw));
	raw[63] = 0;
	enc = seal_raw(KEY43, raw, 64);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, enc, 64, &plen),
	    WECOM_ERR_BUFFER);
	free(enc);

	raw[63] = 33;
	enc = seal_raw(KEY43, raw, 64);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, enc, 64, &plen),
	    WECOM_ERR_BUFFER);
	free(enc);

	/* Three 3s but the first: 'a' where a 3 belongs. */
	raw[63] = 3;
	raw[62] = 3;
	enc = seal_raw(KEY43, raw, 64);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, enc, 64, &plen),
	    WECOM_ERR_BUFFER);
	free(enc);

	raw[61] = 3;
	enc = seal_raw(KEY43, raw, 64);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, enc, 64, &plen),
	    WECOM_OK);
	assert_int_equal(plen, 61);
	free(enc);
}

static void
rejects_partial_blocks_and_empty_files(void **state)
{
	unsigned char	buf[64];
	size_t		len, plen;

	unhex(NODE_HEX, buf, &len);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, buf, 0, &plen),
	    WECOM_ERR_DECRYPT);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, buf, len - 1,
	    &plen), WECOM_ERR_DECRYPT);
	assert_int_equal(wecom_crypto_media_decrypt(KEY43, buf, 17, &plen),
	    WECOM_ERR_DECRYPT);
}

static void
rejects_keys_of_other_lengths_and_characters(void **state)
{
	static const char *const	bad[] = {
		"",
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2",	/* 42 */
		KEY43 "A",					/* 44, no = */
		KEY43 "==",					/* 45 */
		KEY44 "=",					/* 45 */
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B==",	/* = in */
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B-C",
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B C",
		"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B_C=",
	};
	unsigned char	buf[64];
	size_t		i, len, plen;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unhex(NODE_HEX, buf, &len);
		assert_int_equal(wecom_crypto_media_decrypt(bad[i], buf, len,
		    &plen), WECOM_ERR_AESKEY);
	}
	assert_int_equal(wecom_crypto_media_decrypt(NULL, buf, len, &plen),
	    WECOM_ERR_AESKEY);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decrypts_a_file_made_by_node_crypto),
		cmocka_unit_test(takes_either_form_of_one_key),
		cmocka_unit_test(round_trips_0_to_3_mib_with_base64_keys),
		cmocka_unit_test(accepts_padding_to_16_bytes),
		cmocka_unit_test(rejects_a_file_of_another_key),
		cmocka_unit_test(rejects_padding_0_33_and_uneven_bytes),
		cmocka_unit_test(rejects_partial_blocks_and_empty_files),
		cmocka_unit_test(rejects_keys_of_other_lengths_and_characters),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
