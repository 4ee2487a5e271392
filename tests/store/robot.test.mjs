// SPDX-License-Identifier: ISC
// A group robot's 20 messages a minute, counted across hosts through
// the store: 26 wecom-send runs on two hosts at once, with a retry
// budget shorter than the minute, send exactly 20; the other 6 stop
// with the robot limit themselves, and WeCom (the fake) never answers
// 45009. Without the store each host would count alone and send 26.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { twoHosts } from './hosts.mjs';
import { startPostgres } from '../pg/pg.mjs';

let pg, t, sendA, sendB;

before(async () => {
  pg = await startPostgres();
  ({ t, sendA, sendB } = await twoHosts(pg, 'retry_max_ms = 1500\n'));
});

after(async () => {
  await t.close();
  await pg.stop();
});

test('26 robot sends on two hosts at once: 20 go out, 6 stop at the limit, WeCom never refuses one', async () => {
  const env = { WECOM_RETRY_MAX_MS: '1500' };
  const runs = await Promise.all(Array.from({ length: 26 }, (_, i) =>
    (i % 2 ? sendA : sendB)(['--webhook', 'ops', `robot ${i}`], env)));
  const ok = runs.filter((r) => r.code === 0).length;
  const limited = runs.filter((r) => r.code !== 0 && /robot limit: 20 messages per minute/.test(r.stderr));
  assert.equal(ok, 20, JSON.stringify(runs.map((r) => r.stderr).filter(Boolean)));
  assert.equal(limited.length, 6);
  // Every request the fake got, answered or refused: 20, all sent.
  assert.equal((await t.control('stats')).counts['webhook/send'], 20);
  assert.equal((await t.messages()).filter((m) => m.api === 'webhook/send').length, 20);
  assert.deepEqual(await pg.psql('SELECT count(*) FROM wecom_robot_send'), [['20']]);
});
