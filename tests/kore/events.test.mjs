// SPDX-License-Identifier: ISC
// Live events through the real server (2 workers): GET /api/v1/events as
// a WebSocket (npm ws), authenticated by a push API key in a header or in
// the first frame, limited by the key's scope and by filters, receiving
// every callback's message — whichever worker, event loop or handler
// thread handled it, apps and bots — as the documented JSON within a
// second; pings, the unauthenticated timeout, a slow client cut off while
// callbacks keep their speed, and the examples of docs/api.md (Live events).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import * as h from '../callback/harness.mjs';
import { callbackBot, textBody, botCallback } from '../aibot/bot.mjs';

const K_ALL = `events-all-${h.randomAlnum(20)}`;
const K_DUMP = `events-dump-${h.randomAlnum(20)}`;
const K_BOT = `events-bot-${h.randomAlnum(20)}`;
const bot = callbackBot('echobot', 'echo');
const SECTIONS = `
[apikey all]
key = ${K_ALL}

[apikey dumponly]
key = ${K_DUMP}
apps = dump

[apikey botonly]
key = ${K_BOT}
apps = echobot
${bot.section}`;
const PING_MS = 300;
const AUTH_MS = 1500;
const SHAPE = ['type', 'app', 'channel', 'msgtype', 'event', 'from', 'chat', 'msgid', 'time',
  'content', 'fields', 'reply'];

let srv;
let seq = 0;

// A server with the test knobs in its environment (the harness passes
// process.env to kore); the variables are gone again for the next one.
async function serverWith(env, opts = {}) {
  const saved = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
  try {
    return await h.startServer({ workers: 2, sections: SECTIONS, ...opts });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]; else process.env[k] = v;
    }
  }
}

before(async () => {
  // Pings at their default (30 s) but in the test of pings, which has a
  // server of its own: a test process that stalls for 600 ms on a busy
  // machine would lose its clients otherwise.
  srv = await serverWith({ WECOM_EVENTS_PING_MS: undefined, WECOM_EVENTS_AUTH_MS: String(AUTH_MS) },
    { apps: [{ name: 'slow', handler: 'slow' }] });
});
after(async () => { await h.stopAndCheck(srv); });

