// SPDX-License-Identifier: ISC
// The trusted-IP relay (framework/kore/relay.c) on the real server, forwarding
// to the fake WeCom API: who may use it, gettoken from the shared cache,
// message/send, webhook/send and media/upload passed through, WeCom's
// refusals passed back, the key kept out of the log — and a real
// Prometheus Alertmanager whose wechat_configs api_url points at it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { startAlertmanager, alertmanagerAvailable, BINARY } from '../alertmanager/am.mjs';

const RELAY_KEY = 'relay-key-0123456789abcdef';
// Relayed, but no [app] section of this corp has a secret here.
const NOAPP = 'wwnoapp000000001';
let srv, fake;

const relayed = (api, q = '') => `/relay/${RELAY_KEY}/cgi-bin/${api}${q}`;
const fakeJson = async (what) => (await fetch(`${fake.url}/_fake/${what}`)).json();
const json = (r) => JSON.parse(r.body.toString());

before(async () => {
  fake = await startFake();
  srv = await h.startServer({
    workers: 2, apiBase: fake.base, globalExtra: `
[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = app-secret-1

[relay]
key = ${RELAY_KEY}
allow = 10.1.2.0/24
corpids = ${CORPID} ${NOAPP}
`,
  });
});

after(async () => {
  const log = await h.stopAndCheck(srv);
  assert.ok(!log.includes(RELAY_KEY), 'the relay key never reaches the log');
  assert.ok(!log.includes('app-secret-1'), 'nor does a secret');
  await fake.close();
});

const tokenQuery = (secret = 'app-secret-1', corpid = CORPID) =>
  `?corpid=${corpid}&corpsecret=${encodeURIComponent(secret)}`;

test('no key and not from an allowed network: 403 in WeCom\'s shape', async () => {
  for (const path of [`/cgi-bin/gettoken${tokenQuery()}`, `/relay/wrong-key-0123456789abc/cgi-bin/gettoken${tokenQuery()}`]) {
    const r = await h.request(srv, { path });
    assert.equal(r.status, 403, path);
    assert.equal(json(r).errcode, 403);
    assert.match(json(r).errmsg, /relay key/);
  }
  const r = await h.request(srv, { path: `/cgi-bin/gettoken${tokenQuery()}`, headers: { 'x-real-ip': '10.9.9.9' } });
  assert.equal(r.status, 403);
  assert.equal((await fakeJson('stats')).counts.gettoken, undefined, 'WeCom was never asked');
});

test('gettoken: from the shared cache, one fetch for every caller', async () => {
  const tokens = new Set();
  for (const headers of [{}, { 'x-relay-key': RELAY_KEY }, { 'x-real-ip': '10.1.2.3' }]) {
    const path = Object.keys(headers).length ? `/cgi-bin/gettoken${tokenQuery()}` : relayed('gettoken', tokenQuery());
    const r = await h.request(srv, { path, headers });
    assert.equal(r.status, 200, r.body.toString());
    const o = json(r);
    assert.equal(o.errcode, 0);
    assert.ok(o.expires_in > 7000 && o.expires_in <= 7200, `expires_in ${o.expires_in}`);
    tokens.add(o.access_token);
  }
  assert.equal(tokens.size, 1);
  assert.equal((await fakeJson('stats')).counts.gettoken, 1);
});

test('gettoken with guessed secrets: WeCom\'s 40001 and 40013 answered here, nothing written, WeCom never asked', async () => {
  const files = readdirSync(srv.dir).sort();
  const calls = (await fakeJson('stats')).counts.gettoken ?? 0;
  for (let i = 0; i < 20; i++) {
    const r = await h.request(srv, { path: relayed('gettoken', tokenQuery(`guess-${i}-${'x'.repeat(i * 3)}`)) });
    assert.equal(r.status, 200);
    assert.equal(json(r).errcode, 40001, r.body.toString());
    assert.match(json(r).errmsg, /^invalid credential/);
    assert.equal(json(r).access_token, undefined);
  }
  // The secret of the app, with a corpid that has no app here.
  const r = await h.request(srv, { path: relayed('gettoken', tokenQuery('app-secret-1', NOAPP)) });
  assert.equal(r.status, 200);
  assert.equal(json(r).errcode, 40013, r.body.toString());
  assert.match(json(r).errmsg, /^invalid corpid/);
  assert.deepEqual(readdirSync(srv.dir).sort(), files, 'no file in state_dir');
  assert.equal((await fakeJson('stats')).counts.gettoken ?? 0, calls, 'no gettoken call to WeCom');
  assert.equal(json(await h.request(srv, { path: relayed('gettoken', tokenQuery()) })).errcode, 0,
    'the configured secret still gets its token');
});

test('[relay] allow with a bad network: the server does not start, and says where', async () => {
  for (const allow of ['10.0.0.0/', '10.0.0.0/33', '10.0.0.0/8x', '::1/129']) {
    let started;
    try {
      await assert.rejects(async () => {
        started = await h.startServer({ globalExtra: `[relay]\nkey = ${RELAY_KEY}\nallow = 127.0.0.1 ${allow}\n` });
      }, (e) => /wecom\.conf: line \d+: \[relay\] allow: '(\S+)': /.exec(e.message)?.[1] === allow, allow);
    } finally {
      if (started) await started.stop();
    }
  }
});

