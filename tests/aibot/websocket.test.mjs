// SPDX-License-Identifier: ISC
// Intelligent bots on the long connection, through the real server: it
// dials the fake WeCom bot server (tests/fake_aibot), subscribes, and
// answers each callback on its req_id with the same C handlers as apps
// use — streams pushed update by update, welcomes, card updates — and
// keeps one socket per bot: reconnecting after a drop or a worker's
// death, never after being kicked. Every frame the server sends is
// checked by the fake, whose `errors` must stay empty.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, deaths, request, sleep, waitLog, ROOT } from '../callback/harness.mjs';
import { startAibot, textMsg, enterChat, cardEvent } from '../fake_aibot/server.mjs';
import { startOpenAI } from '../fake_openai/server.mjs';

const BOTS = { aibECHO: 'echo-secret', aibSTREAM: 'stream-secret', aibKICK: 'kick-secret', aibCAM: 'cam-secret', aibLLM: 'llm-secret' };
const FIXTURE = join(ROOT, 'tests', 'fixtures', 'tiny.jpg');
const PUSHKEY = 'push-key-0123456789abcdef';
let srv, fake, killed, capdir, ai;

function section(name, handler, id, extra = '') {
  return `
[aibot ${name}]
handler = ${handler}
mode = websocket
bot_id = ${id}
secret = ${BOTS[id]}
ws_url = ${fake.url}
${extra}`;
}

before(async () => {
  capdir = mkdtempSync(join(tmpdir(), 'wecom-cam-'));
  fake = await startAibot({ bots: BOTS });
  ai = await startOpenAI({ chunk: 3, delayMs: 40 });
  srv = await startServer({
    dedupe: true,
    // Short, but not so short that a busy sanitizer build misses pings.
    globalExtra: 'aibot_ping_ms = 1000\noutbox_interval_ms = 300\n',
    sections: section('echobot', 'echo', 'aibECHO') + section('streambot', 'stream', 'aibSTREAM') +
      section('kickbot', 'echo', 'aibKICK') +
      section('cam', 'monitor', 'aibCAM', `allow = zhangsan\ncapture = cp ${FIXTURE} %s\ncapture_dir = ${capdir}\n`) +
      section('llmbot', 'llm', 'aibLLM', `llm_url = ${ai.url}\nllm_model = test-model\n`) +
      `\n[apikey pusher]\nkey = ${PUSHKEY}\napps = streambot\n`,
  });
  for (const id of Object.keys(BOTS)) await fake.waitConnected(id, 1, 10000);
});
after(async () => {
  // The worker this suite kills itself is the one death allowed.
  const log = await srv.stop();
  if (process.env.DUMP_LOG) (await import('node:fs')).writeFileSync(process.env.DUMP_LOG, log);
  assert.deepEqual(deaths(log).filter((l) => !l.includes(`(${killed}) exited with status 9`)), [], 'a kore process died');
  await fake.close();
  await ai.close();
  rmSync(capdir, { recursive: true, force: true });
  assert.doesNotMatch(log, /echo-secret|stream-secret|kick-secret|cam-secret/, 'no secret in the log');
});

async function answer(reqId, pred = (f) => true, ms = 5000) {
  return fake.waitFrame((f) => f.json?.headers?.req_id === reqId && f.json.cmd && pred(f), ms);
}

test('each bot subscribes once, with its id and secret', async () => {
  for (const id of Object.keys(BOTS)) assert.equal(fake.subscribes[id], 1);
  const sub = fake.frames.find((f) => f.json?.cmd === 'aibot_subscribe' && f.bot === 'aibECHO');
  assert.deepEqual(sub.json.body, { bot_id: 'aibECHO', secret: 'echo-secret' });
});

test('a text is answered on its req_id by an inline app, as a finished stream', async () => {
  const req = fake.send('aibECHO', textMsg({ content: '你好 websocket' }));
  const f = await answer(req);
  assert.equal(f.json.cmd, 'aibot_respond_msg');
  assert.equal(f.json.body.msgtype, 'stream');
  assert.equal(f.json.body.stream.finish, true);
  assert.equal(f.json.body.stream.content, '你好 websocket');
});

test('enter_chat gets aibot_respond_welcome_msg', async () => {
  const req = fake.event('aibECHO', enterChat({ from: 'lisi' }));
  const f = await answer(req);
  assert.equal(f.json.cmd, 'aibot_respond_welcome_msg');
  assert.deepEqual(f.json.body, { msgtype: 'text', text: { content: 'Welcome, lisi!' } });
});

test('a card click gets aibot_respond_update_msg with the card', async () => {
  const req = fake.event('aibSTREAM', cardEvent({ task_id: 'TASK-7', event_key: 'ok' }));
  const f = await answer(req);
  assert.equal(f.json.cmd, 'aibot_respond_update_msg');
  assert.equal(f.json.body.response_type, 'update_template_card');
  assert.equal(f.json.body.template_card.task_id, 'TASK-7');
});

