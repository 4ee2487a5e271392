// SPDX-License-Identifier: ISC
// The built-in app "forward" through the real server: each callback is
// POSTed, signed, to a receiver of the user's, whose JSON answer is the
// reply — for an app and a bot alike; the README's Python receiver is
// run as it is written there.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from './harness.mjs';
import { callbackBot, textBody, botCallback } from '../aibot/bot.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const SECRET = 'fwd-' + randomBytes(8).toString('hex');
let srv, fake, recv, py, pyPort, dir;
const got = [];
let answer = () => ({ status: 200, body: { msg_type: 'text', text: 'hi back' } });

function startReceiver() {
  return new Promise((resolve) => {
    const s = http.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString();
        got.push({ headers: req.headers, body, json: JSON.parse(body) });
        const a = await answer(got.at(-1));
        if (a.delayMs) await h.sleep(a.delayMs);
        const text = a.raw ?? (a.body === undefined ? '' : JSON.stringify(a.body));
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(text);
      });
    });
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}

const bot = callbackBot('fwdbot', 'forward');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wecom-fwd-'));
  recv = await startReceiver();
  fake = await startFake();
  // The README's reference receiver, as written there.
  const readme = readFileSync(join(h.ROOT, 'README.md'), 'utf8');
  const code = /```python\n([\s\S]*?)```/.exec(readme)[1];
  writeFileSync(join(dir, 'receiver.py'), code);
  pyPort = 20000 + Math.floor(Math.random() * 20000);
  py = spawn('python3', [join(dir, 'receiver.py')], {
    env: { ...process.env, FORWARD_SECRET: SECRET, PORT: String(pyPort) }, stdio: 'ignore',
  });
  process.env.WECOM_TEST_FORWARD_SECRET = SECRET;
  const url = `http://127.0.0.1:${recv.address().port}/hook`;
  srv = await h.startServer({
    apiBase: fake.base,
    globalExtra: 'outbox_interval_ms = 300\noutbox_backoff_ms = 300\n',
    apps: [
      { name: 'fwd', handler: 'forward', corpid: CORPID, agentid: 1000002,
        extra: `secret = app-secret-1\nforward = ${url}\nforward_secret = env:WECOM_TEST_FORWARD_SECRET\ndeadline_ms = 1000\n` },
      { name: 'fwdpy', handler: 'forward', extra: `forward = http://127.0.0.1:${pyPort}/\nforward_secret = env:WECOM_TEST_FORWARD_SECRET\n` },
    ],
    sections: bot.section.replace('handler = forward', `handler = forward\nforward = ${url}\nforward_secret = env:WECOM_TEST_FORWARD_SECRET`),
  });
});
after(async () => {
  await h.stopAndCheck(srv);
  py.kill();
  recv.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

const xml = (content, from = 'zhangsan') => h.toXml({
  ToUserName: CORPID, FromUserName: from, CreateTime: '1700000000', MsgType: 'text',
  Content: content, MsgId: String(Date.now()) + randomBytes(2).readUInt16BE(0), AgentID: '1000002',
});

test('a callback is POSTed signed, in the documented shape, and the answer is the reply', async () => {
  const r = await h.callback(srv, 'fwd', xml('hello receiver'));
  assert.equal(r.msg.get('Content'), 'hi back');
  const e = got.at(-1);
  assert.deepEqual(Object.keys(e.json).sort(), ['app', 'channel', 'chat', 'content', 'event', 'fields', 'from', 'id', 'msgid', 'msgtype', 'time']);
  assert.equal(e.json.app, 'fwd');
  assert.equal(e.json.channel, 'app');
  assert.equal(e.json.content, 'hello receiver');
  assert.equal(e.json.from, 'zhangsan');
  assert.equal(e.json.time, '2023-11-14T22:13:20Z');
  assert.equal(e.json.fields.Content, 'hello receiver');
  assert.equal(e.headers['x-wecom-event-id'], `fwd:${e.json.msgid}`);
  const ts = e.headers['x-wecom-timestamp'];
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60);
  const want = 'sha256=' + createHmac('sha256', SECRET).update(`${ts}.${e.body}`).digest('hex');
  assert.equal(e.headers['x-wecom-signature'], want);
});

test('answers: news, media by id, {} and 204 mean no reply', async () => {
  answer = () => ({ status: 200, body: { msg_type: 'news', articles: [{ title: 'T', description: 'D', url: 'https://e.x/', picurl: 'https://e.x/p.png' }] } });
  let r = await h.callback(srv, 'fwd', xml('news'));
  assert.equal(r.msg.get('MsgType'), 'news');
  assert.equal(r.msg.get('Articles/item/Title'), 'T');
  answer = () => ({ status: 200, body: { msg_type: 'image', media_id: 'MEDIA1' } });
  r = await h.callback(srv, 'fwd', xml('img'));
  assert.equal(r.msg.get('Image/MediaId'), 'MEDIA1');
  for (const a of [{ status: 200, body: {} }, { status: 204 }, { status: 200, raw: '' }]) {
    answer = () => a;
    r = await h.callback(srv, 'fwd', xml('nothing'));
    assert.equal(r.status, 200);
    assert.equal(r.body.length, 0, JSON.stringify(a));
  }
});

test('a bot: markdown answers as a finished stream', async () => {
  answer = () => ({ status: 200, body: { msg_type: 'markdown', markdown: '**md**' } });
  const r = await botCallback(srv, bot, textBody({ content: 'bot says' }));
  assert.equal(r.reply.stream.content, '**md**');
  assert.equal(got.at(-1).json.channel, 'aibot_callback');
  assert.equal(got.at(-1).json.fields['from/userid'], 'zhangsan');
});

test('an answer later than the deadline goes out as a message', async () => {
  answer = () => ({ status: 200, delayMs: 1500, body: { msg_type: 'text', text: 'slow answer' } });
  const r = await h.callback(srv, 'fwd', xml('take your time', 'lisi'));
  assert.equal(r.body.length, 0, 'answered empty at the deadline');
  let sent;
  for (let i = 0; i < 50 && !sent; i++) {
    await h.sleep(100);
    sent = fake.state.messages.find((m) => m.api === 'message/send' && m.body.text?.content === 'slow answer');
  }
  assert.ok(sent, 'the late answer was sent as a message');
  assert.equal(sent.body.touser, 'lisi');
});

test('the README\'s Python receiver answers, and refuses a bad signature', async () => {
  let r;
  for (let i = 0; i < 50; i++) {
    r = await h.callback(srv, 'fwdpy', h.toXml({ ToUserName: srv.apps.fwdpy.corpid, FromUserName: 'wangwu',
      CreateTime: '1', MsgType: 'text', Content: 'ping', MsgId: String(Date.now()), AgentID: '1000010' }));
    if (r.msg) break;
    await h.sleep(100);		// python3 still starting
  }
  assert.equal(r.msg.get('Content'), 'you said: ping');
  const bad = await fetch(`http://127.0.0.1:${pyPort}/`, { method: 'POST', body: '{}', headers: { 'x-wecom-timestamp': '1', 'x-wecom-signature': 'sha256=00' } });
  assert.equal(bad.status, 403);
});

test('a receiver that is down gets the message again, same id; its late answer is sent as a message', async () => {
  let calls = 0;
  answer = () => (++calls < 3 ? { status: 503, body: { error: 'down' } }
    : { status: 200, body: { msg_type: 'text', text: 'after the outage' } });
  const before = got.length;
  const r = await h.callback(srv, 'fwd', xml('are you there', 'zhaoliu'));
  assert.equal(r.body.length, 0, 'no reply while down');
  let sent;
  for (let i = 0; i < 100 && !sent; i++) {
    await h.sleep(100);
    sent = fake.state.messages.find((m) => m.api === 'message/send' && m.body.text?.content === 'after the outage');
  }
  assert.ok(sent, 'delivered once the receiver answered');
  assert.equal(sent.body.touser, 'zhaoliu');
  const ids = got.slice(before).map((g) => g.headers['x-wecom-event-id']);
  assert.ok(ids.length >= 3, `${ids.length} POSTs`);
  assert.equal(new Set(ids).size, 1, 'the same id every time');
});
