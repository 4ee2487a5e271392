// SPDX-License-Identifier: ISC
// The fake aibot long-connection server enforces what it claims: driven by
// a plain `ws` client, each rule of shared/aibot-protocol.md §2 it checks
// is broken once and must show up in `errors` with WeCom's errcode, and
// the well-behaved paths leave `errors` empty. Plus wss:// with a
// throw-away certificate, and ws:// and wss:// through the CONNECT proxy.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { execFileSync, spawnSync } from 'node:child_process';
import WebSocket from 'ws';
import { startAibot, textMsg, enterChat, cardEvent, media } from './server.mjs';
import { startProxy } from './proxy.mjs';

const BOT = 'aibFAKE0001';
const SECRET = 'fake-secret-0001';
const BOT2 = 'aibFAKE0002';
const BOTS = { [BOT]: SECRET, [BOT2]: 'fake-secret-0002' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let seq = 0;
const reqId = (p) => `${p}_${Date.now()}_${++seq}`;

// A bare client: an inbox of parsed frames from the fake, take() consumes
// the first unconsumed one that matches.
function connect(url, wsOpts = {}) {
  const ws = new WebSocket(url, wsOpts);
  const inbox = [];
  const waiters = new Set();
  ws.on('message', (d) => {
    inbox.push({ json: JSON.parse(d.toString()), used: false });
    for (const w of [...waiters]) w();
  });
  const closed = new Promise((r) => ws.on('close', (code) => { r(code); for (const w of [...waiters]) w(); }));
  ws.on('error', () => {});
  const c = {
    ws, inbox, closed,
    opened: new Promise((resolve, reject) => { ws.on('open', resolve); ws.on('error', reject); }),
    send: (o) => ws.send(typeof o === 'string' ? o : JSON.stringify(o)),
    take(pred, ms = 2000) {
      return new Promise((resolve, reject) => {
        const look = () => {
          const m = inbox.find((x) => !x.used && pred(x.json));
          if (!m) return false;
          m.used = true;
          waiters.delete(look);
          clearTimeout(timer);
          resolve(m.json);
          return true;
        };
        const timer = setTimeout(() => { waiters.delete(look); reject(new Error('take: timeout')); }, ms);
        if (!look()) waiters.add(look);
      });
    },
    ack: (id, ms) => c.take((j) => !j.cmd && j.headers && j.headers.req_id === id, ms),
    // Send a request frame and wait for its ack.
    async req(cmd, body, id = reqId(cmd)) {
      c.send({ cmd, headers: { req_id: id }, ...(body === undefined ? {} : { body }) });
      return c.ack(id);
    },
    async subscribe(bot = BOT, secret = BOTS[bot]) {
      await c.opened;
      return c.req('aibot_subscribe', { bot_id: bot, secret });
    },
    close() { ws.terminate(); },
  };
  return c;
}

async function subscribed(fake, bot = BOT, wsOpts) {
  const c = connect(fake.url, wsOpts);
  const a = await c.subscribe(bot);
  assert.equal(a.errcode, 0, JSON.stringify(a));
  return c;
}

// A callback pushed by the fake, as the client receives it.
async function callback(fake, c, body, bot = BOT) {
  const id = body.msgtype === 'event' ? fake.event(bot, body) : fake.send(bot, body);
  const f = await c.take((j) => j.headers && j.headers.req_id === id && j.cmd);
  return [id, f];
}

const stream = (id, content, finish = false) =>
  ({ msgtype: 'stream', stream: { id, finish, content } });

let fake;
const opened = [];
before(async () => { fake = await startAibot({ bots: BOTS }); });
after(async () => {
  for (const c of opened) c.close();
  await fake.close();
});
// Each test gets its own fake when it needs options or a clean slate.
async function fresh(t, opts = {}) {
  const f = await startAibot({ bots: BOTS, ...opts });
  t.after(() => f.close());
  return f;
}

test('subscribe: ack errcode 0, the connection is live and counted', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  assert.equal(f.connections[BOT], 1);
  assert.equal(f.subscribes[BOT], 1);
  assert.ok(f.isLive(BOT));
  const sub = await f.waitFrame((x) => x.json && x.json.cmd === 'aibot_subscribe');
  assert.equal(sub.bot, BOT);
  assert.equal(typeof sub.t, 'number');
  assert.deepEqual(f.errors, []);
});