test('a threaded stream is pushed update by update, one at a time, then finished', async () => {
  const req = fake.send('aibSTREAM', textMsg({ content: 'stream 6 150' }));
  const last = await answer(req, (f) => f.json.body?.stream?.finish === true, 10000);
  assert.equal(last.json.body.stream.content, 'done 6');
  const frames = fake.replies(req);
  assert.ok(frames.length >= 3, `${frames.length} frames`);
  const ids = new Set(frames.map((f) => (f.json ?? f).body.stream.id));
  assert.equal(ids.size, 1, 'one stream id');
  const contents = frames.map((f) => (f.json ?? f).body.stream.content);
  for (let i = 1; i < contents.length - 1; i++) assert.ok(contents[i].startsWith(contents[i - 1]));
});

test('the channel is reported to the handler', async () => {
  const req = fake.send('aibSTREAM', textMsg({ content: 'who', from: 'wangwu', chatid: 'wrGROUP1', chattype: 'group' }));
  const f = await answer(req);
  assert.equal(f.json.body.stream.content, 'websocket: who from wangwu');
});

test('the same msgid delivered twice runs once', async () => {
  const m = textMsg({ content: 'once', msgid: 'dup-1' });
  const a = fake.send('aibECHO', m);
  await answer(a);
  const b = fake.send('aibECHO', { ...m });
  await sleep(500);
  assert.equal(fake.replies(b).length, 0);
});

test('an expired stream (846608) ends as a proactive message to the conversation', async () => {
  fake.setErrcode('aibot_respond_msg', 846608, 100);
  const req = fake.send('aibSTREAM', textMsg({ content: 'stream 2 50', from: 'zhaoliu' }));
  const sent = await fake.waitFrame((f) => f.json?.cmd === 'aibot_send_msg' && f.json.body.chatid === 'zhaoliu', 5000);
  fake.clearErrcodes();
  assert.equal(sent.json.body.chat_type, 1);
  assert.equal(sent.json.body.msgtype, 'markdown');
  assert.equal(sent.json.body.markdown.content, 'done 2');
  assert.ok(fake.replies(req).length >= 1);
});

const pattern = (n) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + Math.floor(i / 251)) & 255));

test('an image reply is uploaded in 512 KiB chunks, then answered by media_id', async () => {
  const n = 1200 * 1024;
  const req = fake.send('aibSTREAM', textMsg({ content: `photo ${n}` }));
  const f = await answer(req, () => true, 15000);
  assert.equal(f.json.body.msgtype, 'image', JSON.stringify(f.json.body).slice(0, 200));
  const chunks = fake.frames.filter((x) => x.json?.cmd === 'aibot_upload_media_chunk' && x.bot === 'aibSTREAM');
  assert.equal(chunks.length, 3);
  assert.ok(fake.media(f.json.body.image.media_id).equals(pattern(n)), 'the bytes arrived whole');
});

test('the monitor app on a long connection: photo answers with the picture, no public URL', async () => {
  const req = fake.send('aibCAM', textMsg({ content: 'photo' }));
  const f = await answer(req, () => true, 10000);
  assert.equal(f.json.body.msgtype, 'image', JSON.stringify(f.json.body));
  assert.ok(fake.media(f.json.body.image.media_id).equals(readFileSync(FIXTURE)));
  const other = fake.send('aibCAM', textMsg({ content: 'photo', from: 'lisi' }));
  assert.doesNotMatch((await answer(other)).json.body.stream.content, /^$/);
});

const sends = (chat) => fake.frames.filter((f) => f.json?.cmd === 'aibot_send_msg' && f.json.body.chatid === chat);

test('wecom-send --aibot queues; the server sends it on the long connection', async () => {
  const { execFileSync } = await import('node:child_process');
  const out = execFileSync(join(ROOT, process.env.BUILD ?? 'build', 'wecom-send'),
    ['--aibot', 'streambot', '--chat', 'lisi', 'backup **done**'],
    { env: { ...process.env, WECOM_CONF: join(srv.dir, 'wecom.conf') } }).toString();
  assert.match(out, /^[A-Za-z0-9_.-]+\n$/, 'prints the key');
  const f = await fake.waitFrame((x) => x.json?.cmd === 'aibot_send_msg' && x.json.body.chatid === 'lisi', 5000);
  assert.deepEqual(f.json.body, { chatid: 'lisi', chat_type: 1, msgtype: 'markdown', markdown: { content: 'backup **done**' } });
});

