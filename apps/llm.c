/* SPDX-License-Identifier: ISC */
/*
 * The llm bot: a member's text goes to an OpenAI-compatible chat
 * completions endpoint (Ollama, llama.cpp, vLLM, a hosted API) and the
 * answer comes back as it is written: on a bot a stream that grows, on
 * an app the finished text as the reply. "/reset" forgets.
 *
 *	[aibot assistant]		(or [app assistant])
 *	handler        = llm
 *	llm_url        = http://192.168.1.10:11434/v1/chat/completions
 *	llm_model      = qwen2.5:7b
 *	llm_key        = env:LLM_KEY	bearer token; optional
 *	llm_system     = You are a helpful assistant.	optional
 *	llm_history    = 6		turns kept per conversation, 0..50
 *	llm_timeout_ms = 120000		the whole answer, 100..3600000
 *	llm_max_bytes  = 20000		answer cap, 64..1048576
 *	llm_ca_file    = /etc/ssl/certs/ca-certificates.crt	https only
 *
 * History is kept per conversation (a group chat, else a member) in
 * this worker process only: another worker does not see it, a restart
 * loses it. The key and what members write are never logged.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "wecom.h"
#include "wecom_client.h"

#define LLM_CONVS		256	/* conversations kept per section */
#define LLM_KEY_MAX		160	/* "chat:" or "user:" and the id */
#define LLM_MSG_MAX		4096	/* bytes of a message kept */
#define LLM_HISTORY_MAX		50
#define LLM_UPDATE_MS		300	/* WeCom rate-limits updates */
#define LLM_UPDATE_BYTES	200
#define LLM_ERRBODY		200	/* bytes of an error body shown */
#define LLM_IN_MAX		(4 * 1024 * 1024)	/* a line, a body */

#define CUT_NOTE	"… (answer cut at llm_max_bytes)"

/* A conversation: user and assistant messages in turn, oldest first. */
struct conv {
	char		 key[LLM_KEY_MAX];
	char		*msg[2 * LLM_HISTORY_MAX];
	long		 n;
	uint64_t	 used;		/* 0: a free slot */
};

struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* One per section; shared by the handler threads of a worker. */
struct llm {
	const char		*url;
	const char		*model;
	const char		*key;
	const char		*system;
	long			 history;
	long			 timeout_ms;
	long			 max_bytes;
	struct buf		 ca;		/* PEM, read before chroot */
	struct curl_slist	*headers;
	pthread_mutex_t		 lock;		/* convs, tick */
	struct conv		*convs;		/* LLM_CONVS of them */
	uint64_t		 tick;
};

/* One request, as its answer arrives. */
struct xfer {
	const struct llm	*llm;
	struct wecom_ctx	*ctx;
	CURL			*easy;
	int			 sse;		/* -1: not known yet */
	struct buf		 in;		/* a line so far, or the body */
	struct buf		 answer;
	size_t			 sent;		/* answer.len at the update */
	struct timespec		 last;		/* of the update */
	int			 cut;		/* at llm_max_bytes */
	char			 err[256];	/* why it stopped, shown */
};

/* Append n bytes, keeping a NUL after them; -1 past max. */
static int
buf_add(struct buf *b, const char *s, size_t n, size_t max)
{
	char	*p;
	size_t	 cap;

	if (n > max || b->len > max - n)
		return (-1);
	if (b->len + n + 1 > b->cap) {
		for (cap = b->cap ? b->cap : 256; cap < b->len + n + 1;)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL)
			return (-1);
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return (0);
}

/* At most max bytes of s, not ending inside a UTF-8 character. */
static size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	if (len <= max)
		return (len);
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return (max);
}

static void
conv_clear(struct conv *c)
{
	while (c->n > 0)
		free(c->msg[--c->n]);
	c->used = 0;
}

/*
 * The conversation of key, now the most recently used; with create, a
 * new one in a free slot or in the least recently used one's place.
 * Called with the lock held.
 */
