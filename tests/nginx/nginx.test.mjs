// SPDX-License-Identifier: ISC
// The shipped nginx configuration (conf/nginx/) in front of the real
// server: the real nginx with the shipped snippets and site file, the real
// Kore with the test module, the fake WeCom API behind it. Every endpoint
// the README documents must reach Kore through nginx (callbacks, the push
// API, the relay), /metrics and /healthz must not, Kore must get the
// client's address in X-Real-IP, and none of the secrets those URLs carry
// (push key, relay key, corpsecret, access token, robot key) may land in
// any nginx log, also when nginx itself refuses the request or Kore is
// down.
//
// Two nginx instances:
// - "plain": a plain-HTTP server block written here, which includes the
//   shipped snippets/wecom-proxy.conf and snippets/wecom-log.conf, with
//   the access-log format and error-log level the shipped site file uses.
// - "tls": the shipped site file itself (conf/nginx/wecom.conf), with only
//   its paths and ports replaced (certificate: self-signed, made here;
//   logs: the test's directory; listen 80/443: free ports; upstream: the
//   test's Kore), checked with nginx -t and then run over TLS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import * as ng from './nginx.mjs';

const SKIP = ng.nginxBinary() ? false : 'nginx not installed (apt-get install nginx)';
const OPENSSL = spawnSync('sh', ['-c', 'command -v openssl'], { encoding: 'utf8' }).stdout.trim();

// The secrets: fresh each run, so that nothing left over can match.
const rnd = () => h.randomAlnum(20);
const SECRET = `pushkey${rnd()}`;	// a push API key: [apikey monitoring]
const WRONGKEY = `wrongkey${rnd()}`;	// a push key Kore does not know
const RELAYKEY = `relaykey${rnd()}`;	// [relay] key
const SECRETX = `corpsecret${rnd()}`;	// a corpsecret WeCom refuses
const TOKENX = `token${rnd()}`;		// an access token WeCom refuses
const ROBOTKEY = `robot-${rnd()}`;	// a group robot's webhook key
const APPSECRET = 'app-secret-1';	// the fake's app secret
const secrets = { SECRET, WRONGKEY, RELAYKEY, SECRETX, TOKENX, ROBOTKEY, APPSECRET };

// What the shipped site file sets for its logs: the plain server logs the
// same way. nginx's default level is "error", its default format
// "combined" (the whole request line).
const SITE_FILE = join(ng.CONF_DIR, 'wecom.conf');
const SITE = readFileSync(SITE_FILE, 'utf8');
const directives = (name) => [...SITE.matchAll(new RegExp(`^[ \\t]*${name}[ \\t]+([^;]*);`, 'gm'))]
  .map((m) => m[1].trim().split(/\s+/));
const LEVELS = ['debug', 'info', 'notice', 'warn', 'error', 'crit', 'alert', 'emerg'];
const ERROR_LEVEL = directives('error_log').map((a) => a[1] ?? 'error')
  .sort((a, b) => LEVELS.indexOf(a) - LEVELS.indexOf(b))[0] ?? 'error';
const ACCESS_FORMATS = [...new Set(directives('access_log').map((a) => a[1] ?? 'combined'))];

let srv, fake, plain, tls, dir, tlsDir;
const tlsSkip = SKIP || (OPENSSL ? false : 'openssl not installed: no certificate for the TLS server');
let v6 = false;

before(async () => {
  if (SKIP) return;
  fake = await startFake();
  srv = await h.startServer({
    workers: 2, apiBase: fake.base, globalExtra: `
[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = ${APPSECRET}

[apikey monitoring]
key = ${SECRET}
app = ops
to = zhangsan

[relay]
key = ${RELAYKEY}
allow = 127.0.0.2/32
corpids = ${CORPID}
`,
  });
  dir = ng.nginxDir();
  plain = await ng.startNginx(dir, ([port]) => `${ng.mainConf(dir)}
http {
${ng.httpCommon(dir)}
	include snippets/wecom-log.conf;

	upstream wecom_kore {
		server 127.0.0.1:${srv.port};
		keepalive 4;
	}

	server {
		listen 127.0.0.1:${port};
		server_name bot.example.com;
		access_log ${dir}/logs/wecom.access.log ${ACCESS_FORMATS[0] ?? 'combined'};
		error_log ${dir}/logs/wecom.error.log ${ERROR_LEVEL};
		include snippets/wecom-proxy.conf;
	}
}
`, { probe: async ([port]) => (await call(port, { path: '/__ready__' })).status === 404 });
  v6 = await ng.canBind('::1');
});

