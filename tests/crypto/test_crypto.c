/* SPDX-License-Identifier: ISC */
/*
 * crypto/: Tencent's public vector, the error codes, and round trips.
 * The cross-check against @wecom/crypto lives in crypto_crosscheck.t.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "wecom_crypto.h"

#define TOKEN	"QDG6eK"
#define AESKEY	"jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
#define CORPID	"wx5823bf96d3bd56c7"

#define ECHOSTR	"P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
#define POSTENC	"RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="

static struct wecom_crypto *
sample(void)
{
	struct wecom_crypto	*wc;
	int			 err;

	wc = wecom_crypto_new(TOKEN, AESKEY, CORPID, &err);
	assert_int_equal(err, WECOM_OK);
	assert_non_null(wc);
	return (wc);
}

/* Encrypt raw plaintext bytes as the scheme would, without padding rules. */
static char *
raw_encrypt(const unsigned char *pt, size_t len)
{
	unsigned char	 key[48], *ct;
	char		*b64;
	EVP_CIPHER_CTX	*ctx;
	int		 n, m;

	assert_int_equal(EVP_DecodeBlock(key, (const unsigned char *)
	    AESKEY "=", 44), 33);
	ct = malloc(len + 32);
	b64 = malloc(len * 2 + 8);
	ctx = EVP_CIPHER_CTX_new();
	EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), NULL, key, key);
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	EVP_EncryptUpdate(ctx, ct, &n, pt, (int)len);
	EVP_EncryptFinal_ex(ctx, ct + n, &m);
	EVP_EncodeBlock((unsigned char *)b64, ct, n + m);
	EVP_CIPHER_CTX_free(ctx);
	free(ct);
	return (b64);
}

