/* SPDX-License-Identifier: ISC */
/*
 * The monitor bot, for a Raspberry Pi or any Linux box: "photo" (拍照)
 * or a menu click with EventKey "photo" runs the section's capture
 * command and answers the picture; "status" (状态) answers load,
 * memory, disk, temperature and uptime; anything else lists the
 * commands. Only the UserIDs in "allow" may use it; without an allow
 * key nobody may.
 *
 *	[app monitor]
 *	handler = monitor
 *	secret  = ...
 *	allow   = zhangsan,lisi
 *	capture = fswebcam -q --no-banner %s
 *	capture_timeout_ms = 10000
 *	capture_dir = /tmp
 *
 * The capture command runs with /bin/sh -c; "%s" is replaced by an
 * output path the app makes up. Nothing the member typed ever reaches
 * the command line.
 */

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wecom.h"
#include "wecom_client.h"

#define MONITOR_TIMEOUT_DEFAULT	10000
#define MONITOR_CMD_MAX		4096
#define MONITOR_STDERR_MAX	160

#define REFUSAL	"Sorry, you are not allowed to use this bot.\n" \
		"抱歉，您无权使用此机器人。"
#define HELP	"Commands / 命令:\n" \
		"photo (拍照) — take a picture / 拍一张照片\n" \
		"status (状态) — load, memory, disk, temperature, uptime / " \
		"负载、内存、磁盘、温度、运行时间\n" \
		"help (帮助) — this list / 显示本帮助"

struct monitor {
	const char	*capture;
	const char	*allow;
	const char	*dir;
	long		 timeout_ms;
	unsigned int	 seq;		/* per-request file names */
};

/* How the capture command ended. */
struct capture_result {
	int	status;			/* waitpid() status */
	int	timed_out;
	char	err[MONITOR_STDERR_MAX];	/* start of its stderr */
};

extern char	**environ;

/* Exact match of a UserID in a comma separated list. */
static int
allowed(const struct monitor *m, const char *user)
{
	const char	*p, *e;
	size_t		 len;

	if (m->allow == NULL || user == NULL || *user == '\0')
		return (0);
	len = strlen(user);
	for (p = m->allow; *p != '\0'; p = *e == ',' ? e + 1 : e) {
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strcspn(p, ",");
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == len && memcmp(p, user, len) == 0)
			return (1);
		e += strcspn(e, ",");
	}

	return (0);
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec	now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return ((now.tv_sec - t0->tv_sec) * 1000 +
	    (now.tv_nsec - t0->tv_nsec) / 1000000);
}

/* The capture template with every "%s" replaced by path. */
static int
build_command(const char *tmpl, const char *path, char *out, size_t outlen)
{
	const char	*p, *q;
	size_t		 n, len;

	len = 0;
	for (p = tmpl; (q = strstr(p, "%s")) != NULL; p = q + 2) {
		n = (size_t)(q - p);
		if (len + n + strlen(path) >= outlen)
			return (WECOM_ERROR);
		memcpy(out + len, p, n);
		memcpy(out + len + n, path, strlen(path));
		len += n + strlen(path);
	}
	if (p == tmpl || len + strlen(p) >= outlen)
		return (WECOM_ERROR);
	memcpy(out + len, p, strlen(p) + 1);

	return (WECOM_OK);
}

/*
 * The command's environment: ours without LD_PRELOAD, which is the
 * server's business (a sanitizer runtime, stdbuf), not the camera's.
 */
static char **
capture_env(void)
{
	char	**env;
	size_t	  i, n;

	for (n = 0; environ[n] != NULL; n++)
		;
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return (NULL);
	for (i = n = 0; environ[i] != NULL; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			env[n++] = environ[i];
	}

	return (env);
}

/*
 * In the child: the worker's client sockets, listeners and files must
 * not reach the command (a capture that hangs on to a client's socket
 * keeps its connection open). close_range() needs Linux 5.9; before
 * that, one close() per possible descriptor.
 */
static void
close_above_stderr(void)
{
	long	max;
	int	fd;

	if (close_range(STDERR_FILENO + 1, ~0U, 0) == 0)
		return;
	if ((max = sysconf(_SC_OPEN_MAX)) == -1 || max > 65536)
		max = 65536;
	for (fd = STDERR_FILENO + 1; fd < max; fd++)
		(void)close(fd);
}

/*
 * In the child, between fork and exec; never returns. Only async-signal-
 * safe calls: we are one thread of many. Its own process group lets a
 * timeout kill the whole pipeline and not just the shell.
 */
