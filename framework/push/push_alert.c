/* SPDX-License-Identifier: ISC */
/*
 * Prometheus Alertmanager's webhook (version "4") as one WeCom markdown
 * message: a heading that counts the firing and the resolved alerts,
 * the labels they all share once, then a short block per alert, firing
 * first. WeCom refuses markdown beyond WECOM_MARKDOWN_MAX bytes, so the
 * blocks that do not fit are counted in a last line instead: a storm of
 * alerts still arrives, as its first alerts and a number.
 *
 * Values come from whoever can set a label, so '<' and '>' in them
 * become the look-alikes '‹' and '›': "latency > 2s" still reads right,
 * but a value cannot open or close a <font> tag. Nothing else is
 * escaped; WeCom has no escape for '*' or '[' anyway.
 */

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "wecom_alert_time.h"
#include "wecom_client.h"
#include "wecom_push_alert.h"

/*
 * Room for the values, in bytes of output. The heading stays below
 * HEAD_MAX + TITLE_MAX and one alert below 2 KB, so the first alert
 * and the last line always fit.
 */
#define TAIL_ROOM	128	/* "… and N more alerts (M left out …)" */
#define HEAD_MAX	1024	/* the common labels */
#define TITLE_MAX	200
#define LABEL_MAX	200	/* one label name or value */
#define WHERE_MAX	300	/* the labels that tell an alert apart */
#define SUMMARY_MAX	300
#define DESC_MAX	800
#define TIME_MAX	40	/* a time we could not parse, as given */

/* The message so far; an append that does not fit sets full. */
struct md {
	char	*buf;		/* WECOM_MARKDOWN_MAX + 1 bytes */
	size_t	 len;
	int	 full;
	long	 offset_min;	/* times shown this far from UTC */
};

struct group {
	json_t		*alerts;
	json_t		*common;	/* commonLabels, or NULL */
	size_t		 total;		/* elements of alerts */
	size_t		 seen;		/* looked at: WECOM_ALERT_MAX at most */
	size_t		 firing;
	size_t		 resolved;
	json_int_t	 truncated;	/* left out by Alertmanager */
};

static int	fail(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	load_group(json_t *, struct group *, char *, size_t);
static int	is_resolved(json_t *);
static int	is_common(json_t *, const char *, const char *);
static const char *label(json_t *, const char *);
static void	md_add(struct md *, const char *, size_t);
static void	md_str(struct md *, const char *);
static void	md_printf(struct md *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	md_cut(struct md *, size_t);
static size_t	value_char(const char *, size_t, int, const char **,
		    size_t *);
static void	md_value(struct md *, const char *, size_t, int);
static void	render_labels(struct md *, json_t *, json_t *, const char *,
		    const char *, size_t);
static void	render_head(struct md *, json_t *, const struct group *);
static void	render_where(struct md *, const struct group *, json_t *);
static void	render_ident(struct md *, const struct group *, json_t *,
		    const char *);
static void	render_time(struct md *, const char *, const char *);
static void	render_alert(struct md *, const struct group *, json_t *,
		    int);
static size_t	render_alerts(struct md *, const struct group *);
static void	render_tail(struct md *, size_t, json_int_t);

char *
wecom_alert_markdown(const char *json, size_t len, long offset_min, char *err,
    size_t errlen)
{
	json_t		*root;
	json_error_t	 jerr;
	struct group	 g;
	struct md	 md;
	size_t		 shown;

	memset(&md, 0, sizeof(md));
	md.offset_min = offset_min;
	if ((root = json_loadb(json, len, JSON_REJECT_DUPLICATES,
	    &jerr)) == NULL) {
		fail(err, errlen, "body: not JSON: %s (line %d)", jerr.text,
		    jerr.line);
		return (NULL);
	}
	if (load_group(root, &g, err, errlen) == -1)
		goto out;
	if ((md.buf = malloc(WECOM_MARKDOWN_MAX + 1)) == NULL) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	md.buf[0] = '\0';

	render_head(&md, root, &g);
	shown = render_alerts(&md, &g);
	render_tail(&md, g.total - shown, g.truncated);
out:
	json_decref(root);

	return (md.buf);
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}

	return (-1);
}

/*
 * The structure we cannot do without, and the counts for the heading.
 * An alert of a status other than "resolved" counts as firing: shown
 * wrongly as a problem beats hidden.
 */
static int
load_group(json_t *root, struct group *g, char *err, size_t errlen)
{
	json_t		*a, *t;
	size_t		 i;

	memset(g, 0, sizeof(*g));
	if (!json_is_object(root))
		return (fail(err, errlen, "body: expected an object"));
	if ((g->alerts = json_object_get(root, "alerts")) == NULL)
		return (fail(err, errlen, "alerts: missing"));
	if (!json_is_array(g->alerts))
		return (fail(err, errlen, "alerts: expected an array"));
	if ((g->total = json_array_size(g->alerts)) == 0)
		return (fail(err, errlen, "alerts: empty"));

	g->seen = g->total < WECOM_ALERT_MAX ? g->total : WECOM_ALERT_MAX;
	for (i = 0; i < g->seen; i++) {
		a = json_array_get(g->alerts, i);
		if (!json_is_object(a))
			return (fail(err, errlen,
			    "alerts[%zu]: expected an object", i));
		if (is_resolved(a))
			g->resolved++;
		else
			g->firing++;
	}
	g->common = json_object_get(root, "commonLabels");
	t = json_object_get(root, "truncatedAlerts");
	if (json_is_integer(t) && json_integer_value(t) > 0)
		g->truncated = json_integer_value(t);

	return (0);
}

static int
is_resolved(json_t *alert)
{
	const char	*s;

	s = json_string_value(json_object_get(alert, "status"));
	return (s != NULL && strcmp(s, "resolved") == 0);
}

/* Whether every alert of the group has this label with this value. */
static int
is_common(json_t *common, const char *key, const char *v)
{
	const char	*c;

	c = json_string_value(json_object_get(common, key));
	return (c != NULL && strcmp(c, v) == 0);
}

/* A string member; an empty one is no value, as in Prometheus. */
static const char *
label(json_t *o, const char *key)
{
	const char	*s;

	s = json_string_value(json_object_get(o, key));
	return (s != NULL && *s != '\0' ? s : NULL);
}

static void
md_add(struct md *md, const char *s, size_t n)
{
	if (md->full || n > WECOM_MARKDOWN_MAX - md->len) {
		md->full = 1;
		return;
	}
	memcpy(md->buf + md->len, s, n);
	md->len += n;
	md->buf[md->len] = '\0';
}

static void
md_str(struct md *md, const char *s)
{
	md_add(md, s, strlen(s));
}

/* Our own short lines only: values go through md_value(). */
static void
md_printf(struct md *md, const char *fmt, ...)
{
	char	line[160];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		md->full = 1;
		return;
	}
	md_add(md, line, n);
}

