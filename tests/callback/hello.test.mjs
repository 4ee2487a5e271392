// SPDX-License-Identifier: ISC
// The README's example app (apps/hello.c) in the real server: ping is
// answered pong, other texts counted, the photo button answered with an
// image, a scanned code by its result, anything else with an empty 200.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;
let A;

const msg = (fields) => h.toXml({
  ToUserName: A.corpid, FromUserName: 'zhangsan', CreateTime: String(Math.floor(Date.now() / 1000)),
  AgentID: String(A.agentid), ...fields,
});

before(async () => {
  srv = await h.startServer({ workers: 1, apps: [{ name: 'hello', handler: 'hello' }] });
  A = srv.apps.hello;
});

after(async () => { await h.stopAndCheck(srv); });

test('ping is answered pong', async () => {
  const r = await h.callback(srv, 'hello', msg({ MsgType: 'text', Content: 'ping', MsgId: '1' }));
  assert.equal(r.msg.get('Content'), 'pong');
});

test('other texts are counted and echoed', async () => {
  const r = await h.callback(srv, 'hello', msg({ MsgType: 'text', Content: 'hi', MsgId: '2' }));
  assert.equal(r.msg.get('Content'), 'text #2 from zhangsan: hi');
});

test('the photo button is answered with an image', async () => {
  const r = await h.callback(srv, 'hello', msg({ MsgType: 'event', Event: 'click', EventKey: 'photo' }));
  assert.equal(r.msg.get('MsgType'), 'image');
  assert.equal(r.msg.get('Image/MediaId'), 'MEDIA_ID_FROM_AN_UPLOAD');
});

test('a scanned code is answered by its result; anything else with an empty 200', async () => {
  const r = await h.callback(srv, 'hello', msg({
    MsgType: 'event', Event: 'scancode_push', EventKey: 'scan', ScanCodeInfo: { ScanType: 'qrcode', ScanResult: 'https://example.com' },
  }));
  assert.equal(r.msg.get('Content'), 'scanned: https://example.com');
  const e = await h.callback(srv, 'hello', msg({ MsgType: 'event', Event: 'enter_agent', EventKey: '' }));
  assert.equal(e.status, 200);
  assert.equal(e.body.length, 0);
});
