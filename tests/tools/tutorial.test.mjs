// SPDX-License-Identifier: ISC
// The README's "Your first bot in ten minutes", step by step, as far as
// a machine without WeCom allows: the demo config, wecom-admin making a
// long-connection bot and an app, the server started on that config.
// The one change: the bot dials the local fake of WeCom's bot server
// (ws_url), since openws.work.weixin.qq.com is out of reach here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, statSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, stopAndCheck, request, ROOT } from '../callback/harness.mjs';
import { startAibot, textMsg } from '../fake_aibot/server.mjs';

const BUILD = join(ROOT, process.env.BUILD ?? 'build');
let dir, conf, fake, srv;

function admin(args) {
  return new Promise((resolve) => {
    execFile(join(BUILD, 'wecom-admin'), ['-c', conf, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wecom-tutorial-'));
  conf = join(dir, 'wecom.conf');
  // The demo's config, with its state kept here.
  writeFileSync(conf, readFileSync(join(ROOT, 'conf', 'wecom.conf'), 'utf8')
    .replace(/^state_dir\s*=.*$/m, `state_dir = ${dir}`));
  fake = await startAibot({ bots: { aibTUTORIAL: 'pasted-secret' } });
});
after(async () => {
  if (srv) await stopAndCheck(srv);
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

test('A: new-aibot asks for the Secret first (exit 75, an empty 0600 file)', async () => {
  const r = await admin(['new-aibot', 'helper', '--bot-id', 'aibTUTORIAL']);
  assert.equal(r.code, 75, r.stdout + r.stderr);
  const f = join(dir, 'secrets', 'helper.secret');
  assert.ok(existsSync(f));
  assert.equal(statSync(f).mode & 0o777, 0o600);
  assert.doesNotMatch(readFileSync(conf, 'utf8'), /\[aibot helper\]/, 'the config is untouched');
  writeFileSync(f, 'pasted-secret\n');
  const again = await admin(['new-aibot', 'helper', '--bot-id', 'aibTUTORIAL']);
  assert.equal(again.code, 0, again.stdout + again.stderr);
  assert.match(readFileSync(conf, 'utf8'), /\[aibot helper\][^[]*handler = echo/);
});

test('B: new-app prints what to paste into the console', async () => {
  const r = await admin(['new-app', 'desk', '--agentid', '1000002', '--corpid', 'wx5823bf96d3bd56c7',
    '--url', 'https://bot.example.com']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /https:\/\/bot\.example\.com\/wecom\/desk/);
  assert.match(r.stdout, /Token[^\n]*[A-Za-z0-9]{32}/);
  assert.match(r.stdout, /EncodingAESKey[^\n]*[A-Za-z0-9]{43}/);
});

test('make run on that config: the bot answers over its long connection', async () => {
  // The only change to the tutorial: WeCom's bot server is the local fake.
  writeFileSync(conf, readFileSync(conf, 'utf8').replace(/(\[aibot helper\]\n)/, `$1ws_url = ${fake.url}\n`));
  srv = await startServer({ confFile: conf });
  await fake.waitConnected('aibTUTORIAL', 1, 10000);
  const req = fake.send('aibTUTORIAL', textMsg({ content: 'hello from the tutorial' }));
  const f = await fake.waitFrame((x) => x.json?.headers?.req_id === req && x.json.cmd, 5000);
  assert.equal(f.json.body.stream.content, 'hello from the tutorial');
  const h = await request(srv, { path: '/healthz' });
  assert.match(h.text, /aibot helper: websocket connected since/);
  assert.deepEqual(fake.errors, []);
});

test('wecom-admin callback desk "hello": the app answers', async () => {
  const r = await admin(['callback', 'desk', 'hello', '--url', `http://127.0.0.1:${srv.port}`]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /hello/);
});
