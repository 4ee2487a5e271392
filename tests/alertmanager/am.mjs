// SPDX-License-Identifier: ISC
// Runs a real Prometheus Alertmanager (Debian 12 package
// prometheus-alertmanager, 0.25.0) with a wechat_configs receiver whose
// api_url we choose, so a test can fire alerts and watch what arrives.
//
// What Alertmanager 0.25.0's WeChat notifier (notify/wechat/wechat.go)
// does, observed against the Debian binary (0.25.0-1+b4):
//
// - api_url: default https://qyapi.weixin.qq.com/cgi-bin/ (global
//   wechat_api_url). Config loading appends '/' to its path when missing
//   (".../cgi-bin" works), then "gettoken" / "message/send" are appended
//   to the path. A query string in api_url is dropped for gettoken and
//   kept for message/send (merged, keys sorted: access_token=..&x=1).
// - Token: GET {api_url}gettoken?corpid=<corp_id>&corpsecret=<api_secret>
//   (url-encoded, keys sorted), User-Agent "Alertmanager/0.25.0", no body.
//   The HTTP status is NOT checked; the body is decoded as JSON and only
//   "access_token" is read (errcode, errmsg, expires_in ignored). Missing or
//   empty access_token → "invalid APISecret for CorpID: <corp_id>",
//   not retried; body not JSON → not retried; connection error → retried.
// - Token cache: in memory, per notifier, for 2 h after the fetch
//   (expires_in ignored); a config reload starts with no token.
// - Send: POST {api_url}message/send?access_token=<token>, Content-Type
//   application/json, body from Go's json.Encoder (trailing "\n"):
//     {"text":{"content":"..."},"touser":"zhangsan","agentid":"1000002",
//      "safe":"0","msgtype":"text","markdown":{"content":""}}
//   agentid and safe are JSON STRINGS. touser/toparty/totag/agentid are
//   left out when empty (to_user, to_party, to_tag, agent_id default to
//   ""). Both "text" and "markdown" objects are always sent; the one not
//   named by msgtype has content "". message_type: "text" (default) or
//   "markdown".
// - Answer: HTTP status != 200 → retried; body not JSON → retried. Then
//   0.25.0 decodes {"code": int, "error": string}, NOT errcode/errmsg, so
//   every WeCom answer (errcode 0, 42001, 40014, 301002, ...) counts as
//   "Notify success": WeCom errcodes are ignored and nothing is retried.
//   Only "code" is acted on: 0/absent → success; 42001 → token dropped,
//   retried (the retry fetches a new token); other → failure, not retried
//   ("error" is the message). (Later releases read errcode/errmsg.)
// - Retries back off (~0.7 s, 1 s, 1.5 s, ...) within one flush, whose
//   deadline is max(group_interval, 10 s). A failed notification is not
//   recorded, so the group tries again at every group_interval.
// - Default message ({{ template "wechat.default.message" . }} in
//   /usr/share/prometheus/alertmanager/default.tmpl), e.g.:
//     [FIRING:1] DiskFull page \n<common annotation values>\nAlerts Firing:
//     \nLabels:\n - alertname = DiskFull\n - severity = page\nAnnotations:
//     \n - summary = ...\nSource: <generatorURL>\n\n\nAlertmanagerUrl:\n
//     http://127.0.0.1:PORT/#/alerts?receiver=wechat
//   With send_resolved (off by default) "[RESOLVED] ..." / "Alerts
//   Resolved:" follows when the alert ends.
//
//   import { startAlertmanager, alertmanagerAvailable } from './am.mjs'
//   const am = await startAlertmanager({ apiUrl, corpId, apiSecret,
//     agentId, toUser, message? })   → { url, port, dir, log(), fire,
//     resolve, stop }

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BINARY = process.env.ALERTMANAGER_BIN || '/usr/bin/prometheus-alertmanager';

