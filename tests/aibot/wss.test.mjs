// SPDX-License-Identifier: ISC
// The long connection over TLS through an HTTP proxy, in the real server
// with its sandbox tracing: the worker verifies the fake's certificate
// against ca_file (read by the parent, before any chroot) and dials it
// by name through https_proxy's CONNECT. A certificate the CA did not
// sign never connects.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, stopAndCheck, sleep, waitLog } from '../callback/harness.mjs';
import { startAibot, textMsg } from '../fake_aibot/server.mjs';
import { startProxy } from '../fake_aibot/proxy.mjs';

const BOTS = { aibTLS: 'tls-secret' };
let dir, fake, proxy, srv, other;

function cert(name) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1',
    '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.pem`)], { stdio: 'ignore' });
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.pem`)) };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wecom-wss-'));
  const good = cert('good');
  cert('stranger');
  fake = await startAibot({ bots: BOTS, tls: good });
  proxy = await startProxy();
  process.env.https_proxy = proxy.url;
  const bot = (name, ca) => `
[aibot ${name}]
handler = echo
bot_id = aibTLS
secret = tls-secret
ws_url = ${fake.url}
`;
  srv = await startServer({ globalExtra: `ca_file = ${join(dir, 'good.pem')}\n`, sections: bot('tlsbot') });
  // Another server trusting another CA: it must never get in.
  other = await startServer({ globalExtra: `ca_file = ${join(dir, 'stranger.pem')}\n`, sections: bot('strangerbot') });
  delete process.env.https_proxy;
});
after(async () => {
  await stopAndCheck(srv);
  await stopAndCheck(other);
  await fake.close();
  await proxy.close();
  rmSync(dir, { recursive: true, force: true });
});

test('wss through the proxy: verified, subscribed, answering', async () => {
  await fake.waitConnected('aibTLS', 1, 10000);
  assert.match(fake.url, /^wss:\/\/localhost:/);
  assert.ok(proxy.connects.some((t) => t.startsWith('localhost:')), `CONNECTs: ${proxy.connects}`);
  const req = fake.send('aibTLS', textMsg({ content: 'over TLS' }));
  const f = await fake.waitFrame((x) => x.json?.headers?.req_id === req && x.json.cmd, 5000);
  assert.equal(f.json.body.stream.content, 'over TLS');
});

test('a certificate ca_file did not sign: never connected, and the log says why', async () => {
  const lines = await waitLog(other, /strangerbot.*(certificate|verify|trusted)/i, 5000);
  assert.ok(lines.length >= 1, 'a line names the certificate problem');
  await sleep(500);
  assert.equal(fake.subscribes.aibTLS, 1, 'only the trusting server subscribed');
});
