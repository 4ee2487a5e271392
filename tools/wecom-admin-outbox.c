/* SPDX-License-Identifier: ISC */
/*
 * wecom-admin outbox: what waits in state_dir/outbox (and in the
 * shared store, [global] store) and what failed there, a failed
 * message queued again, a message dropped. The work is
 * the outbox's own (outbox_admin.c), done under the lock its drains
 * take; this file says it in lines and exit codes.
 */

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "wecom_outbox.h"
#include "wecom-admin.h"

/* The server's drain holds the lock for half a second at most. */
#define LOCK_WAIT_MS	5000

enum { A_LIST, A_RETRY, A_DROP };

static void	usage(FILE *);
static void	age(char *, size_t, long long);
static void	line(void *, const struct wecom_outbox_entry *);
static int	outcome(const struct cmd *, int, const char *, int);

static const struct cmd	cmd = { "outbox", usage };
static const struct cmd	acts[] = {
	{ "outbox list", usage },
	{ "outbox retry", usage },
	{ "outbox drop", usage },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: wecom-admin outbox list [--failed] [-c CONF]\n"
"       wecom-admin outbox retry KEY | --all-failed [-c CONF]\n"
"       wecom-admin outbox drop KEY [-c CONF]\n"
"\n"
"The outbox of the config's state_dir (docs/outbox.md), and with\n"
"[global] store the one every server shares (docs/ha.md) listed first:\n"
"  list       one line per message queued, then per message failed:\n"
"             key, state, target, age, attempts, when due, last error.\n"
"             --failed: the failed ones only\n"
"  retry      a failed message back in the queue, due now, as if queued\n"
"             anew (its age and attempts from zero); --all-failed: all\n"
"  drop       a queued or failed message removed (the record of one\n"
"             delivered is kept)\n"
"retry and drop take the outbox's lock, as the server's drain and\n"
"wecom-send --flush do, waiting up to 5 s for it.\n"
"\n"
"Exit: 0 done; 64 usage; 65 a file of failed/ is not a message (list\n"
"shows it; drop it); 66 no such message; 74 the outbox is unusable;\n"
"75 the outbox stayed busy; 78 the config does not load.\n");
}

