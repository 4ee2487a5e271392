// SPDX-License-Identifier: ISC
// The message log (log = yes) shared through PostgreSQL ([global]
// store): two real servers (seccomp tracing on), each with its own
// state directory, write into one table, and GET /api/v1/messages on
// either answers with both servers' rows, the same pages, cursors and
// count. The database killed while callbacks arrive: they are answered,
// the rows wait in each host's messages.db and reach the store when it
// answers again, once each; what a crash between the store's COMMIT and
// the file's delete leaves is settled, not moved twice. Retention
// deletes the store's old rows too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import * as h from '../callback/harness.mjs';
import { startPostgres, literal } from '../pg/pg.mjs';
import { within } from './hosts.mjs';

const KEY = 'store-log-reader-0123456789';
const CREDS = h.randomCredentials();
let pg, a, b;
let seq = 0;

const options = (url) => ({
  workers: 2,
  apps: [{ name: 'ops', handler: 'echo', ...CREDS, extra: 'log = yes\n' }],
  globalExtra: `store = ${url}\n`,
  sections: `[apikey reader]\nkey = ${KEY}\n`,
  // Each wake of a worker accepts one connection: both write.
  koreExtra: 'worker_accept_threshold 1\n',
});

// One text message to ops on srv, answered with its own content.
async function say(srv, content, sender = 'zhangsan') {
  const r = await h.callback(srv, 'ops', h.toXml({
    ToUserName: CREDS.corpid, FromUserName: sender, CreateTime: Math.floor(Date.now() / 1000),
    MsgType: 'text', Content: content, MsgId: String(9000000 + ++seq), AgentID: 1000010,
  }));
  assert.equal(r.status, 200);
  assert.equal(r.msg?.get('Content'), content, 'echo answers with the content');
  return r;
}

// As a client that honours Retry-After: a query that finds its thread's
// connection broken (the database restarted since) answers 503, and so
// does that thread for the store's pause (5 s). patient: false takes
// the first answer.
async function get(srv, qs, { patient = true } = {}) {
  const t0 = Date.now();
  for (;;) {
    const r = await h.request(srv, {
      path: `/api/v1/messages${qs ? '?' + qs : ''}`, headers: { authorization: `Bearer ${KEY}` },
    });
    if (r.status === 503 && patient && Date.now() - t0 < 12000) {
      assert.equal(r.headers['retry-after'], '5');
      await h.sleep(200);
      continue;
    }
    return { ...r, json: r.text ? JSON.parse(r.text) : null };
  }
}
async function count(srv, qs) {
  const r = await get(srv, qs);
  assert.equal(r.status, 200, r.text);
  return r.json.count;
}

async function until(what, fn, ms = 20000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn().catch(() => false);
    if (v) return v;
    if (Date.now() - t0 > ms) assert.fail(`${what}: not within ${ms} ms`);
    await h.sleep(100);
  }
}

// Every page through the next links, then back through previous.
async function walk(srv, qs) {
  const pages = [];
  let r = await get(srv, qs);
  assert.equal(r.json.previous, null);
  for (;;) {
    assert.equal(r.status, 200, r.text);
    pages.push(r.json.results);
    if (!r.json.next) break;
    assert.ok(r.json.next.startsWith(`http://127.0.0.1:${srv.port}/api/v1/messages?`), r.json.next);
    r = await get(srv, new URL(r.json.next).search.slice(1));
  }
  for (let k = pages.length - 1; k > 0; k--) {
    r = await get(srv, new URL(r.json.previous).search.slice(1));
    assert.deepEqual(r.json.results, pages[k - 1], `previous leads back to page ${k}`);
  }
  assert.equal(r.json.previous, null);
  return pages.flat();
}