// A client: its messages (JSON, with _at: when received), its close.
function client(s, { key, query = '', frame, autoPong = true, header = 'authorization' } = {}) {
  const headers = key ? { [header]: header === 'authorization' ? `Bearer ${key}` : key } : {};
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/api/v1/events${query}`, { headers, autoPong });
  const c = { ws, msgs: [], pings: 0 };
  c.closed = new Promise((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString(), at: Date.now() })));
  c.refused = new Promise((res) => ws.on('unexpected-response', (req, resp) => {
    let body = '';
    resp.on('data', (d) => { body += d; });
    resp.on('end', () => res({ status: resp.statusCode, body: JSON.parse(body) }));
  }));
  c.opened = new Promise((res) => ws.on('open', res));
  ws.on('error', () => {});
  ws.on('ping', () => { c.pings++; });
  ws.on('message', (d) => c.msgs.push({ ...JSON.parse(d.toString()), _at: Date.now() }));
  if (frame) ws.on('open', () => ws.send(JSON.stringify(frame)));
  return c;
}

async function waitFor(c, pred, ms = 3000) {
  const t0 = Date.now();
  for (;;) {
    const m = c.msgs.find(pred);
    if (m) return m;
    if (Date.now() - t0 > ms) {
      // After a stall, timers run before the socket's data: read it first.
      await new Promise((r) => setImmediate(r));
      const late = c.msgs.find(pred);
      if (late) return late;
      assert.fail(`no such message within ${ms} ms; got ${JSON.stringify(c.msgs.map((x) => x.content ?? x.type))}`);
    }
    await h.sleep(10);
  }
}

async function live(c) {
  const m = await waitFor(c, (x) => x.type === 'AuthCheckResult');
  const { _at, ...result } = m;
  assert.deepEqual(result, { type: 'AuthCheckResult', retCode: 0 });
  return c;
}

const unique = (what) => `${what} ${process.pid}-${++seq}-${h.randomAlnum(6)}`;
const textXml = (content, { from = 'zhangsan', time = Math.floor(Date.now() / 1000), msgid = `${Date.now()}${seq}` } = {}) =>
  h.toXml({ ToUserName: 'corp', FromUserName: from, CreateTime: time, MsgType: 'text', Content: content, MsgId: msgid, AgentID: 1 });
const eventXml = (event, key = '') =>
  h.toXml({ ToUserName: 'corp', FromUserName: 'lisi', CreateTime: Math.floor(Date.now() / 1000), MsgType: 'event', Event: event, EventKey: key, AgentID: 1 });

// Sends a callback and returns when it was sent.
async function send(app, xml, o = {}) {
  const t0 = Date.now();
  const r = await h.callback(srv, app, xml, o);
  assert.equal(r.status, 200, `${app}: ${r.text}`);
  return { t0, r };
}

test('a key in the header: AuthCheckResult 0, then a callback as the documented JSON within a second', async () => {
  const c = await live(client(srv, { key: K_ALL }));
  const content = unique('你好 events');
  const echo = srv.apps.echo;
  const { t0 } = await send('echo', h.toXml({ ToUserName: echo.corpid, FromUserName: 'zhangsan', CreateTime: 1700000000,
    MsgType: 'text', Content: content, MsgId: '7001', AgentID: 218 }));
  const m = await waitFor(c, (x) => x.content === content);
  assert.ok(m._at - t0 < 1000, `latency ${m._at - t0} ms`);
  const { _at, ...ev } = m;
  assert.deepEqual(Object.keys(ev), SHAPE, 'every field, in the documented order');
  assert.deepEqual(ev, {
    type: 'message', app: 'echo', channel: 'app', msgtype: 'text', event: null, from: 'zhangsan', chat: null,
    msgid: '7001', time: '2023-11-14T22:13:20Z', content,
    fields: { ToUserName: echo.corpid, FromUserName: 'zhangsan', CreateTime: '1700000000', MsgType: 'text',
      Content: content, MsgId: '7001', AgentID: '218' },
    reply: { msgtype: 'text', content },
  });
  c.ws.close();
});

test('an event: msgtype "event", its name, no content or msgid, the reply it got', async () => {
  const c = await live(client(srv, { key: K_ALL, header: 'x-api-key' }));
  await send('echo', eventXml('enter_agent'));
  const m = await waitFor(c, (x) => x.event === 'enter_agent');
  assert.equal(m.msgtype, 'event');
  assert.equal(m.from, 'lisi');
  assert.equal(m.content, null);
  assert.equal(m.msgid, null);
  assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(m.fields.Event, 'enter_agent');
  assert.equal(m.fields.EventKey, '');
  assert.deepEqual(m.reply, { msgtype: 'text', content: 'Welcome, lisi!' });
  c.ws.close();
});

test("a threaded app's message comes from its handler thread, with the reply it made there", async () => {
  const c = await live(client(srv, { key: K_ALL }));
  const fast = unique('quick');
  await send('slow', textXml(fast));
  const { t0 } = await send('slow', textXml('sleep 300'));
  const m = await waitFor(c, (x) => x.app === 'slow' && x.content === 'sleep 300');
  assert.ok(m._at - t0 < 1000, `latency ${m._at - t0} ms`);
  assert.deepEqual(m.reply, { msgtype: 'text', content: 'slept 300 ms' });
  assert.deepEqual((await waitFor(c, (x) => x.content === fast)).reply, { msgtype: 'text', content: `fast ${fast}` });
  c.ws.close();
});

test('the first frame authenticates: retCode 0; a wrong key gets retCode 1000 and a close with a reason', async () => {
  const c = await live(client(srv, { frame: { app: '', version: '1.0', key: K_ALL } }));
  const content = unique('frame');
  await send('dump', textXml(content));
  await waitFor(c, (x) => x.content === content);
  c.ws.close();

  const bad = client(srv, { frame: { app: '', version: '1.0', key: 'not-a-key-at-all-0000' } });
  const closed = await bad.closed;
  assert.deepEqual(bad.msgs.map(({ _at, ...x }) => x), [{ type: 'AuthCheckResult', retCode: 1000, message: 'wrong API key' }]);
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 1008, reason: 'wrong API key' });

  const junk = client(srv, { frame: 'not json' });
  assert.equal((await junk.closed).code, 1008);
  assert.equal(junk.msgs[0].retCode, 1000);
});

test('refusals before the upgrade: a wrong header key 401, no upgrade 426, POST 405', async () => {
  const r = await client(srv, { key: 'wrong-key-0123456789' }).refused;
  assert.deepEqual(r, { status: 401, body: { code: 401, message: 'missing or wrong API key' } });
  let p = await h.request(srv, { path: '/api/v1/events', headers: { authorization: `Bearer ${K_ALL}` } });
  assert.equal(p.status, 426);
  assert.equal(p.headers.upgrade, 'websocket');
  p = await h.request(srv, { method: 'POST', path: '/api/v1/events', body: '{}' });
  assert.equal(p.status, 405);
});

test("a key sees only its scope's apps; a filter outside it is refused", async () => {
  const all = await live(client(srv, { key: K_ALL }));
  const dump = await live(client(srv, { key: K_DUMP }));
  const a = unique('to echo');
  const b = unique('to dump');
  await send('echo', textXml(a));
  await send('dump', textXml(b));
  await waitFor(all, (x) => x.content === a);
  await waitFor(all, (x) => x.content === b);
  await waitFor(dump, (x) => x.content === b);
  await h.sleep(200);
  assert.deepEqual(dump.msgs.filter((x) => x.type === 'message').map((x) => x.app), ['dump']);
  all.ws.close();
  dump.ws.close();

  let r = await client(srv, { key: K_DUMP, query: '?app=echo' }).refused;
  assert.deepEqual(r, { status: 403, body: { code: 403, message: "app echo is outside the key's scope" } });
  r = await client(srv, { key: K_ALL, query: '?app=nosuch' }).refused;
  assert.equal(r.status, 400);
  const f = client(srv, { frame: { app: 'echo', version: '1', key: K_DUMP } });
  const closed = await f.closed;
  assert.equal(f.msgs[0].retCode, 1001);
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 1008, reason: "app echo is outside the key's scope" });
});

test('filters: app and type (msgtype or event name) from the query or the first frame', async () => {
  const q = await live(client(srv, { key: K_ALL, query: '?app=routes,dump&type=click' }));
  const f = await live(client(srv, { frame: { key: K_ALL, app: ['echo'], type: 'text' } }));
  const t1 = unique('dump text');
  const t2 = unique('echo text');
  await send('dump', textXml(t1));
  await send('routes', eventXml('click', 'k1'));
  await send('echo', eventXml('click', 'k2'));
  await send('echo', textXml(t2));
  await waitFor(q, (x) => x.event === 'click');
  await waitFor(f, (x) => x.content === t2);
  await h.sleep(300);
  const got = (c) => c.msgs.filter((x) => x.type === 'message').map((x) => `${x.app} ${x.msgtype} ${x.event ?? ''}`);
  assert.deepEqual(got(q), ['routes event click']);
  assert.deepEqual(got(f), ['echo text ']);
  q.ws.close();
  f.ws.close();
});

// ---------------------------------------------------------------------
// Which worker holds a TCP connection: the kore worker whose open files
// include the server side of it (its inode in /proc/net/tcp).

function workerPids(s) {
  return execSync(`pgrep -g ${s.child.pid} -f "wrk "`).toString().trim().split('\n').map(Number);
}

function ownerOf(s, clientPort) {
  const hex = (n) => n.toString(16).toUpperCase().padStart(4, '0');
  const line = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[1]?.endsWith(`:${hex(s.port)}`) && f[2]?.endsWith(`:${hex(clientPort)}`));
  assert.ok(line, `the server side of port ${clientPort}`);
  const want = `socket:[${line[9]}]`;
  for (const pid of workerPids(s)) {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try { if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return pid; } catch { /* closed */ }
    }
  }
  return null;
}

// A keep-alive connection to the server: its port and an agent for it.
async function connection(s) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const port = await new Promise((res, rej) => {
    const req = http.get({ host: '127.0.0.1', port: s.port, path: '/__probe__', agent }, (resp) => {
      resp.resume();
      resp.on('end', () => res(req.socket.localPort));
    });
    req.on('error', rej);
  });
  return { agent, port };
}

// Kore 4.1 leaves the accept lock with one worker until that one is full:
// at this load every connection would go to the same worker. With
// http_request_limit 1 a worker passes the lock on as soon as it reads a
// request, so fresh connections reach both.
test('callbacks handled by either worker reach a client of one of them', async (t) => {
  const s = await serverWith({}, { koreExtra: 'http_request_limit 1\n' });
  try {
    const c = await live(client(s, { key: K_ALL }));
    const mine = ownerOf(s, c.ws._socket.localPort);
    assert.ok(mine, 'the client is on a worker');
    const seen = new Map();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const { agent, port } = await connection(s);
      const pid = ownerOf(s, port);
      if (!seen.has(pid)) {
        const content = unique(pid === mine ? 'same worker' : 'other worker');
        const t0 = Date.now();
        const r = await h.callback(s, 'dump', textXml(content), { agent });
        assert.equal(r.status, 200);
        const m = await waitFor(c, (x) => x.content === content);
        seen.set(pid, m._at - t0);
      }
      agent.destroy();
    }
    assert.equal(seen.size, 2, 'callbacks went to both workers');
    assert.ok([...seen.keys()].some((p) => p !== mine), 'one of them not the client\'s');
    for (const [pid, ms] of seen) assert.ok(ms < 1000, `worker ${pid}: ${ms} ms`);
    t.diagnostic(`client on pid ${mine}; callback to event: ${[...seen].map(([p, ms]) => `pid ${p} ${ms} ms`).join(', ')}`);
    c.ws.close();
  } finally {
    await h.stopAndCheck(s);
  }
});

test("a bot's callback: channel aibot_callback, its chat, the stream it answered, no response_url", async () => {
  const all = await live(client(srv, { key: K_ALL }));
  const only = await live(client(srv, { key: K_BOT }));
  const content = unique('bot hello');
  const t0 = Date.now();
  // Its response_url lets whoever holds it answer as the bot: never sent.
  const r = await botCallback(srv, bot, textBody({ content, chatid: 'wrkchat1', msgid: 'botmsg1',
    response_url: 'https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=secret1' }));
  assert.equal(r.status, 200);
  const m = await waitFor(all, (x) => x.content === content);
  assert.ok(m._at - t0 < 1000);
  const { _at, time, ...ev } = m;
  assert.match(time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(time) - Date.now()) < 5000, 'a bot message has no time: now');
  assert.deepEqual(ev, {
    type: 'message', app: 'echobot', channel: 'aibot_callback', msgtype: 'text', event: null, from: 'zhangsan',
    chat: 'wrkchat1', msgid: 'botmsg1', content,
    fields: { msgid: 'botmsg1', aibotid: 'aibFAKE', chattype: 'group', 'from/userid': 'zhangsan', msgtype: 'text',
      'text/content': content, chatid: 'wrkchat1' },
    reply: { msgtype: 'stream', content },
  });
  await waitFor(only, (x) => x.content === content);
  const other = unique('not for the bot key');
  await send('echo', textXml(other));
  await waitFor(all, (x) => x.content === other);
  await h.sleep(100);
  assert.ok(!only.msgs.some((x) => x.content === other), "the bot's key does not see the app");
  all.ws.close();
  only.ws.close();
});

test('pings every WECOM_EVENTS_PING_MS; a client that answers none for two is closed', async () => {
  const s = await serverWith({ WECOM_EVENTS_PING_MS: String(PING_MS), WECOM_EVENTS_AUTH_MS: undefined });
  try {
    await pings(s);
  } finally {
    await h.stopAndCheck(s);
  }
});

async function pings(s) {
  const ok = await live(client(s, { key: K_ALL }));
  const mute = await live(client(s, { key: K_ALL, autoPong: false }));
  const t0 = Date.now();
  const closed = await mute.closed;
  assert.equal(closed.code, 4001);
  assert.match(closed.reason, /^no answer to pings for \d+ ms$/);
  assert.ok(closed.at - t0 >= PING_MS && closed.at - t0 < 2 * PING_MS + 1000, `closed after ${closed.at - t0} ms`);
  assert.ok(mute.pings >= 1, 'it was pinged');
  await h.sleep(5 * PING_MS - (Date.now() - t0));
  assert.equal(ok.ws.readyState, WebSocket.OPEN, 'a client that answers stays');
  assert.ok(ok.pings >= 3, `pinged ${ok.pings} times in ${5 * PING_MS} ms`);
  ok.ws.close();
}

test('an unauthenticated socket that sends nothing is closed after WECOM_EVENTS_AUTH_MS', async () => {
  const c = client(srv, {});
  await c.opened;
  const t0 = Date.now();
  const closed = await c.closed;
  assert.deepEqual({ code: closed.code, reason: closed.reason }, { code: 1008, reason: `no key within ${AUTH_MS} ms` });
  assert.ok(closed.at - t0 >= AUTH_MS - 100 && closed.at - t0 < AUTH_MS + 2000, `closed after ${closed.at - t0} ms`);
  assert.deepEqual(c.msgs, []);
});

test('a client that stops reading is cut off with a reason once its queue is full; callbacks keep their speed', async (t) => {
  // Pings at their default (30 s): only the queue may cut it off.
  const s = await serverWith({ WECOM_EVENTS_AUTH_MS: undefined });
  try {
    const slow = await live(client(s, { key: K_ALL }));
    const fast = await live(client(s, { key: K_ALL }));
    slow.ws._socket.pause();
    const big = 'x'.repeat(12000);
    const times = [];
    let n = 0;
    for (; n < 600; n++) {
      const t0 = performance.now();
      const r = await h.callback(s, 'dump', textXml(`${big} ${n}`));
      times.push(performance.now() - t0);
      assert.equal(r.status, 200);
      if (n % 10 === 9 && /events: #\d+ .*closed: too slow/.test(s.log())) break;
    }
    assert.ok(n < 600, 'the slow client was cut off');
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1];
    const said = `${times.length} callbacks (events of ~37 KB): median ${median.toFixed(1)} ms, max ${times.at(-1).toFixed(1)} ms`;
    t.diagnostic(said);
    assert.ok(median < 50 && times.at(-1) < 1000, said);
    // The fast one got every event meanwhile.
    await waitFor(fast, (x) => x.content === `${big} ${n}`);
    assert.equal(fast.msgs.filter((x) => x.type === 'message').length, n + 1);
    slow.ws._socket.resume();
    const closed = await slow.closed;
    assert.equal(closed.code, 4000);
    assert.match(closed.reason, /^too slow: \d+ frames \(\d+ bytes\) unread$/);
    assert.ok(slow.msgs.length < n, `the slow client got ${slow.msgs.length} of ${n + 1}`);
    // The fast one stays connected: the server stops cleanly under it.
  } finally {
    await h.stopAndCheck(s);
  }
});

// ---------------------------------------------------------------------
// The examples of docs/api.md (Live events), as printed there, against this
// server: each must say "listening", then print a text callback's content.

function docBlock(lang) {
  const all = readFileSync(join(h.ROOT, 'docs', 'api.md'), 'utf8');
  const from = all.indexOf('## Live events');
  const doc = all.slice(from, all.indexOf('\n## ', from + 1));
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(doc);
  assert.ok(m, `a ${lang} block in docs/api.md's Live events`);
  return m[1].replaceAll('wss://bot.example.com', `ws://127.0.0.1:${srv.port}`);
}

