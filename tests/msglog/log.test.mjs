// SPDX-License-Identifier: ISC
// The message log through the real server (2 workers): a day's worth of
// traffic to two apps and a bot with `log = yes`, then GET
// /api/v1/messages with every filter and page, keys and their scopes,
// refusals; and callbacks that keep their answers while another process
// holds the database locked (the loss counted and logged).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as h from '../callback/harness.mjs';
import { callbackBot, textBody, botCallback } from '../aibot/bot.mjs';

const ALL = 'log-reader-key-0123456789';
const OPS = 'ops-reader-key-0123456789';
const SENDERS = ['alice', 'bob', 'carol', 'dave'];
const NAPP = 200;
const NBOT = 40;
const bot = callbackBot('assist', 'echo', 'log = yes\n');
let srv;
let t0;
let replies = 0;
const sent = { in: 0, ops: 0, hr: 0, click: 0, alice: 0, disk: 0, chatA: 0 };

const sections = () => `${bot.section}
[apikey reader]
key = ${ALL}

[apikey opsreader]
key = ${OPS}
apps = ops
`;

function appMessage(i) {
  const sender = SENDERS[i % 4];
  const base = { ToUserName: srv.apps.ops.corpid, FromUserName: sender, CreateTime: Math.floor(Date.now() / 1000) };
  if (i % 5 === 4) {
    return { ...base, MsgType: 'event', Event: 'click', EventKey: `key${i}`, AgentID: 1000010 };
  }
  const content = `msg ${i} ${i % 10 === 0 ? 'disk full 磁盘已满' : 'all good'}`;
  return { ...base, MsgType: 'text', Content: content, MsgId: String(7000000 + i), AgentID: 1000010 };
}

async function sendApp(i) {
  const app = i % 2 ? 'ops' : 'hr';
  const m = appMessage(i);
  const r = await h.callback(srv, app, h.toXml({ ...m, ToUserName: srv.apps[app].corpid }));
  assert.equal(r.status, 200);
  if (r.reply) replies++;
  sent.in++;
  sent[app]++;
  if (m.Event) sent.click++;
  if (m.FromUserName === 'alice') sent.alice++;
  if (i % 10 === 0 && !m.Event) sent.disk++;
}

async function sendBot(i) {
  const chatid = i % 2 ? 'chatA' : undefined;
  const r = await botCallback(srv, bot, textBody({ content: `bot question ${i}`, from: 'erin', chatid }));
  assert.equal(r.status, 200);
  if (r.reply) replies++;
  sent.in++;
  if (chatid) sent.chatA++;
}

// The workers whose writer opened the file: they had entries to write.
function writers() {
  const lines = srv.log().split('\n').filter((l) => /message log: writing to .*messages\.db/.test(l));
  return [...new Set(lines.map((l) => /\[(wrk \d+)\]/.exec(l)?.[1]))].sort();
}

async function get(qs, key = ALL, headers = {}) {
  const r = await h.request(srv, {
    path: `/api/v1/messages${qs ? '?' + qs : ''}`,
    headers: key ? { authorization: `Bearer ${key}`, ...headers } : headers,
  });
  return { ...r, json: r.text ? JSON.parse(r.text) : null };
}
const count = async (qs, key) => {
  const r = await get(qs, key);
  assert.equal(r.status, 200, r.text);
  return r.json.count;
};

// In parallel, so that both workers take callbacks.
async function inBatches(n, fn, size = 20) {
  for (let i = 0; i < n; i += size) {
    await Promise.all(Array.from({ length: Math.min(size, n - i) }, (_, k) => fn(i + k)));
  }
}

before(async () => {
  srv = await h.startServer({
    apps: [
      { name: 'ops', handler: 'echo', extra: 'log = yes\n' },
      { name: 'hr', handler: 'echo', extra: 'log = yes\n' },
    ],
    sections: sections(),
    // Each wake of a worker accepts one connection: both take callbacks.
    koreExtra: 'worker_accept_threshold 1\n',
  });
  t0 = Math.floor(Date.now() / 1000);
  await inBatches(NAPP, sendApp);
  await inBatches(NBOT, sendBot);
  // Which worker accepts is Kore's choice: more traffic until both wrote.
  for (let k = 0; k < 10 && writers().length < 2; k++) {
    await h.sleep(200);
    if (writers().length < 2) await inBatches(20, (i) => sendApp(NAPP + 20 * k + i));
  }
  // The echo app has no log = yes.
  for (let i = 0; i < 5; i++) {
    await h.callback(srv, 'echo', h.toXml({ ToUserName: h.SAMPLE.corpid, FromUserName: 'alice', CreateTime: 1, MsgType: 'text', Content: 'not logged', MsgId: String(i), AgentID: 218 }));
  }
  // Written by the workers' threads a moment later.
  const deadline = Date.now() + 8000;
  while (await count('') < sent.in + replies && Date.now() < deadline) await h.sleep(50);
});

