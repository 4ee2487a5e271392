// SPDX-License-Identifier: ISC
// Intelligent bots in callback mode, through the real server: the same
// C handlers as apps, JSON in and out, streams answered from the shared
// table whichever worker WeCom's refresh reaches.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encrypt, getSignature } from '@wecom/crypto';
import { startServer, stopAndCheck, request, sleep, callback } from '../callback/harness.mjs';
import { startFake } from '../fake_wecom/server.mjs';
import { callbackBot, textBody, refreshBody, eventBody, buildBotCallback, botCallback } from './bot.mjs';

const echo = callbackBot('echobot', 'echo');
const streamer = callbackBot('streamer', 'stream', 'deadline_ms = 400\n');
let srv, fake;

before(async () => {
  fake = await startFake();
  srv = await startServer({
    sections: echo.section + streamer.section, dedupe: true, apiBase: fake.base,
    apps: [{ name: 'streamapp', handler: 'stream' }],
  });
});
after(async () => { if (process.env.DUMP_LOG) (await import("node:fs")).writeFileSync(process.env.DUMP_LOG, srv.log()); await stopAndCheck(srv); await fake.close(); });

test('URL verification answers the echostr within a second', async () => {
  const echostr = randomBytes(8).toString('hex');
  const enc = encrypt(echo.aeskey, echostr, '');
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = getSignature(echo.token, ts, 'n1', enc);
  const r = await request(srv, { path: `${echo.path}?msg_signature=${sig}&timestamp=${ts}&nonce=n1&echostr=${encodeURIComponent(enc)}` });
  assert.equal(r.status, 200);
  assert.equal(r.text, echostr);
  assert.ok(r.ms < 1000);
});

test('an inline app answers a bot text as a finished stream', async () => {
  const r = await botCallback(srv, echo, textBody({ content: '你好 bot' }));
  assert.equal(r.status, 200);
  assert.equal(r.reply.msgtype, 'stream');
  assert.equal(r.reply.stream.finish, true);
  assert.equal(r.reply.stream.content, '你好 bot');
  assert.match(r.reply.stream.id, /^[0-9a-f]{32}$/);
});

test('enter_chat gets a text welcome', async () => {
  const r = await botCallback(srv, echo, eventBody('enter_chat'));
  assert.deepEqual(r.reply, { msgtype: 'text', text: { content: 'Welcome, zhangsan!' } });
});

test('a receiveid other than "" is accepted when none is configured', async () => {
  const r = await botCallback(srv, echo, textBody({ content: 'rid' }), { receiveid: 'aibSOMEBOT' });
  assert.equal(r.reply.stream.content, 'rid');
});

test('bad envelopes: not JSON, no encrypt, wrong signature', async () => {
  for (const body of ['<xml/>', '{}', '{"encrypt":5}', '[1,2]']) {
    const cb = buildBotCallback(echo, textBody({ content: 'x' }), { body });
    const r = await request(srv, { method: 'POST', path: cb.path, body });
    assert.equal(r.status, 400, body);
  }
  const cb = buildBotCallback(echo, textBody({ content: 'x' }));
  const bad = cb.path.replace(/msg_signature=[0-9a-f]{4}/, 'msg_signature=0000');
  const r = await request(srv, { method: 'POST', path: bad, body: cb.body });
  assert.equal(r.status, 403);
});

test('a retry of the same msgid gets the first answer and runs nothing twice', async () => {
  const m = textBody({ content: 'once' });
  const a = await botCallback(srv, echo, m);
  const b = await botCallback(srv, echo, m);
  assert.deepEqual(b.reply, a.reply);
});

test('a threaded handler replying in time: one finished stream', async () => {
  const r = await botCallback(srv, streamer, textBody({ content: 'hello' }));
  assert.equal(r.reply.stream.content, 'callback: hello from zhangsan');
  assert.equal(r.reply.stream.finish, true);
});

test('markdown and cards are answered in their JSON shapes', async () => {
  const md = await botCallback(srv, streamer, textBody({ content: 'md' }));
  assert.equal(md.reply.msgtype, 'stream');
  assert.equal(md.reply.stream.content, '**bold** answer');
  const card = await botCallback(srv, streamer, textBody({ content: 'card' }));
  assert.equal(card.reply.msgtype, 'template_card');
  assert.equal(card.reply.template_card.main_title.title, 'hello card');
  const click = await botCallback(srv, streamer, eventBody('template_card_event', {
    template_card_event: { card_type: 'text_notice', event_key: 'k', task_id: 'T-9' } }));
  assert.equal(click.reply.response_type, 'update_template_card');
  assert.equal(click.reply.template_card.task_id, 'T-9');
});

