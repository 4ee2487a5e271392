// SPDX-License-Identifier: ISC
// docs/api.md's curl examples (the message log, contacts), run as they
// are printed against the real server — only the host is this one and
// $KEY a key of its config — each answering JSON.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const KEY = 'docs-key-0123456789abcdef';
let srv, fake;

// Every curl command of the doc's sh blocks, continuation lines joined.
function curls() {
  const doc = readFileSync(join(h.ROOT, 'docs', 'api.md'), 'utf8');
  const out = [];
  for (const m of doc.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const lines = m[1].replace(/\\\n\s*/g, ' ').split('\n');
    for (const l of lines) if (/^curl /.test(l)) out.push(l.replace(/\s+#.*$/, ''));
  }
  return out;
}

before(async () => {
  fake = await startFake();
  srv = await h.startServer({
    apiBase: fake.base,
    apps: [
      { name: 'ops', handler: 'echo', corpid: CORPID, agentid: 1000002, extra: 'log = yes\n' },
      { name: 'sales', handler: 'echo', corpid: CORPID, agentid: 1000003,
        extra: 'secret = app-secret-1\ncontacts = yes\n' },
    ],
    sections: `[apikey docs]\nkey = ${KEY}\n`,
  });
});
after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
});

test('every curl example of docs/api.md answers JSON', async () => {
  const cmds = curls();
  assert.ok(cmds.length >= 6, `${cmds.length} curl examples`);
  const base = `http://127.0.0.1:${srv.port}`;
  // The first refresh of the contacts cache comes soon after start.
  for (let i = 0; i < 100; i++) {
    const r = await h.request(srv, { path: '/api/v1/users', headers: { authorization: `Bearer ${KEY}` } });
    if (r.status === 200) break;
    await h.sleep(100);
  }
  for (const c of cmds) {
    const cmd = `B=${base}/api/v1; ${c}`.replaceAll('https://bot.example.com', base)
      .replaceAll('https://wecom.example.com', base);
    const r = await new Promise((resolve) => execFile('sh', ['-c', `${cmd} -sS -w '\\n%{http_code}'`],
      { env: { ...process.env, KEY } }, (err, stdout, stderr) => resolve({ err, stdout, stderr })));
    assert.equal(r.err, null, `${c}\n${r.stderr}`);
    const lines = r.stdout.trimEnd().split('\n');
    const status = Number(lines.pop());
    const body = lines.join('\n');
    assert.ok(status === 200, `${c} → ${status} ${body}`);
    assert.doesNotThrow(() => JSON.parse(body), `${c} answers JSON: ${body.slice(0, 200)}`);
  }
});
