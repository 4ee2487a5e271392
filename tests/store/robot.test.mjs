// SPDX-License-Identifier: ISC
// A group robot's 20 messages a minute, counted across hosts through
// the store: 26 wecom-send runs on two hosts at once, with a retry
// budget shorter than the minute, send exactly 20; the other 6 stop
// with the robot limit themselves, and WeCom (the fake) never answers
// 45009. Without the store each host would count alone and send 26.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setup, run, WECOM_SEND } from '../client/helpers.mjs';
import { startPostgres } from '../pg/pg.mjs';

let pg, t, confB;

before(async () => {
  pg = await startPostgres();
  t = await setup();
  const conf = fs.readFileSync(t.conf, 'utf8')
    .replace('[global]\n', `[global]\nstore = ${pg.url}\nretry_max_ms = 1500\n`);
  fs.writeFileSync(t.conf, conf);
  confB = path.join(t.dir, 'b.conf');
  fs.writeFileSync(confB, conf.replace(/^state_dir = .*$/m, `state_dir = ${t.dir}/state-b`));
});

after(async () => {
  await t.close();
  await pg.stop();
});

test('26 robot sends on two hosts at once: 20 go out, 6 stop at the limit, WeCom never refuses one', async () => {
  const env = { ...t.env, WECOM_RETRY_MAX_MS: '1500' };
  const runs = await Promise.all(Array.from({ length: 26 }, (_, i) =>
    run(WECOM_SEND, ['-c', i % 2 ? t.conf : confB, '--webhook', 'ops', `robot ${i}`], { env })));
  const ok = runs.filter((r) => r.code === 0).length;
  const limited = runs.filter((r) => r.code !== 0 && /robot limit: 20 messages per minute/.test(r.stderr));
  assert.equal(ok, 20, JSON.stringify(runs.map((r) => r.stderr).filter(Boolean)));
  assert.equal(limited.length, 6);
  // Every request the fake got, answered or refused: 20, all sent.
  assert.equal((await t.control('stats')).counts['webhook/send'], 20);
  assert.equal((await t.messages()).filter((m) => m.api === 'webhook/send').length, 20);
  assert.deepEqual(await pg.psql('SELECT count(*) FROM wecom_robot_send'), [['20']]);
});
