// SPDX-License-Identifier: ISC
// The Alertmanager helper against the fake WeCom API: a real
// prometheus-alertmanager with a wechat_configs receiver pointed straight
// at the fake delivers a fired alert as message/send.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { startAlertmanager, alertmanagerAvailable, alertmanagerVersion, BINARY }
  from './am.mjs';

const SKIP = alertmanagerAvailable() ? false
  : `${BINARY} not installed (apt-get install prometheus-alertmanager)`;

async function poll(what, fn, ms = 20000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sends = async (fake) => (await (await fetch(`${fake.url}/_fake/messages`)).json())
  .filter((m) => m.api === 'message/send');

async function withBoth(t, opts, fn) {
  const fake = await startFake();
  const am = await startAlertmanager({ apiUrl: fake.base, corpId: CORPID,
    apiSecret: 'app-secret-1', agentId: '1000002', toUser: 'zhangsan', ...opts });
  try {
    await fn(fake, am);
  } catch (e) {
    t.diagnostic(`alertmanager log:\n${am.log().slice(-8000)}`);
    throw e;
  } finally {
    await am.stop();
    await fake.close();
  }
}

test('alertmanager version', { skip: SKIP }, () => {
  assert.match(alertmanagerVersion(), /^0\.\d+\.\d+$/);
});

test('a fired alert reaches message/send, default template', { skip: SKIP }, async (t) => {
  await withBoth(t, {}, async (fake, am) => {
    const t0 = Date.now();
    await am.fire({ alertname: 'DiskFull', severity: 'page' }, { summary: 'disk / at 99%' });
    const [m] = await poll('message/send', async () => (await sends(fake)).length && sends(fake));
    t.diagnostic(`fire → delivery ${Date.now() - t0} ms`);
    assert.equal(m.body.touser, 'zhangsan');
    assert.equal(String(m.body.agentid), '1000002');
    assert.equal(m.body.msgtype, 'text');
    assert.match(m.body.text.content, /^\[FIRING:1\] DiskFull page/);
    assert.match(m.body.text.content, /alertname = DiskFull/);
    assert.match(m.body.text.content, /summary = disk \/ at 99%/);
    const stats = await (await fetch(`${fake.url}/_fake/stats`)).json();
    assert.equal(stats.counts.gettoken, 1);
    assert.equal(stats.delivered, 1);
  });
});

test('custom message, resolved notification, token reused', { skip: SKIP }, async (t) => {
  const message = '{{ .Status }}: {{ .CommonLabels.alertname }} {{ .CommonAnnotations.summary }}';
  await withBoth(t, { message }, async (fake, am) => {
    await am.fire({ alertname: 'CpuHot' }, { summary: 'cpu 100%' });
    await poll('firing', async () => (await sends(fake)).length === 1);
    await am.resolve({ alertname: 'CpuHot' }, { summary: 'cpu 100%' });
    const ms = await poll('resolved', async () => {
      const s = await sends(fake);
      return s.length === 2 && s;
    });
    assert.deepEqual(ms.map((m) => m.body.text.content),
      ['firing: CpuHot cpu 100%', 'resolved: CpuHot cpu 100%']);
    const stats = await (await fetch(`${fake.url}/_fake/stats`)).json();
    assert.equal(stats.counts.gettoken, 1);
  });
});
