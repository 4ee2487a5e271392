// SPDX-License-Identifier: ISC
// wecom-admin, the operator's tool: new-app and new-aibot write sections
// that load and print what the admin console needs (and the real server
// then answers callbacks signed with those very values); check against
// the fake WeCom; callback and status against the real server; the
// outbox's list, retry and drop; one-line usage errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { startFake, CORPID } from '../fake_wecom/server.mjs';
import { run, ROOT, BUILD, WECOM_SEND, SECRET, SECRET2 } from '../client/helpers.mjs';
import { startServer, stopAndCheck, request, buildCallback, openReply, parseXml, xmlView } from '../callback/harness.mjs';
import { callbackBot } from '../aibot/bot.mjs';

const ADMIN = path.join(BUILD, 'wecom-admin');

// The env of every run: no config found by default, no proxy, fast retries.
const env = { ...process.env, WECOM_RETRY_BASE_MS: '20', WECOM_RETRY_MAX_MS: '2000' };
for (const v of ['WECOM_CONF', 'WECOM_API_BASE', 'http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY']) delete env[v];

const admin = (args, o = {}) => run(ADMIN, args, { env: { ...env, ...o.env }, input: o.input });
const send = (conf, args) => run(WECOM_SEND, ['-c', conf, ...args], { env });

let fake, srv, tmp;
const made = {};		// new-app / new-aibot runs made before the server starts

// A config of its own for a test: [global] pointing at the fake.
function conf(name, body = '') {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const file = path.join(dir, 'wecom.conf');
  fs.writeFileSync(file, `[global]\napi_base = ${fake.base}\nstate_dir = ${dir}/state\n` +
    `connect_timeout_ms = 1000\ntimeout_ms = 4000\n${body}`);
  return { dir, file };
}

// The three values new-app prints for the console.
function consoleValues(stdout) {
  const get = (label) => {
    const m = new RegExp(`^  ${label}: +(\\S+)$`, 'm').exec(stdout);
    assert.ok(m, `"${label}:" in\n${stdout}`);
    return m[1];
  };
  return { url: get('URL'), token: get('Token'), aeskey: get('EncodingAESKey') };
}

const mode = (p) => fs.statSync(p).mode & 0o777;

