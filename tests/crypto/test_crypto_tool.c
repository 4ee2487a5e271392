/* SPDX-License-Identifier: ISC */
/*
 * A line-oriented filter over crypto/ for crypto_crosscheck.t: it reads
 * one command a line on stdin and answers one line on stdout, so that a
 * single process serves thousands of cases. Not a cmocka test: it is
 * named test_* only so the Makefile's generic rule builds it.
 *
 * Every argument is hex, "-" standing for the empty string, so tokens,
 * receiveids and tampered ciphertexts may hold any byte.
 *
 *	enc    TOKEN AESKEY RID MSG		-> ok BASE64
 *	dec    TOKEN AESKEY RID BASE64		-> ok MSG (hex, "-" if empty)
 *	sign   TOKEN AESKEY TS NONCE ENC	-> ok SIGNATURE
 *	verify TOKEN AESKEY TS NONCE ENC SIG	-> ok 0
 *
 * A failure answers "err CODE" with the -400xx code; a line it cannot
 * parse answers "err usage". Consecutive commands with the same token,
 * key and receiveid share one struct wecom_crypto, as a server's calls
 * do: its scratch buffer and random pool are reused across messages.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wecom_crypto.h"

#define ARGS_MAX	8

static int	nibble(int);
static int	unhex(char *);
static void	puthex(const char *, size_t);
static int	run(char **, int);
static struct wecom_crypto	*crypto(const char *, const char *,
				    const char *, int *);

static struct wecom_crypto	*cached;
static char			*cached_id;

int
main(void)
{
	char	*line, *argv[ARGS_MAX], *p;
	size_t	 linesz;
	ssize_t	 n;
	int	 argc;

	line = NULL;
	linesz = 0;
	while ((n = getline(&line, &linesz, stdin)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		argc = 0;
		for (p = strtok(line, " "); p != NULL; p = strtok(NULL, " ")) {
			if (argc == ARGS_MAX)
				break;
			argv[argc++] = p;
		}
		if (p != NULL || run(argv, argc) == -1)
			printf("err usage\n");
		fflush(stdout);
	}
	free(line);
	wecom_crypto_free(cached);
	free(cached_id);

	return (0);
}

/* The struct for these credentials: the last one if they match. */
static struct wecom_crypto *
crypto(const char *token, const char *aeskey, const char *rid, int *err)
{
	char	*id;

	*err = WECOM_ERR_BUFFER;
	if (asprintf(&id, "%s%c%s%c%s", token, 0x1f, aeskey, 0x1f, rid) == -1)
		return (NULL);
	if (cached != NULL && strcmp(id, cached_id) == 0) {
		free(id);
		*err = 0;
		return (cached);
	}
	wecom_crypto_free(cached);
	free(cached_id);
	cached_id = id;
	cached = wecom_crypto_new(token, aeskey, rid, err);

	return (cached);
}

static int
nibble(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Decode the hex argument in place; -1 if it is not hex. */
static int
unhex(char *s)
{
	size_t	i, len;
	int	hi, lo;

	if (strcmp(s, "-") == 0) {
		s[0] = '\0';
		return (0);
	}
	len = strlen(s);
	if (len % 2 != 0)
		return (-1);
	for (i = 0; i < len; i += 2) {
		if ((hi = nibble(s[i])) == -1 || (lo = nibble(s[i + 1])) == -1)
			return (-1);
		s[i / 2] = (char)(hi << 4 | lo);
	}
	s[len / 2] = '\0';

	return ((int)(len / 2));
}

static void
puthex(const char *p, size_t len)
{
	size_t	i;

	if (len == 0)
		putchar('-');
	for (i = 0; i < len; i++)
		printf("%02x", (unsigned char)p[i]);
	putchar('\n');
}

/*
 * Arguments are decoded before use; the lengths matter for the message
 * and the ciphertext only, which may hold NUL bytes.
 */
static int
run(char **argv, int argc)
{
	struct wecom_crypto	*wc;
	const char		*msg;
	char			 sig[WECOM_SIG_LEN + 1], *out;
	size_t			 outsz, outlen, msglen;
	int			 i, len[ARGS_MAX], err, rc;

	if (argc < 4)
		return (-1);
	for (i = 1; i < argc; i++) {
		if ((len[i] = unhex(argv[i])) == -1)
			return (-1);
	}

	/* sign and verify need no receiveid: argv[3] is the timestamp. */
	if (strcmp(argv[0], "enc") == 0 || strcmp(argv[0], "dec") == 0) {
		if (argc != 5)
			return (-1);
		wc = crypto(argv[1], argv[2], argv[3], &err);
	} else if (strcmp(argv[0], "sign") == 0 ||
	    strcmp(argv[0], "verify") == 0) {
		if (argc != (strcmp(argv[0], "sign") == 0 ? 6 : 7))
			return (-1);
		wc = crypto(argv[1], argv[2], "", &err);
	} else
		return (-1);
	if (wc == NULL) {
		printf("err %d\n", err);
		return (0);
	}

	if (strcmp(argv[0], "enc") == 0) {
		outsz = WECOM_CRYPTO_B64LEN((size_t)len[4], strlen(argv[3]));
		if ((out = malloc(outsz)) == NULL)
			rc = WECOM_ERR_ENCRYPT;
		else if ((rc = wecom_crypto_encrypt(wc, argv[4], len[4], out,
		    outsz, &outlen)) == WECOM_OK)
			printf("ok %.*s\n", (int)outlen, out);
		free(out);
	} else if (strcmp(argv[0], "dec") == 0) {
		if ((rc = wecom_crypto_decrypt(wc, argv[4], len[4], &msg,
		    &msglen)) == WECOM_OK) {
			printf("ok ");
			puthex(msg, msglen);
		}
	} else if (strcmp(argv[0], "sign") == 0) {
		if ((rc = wecom_crypto_sign(wc, argv[3], argv[4], argv[5],
		    sig)) == WECOM_OK)
			printf("ok %s\n", sig);
	} else {
		if ((rc = wecom_crypto_verify(wc, argv[3], argv[4], argv[5],
		    argv[6])) == WECOM_OK)
			printf("ok 0\n");
	}
	if (rc != WECOM_OK)
		printf("err %d\n", rc);

	return (0);
}