/* Back to mark; full stays set, for the caller to see. */
static void
md_cut(struct md *md, size_t mark)
{
	md->len = mark;
	md->buf[mark] = '\0';
}

/*
 * One character of a value (a whole UTF-8 sequence: jansson gives us
 * valid UTF-8) and what it becomes in *r, *rlen. Returns its length.
 */
static size_t
value_char(const char *s, size_t left, int keep_nl, const char **r,
    size_t *rlen)
{
	unsigned char	c;
	size_t		n;

	c = *s;
	*r = s;
	*rlen = n = 1;
	if (c == '<' || c == '>') {
		*r = c == '<' ? "‹" : "›";
		*rlen = strlen(*r);
	} else if (c == '\r' && keep_nl)
		*rlen = 0;
	else if ((c < 0x20 && !(c == '\n' && keep_nl)) || c == 0x7f)
		*r = " ";
	else if (c >= 0x80) {
		n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		*rlen = n = n < left ? n : left;
	}

	return (n);
}

/*
 * A value, made safe (see the top of the file), without trailing
 * blanks, and cut on a character boundary with "…" once it would take
 * more than max bytes. Only a description keeps its line breaks.
 */
static void
md_value(struct md *md, const char *s, size_t max, int keep_nl)
{
	const char	*r;
	size_t		 end, i, n, rlen, out;

	end = strlen(s);
	while (end > 0 && isspace((unsigned char)s[end - 1]))
		end--;
	for (i = 0, out = 0; i < end; i += n) {
		n = value_char(s + i, end - i, keep_nl, &r, &rlen);
		if (out + rlen > max) {
			md_str(md, "…");
			break;
		}
		md_add(md, r, rlen);
		out += rlen;
	}
}

/*
 * The labels of obj as "k: v" (kv ": ") or values alone (kv NULL),
 * joined by sep, leaving out alertname and those in common. At most
 * max bytes, then "…".
 */
static void
render_labels(struct md *md, json_t *obj, json_t *common, const char *kv,
    const char *sep, size_t max)
{
	const char	*k, *v;
	json_t		*jv;
	size_t		 start, mark;

	start = md->len;
	json_object_foreach(obj, k, jv) {
		v = json_string_value(jv);
		if (v == NULL || *v == '\0' || strcmp(k, "alertname") == 0 ||
		    is_common(common, k, v))
			continue;
		mark = md->len;
		if (mark > start)
			md_str(md, sep);
		if (kv != NULL) {
			md_value(md, k, LABEL_MAX, 0);
			md_str(md, kv);
		}
		md_value(md, v, LABEL_MAX, 0);
		if (md->full || md->len - start > max) {
			md_cut(md, mark);
			md_str(md, mark > start ? " …" : "…");
			break;
		}
	}
}

/*
 * "## [FIRING:2, RESOLVED:1] DiskFull", named by the alertname all
 * alerts share, else by the group's labels; then the common labels.
 */
