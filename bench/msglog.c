/* SPDX-License-Identifier: ISC */
/*
 * The message log's writer thread alone: rows a second one process
 * puts into its SQLite file, or with a store URL into PostgreSQL, for
 * N text callbacks queued as a worker queues them (flushed every 4 000,
 * the queue's size). Usage: msglog FILE [STORE_URL] N
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "wecom.h"
#include "wecom_msglog.h"

#define FLUSH_EVERY	4000

static void
tell(void *arg, int priority, const char *line)
{
	if (priority <= LOG_WARNING)
		fprintf(stderr, "msglog: %s\n", line);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Callback i as the tap records it: the fields and the whole document. */
static void
record(struct wecom_msglog_rec *r, int i, char *content, char *doc,
    char *sender, char *msgid)
{
	snprintf(sender, 32, "user%d", i % 50);
	snprintf(msgid, 32, "%d", 7000000 + i);
	snprintf(content, 256, "message %d 服务器磁盘已满 the disk on host-%d "
	    "is %d%% full", i, i % 9, i % 100);
	snprintf(doc, 1024, "<xml><ToUserName>ww123</ToUserName><FromUserName>"
	    "%s</FromUserName><CreateTime>1735689600</CreateTime><MsgType>"
	    "text</MsgType><Content>%s</Content><MsgId>%s</MsgId><AgentID>"
	    "1000002</AgentID></xml>", sender, content, msgid);
	memset(r, 0, sizeof(*r));
	r->direction = "in";
	r->app = "ops";
	r->channel = "app";
	r->type = "text";
	r->sender = sender;
	r->msgid = msgid;
	r->content = content;
	r->time = 1735689600 + i;
	r->doc = doc;
	r->doclen = strlen(doc);
}

int
main(int argc, char **argv)
{
	struct wecom_msglog_opts	 o;
	struct wecom_msglog_rec		 r;
	struct wecom_msglog_stats	 s;
	struct wecom_msglog		*log;
	char				 content[256], doc[1024];
	char				 sender[32], msgid[32];
	double				 t0, t;
	int				 i, n;

	if (argc != 4 || (n = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: msglog FILE STORE_URL|\"\" N\n");
		return (2);
	}
	memset(&o, 0, sizeof(o));
	o.path = argv[1];
	o.store = argv[2][0] != '\0' ? argv[2] : NULL;
	o.busy_ms = 2000;
	o.log = tell;
	if ((log = wecom_msglog_new(&o)) == NULL ||
	    wecom_msglog_start(log) != WECOM_OK) {
		fprintf(stderr, "msglog: cannot start the writer\n");
		return (1);
	}
	t0 = now();
	for (i = 0; i < n; i++) {
		record(&r, i, content, doc, sender, msgid);
		if (wecom_msglog_put(log, &r) != WECOM_OK)
			fprintf(stderr, "msglog: dropped at %d\n", i);
		if (i % FLUSH_EVERY == FLUSH_EVERY - 1)
			wecom_msglog_flush(log);
	}
	wecom_msglog_flush(log);
	t = now() - t0;
	wecom_msglog_stats(log, &s);
	printf("%llu rows in %.2f s: %.0f rows/s, %llu dropped\n",
	    (unsigned long long)s.logged, t, s.logged / t,
	    (unsigned long long)s.dropped);
	wecom_msglog_free(log);

	return (s.dropped == 0 && s.logged == (uint64_t)n ? 0 : 1);
}