async function runExample(cmd, args, dir) {
  const child = spawn(cmd, args, { cwd: dir, env: { ...process.env, WECOM_KEY: K_ALL }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const until = async (what) => {
    for (let i = 0; i < 500 && !out.includes(what); i++) await h.sleep(10);
    assert.ok(out.includes(what), `${cmd}: no "${what}" in:\n${out}`);
  };
  try {
    await until('listening');
    const content = unique('from the docs');
    await send('echo', textXml(content));
    await until(content);
    assert.match(out, new RegExp(`\\[echo\\] zhangsan: text ${content}|\\[echo\\] zhangsan text ${content}`));
  } finally {
    child.kill();
  }
}

test('the Node and Python examples of docs/api.md (Live events) work as printed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'wecom-events-doc-'));
  try {
    symlinkSync(join(h.ROOT, 'tests', 'node_modules'), join(dir, 'node_modules'));
    writeFileSync(join(dir, 'events.mjs'), docBlock('js'));
    await runExample(process.execPath, ['events.mjs'], dir);
    const py = ['python3', '/usr/bin/python3'].find((p) => spawnSync(p, ['-c', 'import websockets'], { stdio: 'ignore' }).status === 0);
    if (!py) {
      t.diagnostic('Python example not run: no python3 with websockets (apt-get install python3-websockets)');
      return;
    }
    writeFileSync(join(dir, 'events.py'), docBlock('python'));
    await runExample(py, ['events.py'], dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
