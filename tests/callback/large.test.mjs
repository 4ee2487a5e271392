// SPDX-License-Identifier: ISC
// Large and oddly shaped input, signed or not, never stops a worker:
// the envelope is checked in one linear pass before libxml2 sees it
// (ASCII, no attributes, no namespaces), large signed messages go
// through, and after every case each worker answers valid callbacks
// promptly. The suite runs with seccomp tracing on: a syscall outside
// the workers' filter fails it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;
let D;
const JUNK_Q = `msg_signature=${'a'.repeat(40)}&timestamp=${Math.floor(Date.now() / 1000)}&nonce=1`;

before(async () => {
  srv = await h.startServer({ bodyMax: 1000000, workers: 2 });
  D = srv.apps.dump;
});

after(async () => { await h.stopAndCheck(srv); });

const text = (content) => h.toXml({
  ToUserName: D.corpid, FromUserName: 'zhangsan', CreateTime: String(Math.floor(Date.now() / 1000)),
  MsgType: 'text', Content: content, MsgId: String(Date.now()) + String(Math.random()).slice(2, 8),
});

// More callbacks than workers at once, each on a fresh connection.
async function everyWorkerAnswers() {
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => h.callback(srv, 'dump', text(`ping ${i}`), { timeout: 3000 })));
  rs.forEach((r, i) => assert.equal(h.dumpFields(r).content, `ping ${i}`));
  assert.deepEqual(h.deaths(srv.log()), [], 'no worker died, no sandbox violation');
}

function unsigned(body) {
  return h.request(srv, { method: 'POST', path: `/cb/dump?${JUNK_Q}`, body, timeout: 5000 })
    .catch((e) => ({ status: `no response (${e.code ?? e.message})` }));
}

const attrs = (n, f) => Array.from({ length: n }, (_, i) => f(i)).join(' ');

const cases = [
  ['48 000 × 中 inside Encrypt (144 KB of UTF-8)', () => `<xml><Encrypt>${'中'.repeat(48000)}</Encrypt></xml>`],
  ['250 KB of non-ASCII text beside Encrypt', () => `<xml><ToUserName>${'é'.repeat(125000)}</ToUserName><Encrypt><![CDATA[AAAA]]></Encrypt></xml>`],
  ['32 KB of attributes on the root', () => `<xml ${attrs(3000, (i) => `a${i}="1"`)}><Encrypt>AAAA</Encrypt></xml>`],
  ['990 KB of attributes (quadratic duplicate check)', () => `<xml ${attrs(90000, (i) => `a${i}="1"`)}><Encrypt>AAAA</Encrypt></xml>`.slice(0, 990000) + '"/>'],
  ['10 000 namespace declarations', () => `<xml ${attrs(10000, (i) => `xmlns:n${i}="urn:x${i}"`)}><Encrypt>AAAA</Encrypt></xml>`],
  ['a prefixed root element', () => '<w:xml xmlns:w="urn:x"><w:Encrypt>AAAA</w:Encrypt></w:xml>'],
  ['a comment', () => '<xml><!-- hi --><Encrypt>AAAA</Encrypt></xml>'],
  ['an XML declaration with an encoding', () => '<?xml version="1.0" encoding="GBK"?><xml><Encrypt>AAAA</Encrypt></xml>'],
  ['an unterminated CDATA section of 900 KB', () => `<xml><Encrypt><![CDATA[${'A'.repeat(900000)}`],
  ['an unterminated tag', () => `<xml><Encrypt${' '.repeat(500000)}`],
];

for (const [name, body] of cases) {
  test(`envelope: ${name} → 400, every worker still answers`, async () => {
    const r = await unsigned(body());
    assert.equal(r.status, 400);
    await everyWorkerAnswers();
  });
}

test('envelope: the refusal names why, in the log', async () => {
  const lines = await h.waitLog(srv, /envelope: attributes or namespaces/);
  assert.ok(lines.length >= 3, srv.log());
});

for (const kb of [100, 180, 250]) {
  test(`a signed ${kb} KB message of Chinese text is answered in full`, async () => {
    const content = '中文'.repeat(Math.floor(kb * 1024 / 6));
    const r = await h.callback(srv, 'echo', h.toXml({
      ToUserName: h.SAMPLE.corpid, FromUserName: 'u', CreateTime: 1, MsgType: 'text', Content: content, MsgId: String(kb),
    }), { timeout: 5000 });
    assert.equal(r.status, 200);
    assert.equal(r.msg.get('Content'), content);
    await everyWorkerAnswers();
  });
}

// ------------------------------------------------ URL verification (GET)

test('GET: a captured callback replayed as echostr is refused, not decrypted', async () => {
  const secret = `SECRET-${h.randomAlnum(8)}`;
  const cb = h.buildCallback(D, text(secret));
  const q = cb.path.split('?')[1];
  const r = await h.request(srv, { path: `/cb/dump?${q}&echostr=${encodeURIComponent(cb.encrypt)}` });
  assert.equal(r.status, 400);
  assert.ok(!r.text.includes(secret));
});

test('GET: one of our own encrypted replies replayed as echostr is refused', async () => {
  const cb = h.buildCallback(D, text('reply me'));
  const r = await h.request(srv, { method: 'POST', path: cb.path, body: cb.body });
  assert.equal(r.status, 200);
  const env = h.xmlView(h.parseXml(r.text));
  const path = `/cb/dump?msg_signature=${env.get('MsgSignature')}&timestamp=${env.get('TimeStamp')}&nonce=${env.get('Nonce')}&echostr=${encodeURIComponent(env.get('Encrypt'))}`;
  const g = await h.request(srv, { path });
  assert.equal(g.status, 400);
  assert.ok(!g.text.includes('reply me'));
});

test('GET: a verification outside timestamp_window → 403', async () => {
  const old = String(Math.floor(Date.now() / 1000) - 3600);
  const r = await h.request(srv, { path: h.verifyPath(D, '1616140317555161061', { timestamp: old }).path });
  assert.equal(r.status, 403);
  const ok = await h.request(srv, { path: h.verifyPath(D, '1616140317555161061').path });
  assert.equal(ok.status, 200);
  assert.equal(ok.text, '1616140317555161061');
});

test('GET: an echostr longer than 128 bytes or with markup is refused', async () => {
  for (const plain of ['1'.repeat(129), '<xml>1</xml>', '{"a":1}', 'a b']) {
    const r = await h.request(srv, { path: h.verifyPath(D, plain).path });
    assert.equal(r.status, 400, plain);
  }
});
