// SPDX-License-Identifier: ISC
// The status page through the real server: GET /status (HTML, no script)
// and /status.json for every app, bot and robot — channel, credential,
// long connection, the last hour, outbox, retry table, last refusals —
// who may read it, names from the config escaped, and the page as a real
// browser renders it on a phone (headless chromium; WECOM_SCREENSHOT=1
// saves the picture as docs/status.png).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { startAibot } from '../fake_aibot/server.mjs';
import { callbackBot } from '../aibot/bot.mjs';

const PUSHKEY = 'status-key-0123456789abcdef';
const HOSTILE_APP = '<img src=x onerror=alert(1)>';
const HOSTILE_ROBOT = '<script>alert("r")</script>';
// Enough apps for the page's budget: 20 and more.
const MORE = Array.from({ length: 12 }, (_, i) => `shop${String(i + 1).padStart(2, '0')}`);
let fake, bots, srv;

const wsBot = (name, id, secret) => `
[aibot ${name}]
handler = echo
mode = websocket
bot_id = ${id}
secret = ${secret}
ws_url = ${bots.url}
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 8000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v || Date.now() - t0 > ms) return v;
    await sleep(100);
  }
}
const statusJson = async () => JSON.parse((await h.request(srv, { path: '/status.json' })).text);
const robotTexts = () => fake.state.messages.filter((m) => m.api === 'webhook/send')
  .map((m) => m.body.text?.content ?? '');
const text = (name) => `<xml><ToUserName><![CDATA[x]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>
<CreateTime>${Math.floor(Date.now() / 1000)}</CreateTime><MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[hello ${name}]]></Content><MsgId>${Date.now()}${Math.floor(Math.random() * 1e6)}</MsgId><AgentID>1</AgentID></xml>`;

before(async () => {
  fake = await startFake();
  bots = await startAibot({ bots: { aibGOOD: 'good-secret', aibBAD: 'right-secret' } });
  const cb = callbackBot('helper', 'echo');
  srv = await h.startServer({
    apiBase: fake.base,
    dedupe: true,
    globalExtra: 'outbox_interval_ms = 200\nwatch_interval_ms = 1000\nwatch_robot = ops\naibot_ping_ms = 1000\n',
    apps: [
      { name: 'alerts', handler: 'echo', corpid: CORPID, agentid: 1000002, extra: 'secret = app-secret-1\n' },
      { name: 'broken', handler: 'echo', corpid: CORPID, agentid: 1000003, extra: 'secret = wrong-secret\n' },
      { name: HOSTILE_APP, handler: 'echo', path: '/cb/hostile' },
      ...MORE.map((name) => ({ name, handler: 'echo' })),
    ],
    sections: `[app sendonly]\nhandler = echo\ncorpid = ${CORPID}\nagentid = 1000004\nsecret = app-secret-2\n` +
      wsBot('goodbot', 'aibGOOD', 'good-secret') + wsBot('badbot', 'aibBAD', 'wrong-secret') + cb.section +
      `\n[robot ops]\nkey = robot-ops\n\n[robot ${HOSTILE_ROBOT}]\nkey = robot-x\n\n[apikey status]\nkey = ${PUSHKEY}\n`,
  });
  await bots.waitConnected('aibGOOD', 1, 10000);
  for (let i = 0; i < 3; i++) assert.equal((await h.callback(srv, 'echo', text('echo'))).status, 200);
  assert.equal((await h.callback(srv, 'alerts', text('alerts'))).status, 200);
  // A refusal whose path a browser would run, were it not escaped.
  assert.equal((await h.request(srv, { path: '/nope<script>alert(1)</script>' })).status, 404);
  // A callback with a bad signature: an error in the echo app's hour.
  const cbad = h.buildCallback(srv.apps.echo, text('x'), { signature: 'f'.repeat(40) });
  assert.equal((await h.request(srv, { method: 'POST', path: cbad.path, body: cbad.body })).status, 403);
  // The first credential checks.
  assert.ok(await until(async () => {
    const s = await statusJson();
    const by = Object.fromEntries(s.apps.map((a) => [a.name, a]));
    return by.alerts.credential?.ok === true && by.broken.credential?.ok === false &&
      by.badbot.credential?.ok === false && by.goodbot.credential?.ok === true;
  }), 'every credential checked');
});

after(async () => {
  const log = await h.stopAndCheck(srv);
  await fake.close();
  await bots.close();
  assert.doesNotMatch(log, /wrong-secret|good-secret|app-secret-1|robot-ops|status-key-/, 'no secret in the log');
});

test('the page: one card per app and bot with its channel, each robot, the outbox, the refusals; no script, no cache', async () => {
  const r = await h.request(srv, { path: '/status' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/html; charset=utf-8/);
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(r.headers['content-security-policy'], /default-src 'none'/);
  assert.match(r.text, /<meta name="viewport" content="width=device-width,initial-scale=1">/);
  assert.doesNotMatch(r.text, /<script/i, 'no script at all');
  const card = (name) => {
    const esc = name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const m = new RegExp(`<section class="app[^"]*"(?: id="app\\d+")? data-(?:app|robot)="${esc.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">[\\s\\S]*?</section>`).exec(r.text);
    assert.ok(m, `a card for ${name}`);
    return m[0];
  };
  assert.match(card('echo'), /<span class="ch">app<\/span>/);
  assert.match(card('echo'), /no secret: callbacks only/);
  assert.match(card('echo'), /<p>Last hour: 3 callbacks, 3 replies, <b>1 error<\/b><\/p>/);
  assert.match(card('echo'), /<svg class="spark"[^>]*>.*<polygon points="[0-9, ]+"\/><polyline class="c" points="[0-9, ]+"\/>/);
  assert.match(card('echo'), /<path class="e" d="(M\d+,23V\d+){1,2}"\/>/, 'errors: a tick at their minute');
  assert.match(card('dump'), /<svg [^>]*><title>[^<]*<\/title><line [^>]*\/><\/svg>/, 'nothing to draw: the baseline only');
  assert.match(card('dump'), /Last hour: 0 callbacks, 0 replies, 0 errors</);
  assert.match(card('alerts'), /^<section class="app ok"/);
  assert.match(card('alerts'), /token ok since/);
  assert.match(card('broken'), /^<section class="app bad"/);
  assert.match(card('broken'), /token failing<\/b> since .*errcode 40001 — wrong secret/);
  assert.match(card('broken'), /alerts sent: 1/);
  assert.match(card('sendonly'), /<span class="ch">send-only app<\/span>/);
  assert.match(card('goodbot'), /<span class="ch">aibot websocket<\/span>/);
  assert.match(card('goodbot'), /websocket connected since/);
  assert.match(card('badbot'), /subscribe failing<\/b>.*errcode 853000/);
  assert.match(card('badbot'), /websocket refused since .*last error 853000 wrong bot_id or secret/);
  assert.match(card('helper'), /<span class="ch">aibot callback<\/span>/);
  assert.match(card('ops'), /<span class="ch">robot<\/span>/);
  for (const name of MORE) card(name);
  assert.match(r.text, /Outbox: <b>\d+<\/b> queued, <b>0<\/b> failed/);
  assert.match(r.text, /Retry table: \d+ of 512 slots used/);
  assert.match(r.text, /Credential alerts: robot ops\./);
  assert.match(r.text, /<p class="bad"><b>Failing:<\/b> <a href="#app4">broken<\/a>, <a href="#app\d+">badbot<\/a><\/p>/);
  const refusals = /<ol id="refusals">[\s\S]*?<\/ol>/.exec(r.text)[0];
  assert.match(refusals, /<li><time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ">[^<]*<\/time><b>404<\/b> GET \/nope&lt;script&gt;alert\(1\)&lt;\/script&gt;<br><span class="mut">127\.0\.0\.1:<\/span> no app at this path<\/li>/);
  assert.match(refusals, /<b>403<\/b> POST \/wecom\/echo<br><span class="mut">127\.0\.0\.1:<\/span> [^<]+<\/li>/);
});

