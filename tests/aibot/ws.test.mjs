// SPDX-License-Identifier: ISC
// The long connection of intelligent bots (framework/aibot/ws*.c, on
// libwebsockets) against the fake WeCom (tests/fake_aibot), driven by
// tests/aibot/test_ws: it reads commands and prints what happens, one
// line each. Every run must end cleanly: exit 0, nothing from ASan or
// LeakSanitizer when built with SANITIZE=1, the secret in no line.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { startAibot, textMsg, enterChat } from '../fake_aibot/server.mjs';
import { startProxy } from '../fake_aibot/proxy.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DRIVER = path.join(path.resolve(ROOT, process.env.BUILD || 'build'), 'tests/aibot/test_ws');
const BOT = 'aibWS0001';
const SECRET = 'ws-secret-0001';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stream = (id, content, finish = false) =>
  JSON.stringify({ msgtype: 'stream', stream: { id, finish, content } });

// The driver: lines in, lines out; wait() finds the first line at or
// after `from` that matches.
function driver(t, args, { env = {} } = {}) {
  const asan = [process.env.ASAN_OPTIONS, 'detect_leaks=1'].filter(Boolean).join(':');
  const p = spawn(DRIVER, args, { env: { ...process.env, ASAN_OPTIONS: asan, ...env } });
  const lines = [];
  const waiters = new Set();
  let buf = '';
  let stderr = '';
  p.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    for (const w of [...waiters]) w();
  });
  p.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => p.on('exit', (code, signal) => {
    r({ code, signal });
    for (const w of [...waiters]) w();
  }));
  let ended = false;
  const d = {
    lines,
    exited,
    get stderr() { return stderr; },
    send(line) { p.stdin.write(line + '\n'); },
    wait(re, ms = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const look = () => {
          for (let i = from; i < lines.length; i++) {
            const m = re.exec(lines[i]);
            if (m) { waiters.delete(look); clearTimeout(timer); resolve({ i, m, line: lines[i] }); return true; }
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(look);
          reject(new Error(`no line matching ${re} within ${ms} ms:\n${lines.join('\n')}\n${stderr}`));
        }, ms);
        if (!look()) waiters.add(look);
      });
    },
    grep: (re) => lines.filter((l) => re.test(l)),
    async stats(bot = 0) {
      const from = lines.length;
      d.send(`stats ${bot}`);
      const { line } = await d.wait(new RegExp(`^stats ${bot} `), 5000, from);
      const o = {};
      for (const kv of line.slice(line.indexOf(' ', 6) + 1).split(' ')) {
        const k = kv.slice(0, kv.indexOf('='));
        if (k === 'last_error') { o[k] = line.slice(line.indexOf('last_error=') + 11); break; }
        o[k] = Number(kv.slice(k.length + 1));
      }
      return o;
    },
    // Ends the driver: stop, then the checks every run must pass.
    async stop() {
      if (ended) return;
      ended = true;
      p.stdin.end();
      const r = await exited;
      if (process.env.WS_TRACE) console.error(lines.map((l) => `# ${l.slice(0, 300)}`).join('\n'));
      assert.equal(r.code, 0, `driver exit ${r.code} ${r.signal}\n${stderr}`);
      assert.doesNotMatch(stderr, /AddressSanitizer|LeakSanitizer|runtime error/, stderr);
      assert.ok(lines.includes('stopped'), lines.join('\n'));
      for (const l of lines) assert.ok(!l.includes(SECRET) || l.startsWith('in '), `secret in: ${l}`);
    },
  };
  t.after(() => { if (!ended) p.kill('SIGKILL'); });
  return d;
}

async function fresh(t, opts = {}) {
  const fake = await startAibot({ bots: { [BOT]: SECRET }, ...opts });
  t.after(() => fake.close());
  return fake;
}

const botArg = (url, secret = SECRET, name = 'b') => `${name},${url},${BOT},${secret}`;

// A callback from the fake, as the driver prints it.
async function callback(fake, d, content = 'hello') {
  const from = d.lines.length;
  const id = fake.send(BOT, textMsg({ content }));
  const { m } = await d.wait(new RegExp(`^in 0 aibot_msg_callback ${id} (.*)$`), 5000, from);
  return [id, JSON.parse(m[1])];
}

