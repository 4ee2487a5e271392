// SPDX-License-Identifier: ISC
// URL verification, Tencent's sample POST, and the echo demo app.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;
before(async () => { srv = await h.startServer(); });
after(async () => { if (srv) await h.stopAndCheck(srv); });

const USER = 'zhangsan';

function msg(fields) {
  return h.toXml({
    ToUserName: h.SAMPLE.corpid, FromUserName: USER, CreateTime: 1700000000,
    ...fields, AgentID: 218,
  });
}

const echo = (fields) => h.callback(srv, 'echo', msg(fields));

test('URL verification: Tencent sample URL answers exactly 1616140317555161061', async () => {
  const r = await h.request(srv, { path: `/wecom/echo?${h.SAMPLE.verifyQuery}` });
  assert.equal(r.status, 200);
  assert.equal(r.text, h.SAMPLE.verifyAnswer);
  assert.equal(r.body.length, 19, 'no newline, no quotes');
  assert.match(r.headers['content-type'], /^text\/plain/);
});

test('URL verification: echostr sent raw (+ / = unescaped) also works', async () => {
  const rawQuery = h.SAMPLE.verifyQuery.replace(/echostr=(.*)$/, (m, e) => `echostr=${decodeURIComponent(e)}`);
  assert.match(rawQuery, /[+/=]/);
  const r = await h.request(srv, { path: `/wecom/echo?${rawQuery}` });
  assert.equal(r.status, 200);
  assert.equal(r.text, h.SAMPLE.verifyAnswer);
});

test('URL verification: a freshly encrypted echostr for another app (percent-encoded)', async () => {
  for (let i = 0; i < 8; i++) {
    const plain = String(1e18 + Math.floor(Math.random() * 1e17));
    const { path } = h.verifyPath(srv.apps.dump, plain);
    const r = await h.request(srv, { path });
    assert.equal(r.status, 200);
    assert.equal(r.text, plain);
  }
});

test('URL verification: a freshly encrypted echostr sent raw', async () => {
  let sawSpecial = false;
  for (let i = 0; i < 16; i++) {
    const plain = `echo-${i}-${h.randomAlnum(10)}`;
    const { path, echostr } = h.verifyPath(srv.apps.routes, plain, { raw: true });
    sawSpecial ||= /[+/]/.test(echostr);
    const r = await h.request(srv, { path });
    assert.equal(r.status, 200, `echostr ${echostr}`);
    assert.equal(r.text, plain);
  }
  assert.ok(sawSpecial, 'at least one echostr held + or /');
});

test('URL verification: wrong signature is refused with 403', async () => {
  const q = h.SAMPLE.verifyQuery.replace('5c45ff5e', '5c45ff5f');
  const r = await h.request(srv, { path: `/wecom/echo?${q}` });
  assert.equal(r.status, 403);
  assert.equal(r.body.length, 0);
});

test('URL verification: an echostr of one app is refused by another (403)', async () => {
  const q = h.SAMPLE.verifyQuery;
  const r = await h.request(srv, { path: `/cb/dump?${q}` });
  assert.equal(r.status, 403);
});

test('URL verification: echostr encrypted for another corp → 400 (-40005)', async () => {
  const { path } = h.verifyPath(srv.apps.dump, '12345', { receiveid: 'wwsomeoneelse' });
  const r = await h.request(srv, { path });
  assert.equal(r.status, 400);
  const lines = await h.waitLog(srv, /GET \/cb\/dump: 400 -40005/);
  assert.equal(lines.length, 1);
});

test("Tencent's sample POST: the echo app answers text 'hello' to mycreate", async () => {
  const r = await h.request(srv, { method: 'POST', path: `/wecom/echo?${h.SAMPLE.postQuery}`, body: h.SAMPLE.postBody });
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^application\/xml/);
  const reply = h.xmlView(h.parseXml(h.openReply(srv.apps.echo, r.text)));
  assert.equal(reply.get('ToUserName'), 'mycreate');
  assert.equal(reply.get('FromUserName'), 'wx5823bf96d3bd56c7');
  assert.equal(reply.get('MsgType'), 'text');
  assert.equal(reply.get('Content'), 'hello');
  assert.match(reply.get('CreateTime'), /^\d+$/);
});