test('names from the config and paths from requests are escaped everywhere', async () => {
  const r = await h.request(srv, { path: '/status' });
  assert.ok(r.text.includes('data-app="&lt;img src=x onerror=alert(1)&gt;"'), 'attribute escaped');
  assert.ok(r.text.includes('<h2>&lt;img src=x onerror=alert(1)&gt; <span class="ch">app</span>'), 'text escaped');
  assert.ok(r.text.includes('data-robot="&lt;script&gt;alert(&quot;r&quot;)&lt;/script&gt;"'));
  assert.ok(!r.text.includes('<img'), 'no element from a name');
  assert.ok(!r.text.includes(HOSTILE_ROBOT) && !r.text.includes(HOSTILE_APP));
  const s = await statusJson();
  assert.ok(s.apps.some((a) => a.name === HOSTILE_APP), 'the JSON has the name as it is');
  assert.ok(s.robots.some((x) => x.name === HOSTILE_ROBOT));
});

test('/status.json: the same data, for wecom-admin status', async () => {
  const r = await h.request(srv, { path: '/status.json' });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/json/);
  assert.equal(r.headers['cache-control'], 'no-store');
  const s = JSON.parse(r.text);
  assert.equal(typeof s.version, 'string');
  assert.ok(Math.abs(s.time - Date.now() / 1000) < 5);
  assert.deepEqual(s.watch, { robot: 'ops', app: null, interval_ms: 1000 });
  assert.deepEqual(Object.keys(s.outbox).sort(), ['checked', 'failed', 'oldest_age', 'queued']);
  assert.equal(s.dedupe.entries, 512);
  assert.ok(s.dedupe.claims >= 4 && s.dedupe.used >= 4 && s.dedupe.evicted === 0, JSON.stringify(s.dedupe));
  assert.deepEqual(s.robots.map((x) => x.name).sort(), [HOSTILE_ROBOT, 'ops'].sort());
  const by = Object.fromEntries(s.apps.map((a) => [a.name, a]));
  assert.equal(s.apps.length, 3 + 3 + MORE.length + 1 + 3);
  assert.deepEqual(Object.fromEntries(Object.entries(by).filter(([n]) => !MORE.includes(n) && n !== HOSTILE_APP)
    .map(([n, a]) => [n, a.channel])), {
    echo: 'app', dump: 'app', routes: 'app', alerts: 'app', broken: 'app', sendonly: 'send-only app',
    goodbot: 'aibot websocket', badbot: 'aibot websocket', helper: 'aibot callback',
  });
  assert.equal(by.echo.credential, null);
  assert.equal(by.helper.credential, null);
  assert.equal(by.echo.connection, null);
  assert.deepEqual(by.echo.last_hour, { callbacks: 3, replies: 3, errors: 1 });
  for (const k of ['callbacks', 'replies', 'errors']) {
    assert.equal(by.echo.minutes[k].length, 60);
    assert.equal(by.echo.minutes[k].reduce((a, b) => a + b, 0), by.echo.last_hour[k]);
  }
  const c = by.broken.credential;
  assert.equal(c.ok, false);
  assert.equal(c.errcode, 40001);
  assert.match(c.hint, /wrong secret/);
  assert.equal(c.failing_since, c.since);
  assert.ok(c.checked >= c.since && c.age >= 0 && c.age < 5, JSON.stringify(c));
  assert.equal(c.alerts, 1);
  assert.equal(by.alerts.credential.ok, true);
  assert.equal(by.alerts.credential.failing_since, null);
  assert.equal(by.alerts.credential.hint, null);
  assert.equal(by.sendonly.credential.ok, true);
  assert.equal(by.goodbot.connection.status, 'connected');
  assert.ok(by.goodbot.connection.connects >= 1);
  assert.equal(by.badbot.connection.status, 'refused');
  assert.equal(by.badbot.connection.last_errcode, 853000);
  assert.equal(by.badbot.credential.errcode, 853000);
  assert.match(by.badbot.credential.hint, /bot_id and secret/);
  const ref = s.refusals.find((x) => x.path === '/nope<script>alert(1)</script>');
  assert.deepEqual(Object.keys(ref).sort(), ['method', 'path', 'peer', 'reason', 'status', 'time']);
  assert.deepEqual({ ...ref, time: 0 }, { time: 0, peer: '127.0.0.1', method: 'GET', path: '/nope<script>alert(1)</script>', status: 404, reason: 'no app at this path' });
  assert.ok(s.refusals.length <= 20);
  // Newest first.
  for (let i = 1; i < s.refusals.length; i++) assert.ok(s.refusals[i - 1].time >= s.refusals[i].time);
});

