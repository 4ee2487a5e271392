/* SPDX-License-Identifier: ISC */
/*
 * The command helper: outside the workers' sandbox and chroot, it reads
 * requests and gives each a runner process of its own, which runs the
 * command and answers on the socket the request brought. It holds no
 * state but the count of its runners, so the server may kill and
 * restart it at any time: a request sent meanwhile waits in the socket.
 */

#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "wecom_cmd.h"

#define HELPER_FD	3

static int	helper_recv(int, char *, size_t, int *);
static void	helper_run(const struct wecom_cmd *, int)
		    __attribute__((noreturn));
static void	helper_answer(int, const struct wecom_cmd_reply *, int);
static void	helper_refuse(int, const char *, const char *, const char *);

void
wecom_cmd_serve(int fd)
{
	const struct wecom_cmd	*cmd;
	char			 req[WECOM_CMD_REQUEST_MAX];
	const char		*key;
	int			 reply, running;
	pid_t			 pid;

	/* Nothing of the server's but stdio and the socket. */
	if (fd != HELPER_FD && (dup2(fd, HELPER_FD) == -1 || close(fd) == -1))
		_exit(1);
	(void)close_range(HELPER_FD + 1, ~0U, 0);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	running = 0;

	for (;;) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			running--;
		if (helper_recv(HELPER_FD, req, sizeof(req), &reply) == -1)
			_exit(0);	/* every end closed: the server is gone */
		if (reply == -1)
			continue;
		key = req + strlen(req) + 1;
		if ((cmd = wecom_cmd_find(req, key)) == NULL)
			helper_refuse(reply, req, key, "is not a command");
		else if (running >= WECOM_CMD_RUNNERS_MAX)
			helper_refuse(reply, req, key, "must wait: "
			    "8 commands are running");
		else if ((pid = fork()) == 0) {
			close(HELPER_FD);
			helper_run(cmd, reply);
		} else if (pid == -1)
			helper_refuse(reply, req, key, "cannot fork");
		else
			running++;
		close(reply);
	}
}

/*
 * One request: "section\0key\0" and the descriptor to answer on (-1:
 * a malformed request, dropped). -1 when no end is left to send one.
 */
static int
helper_recv(int fd, char *buf, size_t size, int *reply)
{
	ssize_t	n;

	if ((n = wecom_cmd_recv(fd, buf, size - 1, reply)) == 0 ||
	    (n == -1 && errno != EMSGSIZE))
		return (-1);
	/* Two strings, both ended: else there is nobody to tell. */
	if (n > 0)
		buf[n] = '\0';
	if (*reply != -1 && (n == -1 || strlen(buf) + 1 >= (size_t)n ||
	    buf[n - 1] != '\0')) {
		close(*reply);
		*reply = -1;
	}

	return (0);
}

static void
helper_run(const struct wecom_cmd *cmd, int reply)
{
	struct wecom_cmd_reply	rep;
	int			fd;

	wecom_cmd_exec(cmd, &rep, &fd);
	helper_answer(reply, &rep, fd);
	_exit(0);
}

static void
helper_answer(int reply, const struct wecom_cmd_reply *rep, int fd)
{
	/* A worker that gave up has closed its end: nothing to do. */
	(void)wecom_cmd_send(reply, rep, sizeof(*rep), fd);
	if (fd != -1)
		close(fd);
}

static void
helper_refuse(int reply, const char *section, const char *key,
    const char *why)
{
	struct wecom_cmd_reply	rep;

	memset(&rep, 0, sizeof(rep));
	snprintf(rep.err, sizeof(rep.err), "[%s] %s %s", section, key, why);
	helper_answer(reply, &rep, -1);
}
