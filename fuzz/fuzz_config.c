/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer: the config parser on arbitrary files. Every failure must
 * come with a message naming the file.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom_config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct wecom_conf	 conf;
	char			 path[] = "/tmp/wecom-fuzz-conf-XXXXXX";
	char			 err[512];
	int			 fd, rc;

	if ((fd = mkstemp(path)) == -1)
		abort();
	if (write(fd, data, len) != (ssize_t)len)
		abort();
	close(fd);

	err[0] = '\0';
	rc = wecom_conf_load(&conf, path, err, sizeof(err));
	if (rc != WECOM_CONF_OK && strncmp(err, path, strlen(path)) != 0)
		abort();
	wecom_conf_free(&conf);
	unlink(path);

	return (0);
}