test('the last 20 refusals are kept, newest first; a secret in a relay path is not', async () => {
  for (let i = 0; i < 25; i++) await h.request(srv, { path: `/missing/${i}` });
  await h.request(srv, { path: '/relay/THE-RELAY-KEY-0123456789/cgi-bin/gettoken' });
  const s = await statusJson();
  assert.equal(s.refusals.length, 20);
  assert.equal(s.refusals[0].path, '/relay/…/cgi-bin/gettoken');
  assert.deepEqual(s.refusals.slice(1, 20).map((x) => x.path), Array.from({ length: 19 }, (_, i) => `/missing/${24 - i}`));
  assert.doesNotMatch(JSON.stringify(s) + (await h.request(srv, { path: '/status' })).text, /THE-RELAY-KEY/);
});

test('credentials in /metrics: wecom_credential_ok and the alerts sent, one per failing credential across rounds', async () => {
  await sleep(3000);	// three more check rounds
  const m = (await h.request(srv, { path: '/metrics' })).text;
  assert.match(m, /^wecom_credential_ok\{app="alerts"\} 1$/m);
  assert.match(m, /^wecom_credential_ok\{app="broken"\} 0$/m);
  assert.match(m, /^wecom_credential_ok\{app="goodbot"\} 1$/m);
  assert.match(m, /^wecom_credential_ok\{app="badbot"\} 0$/m);
  assert.match(m, /^wecom_credential_alerts_total\{app="broken"\} 1$/m);
  assert.match(m, /^wecom_credential_alerts_total\{app="badbot"\} 1$/m);
  assert.doesNotMatch(m, /wecom_credential_ok\{app="echo"\}/, 'no credential, no series');
  const sent = await until(() => robotTexts().length >= 2 ? robotTexts() : null);
  assert.equal(sent.filter((t) => /app "broken"/.test(t)).length, 1, sent.join('\n'));
  assert.equal(sent.filter((t) => /bot "badbot"/.test(t)).length, 1, sent.join('\n'));
  assert.equal(sent.length, 2, sent.join('\n'));
  const bad = sent.find((t) => /app "broken"/.test(t));
  assert.match(bad, /^\[wecom\] Credential failing: app "broken" cannot get an access token: errcode 40001 — wrong secret/);
  assert.match(bad, /\n\[企业微信\] 凭据失效：应用「broken」无法获取 access_token，错误码 40001/);
  assert.match(sent.find((t) => /badbot/.test(t)), /errcode 853000[\s\S]*智能机器人「badbot」长连接订阅被拒绝/);
  assert.doesNotMatch(sent.join('\n'), /wrong-secret|right-secret/);
});