test('subscribe: wrong secret → 853000, then closed', async (t) => {
  const f = await fresh(t);
  const c = connect(f.url);
  const a = await c.subscribe(BOT, 'wrong');
  assert.equal(a.errcode, 853000);
  await c.closed;
  assert.equal(f.connections[BOT], undefined);
  assert.equal(f.subscribes[BOT], 1);
  assert.match(f.errors.join('\n'), /^subscribe: bad credentials/m);
});

test('subscribe must come first: a ping before it is an error', async (t) => {
  const f = await fresh(t);
  const c = connect(f.url);
  await c.opened;
  const a = await c.req('ping');
  assert.notEqual(a.errcode, 0);
  await c.closed;
  assert.match(f.errors[0], /^order: ping before a successful aibot_subscribe/);
});

test('frames: binary, not JSON, no req_id, unknown cmd are errors', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  c.ws.send(Buffer.from('{"cmd":"ping","headers":{"req_id":"b1"}}'), { binary: true });
  c.send('{not json');
  c.send({ cmd: 'ping', headers: {} });
  c.send({ cmd: 'ping', headers: { req_id: '' } });
  const a = await c.req('aibot_dance', {});
  assert.equal(a.errcode, 40058);
  const tags = f.errors.map((e) => e.split(':')[0]);
  assert.deepEqual(tags, ['frame', 'frame', 'req_id', 'req_id', 'cmd']);
  assert.equal(f.frames.length, 6);
  assert.equal(f.frames[2].json, null);
});

test('ping: acked; with setPingAck(false) recorded but unanswered', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const a = await c.req('ping');
  assert.deepEqual(a, { headers: { req_id: a.headers.req_id }, errcode: 0, errmsg: 'ok' });
  f.setPingAck(false);
  const id = reqId('ping');
  c.send({ cmd: 'ping', headers: { req_id: id } });
  await assert.rejects(c.ack(id, 300), /timeout/);
  assert.equal(f.frames.filter((x) => x.json.cmd === 'ping').length, 2);
  f.setPingAck(true);
  assert.equal((await c.req('ping')).errcode, 0);
  assert.deepEqual(f.errors, []);
});

test('a client request reusing a req_id is an error', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  await c.req('ping', undefined, 'ping_same');
  await c.req('ping', undefined, 'ping_same');
  assert.match(f.errors.join('\n'), /^req_id: ping .* reuses req_id ping_same/m);
});

const isDisconnected = (j) => j.cmd === 'aibot_event_callback'
  && j.body.msgtype === 'event' && j.body.event.eventtype === 'disconnected_event';

test('a second connection kicks the first: disconnected_event, then close', async (t) => {
  const f = await fresh(t);
  const old = await subscribed(f);
  const neu = await subscribed(f);
  t.after(() => { old.close(); neu.close(); });
  const ev = await old.take(isDisconnected);
  assert.ok(typeof ev.headers.req_id === 'string' && ev.headers.req_id.length > 0);
  assert.equal(ev.body.aibotid, BOT);
  assert.equal(await old.closed, 1000);
  assert.equal(f.connections[BOT], 2);
  assert.ok(f.isLive(BOT));
  // Callbacks go to the new one.
  const [, cb] = await callback(f, neu, textMsg({ content: 'hi' }));
  assert.equal(cb.body.text.content, 'hi');
  assert.ok(!neu.inbox.some((m) => isDisconnected(m.json)));
  assert.deepEqual(f.errors, []);
});

test('kick(): disconnected_event then close; drop(): no close frame', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  assert.ok(f.kick(BOT));
  await c.take(isDisconnected);
  assert.equal(await c.closed, 1000);
  assert.ok(!f.isLive(BOT));
  assert.throws(() => f.send(BOT, textMsg()), /no live connection/);

  const d = await subscribed(f);
  assert.equal(await f.waitConnected(BOT, 2), 2);
  assert.ok(f.drop(BOT));
  assert.equal(await d.closed, 1006);	// abnormal: the TCP socket just went
  assert.ok(!d.inbox.some((m) => isDisconnected(m.json)));
  assert.deepEqual(f.errors, []);
});