static void
render_head(struct md *md, json_t *root, const struct group *g)
{
	json_t		*groups;
	const char	*name;
	size_t		 mark;

	md_printf(md, "## <font color=\"%s\">[",
	    g->firing > 0 ? "warning" : "info");
	if (g->firing > 0)
		md_printf(md, "FIRING:%zu%s", g->firing,
		    g->resolved > 0 ? ", " : "");
	if (g->resolved > 0)
		md_printf(md, "RESOLVED:%zu", g->resolved);
	md_str(md, "]</font> ");

	groups = json_object_get(root, "groupLabels");
	if ((name = label(g->common, "alertname")) == NULL)
		name = label(groups, "alertname");
	mark = md->len;
	if (name != NULL)
		md_value(md, name, TITLE_MAX, 0);
	else
		render_labels(md, groups, NULL, NULL, " ", TITLE_MAX);
	if (md->len == mark)
		md_str(md, "alerts");

	md_str(md, "\n> ");
	mark = md->len;
	render_labels(md, g->common, NULL, ": ", " · ", HEAD_MAX);
	if (md->len == mark)
		md_cut(md, mark - 3);
}

/*
 * Where an alert fires: its instance, unless all share it; otherwise
 * the labels it does not share. Two alerts of one instance then differ
 * by their summary, which names the disk or the job.
 */
static void
render_where(struct md *md, const struct group *g, json_t *labels)
{
	const char	*inst;

	inst = label(labels, "instance");
	if (inst != NULL && !is_common(g->common, "instance", inst))
		md_value(md, inst, LABEL_MAX, 0);
	else
		render_labels(md, labels, g->common, "=", ", ", WHERE_MAX);
}

/*
 * "**db1:9100**" in the alert's colour, or "**DiskFull** db1:9100" in
 * a group of several alertnames.
 */
static void
render_ident(struct md *md, const struct group *g, json_t *labels,
    const char *color)
{
	const char	*name;
	size_t		 mark;

	name = label(labels, "alertname");
	md_printf(md, "<font color=\"%s\">**", color);
	if (name != NULL && !is_common(g->common, "alertname", name)) {
		md_value(md, name, LABEL_MAX, 0);
		md_str(md, "**</font> ");
		mark = md->len;
		render_where(md, g, labels);
		if (md->len == mark)
			md_cut(md, mark - 1);
		return;
	}
	mark = md->len;
	render_where(md, g, labels);
	if (md->len == mark)
		md_value(md, name != NULL ? name : "alert", LABEL_MAX, 0);
	md_str(md, "**</font>");
}

/* A time at the offset; as given if it does not parse, none if unset. */
static void
render_time(struct md *md, const char *what, const char *s)
{
	char	t[48];
	int	rc;

	if (s == NULL ||
	    (rc = wecom_alert_time(s, md->offset_min, t, sizeof(t))) == WECOM_ALERT_TIME_UNSET)
		return;
	md_printf(md, "\n<font color=\"comment\">%s ", what);
	if (rc == WECOM_ALERT_TIME_OK)
		md_str(md, t);
	else
		md_value(md, s, TIME_MAX, 0);
	md_str(md, "</font>");
}

static void
render_alert(struct md *md, const struct group *g, json_t *a, int resolved)
{
	json_t		*ann;
	const char	*summary, *desc;

	ann = json_object_get(a, "annotations");
	md_str(md, "\n\n");
	render_ident(md, g, json_object_get(a, "labels"),
	    resolved ? "info" : "warning");
	if ((summary = label(ann, "summary")) != NULL) {
		md_str(md, " — ");
		md_value(md, summary, SUMMARY_MAX, 0);
	}
	desc = label(ann, "description");
	if (desc != NULL && (summary == NULL || strcmp(desc, summary) != 0)) {
		md_str(md, "\n");
		md_value(md, desc, DESC_MAX, 1);
	}
	if (resolved)
		render_time(md, "resolved", label(a, "endsAt"));
	else
		render_time(md, "since", label(a, "startsAt"));
}

/*
 * Firing alerts, then resolved ones, while they fit with room left for
 * the last line; the last alert of a complete group needs no such room.
 * Returns how many were shown.
 */
static size_t
render_alerts(struct md *md, const struct group *g)
{
	json_t	*a;
	size_t	 i, shown, mark, room;
	int	 pass;

	shown = 0;
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < g->seen; i++) {
			a = json_array_get(g->alerts, i);
			if (is_resolved(a) != pass)
				continue;
			mark = md->len;
			render_alert(md, g, a, pass);
			room = shown + 1 == g->total && g->truncated == 0 ?
			    0 : TAIL_ROOM;
			if (md->full || md->len + room > WECOM_MARKDOWN_MAX) {
				md_cut(md, mark);
				md->full = 0;
				return (shown);
			}
			shown++;
		}
	}

	return (shown);
}

/* "… and 12 more alerts (5 left out by Alertmanager)" */
static void
render_tail(struct md *md, size_t hidden, json_int_t truncated)
{
	uintmax_t	n;

	if (hidden == 0 && truncated == 0)
		return;
	n = (uintmax_t)hidden + (uintmax_t)truncated;
	md_printf(md, "\n\n… and %ju more alert%s", n, n == 1 ? "" : "s");
	if (truncated > 0 && hidden > 0)
		md_printf(md, " (%jd left out by Alertmanager)",
		    (intmax_t)truncated);
	else if (truncated > 0)
		md_printf(md, " left out by Alertmanager");
}