static struct conv *
conv_get(struct llm *l, const char *key, int create)
{
	struct conv	*c, *old = NULL;
	size_t		 i;

	for (i = 0; i < LLM_CONVS; i++) {
		c = &l->convs[i];
		if (c->used != 0 && strcmp(c->key, key) == 0)
			break;
		if (old == NULL || c->used < old->used)
			old = c;
	}
	if (i == LLM_CONVS) {
		if (!create)
			return (NULL);
		conv_clear(c = old);
		snprintf(c->key, sizeof(c->key), "%s", key);
	}
	c->used = ++l->tick;
	return (c);
}

/* A finished turn; the oldest goes when there are llm_history. */
static void
history_add(struct llm *l, const char *key, const char *user,
    const char *answer)
{
	struct conv	*c;
	char		*u, *a;

	if (l->history == 0 || key == NULL)
		return;
	u = strndup(user, utf8_cut(user, strlen(user), LLM_MSG_MAX));
	a = strndup(answer, utf8_cut(answer, strlen(answer), LLM_MSG_MAX));
	pthread_mutex_lock(&l->lock);
	if (u != NULL && a != NULL) {
		c = conv_get(l, key, 1);
		if (c->n == 2 * l->history) {
			free(c->msg[0]);
			free(c->msg[1]);
			memmove(c->msg, c->msg + 2,
			    (size_t)(c->n - 2) * sizeof(c->msg[0]));
			c->n -= 2;
		}
		c->msg[c->n++] = u;
		c->msg[c->n++] = a;
		u = a = NULL;
	}
	pthread_mutex_unlock(&l->lock);
	free(u);
	free(a);
}

static int
add_message(json_t *msgs, const char *role, const char *content)
{
	return (json_array_append_new(msgs, json_pack("{s:s, s:s}",
	    "role", role, "content", content)));
}

/* The request's JSON text: system prompt, history, the new text. */
static char *
request_body(struct llm *l, const char *key, const char *text)
{
	struct conv	*c;
	json_t		*root, *msgs;
	char		*body = NULL;
	long		 i;
	int		 bad = 0;

	if ((msgs = json_array()) == NULL)
		return (NULL);
	if (l->system != NULL)
		bad |= add_message(msgs, "system", l->system);
	pthread_mutex_lock(&l->lock);
	if (key != NULL && (c = conv_get(l, key, 0)) != NULL)
		for (i = 0; i < c->n; i++)
			bad |= add_message(msgs, i % 2 ? "assistant" : "user",
			    c->msg[i]);
	pthread_mutex_unlock(&l->lock);
	bad |= add_message(msgs, "user", text);
	/* "o" hands msgs over: freed with root, or by a failing pack. */
	root = json_pack("{s:s, s:b, s:o}", "model", l->model, "stream", 1,
	    "messages", msgs);
	if (root != NULL && !bad)
		body = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return (body);
}

/*
 * The answer so far to the member, not for every token: on a long
 * connection each update is a frame, and WeCom rate-limits them. The
 * first goes at once: it answers a bot's callback. Then every 300 ms,
 * or after 200 bytes, but not within 100 ms.
 */
static void
xfer_update(struct xfer *x)
{
	struct timespec	now;
	long		ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - x->last.tv_sec) * 1000 +
	    (now.tv_nsec - x->last.tv_nsec) / 1000000;
	if (x->answer.len == x->sent || (x->sent != 0 &&
	    ms < LLM_UPDATE_MS && (ms < LLM_UPDATE_MS / 3 ||
	    x->answer.len - x->sent < LLM_UPDATE_BYTES)))
		return;
	wecom_stream_update(x->ctx, x->answer.p);
	x->sent = x->answer.len;
	x->last = now;
}

/*
 * choices[0].<which>.content of a chunk ("delta") or of a whole answer
 * ("message"), up to llm_max_bytes; or the server's own error.
 */
