// SPDX-License-Identifier: ISC
// The router and the passive replies, through tests/apps/routes.c.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as h from './harness.mjs';

let srv;
before(async () => { srv = await h.startServer(); });
after(async () => { if (srv) await h.stopAndCheck(srv); });

const USER = 'lisi';

function xml(fields) {
  return h.toXml({ ToUserName: srv.apps.routes.corpid, FromUserName: USER, CreateTime: 1700000000, ...fields, AgentID: 1000003 });
}
const text = (content, o) => h.callback(srv, 'routes', xml({ MsgType: 'text', Content: content, MsgId: String(Date.now()) }), o);
const click = (key, Event = 'click') => h.callback(srv, 'routes', xml({ MsgType: 'event', Event, EventKey: key }));

function replyHead(r, type) {
  assert.equal(r.status, 200);
  assert.ok(r.msg, 'a reply');
  assert.equal(r.msg.get('ToUserName'), USER);
  assert.equal(r.msg.get('FromUserName'), srv.apps.routes.corpid);
  assert.match(r.msg.get('CreateTime'), /^\d+$/);
  assert.equal(r.msg.get('MsgType'), type);
}

test('routes: handlers run in registration order with their own user data', async () => {
  const r = await text('hello');
  replyHead(r, 'text');
  assert.match(r.msg.get('Content'), /^second saw hello after first=[1-9]\d*$/);
});

test('routes: on one connection (one worker) the first handler counts every text', async () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const n = [];
    for (const w of ['a', 'b', 'c']) {
      const r = await text(w, { agent });
      const m = /^second saw (\w) after first=(\d+)$/.exec(r.msg.get('Content'));
      assert.ok(m, r.msg.get('Content'));
      assert.equal(m[1], w);
      n.push(Number(m[2]));
    }
    assert.deepEqual(n, [n[0], n[0] + 1, n[0] + 2]);
  } finally {
    agent.destroy();
  }
});

test('routes: WECOM_STOP ends the chain ("stop" → "stopped by first")', async () => {
  const r = await text('stop');
  replyHead(r, 'text');
  assert.equal(r.msg.get('Content'), 'stopped by first');
});

test('routes: an EventKey filter picks its handler (click photo → "photo button")', async () => {
  const r = await click('photo');
  replyHead(r, 'text');
  assert.equal(r.msg.get('Content'), 'photo button');
});

test('routes: a click with another key falls to the any-key handler ("click other")', async () => {
  const r = await click('other');
  assert.equal(r.msg.get('Content'), 'click other');
});

test('routes: event names match without case (CLICK, Click)', async () => {
  assert.equal((await click('photo', 'CLICK')).msg.get('Content'), 'photo button');
  assert.equal((await click('zzz', 'Click')).msg.get('Content'), 'click zzz');
});

test('routes: the EventKey filter is case-sensitive (Photo is not photo)', async () => {
  assert.equal((await click('Photo')).msg.get('Content'), 'click Photo');
});

test('routes: the default handler takes what nothing else matched ("default hello motto")', async () => {
  for (const fields of [
    { MsgType: 'image', PicUrl: 'https://x/y.png', MediaId: 'M1', MsgId: '1' },
    { MsgType: 'event', Event: 'enter_agent', EventKey: '' },
    { MsgType: 'event', Event: 'some_future_event' },
    { MsgType: 'location', Location_X: 1, Location_Y: 2, Scale: 3, Label: 'L', MsgId: '2' },
  ]) {
    const r = await h.callback(srv, 'routes', xml(fields));
    replyHead(r, 'text');
    assert.equal(r.msg.get('Content'), 'default hello motto', JSON.stringify(fields));
  }
});

test('routes: a message type name as an event name does not match (event "text")', async () => {
  const r = await h.callback(srv, 'routes', xml({ MsgType: 'event', Event: 'text', Content: 'stop' }));
  assert.equal(r.msg.get('Content'), 'default hello motto');
});

test('routes: image reply', async () => {
  const r = await text('image');
  replyHead(r, 'image');
  assert.equal(r.msg.get('Image/MediaId'), 'MEDIA_IMAGE');
});

test('routes: voice reply', async () => {
  const r = await text('voice');
  replyHead(r, 'voice');
  assert.equal(r.msg.get('Voice/MediaId'), 'MEDIA_VOICE');
});

test('routes: video reply with title and an escaped description', async () => {
  const r = await text('video');
  replyHead(r, 'video');
  assert.equal(r.msg.get('Video/MediaId'), 'MEDIA_VIDEO');
  assert.equal(r.msg.get('Video/Title'), 'A title');
  assert.equal(r.msg.get('Video/Description'), 'A <b>desc</b>');
});

test('routes: news reply with 3 articles and their fields', async () => {
  const r = await text('news3');
  replyHead(r, 'news');
  assert.equal(r.msg.get('ArticleCount'), '3');
  const items = r.msg.all('Articles/item');
  assert.equal(items.length, 3);
  assert.deepEqual(items.map((i) => [i.get('Title'), i.get('Description'), i.get('Url'), i.get('PicUrl')]), [
    ['t1', 'd1', 'https://example.com/1', 'https://example.com/p1'],
    ['t2', 'd2', 'https://example.com/2', ''],
    ['t3', '', 'https://example.com/3', ''],
  ]);
});

test('routes: news reply with 8 articles (the maximum)', async () => {
  const r = await text('news8');
  replyHead(r, 'news');
  assert.equal(r.msg.get('ArticleCount'), '8');
  const items = r.msg.all('Articles/item');
  assert.deepEqual(items.map((i) => i.get('Title')), ['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']);
});

test('routes: news with 9 articles is refused (WECOM_ERR_TOO_MANY → "refused 9 articles")', async () => {
  const r = await text('news9');
  replyHead(r, 'text');
  assert.equal(r.msg.get('Content'), 'refused 9 articles');
});

test('routes: update_button reply with ReplaceName', async () => {
  const r = await text('button');
  replyHead(r, 'update_button');
  assert.equal(r.msg.get('Button/ReplaceName'), 'Done');
});

test('routes: two replies in one callback: the first wins', async () => {
  const r = await text('twice');
  replyHead(r, 'text');
  assert.equal(r.msg.get('Content'), 'first reply');
});

test('routes: no reply is an empty 200 with an empty body', async () => {
  const r = await text('none');
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0);
  assert.equal(r.headers['content-length'], '0');
});

test('routes: the reply plaintext is well-formed XML with only the expected elements', async () => {
  const r = await text('image');
  assert.deepEqual(r.msg.names(), ['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Image']);
});

test('routes: each app answers with its own keys (routes reply does not open with dump keys)', async () => {
  const r = await text('hello');
  assert.throws(() => h.openReply(srv.apps.dump, r.text));
});