test('echo: text comes back as the same text', async () => {
  const r = await echo({ MsgType: 'text', Content: 'plain words', MsgId: '1001' });
  assert.equal(r.status, 200);
  assert.equal(r.msg.get('MsgType'), 'text');
  assert.equal(r.msg.get('ToUserName'), USER);
  assert.equal(r.msg.get('FromUserName'), h.SAMPLE.corpid);
  assert.equal(r.msg.get('Content'), 'plain words');
});

test('echo: Chinese and emoji survive the round trip', async () => {
  const s = '你好，世界 🎉👍🏽 企业微信';
  const r = await echo({ MsgType: 'text', Content: s, MsgId: '1002' });
  assert.equal(r.msg.get('Content'), s);
});

test('echo: XML-special characters <&]]> "quotes" survive the round trip', async () => {
  const s = 'a <b>&amp; c ]]> d ]]]]> e < & > " \' <![CDATA[x]]>';
  const r = await echo({ MsgType: 'text', Content: s, MsgId: '1003' });
  assert.equal(r.msg.get('Content'), s);
});

test('echo: multi-line text with leading/trailing spaces is kept as sent', async () => {
  const s = '  line one\nline two\n\tline three  ';
  const r = await echo({ MsgType: 'text', Content: s, MsgId: '1004' });
  assert.equal(r.msg.get('Content'), s);
});

test('echo: image → image reply with the same MediaId', async () => {
  const r = await echo({ MsgType: 'image', PicUrl: 'https://wework.qpic.cn/x.jpg', MediaId: 'MEDIA_IMG_123', MsgId: '1005' });
  assert.equal(r.msg.get('MsgType'), 'image');
  assert.equal(r.msg.get('Image/MediaId'), 'MEDIA_IMG_123');
  assert.equal(r.msg.get('ToUserName'), USER);
});

test('echo: voice → voice reply with the same MediaId', async () => {
  const r = await echo({ MsgType: 'voice', MediaId: 'MEDIA_VOICE_9', Format: 'amr', MsgId: '1006' });
  assert.equal(r.msg.get('MsgType'), 'voice');
  assert.equal(r.msg.get('Voice/MediaId'), 'MEDIA_VOICE_9');
});

test('echo: location → a text with the label and coordinates', async () => {
  const r = await echo({
    MsgType: 'location', Location_X: 23.134521, Location_Y: 113.358803, Scale: 20,
    Label: '广州市海珠区', MsgId: '1007', AppType: 'wxwork',
  });
  assert.equal(r.msg.get('MsgType'), 'text');
  const c = r.msg.get('Content');
  assert.match(c, /广州市海珠区/);
  assert.match(c, /23\.134521/);
  assert.match(c, /113\.358803/);
  assert.match(c, /20/);
});

test('echo: enter_agent event → a greeting naming the user', async () => {
  const r = await echo({ MsgType: 'event', Event: 'enter_agent', EventKey: '' });
  assert.equal(r.msg.get('MsgType'), 'text');
  assert.equal(r.msg.get('Content'), `Welcome, ${USER}!`);
});

test('echo: subscribe event → a greeting naming the user', async () => {
  const r = await echo({ MsgType: 'event', Event: 'subscribe' });
  assert.equal(r.msg.get('Content'), `Welcome, ${USER}!`);
});

test('echo: video, shortvideo, link and file messages → a text naming the type', async () => {
  for (const [type, extra] of [
    ['video', { MediaId: 'V1', ThumbMediaId: 'T1' }],
    ['shortvideo', { MediaId: 'V2', ThumbMediaId: 'T2' }],
    ['link', { Title: 'A link', Description: 'd', Url: 'https://example.com', PicUrl: 'https://example.com/p.png' }],
    ['file', { MediaId: 'F1' }],
  ]) {
    const r = await echo({ MsgType: type, ...extra, MsgId: `2${type.length}` });
    assert.equal(r.status, 200);
    assert.equal(r.msg.get('Content'), `Received a ${type} message.`);
  }
});

test('echo: a click event → a text naming the event', async () => {
  const r = await echo({ MsgType: 'event', Event: 'click', EventKey: 'menu_1' });
  assert.equal(r.msg.get('Content'), 'Received event: click');
});

test('echo: every reply envelope is signed afresh (different nonces)', async () => {
  const a = await h.callback(srv, 'echo', msg({ MsgType: 'text', Content: 'x', MsgId: '1' }));
  const b = await h.callback(srv, 'echo', msg({ MsgType: 'text', Content: 'x', MsgId: '1' }));
  const nonce = (r) => h.xmlView(h.parseXml(r.text)).get('Nonce');
  assert.notEqual(nonce(a), nonce(b));
});
