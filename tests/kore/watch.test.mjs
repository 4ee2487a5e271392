// SPDX-License-Identifier: ISC
// The credential watch through the real server and the fake WeCom: an
// app whose secret starts failing raises exactly one alert, however many
// check rounds see it fail, and one recovery message when it works
// again; both go through the outbox under keys made of the credential,
// the transition and its time; the state kept in state_dir makes a
// restart neither alert again nor miss a recovery. Alerts go to
// watch_robot, or through watch_app to watch_to.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(fn, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v || Date.now() - t0 > ms) return v;
    await sleep(100);
  }
}
const control = (fake, name, body) => fetch(`${fake.url}/_fake/${name}`, { method: 'POST', body: JSON.stringify(body) });
const sent = (fake, api = 'webhook/send') => fake.state.messages.filter((m) => m.api === api);
const texts = (fake, api) => sent(fake, api).map((m) => m.body.text.content);
const gettokens = (fake) => fake.state.counts.gettoken ?? 0;
const flaky = { name: 'flaky', handler: 'echo', corpid: CORPID, agentid: 1000002, extra: 'secret = app-secret-1\n' };
const WATCH = 'outbox_interval_ms = 200\nwatch_interval_ms = 1000\n';

test('a failing secret: one alert across check rounds, then one recovery when it works again', async (t) => {
  const fake = await startFake();
  // From the first check on, gettoken says the secret is wrong.
  await control(fake, 'inject', { path: 'gettoken', errcode: 40001, errmsg: 'invalid credential', times: 100000 });
  const srv = await h.startServer({
    apiBase: fake.base, globalExtra: WATCH + 'watch_robot = ops\n', apps: [flaky],
    sections: '[robot ops]\nkey = robot-ops\n',
  });
  t.after(async () => { await h.stopAndCheck(srv); await fake.close(); });

  assert.ok(await until(() => sent(fake).length >= 1), 'an alert');
  const g0 = gettokens(fake);
  assert.ok(await until(() => gettokens(fake) >= g0 + 3), 'three more check rounds');
  await sleep(500);	// and the drain after them
  assert.equal(sent(fake).length, 1, texts(fake).join('\n'));
  const [down] = texts(fake);
  assert.match(down, /^\[wecom\] Credential failing: app "flaky" cannot get an access token: errcode 40001 — wrong secret: use the Secret of this app/);
  assert.match(down, /\n\[企业微信\] 凭据失效：应用「flaky」无法获取 access_token，错误码 40001：Secret 错误/);
  assert.doesNotMatch(down, /app-secret-1|robot-ops/, 'never a secret');
  let m = (await h.request(srv, { path: '/metrics' })).text;
  assert.match(m, /^wecom_credential_ok\{app="flaky"\} 0$/m);
  assert.match(m, /^wecom_credential_alerts_total\{app="flaky"\} 1$/m);
  const st = JSON.parse((await h.request(srv, { path: '/status.json' })).text).apps.find((a) => a.name === 'flaky');
  assert.equal(st.credential.ok, false);
  assert.equal(st.credential.errcode, 40001);
  assert.equal(st.credential.alerts, 1);
  const since = st.credential.failing_since;

  // WeCom takes the secret again.
  await control(fake, 'uninject', { path: 'gettoken' });
  assert.ok(await until(() => sent(fake).length >= 2), 'a recovery message');
  const g1 = gettokens(fake);
  await sleep(3500);	// more rounds: the cached token says ok, nothing new
  assert.equal(gettokens(fake), g1, 'a good token is not fetched again each round');
  assert.equal(sent(fake).length, 2, texts(fake).join('\n'));
  const up = texts(fake)[1];
  const when = new Date(since * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  assert.match(up, new RegExp(`^\\[wecom\\] Credential working again: app "flaky" gets an access token \\(failing since ${when}, \\d+ min\\)\\.`));
  assert.match(up, /\n\[企业微信\] 凭据已恢复：应用「flaky」可以正常获取 access_token/);
  m = (await h.request(srv, { path: '/metrics' })).text;
  assert.match(m, /^wecom_credential_ok\{app="flaky"\} 1$/m);
  assert.match(m, /^wecom_credential_alerts_total\{app="flaky"\} 2$/m);

  // Each went through the outbox, under a key of (credential, transition, time).
  const done = readdirSync(join(srv.dir, 'outbox', 'done')).filter((f) => f.startsWith('watch-')).sort();
  assert.equal(done.length, 2, done.join(' '));
  assert.match(done.find((f) => f.includes('-down-')), new RegExp(`^watch-[0-9a-f]{16}-down-${since}-r`));
  assert.match(done.find((f) => f.includes('-up-')), /^watch-[0-9a-f]{16}-up-\d{10}-r/);
  assert.match(readFileSync(join(srv.dir, 'credential-watch'), 'utf8'), /^1 \d{10} app flaky\n$/);
});

test('after a restart: a credential already alerted on is not alerted again, and its recovery still comes', async (t) => {
  const fake = await startFake();
  await control(fake, 'inject', { path: 'gettoken', errcode: 40001, times: 100000 });
  // The state a previous run left: flaky failing since an hour ago.
  const state = mkdtempSync(join(tmpdir(), 'wecom-watch-'));
  const since = Math.floor(Date.now() / 1000) - 3600;
  writeFileSync(join(state, 'credential-watch'), `0 ${since} app flaky\n`);
  const srv = await h.startServer({
    apiBase: fake.base, globalExtra: WATCH + `watch_robot = ops\nstate_dir = ${state}\n`, apps: [flaky],
    sections: '[robot ops]\nkey = robot-ops\n',
  });
  t.after(async () => { await h.stopAndCheck(srv); await fake.close(); rmSync(state, { recursive: true, force: true }); });

  assert.ok(await until(() => gettokens(fake) >= 3), 'three check rounds');
  await sleep(500);
  assert.equal(sent(fake).length, 0, 'no second alert');
  const st = JSON.parse((await h.request(srv, { path: '/status.json' })).text).apps.find((a) => a.name === 'flaky');
  assert.equal(st.credential.failing_since, since, 'failing since the first run saw it');
  await control(fake, 'uninject', { path: 'gettoken' });
  assert.ok(await until(() => sent(fake).length >= 1), 'the recovery');
  assert.match(texts(fake)[0], /^\[wecom\] Credential working again: app "flaky" gets an access token \(failing since .*, 60 min\)/);
});

test('through watch_app to watch_to: message/send of that app, to those users', async (t) => {
  const fake = await startFake();
  const srv = await h.startServer({
    apiBase: fake.base, globalExtra: WATCH + 'watch_app = ops\nwatch_to = zhangsan|lisi\n',
    apps: [
      { name: 'ops', handler: 'echo', corpid: CORPID, agentid: 1000003, extra: 'secret = app-secret-2\n' },
      { ...flaky, extra: 'secret = not-the-secret\n' },
    ],
  });
  t.after(async () => { await h.stopAndCheck(srv); await fake.close(); });
  assert.ok(await until(() => sent(fake, 'message/send').length >= 1), 'an alert');
  await sleep(2500);
  const msgs = sent(fake, 'message/send');
  assert.equal(msgs.length, 1);
  assert.equal(msgs[0].body.touser, 'zhangsan|lisi');
  assert.equal(msgs[0].body.agentid, 1000003);
  assert.match(msgs[0].body.text.content, /Credential failing: app "flaky".*errcode 40001/);
  assert.doesNotMatch(msgs[0].body.text.content, /not-the-secret/);
  assert.equal(sent(fake).length, 0, 'no robot configured, none used');
});

test('watch_robot, watch_app and watch_to are checked at start', async () => {
  const fails = async (globalExtra, re) => {
    await assert.rejects(h.startServer({ globalExtra, apps: [flaky] }), (e) => {
      assert.match(e.message, re);
      return true;
    });
  };
  await fails('watch_robot = nobody\n', /watch_robot: no \[robot nobody\]/);
  await fails('watch_app = flaky\n', /watch_app and watch_to go together/);
  await fails('watch_app = echo\nwatch_to = zhangsan\n', /watch_app: no \[app echo\] with a secret/);
  await fails('watch_interval_ms = 999\n', /watch_interval_ms' must be a whole number from 1000 to 86400000/);
});
