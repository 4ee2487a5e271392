/* SPDX-License-Identifier: ISC */
/*
 * The status page's HTML: one card per app or bot, fluid (a grid that
 * is one column on a phone), an inline SVG sparkline of the last hour
 * in each, no script. Every string from the configuration or from a
 * request is escaped, and bytes that are not UTF-8 are shown as '?'.
 */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <kore/kore.h>

#include "wecom_app.h"
#include "wecom_client.h"
#include "wecom_config.h"
#include "wecom_status.h"

/* The sparkline's box: two units a minute, 24 high. */
#define SPARK_W		(2 * WECOM_METRICS_MINUTES)
#define SPARK_H		24

static const char	style[] =
	":root{color-scheme:light dark;--ok:#2f855a;--bad:#c53030;"
	"--mut:#718096;--ln:#8885}"
	"body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;"
	"max-width:75em;padding:.5em .8em}"
	"h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.05em;margin:0}"
	"p{margin:.15em 0}.mut,.ch{color:var(--mut)}.ch{font-size:.85em;"
	"font-weight:normal}"
	".apps{display:grid;gap:.6em;"
	"grid-template-columns:repeat(auto-fill,minmax(min(100%,19em),1fr))}"
	".app{border:1px solid var(--ln);border-left:.35em solid var(--mut);"
	"border-radius:.3em;padding:.4em .6em;overflow-wrap:anywhere}"
	".app.ok{border-left-color:var(--ok)}"
	".app.bad{border-left-color:var(--bad)}.bad b{color:var(--bad)}"
	"svg{display:block;width:100%;height:2.6em;margin:.2em 0}"
	"polyline,line,path{fill:none;stroke-width:1.5;"
	"vector-effect:non-scaling-stroke}line{stroke:var(--ln)}"
	"path{stroke-width:3}"
	"polygon{fill:#3182ce;opacity:.2}"
	".c{stroke:#3182ce}.r{stroke:var(--ok)}.e{stroke:var(--bad)}"
	".k{display:inline-block;width:.8em;height:.25em;margin:0 .2em .2em}"
	".k.c{background:#3182ce}.k.r{background:var(--ok)}"
	".k.e{background:var(--bad)}"
	"ol{list-style:none;padding:0;margin:.3em 0}"
	"li{border-bottom:1px solid var(--ln);padding:.2em 0;"
	"overflow-wrap:anywhere}li time{float:right;margin-left:.5em}";

static void	html_host(struct kore_buf *, const struct wecom_status *);
static void	html_app(struct kore_buf *, const struct wecom_status_app *,
		    int64_t);
static void	html_cred(struct kore_buf *, const struct wecom_status_app *,
		    int64_t);
static void	html_ws(struct kore_buf *, const struct wecom_status_app *,
		    int64_t);
static void	html_spark(struct kore_buf *, const struct wecom_status_app *);
static void	html_refusals(struct kore_buf *, const struct wecom_status *);
static void	html_when(struct kore_buf *, int64_t, int64_t);
static void	html_count(struct kore_buf *, uint64_t, const char *,
		    const char *);
static void	html_points(struct kore_buf *, const uint32_t *, uint32_t);
static void	html_failing(struct kore_buf *, const struct wecom_status *);
static void	html_esc(struct kore_buf *, const char *);
static size_t	utf8_len(const unsigned char *);