async function connected(fake, args, t, opts) {
  const d = driver(t, args, opts);
  await d.wait(/^status 0 connected /);
  return d;
}

test('subscribes with bot_id and secret, says so in one NOTICE line, stops cleanly', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  assert.equal(fake.subscribes[BOT], 1);
  const sub = fake.frames.find((f) => f.json && f.json.cmd === 'aibot_subscribe');
  assert.deepEqual(sub.json.body, { bot_id: BOT, secret: SECRET });
  assert.deepEqual(d.grep(/^log /), ['log notice aibot b: connected to 127.0.0.1']);
  const s = await d.stats();
  assert.equal(s.connects, 1);
  assert.ok(s.connected_since > 0);
  await d.stop();
  assert.ok(d.grep(/^status 0 stopped/).length === 1);
  assert.deepEqual(fake.errors, []);
});

test('a wrong secret: REFUSED with 853000 in an ERR line, retried after backoff_max only; the other bot is unaffected', async (t) => {
  const fake = await startAibot({ bots: { [BOT]: SECRET, aibWS0002: 'right' } });
  t.after(() => fake.close());
  const d = driver(t, ['-b', '100', '-B', '1200', botArg(fake.url, 'wrong-secret'),
    `c,${fake.url},aibWS0002,right`]);
  await d.wait(/^status 0 refused /);
  await d.wait(/^status 1 connected /);
  const { line } = await d.wait(/^log err aibot b: /);
  assert.match(line, /853000 \(wrong bot_id or secret\)/);
  assert.doesNotMatch(line, /wrong-secret/);
  const s = await d.stats(0);
  assert.equal(s.last_errcode, 853000);
  assert.equal(s.last_error, '853000 wrong bot_id or secret');
  await sleep(700);
  assert.equal(fake.subscribes[BOT], 1, 'no retry before backoff_max_ms');
  const t0 = Date.now();
  while (fake.subscribes[BOT] < 2 && Date.now() - t0 < 2500) await sleep(50);
  assert.equal(fake.subscribes[BOT], 2, 'a retry after backoff_max_ms');
  assert.equal(d.grep(/^status 0 connected/).length, 0);
  await d.stop();
  assert.ok(fake.errors.every((e) => e === `subscribe: bad credentials for bot ${BOT}`), fake.errors);
});

test('a callback reaches the caller and a reply on its req_id is acked', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  const [id, body] = await callback(fake, d, 'hello bot');
  assert.equal(body.text.content, 'hello bot');
  assert.equal(body.aibotid, BOT);
  d.send(`send r1 0 aibot_respond_msg ${id} 0 ${JSON.stringify({ msgtype: 'markdown', markdown: { content: '**hi**' } })}`);
  await d.wait(/^done r1 0 -$/);
  assert.equal(fake.replies(id).length, 1);
  assert.equal(fake.replies(id)[0].json.body.markdown.content, '**hi**');
  // A fresh req_id when none is given; a body that is no JSON object is refused.
  d.send('send p1 0 aibot_send_msg - 0 ' + JSON.stringify({ chatid: 'zhangsan', chat_type: 1,
    msgtype: 'markdown', markdown: { content: 'proactive' } }));
  await d.wait(/^done p1 0 -$/);
  d.send('send bad 0 aibot_send_msg - 0 [1,2]');
  await d.wait(/^sent bad -1$/);
  // Events come the same way, with their own cmd.
  const ev = fake.event(BOT, enterChat());
  const { m } = await d.wait(new RegExp(`^in 0 aibot_event_callback ${ev} (.*)$`));
  assert.equal(JSON.parse(m[1]).event.eventtype, 'enter_chat');
  d.send(`send w1 0 aibot_respond_welcome_msg ${ev} 0 ${JSON.stringify({ msgtype: 'text', text: { content: 'welcome' } })}`);
  await d.wait(/^done w1 0 -$/);
  await d.stop();
  assert.deepEqual(fake.errors, []);
});