test('rendered in well under a millisecond for 20 apps and more (Server-Timing)', async () => {
  const ms = [];
  for (let i = 0; i < 30; i++) {
    const r = await h.request(srv, { path: '/status' });
    ms.push(Number(/render;dur=([0-9.]+)/.exec(r.headers['server-timing'])[1]));
  }
  ms.sort((a, b) => a - b);
  const median = ms[15];
  console.log(`/status for ${(await statusJson()).apps.length} apps and 2 robots: median ${median} ms, max ${ms[29]} ms`);
  // A sanitizer build is several times slower.
  assert.ok(median < (process.env.SANITIZE === '1' ? 5 : 1), `median ${median} ms`);
});

test('who may read it: metrics_allow (the client behind a local proxy) or a push API key', async () => {
  const s2 = await h.startServer({
    globalExtra: 'metrics_allow = 10.9.9.9/32\n',
    sections: `[apikey status]\nkey = ${PUSHKEY}\n`,
  });
  try {
    const get = (path, headers = {}) => h.request(s2, { path, headers });
    assert.equal((await get('/status')).status, 403);
    assert.equal((await get('/status.json')).status, 403);
    assert.equal((await get('/metrics')).status, 403, '/metrics is as before');
    const auth = { authorization: `Bearer ${PUSHKEY}` };
    const ok = await get('/status', auth);
    assert.equal(ok.status, 200);
    assert.match(ok.text, /data-app="echo"/);
    assert.equal((await get('/status.json', auth)).status, 200);
    const wrong = await get('/status', { authorization: 'Bearer not-the-key-0123456789' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers['www-authenticate'], 'Bearer');
    assert.equal((await get('/status', { 'x-api-key': PUSHKEY })).status, 403, 'only a Bearer token');
    assert.equal((await get('/status?key=' + PUSHKEY)).status, 403, 'never a key in the URL');
    // Behind nginx: the client it names, not the proxy, is checked.
    assert.equal((await get('/status', { 'x-real-ip': '10.9.9.9' })).status, 200);
    assert.equal((await get('/status', { 'x-real-ip': '10.9.9.8' })).status, 403);
    assert.equal((await get('/status', { 'x-real-ip': '10.9.9.8', ...auth })).status, 200);
    // An allowed client is not refused for a header meant for another.
    assert.equal((await get('/status', { 'x-real-ip': '10.9.9.9', authorization: 'Bearer other' })).status, 200);
    const post = await h.request(s2, { method: 'POST', path: '/status', body: '' , headers: auth });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET');
    const log = s2.log();
    assert.match(log, /GET \/status: 403: not in metrics_allow, and no API key/);
    assert.match(log, /GET \/status: 401: wrong API key/);
    assert.doesNotMatch(log, /status-key-|not-the-key/);
  } finally {
    await h.stopAndCheck(s2);
  }
});

// ---------------------------------------------------------------------
// A real browser. Skipped, with the reason, where chromium cannot start.

function chromium(args) {
  const dir = mkdtempSync(join(tmpdir(), 'wecom-chromium-'));
  try {
    return spawnSync('chromium', ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
      '--no-first-run', '--hide-scrollbars', `--user-data-dir=${dir}`, ...args],
    { encoding: 'utf8', timeout: 60000, maxBuffer: 16 * 1024 * 1024 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function chromiumMissing() {
  const r = spawnSync('chromium', ['--version'], { encoding: 'utf8' });
  if (r.error) return `chromium cannot start (${r.error.code}): apt-get install chromium`;
  if (r.status !== 0) return `chromium --version exits ${r.status}: ${(r.stderr || '').trim().slice(0, 200)}`;
  return null;
}

test('in headless chromium: each app and bot has its card and sparkline, and nothing from a name runs', async (t) => {
  const why = chromiumMissing();
  if (why) return t.skip(why);
  const r = chromium(['--dump-dom', srv.url('/status')]);
  if (r.status !== 0 || !/<html/.test(r.stdout)) return t.skip(`chromium could not render: ${(r.stderr || r.error || '').toString().trim().slice(-300)}`);
  const dom = r.stdout;
  const s = await statusJson();
  for (const a of s.apps) {
    const attr = a.name.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    assert.ok(dom.includes(`data-app="${attr}"`), `card of ${a.name} in the DOM`);
  }
  assert.equal((dom.match(/<svg class="spark"/g) || []).length, s.apps.length, 'one sparkline per app');
  const drawn = s.apps.reduce((n, a) => n + (a.last_hour.callbacks > 0) + (a.last_hour.replies > 0), 0);
  assert.equal((dom.match(/<polyline /g) || []).length, drawn, 'a line per series that has any');
  assert.equal((dom.match(/<path class="e"/g) || []).length, 1, "the echo app's error, and no other");
  assert.ok(dom.includes('data-robot="ops"'));
  assert.ok(!/<img|<script/i.test(dom), 'no element made from a name or a path');
  assert.ok(dom.includes('&lt;img src=x onerror=alert(1)&gt;'));
});

test('in headless chromium on a phone (412×915): a screenshot, docs/status.png with WECOM_SCREENSHOT=1', async (t) => {
  const why = chromiumMissing();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), 'wecom-shot-'));
  try {
    const file = join(dir, 'status.png');
    const r = chromium(['--window-size=412,915', '--force-device-scale-factor=2', `--screenshot=${file}`, srv.url('/status')]);
    let size = 0;
    try { size = statSync(file).size; } catch { /* none */ }
    if (r.status !== 0 || size === 0) return t.skip(`chromium could not take a screenshot: ${(r.stderr || '').trim().slice(-300)}`);
    assert.ok(size > 10000, `a real picture (${size} bytes)`);
    if (process.env.WECOM_SCREENSHOT === '1') {
      copyFileSync(file, join(h.ROOT, 'docs', 'status.png'));
      console.log(`saved docs/status.png (${size} bytes)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
