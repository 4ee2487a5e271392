// SPDX-License-Identifier: ISC
// The shared access-token cache and the retry policy, seen from outside:
// how many gettoken calls the fake counts, what is on disk, what is printed.

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setup, SECRET } from './helpers.mjs';

let t;
beforeEach(async () => { t = await setup(); });
afterEach(async () => { await t.close(); });

const tokenFiles = () => fs.readdirSync(t.state).filter((f) => f.startsWith('token-'));

test('the token is fetched once and reused by later runs', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await t.send(['--to', 'zhangsan', `n${i}`])).code, 0);
  const c = await t.counts();
  assert.equal(c.gettoken, 1);
  assert.equal(c['message/send'], 3);
});

test('the token file is 0600 in a 0700 state dir and its name hides the secret', async () => {
  assert.equal((await t.send(['--to', 'zhangsan', 'x'])).code, 0);
  assert.equal(fs.statSync(t.state).mode & 0o777, 0o700);
  const files = tokenFiles();
  assert.equal(files.length, 1);
  assert.match(files[0], /^token-[0-9a-f]{64}$/);
  for (const f of fs.readdirSync(t.state)) {
    assert.equal(fs.statSync(path.join(t.state, f)).mode & 0o777, 0o600, f);
    assert.ok(!f.includes(SECRET));
    assert.ok(!fs.readFileSync(path.join(t.state, f), 'utf8').includes(SECRET), f);
  }
});

test('50 concurrent wecom-send runs make exactly one gettoken request', async () => {
  // A slow gettoken keeps every run waiting on the same fetch.
  await t.inject({ path: 'gettoken', delay_ms: 300 });
  const runs = await Promise.all(Array.from({ length: 50 },
    (_, i) => t.send(['--to', 'zhangsan', `concurrent ${i}`])));
  runs.forEach((r, i) => assert.equal(r.code, 0, `run ${i}: ${r.stderr}`));
  const c = await t.counts();
  assert.equal(c.gettoken, 1, JSON.stringify({ c, err: runs.map((r) => r.stderr).filter(Boolean) }));
  assert.equal(c['message/send'], 50);
});

test('each app has its own token (per corpid and secret)', async () => {
  assert.equal((await t.send(['--to', 'zhangsan', 'a'])).code, 0);
  assert.equal((await t.send(['-a', 'other', '--to', 'zhangsan', 'b'])).code, 0);
  assert.equal((await t.counts()).gettoken, 2);
  assert.equal(tokenFiles().length, 2);
});

for (const mode of ['invalid', 'expired']) {
  const code = mode === 'invalid' ? 40014 : 42001;
  test(`a token ${mode} mid-run (${code}) is dropped, fetched again once, and the call retried`, async () => {
    assert.equal((await t.send(['--to', 'zhangsan', 'first'])).code, 0);
    const old = fs.readFileSync(path.join(t.state, tokenFiles()[0]), 'utf8');
    await t.control('invalidate', { mode });
    const r = await t.send(['--to', 'zhangsan', 'second']);
    assert.equal(r.code, 0, r.stderr);
    const c = await t.counts();
    assert.equal(c.gettoken, 2);
    assert.equal(c['message/send'], 3);	// first, rejected, retried
    assert.notEqual(fs.readFileSync(path.join(t.state, tokenFiles()[0]), 'utf8'), old);
  });
}

test('a token that keeps being rejected is retried once, not in a loop', async () => {
  await t.inject({ path: 'message/send', errcode: 40014, times: 10 });
  const r = await t.send(['--to', 'zhangsan', 'x']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 40014/);
  const c = await t.counts();
  assert.equal(c['message/send'], 2);
  assert.equal(c.gettoken, 2);
});

test('concurrent runs after an invalidation share one new token', async () => {
  assert.equal((await t.send(['--to', 'zhangsan', 'warm'])).code, 0);
  await t.control('invalidate', { mode: 'invalid' });
  await t.inject({ path: 'gettoken', delay_ms: 200 });
  const runs = await Promise.all(Array.from({ length: 20 },
    (_, i) => t.send(['--to', 'zhangsan', `after ${i}`])));
  runs.forEach((r, i) => assert.equal(r.code, 0, `run ${i}: ${r.stderr}`));
  assert.equal((await t.counts()).gettoken, 2);
});

test('a wrong secret is 40001 with a hint: exactly one gettoken, never retried', async () => {
  await t.close();
  t = await setup({ secret: 'wrong-secret-xyz' });
  const r = await t.send(['--to', 'zhangsan', 'x']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 40001/);
  assert.match(r.stderr, /hint: wrong secret/);
  assert.equal((await t.counts()).gettoken, 1);
  assert.equal((await t.counts())['message/send'], undefined);
  assert.ok(!r.stdout.includes('wrong-secret-xyz') && !r.stderr.includes('wrong-secret-xyz'));
});

