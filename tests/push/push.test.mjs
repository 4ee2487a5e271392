// SPDX-License-Identifier: ISC
// The push API (framework/push*.c) on the real server, delivering to the
// fake WeCom API: keys and scopes, the three front doors, the answers
// (sent, queued, refused), idempotency, outages and the robot limit.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const KEY = 'push-key-0123456789abcdef';
const NARROW = 'narrow-key-0123456789abcdef';
const ROBOTKEY = 'robot-only-key-0123456789';
// Names that once made the same outbox key for ids ops-42 and 42, or x.
const TEAM = 'team-key-0123456789abcdef';
const TEAMOPS = 'team-ops-key-0123456789abcdef';
const ALPHA = 'alpha-key-0123456789abcdef';
const ALPHA2 = 'alpha2-key-0123456789abcdef';
let srv, fake;

const sections = () => `outbox_backoff_ms = 200
outbox_interval_ms = 200
retry_max_ms = 1000
retry_base_ms = 20

[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = app-secret-1

[robot oncall]
key = robot-oncall-1

[robot other]
key = robot-other-1

[apikey monitoring]
key = ${KEY}
app = ops
to = zhangsan

[apikey narrow]
key = ${NARROW}
app = ops
apps = ops
robots = oncall
to = lisi

[apikey grafana]
key = ${ROBOTKEY}
robot = oncall
robots = oncall

[apikey team]
key = ${TEAM}
to = lisi

[apikey team-ops]
key = ${TEAMOPS}
to = wangwu

[apikey monitoring-team-alpha]
key = ${ALPHA}
to = lisi

[apikey monitoring-team-alpha2]
key = ${ALPHA2}
to = wangwu
`;

const fakeGet = async (what) => {
  const r = await fetch(`${fake.base.replace(/cgi-bin\/$/, '')}_fake/${what}`);
  return r.json();
};
const fakePost = (what, body) => fetch(`${fake.base.replace(/cgi-bin\/$/, '')}_fake/${what}`,
  { method: 'POST', body: JSON.stringify(body) });
const sent = async () => (await fakeGet('messages'));

async function call(path, { method = 'POST', json, form, headers = {}, body } = {}) {
  const hd = { ...headers };
  let data = body;
  if (json !== undefined) {
    data = JSON.stringify(json);
    hd['content-type'] = 'application/json';
  } else if (form !== undefined) {
    data = new URLSearchParams(form).toString();
    hd['content-type'] = 'application/x-www-form-urlencoded';
  }
  const r = await h.request(srv, { method, path, body: data, headers: hd });
  let parsed = null;
  try { parsed = JSON.parse(r.body); } catch { /* not JSON */ }
  return { status: r.status, json: parsed, raw: r.body, headers: r.headers };
}
const bearer = (k = KEY) => ({ authorization: `Bearer ${k}` });

before(async () => {
  fake = await startFake();
  // A body of 512 KiB: large recipient lists reach the push API.
  srv = await h.startServer({ workers: 2, apiBase: fake.base, bodyMax: 512 * 1024, globalExtra: sections() });
});

after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
});

test('no key, a wrong key or a too-short one: 401 with JSON and a challenge', async () => {
  for (const headers of [{}, bearer('wrong-key-0123456789abcdef'), { 'x-api-key': KEY.slice(0, -1) }]) {
    const r = await call('/api/v1/send', { json: { content: 'x' }, headers });
    assert.equal(r.status, 401);
    assert.equal(r.json.code, 401);
    assert.match(r.json.message, /API key/);
    assert.equal(r.headers['www-authenticate'], 'Bearer');
  }
  const r = await call(`/sendmsg?key=nope&content=x`, { method: 'GET' });
  assert.equal(r.status, 401);
  assert.equal((await sent()).length, 0, 'nothing reached WeCom');
});

