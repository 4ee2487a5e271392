// SPDX-License-Identifier: ISC
// A callback is remembered as long as its timestamp is accepted: the
// retry table keeps it for the larger of dedupe_window and the apps'
// timestamp_window, so a capture replayed after dedupe_window (but
// within timestamp_window) does not run its handlers again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;

before(async () => {
  srv = await h.startServer({ dedupe: true, globalExtra: 'dedupe_window = 1\n' });
});

after(async () => { await h.stopAndCheck(srv); });

test('the same request replayed after dedupe_window, within timestamp_window, runs no handler', async () => {
  const app = srv.apps.routes;
  const plain = h.toXml({
    ToUserName: app.corpid, FromUserName: 'zhangsan', CreateTime: String(Math.floor(Date.now() / 1000)),
    MsgType: 'text', Content: 'hello', MsgId: `replay-${Date.now()}`, AgentID: '1',
  });
  const cb = h.buildCallback(app, plain);
  const first = await h.request(srv, { method: 'POST', path: cb.path, body: cb.body });
  assert.equal(first.status, 200);
  await h.sleep(2500);
  const again = await h.request(srv, { method: 'POST', path: cb.path, body: cb.body });
  assert.equal(again.status, 200);
  const m = await h.request(srv, { path: '/metrics' });
  assert.match(m.text, /wecom_duplicates_total\{app="routes"\} 1\b/);
});