void
wecom_status_html(struct kore_buf *b, const struct wecom_status *st)
{
	size_t	i;

	kore_buf_appendf(b, "<!doctype html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\"><meta name=\"viewport\" content=\""
	    "width=device-width,initial-scale=1\"><title>wecom status"
	    "</title><style>%s</style></head>\n<body><h1>wecom status "
	    "<span class=\"ch\">", style);
	html_when(b, st->now, st->now);
	kore_buf_appendf(b, "</span></h1>\n");
	html_host(b, st);
	kore_buf_appendf(b, "<p class=\"mut\">Last hour, per minute: <i "
	    "class=\"k c\"></i>callbacks <i class=\"k r\"></i>replies <i "
	    "class=\"k e\"></i>errors</p>\n<main class=\"apps\">\n");
	for (i = 0; i < st->napps; i++)
		html_app(b, &st->apps[i], st->now);
	for (i = 0; i < st->nrobots; i++) {
		kore_buf_appendf(b, "<section class=\"app\" data-robot=\"");
		html_esc(b, st->robots[i]);
		kore_buf_appendf(b, "\"><h2>");
		html_esc(b, st->robots[i]);
		kore_buf_appendf(b, " <span class=\"ch\">robot</span></h2>"
		    "<p class=\"mut\">webhook: sends only</p></section>\n");
	}
	kore_buf_appendf(b, "</main>\n");
	html_refusals(b, st);
	kore_buf_appendf(b, "<p class=\"mut\">wecom-kore %s · <a href=\"%s"
	    ".json\">JSON</a></p></body></html>\n", WECOM_VERSION,
	    st->conf->status_path);
}

/* The outbox, the retry table, where alerts go. */
static void
html_host(struct kore_buf *b, const struct wecom_status *st)
{
	const struct wecom_metrics_outbox	*o = &st->outbox;

	kore_buf_appendf(b, "<p%s>Outbox: <b>%lld</b> queued, <b>%lld</b> "
	    "failed", o->failed > 0 ? " class=\"bad\"" : "",
	    (long long)o->queued, (long long)o->failed);
	if (o->queued > 0)
		kore_buf_appendf(b, ", oldest %llds", (long long)o->oldest);
	if (o->checked == 0)
		kore_buf_appendf(b, " (not counted yet)");
	kore_buf_appendf(b, ".</p>\n<p>Retry table: ");
	if (st->dedupe_on)
		kore_buf_appendf(b, "%zu of %zu slots used, %llu callbacks, "
		    "%llu evicted inside the %d s window.</p>\n",
		    st->dedupe.used, st->dedupe.entries,
		    (unsigned long long)st->dedupe.claims,
		    (unsigned long long)st->dedupe.evicted, st->dedupe.window);
	else
		kore_buf_appendf(b, "off.</p>\n");
	kore_buf_appendf(b, "<p>Credential alerts: ");
	if (st->conf->watch_robot == NULL && st->conf->watch_app == NULL)
		kore_buf_appendf(b, "none (watch_robot, watch_app)");
	if (st->conf->watch_robot != NULL) {
		kore_buf_appendf(b, "robot ");
		html_esc(b, st->conf->watch_robot);
	}
	if (st->conf->watch_app != NULL) {
		kore_buf_appendf(b, "%sapp ", st->conf->watch_robot ? ", " :
		    "");
		html_esc(b, st->conf->watch_app);
	}
	kore_buf_appendf(b, ".</p>\n");
	html_failing(b, st);
}

/* What needs a person first, each linked to its card. */
static void
html_failing(struct kore_buf *b, const struct wecom_status *st)
{
	const struct wecom_status_app	*a;
	size_t				 i, n, bad;
	const char			*sep;

	for (i = n = bad = 0; i < st->napps; i++) {
		a = &st->apps[i];
		n += a->credential;
		bad += a->credential && a->check.ok == 0;
	}
	if (bad == 0) {
		kore_buf_appendf(b, "<p>Credentials: %zu checked, none "
		    "failing.</p>\n", n);
		return;
	}
	kore_buf_appendf(b, "<p class=\"bad\"><b>Failing:</b> ");
	sep = "";
	for (i = 0; i < st->napps; i++) {
		a = &st->apps[i];
		if (!a->credential || a->check.ok != 0)
			continue;
		kore_buf_appendf(b, "%s<a href=\"#app%zu\">", sep,
		    a->app->index);
		html_esc(b, a->app->conf->name);
		kore_buf_appendf(b, "</a>");
		sep = ", ";
	}
	kore_buf_appendf(b, "</p>\n");
}