test('callbacks: §1 message and event bodies, fresh req_ids', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id1, m] = await callback(f, c, textMsg({ from: 'lisi', content: '你好' }));
  assert.equal(m.cmd, 'aibot_msg_callback');
  assert.equal(m.body.aibotid, BOT);
  assert.equal(m.body.chattype, 'single');
  assert.equal(m.body.chatid, undefined);
  assert.deepEqual(m.body.from, { userid: 'lisi' });
  assert.deepEqual(m.body.text, { content: '你好' });
  assert.equal(m.body.msgtype, 'text');
  assert.match(m.body.response_url, /^https:\/\/qyapi\.weixin\.qq\.com\/cgi-bin\/aibot\/response\?response_code=/);
  assert.ok(m.body.msgid);
  const [id2, g] = await callback(f, c, textMsg({ content: '@bot hi', chatid: 'wrgroup1' }));
  assert.equal(g.body.chattype, 'group');
  assert.equal(g.body.chatid, 'wrgroup1');
  assert.notEqual(id1, id2);
  const [, e] = await callback(f, c, enterChat());
  assert.equal(e.cmd, 'aibot_event_callback');
  assert.deepEqual(e.body.event, { eventtype: 'enter_chat' });
  assert.equal(typeof e.body.create_time, 'number');
  const [, k] = await callback(f, c, cardEvent({ event_key: 'yes', task_id: 'T1' }));
  assert.deepEqual(k.body.event, { eventtype: 'template_card_event',
    template_card_event: { card_type: 'button_interaction', event_key: 'yes', task_id: 'T1' } });
});

test('stream reply: acked per update; after finish:true an update is an error', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id] = await callback(f, c, textMsg({ content: 'q' }));
  for (const [text, fin] of [['一', false], ['一二', false], ['一二三', true]]) {
    const a = await c.req('aibot_respond_msg', stream('S1', text, fin), id);
    assert.equal(a.errcode, 0);
  }
  assert.equal(f.replies(id).length, 3);
  assert.equal(f.streams.get(`${BOT}\0S1`).content, '一二三');
  assert.deepEqual(f.errors, []);
  const a = await c.req('aibot_respond_msg', stream('S1', 'more', false), id);
  assert.equal(a.errcode, 846608);
  assert.match(f.errors[0], /^stream: .*after finish:true/);
});

test('reply to a req_id the fake never sent → 846605', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const a = await c.req('aibot_respond_msg', { msgtype: 'markdown', markdown: { content: 'x' } }, 'made_up');
  assert.equal(a.errcode, 846605);
  assert.match(f.errors[0], /^reply: /);
});

test('two replies on one req_id before the first is acked → inflight error', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id] = await callback(f, c, textMsg());
  f.setAckDelay(150);
  // One at a time: fine.
  await c.req('aibot_respond_msg', stream('S', 'a'), id);
  await c.req('aibot_respond_msg', stream('S', 'ab'), id);
  assert.deepEqual(f.errors, []);
  // Two at once: the second is flagged.
  c.send({ cmd: 'aibot_respond_msg', headers: { req_id: id }, body: stream('S', 'abc') });
  c.send({ cmd: 'aibot_respond_msg', headers: { req_id: id }, body: stream('S', 'abcd', true) });
  await c.ack(id); await c.ack(id);
  assert.equal(f.errors.length, 1);
  assert.match(f.errors[0], /^inflight: /);
});

test('streamWindowMs: an update after the window → 846608', async (t) => {
  const f = await fresh(t, { streamWindowMs: 200 });
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id] = await callback(f, c, textMsg());
  assert.equal((await c.req('aibot_respond_msg', stream('W', 'x'), id)).errcode, 0);
  await sleep(250);
  assert.equal((await c.req('aibot_respond_msg', stream('W', 'xy', true), id)).errcode, 846608);
  assert.match(f.errors[0], /^stream-expired: /);
});

