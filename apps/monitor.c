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
 *	capture = libcamera-still -n -t 1 --width 1280 --height 720 -o %s
 *
 * The capture is a command (docs/commands.md): the server's command
 * helper runs it, outside the workers' sandbox, with capture_timeout_ms,
 * capture_output_max, capture_shell and capture_dir; "%s" is a file it
 * makes up, or without "%s" the picture is the command's stdout.
 * Nothing the member typed ever reaches the command line.
 */

#include <sys/statvfs.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wecom.h"
#include "wecom_client.h"


#define REFUSAL	"Sorry, you are not allowed to use this bot.\n" \
		"抱歉，您无权使用此机器人。"
#define HELP	"Commands / 命令:\n" \
		"photo (拍照) — take a picture / 拍一张照片\n" \
		"status (状态) — load, memory, disk, temperature, uptime / " \
		"负载、内存、磁盘、温度、运行时间\n" \
		"help (帮助) — this list / 显示本帮助"

struct monitor {
	const char	*allow;
	unsigned int	 seq;		/* per-request file names */
};

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

#define PICTURE_MAX	(10 * 1024 * 1024)	/* WeCom's, for an image */

/* Take a picture, upload it, answer it; or say what failed. */
static int
photo(struct wecom_ctx *ctx, struct monitor *m)
{
	struct wecom_command_result	res;
	char				name[64];

	if (wecom_ctx_command(ctx, "capture", &res) != WECOM_OK)
		wecom_reply_textf(ctx, "Photo failed (capture command): %s."
		    "\n拍照失败：%s。", res.err, res.timed_out ? "拍照命令超时，"
		    "已终止" : res.too_large ? "图片超过大小限制" :
		    res.exited || res.signal ? "拍照命令出错" : "无法运行拍照命令");
	else if (res.out_len == 0 || res.out_len > PICTURE_MAX)
		wecom_reply_textf(ctx, "Photo failed: the picture has %zu "
		    "bytes (1 to 10 MiB).\n拍照失败：图片为空或超过 10 MiB。",
		    res.out_len);
	else {
		snprintf(name, sizeof(name), "photo-%lld-%u.jpg",
		    (long long)time(NULL),
		    __atomic_add_fetch(&m->seq, 1, __ATOMIC_RELAXED));
		if (wecom_reply_upload(ctx, "image", name, res.out,
		    res.out_len) != WECOM_OK)
			wecom_reply_text(ctx, "Photo failed: the picture could "
			    "not be uploaded (an app needs its secret).\n"
			    "拍照失败：图片无法上传。");
	}
	wecom_command_result_free(&res);

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

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (WECOM_ERROR);
	m->allow = wecom_app_conf(app, "allow");
	wecom_app_set_threaded(app, 1);
	if (wecom_app_command(app, "capture") != WECOM_OK ||
	    wecom_on_msg(app, "text", on_text, m) != WECOM_OK ||
	    wecom_on_event(app, "click", "photo", on_photo_click, m) !=
	    WECOM_OK ||
	    wecom_on_default(app, on_other, m) != WECOM_OK) {
		free(m);
		return (WECOM_ERROR);
	}

	return (WECOM_OK);
}

WECOM_APP("monitor", monitor_init);
