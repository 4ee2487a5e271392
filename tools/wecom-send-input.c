/* SPDX-License-Identifier: ISC */
/*
 * What wecom-send sends and where it reads its config: TEXT from the
 * arguments or stdin, never both; files to upload; the config's path.
 */

#include <sys/stat.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "wecom-send.h"


static int	read_args(int, char **, char **);
static int	read_stdin(char **);

/*
 * Whether stdin holds text that TEXT would make us ignore: a file with
 * bytes left, or a pipe with data already in it. A terminal, /dev/null
 * or an empty pipe is not; a pipe whose writer has not written yet
 * cannot be told from an idle one, and is not either.
 */
int
stdin_has_data(void)
{
	struct stat	st;
	struct pollfd	pfd;
	off_t		pos;
	char		c;

	if (isatty(STDIN_FILENO) || fstat(STDIN_FILENO, &st) == -1)
		return (0);
	if (S_ISREG(st.st_mode)) {
		pos = lseek(STDIN_FILENO, 0, SEEK_CUR);
		return (pos != -1 && st.st_size > pos);
	}
	if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
		return (0);
	pfd.fd = STDIN_FILENO;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
		return (0);

	return (read(STDIN_FILENO, &c, 1) == 1);
}

/*
 * TEXT from the arguments, or else stdin. Not EX_OK: there is no text,
 * and stderr says why.
 */
int
read_text(int argc, char **argv, char **out)
{
	*out = NULL;
	if (argc > 0)
		return (read_args(argc, argv, out));

	return (read_stdin(out));
}

/* The arguments joined by blanks, as echo(1) does. */
static int
read_args(int argc, char **argv, char **out)
{
	char	*buf;
	size_t	 len, off, n;
	int	 i;

	len = 0;
	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((buf = malloc(len)) == NULL) {
		fprintf(stderr, "wecom-send: out of memory\n");
		return (EX_OSERR);
	}
	for (i = 0, off = 0; i < argc; i++) {
		n = strlen(argv[i]);
		memcpy(buf + off, argv[i], n);
		off += n;
		buf[off++] = i + 1 < argc ? ' ' : '\0';
	}
	*out = buf;

	return (EX_OK);
}

/*
 * All of stdin, trailing newlines dropped, or nothing: text beyond
 * INPUT_MAX, or with a NUL byte that would end it early, is refused,
 * never sent in part.
 */
static int
read_stdin(char **out)
{
	char	*buf, *nul;
	size_t	 len, n;

	/* One byte more than allowed tells too long from just right. */
	if ((buf = malloc(INPUT_MAX + 1)) == NULL) {
		fprintf(stderr, "wecom-send: out of memory\n");
		return (EX_OSERR);
	}
	len = 0;
	while (len <= INPUT_MAX &&
	    (n = fread(buf + len, 1, INPUT_MAX + 1 - len, stdin)) > 0)
		len += n;
	if (ferror(stdin)) {
		fprintf(stderr, "wecom-send: cannot read stdin: %s; nothing "
		    "sent\n", strerror(errno));
		free(buf);
		return (EX_NOINPUT);
	}
	if (len > INPUT_MAX) {
		fprintf(stderr, "wecom-send: stdin: more than %d bytes "
		    "(1 MiB) of text; nothing sent\n", INPUT_MAX);
		free(buf);
		return (EX_DATAERR);
	}
	if ((nul = memchr(buf, '\0', len)) != NULL) {
		fprintf(stderr, "wecom-send: stdin: a NUL byte at offset %zu: "
		    "not text (send files with --file); nothing sent\n",
		    (size_t)(nul - buf));
		free(buf);
		return (EX_DATAERR);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = buf;

	return (EX_OK);
}

void *
read_file(const char *path, size_t *len)
{
	FILE	*fp;
	char	*buf;
	long	 sz;

	buf = NULL;
	if ((fp = fopen(path, "rb")) == NULL)
		return (NULL);
	if (fseek(fp, 0, SEEK_END) == 0 && (sz = ftell(fp)) > 0 &&
	    sz <= 20 * 1024 * 1024 && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz)) != NULL) {
		if (fread(buf, 1, (size_t)sz, fp) != (size_t)sz) {
			free(buf);
			buf = NULL;
		} else
			*len = (size_t)sz;
	}
	fclose(fp);

	return (buf);
}