test('reply bodies: msgtype, stream fields and the 20480-byte content limit', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id] = await callback(f, c, textMsg());
  const bad = [
    { msgtype: 'news', news: {} },
    { msgtype: 'stream', stream: { id: 'B', content: 'x' } },		// no finish
    { msgtype: 'stream', stream: { id: 7, content: 'x', finish: false } },
    { msgtype: 'stream', stream: { id: 'B', content: 'x'.repeat(20481), finish: false } },
    { msgtype: 'markdown', markdown: {} },
    { msgtype: 'file', file: { media_id: 'never-uploaded' } },
  ];
  for (const b of bad) assert.equal((await c.req('aibot_respond_msg', b, id)).errcode, 40058);
  assert.equal(f.errors.length, bad.length);
  assert.ok(f.errors.every((e) => e.startsWith('shape: ')), f.errors.join('\n'));
  // 20480 bytes of UTF-8 is fine (6826 × 3 bytes + 2).
  const ok = '中'.repeat(6826) + 'ab';
  assert.equal(Buffer.byteLength(ok), 20480);
  assert.equal((await c.req('aibot_respond_msg', stream('B', ok, true), id)).errcode, 0);
  assert.equal((await c.req('aibot_respond_msg', { msgtype: 'markdown', markdown: { content: 'ok' } }, id)).errcode, 0);
  assert.equal(f.errors.length, bad.length);
});

test('welcome only to enter_chat, update only to a card event, within the window', async (t) => {
  const f = await fresh(t, { eventWindowMs: 300 });
  const c = await subscribed(f);
  t.after(() => c.close());
  const welcome = { msgtype: 'text', text: { content: '欢迎' } };
  const [enter] = await callback(f, c, enterChat());
  assert.equal((await c.req('aibot_respond_welcome_msg', welcome, enter)).errcode, 0);
  const [card] = await callback(f, c, cardEvent({ task_id: 'T9' }));
  const upd = { response_type: 'update_template_card',
    template_card: { card_type: 'button_interaction', task_id: 'T9' } };
  assert.equal((await c.req('aibot_respond_update_msg', upd, card)).errcode, 0);
  assert.deepEqual(f.errors, []);

  const [msg] = await callback(f, c, textMsg());
  assert.equal((await c.req('aibot_respond_welcome_msg', welcome, msg)).errcode, 846605);
  assert.equal((await c.req('aibot_respond_update_msg', upd, msg)).errcode, 846605);
  assert.equal((await c.req('aibot_respond_msg', stream('Z', 'x'), card)).errcode, 846605);
  assert.equal(f.errors.filter((e) => e.startsWith('reply: ')).length, 3);

  const [late] = await callback(f, c, enterChat());
  await sleep(350);
  assert.equal((await c.req('aibot_respond_welcome_msg', welcome, late)).errcode, 846608);
  assert.match(f.errors.at(-1), /^window: /);
});

test('setErrcode: the next acks of a cmd fail, then it recovers', async (t) => {
  const f = await fresh(t);
  f.setErrcode('aibot_subscribe', 853000, 1);
  const c0 = connect(f.url);
  assert.equal((await c0.subscribe()).errcode, 853000);
  await c0.closed;
  const c = await subscribed(f);
  t.after(() => c.close());
  const [id] = await callback(f, c, textMsg());
  f.setErrcode('aibot_respond_msg', 846608, 2);
  const md = { msgtype: 'markdown', markdown: { content: 'x' } };
  assert.equal((await c.req('aibot_respond_msg', md, id)).errcode, 846608);
  assert.equal((await c.req('aibot_respond_msg', md, id)).errcode, 846608);
  assert.equal((await c.req('aibot_respond_msg', md, id)).errcode, 0);
  assert.deepEqual(f.errors, [], 'injected failures are not the client\'s errors');
});