test('two replies on one req_id go one at a time, each after the previous ack', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setAckDelay(300);
  d.send(`send s1 0 aibot_respond_msg ${id} 0 ${stream('S1', 'part')}`);
  d.send(`send s2 0 aibot_respond_msg ${id} 0 ${stream('S1', 'part two', true)}`);
  const first = await d.wait(/^done s1 0 -$/);
  const second = await d.wait(/^done s2 0 -$/);
  assert.ok(first.i < second.i);
  const r = fake.replies(id);
  assert.equal(r.length, 2);
  assert.ok(r[1].t - r[0].t >= 250, `second sent ${r[1].t - r[0].t} ms after the first`);
  assert.equal(fake.streams.get(`${BOT}\0S1`).content, 'part two');
  await d.stop();
  assert.deepEqual(fake.errors, [], 'no inflight error');
});

test('coalescing: quick updates make fewer frames and the last content arrives; the superseded share the fate of what replaced them', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setAckDelay(200);
  const words = ['one', 'one two', 'one two three', 'one two three four', 'one two three four five'];
  d.send(words.map((w, i) => `send c${i} 0 aibot_respond_msg ${id} 1 ${stream('S2', w)}`).join('\n'));
  for (let i = 0; i < words.length; i++) await d.wait(new RegExp(`^done c${i} 0 -$`));
  const r = fake.replies(id);
  assert.ok(r.length < words.length, `${r.length} frames for ${words.length} updates`);
  assert.equal(r.at(-1).json.body.stream.content, words.at(-1));
  assert.equal(fake.streams.get(`${BOT}\0S2`).content, words.at(-1));

  // The superseded share the fate of what replaced them: here, 846608.
  const [id2] = await callback(fake, d);
  const line = (i) => `send f${i} 0 aibot_respond_msg ${id2} 1 ${stream('S3', words[i])}`;
  // f0 stays in flight while f1..f4 are queued, even on a busy machine.
  fake.setAckDelay(1000);
  d.send(line(0));
  await fake.waitFrame((f) => f.json && f.json.headers && f.json.headers.req_id === id2);
  fake.setErrcode('aibot_respond_msg', 846608);
  d.send([1, 2, 3, 4].map(line).join('\n'));
  await d.wait(/^done f4 /);
  const fates = words.map((w, i) => d.grep(new RegExp(`^done f${i} `)));
  assert.deepEqual(fates.map((f) => f.length), [1, 1, 1, 1, 1]);
  assert.equal(fates[0][0], 'done f0 0 -');
  const sent = fake.replies(id2).length;
  assert.equal(sent, 2, `${sent} frames`);
  assert.deepEqual(fates.slice(1).map((f) => f[0].split(' ')[2]), ['846608', '846608', '846608', '846608']);
  await d.stop();
  assert.deepEqual(fake.errors, []);
});

test('the queue holds 256 requests a bot; each done is called exactly once', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, ['-a', '10000', botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setAckDelay(3000);
  const n = 300;
  d.send([...Array(n).keys()].map((i) => `send q${i} 0 aibot_respond_msg ${id} 0 ${stream('S7', `#${i}`)}`).join('\n'));
  await d.wait(new RegExp(`^sent q${n - 1} `));
  const ok = d.grep(/^sent q\d+ 0$/).length;
  assert.equal(ok, 256);
  assert.equal(d.grep(/^sent q\d+ -1$/).length, n - 256);
  await d.stop();
  const done = d.grep(/^done q/);
  assert.equal(done.length, 256);
  assert.equal(new Set(done.map((l) => l.split(' ')[1])).size, 256);
  assert.ok(done.every((l) => / -2 -$/.test(l)), done.find((l) => !/ -2 -$/.test(l)));
});

test('an ack errcode: done gets it, a WARNING says what it means, the stats keep it', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setErrcode('aibot_respond_msg', 846608);
  d.send(`send e1 0 aibot_respond_msg ${id} 0 ${stream('S3', 'late')}`);
  await d.wait(/^done e1 846608 -$/);
  const { line } = await d.wait(/^log warning /);
  assert.match(line, new RegExp(`aibot b: aibot_respond_msg on ${id}: errcode 846608 \\(stream update expired\\)`));
  const s = await d.stats();
  assert.equal(s.acks_failed, 1);
  assert.equal(s.last_errcode, 846608);
  assert.equal(s.last_error, '846608 stream update expired');
  await d.stop();
});

test('no ack within ack_timeout_ms: done gets -1 (TIMEOUT), the late ack is only noted', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, ['-a', '400', botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setAckDelay(1500);
  const t0 = Date.now();
  d.send(`send slow 0 aibot_respond_msg ${id} 0 ${stream('S4', 'x')}`);
  await d.wait(/^done slow -1 -$/);
  const took = Date.now() - t0;
  assert.ok(took >= 350 && took < 1200, `timed out after ${took} ms`);
  await d.wait(/^log info aibot b: an ack on .* which nothing waits for/, 3000);
  const s = await d.stats();
  assert.equal(s.acks_failed, 1);
  assert.equal(s.last_errcode, -1);
  assert.match(s.last_error, /no ack within 400 ms/);
  await d.stop();
});

test('pings every ping_ms; two unanswered and the client reconnects', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, ['-p', '300', '-b', '200', botArg(fake.url)], t);
  const pings = () => fake.frames.filter((f) => f.json && f.json.cmd === 'ping').length;
  await sleep(1000);
  assert.ok(pings() >= 2 && pings() <= 4, `${pings()} pings in 1 s`);
  fake.setPingAck(false);
  const t0 = Date.now();
  await d.wait(/^status 0 backoff /, 3000);
  const dead = Date.now() - t0;
  assert.ok(dead >= 500 && dead < 1500, `dropped after ${dead} ms`);
  const { line } = await d.wait(/^log warning aibot b: connection lost to 127\.0\.0\.1 \(2 pings unanswered\)/);
  assert.match(line, /retrying in 0\.[1-3] s/);
  fake.setPingAck(true);
  await fake.waitConnected(BOT, 2, 3000);
  await d.wait(/^status 0 connected /, 3000, d.lines.indexOf(line));
  const s = await d.stats();
  assert.equal(s.drops, 1);
  assert.equal(s.connects, 2);
  await d.stop();
  assert.deepEqual(fake.errors, []);
});