after(async () => { if (srv) await h.stopAndCheck(srv); });

test('a day of traffic: every message in and every reply out, written by both workers', async () => {
  assert.equal(replies, sent.in, 'echo answers everything');
  assert.equal(await count(''), sent.in + replies);
  assert.equal(await count('direction=in'), sent.in);
  assert.equal(await count('direction=out'), replies);
  assert.deepEqual(writers(), ['wrk 1', 'wrk 2'], 'both workers wrote');
});

test('every filter, alone and together', async () => {
  assert.equal(await count('app=ops&direction=in'), sent.ops);
  assert.equal(await count('app=hr&direction=in'), sent.hr);
  assert.equal(await count('app=assist&direction=in'), NBOT);
  assert.equal(await count('type=event%3Aclick'), sent.click);
  assert.equal(await count('type=text&direction=in&app=ops'), sent.ops - sent.click / 2);
  assert.equal(await count('sender=alice'), sent.alice);
  assert.equal(await count('chat=chatA&direction=in'), sent.chatA);
  assert.equal(await count('q=DISK+full&direction=in'), sent.disk);
  assert.equal(await count(`q=${encodeURIComponent('磁盘已满')}&direction=in`), sent.disk);
  assert.equal(await count(`q=${encodeURIComponent('磁盘')}&direction=in`), sent.disk);
  const now = Math.floor(Date.now() / 1000);
  const iso = (t) => new Date(t * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  assert.equal(await count(`since=${t0 - 1}&until=${now + 2}`), sent.in + replies);
  assert.equal(await count(`since=${iso(t0 - 1)}&until=${iso(now + 2)}`), sent.in + replies);
  assert.equal(await count(`until=${t0 - 1}`), 0);
  assert.equal(await count(`since=${now + 2}`), 0);
  assert.equal(await count('app=echo'), 0, 'an app without log = yes is not recorded');
});

test('pages of 50 walk every row newest first, and previous walks back', async () => {
  const total = await count('');
  const pages = [];
  let r = await get('limit=50');
  assert.equal(r.json.previous, null);
  for (;;) {
    pages.push(r.json.results.map((x) => x.id));
    if (!r.json.next) break;
    assert.match(r.json.next, /^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/messages\?cursor=[A-Za-z0-9_-]+$/);
    r = await get(new URL(r.json.next).search.slice(1));
  }
  const ids = pages.flat();
  assert.equal(ids.length, total);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] < ids[i - 1], 'newest first, no repeats');
  for (let k = pages.length - 1; k > 0; k--) {
    r = await get(new URL(r.json.previous).search.slice(1));
    assert.deepEqual(r.json.results.map((x) => x.id), pages[k - 1]);
  }
  assert.equal(r.json.previous, null);
  // Filters travel with the cursor.
  r = await get('app=ops&limit=7');
  const next = await get(new URL(r.json.next).search.slice(1));
  assert.ok(next.json.results.every((x) => x.app === 'ops'));
  assert.equal(next.json.count, r.json.count);
});

test('a row has every decrypted field; a reply its own', async () => {
  const r = await get('q=msg+10+disk&direction=in');
  assert.equal(r.json.count, 1);
  const m = r.json.results[0];
  assert.equal(m.app, 'hr');
  assert.equal(m.channel, 'app');
  assert.equal(m.type, 'text');
  assert.equal(m.sender, 'carol');
  assert.equal(m.msgid, '7000010');
  assert.equal(m.content, 'msg 10 disk full 磁盘已满');
  assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(m.fields.Content, m.content);
  assert.equal(m.fields.FromUserName, 'carol');
  assert.equal(m.fields.MsgType, 'text');
  const out = (await get('direction=out&app=hr&type=text&limit=500')).json.results.find((x) => x.msgid === '7000010');
  assert.equal(out.content, m.content);
  assert.equal(out.fields.ToUserName, 'carol');
  assert.equal(out.fields.MsgType, 'text');
  const b = (await get('app=assist&chat=chatA&direction=out&limit=1')).json.results[0];
  assert.equal(b.channel, 'aibot_callback');
  assert.equal(b.type, 'stream');
  assert.match(b.content, /^bot question \d+$/);
  assert.equal(b.fields['stream/content'], b.content);
  const q = (await get('app=assist&chat=chatA&direction=in&limit=1')).json.results[0];
  assert.equal(q.sender, 'erin');
  assert.equal(q.fields['from/userid'], 'erin');
  assert.ok(!JSON.stringify(r.json).includes(srv.apps.hr.aeskey), 'no secret in an answer');
});