test('the push API sends to a bot\'s group chat', async () => {
  const r = await request(srv, {
    method: 'POST', path: '/api/v1/send',
    headers: { authorization: `Bearer ${PUSHKEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ aibot: 'streambot', chat: 'wrGROUPPUSH', group: 1, msgtype: 'markdown', content: '**alert**' }),
  });
  assert.ok([200, 202].includes(r.status), `${r.status} ${r.text}`);
  const f = await fake.waitFrame((x) => x.json?.cmd === 'aibot_send_msg' && x.json.body.chatid === 'wrGROUPPUSH', 5000);
  assert.equal(f.json.body.chat_type, 2);
  const bad = await request(srv, {
    method: 'POST', path: '/api/v1/send',
    headers: { authorization: `Bearer ${PUSHKEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ aibot: 'echobot', chat: 'x', content: 'no' }),
  });
  assert.equal(bad.status, 403, 'a key\'s apps limit its bots');
});

test('35 messages to one conversation: 30 this minute, the rest queued, none refused', async () => {
  const { execFileSync } = await import('node:child_process');
  for (let i = 0; i < 35; i++) {
    execFileSync(join(ROOT, process.env.BUILD ?? 'build', 'wecom-send'),
      ['--aibot', 'streambot', '--chat', 'ratechat', '-q', `n${i}`],
      { env: { ...process.env, WECOM_CONF: join(srv.dir, 'wecom.conf') } });
  }
  // A sanitizer build drains slowly: wait for the 30, well within the minute.
  for (let i = 0; i < 250 && sends('ratechat').length < 30; i++) await sleep(100);
  await sleep(1500);
  assert.equal(sends('ratechat').length, 30);
  assert.deepEqual(fake.errors.filter((e) => /^rate/.test(e)), [], 'WeCom never had to refuse one');
  const q = (await import('node:fs')).readdirSync(join(srv.dir, 'outbox', 'new'));
  assert.equal(q.filter((n) => !n.startsWith('.')).length, 5, 'five wait for the next minute');
});

test('the LLM bridge streams the model\'s tokens into the bot\'s stream', async () => {
  ai.set({ reply: '这是一个比较长的回答，它会一点一点地出现在企业微信里。'.repeat(3) });
  const req = fake.send('aibLLM', textMsg({ content: 'tell me' }));
  const last = await answer(req, (f) => f.json.body?.stream?.finish === true, 15000);
  assert.equal(last.json.body.stream.content, '这是一个比较长的回答，它会一点一点地出现在企业微信里。'.repeat(3));
  const frames = fake.replies(req).map((f) => (f.json ?? f).body.stream.content);
  assert.ok(frames.length >= 3, `${frames.length} updates pushed`);
  assert.equal(ai.requests.at(-1).body.messages.at(-1).content, 'tell me');
});

test('/healthz and /metrics show each connection', async () => {
  const h = await request(srv, { path: '/healthz' });
  assert.match(h.text, /aibot echobot: websocket connected since \d{4}-\d\d-\d\dT/);
  const m = await request(srv, { path: '/metrics' });
  assert.match(m.text, /wecom_aibot_connected\{bot="streambot"\} 1/);
});

test('pings every aibot_ping_ms; a dropped socket is reconnected', async () => {
  const pings = fake.frames.filter((f) => f.json?.cmd === 'ping' && f.bot === 'aibECHO').length;
  assert.ok(pings >= 2, `${pings} pings`);
  const before = fake.connections.aibECHO;
  fake.drop('aibECHO');
  await fake.waitConnected('aibECHO', before + 1, 8000);
  const req = fake.send('aibECHO', textMsg({ content: 'back' }));
  assert.equal((await answer(req)).json.body.stream.content, 'back');
});

test('two unanswered pings: the server reconnects', async () => {
  const before = fake.connections.aibECHO;
  fake.setPingAck(false);
  await sleep(3500);
  fake.setPingAck(true);
  await fake.waitConnected('aibECHO', before + 1, 8000);
  await waitLog(srv, /ping/i);
});

test('kill -9 of the worker holding the sockets: its successor reconnects', async () => {
  const before = { ...fake.connections };
  // The worker of this server's process group.
  const pids = (await import('node:child_process')).execSync(`pgrep -g ${srv.child.pid} -f "wrk 1"`).toString().trim().split('\n');
  assert.equal(pids.length, 1);
  killed = Number(pids[0]);
  process.kill(killed, 'SIGKILL');
  for (const id of Object.keys(BOTS)) await fake.waitConnected(id, before[id] + 1, 10000);
  const req = fake.send('aibSTREAM', textMsg({ content: 'after kill' }));
  assert.equal((await answer(req)).json.body.stream.content, 'websocket: after kill from zhangsan');
});

test('kicked (disconnected_event): says so and does not fight back', async () => {
  const before = fake.connections.aibKICK;
  fake.kick('aibKICK');
  const lines = await waitLog(srv, /kickbot.*another connection/i, 3000);
  assert.equal(lines.length, 1, 'one loud line');
  await sleep(2500);
  assert.equal(fake.connections.aibKICK, before, 'no reconnect');
  const h = await request(srv, { path: '/healthz' });
  assert.match(h.text, /aibot kickbot: websocket kicked/);
});

test('the fake saw no protocol violation', () => {
  assert.deepEqual(fake.errors, []);
});
