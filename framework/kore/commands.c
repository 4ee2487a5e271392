/* SPDX-License-Identifier: ISC */
/*
 * The command helper's life (framework/command/ runs it): started by
 * the parent before the workers are forked, sandboxed and chrooted, as
 * the workers' user with that user's groups; restarted by the parent
 * when it dies. Workers inherit their end of its socket.
 *
 * The parent learns of a death from a pidfd in its own event loop.
 * That loop is made after kore_parent_configure(), so a worker's first
 * message asks the parent to start watching (the only way into it).
 */

#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <kore/kore.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "wecom_cmd.h"
#include "wecom_server.h"

#define COMMANDS_MSG		(KORE_MSG_APP_BASE + 15)
/* A helper that died sooner than this is restarted after it. */
#define COMMANDS_RESTART_MS	1000

static struct {
	struct kore_event	 evt;		/* first: Kore's event */
	int			 fd;		/* the helper's end */
	int			 pidfd;
	pid_t			 pid;
	int			 status;	/* how it ended; -1 */
	uint64_t		 started;
	int			 watching;
	uid_t			 uid;		/* the workers' user */
	gid_t			 gid;
	char			 user[64];	/* "": stay who we are */
} helper = { .fd = -1, .pidfd = -1 };

static int	commands_user(char *, size_t);
static int	commands_fork(void);
static void	commands_child(pid_t) __attribute__((noreturn));
static void	commands_watch(struct kore_msg *, const void *);
static void	commands_died(void *, int);
static void	commands_restart(void *, u_int64_t);

/* In the parent, once the apps have declared their commands. */
int
wecom_commands_start(char *err, size_t errlen)
{
	int	sp[2];

	if (!wecom_cmd_declared())
		return (WECOM_OK);
	if (commands_user(err, errlen) != WECOM_OK)
		return (WECOM_ERROR);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == -1 ||
	    kore_msg_register(COMMANDS_MSG, commands_watch) !=
	    KORE_RESULT_OK) {
		snprintf(err, errlen, "the command helper's socket: %s",
		    errno_s);
		return (WECOM_ERROR);
	}
	/* The parent keeps both: for the workers, and for a new helper. */
	wecom_cmd_client_init(sp[0]);
	helper.fd = sp[1];
	helper.evt.type = 0;			/* none of Kore's */
	helper.evt.handle = commands_died;
	if (commands_fork() != WECOM_OK) {
		snprintf(err, errlen, "cannot start the command helper: %s",
		    errno_s);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/* In each worker: it only asks; the parent watches the helper. */
void
wecom_commands_worker(void)
{
	if (helper.fd == -1)
		return;
	close(helper.fd);
	close(helper.pidfd);
	helper.fd = helper.pidfd = -1;
	if (worker->id == 1)
		kore_msg_send(KORE_MSG_PARENT, COMMANDS_MSG, NULL, 0);
}

/* The workers' user (runas), looked up while the parent can. */
static int
commands_user(char *err, size_t errlen)
{
	struct passwd	*pw;

	if (geteuid() != 0 || skip_runas || kore_runas_user == NULL)
		return (WECOM_OK);
	if ((pw = getpwnam(kore_runas_user)) == NULL) {
		snprintf(err, errlen, "runas user '%s' not found",
		    kore_runas_user);
		return (WECOM_ERROR);
	}
	if (strlen(pw->pw_name) >= sizeof(helper.user)) {
		snprintf(err, errlen, "runas user name too long");
		return (WECOM_ERROR);
	}
	helper.uid = pw->pw_uid;
	helper.gid = pw->pw_gid;
	memcpy(helper.user, pw->pw_name, strlen(pw->pw_name) + 1);

	return (WECOM_OK);
}

static int
commands_fork(void)
{
	pid_t	parent, pid;

	parent = getpid();
	if ((pid = fork()) == -1)
		return (WECOM_ERROR);
	if (pid == 0)
		commands_child(parent);
	helper.pid = pid;
	helper.started = kore_time_ms();
	if ((helper.pidfd = pidfd_open(pid, 0)) == -1)
		kore_log(LOG_WARNING, "wecom: pidfd_open: %s: a command "
		    "helper that dies is not restarted", errno_s);
	if (helper.watching && helper.pidfd != -1)
		kore_platform_schedule_read(helper.pidfd, &helper.evt);

	return (WECOM_OK);
}

/*
 * The helper: none of the parent's signal handlers, dies with the
 * parent, and runs as the workers' user with all of its groups (a
 * camera's "video"), outside their chroot.
 */
static void
commands_child(pid_t parent)
{
	sigset_t	all;
	int		sig;

	for (sig = 1; sig < NSIG; sig++)
		(void)signal(sig, SIG_DFL);
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != parent)
		_exit(1);
	kore_platform_proctitle("[commands]");
	if (helper.user[0] != '\0' && (initgroups(helper.user,
	    helper.gid) == -1 || setgid(helper.gid) == -1 ||
	    setuid(helper.uid) == -1)) {
		kore_log(LOG_ERR, "wecom: command helper: cannot become "
		    "%s: %s", helper.user, errno_s);
		_exit(1);
	}
	(void)umask(077);
	(void)chdir("/");
	wecom_cmd_serve(helper.fd);
}

/* Parent: a worker is up, so the event loop is: watch the helper. */
static void
commands_watch(struct kore_msg *msg, const void *data)
{
	if (helper.watching || helper.fd == -1)
		return;
	helper.watching = 1;
	if (helper.pidfd != -1)
		kore_platform_schedule_read(helper.pidfd, &helper.evt);
}

/*
 * Parent: the helper is gone; a request sent meanwhile waits for the
 * next. Restarted from a timer, which a parent shutting down (its
 * process group got SIGTERM, the helper too) no longer runs.
 */
static void
commands_died(void *arg, int error)
{
	int	status;

	/* Workers forked since hold copies: closing alone would not do. */
	helper.evt.flags = 0;
	kore_platform_disable_read(helper.pidfd);
	close(helper.pidfd);
	helper.pidfd = -1;
	/* Kore's reaper may have had it first: then its status is lost. */
	helper.status = -1;
	if (waitpid(helper.pid, &status, WNOHANG) == helper.pid)
		helper.status = status;
	kore_timer_add(commands_restart, kore_time_ms() - helper.started <
	    COMMANDS_RESTART_MS ? COMMANDS_RESTART_MS : 100, NULL, 1);
}

static void
commands_restart(void *arg, u_int64_t now)
{
	char	how[32];
	pid_t	old;

	old = helper.pid;
	if (helper.status == -1)
		snprintf(how, sizeof(how), "ended");
	else if (WIFSIGNALED(helper.status))
		snprintf(how, sizeof(how), "ended by SIG%s",
		    sigabbrev_np(WTERMSIG(helper.status)));
	else
		snprintf(how, sizeof(how), "ended with code %d",
		    WEXITSTATUS(helper.status));
	if (commands_fork() != WECOM_OK) {
		kore_log(LOG_ERR, "wecom: cannot restart the command helper: "
		    "%s; trying again in %d ms", errno_s, COMMANDS_RESTART_MS);
		kore_timer_add(commands_restart, COMMANDS_RESTART_MS, NULL, 1);
		return;
	}
	kore_log(LOG_NOTICE, "wecom: the command helper (pid %d) %s; "
	    "restarted as pid %d", old, how, helper.pid);
}