test('aibot_send_msg: shape, per-conversation record, 30 per minute', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const md = (n) => ({ chatid: 'zhangsan', chat_type: 1, msgtype: 'markdown', markdown: { content: `#${n}` } });
  for (let i = 1; i <= 30; i++) assert.equal((await c.req('aibot_send_msg', md(i))).errcode, 0);
  assert.equal(f.sentTo(BOT, 'zhangsan').length, 30);
  assert.deepEqual(f.errors, []);
  assert.equal((await c.req('aibot_send_msg', md(31))).errcode, 45009);
  assert.match(f.errors[0], /^rate: /);
  // Another conversation has its own budget.
  assert.equal((await c.req('aibot_send_msg', { ...md(1), chatid: 'wrgroup1', chat_type: 2 })).errcode, 0);
  for (const b of [{ ...md(1), chat_type: 3 }, { ...md(1), chatid: '' },
    { chatid: 'lisi', chat_type: 1, msgtype: 'text', text: { content: 'x' } }])
    assert.equal((await c.req('aibot_send_msg', b)).errcode, 40058);
  assert.equal(f.errors.filter((e) => e.startsWith('shape: ')).length, 3);
});

test('media upload: init, chunks in any order, finish with md5 → media_id', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const data = crypto.randomBytes(512 * 1024 * 2 + 1000);
  const CH = 512 * 1024;
  const init = await c.req('aibot_upload_media_init', { type: 'file', filename: 'r.bin',
    total_size: data.length, total_chunks: 3, md5: crypto.createHash('md5').update(data).digest('hex') });
  assert.equal(init.errcode, 0);
  const up = init.body.upload_id;
  assert.ok(up);
  for (const i of [2, 0, 1, 1])	// any order, idempotent
    assert.equal((await c.req('aibot_upload_media_chunk', { upload_id: up, chunk_index: i,
      base64_data: data.subarray(i * CH, (i + 1) * CH).toString('base64') })).errcode, 0);
  const fin = await c.req('aibot_upload_media_finish', { upload_id: up });
  assert.equal(fin.errcode, 0);
  assert.equal(fin.body.type, 'file');
  assert.ok(fin.body.media_id && fin.body.created_at);
  assert.ok(f.media(fin.body.media_id).equals(data));
  assert.ok(media(fin.body.media_id).equals(data));
  assert.deepEqual(f.errors, []);
  // The media_id is good for a reply.
  const [id] = await callback(f, c, textMsg());
  assert.equal((await c.req('aibot_respond_msg', { msgtype: 'file', file: { media_id: fin.body.media_id } }, id)).errcode, 0);

  // Wrong md5, missing chunk, oversized chunk, too many chunks.
  const small = Buffer.from('hello');
  const bad = await c.req('aibot_upload_media_init', { type: 'image', filename: 'a.png',
    total_size: 5, total_chunks: 1, md5: '0'.repeat(32) });
  await c.req('aibot_upload_media_chunk', { upload_id: bad.body.upload_id, chunk_index: 0, base64_data: small.toString('base64') });
  assert.equal((await c.req('aibot_upload_media_finish', { upload_id: bad.body.upload_id })).errcode, 40058);
  const two = await c.req('aibot_upload_media_init', { type: 'file', filename: 'b', total_size: 10,
    total_chunks: 2, md5: '0'.repeat(32) });
  assert.equal((await c.req('aibot_upload_media_finish', { upload_id: two.body.upload_id })).errcode, 40058);
  assert.equal((await c.req('aibot_upload_media_chunk', { upload_id: two.body.upload_id, chunk_index: 0,
    base64_data: Buffer.alloc(CH + 1).toString('base64') })).errcode, 40058);
  assert.equal((await c.req('aibot_upload_media_init', { type: 'file', filename: 'c',
    total_size: 1, total_chunks: 101, md5: '0'.repeat(32) })).errcode, 40058);
  const errs = f.errors.join('\n');
  assert.match(errs, /md5/);
  assert.match(errs, /chunks missing: 0,1/);
  assert.match(errs, /chunk of 524289 bytes/);
  assert.match(errs, /total_chunks must be 1\.\.100/);
  assert.equal(f.errors.length, 4);
});

