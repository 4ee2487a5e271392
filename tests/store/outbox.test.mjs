// SPDX-License-Identifier: ISC
// The outbox shared through PostgreSQL ([global] store): two real
// servers (seccomp tracing on) and wecom-send on a third "host", each
// with its own state directory, one database, one fake WeCom. A message
// queued anywhere is sent by whichever drainer claims it; a server
// killed -9 mid-drain loses nothing, and a message it may have sent is
// sent again only into WeCom's duplicate check; a database that is down
// at put keeps the message in the host's own files. `wecom-send --flush
// --now` on another host sends the store's messages too, backoff ignored,
// each once, and flushes its files while the database is down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { run, WECOM_SEND } from '../client/helpers.mjs';
import { startPostgres } from '../pg/pg.mjs';
import { within } from './hosts.mjs';

const N = 1000;
const APIKEY = 'store-outbox-key-0123456789';
let pg, fake, a, b, dir, conf, state;

// A short claim lease (retry_max_ms + timeout_ms + 10 s = 14 s) and a
// drain spread thin: 5 messages every 100 ms per server.
const sections = (url) => `store = ${url}
retry_base_ms = 20
retry_max_ms = 2000
timeout_ms = 2000
outbox_interval_ms = 100
outbox_batch = 5

[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = app-secret-1

[apikey monitoring]
key = ${APIKEY}
app = ops
to = zhangsan
`;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const send = (args, env = {}) => run(WECOM_SEND, ['-c', conf, ...args],
  { env: { ...process.env, ...env } });
const sent = async (content) => (await fake.control('messages'))
  .filter((m) => m.api === 'message/send' && m.body.text?.content === content);
const files = (sub) => {
  const d = path.join(state, 'outbox', sub);
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.startsWith('.')) : [];
};