static void
choice_content(struct xfer *x, json_t *root, const char *which)
{
	json_t		*c, *e;
	const char	*s;
	size_t		 n, room;

	c = json_object_get(json_array_get(json_object_get(root, "choices"),
	    0), which);
	c = json_object_get(c, "content");
	if (json_is_string(c)) {
		s = json_string_value(c);
		room = (size_t)x->llm->max_bytes - x->answer.len;
		if ((n = json_string_length(c)) > room) {
			n = utf8_cut(s, n, room);
			x->cut = 1;
		}
		if (buf_add(&x->answer, s, n, x->llm->max_bytes) == -1)
			snprintf(x->err, sizeof(x->err), "LLM error: memory");
	} else if ((e = json_object_get(root, "error")) != NULL) {
		if (!json_is_string(e))
			e = json_object_get(e, "message");
		snprintf(x->err, sizeof(x->err), "LLM error: %s",
		    json_is_string(e) ? json_string_value(e) : "(no message)");
	} else if (root == NULL)
		snprintf(x->err, sizeof(x->err), "LLM error: an answer that "
		    "is not JSON");
	else if (strcmp(which, "message") == 0)
		snprintf(x->err, sizeof(x->err), "LLM error: an answer "
		    "without choices[0].message.content");
}

/* Lines of the stream: only "data: {chunk}" matters, not [DONE]. */
static void
sse_feed(struct xfer *x, const char *data, size_t len)
{
	const char	*nl;
	json_t		*root;
	char		*v;
	size_t		 n;

	while (len > 0 && x->err[0] == '\0' && !x->cut) {
		nl = memchr(data, '\n', len);
		n = nl != NULL ? (size_t)(nl - data) : len;
		if (buf_add(&x->in, data, n, LLM_IN_MAX) == -1)
			snprintf(x->err, sizeof(x->err), "LLM error: a line "
			    "over %d bytes", LLM_IN_MAX);
		if (nl == NULL || x->err[0] != '\0')
			return;
		data += n + 1;
		len -= n + 1;
		v = x->in.p;
		x->in.len = 0;
		if (strncmp(v, "data:", 5) != 0)
			continue;
		v += v[5] == ' ' ? 6 : 5;
		v[strcspn(v, "\r")] = '\0';
		if (strcmp(v, "[DONE]") != 0) {
			root = json_loads(v, 0, NULL);
			choice_content(x, root, "delta");
			json_decref(root);
		}
	}
}

/* curl's write callback; 0 stops the transfer. */
static size_t
xfer_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * nmemb;
	char		*type = NULL;
	long		 status = 0;

	/* The headers say what the body is: events, or JSON (an error). */
	if (x->sse == -1) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &type);
		x->sse = status == 200 && type != NULL &&
		    strncasecmp(type, "text/event-stream", 17) == 0;
	}
	if (x->sse)
		sse_feed(x, data, len);
	else if (buf_add(&x->in, data, len, LLM_IN_MAX) == -1)
		snprintf(x->err, sizeof(x->err), "LLM error: an answer "
		    "over %d bytes", LLM_IN_MAX);
	xfer_update(x);
	return (x->err[0] != '\0' || x->cut ? 0 : len);
}

/* The member's final text; *keep if the turn belongs in history. */
static char *
xfer_result(struct xfer *x, CURLcode rc, int *keep)
{
	const char	*text, *in, *note = "";
	char		 why[64 + LLM_ERRBODY], *out;
	json_t		*root;
	long		 status = 0;
	size_t		 n;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	in = x->in.p != NULL ? x->in.p : "";
	if (status == 200 && rc == CURLE_OK && x->sse == 1)
		sse_feed(x, "\n", 1);		/* a last line, unended */
	else if (status == 200 && rc == CURLE_OK) {
		/* A server that does not stream, or will not. */
		root = json_loadb(in, x->in.len, 0, NULL);
		choice_content(x, root, "message");
		json_decref(root);
	}
	text = x->answer.p != NULL ? x->answer.p : "";

	if (status != 0 && status != 200) {
		n = utf8_cut(in, x->in.len, LLM_ERRBODY);
		snprintf(why, sizeof(why), "LLM error: HTTP %ld%s%.*s", status,
		    n > 0 ? " " : "", (int)n, in);
		note = why;
	} else if (x->err[0] != '\0')
		note = x->err;
	else if (x->cut)
		note = CUT_NOTE;
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		note = *text != '\0' ? "(timed out)" :
		    "LLM error: no answer in time (timed out)";
	else if (rc != CURLE_OK) {
		snprintf(why, sizeof(why), "LLM error: %s",
		    curl_easy_strerror(rc));
		note = why;
	} else if (*text == '\0')
		note = "LLM error: an empty answer";
	*keep = *note == '\0' || strcmp(note, CUT_NOTE) == 0;

	n = strlen(text) + strlen(note) + 3;
	if ((out = malloc(n)) != NULL)
		snprintf(out, n, "%s%s%s", text,
		    *text != '\0' && *note != '\0' ? "\n\n" : "", note);
	return (out);
}

