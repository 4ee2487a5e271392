/* SPDX-License-Identifier: ISC */
/*
 * The workers' seccomp sandbox, whole. Kore 4.1 ends its filter with
 * SECCOMP_RET_KILL, which kills only the calling *thread*: the event
 * loop or a handler thread vanished without a word while the process
 * lived on, holding the accept lock. Our filter therefore ends with a
 * verdict of its own: it repeats what Kore's lists allow (the worker,
 * pgsql and task lists, which follow ours and are never reached) and
 * traps everything else. The SIGSYS handler writes one line naming the
 * syscall and what the thread was doing, and ends the whole worker;
 * Kore's parent starts a fresh one. With `seccomp_tracing yes` the
 * verdict is Kore's trace instead: logged, allowed, for discovery and
 * for the tests, which fail on any such line.
 */

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <kore/kore.h>
#include <kore/seccomp.h>

#include "wecom_activity.h"
#include "wecom_app.h"
#include "wecom_server.h"

void	kore_seccomp_hook(void);

/* Per worker, before the filter is loaded. */
static pid_t	worker_pid;

static void	sandbox_trap(int, siginfo_t *, void *);
static size_t	sandbox_line(char *, size_t, long);
static const char	*sandbox_name(long);
static const char	*sandbox_hint(long);

/*
 * Old-style calls (rename, mkdir …) exist on x86_64 only; arm64 (a
 * Raspberry Pi) has just their *at forms, which glibc uses there.
 *
 * Beyond Kore's own filter: threads (glibc's pthread_create uses clone3
 * and rseq), eventfd, and what libcurl, the token cache, the robot
 * limit and the outbox (atomic file steps under the state directory)
 * need on them.
 */
static struct sock_filter filter_wecom[] = {
	KORE_SYSCALL_ALLOW(clone),
	KORE_SYSCALL_ALLOW(clone3),
	KORE_SYSCALL_ALLOW(rseq),
	KORE_SYSCALL_ALLOW(set_robust_list),
	KORE_SYSCALL_ALLOW(eventfd2),
	KORE_SYSCALL_ALLOW(socket),
	KORE_SYSCALL_ALLOW(connect),
	KORE_SYSCALL_ALLOW(getsockopt),
	KORE_SYSCALL_ALLOW(getsockname),
	KORE_SYSCALL_ALLOW(getpeername),
	KORE_SYSCALL_ALLOW(sendmmsg),
	KORE_SYSCALL_ALLOW(sendmsg),
	KORE_SYSCALL_ALLOW(recvmsg),
	KORE_SYSCALL_ALLOW(newfstatat),
	KORE_SYSCALL_ALLOW(statx),
	KORE_SYSCALL_ALLOW(uname),
	KORE_SYSCALL_ALLOW(pipe2),
	KORE_SYSCALL_ALLOW(flock),
#ifdef __NR_rename
	KORE_SYSCALL_ALLOW(rename),
#endif
#ifdef __NR_renameat
	KORE_SYSCALL_ALLOW(renameat),
#endif
	KORE_SYSCALL_ALLOW(renameat2),
#ifdef __NR_link
	KORE_SYSCALL_ALLOW(link),
#endif
	KORE_SYSCALL_ALLOW(linkat),
	KORE_SYSCALL_ALLOW(unlinkat),
	KORE_SYSCALL_ALLOW(mkdirat),
	KORE_SYSCALL_ALLOW(fchmodat),
	KORE_SYSCALL_ALLOW(utimensat),
	KORE_SYSCALL_ALLOW(fdatasync),
	KORE_SYSCALL_ALLOW(fsync),
	KORE_SYSCALL_ALLOW(fchmod),
#ifdef __NR_chmod
	KORE_SYSCALL_ALLOW(chmod),
#endif
#ifdef __NR_mkdir
	KORE_SYSCALL_ALLOW(mkdir),
#endif
	KORE_SYSCALL_ALLOW(getdents64),
	KORE_SYSCALL_ALLOW(ftruncate),
	KORE_SYSCALL_ALLOW(pread64),
	KORE_SYSCALL_ALLOW(pwrite64),
	KORE_SYSCALL_ALLOW(madvise),
	KORE_SYSCALL_ALLOW(sched_getaffinity),
	KORE_SYSCALL_ALLOW(gettid),
	KORE_SYSCALL_ALLOW(statfs),
	/* glibc grows a large block in place (realloc of >128 KiB). */
	KORE_SYSCALL_ALLOW(mremap),
	KORE_SYSCALL_ALLOW(sched_yield),
	/*
	 * The bots' long connections (libwebsockets): it sizes its fd
	 * table from the limit. Reading a limit only: new_limit NULL.
	 */
	KORE_SYSCALL_ALLOW_ARG(prlimit64, 2, 0),
	/* The message log's writer yields the CPU to callbacks (nice 19). */
	KORE_SYSCALL_ALLOW(setpriority),
	/* SQLite (the message log): as root, chowns -wal/-shm; ignores EPERM. */
	KORE_SYSCALL_DENY(fchown, EPERM),
};

