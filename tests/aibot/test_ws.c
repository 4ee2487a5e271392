/* SPDX-License-Identifier: ISC */
/*
 * A driver of the long connection (framework/aibot/ws*.c) for
 * tests/aibot/ws.test.mjs, which scripts it against the fake WeCom:
 * commands on stdin, one a line, events on stdout, one a line.
 *
 *   test_ws [-p ping_ms] [-a ack_ms] [-b min_ms] [-B max_ms] [-c ca.pem]
 *       [-x proxy] name,url,bot_id,secret ...
 *
 * In:  send TAG BOT CMD REQID|- COALESCE BODY|-
 *      stats BOT | stop          (end of input: stop too)
 * Out: ready | status BOT WORD MS | in BOT CMD REQID BODY
 *      | sent TAG 0|-1 | done TAG ERRCODE BODY|- | log PRIO LINE
 *      | stats BOT key=value ... | stopped
 * MS counts from the start; every line is flushed as it is written.
 */

#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "wecom_ws.h"

#define MAXBOTS	8

static pthread_mutex_t		 outlock = PTHREAD_MUTEX_INITIALIZER;
static struct timespec		 t0;
static struct wecom_ws		*ws;
static struct wecom_ws_bot	 bots[MAXBOTS];
static struct wecom_ws_state	 states[MAXBOTS];
static int			 shown[MAXBOTS];
static size_t			 nbots;

static const char *const	 words[] = { "connecting", "connected",
				    "backoff", "kicked", "refused",
				    "stopped" };

static void
out(const char *fmt, ...)
{
	va_list	ap;

	pthread_mutex_lock(&outlock);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	pthread_mutex_unlock(&outlock);
}

static long
ms(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return ((t.tv_sec - t0.tv_sec) * 1000 +
	    (t.tv_nsec - t0.tv_nsec) / 1000000);
}

static void
logline(int prio, const char *line)
{
	const char	*p = prio == LOG_ERR ? "err" : prio == LOG_WARNING ?
			    "warning" : prio == LOG_NOTICE ? "notice" : "info";

	out("log %s %s", p, line);
}

static void
done(void *arg, int errcode, const char *body)
{
	out("done %s %d %s", (char *)arg, errcode, body ? body : "-");
	free(arg);
}

/* Status changes, seen as a reader in another process would see them. */
static void
statuses(void)
{
	size_t	i;

	for (i = 0; i < nbots; i++)
		if (states[i].status != shown[i]) {
			shown[i] = states[i].status;
			out("status %zu %s %ld", i, words[shown[i]], ms());
		}
}

static void
stats(size_t i)
{
	struct wecom_ws_state	*s = &states[i];

	if (i >= nbots)
		return;
	out("stats %zu connects=%llu drops=%llu frames_in=%llu frames_out=%llu"
	    " acks_failed=%llu last_errcode=%d connected_since=%lld "
	    "last_error=%s", i, (unsigned long long)s->connects,
	    (unsigned long long)s->drops, (unsigned long long)s->frames_in,
	    (unsigned long long)s->frames_out,
	    (unsigned long long)s->acks_failed, s->last_errcode,
	    (long long)s->connected_since, s->last_error);
}

static void
cmd_send(char *line)
{
	char	*tag, *bot, *cmd, *id, *co, *body, *arg;
	int	 rc;

	tag = strtok(line, " ");
	bot = strtok(NULL, " ");
	cmd = strtok(NULL, " ");
	id = strtok(NULL, " ");
	co = strtok(NULL, " ");
	body = strtok(NULL, "");
	if (tag == NULL || bot == NULL || cmd == NULL || id == NULL ||
	    co == NULL || body == NULL) {
		out("error bad send");
		return;
	}
	if (strcmp(body, "-") == 0)
		body = NULL;
	arg = strdup(tag);
	rc = wecom_ws_send(ws, strtoul(bot, NULL, 10), cmd,
	    strcmp(id, "-") == 0 ? NULL : id, body, body ? strlen(body) : 0,
	    atoi(co), done, arg);
	if (rc == -1)
		free(arg);
	out("sent %s %d", tag, rc);
}