/* "45s", "3m12s", "2h05m", "3d04h": how long a message has waited. */
static void
age(char *buf, size_t len, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

static void
line(void *arg, const struct wecom_outbox_entry *e)
{
	long long	now = *(long long *)arg;
	char		a[32], d[32], due[48], err[WECOM_ERRMSG_MAX + 48];

	age(a, sizeof(a), (now - e->created) / 1000);
	due[0] = err[0] = '\0';
	if (strcmp(e->state, "failed") != 0 && e->next <= now)
		snprintf(due, sizeof(due), "  due now");
	else if (strcmp(e->state, "failed") != 0) {
		age(d, sizeof(d), (e->next - now + 999) / 1000);
		snprintf(due, sizeof(due), "  due in %s", d);
	}
	if (e->errcode != 0)
		snprintf(err, sizeof(err), "  last error: errcode %ld: %s",
		    e->errcode, e->errmsg);
	else if (e->code != 0)
		snprintf(err, sizeof(err), "  last error: %s: %s",
		    wecom_api_strerror(e->code), e->errmsg);
	printf("%s  %s%s%s%s  %s  age %s  attempts %d%s%s\n", e->key, e->state,
	    *e->why ? " (" : "", e->why, *e->why ? ")" : "", e->target, a,
	    e->attempts, due, err);
}

/* The outbox's answer as a line and an exit code. */
static int
outcome(const struct cmd *c, int rc, const char *key, int n)
{
	switch (rc) {
	case WECOM_API_OK:
		if (key != NULL)
			printf("%s: %s\n", c == &acts[A_DROP] ? "dropped" :
			    "retried", key);
		else
			printf("retried: %d\n", n);
		return (EX_OK);
	case WECOM_API_ERR_ARG:
		usage_error(c, "'%s' is not an outbox key", key);
	case WECOM_OUTBOX_NOT_FOUND:
		fprintf(stderr, "wecom-admin: no %smessage %s in the outbox\n",
		    c == &acts[A_RETRY] ? "failed " : "queued or failed ", key);
		return (EX_NOINPUT);
	case WECOM_API_ERR_PROTOCOL:
		if (key == NULL)
			printf("retried: %d\n", n);
		fprintf(stderr, "wecom-admin: %s of failed/ %s not a message: "
		    "left there (outbox list --failed; outbox drop KEY)\n",
		    key ? key : "some files", key ? "is" : "are");
		return (EX_DATAERR);
	case WECOM_API_ERR_UNAVAILABLE:
		fprintf(stderr, "wecom-admin: the outbox is busy: a drain "
		    "held it for %d s; try again\n", LOCK_WAIT_MS / 1000);
		return (EX_TEMPFAIL);
	}
	fprintf(stderr, "wecom-admin: the outbox: %s\n",
	    wecom_api_strerror(rc));

	return (EX_IOERR);
}

static int
act(int a, const char *path, int all, const char *key)
{
	struct wecom_conf	conf;
	struct timespec		ts;
	long long		now;
	int			rc, n;

	if ((rc = conf_load(&conf, path)) != EX_OK)
		return (rc);
	if ((rc = as_state_owner(&conf)) != EX_OK) {
		wecom_conf_free(&conf);
		return (rc);
	}
	n = 0;
	if (a == A_LIST) {
		clock_gettime(CLOCK_REALTIME, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		rc = wecom_outbox_admin_list(&conf, all, line, &now);
		rc = rc == WECOM_API_OK ? (fflush(stdout) ? EX_IOERR : EX_OK) :
		    outcome(&acts[a], rc, NULL, 0);
	} else {
		rc = a == A_DROP ? wecom_outbox_admin_drop(&conf, key,
		    LOCK_WAIT_MS) : wecom_outbox_admin_retry(&conf,
		    all ? NULL : key, LOCK_WAIT_MS, &n);
		rc = outcome(&acts[a], rc, all ? NULL : key, n);
	}
	wecom_conf_free(&conf);

	return (rc);
}

int
cmd_outbox(int argc, char **argv)
{
	static const struct option	longopts[] = {
		{ "config",	required_argument,	NULL, 'c' },
		{ "failed",	no_argument,		NULL, 'f' },
		{ "all-failed",	no_argument,		NULL, 'A' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	const char			*path;
	int				 a, ch, failed, all;

	if (argc < 2)
		usage_error(&cmd, "list, retry or drop?");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		help(&cmd);
	for (a = A_LIST; a <= A_DROP; a++)
		if (strcmp(argv[1], acts[a].name + 7) == 0)
			break;
	if (a > A_DROP)
		usage_error(&cmd, "unknown action '%s': list, retry or drop",
		    argv[1]);
	argc--;
	argv++;
	path = conf_path;
	failed = all = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': path = optarg; break;
		case 'f': failed = 1; break;
		case 'A': all = 1; break;
		case 'h': help(&acts[a]);
		default: bad_option(&acts[a], argc, argv, ch);
		}
	}
	if (failed && a != A_LIST)
		usage_error(&acts[a], "--failed is for outbox list");
	if (all && a != A_RETRY)
		usage_error(&acts[a], "--all-failed is for outbox retry");
	if (a == A_LIST && optind < argc)
		usage_error(&acts[a], "takes no KEY");
	if (a != A_LIST && (optind + (all ? 0 : 1) != argc))
		usage_error(&acts[a], "%s", all ? "--all-failed takes no KEY" :
		    "give one KEY");

	return (act(a, path, a == A_LIST ? failed : all,
	    a == A_LIST || all ? NULL : argv[optind]));
}
