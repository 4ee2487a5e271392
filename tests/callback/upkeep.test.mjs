// SPDX-License-Identifier: ISC
// The server's chores: it drains the durable outbox that wecom-send
// --spool fills, checks that each app's credentials yield a token
// (/healthz), and reports both in /metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import * as h from './harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const SEND = join(resolve(h.ROOT, process.env.BUILD ?? 'build'), 'wecom-send');
let srv, fake;

async function delivered() {
  const r = await fetch(`${fake.base.replace(/\/cgi-bin\/?$/, '')}/_fake/messages`);
  return (await r.json()).filter((m) => m.api === 'message/send' && !m.duplicate);
}

before(async () => {
  fake = await startFake();
  srv = await h.startServer({
    apiBase: fake.base,
    globalExtra: 'outbox_interval_ms = 300\n',
    apps: [{ name: 'alerts', handler: 'echo', corpid: CORPID, agentid: 1000002, extra: 'secret = app-secret-1\n' }],
  });
});

after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
});

test('messages spooled by wecom-send --spool are delivered by the running server', async () => {
  const conf = join(srv.dir, 'wecom.conf');
  for (let i = 0; i < 5; i++)
    execFileSync(SEND, ['-q', '-c', conf, '-a', 'alerts', '--spool', '--to', 'zhangsan', `spooled ${i}`]);
  const end = Date.now() + 10000;
  while ((await delivered()).filter((m) => /^spooled \d$/.test(m.body.text?.content)).length < 5 && Date.now() < end)
    await new Promise((r) => setTimeout(r, 200));
  const got = (await delivered()).map((m) => m.body.text?.content).filter((c) => /^spooled/.test(c)).sort();
  assert.deepEqual(got, ['spooled 0', 'spooled 1', 'spooled 2', 'spooled 3', 'spooled 4']);
});

test('/healthz says the credentials yield a token; /metrics shows the outbox and the API calls', async () => {
  let r;
  const end = Date.now() + 5000;
  do {
    r = await h.request(srv, { path: '/healthz' });
    if (/app alerts: token ok/.test(r.text)) break;
    await new Promise((res) => setTimeout(res, 200));
  } while (Date.now() < end);
  assert.equal(r.status, 200);
  assert.match(r.text, /app alerts: token ok/);
  const m = await h.request(srv, { path: '/metrics' });
  assert.match(m.text, /wecom_outbox_depth\{app="alerts"\} 0/);
  assert.match(m.text, /wecom_token_ok\{app="alerts"\} 1/);
});