// The sqlite3 command on a host's file; null if there is none.
function sqlite(srv, sql) {
  return new Promise((res) => {
    const c = spawn('sqlite3', ['-cmd', '.timeout 5000', path.join(srv.dir, 'messages.db')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.on('error', () => res(null));
    c.stdout.on('data', (d) => { out += d; });
    c.stderr.on('data', (d) => { err += d; });
    c.on('close', (code) => res(code === 0 ? out.trim() : `error: ${err}`));
    c.stdin.end(sql);
  });
}
const inStore = async (where) => Number((await pg.psql(`SELECT count(*) FROM wecom_message WHERE ${where}`))[0][0]);
const twice = (where) => pg.psql(`SELECT content, direction, count(*) FROM wecom_message WHERE ${where} GROUP BY 1, 2 HAVING count(*) > 1`);

before(async () => {
  pg = await startPostgres();
  [a, b] = await Promise.all([h.startServer(options(pg.url)), h.startServer(options(pg.url))]);
});

after(async () => {
  for (const srv of [a, b]) if (srv) await within(srv.stop(), 10000);
  await within(pg?.stop(), 30000);
});

test('two servers, one log: either answers with both servers\' rows, newest first, the same pages and count', async () => {
  const sent = [];
  for (let i = 0; i < 15; i++) {
    for (const [name, srv] of [['A', a], ['B', b]]) {
      sent.push(`shared ${i} via ${name}`);
      await say(srv, sent.at(-1), 'pager');
    }
  }
  await until('every row in the store', async () => await count(a, 'sender=pager&direction=in') === sent.length);
  const qs = 'sender=pager&direction=in&limit=7';
  const rowsA = await walk(a, qs);
  const rowsB = await walk(b, qs);
  assert.equal(rowsA.length, sent.length);
  assert.deepEqual(rowsB, rowsA, 'B answers the same rows as A');
  for (let i = 1; i < rowsA.length; i++) assert.ok(rowsA[i].id < rowsA[i - 1].id, 'newest first, no repeats');
  assert.deepEqual(rowsA.map((r) => r.content).sort(), [...sent].sort(), 'both servers\' messages');
  const first = await get(b, qs);
  assert.equal(first.json.count, sent.length);
  const next = await get(b, new URL(first.json.next).search.slice(1));
  assert.equal(next.json.count, sent.length, 'the count travels with the cursor');
  const m = rowsA.find((r) => r.content === 'shared 3 via B');
  assert.equal(m.app, 'ops');
  assert.equal(m.channel, 'app');
  assert.equal(m.type, 'text');
  assert.equal(m.sender, 'pager');
  assert.match(m.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Math.abs(Date.parse(m.time) / 1000 - Date.now() / 1000) < 120, m.time);
  assert.equal(m.fields.Content, m.content);
  assert.equal(m.fields.FromUserName, 'pager');
  // The echo's replies, from both servers, and the whole log.
  assert.equal(await count(b, 'sender=pager'), sent.length);
  const out = (await get(a, `direction=out&app=ops&limit=500`)).json.results;
  assert.ok(out.some((r) => r.content === 'shared 3 via B' && r.fields.ToUserName === 'pager'), 'B\'s reply, read on A');
  assert.equal(await count(a, ''), await count(b, ''));
  assert.equal((await inStore("sender = 'pager'")), sent.length, 'in the table itself');
});

test('q= finds Chinese by a part of 3+ characters and of 1-2, ignores case, and takes % _ \\ as characters', async () => {
  const texts = ['服务器磁盘已满 DISK full', '磁盘已满 again, disk', '又一台服务器磁盘已满', 'all good', 'all good 100% sure', 'back\\slash'];
  for (const [i, t] of texts.entries()) await say(i % 2 ? b : a, t, 'searcher');
  await until('the searcher\'s rows', async () => await count(b, 'sender=searcher') === texts.length);
  const q = async (s) => count(a, `sender=searcher&q=${encodeURIComponent(s)}`);
  assert.equal(await q('磁盘已满'), 3);
  assert.equal(await q('服务器磁盘'), 2);
  assert.equal(await q('磁盘'), 3);
  assert.equal(await q('满'), 3);
  assert.equal(await q('disk'), 2, 'ILIKE: DISK and disk');
  assert.equal(await q('DISK FULL'), 1);
  assert.equal(await q('%'), 1, '% is a character');
  assert.equal(await q('0% s'), 1);
  assert.equal(await q('_'), 0, '_ is a character');
  assert.equal(await q('\\'), 1, '\\ is a character');
  assert.equal(await q('没有'), 0);
  const r = await get(b, `sender=searcher&q=${encodeURIComponent('磁盘')}&limit=2`);
  assert.equal(r.json.results.length, 2);
  const rest = await get(b, new URL(r.json.next).search.slice(1));
  assert.equal(rest.json.results.length, 1, 'the filter travels with the cursor');
  assert.match(rest.json.results[0].content, /磁盘/);
});

test('the store killed while callbacks arrive: answered, kept in each host\'s file, then in the store once each', async (t) => {
  const sent = [];
  await pg.kill();
  try {
    for (let i = 0; i < 20; i++) {
      for (const [name, srv] of [['A', a], ['B', b]]) {
        sent.push(`outage ${i} via ${name}`);
        const r = await say(srv, sent.at(-1), 'outage');
        assert.ok(r.ms < 3000, `answered in ${r.ms} ms`);
      }
    }
    const down = await get(a, 'sender=outage', { patient: false });
    assert.equal(down.status, 503, down.text);
    assert.equal(down.headers['retry-after'], '5');
    assert.match(down.json.message, /shared store, which does not answer/);
    for (const srv of [a, b]) {
      assert.ok((await h.waitLog(srv, /message log: the store does not answer: .*messages\.db keeps the rows/, 8000)).length > 0, srv.log());
    }
    const kept = await sqlite(a, "SELECT count(*) FROM messages WHERE sender = 'outage';");
    if (kept === null) t.diagnostic('no sqlite3 command: the file not looked into');
    else await until('A\'s file keeps its rows', async () => await sqlite(a, "SELECT count(*) FROM messages WHERE sender = 'outage' AND direction = 'in';") === '20');
  } finally {
    await pg.restart();
  }
  await until('every outage row in the store, read on B', async () => await count(b, 'sender=outage&direction=in') === sent.length, 30000);
  await until('and the replies, read on A', async () => await count(a, 'q=outage+&direction=out') === sent.length);
  assert.deepEqual(await twice("content LIKE 'outage %'"), [], 'no row twice');
  assert.equal(await inStore("content LIKE 'outage %'"), sent.length * 2, 'each message and reply once');
  const rows = (await get(a, 'sender=outage&direction=in&limit=500')).json.results;
  assert.deepEqual(rows.map((r) => r.content).sort(), [...sent].sort());
  for (const srv of [a, b]) {
    assert.ok((await h.waitLog(srv, /message log: \d+ rows kept in .*messages\.db while the store did not answer are in the store now/, 8000)).length > 0, srv.log());
    const left = await sqlite(srv, 'SELECT count(*) FROM messages; SELECT count(*) FROM messages_moving;');
    if (left !== null) assert.equal(left, '0\n0', 'the file is empty again');
  }
});

test('a crash between the store\'s COMMIT and the file\'s delete: the row is not moved twice; a COMMIT that never was: moved once', async (t) => {
  const now = Math.floor(Date.now() / 1000);
  const row = (content) => `'in', 'ops', 'app', 'text', 'crash', ${now}, ${literal(content)}, '{}'`;
  // What the mover did before the crash: the row in the store, committed.
  const done = (await pg.psql(`BEGIN; INSERT INTO wecom_message (direction, app, channel, type, sender, time, content, fields) VALUES (${row('crash after commit')}); SELECT txid_current(); COMMIT;`))[0][0];
  // And a transaction that never committed.
  const lost = (await pg.psql('BEGIN; SELECT txid_current(); ROLLBACK;'))[0][0];
  const injected = await sqlite(a, `BEGIN IMMEDIATE;
INSERT INTO messages (id, direction, app, channel, type, sender, time, content, fields) VALUES (1000001, ${row('crash after commit')});
INSERT INTO messages (id, direction, app, channel, type, sender, time, content, fields) VALUES (1000002, ${row('commit never made')});
INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id >= 1000001;
INSERT INTO messages_moving (txid, first, last) VALUES (${done}, 1000001, 1000001), (${lost}, 1000002, 1000002);
COMMIT;
SELECT count(*) FROM messages_moving;`);
  if (injected === null) {
    t.skip('no sqlite3 command (Debian package sqlite3)');
    return;
  }
  assert.equal(injected, '2', injected);
  // The writers look into the file when they keep rows there again.
  await pg.kill();
  try {
    for (let i = 0; i < 6; i++) await say(a, `after the crash ${i}`, 'crash');
    await until('A\'s file keeps the new rows', async () => Number(await sqlite(a, "SELECT count(*) FROM messages WHERE content LIKE 'after the crash%';")) >= 6);
  } finally {
    await pg.restart();
  }
  await until('the new rows in the store, read on B', async () => await count(b, 'sender=crash&direction=in') === 8, 30000);
  assert.equal(await inStore("content = 'crash after commit'"), 1, 'committed before the crash: not moved again');
  assert.equal(await inStore("content = 'commit never made'"), 1, 'never committed: moved');
  assert.deepEqual(await twice("sender = 'crash'"), []);
  await until('A\'s file empty again', async () => await sqlite(a, 'SELECT count(*) FROM messages; SELECT count(*) FROM messages_moving;') === '0\n0');
});

test('retention deletes the store\'s rows older than log_days, a thousand at a time, and keeps the rest', async () => {
  const old = Math.floor(Date.now() / 1000) - 40 * 86400;
  await pg.psql(`INSERT INTO wecom_message (direction, app, channel, type, sender, time, content)
    SELECT 'in', 'ops', 'app', 'text', 'ancient', ${old} + i, 'old ' || i FROM generate_series(1, 2500) AS i`);
  const kept = await inStore("sender <> 'ancient'");
  assert.ok(kept > 100, `${kept} recent rows`);
  await until('A reads the store again', async () => await count(a, 'sender=ancient') === 2500);
  // Worker 1 of a server expires at start, then every hour.
  const c = await h.startServer({ ...options(pg.url), globalExtra: `store = ${pg.url}\nlog_days = 30\n` });
  try {
    const lines = await h.waitLog(c, /message log: retention: \d+ rows older than log_days deleted from the store/, 15000);
    assert.ok(lines.length > 0, c.log());
    assert.match(lines[0], /retention: 2500 rows/);
  } finally {
    await h.stopAndCheck(c);
  }
  assert.equal(await inStore("sender = 'ancient'"), 0);
  assert.equal(await inStore("sender <> 'ancient'"), kept, 'recent rows stay');
  assert.equal(await count(b, 'sender=ancient'), 0);
});

test('the servers stop cleanly: no sandbox violation, no worker died', async () => {
  for (const srv of [a, b]) {
    const log = await h.stopAndCheck(srv);
    assert.match(log, /message log/, 'the message log ran');
  }
});
