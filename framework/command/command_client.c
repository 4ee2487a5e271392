/* SPDX-License-Identifier: ISC */
/*
 * A worker's side: name a command, wait for how it ended, read its
 * output from the descriptor that came with the answer. Blocks for as
 * long as the command may run, so only a handler thread calls it.
 */

#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wecom_cmd.h"

/* Beyond the command's own timeout: a helper being restarted. */
#define CLIENT_GRACE_MS	5000

/* The helper's socket, set in each worker before any request. */
static int	client_fd = -1;

static int	client_send(const char *, const char *, int *);
static int	client_recv(int, long, struct wecom_cmd_reply *, int *);
static int	client_read(int, size_t, struct wecom_command_result *);

void
wecom_cmd_client_init(int fd)
{
	client_fd = fd;
}

int
wecom_cmd_request(const char *section, const char *key,
    struct wecom_command_result *res)
{
	const struct wecom_cmd	*cmd;
	struct wecom_cmd_reply	 rep;
	int			 sock, fd;

	memset(res, 0, sizeof(*res));
	memset(&rep, 0, sizeof(rep));
	fd = sock = -1;
	if ((cmd = wecom_cmd_find(section, key)) == NULL)
		snprintf(rep.err, sizeof(rep.err), "[%s] has no %s command",
		    section, key);
	else if (client_fd == -1)
		snprintf(rep.err, sizeof(rep.err), "no command helper runs");
	else if (client_send(section, key, &sock) != WECOM_CMD_OK)
		snprintf(rep.err, sizeof(rep.err), "the command helper "
		    "cannot be reached: %s", strerror(errno));
	else if (client_recv(sock, cmd->timeout_ms + CLIENT_GRACE_MS, &rep,
	    &fd) != WECOM_CMD_OK && rep.err[0] == '\0')
		snprintf(rep.err, sizeof(rep.err), "the command helper did "
		    "not answer: %s", errno != 0 ? strerror(errno) :
		    "it stopped");
	if (rep.has_output && fd != -1 && rep.err[0] == '\0')
		(void)client_read(fd, cmd->output_max, res);
	if (fd != -1)
		close(fd);
	if (sock != -1)
		close(sock);

	res->exited = rep.exited;
	res->exit_code = rep.exit_code;
	res->signal = rep.signal;
	res->timed_out = rep.timed_out;
	res->too_large = rep.too_large;
	if (res->err[0] == '\0')
		memcpy(res->err, rep.err, sizeof(res->err));
	res->err[sizeof(res->err) - 1] = '\0';

	return (res->err[0] == '\0' ? WECOM_CMD_OK : WECOM_CMD_ERROR);
}

void
wecom_command_result_free(struct wecom_command_result *res)
{
	free(res->out);
	res->out = NULL;
	res->out_len = 0;
}

/* The request, with our end of a fresh pair to answer on. */
static int
client_send(const char *section, const char *key, int *sock)
{
	char	req[WECOM_CMD_REQUEST_MAX];
	size_t	a, k;
	int	sp[2], rc;

	a = strlen(section) + 1;
	k = strlen(key) + 1;
	if (a + k >= sizeof(req)) {
		errno = ENAMETOOLONG;
		return (WECOM_CMD_ERROR);
	}
	memcpy(req, section, a);
	memcpy(req + a, key, k);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1)
		return (WECOM_CMD_ERROR);
	/* Never blocks: a helper that is down leaves a full queue. */
	rc = wecom_cmd_send(client_fd, req, a + k, sp[1]) == -1 ?
	    WECOM_CMD_ERROR : WECOM_CMD_OK;
	close(sp[1]);
	if (rc != WECOM_CMD_OK)
		close(sp[0]);
	else
		*sock = sp[0];

	return (rc);
}

/* The answer, within ms; fd: the output's descriptor, if one came. */
static int
client_recv(int sock, long ms, struct wecom_cmd_reply *rep, int *fd)
{
	struct pollfd	pfd;
	int		n;

	errno = 0;
	pfd.fd = sock;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, (int)ms)) == -1 && errno == EINTR)
		;
	if (n == 0)
		errno = ETIMEDOUT;
	if (n != 1 || wecom_cmd_recv(sock, rep, sizeof(*rep), fd) !=
	    sizeof(*rep))
		return (WECOM_CMD_ERROR);
	rep->err[sizeof(rep->err) - 1] = '\0';

	return (WECOM_CMD_OK);
}

/* The whole output, which the helper kept within max. */
static int
client_read(int fd, size_t max, struct wecom_command_result *res)
{
	struct stat	st;
	ssize_t		r;
	size_t		len;

	if (fstat(fd, &st) == -1 || (size_t)st.st_size > max ||
	    (res->out = malloc(st.st_size + 1)) == NULL) {
		snprintf(res->err, sizeof(res->err), "its output cannot be "
		    "read: %s", strerror(errno != 0 ? errno : EFBIG));
		return (WECOM_CMD_ERROR);
	}
	for (len = 0; len < (size_t)st.st_size; len += r) {
		if ((r = read(fd, res->out + len, st.st_size - len)) <= 0) {
			snprintf(res->err, sizeof(res->err), "its output "
			    "cannot be read: %s", r == 0 ? "cut short" :
			    strerror(errno));
			wecom_command_result_free(res);
			return (WECOM_CMD_ERROR);
		}
	}
	res->out[len] = '\0';
	res->out_len = len;

	return (WECOM_CMD_OK);
}