static void
capture_child(const char *cmd, char **env, int errfd)
{
	char		*argv[] = { "sh", "-c", (char *)cmd, NULL };
	sigset_t	 none;
	int		 devnull;

	setpgid(0, 0);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if ((devnull = open("/dev/null", O_RDWR)) == -1 ||
	    dup2(devnull, STDIN_FILENO) == -1 ||
	    dup2(devnull, STDOUT_FILENO) == -1 ||
	    dup2(errfd, STDERR_FILENO) == -1)
		_exit(126);
	close_above_stderr();
	execve("/bin/sh", argv, env);
	_exit(127);
}

/*
 * What there is to read of the command's stderr: the start is kept in
 * cr->err, the rest is read and dropped so that the command never
 * blocks on a full pipe. Returns 0 at EOF.
 */
static int
read_stderr(int fd, struct capture_result *cr, size_t *have)
{
	char	buf[256];
	size_t	room;
	ssize_t	r;

	if ((r = read(fd, buf, sizeof(buf))) == 0)
		return (0);
	room = sizeof(cr->err) - 1 - *have;
	if (r > 0 && room > 0) {
		if ((size_t)r > room)
			r = room;
		memcpy(cr->err + *have, buf, r);
		*have += r;
	}

	return (1);
}

/*
 * Wait for the command, reading its stderr meanwhile, and kill its
 * process group once timeout_ms have passed.
 */