/* Returns 1 on stop. */
static int
command(char *line)
{
	if (strncmp(line, "send ", 5) == 0)
		cmd_send(line + 5);
	else if (strncmp(line, "stats ", 6) == 0)
		stats(strtoul(line + 6, NULL, 10));
	else if (strcmp(line, "stop") == 0)
		return (1);
	else if (*line != '\0')
		out("error unknown command %s", line);

	return (0);
}

static void
inbound(void)
{
	struct wecom_ws_in	*in;
	uint64_t		 n;

	if (read(wecom_ws_fd(ws), &n, sizeof(n)) != sizeof(n) &&
	    errno != EAGAIN)
		out("error eventfd");
	while ((in = wecom_ws_next(ws)) != NULL) {
		out("in %zu %s %s %.*s", in->bot, in->cmd, in->req_id,
		    (int)in->len, in->body);
		wecom_ws_in_free(in);
	}
}

/* Lines from stdin, kept across reads; returns 1 on stop or EOF. */
static int
input(char *buf, size_t *have, size_t size)
{
	char	*nl;
	ssize_t	 n;

	if ((n = read(STDIN_FILENO, buf + *have, size - *have - 1)) <= 0)
		return (1);
	*have += (size_t)n;
	buf[*have] = '\0';
	while ((nl = strchr(buf, '\n')) != NULL) {
		*nl = '\0';
		if (command(buf))
			return (1);
		*have -= (size_t)(nl + 1 - buf);
		memmove(buf, nl + 1, *have + 1);
	}
	if (*have == size - 1)
		*have = 0;	/* a line too long: dropped */

	return (0);
}

static int
run(void)
{
	static char	 buf[1 << 20];
	struct pollfd	 pfd[2];
	size_t		 have = 0;

	pfd[0].fd = STDIN_FILENO;
	pfd[0].events = POLLIN;
	pfd[1].fd = wecom_ws_fd(ws);
	pfd[1].events = POLLIN;
	for (;;) {
		statuses();
		if (poll(pfd, 2, 10) == -1 && errno != EINTR)
			return (1);
		if (pfd[1].revents & POLLIN)
			inbound();
		if ((pfd[0].revents & (POLLIN | POLLHUP)) &&
		    input(buf, &have, sizeof(buf)))
			return (0);
	}
}

static void *
slurp(const char *path, size_t *len)
{
	static char	 pem[1 << 20];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return (NULL);
	n = read(fd, pem, sizeof(pem));
	close(fd);
	if (n <= 0)
		return (NULL);
	*len = (size_t)n;

	return (pem);
}

static int
bot_arg(char *s)
{
	struct wecom_ws_bot	*b = &bots[nbots];

	if (nbots == MAXBOTS)
		return (-1);
	b->name = strtok(s, ",");
	b->url = strtok(NULL, ",");
	b->bot_id = strtok(NULL, ",");
	b->secret = strtok(NULL, ",");
	if (b->secret == NULL)
		return (-1);
	nbots++;

	return (0);
}

int
main(int argc, char *argv[])
{
	struct wecom_ws_conf	conf;
	int			c, rc;

	memset(&conf, 0, sizeof(conf));
	conf.log = logline;
	while ((c = getopt(argc, argv, "a:B:b:c:p:x:")) != -1) {
		switch (c) {
		case 'a': conf.ack_timeout_ms = atol(optarg); break;
		case 'B': conf.backoff_max_ms = atol(optarg); break;
		case 'b': conf.backoff_min_ms = atol(optarg); break;
		case 'c':
			if ((conf.ca_pem = slurp(optarg, &conf.ca_len)) == NULL)
				return (2);
			break;
		case 'p': conf.ping_ms = atol(optarg); break;
		case 'x': conf.proxy = optarg; break;
		default: return (2);
		}
	}
	for (c = optind; c < argc; c++)
		if (bot_arg(argv[c]) == -1)
			return (2);
	for (c = 0; c < MAXBOTS; c++)
		shown[c] = -1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((ws = wecom_ws_start(&conf, bots, nbots, states)) == NULL) {
		out("error start");
		return (1);
	}
	out("ready");
	rc = run();
	wecom_ws_stop(ws);
	statuses();
	out("stopped");

	return (rc);
}
