/* SPDX-License-Identifier: ISC */
/*
 * Runs a fuzz target over files and directories, without libFuzzer:
 * the seeds and every input that once crashed are replayed by the test
 * suite with gcc (and under ASan with SANITIZE=1).
 */

#include <sys/stat.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
replay_file(const char *path)
{
	uint8_t	*buf;
	long	 len;
	FILE	*fp;

	if ((fp = fopen(path, "rb")) == NULL)
		return (0);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	if ((buf = malloc(len > 0 ? (size_t)len : 1)) == NULL ||
	    fread(buf, 1, (size_t)len, fp) != (size_t)len) {
		fclose(fp);
		free(buf);
		return (0);
	}
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	free(buf);

	return (1);
}

int
main(int argc, char **argv)
{
	struct dirent	*de;
	struct stat	 st;
	char		 path[4096];
	DIR		*d;
	int		 i, n;

	for (i = 1, n = 0; i < argc; i++) {
		if (stat(argv[i], &st) == 0 && !S_ISDIR(st.st_mode)) {
			n += replay_file(argv[i]);
			continue;
		}
		if ((d = opendir(argv[i])) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i],
			    de->d_name);
			n += replay_file(path);
		}
		closedir(d);
	}
	printf("%d inputs replayed\n", n);

	return (0);
}