static void
html_app(struct kore_buf *b, const struct wecom_status_app *a, int64_t now)
{
	const char	*cls;

	cls = "";
	if (a->credential && a->check.ok == 1)
		cls = " ok";
	else if (a->credential && a->check.ok == 0)
		cls = " bad";
	kore_buf_appendf(b, "<section class=\"app%s\" id=\"app%zu\" "
	    "data-app=\"", cls, a->app->index);
	html_esc(b, a->app->conf->name);
	kore_buf_appendf(b, "\"><h2>");
	html_esc(b, a->app->conf->name);
	kore_buf_appendf(b, " <span class=\"ch\">%s</span></h2>\n",
	    a->channel);
	html_cred(b, a, now);
	if (a->has_ws)
		html_ws(b, a, now);
	html_spark(b, a);
	kore_buf_appendf(b, "<p>Last hour: ");
	html_count(b, a->sum[WECOM_H_CALLBACKS], "callback", "callbacks");
	kore_buf_appendf(b, ", ");
	html_count(b, a->sum[WECOM_H_REPLIES], "reply", "replies");
	kore_buf_appendf(b, ", %s", a->sum[WECOM_H_ERRORS] ? "<b>" : "");
	html_count(b, a->sum[WECOM_H_ERRORS], "error", "errors");
	kore_buf_appendf(b, "%s</p></section>\n", a->sum[WECOM_H_ERRORS] ?
	    "</b>" : "");
}

static void
html_count(struct kore_buf *b, uint64_t n, const char *one, const char *many)
{
	kore_buf_appendf(b, "%llu %s", (unsigned long long)n, n == 1 ? one :
	    many);
}

/* "token ok, checked 12:00:03Z (20 s ago)", or why it fails. */
static void
html_cred(struct kore_buf *b, const struct wecom_status_app *a, int64_t now)
{
	const struct wecom_metrics_check	*c = &a->check;
	const char				*what, *hint;

	what = a->app->conf->kind == WECOM_KIND_AIBOT ? "subscribe" : "token";
	if (!a->credential) {
		kore_buf_appendf(b, "<p class=\"mut\">%s</p>\n",
		    a->app->conf->kind == WECOM_KIND_AIBOT ? "callbacks in, no "
		    "long connection" : "no secret: callbacks only");
		return;
	}
	if (c->checked == 0 || c->ok == -1) {
		kore_buf_appendf(b, "<p class=\"mut\">%s not checked yet</p>\n",
		    what);
		return;
	}
	if (c->ok == 1) {
		kore_buf_appendf(b, "<p>%s ok since ", what);
		html_when(b, c->since, now);
	} else {
		kore_buf_appendf(b, "<p class=\"bad\"><b>%s failing</b> since ",
		    what);
		html_when(b, c->since, now);
		if (c->errcode != 0)
			kore_buf_appendf(b, ": errcode %lld",
			    (long long)c->errcode);
		if ((hint = wecom_status_hint(c)) != NULL) {
			kore_buf_appendf(b, " — ");
			html_esc(b, hint);
		}
	}
	kore_buf_appendf(b, "; checked ");
	html_when(b, c->checked, now);
	if (c->alerts > 0)
		kore_buf_appendf(b, "; alerts sent: %lld", (long long)c->alerts);
	kore_buf_appendf(b, "</p>\n");
}

static void
html_ws(struct kore_buf *b, const struct wecom_status_app *a, int64_t now)
{
	kore_buf_appendf(b, "<p>websocket %s since ", a->ws_status);
	html_when(b, a->ws.since, now);
	kore_buf_appendf(b, ", %llu connects, %llu drops",
	    (unsigned long long)a->ws.connects,
	    (unsigned long long)a->ws.drops);
	if (a->ws.last_errcode != 0) {
		kore_buf_appendf(b, "; last error ");
		html_esc(b, a->ws.last_error);
	}
	kore_buf_appendf(b, "</p>\n");
}

/*
 * The last hour on one scale: callbacks as an area, replies as a line
 * over it, errors as a red tick at each minute that had any (a red line
 * along zero would read as trouble); a series without any left out.
 */