test('waitFrame: past and future frames, rejects on timeout', async (t) => {
  const f = await fresh(t);
  const c = await subscribed(f);
  t.after(() => c.close());
  const past = await f.waitFrame((x) => x.json && x.json.cmd === 'aibot_subscribe', 100);
  assert.equal(past.json.body.bot_id, BOT);
  const later = f.waitFrame((x) => x.json && x.json.cmd === 'ping');
  await c.req('ping');
  assert.equal((await later).json.cmd, 'ping');
  await assert.rejects(f.waitFrame(() => false, 50), /timed out/);
});

// ---- TLS and the proxy ----------------------------------------------------

const TLS_SKIP = spawnSync('sh', ['-c', 'command -v openssl']).status === 0 ? false
  : 'openssl not installed: no certificate for the wss:// fake';
let certDir, pki;
before(() => {
  if (TLS_SKIP) return;
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-aibot-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days', '1', '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem')],
  { stdio: 'ignore' });
  pki = { key: fs.readFileSync(path.join(certDir, 'key.pem')), cert: fs.readFileSync(path.join(certDir, 'cert.pem')) };
});
after(() => certDir && fs.rmSync(certDir, { recursive: true, force: true }));

test('wss: the fake over TLS, verified against the throw-away cert as CA', { skip: TLS_SKIP }, async (t) => {
  const f = await fresh(t, { tls: pki });
  assert.match(f.url, /^wss:\/\/localhost:\d+$/);
  const c = await subscribed(f, BOT, { ca: pki.cert });
  t.after(() => c.close());
  assert.equal((await c.req('ping')).errcode, 0);
  // Without the CA the handshake fails.
  const u = connect(f.url);
  await assert.rejects(u.opened, /self-signed|certificate/);
  assert.deepEqual(f.errors, []);
});

function tunnel(proxy, target, authz) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: proxy.port, method: 'CONNECT', path: target,
      headers: authz ? { 'proxy-authorization': authz } : {} });
    req.on('connect', (res, socket) => (res.statusCode === 200 ? resolve(socket)
      : (socket.destroy(), reject(new Error(`proxy said ${res.statusCode}`)))));
    req.on('error', reject);
    req.end();
  });
}

test('proxy: CONNECT tunnels ws:// and wss:// and records the targets', { skip: TLS_SKIP }, async (t) => {
  const proxy = await startProxy();
  t.after(() => proxy.close());
  const plain = await fresh(t);
  const secure = await fresh(t, { tls: pki });

  const s1 = await tunnel(proxy, `127.0.0.1:${plain.port}`);
  const c1 = await subscribed(plain, BOT, { createConnection: () => s1 });
  t.after(() => c1.close());
  assert.equal((await c1.req('ping')).errcode, 0);

  const s2 = await tunnel(proxy, `localhost:${secure.port}`);
  const c2 = await subscribed(secure, BOT, {
    createConnection: () => tls.connect({ socket: s2, servername: 'localhost', ca: pki.cert }) });
  t.after(() => c2.close());
  const [id] = await callback(secure, c2, textMsg({ content: 'via proxy' }));
  assert.equal((await c2.req('aibot_respond_msg', stream('P', 'ok', true), id)).errcode, 0);

  assert.deepEqual(proxy.connects, [`127.0.0.1:${plain.port}`, `localhost:${secure.port}`]);
  assert.deepEqual(plain.errors, []);
  assert.deepEqual(secure.errors, []);
});

test('proxy: with auth, a CONNECT without credentials gets 407', async (t) => {
  const proxy = await startProxy({ auth: 'u:p' });
  t.after(() => proxy.close());
  await assert.rejects(tunnel(proxy, `127.0.0.1:${fake.port}`), /407/);
  const s = await tunnel(proxy, `127.0.0.1:${fake.port}`, 'Basic ' + Buffer.from('u:p').toString('base64'));
  const c = await subscribed(fake, BOT2, { createConnection: () => s });
  opened.push(c);
  assert.equal(proxy.connects.length, 2);
  assert.deepEqual(proxy.requests.map((r) => r.ok), [false, true]);
});