test('a drop reconnects after backoff_min; failures in a row back off, doubling, logged without flooding', async (t) => {
  let fake = await startAibot({ bots: { [BOT]: SECRET } });
  const port = fake.port;
  const d = await connected(fake, ['-b', '200', '-B', '1600', botArg(fake.url)], t);
  const t0 = Date.now();
  fake.drop(BOT);
  await fake.waitConnected(BOT, 2, 3000);
  const back = Date.now() - t0;
  assert.ok(back >= 150 && back < 900, `reconnected after ${back} ms`);
  assert.equal((await d.stats()).drops, 1);

  // The server hangs up on every attempt: they come about 200, 400, 800,
  // 1600 ms apart.
  const from = d.lines.length;
  await fake.close();
  const at = [];
  const rude = net.createServer((s) => { at.push(Date.now()); s.destroy(); });
  await new Promise((r) => rude.listen(port, '127.0.0.1', r));
  await sleep(3600);
  await new Promise((r) => rude.close(r));
  const gaps = at.slice(1).map((x, i) => x - at[i]);
  assert.ok(gaps.length >= 3, `attempts at ${at}`);
  for (let i = 1; i < Math.min(gaps.length, 4); i++)
    assert.ok(gaps[i] > gaps[i - 1], `gaps ${gaps} grow`);
  assert.ok(gaps.every((g) => g >= 150 && g <= 1600 * 1.2 + 100), `gaps ${gaps}`);
  const warned = d.lines.slice(from).filter((l) => /^log warning aibot b: /.test(l));
  assert.ok(warned.length <= 3 && warned.length < at.length, `${warned.length} warnings for ${at.length} attempts`);
  assert.match(warned.at(-1), /one failure in 20 is logged/);

  // Back: the next attempt connects.
  fake = await startAibot({ port, bots: { [BOT]: SECRET } });
  t.after(() => fake.close());
  await d.wait(/^status 0 connected /, 4000, from);
  await d.stop();
});

test('disconnected_event: KICKED, one ERR line, no new connection, requests refused', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, ['-b', '100', botArg(fake.url)], t);
  fake.kick(BOT);
  await d.wait(/^status 0 kicked /);
  const err = d.grep(/^log err /);
  assert.deepEqual(err, ['log err aibot b: another connection took over this bot (disconnected_event); '
    + 'not reconnecting \u2014 two servers are fighting over it, or it was started twice']);
  d.send('send k 0 aibot_send_msg - 0 {}');
  await d.wait(/^sent k -1$/);
  await sleep(2000);
  assert.equal(fake.subscribes[BOT], 1);
  assert.equal(d.grep(/^in /).length, 0, 'disconnected_event is not handed over');
  assert.equal(d.grep(/^status 0 /).at(-1).split(' ')[2], 'kicked');
  assert.equal((await d.stats()).drops, 0, 'a kick is no drop');
  await d.stop();
});