static CURLcode
xfer_setup(struct xfer *x, const char *body)
{
	const struct llm	*l = x->llm;
	CURL			*e = x->easy;
	struct curl_blob	 blob;
	CURLcode		 rc = CURLE_OK;

	rc |= curl_easy_setopt(e, CURLOPT_URL, l->url);
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, "wecom-llm");
	rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->headers);
	rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, l->timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	    l->timeout_ms < 10000 ? l->timeout_ms : 10000L);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	if (l->key != NULL && *l->key != '\0') {
		/* The only method: sent at once, not after a 401. */
		rc |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		rc |= curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, l->key);
	}
	if (l->ca.p != NULL) {
		blob.data = l->ca.p;
		blob.len = l->ca.len;
		blob.flags = CURL_BLOB_NOCOPY;	/* it outlives requests */
		rc |= curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
	}
	return (rc);
}

/* Ask, stream the answer to the member, finish, remember the turn. */
static void
llm_ask(struct llm *l, struct wecom_ctx *ctx, const char *key,
    const char *text)
{
	struct xfer	 x;
	char		*body, *final = NULL;
	CURLcode	 rc;
	int		 keep = 0;

	memset(&x, 0, sizeof(x));
	x.llm = l;
	x.ctx = ctx;
	x.sse = -1;
	clock_gettime(CLOCK_MONOTONIC, &x.last);
	if ((body = request_body(l, key, text)) == NULL ||
	    (x.easy = curl_easy_init()) == NULL ||
	    xfer_setup(&x, body) != CURLE_OK) {
		wecom_stream_finish(ctx, "LLM error: cannot make the request");
		goto out;
	}
	rc = curl_easy_perform(x.easy);
	final = xfer_result(&x, rc, &keep);
	wecom_stream_finish(ctx, final != NULL ? final :
	    "LLM error: out of memory");
	if (keep)
		history_add(l, key, text, x.answer.p);
out:
	curl_easy_cleanup(x.easy);
	free(body);
	free(final);
	free(x.in.p);
	free(x.answer.p);
}

/* Every message: a bot's voice comes as text; events need no answer. */
static int
llm_msg(struct wecom_ctx *ctx, const struct wecom_msg *msg, void *arg)
{
	struct llm	*l = arg;
	struct conv	*c;
	char		 key[LLM_KEY_MAX], word[8];
	const char	*k = NULL;
	int		 n, end = 0;

	if (msg->event != NULL)
		return (WECOM_STOP);
	if (msg->content == NULL || msg->content[0] == '\0') {
		wecom_reply_text(ctx, "Please send text. / 请发送文字消息。");
		return (WECOM_STOP);
	}
	/* A group chat shares one history; a chat id is no UserID. */
	n = snprintf(key, sizeof(key), "%s:%s", msg->chat_id ? "chat" : "user",
	    msg->chat_id ? msg->chat_id : msg->from_user ? msg->from_user : "");
	if (n > 5 && (size_t)n < sizeof(key))
		k = key;
	/* "/reset", blanks around it allowed, and nothing else. */
	if (sscanf(msg->content, " %7s %n", word, &end) != 1 ||
	    strcmp(word, "/reset") != 0 || msg->content[end] != '\0') {
		llm_ask(l, ctx, k, msg->content);
		return (WECOM_STOP);
	}
	pthread_mutex_lock(&l->lock);
	if (k != NULL && (c = conv_get(l, k, 0)) != NULL)
		conv_clear(c);
	pthread_mutex_unlock(&l->lock);
	wecom_reply_text(ctx, "History cleared. / 已清除对话历史。");
	return (WECOM_STOP);
}

