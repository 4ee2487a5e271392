// SPDX-License-Identifier: ISC
// The llm app (apps/llm.c) through the real server, against the fake
// OpenAI endpoint: streams on a callback-mode bot, the final text on an
// app, history, the system prompt, /reset, the bearer key, errors,
// timeouts, the non-stream fallback, the answer cap, https with
// llm_ca_file. One worker: history is per worker process, and the
// tests follow one member.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startServer, stopAndCheck, callback, request, sleep } from '../callback/harness.mjs';
import { callbackBot, textBody, refreshBody, botCallback } from '../aibot/bot.mjs';
import { startOpenAI } from '../fake_openai/server.mjs';

const SYSTEM = 'You are a terse assistant. 请简短回答。';
const RESET = 'History cleared. / 已清除对话历史。';
const KEY = 'sk-test-0123456789';
let srv, ai, keyed, bots, tlsAi, certDir;

const TLS_SKIP = spawnSync('sh', ['-c', 'command -v openssl']).status === 0 ? false
  : 'openssl not installed: no certificate for the https fake';

// A self-signed certificate for localhost: the fake's, and the CA file.
function makeCert(dir) {
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), file: cert };
}

const conf = (url, extra = '') => `llm_url = ${url}\nllm_model = test-model\n${extra}`;

before(async () => {
  ai = await startOpenAI({ chunk: 3, delayMs: 40 });
  keyed = await startOpenAI({ key: KEY });
  process.env.LLM_TEST_KEY = KEY;
  bots = {
    main: callbackBot('llmbot', 'llm', conf(ai.url, `llm_system = ${SYSTEM}\n`)),
    keyed: callbackBot('llmkeyed', 'llm', conf(keyed.url, 'llm_key = env:LLM_TEST_KEY\n')),
    wrongkey: callbackBot('llmwrong', 'llm', conf(keyed.url, 'llm_key = sk-wrong-key\n')),
    slow: callbackBot('llmslow', 'llm', conf(ai.url, 'llm_timeout_ms = 700\n')),
    cap: callbackBot('llmcap', 'llm', conf(ai.url, 'llm_max_bytes = 100\n')),
  };
  if (!TLS_SKIP) {
    certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'llm-tls-'));
    const pki = makeCert(certDir);
    tlsAi = await startOpenAI({ tls: { ...pki, host: 'localhost' } });
    bots.tls = callbackBot('llmtls', 'llm', conf(tlsAi.url, `llm_ca_file = ${pki.file}\n`));
    bots.untrusted = callbackBot('llmuntrusted', 'llm', conf(tlsAi.url));
  }
  srv = await startServer({
    workers: 1,
    apps: [{ name: 'llmapp', handler: 'llm', extra: conf(ai.url, 'deadline_ms = 4000\nllm_history = 2\n') }],
    sections: Object.values(bots).map((b) => b.section).join(''),
  });
});
afterEach(() => { ai.reset(); });
after(async () => {
  if (process.env.DUMP_LOG) fs.writeFileSync(process.env.DUMP_LOG, srv.log());
  await stopAndCheck(srv);
  await ai.close();
  await keyed.close();
  if (tlsAi) await tlsAi.close();
  if (certDir) fs.rmSync(certDir, { recursive: true, force: true });
});

// A bot's answer, followed by WeCom's refreshes until it is finished.
async function ask(bot, body) {
  const r = await botCallback(srv, bot, body);
  assert.equal(r.status, 200);
  assert.equal(r.reply.msgtype, 'stream');
  const seen = [r.reply.stream.content];
  let last = r.reply;
  for (let i = 0; i < 100 && !last.stream.finish; i++) {
    await sleep(100);
    last = (await botCallback(srv, bot, refreshBody(r.reply.stream.id))).reply;
    assert.equal(last.stream.id, r.reply.stream.id);
    if (seen.at(-1) !== last.stream.content) seen.push(last.stream.content);
  }
  assert.equal(last.stream.finish, true, 'the stream finished');
  return { first: r.reply.stream, text: last.stream.content, seen };
}

const appText = (content, from = 'lisi', msgid = Date.now()) => `<xml><ToUserName><![CDATA[${srv.apps.llmapp.corpid}]]></ToUserName><FromUserName><![CDATA[${from}]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[${content}]]></Content><MsgId>${msgid}</MsgId><AgentID>1000010</AgentID></xml>`;

