// SPDX-License-Identifier: ISC
// The handler-thread queue is bounded (handler_queue): past it a
// threaded app's callback gets 503 at once (WeCom retries later)
// instead of waiting behind an ever longer queue.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;

const text = (content) => h.toXml({
  ToUserName: srv.apps.slow.corpid, FromUserName: 'zhangsan', CreateTime: String(Math.floor(Date.now() / 1000)),
  MsgType: 'text', Content: content, MsgId: String(Date.now()) + String(Math.random()).slice(2, 8),
});

before(async () => {
  srv = await h.startServer({
    workers: 1,
    globalExtra: 'handler_threads = 1\nhandler_queue = 2\n',
    apps: [{ name: 'slow', handler: 'slow', extra: 'deadline_ms = 300\n' }],
  });
});

after(async () => { await h.stopAndCheck(srv); });

test('one running and two waiting: the fourth callback gets 503 at once', async () => {
  const first = h.callback(srv, 'slow', text('sleep 1500'));
  await h.sleep(200);   // running on the only thread
  const waiting = [h.callback(srv, 'slow', text('sleep 10')), h.callback(srv, 'slow', text('sleep 10'))];
  await h.sleep(100);
  const over = await h.callback(srv, 'slow', text('fast'));
  assert.equal(over.status, 503);
  const lines = await h.waitLog(srv, /503: handler threads busy \(handler_queue is full\)/);
  assert.equal(lines.length, 1);
  for (const r of [await first, ...(await Promise.all(waiting))]) assert.equal(r.status, 200);
  await h.sleep(1600);
  const later = await h.callback(srv, 'slow', text('fast'));
  assert.equal(later.status, 200);
  assert.equal(later.msg.get('Content'), 'fast fast');
});

test('a threaded app without a secret is named at start: its late replies could not be sent', async () => {
  const lines = await h.waitLog(srv, /\[app slow\] is threaded but has no secret: a reply later than deadline_ms \(300 ms\) cannot be sent/);
  assert.equal(lines.length, 1);
  assert.ok(!/\[app (echo|dump|routes)\] is threaded/.test(srv.log()));
});
