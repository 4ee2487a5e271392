// SPDX-License-Identifier: ISC
// WeCom's retries across two servers sharing one PostgreSQL ([global]
// store): the retry of a callback that reached server A, landing on B,
// does not run B's handlers; it gets A's reply, sealed by B, or an
// empty answer while A still runs. With the database down, each server
// decides alone, as without a store. Real servers, seccomp tracing on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { startPostgres } from '../pg/pg.mjs';
import { within } from './hosts.mjs';

let pg, fake, a, b;
const CREDS = { ...h.randomCredentials(), corpid: CORPID };
const T = () => String(Math.floor(Date.now() / 1000));
let seq = 0;
const text = (app, content) => h.toXml({
  ToUserName: app === 'echo' ? h.SAMPLE.corpid : CORPID, FromUserName: 'zhangsan', CreateTime: T(),
  MsgType: 'text', Content: content, MsgId: `${Date.now()}${++seq}`, AgentID: '1',
});

async function metric(srv, name, app) {
  const r = await h.request(srv, { path: '/metrics' });
  let sum = 0;
  for (const line of r.text.split('\n')) {
    if (line.startsWith(`${name}{`) && line.includes(`app="${app}"`)) sum += Number(line.split(' ').pop());
  }
  return sum;
}
// WeCom's retry on B: the first reply is kept in the store just after
// A answers (a chore thread writes it), so until then B answers empty,
// as WeCom's own retries, seconds apart, never see. Re-sent until then.
async function retryOn(srv, plain, app = 'slow') {
  for (let i = 0; ; i++) {
    const r = await h.callback(srv, app, plain);
    if (r.msg || i === 20) return r;
    await h.sleep(100);
  }
}
const sends = async () => (await (await fetch(`${fake.base.replace(/cgi-bin\/$/, '')}_fake/messages`)).json())
  .filter((m) => m.api === 'message/send');

before(async () => {
  pg = await startPostgres();
  fake = await startFake();
  const opts = {
    dedupe: true, workers: 2, apiBase: fake.base, globalExtra: `store = ${pg.url}\n`,
    apps: [{ name: 'slow', handler: 'slow', agentid: 1000002, ...CREDS, extra: 'secret = app-secret-1\ndeadline_ms = 4000\n' }],
  };
  [a, b] = await Promise.all([h.startServer(opts), h.startServer(opts)]);
});

after(async () => {
  for (const srv of [a, b]) if (srv) await h.stopAndCheck(srv);
  await within(fake?.close(), 5000);
  await within(pg?.stop(), 30000);
});

test('a retry on the other server does not run its handlers: it answers with the first reply', async () => {
  const plain = text('slow', 'api');
  const n = (await sends()).length;
  const r1 = await h.callback(a, 'slow', plain);
  assert.equal(r1.msg.get('Content'), 'api ok');
  const r2 = await retryOn(b, plain);
  assert.equal(r2.status, 200);
  assert.equal(r2.msg?.get('Content'), 'api ok', 'B answers with A\'s reply, sealed by B');
  assert.equal((await sends()).length, n + 1, 'the handler called the API once, on A');
  assert.ok(await metric(b, 'wecom_duplicates_total', 'slow') >= 1);
});

test('an inline app: the retry on B answers A\'s reply and counts as a duplicate', async () => {
  const plain = text('echo', 'ping across');
  const before = await metric(b, 'wecom_duplicates_total', 'echo');
  const r1 = await h.callback(a, 'echo', plain);
  const r2 = await retryOn(b, plain, 'echo');
  assert.equal(r2.msg.get('Content'), r1.msg.get('Content'));
  assert.ok(await metric(b, 'wecom_duplicates_total', 'echo') > before);
});

test('a retry on B while A still runs: an empty 200 at once; a later one gets A\'s reply', async () => {
  const plain = text('slow', 'sleep 1500');
  const first = h.callback(a, 'slow', plain);
  await h.sleep(300);
  const t0 = Date.now();
  const mid = await h.callback(b, 'slow', plain);
  assert.equal(mid.status, 200);
  assert.equal(mid.body.length, 0, 'empty while A runs');
  assert.ok(Date.now() - t0 < 1000, `answered in ${Date.now() - t0} ms`);
  assert.equal((await first).msg.get('Content'), 'slept 1500 ms');
  await h.sleep(200);
  const late = await retryOn(b, plain);
  assert.equal(late.msg?.get('Content'), 'slept 1500 ms');
});

test('PostgreSQL restarted cleanly (maintenance): no thread falls back; retries are recognised across servers at once', async () => {
  // Every chore thread of both servers holds a connection by now: all
  // of them are closed by the restart, idle.
  for (let i = 0; i < 8; i++) await retryOn(i % 2 ? a : b, text('slow', `warm ${i}`));
  await pg.restart();
  // Threads that tried during the restart itself wait their 5 s.
  await h.sleep(6000);
  const n = (await sends()).length;
  for (let i = 0; i < 6; i++) {
    const plain = text('slow', 'api');
    const r1 = await h.callback(a, 'slow', plain);
    assert.equal(r1.msg.get('Content'), 'api ok');
    const r2 = await retryOn(b, plain);
    assert.equal(r2.msg?.get('Content'), 'api ok', `pair ${i}: B answers with A's reply`);
  }
  assert.equal((await sends()).length, n + 6, 'each handler ran once, on A');
});

test('the database down: callbacks are still answered, each server deciding alone, and it says so', async () => {
  await pg.kill();
  try {
    for (const srv of [a, b]) {
      const r = await h.callback(srv, 'echo', text('echo', 'db down'));
      assert.equal(r.status, 200);
      assert.equal(r.msg.get('Content'), 'db down');
    }
    for (const srv of [a, b]) assert.ok((await h.waitLog(srv, /store: the database is unreachable/)).length >= 1, srv.log());
  } finally {
    await pg.restart();
  }
  // Back: shared again (after the store's 5 s pause).
  await h.sleep(5500);
  const plain = text('slow', 'api');
  const n = (await sends()).length;
  assert.equal((await h.callback(a, 'slow', plain)).msg.get('Content'), 'api ok');
  assert.equal((await retryOn(b, plain)).msg?.get('Content'), 'api ok');
  assert.equal((await sends()).length, n + 1);
});

test('the database killed and restarted under traffic: every callback is answered, right', async () => {
  const results = [];
  let stop = false;
  const load = (async () => {
    for (let i = 0; !stop; i++) {
      const batch = [a, b].map((srv, j) => h.callback(srv, 'echo', text('echo', `load ${i}.${j}`))
        .then((r) => ({ want: `load ${i}.${j}`, status: r.status, got: r.msg?.get('Content') }))
        .catch((e) => ({ want: `load ${i}.${j}`, status: null, got: String(e) })));
      results.push(...await Promise.all(batch));
    }
  })();
  await h.sleep(500);
  await pg.kill();
  await h.sleep(1500);
  await pg.restart();
  await h.sleep(1000);
  stop = true;
  await load;
  assert.ok(results.length > 20, `${results.length} callbacks`);
  const bad = results.filter((r) => r.status !== 200 || r.got !== r.want);
  assert.deepEqual(bad, []);
});