static void
html_spark(struct kore_buf *b, const struct wecom_status_app *a)
{
	uint32_t	max;
	int		h, i;

	max = 1;
	for (h = 0; h < WECOM_H_NSERIES; h++)
		for (i = 0; i < WECOM_METRICS_MINUTES; i++)
			if (a->minutes[h][i] > max)
				max = a->minutes[h][i];
	kore_buf_appendf(b, "<svg class=\"spark\" viewBox=\"0 0 %d %d\" "
	    "preserveAspectRatio=\"none\" role=\"img\"><title>callbacks, "
	    "replies and errors per minute, last hour (most: %u)</title>"
	    "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>",
	    SPARK_W - 2, SPARK_H, max, SPARK_H - 1, SPARK_W - 2, SPARK_H - 1);
	for (h = 0; h < WECOM_H_ERRORS; h++) {
		if (a->sum[h] == 0)
			continue;
		if (h == WECOM_H_CALLBACKS) {
			kore_buf_appendf(b, "<polygon points=\"0,%d ",
			    SPARK_H - 1);
			html_points(b, a->minutes[h], max);
			kore_buf_appendf(b, " %d,%d\"/>", SPARK_W - 2,
			    SPARK_H - 1);
		}
		kore_buf_appendf(b, "<polyline class=\"%c\" points=\"",
		    "cre"[h]);
		html_points(b, a->minutes[h], max);
		kore_buf_appendf(b, "\"/>");
	}
	if (a->sum[WECOM_H_ERRORS] > 0) {
		kore_buf_appendf(b, "<path class=\"e\" d=\"");
		for (i = 0; i < WECOM_METRICS_MINUTES; i++)
			if (a->minutes[WECOM_H_ERRORS][i] > 0)
				kore_buf_appendf(b, "M%d,%dV%u", 2 * i, SPARK_H - 1,
				    SPARK_H - 2 - (uint32_t)((uint64_t)
				    a->minutes[WECOM_H_ERRORS][i] *
				    (SPARK_H - 3) / max));
		kore_buf_appendf(b, "\"/>");
	}
	kore_buf_appendf(b, "</svg>\n");
}

/*
 * "0,23 2,23 …" written by hand: with printf per point, the sparklines
 * were most of the page's time.
 */
static void
html_points(struct kore_buf *b, const uint32_t *v, uint32_t max)
{
	char		pts[WECOM_METRICS_MINUTES * 8], *p;
	uint32_t	x, y;
	int		i;

	p = pts;
	for (i = 0; i < WECOM_METRICS_MINUTES; i++) {
		x = (uint32_t)i * 2;
		y = SPARK_H - 1 - (uint32_t)((uint64_t)v[i] * (SPARK_H - 2) /
		    max);
		if (x >= 100)
			*p++ = '0' + x / 100;
		if (x >= 10)
			*p++ = '0' + x / 10 % 10;
		*p++ = '0' + x % 10;
		*p++ = ',';
		if (y >= 10)
			*p++ = '0' + y / 10;
		*p++ = '0' + y % 10;
		*p++ = ' ';
	}
	kore_buf_append(b, pts, (size_t)(p - pts - 1));
}

/* A list, not a table: a long path wraps on a phone instead of hiding. */
static void
html_refusals(struct kore_buf *b, const struct wecom_status *st)
{
	const struct wecom_metrics_refusal	*r;
	size_t					 i;

	kore_buf_appendf(b, "<h2 style=\"margin-top:.8em\">Last refusals</h2>"
	    "\n");
	if (st->nrefusals == 0) {
		kore_buf_appendf(b, "<p class=\"mut\">none since the start</p>"
		    "\n");
		return;
	}
	kore_buf_appendf(b, "<ol id=\"refusals\">\n");
	for (i = 0; i < st->nrefusals; i++) {
		r = &st->refusals[i];
		kore_buf_appendf(b, "<li>");
		html_when(b, r->time, st->now);
		kore_buf_appendf(b, "<b>%d</b> ", r->status);
		html_esc(b, r->method);
		kore_buf_appendf(b, " ");
		html_esc(b, r->path);
		kore_buf_appendf(b, "<br><span class=\"mut\">");
		html_esc(b, r->peer);
		kore_buf_appendf(b, ":</span> ");
		html_esc(b, r->why);
		kore_buf_appendf(b, "</li>\n");
	}
	kore_buf_appendf(b, "</ol>\n");
}