async function until(what, fn, ms = 30000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

before(async () => {
  pg = await startPostgres();
  fake = await startFake();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wecom-store-outbox-'));
  state = path.join(dir, 'state');
  conf = path.join(dir, 'wecom.conf');
  fs.writeFileSync(conf, `[global]\napi_base = ${fake.base}\nstate_dir = ${state}\n${sections(pg.url)}`);
});

after(async () => {
  for (const srv of [a, b]) if (srv) await h.stopAndCheck(srv);
  await within(fake?.close(), 5000);
  await within(pg?.stop(), 30000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('queued on one host (wecom-send --spool), drained by a server: delivered once', async () => {
  const r = await send(['--spool', '--key', 'first-one', '--to', 'zhangsan', 'queued on host A']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'first-one');
  assert.equal(r.stderr, '');
  assert.deepEqual(files('new'), [], 'in the store, not in the host\'s files');
  assert.deepEqual(await pg.psql("SELECT state FROM wecom_outbox WHERE key = 'first-one'"), [['queued']]);
  // The same key again, from anywhere: still one message.
  assert.equal((await send(['--spool', '--key', 'first-one', '--to', 'zhangsan', 'queued on host A'])).code, 0);

  const opts = { workers: 2, apiBase: fake.base, globalExtra: sections(pg.url) };
  b = await h.startServer(opts);
  await until('the row sent', async () =>
    (await pg.psql("SELECT state FROM wecom_outbox WHERE key = 'first-one'"))[0][0] === 'sent');
  const m = await sent('queued on host A');
  assert.equal(m.length, 1, JSON.stringify(m));
  assert.ok(!m[0].duplicate);
  const [[done]] = await pg.psql("SELECT done FROM wecom_outbox WHERE key = 'first-one'");
  assert.equal(JSON.parse(done).msgid, m[0].msgid);
  a = await h.startServer(opts);
});

test(`${N} messages, two servers draining, one killed -9 mid-drain: all delivered, a repeat only as a flagged duplicate`, async () => {
  // N records as wecom-send --spool writes them, put in one statement.
  const [[tpl]] = await pg.psql("SELECT record FROM wecom_outbox WHERE key = 'first-one'");
  const rec = JSON.parse(tpl);
  rec.key = 'KEYX';
  rec.msg.text.content = 'CONTENTX';
  const json = JSON.stringify(rec);
  assert.ok(!json.includes('$r$'));
  await fake.control('inject', { path: 'message/send', delay_ms: 10, times: 100000 });
  const t0 = Date.now();
  await pg.psql(`INSERT INTO wecom_outbox (key, record) SELECT 'bulk-' || i,
    replace(replace($r$${json}$r$, 'KEYX', 'bulk-' || i), 'CONTENTX', 'bulk message ' || i)
    FROM generate_series(1, ${N}) i`);
  await until('a third delivered', async () => (await fake.control('stats')).delivered >= 1 + N / 3);
  // Mid-send: both servers hold a claim (the fake holds each send 10 ms).
  const live = "SELECT count(*) FROM wecom_outbox WHERE state = 'queued' AND claimed_until > now()";
  for (let i = 0; i < 50 && (await pg.psql(live))[0][0] !== '2'; i++);
  process.kill(-a.child.pid, 'SIGKILL');
  const killedAt = Date.now() - t0;
  const [[claimed]] = await pg.psql(`SELECT count(*) FROM wecom_outbox WHERE state = 'queued'
    AND claimed_until > now()`);
  await until('every row sent', async () =>
    (await pg.psql("SELECT count(*) FROM wecom_outbox WHERE key LIKE 'bulk-%' AND state = 'sent'"))[0][0] === String(N),
  45000);
  const ms = Date.now() - t0;
  await fake.control('uninject', { path: 'message/send' });

  const msgs = (await fake.control('messages')).filter((m) => m.api === 'message/send' &&
    m.body.text?.content?.startsWith('bulk message '));
  const by = new Map();
  for (const m of msgs) {
    const e = by.get(m.body.text.content) ?? { real: 0, flagged: 0 };
    if (m.duplicate) e.flagged++; else e.real++;
    by.set(m.body.text.content, e);
  }
  assert.equal(by.size, N, 'every message arrived');
  const twice = [...by].filter(([, e]) => e.real !== 1);
  assert.deepEqual(twice, [], 'none delivered twice without the duplicate flag');
  const flagged = [...by.values()].reduce((s, e) => s + e.flagged, 0);
  const [[interrupted]] = await pg.psql("SELECT count(*) FROM wecom_outbox WHERE interrupted > 0");
  // Every repeat is a row the killed server had claimed.
  assert.ok(flagged <= Number(interrupted), `${flagged} flagged, ${interrupted} interrupted`);
  assert.ok(Number(interrupted) <= Number(claimed) + 1, `${interrupted} interrupted, ${claimed} claimed at the kill`);
  const [[doneRows]] = await pg.psql("SELECT count(*) FROM wecom_outbox WHERE done IS NOT NULL AND key LIKE 'bulk-%'");
  assert.equal(doneRows, String(N));
  console.log(`# ${N} messages: server A killed at ${killedAt} ms (${claimed} row(s) claimed), ` +
    `all sent after ${ms} ms; ${interrupted} interrupted, ${flagged} flagged duplicate(s)`);
  assert.deepEqual(h.deaths(a.log()), [], 'no sandbox violation before the kill');
  assert.deepEqual(h.deaths(b.log()), [], 'no sandbox violation');
  a = null;
});

test('the push API queues into the store and sends at once: 200, one delivery', async () => {
  const r = await h.request(b, {
    method: 'POST', path: '/api/v1/send',
    body: JSON.stringify({ content: 'pushed through the store', id: 'push-one' }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${APIKEY}` },
  });
  assert.equal(r.status, 200, r.body.toString());
  const { id, msgid } = JSON.parse(r.body.toString());
  const m = await sent('pushed through the store');
  assert.equal(m.length, 1);
  assert.equal(m[0].msgid, msgid);
  assert.deepEqual(await pg.psql(`SELECT state FROM wecom_outbox WHERE key = '${id}'`), [['sent']]);
  assert.deepEqual(files('new'), []);
});

const admin = (args) => run(path.join(path.dirname(WECOM_SEND), 'wecom-admin'), ['outbox', ...args, '-c', conf],
  { env: { ...process.env } });

test('wecom-admin outbox lists the store\'s failed rows, queues one again, drops another', async () => {
  await fake.control('inject', { path: 'message/send', errcode: 40003, errmsg: 'invalid userid', times: 2 });
  for (const key of ['admin-retry', 'admin-drop']) {
    const r = await send(['--spool', '--key', key, '--to', 'zhangsan', `${key} message`]);
    assert.equal(r.code, 0, r.stderr);
  }
  await until('both failed', async () => (await pg.psql(
    "SELECT count(*) FROM wecom_outbox WHERE key LIKE 'admin-%' AND state = 'failed'"))[0][0] === '2');
  const l = await admin(['list', '--failed']);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^admin-retry {2}failed \(rejected\) {2}app ops to zhangsan .*errcode 40003/m);
  assert.match(l.stdout, /^admin-drop {2}failed/m);
  const r = await admin(['retry', 'admin-retry']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'retried: admin-retry\n');
  await until('the retried row sent', async () =>
    (await pg.psql("SELECT state FROM wecom_outbox WHERE key = 'admin-retry'"))[0][0] === 'sent');
  assert.equal((await sent('admin-retry message')).length, 1);
  const d = await admin(['drop', 'admin-drop']);
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(await pg.psql("SELECT count(*) FROM wecom_outbox WHERE key = 'admin-drop'"), [['0']]);
  assert.equal((await admin(['drop', 'admin-drop'])).code, 66);
});

test('the database down at put: kept in the host\'s files, said once; delivered by the next drain', async () => {
  await pg.kill();
  try {
    const r = await send(['--spool', '--key', 'while-down', '--to', 'zhangsan', 'queued while the database is down']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr.match(/store: the database is unreachable/g)?.length, 1, r.stderr);
    assert.deepEqual(files('new'), ['while-down']);
  } finally {
    await pg.restart();
  }
  const f = await send(['--flush']);
  assert.equal(f.code, 0, f.stderr + f.stdout);
  assert.match(f.stdout, /^delivered: 1$/m);
  assert.deepEqual(files('new'), []);
  assert.deepEqual(files('done'), ['while-down']);
  assert.equal((await sent('queued while the database is down')).length, 1);
  assert.deepEqual(await pg.psql("SELECT count(*) FROM wecom_outbox WHERE key = 'while-down'"), [['0']]);
});

// A second "host" for wecom-send: the same config, its own state_dir.
const confB = () => {
  const f = path.join(dir, 'b.conf');
  if (!fs.existsSync(f)) {
    fs.writeFileSync(f, fs.readFileSync(conf, 'utf8')
      .replace(/^state_dir = .*$/m, `state_dir = ${path.join(dir, 'state-b')}`));
  }
  return f;
};
const sendB = (args, env = {}) => run(WECOM_SEND, ['-c', confB(), ...args],
  { env: { ...process.env, ...env } });
const filesB = (sub) => {
  const d = path.join(dir, 'state-b', 'outbox', sub);
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => !f.startsWith('.')) : [];
};
const row = async (key) => (await pg.psql(`SELECT state, claimed_by, interrupted
  FROM wecom_outbox WHERE key = '${key}'`))[0];

// A row as wecom-send --spool writes it, queued with a backoff of an
// hour; changed by fn (a bot's message, say) first.
async function putLate(key, content, fn = (r) => r, serverOnly = false) {
  const [[tpl]] = await pg.psql("SELECT record FROM wecom_outbox WHERE key = 'first-one'");
  const rec = fn({ ...JSON.parse(tpl), key, msg: { msgtype: 'text', text: { content } } });
  const json = JSON.stringify(rec);
  assert.ok(!json.includes('$r$'));
  await pg.psql(`INSERT INTO wecom_outbox (key, record, server_only, not_before)
    VALUES ('${key}', $r$${json}$r$, ${serverOnly}, now() + interval '1 hour')`);
}

test('wecom-send --flush --now on another host: the store\'s messages sent at once, each once; a live claim and a bot\'s message left', async () => {
  // Queued on host A; WeCom down (503): whichever drainer tries first
  // (host A's flush or server B) puts each off by a backoff.
  const keys = ['now-1', 'now-2', 'now-3', 'now-held'];
  await fake.control('inject', { path: 'message/send', http: 503, times: 100000 });
  try {
    for (const k of keys) {
      const r = await send(['--spool', '--key', k, '--to', 'zhangsan', `${k} after the outage`]);
      assert.equal(r.code, 0, r.stderr);
    }
    // A drain leaves a destination after 3 failures in a row: again.
    await until('each tried once and put off', async () => (await send(['--flush'],
      { WECOM_OUTBOX_BACKOFF_MS: '600000' })) && (await pg.psql(`SELECT count(*) FROM wecom_outbox
      WHERE key LIKE 'now-%' AND state = 'queued' AND claimed_by IS NULL AND not_before > now() + interval '10 seconds'
      AND ((record::json)->>'attempts')::int >= 1`))[0][0] === '4');
  } finally {
    await fake.control('uninject', { path: 'message/send' });
  }
  // One held by a drainer still at work; a bot's, only a server's to send.
  await pg.psql(`UPDATE wecom_outbox SET claimed_by = 'elsewhere:1:1',
    claimed_until = now() + interval '60 seconds' WHERE key = 'now-held'`);
  await putLate('now-bot', 'now-bot for a bot', (r) => {
    const { app, to, ...rest } = r;
    return { ...rest, aibot: 'helper', chat: 'zhangsan', chat_type: 1 };
  }, true);
  const bot = await pg.psql("SELECT * FROM wecom_outbox WHERE key = 'now-bot'");
  const before = (await fake.control('stats')).delivered;

  const f = await sendB(['--flush']);
  assert.equal(f.code, 69, f.stdout + f.stderr);
  assert.match(f.stdout, /^delivered: 0$/m, 'none due: a plain flush keeps the backoff');
  assert.match(f.stdout, /^remaining: 5$/m);

  const t0 = Date.now();
  const n = await sendB(['--flush', '--now']);
  const ms = Date.now() - t0;
  assert.equal(n.code, 69, n.stdout + n.stderr);
  assert.match(n.stdout, /^delivered: 3$/m);
  assert.match(n.stdout, /^failed: 0$/m);
  assert.match(n.stdout, /^remaining: 2$/m);
  assert.doesNotMatch(n.stdout, /store: unreachable/);
  assert.ok(ms >= 5000, `${ms} ms: the held one was waited for`);
  for (const k of ['now-1', 'now-2', 'now-3']) {
    const m = await sent(`${k} after the outage`);
    assert.equal(m.length, 1, `${k}: ${JSON.stringify(m)}`);
    assert.ok(!m[0].duplicate);
    assert.equal((await row(k))[0], 'sent');
  }
  assert.equal((await fake.control('stats')).delivered, before + 3, 'three deliveries in all');
  assert.deepEqual(await sent('now-held after the outage'), [], 'never two senders of one message');
  assert.deepEqual(await row('now-held'), ['queued', 'elsewhere:1:1', '0']);
  assert.deepEqual(await pg.psql("SELECT * FROM wecom_outbox WHERE key = 'now-bot'"), bot,
    'a bot\'s message untouched: only a server sends it');
  assert.deepEqual(filesB('new'), []);

  // Again: nothing sent twice.
  const again = await sendB(['--flush', '--now']);
  assert.match(again.stdout, /^delivered: 0$/m, again.stdout + again.stderr);
  assert.match(again.stdout, /^remaining: 2$/m);
  assert.equal((await fake.control('stats')).delivered, before + 3);
});

test('wecom-send --flush and --flush --now with the database down: this host\'s files flushed, the store\'s said to be left; sent once it is back', async () => {
  // The last test's held and bot messages, whatever its outcome.
  await pg.psql("DELETE FROM wecom_outbox WHERE key IN ('now-held', 'now-bot')");
  await putLate('now-left', 'now-left in the store');
  await pg.kill();
  let down, plain;
  try {
    const s0 = await sendB(['--spool', '--key', 'plain-file', '--to', 'zhangsan', 'plain-file on host B']);
    assert.equal(s0.code, 0, s0.stderr);
    plain = await sendB(['--flush']);
    const s = await sendB(['--spool', '--key', 'now-file', '--to', 'zhangsan', 'now-file on host B']);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(filesB('new'), ['now-file']);
    down = await sendB(['--flush', '--now']);
  } finally {
    await pg.restart();
  }
  assert.equal(plain.code, 69, plain.stdout + plain.stderr);
  assert.match(plain.stdout, /^store: unreachable, its messages not flushed$/m);
  assert.match(plain.stdout, /^delivered: 1$/m);
  assert.equal((await sent('plain-file on host B')).length, 1);
  assert.equal(down.code, 69, down.stdout + down.stderr);
  assert.match(down.stdout, /^store: unreachable, its messages not flushed$/m);
  assert.match(down.stdout, /^delivered: 1$/m);
  assert.match(down.stdout, /^remaining: 0$/m);
  assert.match(down.stderr, /the shared store does not answer: its queued messages were not flushed, this host's were/);
  assert.deepEqual(filesB('new'), []);
  assert.deepEqual(filesB('done').sort(), ['now-file', 'plain-file']);
  assert.equal((await sent('now-file on host B')).length, 1);
  assert.deepEqual(await sent('now-left in the store'), []);
  assert.equal((await row('now-left'))[0], 'queued');

  const up = await sendB(['--flush', '--now']);
  assert.equal(up.code, 0, up.stdout + up.stderr);
  assert.match(up.stdout, /^delivered: 1$/m);
  assert.doesNotMatch(up.stdout, /store:/);
  assert.equal((await sent('now-left in the store')).length, 1);
  assert.equal((await sent('now-file on host B')).length, 1);
  assert.equal((await row('now-left'))[0], 'sent');
});
