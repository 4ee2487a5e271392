// SPDX-License-Identifier: ISC
// Threaded apps: handlers that block run on worker threads; WeCom gets
// its answer within the app's deadline, a late reply goes out as a
// proactive message, and the event loop keeps serving meanwhile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

let srv, fake;
const USER = 'zhangsan';

const text = (content, o = {}) => h.toXml({
  ToUserName: CORPID, FromUserName: USER, CreateTime: String(Math.floor(Date.now() / 1000)),
  MsgType: 'text', Content: content, MsgId: String(Date.now()) + String(Math.random()).slice(2, 8), AgentID: '1000010', ...o,
});

async function sentTexts() {
  const r = await fetch(`${fake.base.replace(/\/cgi-bin\/?$/, '')}/_fake/messages`);
  return (await r.json()).filter((m) => m.api === 'message/send' && m.body.msgtype === 'text')
    .map((m) => ({ to: m.body.touser, content: m.body.text.content }));
}

async function waitSent(content, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await sentTexts()).some((m) => m.content === content && m.to === USER)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

before(async () => {
  fake = await startFake();
  srv = await h.startServer({
    workers: 1,
    apiBase: fake.base,
    globalExtra: 'retry_attempts = 2\nretry_base_ms = 100\noutbox_interval_ms = 300\noutbox_backoff_ms = 300\n',
    apps: [{ name: 'slow', handler: 'slow', corpid: CORPID, agentid: 1000002, extra: 'secret = app-secret-1\ndeadline_ms = 500\n' }],
  });
});

after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
});

test('a threaded app answers a fast handler with its passive reply', async () => {
  const r = await h.callback(srv, 'slow', text('hello'));
  assert.equal(r.status, 200);
  assert.equal(r.msg.get('Content'), 'fast hello');
});

test('a handler sleeping 8 s: WeCom is answered empty within 1 s, the reply follows as a message', async () => {
  const t0 = Date.now();
  const r = await h.callback(srv, 'slow', text('sleep 8000'));
  const took = Date.now() - t0;
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0, 'empty 200: no passive reply');
  assert.ok(took < 1000, `answered in ${took} ms`);
  await h.waitLog(srv, /overran deadline_ms/);
  assert.ok(await waitSent('slept 8000 ms', 12000), 'the late reply was sent with message/send');
});

test('while handlers block, other callbacks on the same single worker are answered in milliseconds', async () => {
  const slow = [1, 2, 3].map(() => h.callback(srv, 'slow', text('sleep 2000')));
  await new Promise((r) => setTimeout(r, 50));
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    const r = await h.callback(srv, 'echo', h.toXml({
      ToUserName: srv.apps.echo.corpid, FromUserName: 'u', CreateTime: '1', MsgType: 'text', Content: `ping ${i}`, MsgId: `p${i}${Date.now()}`,
    }));
    const took = Date.now() - t0;
    assert.equal(r.status, 200);
    assert.equal(r.msg.get('Content'), `ping ${i}`);
    assert.ok(took < 200, `echo answered in ${took} ms while threads sleep`);
  }
  for (const r of await Promise.all(slow)) assert.equal(r.status, 200);
  // They overran the deadline too: their replies follow as messages.
  const end = Date.now() + 6000;
  while ((await sentTexts()).filter((m) => m.content === 'slept 2000 ms').length < 3 && Date.now() < end)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal((await sentTexts()).filter((m) => m.content === 'slept 2000 ms').length, 3);
});

test('a handler calling the API while the API hangs 2 s does not stall the worker', async () => {
  await fetch(`${fake.base.replace(/\/cgi-bin\/?$/, '')}/_fake/inject`, {
    method: 'POST', body: JSON.stringify({ path: 'message/send', delay_ms: 2000 }),
  });
  const api = h.callback(srv, 'slow', text('api'), { timeout: 10000 });
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  const r = await h.callback(srv, 'slow', text('quick'));
  const took = Date.now() - t0;
  assert.equal(r.status, 200);
  assert.ok(r.msg, `a passive reply within the deadline (took ${took} ms, body ${r.body.length} bytes)`);
  assert.equal(r.msg.get('Content'), 'fast quick');
  assert.ok(took < 300, `answered in ${took} ms while a handler waits on the API`);
  const a = await api;
  assert.equal(a.status, 200);
  assert.ok(await waitSent('sent from a handler thread', 5000), 'the handler\'s API call went through');
});

test('a late reply WeCom cannot take now waits in the durable outbox and is delivered when WeCom is back', async () => {
  const ctl = fake.base.replace(/\/cgi-bin\/?$/, '');
  await fetch(`${ctl}/_fake/config`, { method: 'POST', body: JSON.stringify({ down_ms: 3000 }) });
  const downUntil = Date.now() + 3000;
  const r = await h.callback(srv, 'slow', text('sleep 700'));
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  assert.ok(await waitSent('slept 700 ms', 15000), 'delivered after the outage');
  assert.ok(Date.now() >= downUntil, 'not before WeCom was back');
});