test('frames that are no JSON, lack headers.req_id or exceed 1 MiB are logged and ignored; large ones arrive whole', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t);
  const big = 'x'.repeat(200 * 1024);
  const [, body] = await callback(fake, d, big);
  assert.equal(body.text.content, big);
  const from = d.lines.length;
  fake.send(BOT, textMsg({ content: 'y'.repeat(1100 * 1024) }));
  await d.wait(/^log warning aibot b: ignored a message over 1048576 bytes$/, 5000, from);
  const [, after] = await callback(fake, d, 'still here');
  assert.equal(after.text.content, 'still here');
  assert.equal(d.grep(/^in /).length, 2);
  await d.stop();
});

test('a raw server: non-JSON and req_id-less frames are logged and ignored, the connection stays', async (t) => {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  t.after(() => new Promise((r) => { for (const c of wss.clients) c.terminate(); wss.close(r); }));
  await new Promise((r) => wss.on('listening', r));
  wss.on('connection', (ws) => ws.on('message', (data) => {
    const f = JSON.parse(data.toString());
    if (f.cmd !== 'aibot_subscribe') return;
    ws.send(JSON.stringify({ headers: { req_id: f.headers.req_id }, errcode: 0, errmsg: 'ok' }));
    ws.send('not json at all');
    ws.send(JSON.stringify({ cmd: 'aibot_msg_callback', body: {} }));
    ws.send(JSON.stringify({ cmd: 'aibot_msg_callback', headers: { req_id: 'R1' }, body: { msgtype: 'text' } }));
  }));
  // This server answers no ping: a long interval, so that only the
  // frames could end the connection, however slow the machine.
  const d = await connected(null, ['-p', '60000', botArg(`ws://127.0.0.1:${wss.address().port}/path`)], t);
  await d.wait(/^in 0 aibot_msg_callback R1 \{"msgtype":"text"\}$/);
  assert.equal(d.grep(/^log warning aibot b: ignored a message that is not a JSON object$/).length, 1);
  assert.equal(d.grep(/^log warning aibot b: ignored a message without headers.req_id$/).length, 1);
  // Connected once and never dropped (the driver may or may not catch
  // the brief "connecting" before it).
  assert.equal(d.grep(/^status 0 connected /).length, 1);
  assert.equal(d.grep(/^status 0 (backoff|refused|kicked)/).length, 0);
  await d.stop();
});

test('stop fails what is in flight or waiting with -2 (GONE), within a second', async (t) => {
  const fake = await fresh(t);
  const d = await connected(fake, ['-a', '10000', botArg(fake.url)], t);
  const [id] = await callback(fake, d);
  fake.setAckDelay(5000);
  d.send(`send g1 0 aibot_respond_msg ${id} 0 ${stream('S5', 'a')}`);
  d.send(`send g2 0 aibot_respond_msg ${id} 0 ${stream('S5', 'ab')}`);
  await sleep(200);
  const t0 = Date.now();
  d.send('stop');
  await d.wait(/^stopped$/);
  assert.ok(Date.now() - t0 < 1500, `stop took ${Date.now() - t0} ms`);
  assert.ok(d.grep(/^done g1 -2 -$/).length === 1 && d.grep(/^done g2 -2 -$/).length === 1);
  await d.stop();
});

// ---- TLS and the proxy ----------------------------------------------------

const TLS_SKIP = spawnSync('sh', ['-c', 'command -v openssl']).status === 0 ? false
  : 'openssl not installed: no certificate for the wss:// fake';
