// SPDX-License-Identifier: ISC
// A bot's inbound files through the real server: the media test app
// (tests/apps/media.c) calls wecom_msg_file() and answers the size and
// SHA-256 of the bytes it got. The files lie on a local HTTP server,
// AES-256-CBC encrypted as WeCom's are (IV: the key's first 16 bytes,
// PKCS#7 to 32 bytes), with the bot's EncodingAESKey or a message's key.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { startServer, stopAndCheck, waitLog } from '../callback/harness.mjs';
import { callbackBot, botCallback } from './bot.mjs';

const MAX = 65536;	// tests/apps/media.c's
const bot = callbackBot('mediabot', 'media');
const files = new Map();	// path → { body, chunked, status }
let srv, fileSrv, base;

// WeCom's padding: n bytes of n up to a 32-byte block, 1 ≤ n ≤ 32.
function seal(key, plain, { pad } = {}) {
  const n = pad ?? 32 - (plain.length % 32);
  const padded = Buffer.concat([plain, Buffer.alloc(n === 0 ? 0 : n, n)]);
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(padded), c.final()]);
}

const botKey = Buffer.from(`${bot.aeskey}=`, 'base64');
const sha = (b) => createHash('sha256').update(b).digest('hex');
const answer = (b) => `size ${b.length} sha256 ${sha(b)}`;

// Serves plain's encryption at path; its URL.
function put(path, body, o = {}) {
  files.set(path, { body, ...o });
  return `${base}${path}`;
}

let seq = 0;
function fileMsg(msgtype, obj) {
  return {
    msgid: `f${Date.now()}${seq++}${randomBytes(3).toString('hex')}`, aibotid: 'aibFAKE',
    chattype: 'single', from: { userid: 'zhangsan' }, msgtype, [msgtype]: obj,
  };
}

// The handler's answer, as the finished stream it becomes on a bot.
async function ask(msg) {
  const r = await botCallback(srv, bot, msg);
  assert.equal(r.status, 200);
  assert.equal(r.reply?.stream?.finish, true, JSON.stringify(r.reply));
  return r.reply.stream.content;
}

before(async () => {
  fileSrv = http.createServer((req, res) => {
    const f = files.get(req.url);
    if (!f) { res.writeHead(404).end('no such file'); return; }
    if (!f.chunked) { res.writeHead(f.status ?? 200, { 'content-length': f.body.length }).end(f.body); return; }
    // No length announced: the client must stop reading by itself.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    for (let i = 0; i < f.body.length; i += 8192) res.write(f.body.subarray(i, i + 8192));
    res.end();
  });
  await new Promise((r) => fileSrv.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${fileSrv.address().port}`;
  srv = await startServer({ sections: bot.section });
});
after(async () => {
  if (process.env.DUMP_LOG) (await import('node:fs')).writeFileSync(process.env.DUMP_LOG, srv.log());
  await stopAndCheck(srv);
  fileSrv.close();
});

test("an image, decrypted with the bot's EncodingAESKey", async () => {
  const plain = randomBytes(5000);
  const url = put('/img1', seal(botKey, plain));
  assert.equal(await ask(fileMsg('image', { url })), answer(plain));
});

test("a file, decrypted with the message's own aeskey", async () => {
  const key = randomBytes(32);
  const plain = randomBytes(12345);
  const url = put('/file1', seal(key, plain));
  assert.equal(await ask(fileMsg('file', { url, aeskey: key.toString('base64') })), answer(plain));
});

test('a video, and a file of exactly max bytes', async () => {
  const plain = randomBytes(MAX);
  const url = put('/video1', seal(botKey, plain));
  assert.equal(await ask(fileMsg('video', { url })), answer(plain));
});

test('a mixed message: the second image (its own key), and the first (the bot key)', async () => {
  const key = randomBytes(32);
  const one = randomBytes(700);
  const two = randomBytes(900);
  const items = (text) => ({ msg_item: [
    { msgtype: 'text', text: { content: text } },
    { msgtype: 'image', image: { url: put('/mixed1', seal(botKey, one)) } },
    { msgtype: 'image', image: { url: put('/mixed2', seal(key, two)), aeskey: key.toString('base64') } },
  ] });
  assert.equal(await ask(fileMsg('mixed', items('1'))), answer(two));
  assert.equal(await ask(fileMsg('mixed', items('0'))), answer(one));
  assert.equal(await ask(fileMsg('mixed', items('2'))), 'error -1', 'there is no third image');
});

test('over max: WECOM_ERR_TOO_MANY, with or without a Content-Length', async () => {
  const big = seal(botKey, randomBytes(MAX + 1));
  assert.equal(await ask(fileMsg('image', { url: put('/big', big) })), 'error -3');
  assert.equal(await ask(fileMsg('image', { url: put('/bigchunked', big, { chunked: true }) })), 'error -3');
  const huge = seal(botKey, randomBytes(4 * 1024 * 1024));
  assert.equal(await ask(fileMsg('image', { url: put('/hugechunked', huge, { chunked: true }) })), 'error -3');
});

test('a 404 is an error, with the reason in the log', async () => {
  assert.equal(await ask(fileMsg('image', { url: `${base}/gone` })), 'error -1');
  const lines = await waitLog(srv, /\[aibot mediabot\] wecom_msg_file\(0\): download failed: HTTP 404/);
  assert.equal(lines.length, 1, srv.log());
});

test('a damaged file (bad padding) is an error, never bytes', async () => {
  const plain = randomBytes(64);
  plain[63] = 3; plain[62] = 3; plain[61] = 9;	// "3 3" where "3 3 3" belongs
  const url = put('/corrupt', seal(botKey, plain, { pad: 0 }));
  assert.equal(await ask(fileMsg('image', { url })), 'error -1');
  const zero = Buffer.alloc(32, 0);	// padding byte 0
  assert.equal(await ask(fileMsg('image', { url: put('/zero', seal(botKey, zero, { pad: 0 })) })), 'error -1');
  const lines = await waitLog(srv, /wecom_msg_file\(0\): cannot decrypt: -40008/);
  assert.ok(lines.length >= 2, srv.log());
});
