// SPDX-License-Identifier: ISC
// WeCom's retries: the same callback re-sent (re-encrypted, another nonce
// and timestamp) runs the handlers once across all workers; every attempt
// gets the first attempt's reply, freshly sealed, or an empty 200 while
// it still runs. /metrics and /healthz say so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;
const T = () => String(Math.floor(Date.now() / 1000));

const text = (app, content, msgid) => h.toXml({
  ToUserName: srv.apps[app].corpid, FromUserName: 'zhangsan', CreateTime: T(),
  MsgType: 'text', Content: content, MsgId: msgid, AgentID: '1',
});

async function metric(name, labels) {
  const r = await h.request(srv, { path: '/metrics' });
  assert.equal(r.status, 200);
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of r.text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    if (want.every((w) => line.includes(w))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

before(async () => {
  srv = await h.startServer({
    dedupe: true,
    apps: [{ name: 'slow', handler: 'slow', extra: 'deadline_ms = 4000\n' }],
  });
});

after(async () => { await h.stopAndCheck(srv); });

test('the same callback sent 3 times runs the handlers once; all 3 answers carry the same reply', async () => {
  const msgid = `retry-${Date.now()}`;
  const plain = text('routes', 'hello', msgid);
  const replies = [];
  for (let i = 0; i < 3; i++) {
    const r = await h.callback(srv, 'routes', plain);
    assert.equal(r.status, 200);
    replies.push(r.msg.get('Content'));
  }
  assert.match(replies[0], /^second saw hello after first=\d+$/);
  assert.deepEqual(replies, [replies[0], replies[0], replies[0]]);
  assert.equal(await metric('wecom_duplicates_total', { app: 'routes' }), 2);
  assert.equal(await metric('wecom_callbacks_total', { app: 'routes', type: 'text' }), 3);
});

test('a different message with another MsgId is not a duplicate', async () => {
  const before = await metric('wecom_duplicates_total', { app: 'routes' });
  const r = await h.callback(srv, 'routes', text('routes', 'other', `other-${Date.now()}`));
  assert.match(r.msg.get('Content'), /^second saw other/);
  assert.equal(await metric('wecom_duplicates_total', { app: 'routes' }), before);
});

test('events without MsgId are recognised by sender, time, event and key', async () => {
  const ev = h.toXml({
    ToUserName: srv.apps.routes.corpid, FromUserName: 'zhangsan', CreateTime: T(),
    MsgType: 'event', Event: 'click', EventKey: 'photo', AgentID: '1',
  });
  const a = await h.callback(srv, 'routes', ev);
  const b = await h.callback(srv, 'routes', ev);
  assert.equal(a.msg.get('Content'), 'photo button');
  assert.equal(b.msg.get('Content'), 'photo button');
  const other = ev.replace('photo', 'status');
  const c = await h.callback(srv, 'routes', other);
  assert.equal(c.msg.get('Content'), 'click status');
  assert.equal(await metric('wecom_duplicates_total', { app: 'routes' }), 3);
});

test('a retry while the first attempt still runs gets an empty 200; one after it gets its reply', async () => {
  const plain = text('slow', 'sleep 1500', `slow-${Date.now()}`);
  const first = h.callback(srv, 'slow', plain);
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  const during = await h.callback(srv, 'slow', plain);
  assert.equal(during.status, 200);
  assert.equal(during.body.length, 0, 'empty 200 while the first attempt runs');
  assert.ok(Date.now() - t0 < 500, 'answered at once');
  const f = await first;
  assert.equal(f.msg.get('Content'), 'slept 1500 ms');
  const after = await h.callback(srv, 'slow', plain);
  assert.equal(after.msg.get('Content'), 'slept 1500 ms', 'the first attempt\'s reply, sealed again');
  assert.notEqual(after.text, f.text, 'freshly encrypted');
});

test('/healthz answers 200 and names each app', async () => {
  const r = await h.request(srv, { path: '/healthz' });
  assert.equal(r.status, 200);
  assert.match(r.text, /^ok\n/);
  assert.match(r.text, /app echo: token no secret/);
});

test('/metrics is Prometheus text with callbacks, errors and replies per app', async () => {
  await h.callback(srv, 'dump', 'not xml at all');
  const r = await h.request(srv, { path: '/metrics' });
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  assert.match(r.text, /# TYPE wecom_callbacks_total counter/);
  assert.match(r.text, /wecom_replies_total\{app="routes"\} \d+/);
  assert.ok(await metric('wecom_callback_errors_total', { app: 'dump', code: '-40002' }) >= 1);
  const post = await h.request(srv, { method: 'POST', path: '/metrics', body: 'x' });
  assert.equal(post.status, 405);
});