after(async (t) => {
  if (SKIP) return;
  for (const n of [plain, tls]) if (n) await n.stop();
  if (srv) await srv.stop();
  if (fake) await fake.close();
  // WECOM_NGINX_KEEP=1 keeps the directories (configs, logs) to look at.
  if (process.env.WECOM_NGINX_KEEP) {
    t.diagnostic(`kept ${dir} ${tlsDir ?? ''}`);
  } else {
    for (const d of [dir, tlsDir]) if (d) rmSync(d, { recursive: true, force: true });
  }
});

// One request, a fresh connection each: { status, headers, text, json }.
function call(port, { method = 'GET', path, body, headers = {}, localAddress, tls: overTls = false, timeout = 20000 } = {}) {
  return new Promise((res, rej) => {
    const hd = { host: 'bot.example.com', ...headers };
    if (body !== undefined && hd['content-length'] === undefined) hd['content-length'] = Buffer.byteLength(body);
    const opts = { host: '127.0.0.1', port, method, path, headers: hd, agent: false, localAddress };
    const mod = overTls ? https : http;
    if (overTls) Object.assign(opts, { servername: 'bot.example.com', rejectUnauthorized: false });
    const req = mod.request(opts, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        res({ status: resp.statusCode, headers: resp.headers, text, json });
      });
      resp.on('error', rej);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
    req.on('error', rej);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// The status line of a raw request (headers only, no body sent).
function rawStatus(port, text) {
  return new Promise((res, rej) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    const t = setTimeout(() => { s.destroy(); rej(new Error('raw: timeout')); }, 10000);
    s.on('data', (d) => {
      buf += d;
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
      if (m) { clearTimeout(t); s.destroy(); res(Number(m[1])); }
    });
    s.on('error', (e) => { clearTimeout(t); rej(e); });
    s.write(text);
  });
}

// Kore's JSON answer (the push API, the relay), not an nginx error page.
function fromKore(r, what) {
  assert.ok(r.json && typeof r.json === 'object', `${what}: Kore's JSON, got ${r.status} ${r.text.slice(0, 200)}`);
  assert.match(r.headers['content-type'] ?? '', /application\/json/, `${what}: content-type`);
  return r.json;
}

const fakeGet = async (what) => (await fetch(`${fake.url}/_fake/${what}`)).json();

const SAMPLE = h.SAMPLE;
const MSG = JSON.stringify({ touser: 'lisi', msgtype: 'text', agentid: 1000002, text: { content: 'via nginx' } });
const JSONH = { 'content-type': 'application/json' };
const ALERT = JSON.stringify({
  version: '4', status: 'firing', receiver: 'wecom', groupKey: '{}:{alertname="DiskFull"}',
  groupLabels: { alertname: 'DiskFull' }, commonLabels: { alertname: 'DiskFull' },
  commonAnnotations: {}, externalURL: 'http://am:9093', truncatedAlerts: 0,
  alerts: [{
    status: 'firing', labels: { alertname: 'DiskFull', instance: 'db1:9100' },
    annotations: { summary: 'Disk almost full' }, startsAt: '2026-11-22T10:00:00Z',
    endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prom/graph', fingerprint: 'abc',
  }],
});

// The requests every instance gets, with what Kore must answer; go(x)
// sends x to one instance.

// A callback: Tencent's sample URL verification, and its sample POST.
async function callbacks(go) {
  let r = await go({ path: `/wecom/echo?${SAMPLE.verifyQuery}` });
  assert.equal(r.status, 200, 'URL verification');
  assert.equal(r.text, SAMPLE.verifyAnswer, 'Kore decrypted the echostr');
  r = await go({ method: 'POST', path: `/wecom/echo?${SAMPLE.postQuery}`, body: SAMPLE.postBody });
  assert.equal(r.status, 200, 'callback POST');
  assert.ok(h.openReply(srv.apps.echo, r.text), 'an encrypted reply from the echo app');
}

async function pushApi(go) {
  let r = await go({ method: 'POST', path: '/api/v1/send', body: JSON.stringify({ content: 'via nginx' }),
    headers: { ...JSONH, authorization: `Bearer ${SECRET}` } });
  assert.equal(r.status, 200, `/api/v1/send: ${r.text}`);
  assert.equal(fromKore(r, '/api/v1/send').message, 'sent');
  assert.ok((await fakeGet('messages')).some((m) => m.msgid === r.json.msgid), 'it reached WeCom');
  r = await go({ path: `/sendmsg?key=${SECRET}&to=lisi&content=backup+done` });
  assert.equal(r.status, 200, `/sendmsg: ${r.text}`);
  assert.equal(fromKore(r, '/sendmsg').code, 0);
  r = await go({ method: 'POST', path: '/api/v1/alertmanager?to=wangwu', body: ALERT,
    headers: { ...JSONH, 'x-api-key': SECRET } });
  assert.equal(r.status, 200, `/api/v1/alertmanager: ${r.text}`);
  assert.equal(fromKore(r, '/api/v1/alertmanager').code, 0);
  r = await go({ path: `/sendmsg?key=${WRONGKEY}&content=x` });
  assert.equal(r.status, 401, '/sendmsg with an unknown key');
  assert.equal(fromKore(r, '/sendmsg 401').code, 401);
}

// The relay, with the key in the path.
async function relay(go) {
  // A secret of no [app]: Kore refuses it as WeCom would (40001).
  let r = await go({ path: `/relay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}` });
  assert.equal(fromKore(r, 'relayed gettoken').errcode, 40001, `relayed gettoken, a wrong secret: ${r.text}`);
  r = await go({ path: `/relay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${APPSECRET}` });
  const tok = fromKore(r, 'relayed gettoken').access_token;
  assert.ok(tok, `a token: ${r.text}`);
  secrets[`token ${tok}`] = tok;
  r = await go({ method: 'POST', path: `/relay/${RELAYKEY}/cgi-bin/message/send?access_token=${tok}`, body: MSG, headers: JSONH });
  assert.equal(fromKore(r, 'relayed message/send').errcode, 0, r.text);
  r = await go({ method: 'POST', path: `/relay/${RELAYKEY}/cgi-bin/webhook/send?key=${ROBOTKEY}`,
    body: JSON.stringify({ msgtype: 'text', text: { content: 'robot via nginx' } }), headers: JSONH });
  assert.equal(fromKore(r, 'relayed webhook/send').errcode, 0, r.text);
  assert.ok(fake.state.robotSent.get(ROBOTKEY)?.length >= 1, 'the robot got it');
}

// /cgi-bin/… without a key: only from [relay] allow (127.0.0.2), which
// Kore knows only from the X-Real-IP nginx sets. A client's own
// X-Real-IP is replaced.
async function realIp(go) {
  let r = await go({ method: 'POST', path: `/cgi-bin/message/send?access_token=${TOKENX}`, body: MSG,
    headers: { ...JSONH, 'x-real-ip': '127.0.0.2' } });
  assert.equal(r.status, 403, 'from 127.0.0.1, whatever X-Real-IP it sends');
  assert.match(fromKore(r, '/cgi-bin/ 403').errmsg, /relay key/);
  r = await go({ method: 'POST', path: `/cgi-bin/message/send?access_token=${TOKENX}`, body: MSG,
    headers: JSONH, localAddress: '127.0.0.2' });
  assert.equal(r.status, 200, `from 127.0.0.2: ${r.text}`);
  assert.equal(fromKore(r, '/cgi-bin/message/send').errcode, 40014, 'WeCom\'s answer to TOKENX');
  r = await go({ path: `/sendmsg?key=${WRONGKEY}&content=from2`, localAddress: '127.0.0.2' });
  assert.equal(r.status, 401);
  const seen = await h.waitLog(srv, /127\.0\.0\.2 via 127\.0\.0\.1 GET \/sendmsg: 401/);
  assert.equal(seen.length >= 1, true, 'Kore logged the client nginx named in X-Real-IP');
}

async function refusedByNginx(go) {
  for (const path of ['/metrics', '/healthz', `/metrics?key=${SECRET}`, '//metrics', '/wecom/../healthz']) {
    const r = await go({ path });
    assert.equal(r.status, 403, `${path} through nginx`);
    assert.match(r.text, /<center>nginx/, `${path}: nginx's own page`);
  }
  const r = await go({ path: `/elsewhere?key=${SECRET}` });
  assert.equal(r.status, 404, 'a path the README does not document');
  assert.match(r.text, /<center>nginx/);
}

// Live events: a WebSocket through nginx (the upgrade passed on),
// authenticated by the push key, gets the sample callback, sent through
// nginx too.
async function liveEvents(url, go, wsOpts = {}) {
  const ws = new WebSocket(url, { headers: { authorization: `Bearer ${SECRET}` }, ...wsOpts });
  const msgs = [];
  let status = null;
  ws.on('message', (d) => msgs.push(JSON.parse(d.toString())));
  ws.on('unexpected-response', (req, resp) => { status = resp.statusCode; resp.resume(); });
  ws.on('error', () => {});
  const closed = new Promise((r) => ws.on('close', r));
  const until = async (what, pred) => {
    for (let i = 0; i < 300 && status === null; i++) {
      const m = msgs.find(pred);
      if (m) return m;
      await h.sleep(10);
    }
    return assert.fail(`${url}: no ${what} (status ${status}): ${JSON.stringify(msgs)}`);
  };
  assert.deepEqual(await until('AuthCheckResult', (m) => m.type === 'AuthCheckResult'),
    { type: 'AuthCheckResult', retCode: 0 });
  const r = await go({ method: 'POST', path: `/wecom/echo?${SAMPLE.postQuery}`, body: SAMPLE.postBody });
  assert.equal(r.status, 200, 'callback POST');
  const ev = await until('event', (m) => m.type === 'message' && m.app === 'echo');
  assert.equal(ev.channel, 'app');
  assert.equal(ev.fields.ToUserName, SAMPLE.corpid);
  ws.close();
  await closed;
}

const viaPlain = (x) => call(plain.ports[0], x);

test('a callback: Tencent\'s sample URL verification and its POST reach Kore', { skip: SKIP }, async () => {
  await callbacks(viaPlain);
});

test('the push API: /api/v1/send, /api/v1/alertmanager and /sendmsg reach Kore', { skip: SKIP }, async () => {
  await pushApi(viaPlain);
  const lines = await h.waitLog(srv, /GET \/sendmsg: 401/);
  assert.ok(lines.some((l) => / 127\.0\.0\.1 via 127\.0\.0\.1 GET \/sendmsg: 401/.test(l)),
    `Kore's own log line for the 401:\n${lines.join('\n')}`);
});

test('live events: a WebSocket upgrade on /api/v1/events passes nginx and gets a callback', { skip: SKIP }, async () => {
  await liveEvents(`ws://127.0.0.1:${plain.ports[0]}/api/v1/events`, viaPlain);
});

test('the relay: /relay/KEY/cgi-bin/… reaches Kore', { skip: SKIP }, async () => {
  await relay(viaPlain);
});

test('/cgi-bin/… from a [relay] allow network: Kore gets the client in X-Real-IP, never the client\'s own', { skip: SKIP }, async () => {
  await realIp(viaPlain);
});

test('/metrics and /healthz are refused by nginx (Kore would answer them); other paths are 404', { skip: SKIP }, async () => {
  const direct = await h.request(srv, { path: '/metrics' });
  assert.equal(direct.status, 200, 'Kore answers a peer 127.0.0.1, as every proxied request is');
  await refusedByNginx(viaPlain);
});

test('odd spellings of /relay/KEY/ are nginx\'s 404: the key reaches no log, Kore\'s neither', { skip: SKIP }, async () => {
  for (const path of [`//relay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}`,
    `/x/../relay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}`,
    `/%72elay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}`,
    `/RELAY/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}`]) {
    const r = await viaPlain({ path });
    assert.equal(r.status, 404, path);
    assert.match(r.text, /<center>nginx/, `${path}: nginx's own page`);
  }
  await h.sleep(200);
  assert.ok(!srv.log().includes(RELAYKEY), 'the relay key is in none of Kore\'s log lines');
});

test('a body over client_max_body_size is refused by nginx before Kore', { skip: SKIP }, async () => {
  const st = await rawStatus(plain.ports[0], `POST /sendmsg?key=${SECRET}&content=big HTTP/1.1\r\n` +
    'Host: bot.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n' +
    'Content-Length: 2000000\r\n\r\n');
  assert.equal(st, 413);
});

test('the shipped site file: nginx -t passes; served over TLS, the port-80 server redirects', { skip: tlsSkip }, async () => {
  tlsDir = ng.nginxDir('wecom-nginx-tls-');
  mkdirSync(join(tlsDir, 'tls'));
  const cert = spawnSync(OPENSSL, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '2', '-subj', '/CN=bot.example.com', '-keyout', join(tlsDir, 'tls', 'privkey.pem'),
    '-out', join(tlsDir, 'tls', 'fullchain.pem')], { encoding: 'utf8' });
  assert.equal(cert.status, 0, `openssl: ${cert.stderr}`);

  // The site file with its paths and ports replaced, nothing else.
  const site = (p80, p443) => {
    const subs = [
      [/\/etc\/letsencrypt\/live\/bot\.example\.com\//g, `${tlsDir}/tls/`],
      [/\/var\/log\/nginx\//g, `${tlsDir}/logs/`],
      [/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${p80};`],
      [/^(\s*)listen 443 ssl;/m, `$1listen 127.0.0.1:${p443} ssl;`],
      [/^(\s*)listen \[::\]:80;/m, v6 ? `$1listen [::1]:${p80};` : '$1# (no IPv6 here)'],
      [/^(\s*)listen \[::\]:443 ssl;/m, v6 ? `$1listen [::1]:${p443} ssl;` : '$1# (no IPv6 here)'],
      [/server 127\.0\.0\.1:8888;/, `server 127.0.0.1:${srv.port};`],
    ];
    let s = SITE;
    for (const [re, to] of subs) {
      assert.match(s, re, `the site file has ${re}`);
      s = s.replace(re, to);
    }
    writeFileSync(join(tlsDir, 'site.conf'), s);
    return `${ng.mainConf(tlsDir)}
http {
${ng.httpCommon(tlsDir)}
	include ${tlsDir}/site.conf;
}
`;
  };

  // nginx -t binds the listen addresses too (then lets them go).
  const t = ng.nginxTest(tlsDir, site(await ng.freePort(), await ng.freePort()));
  assert.equal(t.status, 0, `nginx -t:\n${t.output}`);
  assert.match(t.output, /test is successful/);

  tls = await ng.startNginx(tlsDir, ([p80, p443]) => site(p80, p443), {
    ports: 2,
    probe: async ([, p443]) => (await call(p443, { path: '/__ready__', tls: true })).status === 404,
  });
  const [p80, p443] = tls.ports;
  const viaTls = (x) => call(p443, { ...x, tls: true });
  await callbacks(viaTls);
  await pushApi(viaTls);
  await relay(viaTls);
  await realIp(viaTls);
  await refusedByNginx(viaTls);
  await liveEvents(`wss://127.0.0.1:${p443}/api/v1/events`, viaTls,
    { servername: 'bot.example.com', rejectUnauthorized: false });
  const r = await call(p80, { path: `/sendmsg?key=${SECRET}&content=x` });
  assert.equal(r.status, 301, 'plain HTTP is redirected');
  assert.equal(r.headers.location, `https://bot.example.com/sendmsg?key=${SECRET}&content=x`);
  const hsts = await call(p443, { path: '/__hsts__', tls: true });
  assert.equal(hsts.headers['strict-transport-security'], 'max-age=31536000');
});

// Kore goes down the hard way: SIGKILL to its process group, parent and
// workers at once, as in a crash. (A SIGTERM to the parent alone left the
// ASan build's workers spinning, orphaned; a SIGTERM to the group now and
// then races the parent's own shutdown.)
async function killKore() {
  const c = srv.child;
  if (c.exitCode === null && c.signalCode === null) {
    const exited = new Promise((r) => c.once('exit', r));
    try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
    await exited;
  }
  // Its workers are gone with it: nothing answers on the port any more.
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((r) => {
      const sock = net.connect(srv.port, '127.0.0.1');
      sock.on('connect', () => { sock.destroy(); r(true); });
      sock.on('error', () => r(false));
    });
    if (!up) return;
    await h.sleep(20);
  }
  assert.fail(`something still listens on Kore's port ${srv.port}`);
}

test('with Kore down nginx answers 502', { skip: SKIP }, async () => {
  await killKore();
  const got = [];
  for (const [port, overTls] of [[plain.ports[0], false], ...(tls ? [[tls.ports[1], true]] : [])]) {
    for (const path of [`/sendmsg?key=${SECRET}&content=x`,
      `/relay/${RELAYKEY}/cgi-bin/gettoken?corpid=${CORPID}&corpsecret=${SECRETX}`,
      `/cgi-bin/message/send?access_token=${TOKENX}`]) {
      got.push(`${(await call(port, { path, tls: overTls })).status} ${overTls ? 'tls' : 'plain'} ${path}`);
    }
  }
  assert.deepEqual(got.filter((l) => !l.startsWith('502 ')), [], 'every one a 502');
});

// The instances that ran: [nginx, its directory, over TLS].
const instances = () => [[plain, dir, false], ...(tls ? [[tls, tlsDir, true]] : [])];

// One worker writes its lines in order: once the last request's is there,
// every earlier one is.
async function flushed(n, d, overTls) {
  await call(overTls ? n.ports[1] : n.ports[0], { path: '/__last__', tls: overTls });
  const file = join(d, 'logs', 'wecom.access.log');
  for (let i = 0; i < 100; i++) {
    if (existsSync(file) && readFileSync(file, 'utf8').includes('/__last__')) break;
    await h.sleep(30);
  }
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

test('no secret in any nginx log: access, error, http-level, start-up', { skip: SKIP }, async () => {
  for (const [n, d, overTls] of instances()) await flushed(n, d, overTls);
  const leaks = [];
  for (const [, d] of instances()) {
    for (const f of ['wecom.access.log', 'wecom.error.log', 'main.access.log', 'main.error.log', 'startup.log']) {
      const p = join(d, 'logs', f);
      if (!existsSync(p)) continue;
      const text = readFileSync(p, 'utf8');
      for (const [name, value] of Object.entries(secrets)) {
        const lines = text.split('\n').filter((l) => l.includes(value));
        if (lines.length) leaks.push(`${name} in ${p} (${lines.length}×): ${lines[0]}`);
      }
    }
  }
  assert.equal(leaks.length, 0, `secrets in nginx's logs:\n${leaks.join('\n')}`);
});

test('the access log has every request, the relay key and queries redacted', { skip: SKIP }, async () => {
  for (const [n, d, overTls] of instances()) {
    const text = await flushed(n, d, overTls);
    const missing = [
      /"GET \/wecom\/echo\?\* HTTP\/1\.1" 200 /,
      /"POST \/api\/v1\/send HTTP\/1\.1" 200 /,
      /"GET \/sendmsg\?\* HTTP\/1\.1" 200 /,
      /"POST \/api\/v1\/alertmanager\?\* HTTP\/1\.1" 200 /,
      /"GET \/relay\/\*\/cgi-bin\/gettoken\?\* HTTP\/1\.1" 200 /,
      /"POST \/relay\/\*\/cgi-bin\/webhook\/send\?\* HTTP\/1\.1" 200 /,
      /"POST \/cgi-bin\/message\/send\?\* HTTP\/1\.1" 403 /,
      /"GET \/metrics\?\* HTTP\/1\.1" 403 /,
      /"GET \/sendmsg\?\* HTTP\/1\.1" 502 /,
    ].filter((re) => !re.test(text));
    assert.deepEqual(missing, [], `${d}/logs/wecom.access.log:\n${text}`);
    const main = join(d, 'logs', 'main.access.log');
    assert.equal(existsSync(main) ? readFileSync(main, 'utf8') : '', '', 'nothing in the http-level access log');
  }
});