test('a key scoped to one app sees only that app', async () => {
  const r = await get('limit=500', OPS);
  assert.equal(r.status, 200);
  assert.ok(r.json.results.length > 0);
  assert.ok(r.json.results.every((x) => x.app === 'ops'));
  assert.equal(r.json.count, await count('app=ops'));
  const hr = await get('app=hr', OPS);
  assert.equal(hr.status, 403);
  assert.match(hr.json.message, /may not read hr/);
});

test('no key or a wrong one is 401; bad parameters are 400 and named', async () => {
  for (const key of [null, 'wrong-key-0123456789abc']) {
    const r = await get('', key);
    assert.equal(r.status, 401);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  }
  const ok = await get('', null, { 'x-api-key': ALL });
  assert.equal(ok.status, 200);
  for (const [qs, name] of [['limit=501', 'limit'], ['direction=up', 'direction'], ['since=yesterday', 'since'],
    ['cursor=zzz', 'cursor'], ['key=abc', 'key'], ['app=a&app=b', 'app']]) {
    const r = await get(qs);
    assert.equal(r.status, 400, qs);
    assert.equal(r.json.parameter, name, r.text);
    assert.match(r.json.message, new RegExp(`^${name}:`));
  }
  const post = await h.request(srv, { method: 'POST', path: '/api/v1/messages', body: '', headers: { authorization: `Bearer ${ALL}` } });
  assert.equal(post.status, 405);
});

// Another process holds the write lock past busy_ms (2 s).
test('a locked database: callbacks keep their answers, the loss is counted and logged', async (t) => {
  const lock = spawn('sqlite3', [join(srv.dir, 'messages.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
  const started = await new Promise((res) => {
    lock.on('error', () => res(false));
    lock.stdout.on('data', (d) => { if (/locked-now/.test(d.toString())) res(true); });
    lock.stdin.write("BEGIN IMMEDIATE;\nINSERT INTO messages (direction, app, channel, type, time) VALUES ('in','x','app','text',1);\nSELECT 'locked-now';\n");
  });
  if (!started) {
    t.skip('no sqlite3 command (Debian package sqlite3)');
    return;
  }
  const locked = Date.now();
  try {
    for (let i = 0; i < 5; i++) {
      const r = await h.callback(srv, 'ops', h.toXml({ ToUserName: srv.apps.ops.corpid, FromUserName: 'locked', CreateTime: 1, MsgType: 'text', Content: `while locked ${i}`, MsgId: String(8000000 + i), AgentID: 1000010 }));
      assert.equal(r.status, 200);
      assert.equal(r.msg.get('Content'), `while locked ${i}`);
      assert.ok(r.ms < 1000, `answered in ${r.ms} ms while the log waits`);
    }
    const lines = await h.waitLog(srv, /message log: dropped \d+ \(last: database is locked\)/, 8000);
    assert.ok(lines.length > 0, 'the drop is logged');
    // A worker's first batch holds one entry, its second the rest:
    // both wait their 2 s for the lock before they go.
    await h.sleep(Math.max(0, locked + 4600 - Date.now()));
  } finally {
    lock.stdin.end('ROLLBACK;\n.quit\n');
    await new Promise((res) => lock.on('exit', res));
  }
  assert.equal(await count('sender=locked'), 0);
  const r = await h.callback(srv, 'ops', h.toXml({ ToUserName: srv.apps.ops.corpid, FromUserName: 'unlocked', CreateTime: 1, MsgType: 'text', Content: 'after', MsgId: '8000100', AgentID: 1000010 }));
  assert.equal(r.status, 200);
  const deadline = Date.now() + 5000;
  while (await count('sender=unlocked') < 1 && Date.now() < deadline) await h.sleep(50);
  assert.equal(await count('sender=unlocked'), 1);
});
