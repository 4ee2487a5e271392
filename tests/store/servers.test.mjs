// SPDX-License-Identifier: ISC
// Two real servers (seccomp tracing on) and wecom-send, each with its
// own state directory, sharing one PostgreSQL ([global] store) and one
// fake WeCom: the access token is fetched once for all of them.
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

const KEY = 'store-key-0123456789abcdef';
let pg, fake, a, b, dir, conf;

const sections = (url) => `store = ${url}
retry_base_ms = 20

[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = app-secret-1

[apikey monitoring]
key = ${KEY}
app = ops
to = zhangsan
`;

// The server's /metrics value of a family without labels.
async function metric(srv, name) {
  const r = await h.request(srv, { path: '/metrics' });
  const m = r.text.match(new RegExp(`^${name} (\\d+)$`, 'm'));
  assert.ok(m, `${name} in /metrics`);
  return Number(m[1]);
}

const push = (srv, content) => h.request(srv, {
  method: 'POST', path: '/api/v1/send', body: JSON.stringify({ content }),
  headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, timeout: 15000,
});

before(async () => {
  pg = await startPostgres();
  fake = await startFake();
  const opts = { workers: 2, apiBase: fake.base, globalExtra: sections(pg.url) };
  [a, b] = await Promise.all([h.startServer(opts), h.startServer(opts)]);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wecom-store-'));
  conf = path.join(dir, 'wecom.conf');
  fs.writeFileSync(conf, `[global]\napi_base = ${fake.base}\nstate_dir = ${dir}/state\n${sections(pg.url)}`);
});

after(async () => {
  for (const srv of [a, b]) if (srv) await h.stopAndCheck(srv);
  await within(fake?.close(), 5000);
  await within(pg?.stop(), 30000);
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('50 sends across two servers and 6 wecom-send runs: exactly one gettoken', async () => {
  await fake.control('inject', { path: 'gettoken', delay_ms: 300 });
  const sends = Array.from({ length: 50 }, (_, i) => push(i % 2 ? a : b, `alert ${i}`));
  const cli = Array.from({ length: 6 }, (_, i) =>
    run(WECOM_SEND, ['-c', conf, '--to', 'zhangsan', `cron ${i}`], { env: { ...process.env } }));
  const rs = await Promise.all(sends);
  rs.forEach((r, i) => assert.equal(r.status, 200, `send ${i}: ${r.body}`));
  (await Promise.all(cli)).forEach((r, i) => assert.equal(r.code, 0, `wecom-send ${i}: ${r.stderr}`));
  const stats = await fake.control('stats');
  assert.equal(stats.counts.gettoken, 1, JSON.stringify(stats.counts));
  assert.equal(stats.counts['message/send'], 56);
  assert.deepEqual(await pg.psql('SELECT count(*) FROM wecom_token WHERE token IS NOT NULL'), [['1']]);
  for (const srv of [a, b]) {
    assert.deepEqual(h.deaths(srv.log()), [], 'no sandbox violation');
    assert.equal(await metric(srv, 'wecom_store_fallbacks_total'), 0);
    assert.equal(await metric(srv, 'wecom_store_outages_total'), 0);
  }
});

test('the database killed: both servers still send, each with its own token, and the log says so', async () => {
  await pg.kill();
  const n = (await fake.control('stats')).counts.gettoken;
  // The workers' clients cached the token in memory: drop it everywhere.
  await fake.control('invalidate', { mode: 'invalid' });
  for (const srv of [a, b]) {
    const r = await push(srv, 'while the database is down');
    assert.equal(r.status, 200, r.body);
  }
  assert.ok((await fake.control('stats')).counts.gettoken > n);
  for (const srv of [a, b]) {
    const lines = await h.waitLog(srv, /store: the database is unreachable/);
    assert.ok(lines.length >= 1, srv.log());
    // Every worker's, summed: one per process that found it down, as
    // its log line says (written a moment after it is counted).
    const outages = await metric(srv, 'wecom_store_outages_total');
    assert.ok(outages >= 1 && outages <= 2, `${outages} outages, 2 workers`);
    const t0 = Date.now();
    while ((await h.waitLog(srv, /store: the database is unreachable/)).length < outages && Date.now() - t0 < 3000)
      await h.sleep(50);
    assert.equal((await h.waitLog(srv, /store: the database is unreachable/)).length, outages);
    assert.ok(await metric(srv, 'wecom_store_fallbacks_total') >= 1);
  }
  await pg.restart();
});