let certDir, pki, otherCa;
const makeCert = (dir, name, host = 'localhost') => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}${host === 'localhost' ? ',IP:127.0.0.1' : ''}`,
    '-days', '1', '-keyout', path.join(dir, `${name}-key.pem`), '-out', path.join(dir, `${name}.pem`)],
  { stdio: 'ignore' });
  return path.join(dir, `${name}.pem`);
};
before(() => {
  if (TLS_SKIP) return;
  certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'aibot-ws-'));
  const cert = makeCert(certDir, 'server');
  pki = { key: fs.readFileSync(path.join(certDir, 'server-key.pem')), cert: fs.readFileSync(cert), file: cert };
  otherCa = makeCert(certDir, 'other');
  const misnamed = makeCert(certDir, 'misnamed', 'not-localhost.example');
  pki.misnamed = { key: fs.readFileSync(path.join(certDir, 'misnamed-key.pem')),
    cert: fs.readFileSync(misnamed), file: misnamed };
  // A bundle: an unrelated certificate first, the right one second.
  fs.writeFileSync(path.join(certDir, 'bundle.pem'), fs.readFileSync(otherCa) + pki.cert);
});
after(() => certDir && fs.rmSync(certDir, { recursive: true, force: true }));

test('wss: verified against the CA given in memory, also as the second of a bundle', { skip: TLS_SKIP }, async (t) => {
  const fake = await fresh(t, { tls: pki });
  const d = await connected(fake, ['-c', pki.file, botArg(fake.url)], t);
  assert.deepEqual(d.grep(/^log /), [`log notice aibot b: connected to localhost`]);
  const [id] = await callback(fake, d, 'over tls');
  d.send(`send w 0 aibot_respond_msg ${id} 0 ${stream('S6', 'secure', true)}`);
  await d.wait(/^done w 0 -$/);
  await d.stop();
  const d2 = await connected(fake, ['-c', path.join(certDir, 'bundle.pem'), botArg(fake.url)], t);
  await d2.stop();
  assert.deepEqual(fake.errors, []);
});

test('wss: a wrong CA, or a certificate for another name, never connects, and the log says why', { skip: TLS_SKIP }, async (t) => {
  const fake = await fresh(t, { tls: pki });
  const d = driver(t, ['-c', otherCa, '-b', '300', botArg(fake.url)]);
  await d.wait(/^status 0 backoff /);
  await d.wait(/^log warning aibot b: cannot connect to localhost \(server certificate not trusted: self-signed certificate\); retrying in 0\.\d s$/);
  await sleep(800);
  assert.equal(d.grep(/^status 0 connected/).length, 0);
  assert.equal(fake.subscribes[BOT], undefined);
  await d.stop();

  // A trusted certificate for another name is no better.
  const other = await fresh(t, { tls: pki.misnamed });
  const d2 = driver(t, ['-c', pki.misnamed.file, '-b', '300', botArg(other.url)]);
  await d2.wait(/^log warning aibot b: cannot connect to localhost \(server certificate not trusted: [^)]*[Hh]ostname mismatch\)/);
  assert.equal(d2.grep(/^status 0 connected/).length, 0);
  await d2.stop();
});

test('proxy: conf->proxy tunnels ws:// and wss:// with CONNECT', { skip: TLS_SKIP }, async (t) => {
  const proxy = await startProxy();
  t.after(() => proxy.close());
  const plain = await fresh(t);
  const secure = await fresh(t, { tls: pki });
  const d = await connected(plain, ['-x', proxy.url, botArg(plain.url)], t);
  await callback(plain, d);
  await d.stop();
  const d2 = await connected(secure, ['-x', proxy.url + '/', '-c', pki.file, botArg(secure.url)], t);
  await callback(secure, d2);
  await d2.stop();
  assert.deepEqual(proxy.connects, [`127.0.0.1:${plain.port}`, `localhost:${secure.port}`]);
});

test('proxy: without conf->proxy, $http_proxy is not used; a bad proxy URL refuses to start', async (t) => {
  const proxy = await startProxy();
  t.after(() => proxy.close());
  const fake = await fresh(t);
  const d = await connected(fake, [botArg(fake.url)], t,
    { env: { http_proxy: proxy.url, HTTP_PROXY: proxy.url, https_proxy: proxy.url } });
  await d.stop();
  assert.deepEqual(proxy.connects, []);
  const bad = driver(t, ['-x', 'https://user:pw@proxy:3128', botArg(fake.url)]);
  await bad.wait(/^error start$/);
  assert.equal((await bad.exited).code, 1);
  assert.deepEqual(bad.grep(/^log /), ['log err aibot: the proxy is not http://host:port']);
  assert.doesNotMatch(bad.stderr, /AddressSanitizer|LeakSanitizer|runtime error/);
});
