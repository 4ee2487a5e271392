// SPDX-License-Identifier: ISC
// The access token shared through PostgreSQL ([global] store): a real
// throw-away PostgreSQL (tests/pg/pg.mjs), the fake WeCom API, and
// wecom-send runs on two "hosts" (two state directories, one database).
// One gettoken for everyone; a token WeCom refuses is dropped for
// everyone; a database that is down sends each run to its host's files,
// said once on stderr; a database of a newer schema is left alone.
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { run, SECRET, BUILD } from '../client/helpers.mjs';
import { twoHosts } from './hosts.mjs';
import { startPostgres } from '../pg/pg.mjs';

let pg, t, sendA, sendB;

const tokenFiles = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir) : []).filter((f) => f.startsWith('token-'));
const rows = (sql) => pg.psql(sql);

before(async () => {
  pg = await startPostgres();
  ({ t, sendA, sendB } = await twoHosts(pg));
});

after(async () => {
  await t.close();
  await pg.stop();
});

beforeEach(async () => {
  await rows('DELETE FROM wecom_token').catch(() => {});
  await t.control('reset').catch(() => {});
});

test('50 runs on two hosts at once make exactly one gettoken; the token is in the store, not in files', async () => {
  const before = (await t.counts()).gettoken ?? 0;
  await t.inject({ path: 'gettoken', delay_ms: 300 });
  const runs = await Promise.all(Array.from({ length: 50 },
    (_, i) => (i % 2 ? sendA : sendB)(['--to', 'zhangsan', `concurrent ${i}`])));
  runs.forEach((r, i) => assert.equal(r.code, 0, `run ${i}: ${r.stderr}`));
  const c = await t.counts();
  assert.equal(c.gettoken - before, 1, JSON.stringify(runs.map((r) => r.stderr).filter(Boolean)));
  assert.deepEqual(tokenFiles(t.state), []);
  assert.deepEqual(tokenFiles(`${t.dir}/state-b`), []);
  const r = await rows('SELECT id, token IS NOT NULL, refreshing_by IS NULL FROM wecom_token');
  assert.equal(r.length, 1);
  assert.match(r[0][0], /^[0-9a-f]{64}$/);
  assert.deepEqual(r[0].slice(1), ['t', 't']);
});

test('later runs on either host reuse the shared token', async () => {
  assert.equal((await sendA(['--to', 'zhangsan', 'one'])).code, 0);
  const n = (await t.counts()).gettoken;
  for (const send of [sendA, sendB, sendB]) assert.equal((await send(['--to', 'zhangsan', 'again'])).code, 0);
  assert.equal((await t.counts()).gettoken, n);
});

test('a token near its end is refreshed once, ahead, while the others keep using it', async () => {
  assert.equal((await sendA(['--to', 'zhangsan', 'first'])).code, 0);
  // Four minutes left: inside the 5-minute refresh margin, still usable.
  await rows(`UPDATE wecom_token SET fetched_at = extract(epoch FROM now())::bigint - 7200 + 240,
    expires_in = 7200`);
  const [[old]] = await rows('SELECT token FROM wecom_token');
  const n = (await t.counts()).gettoken;
  await t.inject({ path: 'gettoken', delay_ms: 500 });
  const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? sendA : sendB)(['--to', 'zhangsan', `ahead ${i}`])));
  runs.forEach((r, i) => assert.equal(r.code, 0, `run ${i}: ${r.stderr}`));
  assert.equal((await t.counts()).gettoken, n + 1);
  const [[now]] = await rows('SELECT token FROM wecom_token');
  assert.notEqual(now, old);
});

test('the store holds no secret: rows are keyed by a hash', async () => {
  assert.equal((await sendA(['--to', 'zhangsan', 'x'])).code, 0);
  const dump = JSON.stringify(await rows('SELECT * FROM wecom_token'));
  assert.ok(!dump.includes(SECRET), dump);
});

test('a token WeCom refuses (40014) is dropped for every host: the next run anywhere fetches once', async () => {
  assert.equal((await sendA(['--to', 'zhangsan', 'first'])).code, 0);
  const [[old]] = await rows('SELECT token FROM wecom_token');
  const n = (await t.counts()).gettoken;
  await t.control('invalidate', { mode: 'invalid' });
  const r = await sendB(['--to', 'zhangsan', 'after']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await t.counts()).gettoken, n + 1);
  const [[now]] = await rows('SELECT token FROM wecom_token');
  assert.notEqual(now, old);
  assert.equal((await sendA(['--to', 'zhangsan', 'and A'])).code, 0);
  assert.equal((await t.counts()).gettoken, n + 1);
});

test('the schema is created once and versioned: 1, 2, … with no gap', async () => {
  const v = (await rows('SELECT version FROM wecom_schema ORDER BY version')).map((r) => +r[0]);
  assert.ok(v.length >= 1);
  assert.deepEqual(v, v.map((_, i) => i + 1));
});

test('a database that is down: the run uses its host\'s files and says so once; back up, shared again', async () => {
  await pg.kill();
  const r = await sendA(['--to', 'zhangsan', 'while down']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/store: the database is unreachable/g)?.length, 1, r.stderr);
  assert.equal(tokenFiles(t.state).length, 1, 'the host\'s own file cache took over');
  await pg.restart();
  const r2 = await sendB(['--to', 'zhangsan', 'back']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(r2.stderr, '');
  assert.equal((await rows('SELECT count(*) FROM wecom_token WHERE token IS NOT NULL'))[0][0], '1');
});

test('a database migrated by a newer server is left alone: this one keeps to its files', async () => {
  await rows('INSERT INTO wecom_schema (version) VALUES (99)');
  try {
    const r = await sendA(['--to', 'zhangsan', 'newer']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /schema is version 99, newer than this server's \d+/);
  } finally {
    await rows('DELETE FROM wecom_schema WHERE version = 99');
  }
});

test('wecom-admin check says whether the store answers, and at which schema version', async () => {
  const admin = path.join(BUILD, 'wecom-admin');
  let r = await run(admin, ['check', '-c', t.conf], { env: t.env });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^store: ok \(schema version \d+\)$/m);
  await pg.kill();
  try {
    r = await run(admin, ['check', '-c', t.conf], { env: t.env });
    assert.equal(r.code, 69);
    assert.match(r.stdout, /^store: unreachable — connection to server at "127\.0\.0\.1", port \d+ failed/m);
  } finally {
    await pg.restart();
  }
});