/* A number key within its bounds, or its default when absent. */
static int
conf_number(struct wecom_app *app, const char *key, long def, long min,
    long max, long *out)
{
	const char	*v;
	char		*end;

	*out = def;
	if ((v = wecom_app_conf(app, key)) == NULL)
		return (WECOM_OK);
	*out = strtol(v, &end, 10);
	if (*v != '\0' && *end == '\0' && *out >= min && *out <= max)
		return (WECOM_OK);
	/* Apps have no logging call: the parent's stderr. */
	fprintf(stderr, "llm: %s: %s must be a whole number from %ld to "
	    "%ld\n", wecom_app_name(app), key, min, max);
	return (WECOM_ERROR);
}

/* In the parent: a chrooted worker could not read the CA bundle. */
static void
llm_ca(struct llm *l, struct wecom_app *app)
{
	const char	*path;
	char		 chunk[8192];
	FILE		*fp;
	size_t		 n;

	if (strncasecmp(l->url, "https:", 6) != 0)
		return;
	if ((path = wecom_app_conf(app, "llm_ca_file")) == NULL)
		path = WECOM_CA_FILE_DEFAULT;
	if ((fp = fopen(path, "r")) != NULL) {
		while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
			if (buf_add(&l->ca, chunk, n, LLM_IN_MAX) == -1)
				break;
		if (ferror(fp) || !feof(fp) || l->ca.len == 0) {
			free(l->ca.p);
			memset(&l->ca, 0, sizeof(l->ca));
		}
		fclose(fp);
	}
	if (l->ca.p == NULL)
		fprintf(stderr, "llm: %s: cannot read %s: using curl's "
		    "default CA\n", wecom_app_name(app), path);
}

/* The section's keys are checked here: a mistake stops the server. */
static int
llm_init(struct wecom_app *app)
{
	struct llm	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return (WECOM_ERROR);
	l->url = wecom_app_conf(app, "llm_url");
	l->model = wecom_app_conf(app, "llm_model");
	l->key = wecom_app_conf(app, "llm_key");
	l->system = wecom_app_conf(app, "llm_system");
	if (l->url == NULL || l->model == NULL || *l->model == '\0' ||
	    (strncasecmp(l->url, "http://", 7) != 0 &&
	    strncasecmp(l->url, "https://", 8) != 0)) {
		fprintf(stderr, "llm: %s: llm_url (http:// or https://) and "
		    "llm_model are required\n", wecom_app_name(app));
		goto fail;
	}
	/*
	 * curl_global_init here, while the parent has one thread. No
	 * "Expect:": no second's wait for a "100 Continue" on long history.
	 */
	if (conf_number(app, "llm_history", 6, 0, LLM_HISTORY_MAX,
	    &l->history) != WECOM_OK ||
	    conf_number(app, "llm_timeout_ms", 120000, 100, 3600000,
	    &l->timeout_ms) != WECOM_OK ||
	    conf_number(app, "llm_max_bytes", 20000, 64, 1048576,
	    &l->max_bytes) != WECOM_OK ||
	    (l->convs = calloc(LLM_CONVS, sizeof(*l->convs))) == NULL ||
	    pthread_mutex_init(&l->lock, NULL) != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (l->headers = curl_slist_append(NULL,
	    "Content-Type: application/json")) == NULL ||
	    curl_slist_append(l->headers, "Expect:") == NULL)
		goto fail;
	llm_ca(l, app);

	wecom_app_set_threaded(app, 1);
	return (wecom_on_default(app, llm_msg, l));
fail:
	curl_slist_free_all(l->headers);
	free(l->convs);
	free(l);
	return (WECOM_ERROR);
}

WECOM_APP("llm", llm_init);
