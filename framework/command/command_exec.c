/* SPDX-License-Identifier: ISC */
/*
 * One command, run in a runner process the helper forked for it: a
 * private directory for its output, its words with "%s" filled in,
 * stdin from /dev/null, stderr on a pipe (the start kept, the rest
 * read and dropped), a process group killed at the timeout, and
 * RLIMIT_FSIZE as the output limit. The output is the one file it
 * left in the directory: "%s" with whatever suffix the line gave it,
 * or its stdout.
 */

#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wecom_cmd.h"

#define EXEC_OUT	"out"		/* %s is DIR/out */
#define EXEC_STDOUT	"stdout"

extern char	**environ;

struct exec_run {
	const struct wecom_cmd	*cmd;
	char			 dir[512];
	char			 err[256];	/* its stderr: the start */
	size_t			 errlen;
	int			 status;
	int			 timed_out;
};

static int	exec_start(struct exec_run *, int errfd);
static void	exec_child(struct exec_run *, int errfd)
		    __attribute__((noreturn));
static char	*exec_word(const char *, const char *);
static void	exec_wait(struct exec_run *, pid_t, int errfd);
static int	exec_stderr(struct exec_run *, int fd);
static void	exec_result(struct exec_run *, struct wecom_cmd_reply *,
		    int *fd);
static int	exec_output(struct exec_run *, struct wecom_cmd_reply *);
static void	exec_clean(struct exec_run *);

void
wecom_cmd_exec(const struct wecom_cmd *cmd, struct wecom_cmd_reply *rep,
    int *fd)
{
	struct exec_run	 run;
	int		 fds[2];
	pid_t		 pid;

	memset(&run, 0, sizeof(run));
	memset(rep, 0, sizeof(*rep));
	*fd = -1;
	run.cmd = cmd;
	if ((size_t)snprintf(run.dir, sizeof(run.dir), "%s/wecom-cmd.XXXXXX",
	    cmd->dir) >= sizeof(run.dir) || mkdtemp(run.dir) == NULL) {
		snprintf(rep->err, sizeof(rep->err), "cannot make a directory "
		    "in %s (%s_dir): %s", cmd->dir, cmd->key, strerror(errno));
		return;
	}
	if (pipe2(fds, O_CLOEXEC) == -1 || (pid = exec_start(&run,
	    fds[1])) == -1) {
		snprintf(rep->err, sizeof(rep->err), "cannot start it: %s",
		    strerror(errno));
		exec_clean(&run);
		return;
	}
	close(fds[1]);
	exec_wait(&run, pid, fds[0]);
	close(fds[0]);
	exec_result(&run, rep, fd);
	exec_clean(&run);
}

static int
exec_start(struct exec_run *run, int errfd)
{
	pid_t	pid;

	if ((pid = fork()) == 0)
		exec_child(run, errfd);

	return (pid);
}

/*
 * The command's process: nothing of the helper's but what is set up
 * here. A failure to exec is reported on stderr, as sh would.
 */
static void
exec_child(struct exec_run *run, int errfd)
{
	const struct wecom_cmd	*cmd = run->cmd;
	struct rlimit		 rl;
	char			 path[600], *argv[65], **ep, **env;
	int			 in, out, i, n;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGXFSZ, SIG_DFL);
	snprintf(path, sizeof(path), "%s/%s", run->dir,
	    cmd->to_file ? EXEC_OUT : EXEC_STDOUT);
	/* Out of memory for a word: never a shorter command than written. */
	for (i = 0; cmd->argv[i] != NULL; i++) {
		if ((argv[i] = exec_word(cmd->argv[i], path)) == NULL)
			_exit(126);
	}
	argv[i] = NULL;
	in = open("/dev/null", O_RDWR);
	out = cmd->to_file ? in : open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (in == -1 || out == -1 || dup2(in, STDIN_FILENO) == -1 ||
	    dup2(out, STDOUT_FILENO) == -1 || dup2(errfd, STDERR_FILENO) == -1)
		_exit(126);
	if (close_range(STDERR_FILENO + 1, ~0U, 0) == -1) {
		for (n = STDERR_FILENO + 1; n < 1024; n++)
			(void)close(n);
	}
	rl.rlim_cur = rl.rlim_max = cmd->output_max;
	(void)setrlimit(RLIMIT_FSIZE, &rl);
	rl.rlim_cur = rl.rlim_max = 0;
	(void)setrlimit(RLIMIT_CORE, &rl);

	/* The server's preloads (a sanitizer's runtime) are not its. */
	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) != NULL) {
		for (ep = environ, n = 0; *ep != NULL; ep++) {
			if (strncmp(*ep, "LD_PRELOAD=", 11) != 0)
				env[n++] = *ep;
		}
		environ = env;
	}
	execvp(argv[0], argv);
	dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0],
	    strerror(errno));
	_exit(127);
}

/* A word with every "%s" replaced by path. */
static char *
exec_word(const char *word, const char *path)
{
	const char	*p, *q;
	char		*out;
	size_t		 len, n;

	len = strlen(word) + 1;
	for (p = word; (q = strstr(p, "%s")) != NULL; p = q + 2)
		len += strlen(path);
	if ((out = malloc(len)) == NULL)
		return (NULL);
	n = 0;
	for (p = word; (q = strstr(p, "%s")) != NULL; p = q + 2) {
		memcpy(out + n, p, q - p);
		n += q - p;
		memcpy(out + n, path, strlen(path));
		n += strlen(path);
	}
	memcpy(out + n, p, strlen(p) + 1);

	return (out);
}