/* "12:00:03Z (20 s ago)", the date only when it is not today's. */
static void
html_when(struct kore_buf *b, int64_t t, int64_t now)
{
	char		iso[32], s[32];
	time_t		tt = (time_t)t;
	struct tm	tm;
	int64_t		age;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL ||
	    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
	    strftime(s, sizeof(s), t / 86400 == now / 86400 ? "%H:%M:%SZ" :
	    "%Y-%m-%d %H:%M:%SZ", &tm) == 0) {
		kore_buf_appendf(b, "never");
		return;
	}
	kore_buf_appendf(b, "<time datetime=\"%s\">%s", iso, s);
	age = now - t;
	if (age < 0)
		kore_buf_appendf(b, " (in the future)");
	else if (age > 0 && age < 120)
		kore_buf_appendf(b, " (%lld s ago)", (long long)age);
	else if (age >= 120 && age < 7200)
		kore_buf_appendf(b, " (%lld min ago)", (long long)age / 60);
	else if (age >= 7200 && age < 2 * 86400)
		kore_buf_appendf(b, " (%lld h ago)", (long long)age / 3600);
	else if (age >= 2 * 86400)
		kore_buf_appendf(b, " (%lld days ago)", (long long)age / 86400);
	kore_buf_appendf(b, "</time>");
}

/* Text and attribute values alike: & < > " ' escaped, runs copied. */
static void
html_esc(struct kore_buf *b, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 run, n;

	while (*p != '\0') {
		for (run = 0; p[run] >= 0x20 && p[run] < 0x7f &&
		    strchr("&<>\"'", p[run]) == NULL; run++)
			;
		kore_buf_append(b, p, run);
		p += run;
		if (*p == '\0')
			break;
		if (*p == '&')
			kore_buf_appendf(b, "&amp;");
		else if (*p == '<')
			kore_buf_appendf(b, "&lt;");
		else if (*p == '>')
			kore_buf_appendf(b, "&gt;");
		else if (*p == '"')
			kore_buf_appendf(b, "&quot;");
		else if (*p == '\'')
			kore_buf_appendf(b, "&#39;");
		else if ((n = utf8_len(p)) > 0) {
			kore_buf_append(b, p, n);
			p += n;
			continue;
		} else
			kore_buf_appendf(b, "?");
		p++;
	}
}

/* What to do about a failing check: WeCom's errcode, else our code. */
const char *
wecom_status_hint(const struct wecom_metrics_check *c)
{
	if (c->ok != 0)
		return (NULL);
	if (c->errcode != 0)
		return (wecom_api_hint((long)c->errcode));
	if (c->code != 0)
		return (wecom_api_strerror(c->code));

	return (NULL);
}

/* In place: every byte that does not start valid UTF-8 becomes '?'. */
void
wecom_status_utf8(char *s)
{
	unsigned char	*p = (unsigned char *)s;
	size_t		 n;

	while (*p != '\0') {
		if ((n = utf8_len(p)) == 0) {
			*p++ = '?';
			continue;
		}
		p += n;
	}
}

/* The length of the valid UTF-8 sequence at p (C0 controls: none), or 0. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t		n, i;
	uint32_t	c;

	if (p[0] >= 0x20 && p[0] < 0x80)
		return (1);
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return (0);
	c = p[0] & (0x7f >> n);
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return (0);
		c = c << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 ||
	    c > 0x10ffff)) || (c >= 0xd800 && c <= 0xdfff))
		return (0);

	return (n);
}
