// SPDX-License-Identifier: ISC
// Shared by the outbox tests: the client tests' fake WeCom and config,
// plus a look at <state_dir>/outbox/ and drainers that can be killed.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setup as clientSetup, WECOM_SEND } from '../client/helpers.mjs';

export { WECOM_SEND };
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A fake WeCom, a config, and fast backoff for tests.
export async function setup({ env = {}, ...opts } = {}) {
  const t = await clientSetup(opts);
  Object.assign(t.env, { WECOM_OUTBOX_BACKOFF_MS: '200', WECOM_RETRY_BASE_MS: '20',
    WECOM_RETRY_MAX_MS: '1000' }, env);
  // No stdin for wecom-send unless given: a pipe it never reads could
  // fail with EPIPE once it has exited.
  t.send = (args, { input, env: more } = {}) => new Promise((resolve, reject) => {
    const p = spawn(WECOM_SEND, ['-c', t.conf, ...args], { env: { ...t.env, ...more },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    if (input !== undefined) {
      p.stdin.on('error', () => {});
      p.stdin.end(input);
    }
  });
  t.outbox = path.join(t.state, 'outbox');
  t.files = (sub) => {
    try {
      return fs.readdirSync(path.join(t.outbox, sub)).filter((f) => !f.startsWith('.')).sort();
    } catch (e) {
      if (e.code === 'ENOENT') return [];
      throw e;
    }
  };
  t.record = (sub, key) => JSON.parse(fs.readFileSync(path.join(t.outbox, sub, key), 'utf8'));
  t.spool = async (args, more) => {
    const r = await t.send(['--spool', ...args], more);
    return { ...r, key: r.stdout.trim() };
  };
  t.flush = (args = [], more) => t.send(['--flush', ...args], more);
  t.config = (body) => t.control('config', body);
  t.stats = () => t.control('stats');
  // A drainer we may kill: { child, done: Promise<{code, signal, stdout, stderr}> }.
  t.drainer = (args = []) => {
    const child = spawn(WECOM_SEND, ['-c', t.conf, '--flush', ...args],
      { env: t.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const done = new Promise((resolve) => child.on('close',
      (code, signal) => resolve({ code, signal, stdout, stderr })));
    return { child, done };
  };
  return t;
}

// The message/send deliveries the fake recorded, by text content.
export async function deliveries(t) {
  const msgs = (await t.messages()).filter((m) => m.api === 'message/send');
  const count = new Map();
  for (const m of msgs) {
    if (m.duplicate) continue;
    const c = m.body.text?.content ?? JSON.stringify(m.body);
    count.set(c, (count.get(c) || 0) + 1);
  }
  return { count, absorbed: msgs.filter((m) => m.duplicate).length };
}

// Runs jobs with at most `width` at once.
export async function parallel(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}