static int
wait_capture(pid_t pid, int errfd, long timeout_ms, struct capture_result *cr)
{
	struct timespec	 t0;
	struct pollfd	 pfd;
	size_t		 have;
	ssize_t		 r;
	pid_t		 w;

	(void)fcntl(errfd, F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	have = 0;
	pfd.fd = errfd;
	pfd.events = POLLIN;

	for (;;) {
		if ((w = waitpid(pid, &cr->status, WNOHANG)) == pid)
			break;
		if (w == -1 && errno != EINTR)
			break;
		if (!cr->timed_out && elapsed_ms(&t0) >= timeout_ms) {
			cr->timed_out = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
		}
		/* At EOF the rest is waiting for the exit. */
		if (poll(&pfd, 1, 20) > 0 && pfd.fd != -1 &&
		    read_stderr(errfd, cr, &have) == 0)
			pfd.fd = -1;
	}
	/* What the rest of the group left behind goes too. */
	kill(-pid, SIGKILL);
	/* The shell may exit before we read what it wrote last. */
	while (have < sizeof(cr->err) - 1 &&
	    (r = read(errfd, cr->err + have, sizeof(cr->err) - 1 - have)) > 0)
		have += r;

	cr->err[have] = '\0';
	cr->err[strcspn(cr->err, "\n")] = '\0';

	return (w == pid ? WECOM_OK : WECOM_ERROR);
}

/* Run /bin/sh -c cmd, its stderr on a pipe to us; cr says how it ended. */
static int
run_capture(const char *cmd, long timeout_ms, struct capture_result *cr)
{
	char	**env;
	pid_t	  pid;
	int	  fds[2], rc;

	memset(cr, 0, sizeof(*cr));
	if ((env = capture_env()) == NULL)
		return (WECOM_ERROR);
	rc = WECOM_ERROR;
	if (pipe2(fds, O_CLOEXEC) == -1)
		goto out;
	if ((pid = fork()) == -1) {
		close(fds[0]);
		close(fds[1]);
		goto out;
	}
	if (pid == 0)
		capture_child(cmd, env, fds[1]);

	close(fds[1]);
	rc = wait_capture(pid, fds[0], timeout_ms, cr);
	close(fds[0]);
out:
	free(env);
	return (rc);
}

/* Tell the member why a capture that ran failed; WECOM_OK if it did not. */
static int
capture_failed(struct wecom_ctx *ctx, const struct monitor *m,
    const struct capture_result *cr)
{
	if (cr->timed_out) {
		wecom_reply_textf(ctx, "Photo failed: the capture command was "
		    "killed after %ld ms (capture_timeout_ms).\n"
		    "拍照失败：拍照命令超时（%ld 毫秒），已终止。",
		    m->timeout_ms, m->timeout_ms);
		return (WECOM_ERROR);
	}
	if (WIFSIGNALED(cr->status)) {
		wecom_reply_textf(ctx, "Photo failed: the capture command was "
		    "killed by signal %d.%s%s\n拍照失败：拍照命令被信号 %d 终止。",
		    WTERMSIG(cr->status), cr->err[0] ? " " : "", cr->err,
		    WTERMSIG(cr->status));
		return (WECOM_ERROR);
	}
	if (WEXITSTATUS(cr->status) != 0) {
		wecom_reply_textf(ctx, "Photo failed: the capture command "
		    "exited with status %d.%s%s\n拍照失败：拍照命令退出码 %d。",
		    WEXITSTATUS(cr->status), cr->err[0] ? " " : "", cr->err,
		    WEXITSTATUS(cr->status));
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

/* Run the capture command into path; or tell the member what failed. */
static int
take_picture(struct wecom_ctx *ctx, const struct monitor *m, const char *cmd,
    const char *path)
{
	struct capture_result	cr;
	struct stat		st;

	if (run_capture(cmd, m->timeout_ms, &cr) != WECOM_OK) {
		wecom_reply_textf(ctx, "Photo failed: cannot run the capture "
		    "command: %s.\n拍照失败：无法运行拍照命令。",
		    strerror(errno));
		return (WECOM_ERROR);
	}
	if (capture_failed(ctx, m, &cr) != WECOM_OK)
		return (WECOM_ERROR);
	if (stat(path, &st) == -1 || st.st_size == 0) {
		wecom_reply_text(ctx, "Photo failed: the capture command left "
		    "no picture.\n拍照失败：拍照命令没有生成图片。");
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

#define PICTURE_MAX	(10 * 1024 * 1024)	/* WeCom's, for an image */

/* The picture, uploaded as the channel needs; or say what failed. */
static void
send_picture(struct wecom_ctx *ctx, const char *path)
{
	struct stat	 st;
	void		*data;
	ssize_t		 n;
	int		 fd;

	data = NULL;
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1 &&
	    fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= PICTURE_MAX &&
	    (data = malloc((size_t)st.st_size)) != NULL)
		n = read(fd, data, (size_t)st.st_size);
	if (fd != -1)
		close(fd);
	if (n <= 0 || wecom_reply_upload(ctx, "image", strrchr(path, '/') +
	    1, data, (size_t)n) != WECOM_OK)
		wecom_reply_text(ctx, "Photo failed: the picture could not be "
		    "read or uploaded (an app needs its secret; at most 10 "
		    "MiB).\n拍照失败：图片无法读取或上传。");
	free(data);
}

/* Take a picture, upload it, answer it; or say what failed. */
static int
photo(struct wecom_ctx *ctx, struct monitor *m)
{
	char			 path[512], cmd[MONITOR_CMD_MAX];
	unsigned int		 n;

	if (m->capture == NULL) {
		wecom_reply_text(ctx, "Photo failed: no capture command is "
		    "configured.\n拍照失败：未配置 capture 命令。");
		return (WECOM_STOP);
	}
	n = __atomic_add_fetch(&m->seq, 1, __ATOMIC_RELAXED);
	if (snprintf(path, sizeof(path), "%s/monitor-%ld-%u.jpg", m->dir,
	    (long)getpid(), n) >= (int)sizeof(path) ||
	    build_command(m->capture, path, cmd, sizeof(cmd)) != WECOM_OK) {
		wecom_reply_text(ctx, "Photo failed: the capture command is "
		    "too long or has no %s.\n拍照失败：capture 命令过长或缺少 %s。");
		return (WECOM_STOP);
	}

	/* A picture left over from an earlier run must not pass for ours. */
	(void)unlink(path);
	if (take_picture(ctx, m, cmd, path) == WECOM_OK)
		send_picture(ctx, path);
	(void)unlink(path);

	return (WECOM_STOP);
}

/* The value (kB) of one /proc/meminfo line, or -1. */
static long long
meminfo(const char *buf, const char *key)
{
	const char	*p;

	for (p = buf; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, key, strlen(key)) == 0 && p[strlen(key)] == ':')
			return (strtoll(p + strlen(key) + 1, NULL, 10));
	}

	return (-1);
}

static int
read_file(const char *path, char *buf, size_t len)
{
	ssize_t	r;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (WECOM_ERROR);
	r = read(fd, buf, len - 1);
	close(fd);
	if (r <= 0)
		return (WECOM_ERROR);
	buf[r] = '\0';

	return (WECOM_OK);
}

/* Real numbers from /proc, /sys and statvfs, one line each. */
static int
status(struct wecom_ctx *ctx)
{
	struct statvfs	 vfs;
	char		 out[1024], buf[4096], l1[16], l5[16], l15[16];
	long long	 total, avail, up;
	double		 disk_total, disk_free, disk_used, secs;
	size_t		 len;

	len = 0;
	out[0] = '\0';
#define ADD(...)							\
	do {								\
		int	 _n;						\
		_n = snprintf(out + len, sizeof(out) - len, __VA_ARGS__); \
		if (_n > 0 && (size_t)_n < sizeof(out) - len)		\
			len += _n;					\
	} while (0)

	if (read_file("/proc/loadavg", buf, sizeof(buf)) == WECOM_OK &&
	    sscanf(buf, "%15s %15s %15s", l1, l5, l15) == 3)
		ADD("Load / 负载: %s %s %s (1, 5, 15 min)\n", l1, l5, l15);

	if (read_file("/proc/meminfo", buf, sizeof(buf)) == WECOM_OK &&
	    (total = meminfo(buf, "MemTotal")) > 0 &&
	    (avail = meminfo(buf, "MemAvailable")) >= 0)
		ADD("Memory / 内存: %lld MiB available of %lld MiB "
		    "(%lld%% used)\n", avail / 1024, total / 1024,
		    (total - avail) * 100 / total);

	if (statvfs("/", &vfs) == 0 && vfs.f_blocks > 0) {
		disk_total = (double)vfs.f_blocks * vfs.f_frsize;
		disk_free = (double)vfs.f_bavail * vfs.f_frsize;
		disk_used = (double)(vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize;
		ADD("Disk / / 磁盘: %.1f GiB free of %.1f GiB (%.0f%% used)\n",
		    disk_free / 1073741824.0, disk_total / 1073741824.0,
		    disk_used + disk_free > 0 ?
		    disk_used * 100 / (disk_used + disk_free) : 0.0);
	}

	if (read_file("/sys/class/thermal/thermal_zone0/temp", buf,
	    sizeof(buf)) == WECOM_OK)
		ADD("CPU temperature / 温度: %.1f °C\n",
		    strtol(buf, NULL, 10) / 1000.0);

	if (read_file("/proc/uptime", buf, sizeof(buf)) == WECOM_OK &&
	    sscanf(buf, "%lf", &secs) == 1) {
		up = (long long)secs;
		ADD("Uptime / 运行时间: %lldd %02lld:%02lld (%lld s)\n",
		    up / 86400, up % 86400 / 3600, up % 3600 / 60, up);
	}
#undef ADD

	if (len == 0)
		wecom_reply_text(ctx, "Status: nothing readable.\n状态：无法读取。");
	else {
		out[len - 1] = '\0';	/* the last newline */
		wecom_reply_text(ctx, out);
	}

	return (WECOM_STOP);
}

static int
on_text(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct monitor	*m = arg;
	char		 word[32];
	const char	*p;
	size_t		 n;

	if (!allowed(m, msg->from_user)) {
		wecom_reply_text(ctx, REFUSAL);
		return (WECOM_STOP);
	}

	p = msg->content != NULL ? msg->content : "";
	p += strspn(p, " \t\r\n");
	n = strlen(p);
	while (n > 0 && strchr(" \t\r\n", p[n - 1]) != NULL)
		n--;
	if (n >= sizeof(word))
		n = 0;
	memcpy(word, p, n);
	word[n] = '\0';

	if (strcasecmp(word, "photo") == 0 || strcmp(word, "拍照") == 0)
		return (photo(ctx, m));
	if (strcasecmp(word, "status") == 0 || strcmp(word, "状态") == 0)
		return (status(ctx));

	wecom_reply_text(ctx, HELP);
	return (WECOM_STOP);
}

static int
on_photo_click(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct monitor	*m = arg;

	if (!allowed(m, msg->from_user)) {
		wecom_reply_text(ctx, REFUSAL);
		return (WECOM_STOP);
	}

	return (photo(ctx, m));
}

/* Other messages get the command list; events other than clicks, nothing. */
static int
on_other(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct monitor	*m = arg;

	if (msg->type == WECOM_MSG_EVENT && msg->event_type != WECOM_EVENT_CLICK)
		return (WECOM_STOP);
	wecom_reply_text(ctx, allowed(m, msg->from_user) ? HELP : REFUSAL);

	return (WECOM_STOP);
}

static int
monitor_init(struct wecom_app *app)
{
	struct monitor	*m;
	const char	*v;
	char		*end;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (WECOM_ERROR);
	m->capture = wecom_app_conf(app, "capture");
	m->allow = wecom_app_conf(app, "allow");
	if ((m->dir = wecom_app_conf(app, "capture_dir")) == NULL)
		m->dir = "/tmp";
	m->timeout_ms = MONITOR_TIMEOUT_DEFAULT;
	if ((v = wecom_app_conf(app, "capture_timeout_ms")) != NULL) {
		errno = 0;
		m->timeout_ms = strtol(v, &end, 10);
		if (errno != 0 || *end != '\0' || m->timeout_ms <= 0) {
			free(m);
			return (WECOM_ERROR);
		}
	}

	wecom_app_set_threaded(app, 1);
	wecom_app_run_commands(app);
	if (wecom_on_msg(app, "text", on_text, m) != WECOM_OK ||
	    wecom_on_event(app, "click", "photo", on_photo_click, m) !=
	    WECOM_OK ||
	    wecom_on_default(app, on_other, m) != WECOM_OK)
		return (WECOM_ERROR);

	return (WECOM_OK);
}

WECOM_APP("monitor", monitor_init);