export function alertmanagerAvailable() {
  try {
    fs.accessSync(BINARY, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// "alertmanager, version 0.25.0 (branch: ...)" → "0.25.0"
export function alertmanagerVersion() {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+\.\d+\.\d+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : null;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const q = (v) => JSON.stringify(String(v));	// a YAML double-quoted scalar

function configYaml(o) {
  const wc = [
    `send_resolved: ${o.sendResolved !== false}`,
    `api_url: ${q(o.apiUrl)}`,
    `corp_id: ${q(o.corpId)}`,
    `api_secret: ${q(o.apiSecret)}`,
    `agent_id: ${q(o.agentId)}`,
  ];
  if (o.toUser !== undefined) wc.push(`to_user: ${q(o.toUser)}`);
  if (o.toParty !== undefined) wc.push(`to_party: ${q(o.toParty)}`);
  if (o.toTag !== undefined) wc.push(`to_tag: ${q(o.toTag)}`);
  if (o.messageType !== undefined) wc.push(`message_type: ${q(o.messageType)}`);
  if (o.message !== undefined) wc.push(`message: ${q(o.message)}`);
  const groupBy = o.groupBy || ['...'];
  return [
    'global:',
    `  resolve_timeout: ${o.resolveTimeout || '5m'}`,
    'route:',
    '  receiver: wechat',
    `  group_by: [${groupBy.map(q).join(', ')}]`,
    `  group_wait: ${o.groupWait || '0s'}`,
    `  group_interval: ${o.groupInterval || '1s'}`,
    `  repeat_interval: ${o.repeatInterval || '1h'}`,
    'receivers:',
    '  - name: wechat',
    '    wechat_configs:',
    '      - ' + wc.join('\n        '),
    '',
  ].join('\n');
}

async function waitReady(url, child, deadline) {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    try {
      const r = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) });
      if (r.status === 200) return true;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

// opts: { apiUrl, corpId, apiSecret, agentId, toUser, message? } and,
// optionally, toParty, toTag, messageType, sendResolved (default true),
// groupBy (default ['...']: every distinct label set notifies on its own),
// groupWait ('0s'), groupInterval ('1s'), repeatInterval ('1h'),
// resolveTimeout ('5m'), logLevel ('debug'), readyTimeoutMs (15000).
export async function startAlertmanager(opts) {
  if (!alertmanagerAvailable()) throw new Error(`${BINARY} not found`);
  for (const k of ['apiUrl', 'corpId', 'apiSecret', 'agentId'])
    if (opts[k] === undefined) throw new Error(`startAlertmanager: ${k} missing`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'am-'));
  const config = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(config, configYaml(opts));
  fs.mkdirSync(path.join(dir, 'data'));

  let lastErr;
  for (let attempt = 0; attempt < 3; attempt++) {	// the port may be taken meanwhile
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const args = [
      `--config.file=${config}`,
      `--storage.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--web.external-url=${url}`,
      '--cluster.listen-address=',	// no HA gossip: no port 9094, no settle wait
      `--log.level=${opts.logLevel || 'debug'}`,
    ];
    const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (c) => { log = (log + c).slice(-256 * 1024); };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    const exited = new Promise((r) => child.once('close', r));
    const onExit = () => child.kill('SIGKILL');	// never outlive the test
    process.once('exit', onExit);
    const ok = await waitReady(url, child, Date.now() + (opts.readyTimeoutMs || 15000));
    if (!ok) {
      child.kill('SIGKILL');
      await exited;
      process.removeListener('exit', onExit);
      lastErr = new Error(`alertmanager did not become ready on ${url}\n${log}`);
      if (/address already in use/.test(log)) continue;
      break;
    }

    const post = async (alerts) => {
      const r = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (r.status !== 200) throw new Error(`POST /api/v2/alerts: ${r.status} ${await r.text()}`);
    };
    const alert = (labels, annotations, extra) => ({
      labels: { alertname: 'TestAlert', ...labels },
      annotations: { ...annotations },
      startsAt: new Date().toISOString(),
      ...extra,
    });
    let stopped = false;
    return {
      url, port, dir, config, args, child,
      log: () => log,
      // Posts one firing alert (startsAt = now; alertname defaults to TestAlert).
      fire: (labels = {}, annotations = {}, extra = {}) => post([alert(labels, annotations, extra)]),
      // Posts the same alert resolved (endsAt = now): with send_resolved
      // that notifies "[RESOLVED] ..." at the next group_interval.
      resolve: (labels = {}, annotations = {}, startsAt) => {
        const now = new Date();
        return post([alert(labels, annotations, {
          startsAt: startsAt || new Date(now - 60000).toISOString(), endsAt: now.toISOString() })]);
      },
      // Current alerts as Alertmanager sees them (GET /api/v2/alerts).
      alerts: async () => (await fetch(`${url}/api/v2/alerts`)).json(),
      stop: async () => {
        if (!stopped) {
          stopped = true;
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(t);
          }
          process.removeListener('exit', onExit);
          fs.rmSync(dir, { recursive: true, force: true });
        }
      },
    };
  }
  fs.rmSync(dir, { recursive: true, force: true });
  throw lastErr;
}