static long
exec_ms(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/*
 * Wait for it, reading its stderr meanwhile, woken by its exit (a
 * pidfd; without one, every 50 ms). At the timeout its whole process
 * group is killed, and whatever of the group outlives it too.
 */
static void
exec_wait(struct exec_run *run, pid_t pid, int errfd)
{
	struct timespec	t0;
	struct pollfd	pfd[2];
	long		left;
	pid_t		w;
	int		n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	(void)fcntl(errfd, F_SETFL, O_NONBLOCK);
	pfd[0].fd = errfd;
	pfd[1].fd = pidfd_open(pid, 0);
	pfd[0].events = pfd[1].events = POLLIN;
	while ((w = waitpid(pid, &run->status, WNOHANG)) == 0 ||
	    (w == -1 && errno == EINTR)) {
		left = run->cmd->timeout_ms - exec_ms(&t0);
		if (left <= 0 && !run->timed_out) {
			run->timed_out = 1;
			(void)kill(-pid, SIGKILL);
		}
		if (left <= 0 || (pfd[1].fd == -1 && left > 50))
			left = 50;
		if (poll(pfd, 2, left) > 0 && (pfd[0].revents & (POLLIN |
		    POLLHUP)) && exec_stderr(run, errfd) == 0)
			pfd[0].fd = -1;
	}
	(void)kill(-pid, SIGKILL);
	if (pfd[1].fd != -1)
		close(pfd[1].fd);
	/* What it wrote last; a descendant that escaped its group can
	 * keep the pipe open, so this is bounded. */
	for (n = 0; pfd[0].fd != -1 && n < 20; n++) {
		if (poll(pfd, 1, 50) > 0 && exec_stderr(run, errfd) == 0)
			break;
	}
}

/*
 * Keep the start of stderr; read and drop the rest, so that it never
 * blocks on a full pipe. 0 at its end.
 */
static int
exec_stderr(struct exec_run *run, int fd)
{
	char	buf[4096];
	ssize_t	r;
	size_t	room;

	while ((r = read(fd, buf, sizeof(buf))) > 0) {
		room = sizeof(run->err) - 1 - run->errlen;
		if ((size_t)r > room)
			r = room;
		memcpy(run->err + run->errlen, buf, r);
		run->errlen += r;
	}

	return (r == -1 && errno == EAGAIN);
}

/* How it ended, for the worker and for a person. */
static void
exec_result(struct exec_run *run, struct wecom_cmd_reply *rep, int *fd)
{
	const struct wecom_cmd	*c = run->cmd;
	const char		*sep;

	run->err[run->errlen] = '\0';
	run->err[strcspn(run->err, "\n")] = '\0';
	sep = run->err[0] != '\0' ? ": " : "";
	rep->timed_out = run->timed_out;
	if (WIFEXITED(run->status)) {
		rep->exited = 1;
		rep->exit_code = WEXITSTATUS(run->status);
	} else if (WIFSIGNALED(run->status))
		rep->signal = WTERMSIG(run->status);
	rep->too_large = rep->signal == SIGXFSZ;

	if (rep->timed_out)
		snprintf(rep->err, sizeof(rep->err), "killed after %ld ms "
		    "(%s_timeout_ms)", c->timeout_ms, c->key);
	else if (rep->too_large)
		snprintf(rep->err, sizeof(rep->err), "its output passed %zu "
		    "bytes (%s_output_max)", c->output_max, c->key);
	else if (rep->signal != 0)
		snprintf(rep->err, sizeof(rep->err), "killed by signal %d "
		    "(%s)%s%s", rep->signal, strsignal(rep->signal), sep,
		    run->err);
	else if (rep->exit_code != 0)
		snprintf(rep->err, sizeof(rep->err), "exit status %d%s%s",
		    rep->exit_code, sep, run->err);
	else if ((*fd = exec_output(run, rep)) != -1)
		rep->has_output = 1;
}

/* The one file it left in its directory, open; -1 and why if not. */
static int
exec_output(struct exec_run *run, struct wecom_cmd_reply *rep)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 name[256];
	int		 n, fd;

	if ((d = opendir(run->dir)) == NULL) {
		snprintf(rep->err, sizeof(rep->err), "cannot read its "
		    "directory: %s", strerror(errno));
		return (-1);
	}
	n = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 && n++ == 0)
			snprintf(name, sizeof(name), "%s", de->d_name);
	}
	fd = -1;
	if (n == 1)
		fd = openat(dirfd(d), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	closedir(d);
	if (n == 1 && fd != -1 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		return (fd);
	if (fd != -1)
		close(fd);
	if (n == 0)
		snprintf(rep->err, sizeof(rep->err), "it exited 0 but wrote "
		    "no file at %%s");
	else if (n > 1)
		snprintf(rep->err, sizeof(rep->err), "it left %d files at "
		    "%%s where one was expected", n);
	else
		snprintf(rep->err, sizeof(rep->err), "its output is not a "
		    "regular file");
	return (-1);
}

/* Its directory, and what it left there (one level). */
static void
exec_clean(struct exec_run *run)
{
	struct dirent	*de;
	DIR		*d;

	if ((d = opendir(run->dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (unlinkat(dirfd(d), de->d_name, 0) == -1)
				(void)unlinkat(dirfd(d), de->d_name,
				    AT_REMOVEDIR);
		}
		closedir(d);
	}
	(void)rmdir(run->dir);
}