static void
verifies_tencent_sample_url(void **state)
{
	struct wecom_crypto	*wc = sample();
	const char		*msg;
	size_t			 len;

	assert_int_equal(wecom_crypto_verify(wc, "1409659589", "263014780",
	    ECHOSTR, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"), WECOM_OK);
	assert_int_equal(wecom_crypto_decrypt(wc, ECHOSTR, strlen(ECHOSTR),
	    &msg, &len), WECOM_OK);
	assert_string_equal(msg, "1616140317555161061");
	assert_int_equal(len, 19);
	wecom_crypto_free(wc);
}

static void
decrypts_tencent_sample_post(void **state)
{
	struct wecom_crypto	*wc = sample();
	const char		*msg;
	size_t			 len;

	assert_int_equal(wecom_crypto_verify(wc, "1409659813", "1372623149",
	    POSTENC, "477715d11cdb4164915debcba66cb864d751f3e6"), WECOM_OK);
	assert_int_equal(wecom_crypto_decrypt(wc, POSTENC, strlen(POSTENC),
	    &msg, &len), WECOM_OK);
	assert_non_null(strstr(msg, "<Content><![CDATA[hello]]></Content>"));
	assert_non_null(strstr(msg, "<MsgId>4561255354251345929</MsgId>"));
	assert_non_null(strstr(msg, "mycreate"));
	wecom_crypto_free(wc);
}

static void
rejects_a_wrong_signature(void **state)
{
	struct wecom_crypto	*wc = sample();

	assert_int_equal(wecom_crypto_verify(wc, "1409659589", "263014780",
	    ECHOSTR, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd4"),
	    WECOM_ERR_SIGNATURE);
	assert_int_equal(wecom_crypto_verify(wc, "1409659589", "263014781",
	    ECHOSTR, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"),
	    WECOM_ERR_SIGNATURE);
	assert_int_equal(wecom_crypto_verify(wc, "1409659589", "263014780",
	    ECHOSTR, "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd"),
	    WECOM_ERR_SIGNATURE);
	assert_int_equal(wecom_crypto_verify(wc, "1409659589", "263014780",
	    ECHOSTR, ""), WECOM_ERR_SIGNATURE);
	wecom_crypto_free(wc);
}

static void
rejects_a_receiveid_of_another_corp(void **state)
{
	struct wecom_crypto	*wc;
	const char		*msg;
	size_t			 len;
	int			 err;

	wc = wecom_crypto_new(TOKEN, AESKEY, "wx5823bf96d3bd56c8", &err);
	assert_int_equal(wecom_crypto_decrypt(wc, ECHOSTR, strlen(ECHOSTR),
	    &msg, &len), WECOM_ERR_RECEIVEID);
	wecom_crypto_free(wc);
	wc = wecom_crypto_new(TOKEN, AESKEY, "", &err);
	assert_int_equal(wecom_crypto_decrypt(wc, ECHOSTR, strlen(ECHOSTR),
	    &msg, &len), WECOM_ERR_RECEIVEID);
	wecom_crypto_free(wc);
}

static void
rejects_bad_aeskeys(void **state)
{
	struct wecom_crypto	*wc;
	int			 err;

	assert_int_equal(wecom_crypto_check_aeskey(AESKEY), WECOM_OK);
	assert_int_equal(wecom_crypto_check_aeskey(""), WECOM_ERR_AESKEY);
	assert_int_equal(wecom_crypto_check_aeskey(AESKEY "A"),
	    WECOM_ERR_AESKEY);
	assert_int_equal(wecom_crypto_check_aeskey(
	    "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2+"), WECOM_ERR_AESKEY);
	wc = wecom_crypto_new(TOKEN, "short", CORPID, &err);
	assert_null(wc);
	assert_int_equal(err, WECOM_ERR_AESKEY);
}

/* 16 random, the length field, "ab", the corpid (40 bytes), padded to
 * 64 with the byte pad: the plaintext of the scheme, laid out by hand. */
static void
plain64(unsigned char pt[64], uint32_t lenfield, int pad)
{
	memset(pt, 'r', 16);
	pt[16] = lenfield >> 24;
	pt[17] = (lenfield >> 16) & 0xff;
	pt[18] = (lenfield >> 8) & 0xff;
	pt[19] = lenfield & 0xff;
	memcpy(pt + 20, "ab", 2);
	memcpy(pt + 22, CORPID, 18);
	memset(pt + 40, 24, 24);
	pt[63] = (unsigned char)pad;
}

static int
decrypt_plain64(struct wecom_crypto *wc, const unsigned char pt[64],
    const char **msg)
{
	char	*b64;
	size_t	 len;
	int	 rc;

	b64 = raw_encrypt(pt, 64);
	rc = wecom_crypto_decrypt(wc, b64, strlen(b64), msg, &len);
	free(b64);
	return (rc);
}

static void
rejects_padding_0_and_33(void **state)
{
	struct wecom_crypto	*wc = sample();
	unsigned char		 pt[64];
	const char		*msg;

	plain64(pt, 2, 24);
	assert_int_equal(decrypt_plain64(wc, pt, &msg), WECOM_OK);
	assert_string_equal(msg, "ab");
	plain64(pt, 2, 0);
	assert_int_equal(decrypt_plain64(wc, pt, &msg), WECOM_ERR_BUFFER);
	plain64(pt, 2, 33);
	assert_int_equal(decrypt_plain64(wc, pt, &msg), WECOM_ERR_BUFFER);
	wecom_crypto_free(wc);
}

static void
rejects_a_length_field_beyond_the_buffer(void **state)
{
	struct wecom_crypto	*wc = sample();
	unsigned char		 pt[64];
	const char		*msg;

	plain64(pt, 0xfffffff0, 24);
	assert_int_equal(decrypt_plain64(wc, pt, &msg), WECOM_ERR_BUFFER);
	plain64(pt, 21, 24);
	assert_int_equal(decrypt_plain64(wc, pt, &msg), WECOM_ERR_BUFFER);
	wecom_crypto_free(wc);
}

static void
rejects_bad_base64_and_short_input(void **state)
{
	struct wecom_crypto	*wc = sample();
	const char		*msg, *bad[] = { "", "abc", "a=bc", "ab cd",
	    "!!!!", "AAAA", "AAAAAAAAAAAAAAAAAAAAAA==",
	    "YWJj\nZGVm" };
	size_t			 i, len;
	int			 rc;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rc = wecom_crypto_decrypt(wc, bad[i], strlen(bad[i]), &msg,
		    &len);
		assert_true(rc == WECOM_ERR_B64_DECODE ||
		    rc == WECOM_ERR_DECRYPT);
	}
	assert_int_equal(wecom_crypto_decrypt(wc, ECHOSTR,
	    strlen(ECHOSTR) - 4, &msg, &len), WECOM_ERR_DECRYPT);
	wecom_crypto_free(wc);
}

static void
round_trips_empty_to_64k_messages(void **state)
{
	struct wecom_crypto	*wc = sample();
	static unsigned char	 in[65536];
	static char		 out[WECOM_CRYPTO_B64LEN(65536, 18)];
	const char		*msg;
	size_t			 sizes[] = { 0, 1, 11, 12, 13, 31, 32, 33, 1000,
	    65535, 65536 };
	size_t			 i, j, olen, len;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 7 + 3);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		assert_int_equal(wecom_crypto_encrypt(wc, in, sizes[i], out,
		    sizeof(out), &olen), WECOM_OK);
		assert_int_equal(olen, strlen(out));
		assert_true(olen + 1 <= WECOM_CRYPTO_B64LEN(sizes[i], 18));
		assert_int_equal(wecom_crypto_decrypt(wc, out, olen, &msg,
		    &len), WECOM_OK);
		assert_int_equal(len, sizes[i]);
		for (j = 0; j < len; j++)
			assert_int_equal((unsigned char)msg[j], in[j]);
	}
	assert_int_equal(wecom_crypto_encrypt(wc, in, 100, out, 10, &olen),
	    WECOM_ERR_B64_ENCODE);
	wecom_crypto_free(wc);
}

static void
signs_like_the_official_sample(void **state)
{
	struct wecom_crypto	*wc = sample();
	char			 sig[WECOM_SIG_LEN + 1];

	assert_int_equal(wecom_crypto_sign(wc, "1409659813", "1372623149",
	    POSTENC, sig), WECOM_OK);
	assert_string_equal(sig, "477715d11cdb4164915debcba66cb864d751f3e6");
	wecom_crypto_free(wc);
}

static void
names_every_official_error_code(void **state)
{
	int	code;

	for (code = -40001; code >= -40011; code--)
		assert_string_not_equal(wecom_strerror(code), "unknown error");
	assert_string_equal(wecom_strerror(-40001),
	    "-40001 ValidateSignatureError");
	assert_string_equal(wecom_strerror(-1), "unknown error");
}

static void
nonces_are_digits(void **state)
{
	struct wecom_crypto	*wc = sample();
	char			 n[11], m[11];

	assert_int_equal(wecom_crypto_nonce(wc, n, sizeof(n)), WECOM_OK);
	assert_int_equal(wecom_crypto_nonce(wc, m, sizeof(m)), WECOM_OK);
	assert_int_equal(wecom_crypto_nonce(wc, m, 1), WECOM_ERR_BUFFER);
	wecom_crypto_free(wc);
	assert_int_equal(strlen(n), 10);
	assert_int_equal(strspn(n, "0123456789"), 10);
	assert_string_not_equal(n, m);
}

static void
never_shares_random_bytes_across_a_fork(void **state)
{
	struct wecom_crypto	*wc = sample();
	char			 mine[11], child[11];
	int			 fd[2];
	pid_t			 pid;

	/* Fill the pool in the parent, as the server does before forking. */
	assert_int_equal(wecom_crypto_nonce(wc, mine, sizeof(mine)), WECOM_OK);
	assert_int_equal(pipe(fd), 0);
	if ((pid = fork()) == 0) {
		if (wecom_crypto_nonce(wc, child, sizeof(child)) != WECOM_OK)
			_exit(1);
		_exit(write(fd[1], child, sizeof(child)) != sizeof(child));
	}
	assert_int_equal(read(fd[0], child, sizeof(child)), sizeof(child));
	waitpid(pid, NULL, 0);
	assert_int_equal(wecom_crypto_nonce(wc, mine, sizeof(mine)), WECOM_OK);
	assert_string_not_equal(mine, child);
	close(fd[0]);
	close(fd[1]);
	wecom_crypto_free(wc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(verifies_tencent_sample_url),
		cmocka_unit_test(decrypts_tencent_sample_post),
		cmocka_unit_test(signs_like_the_official_sample),
		cmocka_unit_test(rejects_a_wrong_signature),
		cmocka_unit_test(rejects_a_receiveid_of_another_corp),
		cmocka_unit_test(rejects_bad_aeskeys),
		cmocka_unit_test(rejects_padding_0_and_33),
		cmocka_unit_test(rejects_a_length_field_beyond_the_buffer),
		cmocka_unit_test(rejects_bad_base64_and_short_input),
		cmocka_unit_test(round_trips_empty_to_64k_messages),
		cmocka_unit_test(names_every_official_error_code),
		cmocka_unit_test(nonces_are_digits),
		cmocka_unit_test(never_shares_random_bytes_across_a_fork),
	};

	return (cmocka_run_group_tests_name("crypto", tests, NULL, NULL));
}