test('gettoken refusals: a corp not relayed, bad requests', async () => {
  let r = await h.request(srv, { path: relayed('gettoken', tokenQuery('app-secret-1', 'wwother00000001')) });
  assert.equal(r.status, 403);
  assert.match(json(r).errmsg, /corpid/);
  r = await h.request(srv, { path: relayed('gettoken', '?corpid=x') });
  assert.equal(r.status, 400);
  r = await h.request(srv, { method: 'POST', path: relayed('gettoken', tokenQuery()), body: '{}' });
  assert.equal(r.status, 405);
  r = await h.request(srv, { path: relayed('message/send', '?access_token=x') });
  assert.equal(r.status, 405);
  r = await h.request(srv, { path: relayed('user/get', '?access_token=x') });
  assert.equal(r.status, 404, 'only the relayed APIs');
});

test('message/send, webhook/send and media/upload go through as they came', async () => {
  const tok = json(await h.request(srv, { path: relayed('gettoken', tokenQuery()) })).access_token;
  const msg = { touser: 'lisi', msgtype: 'text', agentid: 1000002, text: { content: 'via the relay' } };
  let r = await h.request(srv, { method: 'POST', path: relayed('message/send', `?access_token=${tok}`),
    body: JSON.stringify(msg), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200);
  const ans = json(r);
  assert.equal(ans.errcode, 0);
  const m = (await fakeJson('messages')).find((x) => x.msgid === ans.msgid);
  assert.deepEqual(m.body, msg);

  r = await h.request(srv, { method: 'POST', path: relayed('message/send', '?access_token=bogus'),
    body: JSON.stringify(msg), headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 200);
  assert.equal(json(r).errcode, 40014, 'WeCom\'s own answer');

  r = await h.request(srv, { method: 'POST', path: '/cgi-bin/webhook/send?key=robot-relayed-1',
    body: JSON.stringify({ msgtype: 'text', text: { content: 'robot via relay' } }),
    headers: { 'content-type': 'application/json', 'x-real-ip': '10.1.2.77' } });
  assert.equal(r.status, 200);
  assert.equal(json(r).errcode, 0);
  assert.equal(fake.state.robotSent.get('robot-relayed-1').length, 1);

  const boundary = 'relayboundary42';
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4, 0xff, 0xd9]);
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n` +
      'Content-Type: image/jpeg\r\n\r\n'), jpeg, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  r = await h.request(srv, { method: 'POST', path: relayed('media/upload', `?access_token=${tok}&type=image`),
    body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
  assert.equal(r.status, 200, r.body.toString());
  const up = json(r);
  assert.equal(up.errcode, 0);
  assert.equal(fake.state.media.get(up.media_id).size, jpeg.length);
});

test('WeCom unreachable: 502 in WeCom\'s shape, nothing retried behind the caller\'s back', async () => {
  await fetch(`${fake.url}/_fake/config`, { method: 'POST', body: JSON.stringify({ down_ms: 1000, down_mode: 'drop' }) });
  const before = (await fakeJson('stats')).counts['message/send'] ?? 0;
  const r = await h.request(srv, { method: 'POST', path: relayed('message/send', '?access_token=x'),
    body: '{}', headers: { 'content-type': 'application/json' } });
  assert.equal(r.status, 502);
  assert.equal(json(r).errcode, 502);
  assert.equal((await fakeJson('stats')).counts['message/send'], before + 1);
  await h.sleep(1100);
});

const AM_SKIP = alertmanagerAvailable() ? false : `${BINARY} not installed (apt-get install prometheus-alertmanager)`;

test('a real Alertmanager with wechat_configs api_url at the relay delivers through it', { skip: AM_SKIP }, async (t) => {
  const am = await startAlertmanager({ apiUrl: srv.url(`/relay/${RELAY_KEY}/cgi-bin/`), corpId: CORPID,
    apiSecret: 'app-secret-1', agentId: '1000002', toUser: 'wangwu' });
  try {
    const tokensBefore = (await fakeJson('stats')).counts.gettoken;
    await am.fire({ alertname: 'RelayedAlert', severity: 'page' }, { summary: 'through the relay' });
    let m;
    for (let i = 0; i < 200 && !m; i++) {
      await h.sleep(100);
      m = (await fakeJson('messages')).find((x) => /RelayedAlert/.test(x.body?.text?.content ?? ''));
    }
    assert.ok(m, 'the alert reached WeCom through the relay');
    assert.equal(m.body.touser, 'wangwu');
    assert.equal((await fakeJson('stats')).counts.gettoken, tokensBefore,
      'Alertmanager\'s gettoken was served from the relay\'s cache');
  } catch (e) {
    t.diagnostic(`alertmanager log:\n${am.log().slice(-4000)}`);
    throw e;
  } finally {
    await am.stop();
  }
});

test('a send-only app is listed by /healthz and /metrics, its token checked', async () => {
  const t0 = Date.now();
  let r;
  for (;;) {
    r = await h.request(srv, { path: '/healthz' });
    if (/app ops: token ok/.test(r.text) || Date.now() - t0 > 5000) break;
    await h.sleep(200);
  }
  assert.equal(r.status, 200);
  assert.match(r.text, /app ops: token ok/);
  const m = await h.request(srv, { path: '/metrics' });
  assert.match(m.text, /wecom_token_ok\{app="ops"\} 1/);
});