const lastBody = (fake = ai) => fake.requests.at(-1).body;

test('a bot streams the answer: unfinished first, growing, finished with the whole text', async () => {
  const q = 'tell me a story about a small robot who learns to paint the sea';
  const t0 = Date.now();
  const { first, text, seen } = await ask(bots.main, textBody({ content: q, from: 'alice' }));
  assert.equal(first.finish, false, 'the first answer is an unfinished stream');
  assert.ok(Date.now() - t0 > 500, 'the fake took its time');
  assert.equal(text, `You said: ${q}`);
  assert.ok(seen.length >= 3, `refreshes saw it grow: ${JSON.stringify(seen)}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i].startsWith(seen[i - 1]), 'each update extends the last');
  const req = ai.requests.at(-1);
  assert.equal(req.method, 'POST');
  assert.match(req.headers['content-type'], /^application\/json/);
  assert.equal(req.headers.authorization, undefined, 'no key configured, none sent');
  assert.equal(req.body.model, 'test-model');
  assert.equal(req.body.stream, true);
});

test('the system prompt comes first, then history for the same member only', async () => {
  await ask(bots.main, textBody({ content: 'first question', from: 'bob' }));
  assert.deepEqual(lastBody().messages, [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: 'first question' },
  ]);
  await ask(bots.main, textBody({ content: '第二个问题', from: 'bob' }));
  assert.deepEqual(lastBody().messages, [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: 'first question' },
    { role: 'assistant', content: 'You said: first question' },
    { role: 'user', content: '第二个问题' },
  ]);
  await ask(bots.main, textBody({ content: 'hello', from: 'carol' }));
  assert.deepEqual(lastBody().messages, [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: 'hello' },
  ], 'another member starts afresh');
});

test('a group chat shares one history between its members', async () => {
  await ask(bots.main, textBody({ content: 'in the group', from: 'dave', chatid: 'wrGROUP1' }));
  await ask(bots.main, textBody({ content: 'me too', from: 'erin', chatid: 'wrGROUP1' }));
  assert.deepEqual(lastBody().messages.map((m) => m.content), [SYSTEM, 'in the group', 'You said: in the group', 'me too']);
});

test('/reset clears the conversation', async () => {
  await ask(bots.main, textBody({ content: 'remember me', from: 'frank' }));
  const n = ai.requests.length;
  const r = await botCallback(srv, bots.main, textBody({ content: '  /reset \n', from: 'frank' }));
  assert.equal(r.reply.stream.content, RESET);
  assert.equal(r.reply.stream.finish, true);
  assert.equal(ai.requests.length, n, 'the model is not asked');
  await ask(bots.main, textBody({ content: 'who am I?', from: 'frank' }));
  assert.deepEqual(lastBody().messages.map((m) => m.role), ['system', 'user']);
});

test('an app replies with the final text; history keeps llm_history turns', async () => {
  ai.set({ delayMs: 0 });
  for (const [i, q] of ['one', 'two', 'three'].entries()) {
    const r = await callback(srv, 'llmapp', appText(q, 'lisi', 500 + i));
    assert.equal(r.status, 200);
    assert.equal(r.msg.get('MsgType'), 'text');
    assert.equal(r.msg.get('Content'), `You said: ${q}`);
  }
  assert.deepEqual(lastBody().messages.map((m) => m.content),
    ['one', 'You said: one', 'two', 'You said: two', 'three'], 'no system prompt');
  await callback(srv, 'llmapp', appText('four', 'lisi', 503));
  assert.deepEqual(lastBody().messages.map((m) => m.content),
    ['two', 'You said: two', 'three', 'You said: three', 'four'], 'the oldest turn went');
});

test('the bearer key is sent; a wrong one gets a clear error', async () => {
  const ok = await ask(bots.keyed, textBody({ content: 'with key' }));
  assert.equal(ok.text, 'You said: with key');
  assert.equal(keyed.requests.at(-1).headers.authorization, `Bearer ${KEY}`);
  const bad = await ask(bots.wrongkey, textBody({ content: 'wrong key' }));
  assert.match(bad.text, /^LLM error: HTTP 401 \{"error":\{"message":"Incorrect API key/);
  assert.ok(Buffer.byteLength(bad.text) <= 'LLM error: HTTP 401 '.length + 200, 'at most 200 bytes of the body');
  assert.ok(!bad.text.includes('sk-wrong-key'), 'the key is not echoed whole');
});

test('an HTTP 500 is reported, and not kept as history', async () => {
  ai.set({ status: 500 });
  const r = await ask(bots.main, textBody({ content: 'fail please', from: 'gina' }));
  assert.match(r.text, /^LLM error: HTTP 500 .*server_error/);
  ai.reset();
  ai.set({ delayMs: 0 });
  await ask(bots.main, textBody({ content: 'again', from: 'gina' }));
  assert.deepEqual(lastBody().messages.map((m) => m.content), [SYSTEM, 'again']);
});

test('a model that hangs: what came so far, then (timed out)', async () => {
  ai.set({ delayMs: 0, hangAfter: 2 });
  const t0 = Date.now();
  const r = await ask(bots.slow, textBody({ content: 'abcdefgh' }));
  assert.equal(r.text, 'You sa\n\n(timed out)');
  assert.ok(Date.now() - t0 >= 650, 'llm_timeout_ms was waited for');
  ai.set({ hangAfter: 0 });
  const none = await ask(bots.slow, textBody({ content: 'nothing' }));
  assert.equal(none.text, 'LLM error: no answer in time (timed out)');
});

test('a server that does not stream: choices[0].message.content', async () => {
  ai.set({ stream: false });
  const r = await callback(srv, 'llmapp', appText('plain json', 'wang', 600));
  assert.equal(r.msg.get('Content'), 'You said: plain json');
  assert.equal(lastBody().stream, true, 'it was asked to stream');
  const b = await ask(bots.main, textBody({ content: '不流式', from: 'hans' }));
  assert.equal(b.text, 'You said: 不流式');
});

test('the answer is cut at llm_max_bytes, at a character, with a notice', async () => {
  ai.set({ delayMs: 0, chunk: 7, reply: '汉'.repeat(300) });
  const r = await ask(bots.cap, textBody({ content: 'long please' }));
  assert.equal(r.text, `${'汉'.repeat(33)}\n\n… (answer cut at llm_max_bytes)`);
});

test('https: verified with llm_ca_file, read before the chroot; refused without it', { skip: TLS_SKIP }, async () => {
  const ok = await ask(bots.tls, textBody({ content: 'over tls' }));
  assert.equal(ok.text, 'You said: over tls');
  assert.equal(tlsAi.requests.length, 1);
  const bad = await ask(bots.untrusted, textBody({ content: 'untrusted' }));
  assert.match(bad.text, /^LLM error: .*(certificate|SSL)/i);
  assert.equal(tlsAi.requests.length, 1, 'nothing was sent to an unverified server');
});

test('the fake is as strict as OpenAI about the request', async () => {
  const fake = { port: keyed.port };
  const path = '/v1/chat/completions';
  const post = (body, headers = {}) => request(fake, {
    method: 'POST', path, body, headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}`, ...headers },
  });
  const good = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
  assert.equal((await request(fake, { path })).status, 405);
  assert.equal((await post(JSON.stringify(good), { 'content-type': 'text/plain' })).status, 400);
  assert.equal((await post('{not json')).status, 400);
  assert.equal((await post(JSON.stringify({ ...good, model: '' }))).status, 400);
  assert.equal((await post(JSON.stringify({ ...good, messages: [{ role: 'user', content: 5 }] }))).status, 400);
  assert.equal((await post(JSON.stringify({ ...good, messages: [{ role: 'bot', content: 'x' }] }))).status, 400);
  assert.equal((await post(JSON.stringify(good), { authorization: 'Basic eDp5' })).status, 401);
  const r = await post(JSON.stringify(good));
  assert.equal(r.status, 200);
  const j = JSON.parse(r.text);
  assert.equal(j.object, 'chat.completion');
  assert.equal(j.choices[0].message.content, 'You said: hi');
});

test('anything but text gets a hint', async () => {
  const r = await callback(srv, 'llmapp', `<xml><ToUserName><![CDATA[${srv.apps.llmapp.corpid}]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x/y.jpg]]></PicUrl><MediaId><![CDATA[m1]]></MediaId><MsgId>700</MsgId><AgentID>1000010</AgentID></xml>`);
  assert.equal(r.msg.get('Content'), 'Please send text. / 请发送文字消息。');
});