before(async () => {
  // wecom_send.t runs every tests/tools/*.test.mjs with wecom-send built
  // only: build what this file needs (a no-op under `make test`).
  const rel = path.relative(ROOT, BUILD);
  execFileSync('make', ['-s', `BUILD=${rel}`, `SANITIZE=${process.env.SANITIZE ?? '0'}`,
    `${rel}/wecom-admin`, `${rel}/wecom-send`, `${rel}/wecom-test.so`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  fake = await startFake();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wecom-admin-'));

  // An app and a callback-mode bot made by the tool, then served by the
  // real server: their sections are appended to the harness's config.
  made.conf = conf('made', `\n[app main]\ncorpid = ${CORPID}\nagentid = 1000002\nsecret = ${SECRET}\n`);
  made.before = fs.readFileSync(made.conf.file, 'utf8');
  made.app = await admin(['-c', made.conf.file, 'new-app', 'helper', '--agentid', '1000005',
    '--url', 'https://wecom.example.com/']);
  made.bot = await admin(['new-aibot', 'desk', '--mode', 'callback', '-c', made.conf.file]);
  const sections = fs.readFileSync(made.conf.file, 'utf8').slice(made.before.length);
  made.echobot = callbackBot('echobot', 'echo');
  srv = await startServer({ sections: made.echobot.section + sections, apiBase: fake.base });
  srv.conf = path.join(srv.dir, 'wecom.conf');
  srv.base = `http://127.0.0.1:${srv.port}`;
});

after(async () => {
  if (srv) await stopAndCheck(srv);
  if (fake) await fake.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('new-app writes a loadable [app] with 0600 key files and prints the console values', async () => {
  const r = made.app;
  assert.equal(r.code, 0, r.stderr);
  const v = consoleValues(r.stdout);
  assert.equal(v.url, 'https://wecom.example.com/wecom/helper');
  assert.match(v.token, /^[A-Za-z0-9]{32}$/);
  assert.match(v.aeskey, /^[A-Za-z0-9]{43}$/);
  assert.equal(Buffer.from(v.aeskey + '=', 'base64').length, 32);
  assert.match(r.stdout, /^Next steps:$/m);
  assert.match(r.stdout, /^下一步：$/m);
  assert.match(r.stdout, /callback helper "hello"/);

  const secrets = path.join(made.conf.dir, 'secrets');
  assert.equal(mode(secrets), 0o700);
  for (const [f, want] of [['helper.token', v.token], ['helper.aeskey', v.aeskey]]) {
    assert.equal(mode(path.join(secrets, f)), 0o600, f);
    assert.equal(fs.readFileSync(path.join(secrets, f), 'utf8'), want + '\n');
  }
  const text = fs.readFileSync(made.conf.file, 'utf8');
  assert.ok(text.startsWith(made.before), 'the config is only appended to');
  assert.match(text, /^\[app helper\]$/m);
  assert.match(text, new RegExp(`^corpid  = ${CORPID}$`, 'm'), 'the corp of the first [app]');
  assert.match(text, new RegExp(`^token   = file:${secrets}/helper\\.token$`, 'm'));
  assert.match(text, /^path    = \/wecom\/helper$/m);
  assert.ok(!text.includes(v.token) && !text.includes(v.aeskey), 'no secret in the config itself');

  // It loads as the server loads it (check's first step).
  const c = await admin(['-c', made.conf.file, 'check']);
  assert.equal(c.code, 0, c.stdout + c.stderr);
  assert.match(c.stdout, /^app helper: callbacks only/m);
});

test('the printed Token and EncodingAESKey are what the server uses (checked with @wecom/crypto)', async () => {
  const v = consoleValues(made.app.stdout);
  const app = { corpid: CORPID, agentid: 1000005, path: '/wecom/helper', token: v.token, aeskey: v.aeskey };
  const plain = `<xml><ToUserName><![CDATA[${CORPID}]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName>` +
    '<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[via node]]></Content>' +
    '<MsgId>42</MsgId><AgentID>1000005</AgentID></xml>';
  const cb = buildCallback(app, plain);
  const r = await request(srv, { method: 'POST', path: cb.path, body: cb.body });
  assert.equal(r.status, 200, r.text);
  assert.equal(xmlView(parseXml(openReply(app, r.text))).get('Content'), 'via node');
});

test('new-app refuses a section that exists and changes nothing', async () => {
  const before = fs.readFileSync(made.conf.file, 'utf8');
  const token = fs.readFileSync(path.join(made.conf.dir, 'secrets', 'helper.token'), 'utf8');
  const r = await admin(['-c', made.conf.file, 'new-app', 'helper', '--agentid', '7', '--force']);
  assert.equal(r.code, 73, r.stderr);
  assert.match(r.stderr, /has \[app helper\] already; nothing changed/);
  assert.equal(r.stdout, '');
  assert.equal(fs.readFileSync(made.conf.file, 'utf8'), before);
  assert.equal(fs.readFileSync(path.join(made.conf.dir, 'secrets', 'helper.token'), 'utf8'), token);
});

test('new-app keeps key files that exist, unless --force', async () => {
  const c = conf('force', `[app main]\ncorpid = ${CORPID}\nagentid = 1\nsecret = ${SECRET}\n`);
  const dir = path.join(c.dir, 'keys');
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.writeFileSync(path.join(dir, 'ops.token'), 'old-token\n', { mode: 0o600 });
  const before = fs.readFileSync(c.file, 'utf8');
  const args = ['-c', c.file, 'new-app', 'ops', '--agentid', '9', '--secrets-dir', dir];
  const r = await admin(args);
  assert.equal(r.code, 73, r.stderr);
  assert.match(r.stderr, /ops\.token exists.*--force/);
  assert.equal(fs.readFileSync(c.file, 'utf8'), before);
  assert.equal(fs.readFileSync(path.join(dir, 'ops.token'), 'utf8'), 'old-token\n');

  const f = await admin([...args, '--force']);
  assert.equal(f.code, 0, f.stderr);
  assert.equal(fs.readFileSync(path.join(dir, 'ops.token'), 'utf8'), consoleValues(f.stdout).token + '\n');
  assert.equal(mode(path.join(dir, 'ops.token')), 0o600);
});

test('a section the loader refuses is taken back: the config as it was, no key files', async () => {
  const c = conf('refused', `[app main]\ncorpid = ${CORPID}\nagentid = 1\nsecret = ${SECRET}`);	// no final newline
  const before = fs.readFileSync(c.file, 'utf8');
  const r = await admin(['-c', c.file, 'new-app', 'big', '--agentid', '99999999999']);
  assert.equal(r.code, 78, r.stderr);
  assert.match(r.stderr, /\[app big\]: key 'agentid' must be/);
  assert.match(r.stderr, /put back as it was; nothing added/);
  assert.equal(fs.readFileSync(c.file, 'utf8'), before);
  assert.deepEqual(fs.readdirSync(c.dir).filter((f) => f !== 'wecom.conf'), []);
});

test('new-aibot --mode callback: a bot section, keys and console values', async () => {
  const r = made.bot;
  assert.equal(r.code, 0, r.stderr);
  const v = consoleValues(r.stdout);
  assert.equal(v.url, 'https://YOUR.DOMAIN/wecom/desk');
  assert.match(r.stdout, /智能机器人/);
  const text = fs.readFileSync(made.conf.file, 'utf8');
  assert.match(text, /^\[aibot desk\]\nhandler = echo\nmode    = callback\n/m);
  assert.equal(fs.readFileSync(path.join(made.conf.dir, 'secrets', 'desk.aeskey'), 'utf8'), v.aeskey + '\n');
  const c = await admin(['-c', made.conf.file, 'check']);
  assert.match(c.stdout, /^aibot desk: callback at \/wecom\/desk: keys valid$/m);
});

test('new-aibot websocket: says where BotID and Secret come from, then adds the section', async () => {
  const c = conf('ws');
  const before = fs.readFileSync(c.file, 'utf8');
  const secret = path.join(c.dir, 'secrets', 'helper.secret');
  const r = await admin(['-c', c.file, 'new-aibot', 'helper']);
  assert.equal(r.code, 75, r.stderr);
  assert.match(r.stdout, /智能机器人 → 创建机器人/);
  assert.match(r.stdout, /--bot-id BOTID/);
  assert.match(r.stderr, /^wecom-admin: new-aibot: the BotID and the Secret still to get; nothing added$/m);
  assert.equal(fs.readFileSync(c.file, 'utf8'), before, 'the config is untouched');
  assert.equal(fs.readFileSync(secret, 'utf8'), '', 'an empty Secret file to fill');
  assert.equal(mode(secret), 0o600);

  const again = await admin(['-c', c.file, 'new-aibot', 'helper', '--bot-id', 'aibTEST01']);
  assert.equal(again.code, 75, 'the Secret is still empty');
  assert.match(again.stderr, /the Secret still to get/);

  fs.writeFileSync(secret, 'the-long-connection-secret\n');
  const ok = await admin(['-c', c.file, 'new-aibot', 'helper', '--bot-id', 'aibTEST01']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(!ok.stdout.includes('the-long-connection-secret'), 'the Secret is never printed');
  assert.doesNotMatch(ok.stdout, /Token:|EncodingAESKey:/, 'nothing to paste for a long connection');
  const text = fs.readFileSync(c.file, 'utf8');
  assert.match(text, new RegExp(`^\\[aibot helper\\]\\nhandler = echo\\nmode    = websocket\\nbot_id  = aibTEST01\\nsecret  = file:${secret}$`, 'm'));
  const chk = await admin(['-c', c.file, 'check']);
  assert.equal(chk.code, 0, chk.stdout);
  assert.match(chk.stdout, /^aibot helper: websocket: not checked: a second connection would kick the server's$/m);
});

test('new-aibot websocket with --secret-file adds the section at once', async () => {
  const c = conf('wsfile');
  const file = path.join(c.dir, 'bot.secret');
  fs.writeFileSync(file, 'secret\n', { mode: 0o600 });
  const r = await admin(['-c', c.file, 'new-aibot', 'b1', '--bot-id', 'aibB1', '--secret-file', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(fs.readFileSync(c.file, 'utf8'), new RegExp(`^secret  = file:${file}$`, 'm'));
  assert.ok(!fs.existsSync(path.join(c.dir, 'secrets', 'b1.secret')));
  const missing = await admin(['-c', c.file, 'new-aibot', 'b2', '--bot-id', 'x', '--secret-file', `${file}.none`]);
  assert.equal(missing.code, 66);
});

test('check: ok and failing apps, robots and bots; exit 69', async () => {
  const c = conf('check', `
[app good]
corpid = ${CORPID}
agentid = 1000002
secret = ${SECRET}

[app bad]
corpid = ${CORPID}
agentid = 1000003
secret = not-the-secret

[app cbonly]
corpid = ${CORPID}
agentid = 1000004
token = QDG6eK
aeskey = jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C
path = /wecom/cbonly

[robot ops]
key = robot-ops-0001

[aibot ws]
bot_id = aibX
secret = s
${made.echobot.section}`);
  const r = await admin(['check', '-c', c.file]);
  assert.equal(r.code, 69, r.stdout + r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.replace(/ — .*/, ' — …')), [
    'app good: ok',
    'app bad: errcode 40001 — …',
    'app cbonly: callbacks only (no secret: no API calls)',
    'robot ops: configured (a webhook cannot be checked without sending a message)',
    "aibot ws: websocket: not checked: a second connection would kick the server's",
    'aibot echobot: callback at /bot/echobot: keys valid',
  ]);
  assert.match(r.stdout, /^app bad: errcode 40001 — wrong secret/m, 'the client\'s hint');
  assert.doesNotMatch(r.stdout, /not-the-secret/);
});

test('check: every credential good is exit 0; --aibot-connect still leaves the long connection alone', async () => {
  const c = conf('checkok', `[app a]\ncorpid = ${CORPID}\nagentid = 1000002\nsecret = ${SECRET}\n` +
    `[app b]\ncorpid = ${CORPID}\nagentid = 1000003\nsecret = ${SECRET2}\n[aibot w]\nbot_id = aibW\nsecret = s\n`);
  const r = await admin(['-c', c.file, 'check', '--aibot-connect']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^app a: ok\napp b: ok\n/);
  assert.match(r.stdout, /^aibot w: websocket: not checked: .*--aibot-connect: not tried either/m);
});

test('check: a config that does not load is exit 78 with the loader\'s message', async () => {
  const c = conf('broken', '[app x]\ncorpid = ww1\n');
  const r = await admin(['-c', c.file, 'check']);
  assert.equal(r.code, 78);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^wecom-admin: .*wecom\.conf:\d+: \[app x\]: missing key 'agentid'$/m);
  const none = await admin(['-c', path.join(tmp, 'nowhere.conf'), 'check']);
  assert.equal(none.code, 78);
});

test('check run by root writes the token cache as the owner of state_dir', { skip: process.getuid() !== 0 && 'not root' }, async () => {
  const c = conf('owner', `[app a]\ncorpid = ${CORPID}\nagentid = 1000002\nsecret = ${SECRET}\n`);
  const state = path.join(c.dir, 'state');
  fs.mkdirSync(state, { mode: 0o700 });
  fs.chownSync(state, 65534, 65534);
  fs.chmodSync(tmp, 0o711);
  fs.chmodSync(c.dir, 0o711);
  const r = await admin(['-c', c.file, 'check']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const files = fs.readdirSync(state);
  assert.ok(files.length > 0, 'the token cache is in state_dir');
  for (const f of files) assert.equal(fs.statSync(path.join(state, f)).uid, 65534, f);
});

const cb = (args) => admin(['-c', srv.conf, 'callback', '--url', srv.base, ...args]);

test('callback: a text to the echo app comes back, decrypted', async () => {
  const r = await cb(['echo', 'hello', 'from', 'the', 'CLI', '--from', 'zhangsan']);
  assert.equal(r.code, 0, r.stderr);
  const m = xmlView(parseXml(r.stdout.trim()));
  assert.equal(m.get('MsgType'), 'text');
  assert.equal(m.get('Content'), 'hello from the CLI');
  assert.equal(m.get('ToUserName'), 'zhangsan');
  assert.equal(m.get('FromUserName'), srv.apps.echo.corpid);
});

test('callback: text with "]]>" and Chinese survives the CDATA', async () => {
  const r = await cb(['echo', 'a]]>b 你好']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(xmlView(parseXml(r.stdout.trim())).get('Content'), 'a]]>b 你好');
});

test('callback: an event with a key', async () => {
  const r = await cb(['echo', '--event', 'enter_agent']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(xmlView(parseXml(r.stdout.trim())).get('Content'), 'Welcome, wecom-admin!');
  const k = await cb(['echo', '--event', 'click', '--key', 'photo']);
  assert.equal(k.code, 0, k.stderr);
  assert.equal(xmlView(parseXml(k.stdout.trim())).get('Content'), 'Received event: click');
});

test('callback: the app new-app made answers through the server', async () => {
  const r = await cb(['helper', 'made by new-app']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(xmlView(parseXml(r.stdout.trim())).get('Content'), 'made by new-app');
});

test('callback: a bot in callback mode gets JSON and answers a stream', async () => {
  const r = await cb(['echobot', '你好 bot']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.msgtype, 'stream');
  assert.equal(j.stream.content, '你好 bot');
  assert.equal(j.stream.finish, true);
  const e = await cb(['echobot', '--event', 'enter_chat', '--from', 'lisi']);
  assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(JSON.parse(e.stdout), { msgtype: 'text', text: { content: 'Welcome, lisi!' } });
  const d = await cb(['desk', 'made by new-aibot']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(JSON.parse(d.stdout).stream.content, 'made by new-aibot');
});

test('callback: another status is exit 76 with the status and body; no server is 69', async () => {
  const file = path.join(tmp, 'wrong-token.conf');
  fs.writeFileSync(file, fs.readFileSync(srv.conf, 'utf8').replace(/^token\s*=\s*QDG6eK$/m, 'token = notTheToken'));
  const r = await admin(['-c', file, 'callback', '--url', srv.base, 'echo', 'hi']);
  assert.equal(r.code, 76, r.stderr);
  assert.match(r.stderr, /HTTP 403/);
  assert.equal(r.stdout, '');
  const gone = await admin(['-c', srv.conf, 'callback', '--url', 'http://127.0.0.1:9', 'echo', 'hi']);
  assert.equal(gone.code, 69);
  assert.match(gone.stderr, /no answer/);
  const none = await admin(['-c', srv.conf, 'callback', 'nosuch', 'hi']);
  assert.equal(none.code, 78);
});

test('status: the server\'s status as text', async () => {
  const r = await admin(['-c', srv.conf, 'status', '--url', srv.base]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /echo/);
  const gone = await admin(['status', '--url', 'http://127.0.0.1:9']);
  assert.equal(gone.code, 69);
});

test('outbox: list, retry and drop a message queued by wecom-send', async () => {
  const c = conf('outbox', `[app main]\ncorpid = ${CORPID}\nagentid = 1000002\nsecret = ${SECRET}\n`);
  const q = await send(c.file, ['--spool', '--key', 'k-ok', '--to', 'zhangsan', 'disk full']);
  assert.equal(q.code, 0, q.stderr);
  const g = await send(c.file, ['--spool', '--key', 'k-ghost', '--to', 'ghost', 'nobody']);
  assert.equal(g.code, 0, g.stderr);

  let l = await admin(['-c', c.file, 'outbox', 'list']);
  assert.equal(l.code, 0, l.stderr);
  assert.match(l.stdout, /^k-ok  queued  app main to zhangsan  age \d+s  attempts 0  due now$/m);
  assert.equal(l.stdout.trim().split('\n').length, 2);

  // The ghost is refused for good by the fake: failed/.
  await send(c.file, ['--flush']);
  l = await admin(['-c', c.file, 'outbox', 'list', '--failed']);
  assert.equal(l.code, 0);
  assert.match(l.stdout, /^k-ghost  failed \(rejected\)  app main to ghost  age \d+s  attempts 1  last error: errcode 81013: /m);
  assert.equal(l.stdout.trim().split('\n').length, 1);

  const r = await admin(['-c', c.file, 'outbox', 'retry', 'k-ghost']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'retried: k-ghost\n');
  l = await admin(['-c', c.file, 'outbox', 'list']);
  assert.match(l.stdout, /^k-ghost  queued  app main to ghost  age \d+s  attempts 0  due now$/m);
  assert.equal((await admin(['-c', c.file, 'outbox', 'list', '--failed'])).stdout, '');
  assert.equal((await admin(['-c', c.file, 'outbox', 'retry', 'k-ghost'])).code, 66, 'only a failed one');

  // Retried, it is sent again by the next drain (and refused again).
  await send(c.file, ['--flush']);
  assert.equal((await admin(['-c', c.file, 'outbox', 'retry', '--all-failed'])).stdout, 'retried: 1\n');

  const d = await admin(['-c', c.file, 'outbox', 'drop', 'k-ghost']);
  assert.equal(d.code, 0, d.stderr);
  assert.equal(d.stdout, 'dropped: k-ghost\n');
  assert.equal((await admin(['-c', c.file, 'outbox', 'list'])).stdout, '');
  assert.ok(fs.existsSync(path.join(c.dir, 'state', 'outbox', 'done', 'k-ok')), 'done/ untouched');
  const again = await admin(['-c', c.file, 'outbox', 'drop', 'k-ghost']);
  assert.equal(again.code, 66);
  assert.match(again.stderr, /no queued or failed message k-ghost/);
});

test('usage errors: one line, a pointer to --help, exit 64', async () => {
  const cases = [
    [[], 'no command given', ''],
    [['frob'], "unknown command 'frob'", ''],
    [['--bogus'], 'unknown option --bogus', ''],
    [['check', '--bogus'], 'check: unknown option --bogus', 'check '],
    [['check', 'extra'], "check: takes no arguments ('extra')", 'check '],
    [['new-app'], 'new-app: no NAME given', 'new-app '],
    [['new-app', 'x'], 'new-app: --agentid N needed', 'new-app '],
    [['new-app', 'a/b', '--agentid', '1'], 'new-app: NAME is 1 to 64', 'new-app '],
    [['new-aibot', 'x', '--mode', 'ws'], 'new-aibot: --mode is websocket or callback', 'new-aibot '],
    [['new-aibot', 'x', '--agentid', '1'], 'new-aibot: --corpid and --agentid are for new-app', 'new-aibot '],
    [['callback'], 'callback: no NAME given', 'callback '],
    [['callback', 'echo'], 'callback: give TEXT or --event EVENT', 'callback '],
    [['callback', 'echo', 'hi', '--event', 'x'], 'callback: give TEXT or --event EVENT', 'callback '],
    [['callback', 'echo', 'hi', '--key', 'k'], 'callback: --key is for --event', 'callback '],
    [['callback', 'echo', '--event'], 'callback: --event needs a value', 'callback '],
    [['status', '--url', 'ftp://x'], 'status: --url is http', 'status '],
    [['outbox'], 'outbox: list, retry or drop?', 'outbox '],
    [['outbox', 'purge'], "outbox: unknown action 'purge'", 'outbox '],
    [['outbox', 'retry'], 'outbox retry: give one KEY', 'outbox retry '],
    [['outbox', 'retry', 'k', '--all-failed'], 'outbox retry: --all-failed takes no KEY', 'outbox retry '],
    [['outbox', 'drop', '../etc'], "outbox drop: '../etc' is not an outbox key", 'outbox drop '],
    [['outbox', 'list', '--all-failed'], 'outbox list: --all-failed is for outbox retry', 'outbox list '],
  ];
  const c = conf('usage');
  for (const [args, msg, sub] of cases) {
    const r = await admin(['-c', c.file, ...args]);
    assert.equal(r.code, 64, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    const lines = r.stderr.split('\n');
    assert.equal(lines.length, 3, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(lines[0].startsWith(`wecom-admin: ${msg}`), `${args.join(' ')}: ${lines[0]}`);
    assert.equal(lines[1], `try 'wecom-admin ${sub}--help'`);
  }
});

test('--help on every command: the usage on stdout, exit 0', async () => {
  for (const args of [['--help'], ['new-app', '--help'], ['new-aibot', '-h'], ['check', '--help'],
    ['callback', '--help'], ['status', '--help'], ['outbox', '--help'], ['outbox', 'retry', '--help']]) {
    const r = await admin(args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^usage: wecom-admin /, args.join(' '));
    assert.equal(r.stderr, '');
  }
});