test('POST /api/v1/send: sent, with WeCom\'s msgid; the key\'s app and recipients by default', async () => {
  const r = await call('/api/v1/send', { json: { content: 'disk full on db1' }, headers: bearer() });
  assert.equal(r.status, 200, r.raw);
  assert.equal(r.json.code, 0);
  assert.equal(r.json.message, 'sent');
  assert.ok(r.json.msgid, 'a msgid');
  assert.ok(r.json.id, 'the outbox id');
  const m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.ok(m, 'the fake issued that msgid');
  assert.equal(m.body.touser, 'zhangsan');
  assert.equal(m.body.agentid, 1000002);
  assert.equal(m.body.msgtype, 'text');
  assert.equal(m.body.text.content, 'disk full on db1');
});

test('recipients as a list, X-Api-Key, markdown with a title; invalid users are reported', async () => {
  const r = await call('/api/v1/send', {
    json: { to: ['lisi', 'nobody'], msgtype: 'markdown', title: 'DB', content: 'load **9.1**' },
    headers: { 'x-api-key': KEY },
  });
  assert.equal(r.status, 200, r.raw);
  assert.equal(r.json.invaliduser, 'nobody');
  const m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.equal(m.body.touser, 'lisi|nobody');
  assert.equal(m.body.markdown.content, '**DB**\nload **9.1**');
});

test('any message type in WeCom\'s own shape', async () => {
  const card = { title: 'Backup', description: 'nightly backup done', url: 'https://example.com/b' };
  const r = await call('/api/v1/send', { json: { to: 'wangwu', msgtype: 'textcard', textcard: card },
    headers: bearer() });
  assert.equal(r.status, 200, r.raw);
  const m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.deepEqual(m.body.textcard, card);
});

test('GET and POST /sendmsg for tools that can only call a URL', async () => {
  let r = await call(`/sendmsg?key=${KEY}&to=zhaoliu&content=${encodeURIComponent('CPU 95% on web1')}`,
    { method: 'GET' });
  assert.equal(r.status, 200, r.raw);
  let m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.equal(m.body.touser, 'zhaoliu');
  assert.equal(m.body.text.content, 'CPU 95% on web1');

  r = await call('/sendmsg', { form: { key: KEY, title: 'Zabbix: PROBLEM', content: 'web1 down + unreachable' } });
  assert.equal(r.status, 200, r.raw);
  m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.equal(m.body.touser, 'zhangsan', 'the key\'s default recipient');
  assert.equal(m.body.text.content, 'Zabbix: PROBLEM\nweb1 down + unreachable');
});

test('a robot: by name or as the key\'s default', async () => {
  let r = await call('/api/v1/send', { json: { robot: 'oncall', msgtype: 'markdown', content: '# hi' },
    headers: bearer() });
  assert.equal(r.status, 200, r.raw);
  r = await call(`/sendmsg?content=grafana+says+hi`, { method: 'GET', headers: { 'x-api-key': ROBOTKEY } });
  assert.equal(r.status, 200, r.raw);
  // The fake keeps no robot messages, only their times per webhook key.
  assert.equal(fake.state.robotSent.get('robot-oncall-1').length, 2);
  assert.equal(fake.state.robotSent.get('robot-other-1'), undefined);
});

test('bad requests name the field; a key\'s scope is enforced with 403', async () => {
  const cases = [
    [{ to: 'lisi' }, 400, /^content: missing/],
    [{ content: 'x', robot: 'oncall', to: 'lisi' }, 400, /^robot: /],
    [{ content: 'x', robot: 'nosuch' }, 400, /^robot: no \[robot nosuch\]/],
    [{ content: 'x', app: 'nosuch' }, 400, /^app: no \[app nosuch\]/],
    [{ content: 'x', msgtype: 'textcard' }, 400, /^textcard: give this message as/],
    [{ content: 'x', msgtype: 'Text!' }, 400, /^msgtype: /],
    [{ content: 7 }, 400, /^content: expected a string/],
    [{ content: 'x', safe: 'maybe' }, 400, /^safe: /],
    [{ content: 'x', id: 'no spaces please' }, 400, /^id: /],
    [{ content: 'x'.repeat(16385) }, 400, /^content: longer than 16384/],
  ];
  for (const [json, status, re] of cases) {
    const r = await call('/api/v1/send', { json, headers: bearer() });
    assert.equal(r.status, status, JSON.stringify(json).slice(0, 80));
    assert.equal(r.json.code, status);
    assert.match(r.json.message, re);
  }
  let r = await call('/api/v1/send', { body: '{"content": "x", "content": "y"}', headers: bearer() });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /^body: /);
  r = await call('/api/v1/send', { body: 'not json', headers: bearer() });
  assert.equal(r.status, 400);

  r = await call('/api/v1/send', { json: { content: 'x', robot: 'other' }, headers: bearer(NARROW) });
  assert.equal(r.status, 403);
  assert.match(r.json.message, /^robot: other is not allowed/);
  r = await call('/api/v1/send', { json: { content: 'x', app: 'echo', to: 'lisi' }, headers: bearer(NARROW) });
  assert.ok(r.status === 400 || r.status === 403, r.raw);

  r = await call('/api/v1/send', { method: 'GET', headers: bearer() });
  assert.equal(r.status, 405);
  assert.equal(r.headers.allow, 'POST');
});