test('a stream: answered at its first update, refreshed until finished, from any worker', async () => {
  const t0 = Date.now();
  const r = await botCallback(srv, streamer, textBody({ content: 'stream 5 300' }));
  assert.ok(Date.now() - t0 < 390, 'answered at the first update, before the deadline');
  assert.equal(r.reply.msgtype, 'stream');
  assert.equal(r.reply.stream.finish, false);
  const id = r.reply.stream.id;
  const seen = [r.reply.stream.content];
  let last;
  for (let i = 0; i < 60; i++) {
    await sleep(100);
    last = (await botCallback(srv, streamer, refreshBody(id))).reply;
    assert.equal(last.stream.id, id);
    if (seen.at(-1) !== last.stream.content) seen.push(last.stream.content);
    if (last.stream.finish) break;
  }
  assert.equal(last.stream.finish, true);
  assert.equal(last.stream.content, 'done 5');
  assert.ok(seen.length >= 3, `refreshes saw the stream grow: ${JSON.stringify(seen)}`);
  for (let i = 1; i < seen.length - 1; i++) assert.ok(seen[i].startsWith(seen[i - 1]));
});

test('a handler slower than the deadline: an empty stream at once, the answer by refresh', async () => {
  const r = await botCallback(srv, streamer, textBody({ content: 'late 900' }));
  assert.equal(r.reply.stream.finish, false);
  assert.equal(r.reply.stream.content, '');
  await sleep(1200);
  const f = await botCallback(srv, streamer, refreshBody(r.reply.stream.id));
  assert.deepEqual(f.reply.stream, { id: r.reply.stream.id, finish: true, content: 'late 900' });
});

test('an unknown stream id is answered empty', async () => {
  const r = await botCallback(srv, streamer, refreshBody('0'.repeat(32)));
  assert.equal(r.status, 200);
  assert.equal(r.reply, null);
});

test('an answer over 20480 bytes is cut at a character with a notice', async () => {
  const r = await botCallback(srv, streamer, textBody({ content: 'long 30000' }));
  const c = r.reply.stream.content;
  assert.ok(Buffer.byteLength(c) <= 20480, `${Buffer.byteLength(c)} bytes`);
  assert.match(c, /^x+\n\n… \(answer too long/);
});

test('a late card goes to the message response_url, once', async () => {
  const url = `${fake.base}aibot/response?response_code=RC-${Date.now()}`;
  const r = await botCallback(srv, streamer, textBody({ content: 'latecard 700', response_url: url }));
  assert.equal(r.reply.stream.finish, false, 'answered with an empty stream at the deadline');
  let sent;
  for (let i = 0; i < 40 && !sent; i++) {
    await sleep(100);
    sent = fake.state.messages.find((m) => m.api === 'aibot/response');
  }
  assert.ok(sent, 'posted to response_url');
  assert.equal(sent.body.msgtype, 'template_card');
  assert.equal(sent.body.template_card.task_id, 'task-late');
});

test('on an app the same stream handler replies with its final text', async () => {
  const r = await callback(srv, 'streamapp', `<xml><ToUserName><![CDATA[${srv.apps.streamapp.corpid}]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[stream 3 10]]></Content><MsgId>77</MsgId><AgentID>1000010</AgentID></xml>`);
  assert.equal(r.status, 200);
  assert.equal(r.msg.get('MsgType'), 'text');
  assert.equal(r.msg.get('Content'), 'done 3');
  const m = await callback(srv, 'streamapp', `<xml><ToUserName><![CDATA[${srv.apps.streamapp.corpid}]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[card]]></Content><MsgId>78</MsgId><AgentID>1000010</AgentID></xml>`);
  assert.equal(m.msg.get('Content'), 'no cards here');
});

test('an image reply goes inline with the finished stream, with its MD5', async () => {
  const n = 3000;
  const r = await botCallback(srv, streamer, textBody({ content: `photo ${n}` }));
  const item = r.reply.stream.msg_item[0];
  assert.equal(r.reply.stream.finish, true);
  assert.equal(item.msgtype, 'image');
  const bytes = Buffer.from(item.image.base64, 'base64');
  assert.equal(bytes.length, n);
  const { createHash } = await import('node:crypto');
  assert.equal(item.image.md5, createHash('md5').update(bytes).digest('hex'));
  for (let i = 0; i < n; i++) if (bytes[i] !== ((i * 7 + Math.floor(i / 251)) & 255)) assert.fail(`byte ${i}`);
});
