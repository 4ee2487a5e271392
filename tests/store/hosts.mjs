// SPDX-License-Identifier: ISC
// Two "hosts" for wecom-send (two state directories) sharing one store:
// tests/client/helpers.mjs's setup, its config given `store` (and any
// other [global] lines), and a second config that differs only in its
// state_dir.
import fs from 'node:fs';
import path from 'node:path';
import { setup, run, WECOM_SEND } from '../client/helpers.mjs';

export async function twoHosts(pg, globalExtra = '') {
  const t = await setup();
  // Fifty tools connecting at once on a loaded 2-core machine: a longer
  // connect timeout than the default 3 s, lest one fall back to files.
  const conf = fs.readFileSync(t.conf, 'utf8')
    .replace('[global]\n', `[global]\nstore = ${pg.url}?connect_timeout=10\n${globalExtra}`);
  fs.writeFileSync(t.conf, conf);
  const confB = path.join(t.dir, 'b.conf');
  fs.writeFileSync(confB, conf.replace(/^state_dir = .*$/m, `state_dir = ${t.dir}/state-b`));
  return {
    t, confB,
    sendA: (args, env) => run(WECOM_SEND, ['-c', t.conf, ...args], { env: { ...t.env, ...env } }),
    sendB: (args, env) => run(WECOM_SEND, ['-c', confB, ...args], { env: { ...t.env, ...env } }),
  };
}

// A teardown step that must not hang the run: done, or given up on after
// ms (what it stops is killed at exit by its own reaper).
export function within(p, ms) {
  return Promise.race([p, new Promise((r) => setTimeout(r, ms).unref())]);
}