test('the same id twice is sent once and answered the same', async () => {
  const before = (await sent()).length;
  const a = await call('/api/v1/send', { json: { content: 'once', id: 'job-42' }, headers: bearer() });
  const b = await call('/api/v1/send', { json: { content: 'once', id: 'job-42' }, headers: bearer() });
  assert.equal(a.status, 200, a.raw);
  assert.equal(b.status, 200, b.raw);
  assert.equal(b.json.msgid, a.json.msgid);
  assert.equal(b.json.id, a.json.id);
  assert.equal((await sent()).length, before + 1);
});

test('an id is the key\'s own: keys whose names and ids run together never share a message', async () => {
  const pairs = [[[TEAM, 'ops-42'], [TEAMOPS, '42']], [[ALPHA, 'x'], [ALPHA2, 'x']]];
  for (const [[k1, id1], [k2, id2]] of pairs) {
    const a = await call('/api/v1/send', { json: { content: `from ${id1}`, id: id1 }, headers: bearer(k1) });
    const b = await call('/api/v1/send', { json: { content: `from the other ${id2}`, id: id2 }, headers: bearer(k2) });
    assert.equal(a.status, 200, a.raw);
    assert.equal(b.status, 200, b.raw);
    assert.notEqual(b.json.id, a.json.id, 'two outbox records');
    assert.notEqual(b.json.msgid, a.json.msgid, 'two messages');
    assert.ok(!b.json.invaliduser, b.raw);
    const m = (await sent()).find((x) => x.msgid === b.json.msgid);
    assert.equal(m.body.text.content, `from the other ${id2}`);
    assert.equal(m.body.touser, 'wangwu');
    assert.match(b.json.id, /^[A-Za-z0-9_.-]{1,64}$/);
  }
  const again = await call('/api/v1/send', { json: { content: 'from x', id: 'x' }, headers: bearer(ALPHA) });
  assert.equal(again.status, 200, again.raw);
  assert.equal((await sent()).filter((x) => x.body?.text?.content === 'from x').length, 1, 'still sent once per key');
});

test('recipients: at most 1000 users, 100 parties or tags, refused by name; 256 KiB of names is answered', async () => {
  const names = (n) => Array.from({ length: n }, (_, i) => `u${i}`);
  let r = await call('/api/v1/send', { json: { content: 'x', to: Array(1000).fill('lisi') }, headers: bearer() });
  assert.equal(r.status, 200, r.raw.slice(0, 200));
  const cases = [
    [{ to: names(1001) }, /^to: more than 1000/],
    [{ to: names(1001).join('|') }, /^to: more than 1000/],
    [{ toparty: names(101).join('|') }, /^toparty: more than 100/],
    [{ totag: names(101).join('|') }, /^totag: more than 100/],
  ];
  for (const [json, re] of cases) {
    r = await call('/api/v1/send', { json: { content: 'x', ...json }, headers: bearer() });
    assert.equal(r.status, 400, r.raw.slice(0, 200));
    assert.match(r.json.message, re);
  }
  const big = JSON.stringify({ content: 'x', to: names(32000) });
  assert.ok(big.length > 256 * 1024, `${big.length} bytes`);
  r = await call('/api/v1/send', { body: big, headers: { ...bearer(), 'content-type': 'application/json' } });
  assert.equal(r.status, 400, r.raw.slice(0, 200));
  assert.match(r.json.message, /^to: more than 1000/);
});

