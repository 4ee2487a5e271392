// SPDX-License-Identifier: ISC
// Shared by the client integration tests: a fake WeCom per test file, a
// temporary config pointing at it, and wecom-send runs that never block
// the event loop the fake lives in.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
export const WECOM_SEND = path.join(BUILD, 'wecom-send');
export const SECRET = 'app-secret-1';
export const SECRET2 = 'app-secret-2';

export async function setup({ secret = SECRET, extra = '', timeoutMs = 8000 } = {}) {
  const fake = await startFake();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wecom-client-'));
  const conf = path.join(dir, 'wecom.conf');
  const state = path.join(dir, 'state');
  fs.writeFileSync(conf, `[global]
api_base = ${fake.base}
state_dir = ${state}
connect_timeout_ms = 1000
timeout_ms = ${timeoutMs}

[app main]
corpid = ${CORPID}
agentid = 1000002
secret = ${secret}
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /wecom/main

[app other]
corpid = ${CORPID}
agentid = 1000003
secret = ${SECRET2}
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /wecom/other

[robot ops]
key = robot-ops-0001
${extra}
`);
  const env = { ...process.env, WECOM_RETRY_BASE_MS: '20', WECOM_RETRY_MAX_MS: '5000' };
  delete env.WECOM_API_BASE;
  delete env.http_proxy; delete env.https_proxy; delete env.HTTP_PROXY; delete env.HTTPS_PROXY;
  const t = {
    fake, dir, conf, state, env,
    // wecom-send with this config; resolves with { code, stdout, stderr }.
    send(args, { input, env: more } = {}) {
      return run(WECOM_SEND, ['-c', conf, ...args], { input, env: { ...env, ...more } });
    },
    async control(name, body) {
      const r = await fetch(`${fake.url}/_fake/${name}`, {
        method: body === undefined ? 'GET' : 'POST',
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return r.json();
    },
    counts: async () => (await t.control('stats')).counts,
    messages: async () => t.control('messages'),
    inject: (spec) => t.control('inject', spec),
    async close() {
      await t.fake.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}

export function run(cmd, args, { input, env } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(input === undefined ? '' : input);
  });
}
