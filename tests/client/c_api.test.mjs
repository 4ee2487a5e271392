// SPDX-License-Identifier: ISC
// The C API (tests/client/test_client_api.c) against the fake WeCom, and
// wecom-send under valgrind when it is installed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, run, ROOT, BUILD, WECOM_SEND } from './helpers.mjs';

let t;
before(async () => { t = await setup(); });
after(async () => { await t.close(); });

test('the C API sends, uploads, chats, recalls, uses robots and reads the directory', async () => {
  const png = path.join(t.dir, 'pic.png');
  fs.writeFileSync(png, Buffer.alloc(64, 1));
  const r = await run(path.join(BUILD, 'tests/client/test_client_api'), [], {
    env: { ...t.env, WECOM_CONF: t.conf, TEST_PNG: png, CMOCKA_MESSAGE_OUTPUT: 'TAP' } });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^1\.\.8$/m);
  assert.doesNotMatch(r.stdout, /^not ok/m);
  const c = await t.counts();
  assert.equal(c.gettoken, 1);
  assert.equal(c['media/uploadimg'], 1);
  assert.equal(c['message/recall'], 1);
  assert.equal(c['webhook/send'], 3);
});

let valgrind = true;
try { execFileSync('valgrind', ['--version']); } catch { valgrind = false; }
// An ASan build cannot run under valgrind.
if (process.env.SANITIZE === '1') valgrind = false;

test('wecom-send has no memory errors or leaks under valgrind', { skip: !valgrind && 'no valgrind' },
  async () => {
    const vg = ['--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite',
      '-q', WECOM_SEND, '-c', t.conf];
    await t.inject({ path: 'message/send', errcode: 40014 });
    for (const args of [['--to', 'zhangsan,ghost', 'x'.repeat(5000)],
      ['--to', 'ghost', 'x'], ['--webhook', 'ops', '--markdown', '**x**'],
      ['--to', 'zhangsan', '--file', path.join(ROOT, 'tests/client/helpers.mjs')]]) {
      const r = await run('valgrind', vg.concat(args), { env: t.env });
      assert.ok(r.code === 0 || r.code === 76, `${args}: ${r.code} ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /==\d+==/, r.stderr);
    }
  });