test('WeCom refuses: 502 with its errcode and a hint; nothing is retried', async () => {
  const r = await call('/api/v1/send', { json: { content: 'x', to: 'ghost1|ghost2' }, headers: bearer() });
  assert.equal(r.status, 502, r.raw);
  assert.equal(r.json.code, 81013);
  assert.ok(r.json.id);
  const failed = readdirSync(join(srv.dir, 'outbox', 'failed'));
  assert.ok(failed.includes(r.json.id), 'kept in failed/');
});

test('WeCom down: 202 queued at once, delivered by the outbox when it is back', async () => {
  await fakePost('config', { down_ms: 1500 });
  const t0 = Date.now();
  const r = await call('/api/v1/send', { json: { content: 'sent while down', to: 'lisi' }, headers: bearer() });
  assert.equal(r.status, 202, r.raw);
  assert.equal(r.json.code, 0);
  assert.match(r.json.message, /^queued/);
  assert.ok(Date.now() - t0 < 5000, 'answered without waiting for WeCom');
  let m;
  for (let i = 0; i < 100 && !m; i++) {
    await h.sleep(100);
    m = (await sent()).find((x) => x.body?.text?.content === 'sent while down');
  }
  assert.ok(m, 'delivered once WeCom was back');
});

test('a robot over 20 a minute queues instead of failing', async () => {
  await fakePost('reset', {});
  const answers = [];
  for (let i = 0; i < 22; i++) {
    const r = await call('/api/v1/send', { json: { robot: 'other', content: `burst ${i}` }, headers: bearer() });
    answers.push(r.status);
  }
  assert.equal(answers.filter((s) => s === 200).length, 20, answers.join(','));
  assert.equal(answers.filter((s) => s === 202).length, 2, answers.join(','));
  const st = await fakeGet('stats');
  assert.equal(st.counts['webhook/send'], 20, 'WeCom never saw the 21st: no 45009');
  const queued = readdirSync(join(srv.dir, 'outbox', 'new'));
  assert.equal(queued.length, 2, 'the two wait in the outbox');
});

test('POST /api/v1/alertmanager: one markdown message per webhook', async () => {
  const payload = {
    version: '4', status: 'firing', receiver: 'wecom', groupKey: '{}:{alertname="DiskFull"}',
    groupLabels: { alertname: 'DiskFull' }, commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {}, externalURL: 'http://am:9093', truncatedAlerts: 0,
    alerts: [{
      status: 'firing', labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100' },
      annotations: { summary: 'Disk almost full' }, startsAt: '2026-11-22T10:00:00Z',
      endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prom/graph', fingerprint: 'abc',
    }],
  };
  let r = await call(`/api/v1/alertmanager?to=wangwu`, { json: payload, headers: bearer() });
  assert.equal(r.status, 200, r.raw);
  const m = (await sent()).find((x) => x.msgid === r.json.msgid);
  assert.equal(m.body.msgtype, 'markdown');
  assert.equal(m.body.touser, 'wangwu');
  assert.match(m.body.markdown.content, /FIRING/);
  assert.match(m.body.markdown.content, /DiskFull/);
  assert.match(m.body.markdown.content, /db1:9100/);
  assert.match(m.body.markdown.content, /Disk almost full/);

  r = await call(`/api/v1/alertmanager`, { json: { version: '4' }, headers: bearer() });
  assert.equal(r.status, 400);
  assert.match(r.json.message, /alerts/);
});

test('/healthz and /metrics count the push API\'s requests by result', async () => {
  const m = await h.request(srv, { path: '/metrics' });
  const n = (r) => Number(new RegExp(`wecom_push_requests_total\\{result="${r}"\\} (\\d+)`).exec(m.text)?.[1]);
  assert.ok(n('sent') > 0, m.text.slice(-400));
  assert.ok(n('refused') > 0, 'the 401s and 400s above');
  const hz = await h.request(srv, { path: '/healthz' });
  assert.match(hz.text, /^push API: \d+ keys; \d+ sent, \d+ queued, \d+ refused, \d+ failed$/m);
});