/*
 * Kore's own lists, repeated (see above), then our verdict. ioctl and
 * writable-executable mappings keep Kore's errno answers.
 */
static struct sock_filter filter_last[] = {
	KORE_SYSCALL_DENY(ioctl, EACCES),
#if defined(SYS_open)
	KORE_SYSCALL_ALLOW(open),
#endif
	KORE_SYSCALL_ALLOW(read),
#if defined(SYS_stat)
	KORE_SYSCALL_ALLOW(stat),
#endif
#if defined(SYS_lstat)
	KORE_SYSCALL_ALLOW(lstat),
#endif
	KORE_SYSCALL_ALLOW(fstat),
	KORE_SYSCALL_ALLOW(write),
	KORE_SYSCALL_ALLOW(fcntl),
	KORE_SYSCALL_ALLOW(lseek),
	KORE_SYSCALL_ALLOW(close),
	KORE_SYSCALL_ALLOW(openat),
#if defined(SYS_access)
	KORE_SYSCALL_ALLOW(access),
#else
	KORE_SYSCALL_ALLOW(faccessat),	/* access() on arm64 */
#endif
	KORE_SYSCALL_ALLOW(writev),
	KORE_SYSCALL_ALLOW(getcwd),
#if defined(SYS_unlink)
	KORE_SYSCALL_ALLOW(unlink),
#endif
#if defined(SYS_readlink)
	KORE_SYSCALL_ALLOW(readlink),
#else
	KORE_SYSCALL_ALLOW(readlinkat),	/* readlink() on arm64 */
#endif
	KORE_SYSCALL_ALLOW(exit),
	KORE_SYSCALL_ALLOW(kill),
	KORE_SYSCALL_ALLOW(getpid),
	KORE_SYSCALL_ALLOW(getuid),
	KORE_SYSCALL_ALLOW(geteuid),
	KORE_SYSCALL_ALLOW(exit_group),
	KORE_SYSCALL_ALLOW(nanosleep),
	/* A sleep or poll resumed after SIGSTOP/SIGCONT (ptrace, a VM). */
	KORE_SYSCALL_ALLOW(restart_syscall),
	KORE_SYSCALL_ALLOW(clock_nanosleep),
	KORE_SYSCALL_ALLOW(brk),
	KORE_SYSCALL_ALLOW(munmap),
#if defined(SYS_mmap)
	KORE_SYSCALL_DENY_WITH_FLAG(mmap, 2, PROT_EXEC | PROT_WRITE, EINVAL),
#endif
	KORE_SYSCALL_DENY_WITH_FLAG(mprotect, 2, PROT_EXEC, EINVAL),
#if defined(SYS_mmap)
	KORE_SYSCALL_ALLOW(mmap),
#endif
	KORE_SYSCALL_ALLOW(mprotect),
#if defined(SYS_poll)
	KORE_SYSCALL_ALLOW(poll),
#endif
	KORE_SYSCALL_ALLOW(ppoll),
	KORE_SYSCALL_ALLOW(sendto),
	KORE_SYSCALL_ALLOW(accept),
	KORE_SYSCALL_ALLOW(sendfile),
	KORE_SYSCALL_ALLOW(recvfrom),
	KORE_SYSCALL_ALLOW(epoll_ctl),
	KORE_SYSCALL_ALLOW(setsockopt),
#if defined(SYS_epoll_wait)
	KORE_SYSCALL_ALLOW(epoll_wait),
#endif
	KORE_SYSCALL_ALLOW(epoll_pwait),
	KORE_SYSCALL_ALLOW(sigaltstack),
	KORE_SYSCALL_ALLOW(rt_sigreturn),
	KORE_SYSCALL_ALLOW(rt_sigaction),
	KORE_SYSCALL_ALLOW(rt_sigprocmask),
	KORE_SYSCALL_ALLOW(futex),
	KORE_SYSCALL_ALLOW(clock_gettime),
	KORE_SYSCALL_ALLOW(getrandom),
	KORE_SYSCALL_ALLOW(socketpair),
	/* The verdict: set by the hook (trap, or trace). */
	BPF_STMT(BPF_RET+BPF_K, SECCOMP_RET_TRAP),
};