test('the secret and the token never appear in the output, even on failures', async () => {
  const outs = [];
  outs.push(await t.send(['--to', 'zhangsan', 'ok']));
  await t.inject({ path: 'message/send', errcode: 60020, errmsg: 'not allow to access from your ip' });
  outs.push(await t.send(['--to', 'zhangsan', 'x']));
  await t.inject({ path: 'message/send', http: 503, times: 10 });
  outs.push(await t.send(['--to', 'zhangsan', 'x'], { env: { WECOM_RETRY_ATTEMPTS: '2' } }));
  const tokens = [...t.fake.state.tokens.keys()];
  for (const r of outs) {
    for (const s of [SECRET, ...tokens]) {
      assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s));
    }
  }
});

test('60020 says to add this host to the trusted IPs, exit 76, not retried', async () => {
  await t.inject({ path: 'message/send', errcode: 60020, errmsg: 'not allow to access from your ip' });
  const r = await t.send(['--to', 'zhangsan', 'x']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 60020: not allow to access from your ip/);
  assert.match(r.stderr, /hint: .*trusted IPs/);
  assert.equal((await t.counts())['message/send'], 1);
});

for (const [name, spec] of [
  ['-1 (busy)', { errcode: -1 }],
  ['45009 (frequency)', { errcode: 45009 }],
  ['45033 (concurrency)', { errcode: 45033 }],
  ['HTTP 502', { http: 502 }],
  ['a dropped connection', { drop: true }],
]) {
  test(`${name} is retried with backoff, then succeeds`, async () => {
    await t.inject({ path: 'message/send', times: 2, ...spec });
    const r = await t.send(['--to', 'zhangsan', 'x']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await t.counts())['message/send'], 3);
    assert.match(r.stdout, /^msgid:/m);
  });
}

test('still failing after the bounded retries is exit 69', async () => {
  await t.inject({ path: 'message/send', http: 500, times: 100 });
  const r = await t.send(['--to', 'zhangsan', 'x'], { env: { WECOM_RETRY_ATTEMPTS: '3' } });
  assert.equal(r.code, 69);
  assert.match(r.stderr, /HTTP 500/);
  assert.match(r.stderr, /gave up after 3 requests/);
  assert.equal((await t.counts())['message/send'], 3);
});

test('retries stop at the total time budget', async () => {
  await t.inject({ path: 'message/send', errcode: -1, times: 100 });
  const t0 = Date.now();
  const r = await t.send(['--to', 'zhangsan', 'x'], {
    env: { WECOM_RETRY_ATTEMPTS: '20', WECOM_RETRY_BASE_MS: '200', WECOM_RETRY_MAX_MS: '1000' } });
  assert.equal(r.code, 69);
  assert.match(r.stderr, /errcode -1/);
  assert.ok(Date.now() - t0 < 3000, `${Date.now() - t0} ms`);
  assert.ok((await t.counts())['message/send'] < 20);
});

test('other errcodes fail at once: 48002 with a hint', async () => {
  await t.inject({ path: 'message/send', errcode: 48002, errmsg: 'api forbidden' });
  const r = await t.send(['--to', 'zhangsan', 'x']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /hint: API not allowed/);
  assert.equal((await t.counts())['message/send'], 1);
});

test('a slow answer beyond timeout_ms is a retried network error', async () => {
  await t.close();
  t = await setup({ timeoutMs: 1000 });
  await t.inject({ path: 'message/send', delay_ms: 1500 });
  const r = await t.send(['--to', 'zhangsan', 'x']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await t.counts())['message/send'], 2);
});

test('an unreachable API is exit 69 with a network hint', async () => {
  const port = t.fake.port;
  await t.fake.close();
  const r = await t.send(['--to', 'zhangsan', 'x'], { env: { WECOM_RETRY_ATTEMPTS: '2' } });
  assert.equal(r.code, 69);
  assert.match(r.stderr, /network/);
  assert.match(r.stderr, /hint: WeCom was not reached/);
  t.fake = await (await import('../fake_wecom/server.mjs')).startFake({ port });
});

test('WECOM_API_BASE overrides the config', async () => {
  const r = await t.send(['--to', 'zhangsan', 'x'], {
    env: { WECOM_API_BASE: 'http://127.0.0.1:1/cgi-bin/', WECOM_RETRY_ATTEMPTS: '1' } });
  assert.equal(r.code, 69);
  assert.equal((await t.counts()).gettoken, undefined);
});
