// SPDX-License-Identifier: ISC
// The throw-away PostgreSQL of tests/pg/pg.mjs does what the store tests
// will lean on: a fresh cluster answers on its socket and on 127.0.0.1,
// data survives a restart and a crash, kill() makes connections fail,
// and stop() leaves no process and no directory behind.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startPostgres, alive, literal } from './pg.mjs';

let pg = null;
const seen = new Set();		// every postgres pid we saw, for the last test
const note = () => { for (const p of pg.pids()) seen.add(p); };

after(async () => { if (pg) await pg.stop(); });

// psql over TCP with the URL the servers will be given.
function tcp(sql) {
  return spawnSync('psql', ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql, pg.url],
    { encoding: 'utf8', timeout: 10000, env: { ...process.env, PGCONNECT_TIMEOUT: '3' } });
}

test('a fresh cluster: the wecom database, socket and TCP, not as root', async (t) => {
  pg = await startPostgres();
  note();
  t.diagnostic(`initdb ${pg.timing.initMs} ms, start+createdb ${pg.timing.startMs} ms`);
  assert.match(pg.url, /^postgresql:\/\/wecom@127\.0\.0\.1:\d+\/wecom$/);
  assert.ok(existsSync(`${pg.socketDir}/.s.PGSQL.${pg.port}`), 'the Unix socket is in the directory');
  assert.deepEqual(await pg.psql('select current_user, current_database()'), [['wecom', 'wecom']]);
  const r = tcp('select 1 + 1');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '2');
  // PostgreSQL refuses root: under root it runs as PG_TEST_USER.
  const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pg.pid}/status`, 'utf8'))[1]);
  assert.notEqual(uid, 0);
  // Only 127.0.0.1, never every address.
  assert.match(pg.log(), /listening on IPv4 address "127\.0\.0\.1"/);
  assert.doesNotMatch(pg.log(), /listening on IPv4 address "0\.0\.0\.0"/);
});

test('psql(): rows as arrays of strings, NULL as null, errors reject', async () => {
  const rows = await pg.psql(`
    CREATE TABLE kv (k text PRIMARY KEY, v text);
    INSERT INTO kv VALUES ('a', 'one'), ('b', NULL), ('c', ''), ('d', ${literal("multi\nline 'quoted'")});
    SELECT k, v FROM kv ORDER BY k;
    SELECT count(*) FROM kv;`);
  assert.deepEqual(rows, [['a', 'one'], ['b', null], ['c', ''], ['d', "multi\nline 'quoted'"], ['4']]);
  assert.deepEqual(await pg.psql("INSERT INTO kv VALUES ('e', 'five') ON CONFLICT DO NOTHING RETURNING k"), [['e']]);
  assert.deepEqual(await pg.psql("INSERT INTO kv VALUES ('e', 'again') ON CONFLICT DO NOTHING RETURNING k"), []);
  await assert.rejects(pg.psql('SELECT * FROM no_such_table'), /relation "no_such_table" does not exist/);
});

test('restart() keeps the data and the port', async (t) => {
  const port = pg.port;
  const before = pg.pid;
  await pg.restart();
  note();
  assert.equal(pg.port, port);
  assert.notEqual(pg.pid, before);
  assert.ok(!alive(before));
  assert.deepEqual(await pg.psql("SELECT v FROM kv WHERE k = 'a'"), [['one']]);
  t.diagnostic(`restart ${pg.timing.restartMs} ms`);
});

test('kill(): every process gone, connections fail; restart() recovers', async () => {
  await pg.psql("INSERT INTO kv VALUES ('last', 'committed just before the crash')");
  const pids = pg.pids();
  assert.ok(pids.length >= 2, 'a postmaster and its children');
  await pg.kill();
  assert.deepEqual(pids.filter(alive), []);
  assert.equal(pg.running(), false);
  const r = tcp('select 1');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /connection refused|could not connect|Connection refused/i);
  await assert.rejects(pg.psql('select 1'), /psql:/);
  await pg.restart();
  note();
  assert.deepEqual(await pg.psql("SELECT v FROM kv WHERE k = 'last'"), [['committed just before the crash']]);
  assert.equal(tcp('select 1').status, 0);
});

test('stop(): no postgres process left, the directory removed', async () => {
  note();
  const dir = pg.dir;
  const live = pg.pids();
  assert.ok(live.length >= 2);
  await pg.stop();
  pg = null;
  assert.deepEqual([...seen].filter(alive), [], 'no pid we ever saw is alive');
  assert.ok(!existsSync(dir));
  // Nothing anywhere still names the directory (a postmaster's command line does).
  const ps = spawnSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' });
  const left = ps.stdout.split('\n').filter((l) => l.includes(dir) && !/^Z/.test(l.trim()));
  assert.deepEqual(left, []);
});