/* In each worker, just before Kore loads the filter. */
void
kore_seccomp_hook(void)
{
	struct sigaction	sa;

	worker_pid = getpid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sandbox_trap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1)
		fatal("wecom: sigaction(SIGSYS): %s", errno_s);

	filter_last[KORE_FILTER_LEN(filter_last) - 1].k =
	    kore_seccomp_tracing ? SECCOMP_RET_TRACE : SECCOMP_RET_TRAP;
	kore_seccomp_filter("wecom", filter_wecom,
	    KORE_FILTER_LEN(filter_wecom));
	kore_seccomp_filter("wecom-last", filter_last,
	    KORE_FILTER_LEN(filter_last));
}

/*
 * A forbidden syscall. Only async-signal-safe calls from here: the
 * thread may hold malloc's or stdio's lock. A child forked to run a
 * program (before its exec) takes its worker down with it, so that the
 * line names the exec, not the worker's later wait.
 */
static void
sandbox_trap(int sig, siginfo_t *si, void *uc)
{
	char	line[512];
	size_t	len;

	len = sandbox_line(line, sizeof(line), (long)si->si_syscall);
	(void)write(kore_foreground ? STDOUT_FILENO : STDERR_FILENO, line,
	    len);
	if (getpid() != worker_pid)
		(void)kill(worker_pid, SIGKILL);
	_exit(3);
}

static size_t
sandbox_line(char *buf, size_t size, long nr)
{
	struct wecom_activity	a;
	int			n;

	a = wecom_activity();
	n = snprintf(buf, size, "[wrk %d]: wecom: sandbox violation: syscall %s "
	    "(%ld) in %s%s%s%s; the worker ends and a new one starts%s "
	    "(see docs/security.md)\n",
	    worker != NULL ? (int)worker->id : 0,
	    sandbox_name(nr), nr,
	    getpid() != worker_pid ? "a child of " : "",
	    a.kind != NULL ? a.kind : "the event loop",
	    a.kind != NULL ? " " : "", a.name != NULL ? a.name : "",
	    sandbox_hint(nr));
	if (n < 0)
		return (0);

	return ((size_t)n < size ? (size_t)n : size - 1);
}

/* Every syscall of this architecture, from its headers (see Makefile). */
static const struct {
	long		 nr;
	const char	*name;
} syscalls[] = {
#include "syscalls.h"
};

static const char *
sandbox_name(long nr)
{
	size_t	i;

	for (i = 0; i < sizeof(syscalls) / sizeof(syscalls[0]); i++) {
		if (syscalls[i].nr == nr)
			return (syscalls[i].name);
	}

	return ("unknown");
}

/* What a program run from a handler trips over first. */
static const char *
sandbox_hint(long nr)
{
	if (nr == SYS_execve || nr == SYS_wait4 || nr == SYS_dup3)
		return ("; workers run no programs: declare a command "
		    "(wecom_app_command(), docs/commands.md)");
	return ("");
}
