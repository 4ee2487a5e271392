// SPDX-License-Identifier: ISC
// The monitor bot (apps/monitor.c): photo through a real capture command,
// run by the command helper, and a real upload to the fake WeCom API,
// status from /proc, the allow list, failures that say what failed, and a
// slow capture answered late. The capture inherits nothing of the
// server's but stdio, and whatever bytes it writes to stderr come back as
// well-formed XML. Every server here runs with seccomp tracing on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statfsSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from './harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const FIXTURE = join(h.ROOT, 'tests', 'fixtures', 'tiny.jpg');
const FAKECAM = join(h.ROOT, 'tests', 'fixtures', 'fakecam.py');
const JPEG = readFileSync(FIXTURE);
const JPEG_MD5 = createHash('md5').update(JPEG).digest('hex');
const CP = `cp ${FIXTURE} %s`;
// Bytes XML 1.0 cannot carry: a control, a stray byte, a cut sequence.
const GARBLE = "printf 'bad \\001\\377\\303( end' >&2; exit 3; : %s";
// Fails, naming them, if the capture got a descriptor above 2. No
// redirection before the check: dash keeps copies of what it redirects.
// The glob's own directory descriptor is closed again: -e skips it.
const FDS = 'leaked=; for f in /proc/$$/fd/*; do n=${f##*/}; ' +
  '[ "$n" -gt 2 ] && [ -e "$f" ] && leaked="$leaked $n"; done; ' +
  `[ -z "$leaked" ] || { echo "inherited$leaked" >&2; exit 4; }; ${CP}`;

let srv, fake, capdir;

const app = (name, extra) => ({
  name, handler: 'monitor', corpid: CORPID, agentid: 1000002,
  extra: `secret = app-secret-1\ncapture_dir = ${capdir}\n${extra}`,
});

let seq = 0;
const base = (from) => ({
  ToUserName: CORPID, FromUserName: from, CreateTime: String(Math.floor(Date.now() / 1000)),
  AgentID: '1000002',
});
const text = (content, from = 'zhangsan') => h.toXml({
  ...base(from), MsgType: 'text', Content: content, MsgId: `${Date.now()}${++seq}`,
});
const click = (key, from = 'zhangsan') => h.toXml({
  ...base(from), MsgType: 'event', Event: 'click', EventKey: key,
});

const uploads = () => [...fake.state.media.values()];
const content = (r) => {
  assert.equal(r.status, 200);
  assert.ok(r.msg, `a passive reply (body ${r.body.length} bytes)`);
  assert.equal(r.msg.get('MsgType'), 'text');
  return r.msg.get('Content');
};

// An image reply whose MediaId the fake issued for exactly the fixture.
function assertFixtureImage(mediaId) {
  const m = fake.state.media.get(mediaId);
  assert.ok(m, `media_id ${mediaId} was issued by an upload`);
  assert.equal(m.type, 'image');
  assert.equal(m.size, JPEG.length);
  assert.equal(m.md5, JPEG_MD5);
}

before(async () => {
  capdir = mkdtempSync(join(tmpdir(), 'wecom-monitor-'));
  fake = await startFake();
  srv = await h.startServer({
    workers: 1,
    apiBase: fake.base,
    globalExtra: 'retry_attempts = 2\nretry_base_ms = 100\noutbox_interval_ms = 300\noutbox_backoff_ms = 300\n',
    apps: [
      app('monitor', `allow = zhangsan, wangwu\ncapture = ${CP}\ndeadline_ms = 3000\n`),
      app('monfail', 'allow = zhangsan\ncapture = echo no camera for %s >&2; exit 3\ncapture_shell = yes\n'),
      app('monhang', `allow = zhangsan\ncapture = sleep 21.37; ${CP}\ncapture_timeout_ms = 500\ncapture_shell = yes\n`),
      app('monslow', `allow = zhangsan\ncapture = sleep 2; ${CP}\ndeadline_ms = 1000\ncapture_shell = yes\n`),
      app('monnobody', `capture = ${CP}\n`),
      app('monfds', `allow = zhangsan\ncapture = ${FDS}\ncapture_shell = yes\n`),
      app('mongarble', `allow = zhangsan\ncapture = ${GARBLE}\ncapture_shell = yes\n`),
      app('monlategarble', `allow = zhangsan\ncapture = sleep 2; ${GARBLE}\ndeadline_ms = 1000\ncapture_shell = yes\n`),
      // No %s: the picture is the command's stdout.
      app('monstdout', `allow = zhangsan\ncapture = cat ${FIXTURE}\n`),
      // A camera program that makes calls no worker may: exec, ioctl,
      // getpriority, setsid (tests/fixtures/fakecam.py).
      app('moncam', `allow = zhangsan\ncapture = python3 ${FAKECAM} ${FIXTURE} %s.jpg\n`),
      app('monnone', 'allow = zhangsan\n'),
    ],
  });
});

after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
  rmSync(capdir, { recursive: true, force: true });
});

test('photo from an allowed user: the capture is uploaded and answered as an image', async () => {
  const n = uploads().length;
  const r = await h.callback(srv, 'monitor', text('photo'));
  assert.equal(r.status, 200);
  assert.ok(r.msg, 'a passive reply');
  assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
  assertFixtureImage(r.msg.get('Image/MediaId'));
  assert.equal(uploads().length, n + 1);
  assert.match(uploads().at(-1).filename, /^photo-\d+-\d+\.jpg$/);
});

test('PHOTO and 拍照 work too, and the picture file is removed afterwards', async () => {
  for (const word of ['PHOTO', ' 拍照 ']) {
    const r = await h.callback(srv, 'monitor', text(word));
    assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
    assertFixtureImage(r.msg.get('Image/MediaId'));
  }
  assert.deepEqual(readdirSync(capdir), [], 'the helper removed its directories');
});

test('a menu click with EventKey photo takes a picture', async () => {
  const r = await h.callback(srv, 'monitor', click('photo', 'wangwu'));
  assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
  assertFixtureImage(r.msg.get('Image/MediaId'));
});

test('a user not in allow is refused politely and nothing is uploaded', async () => {
  const n = uploads().length;
  for (const x of [text('photo', 'lisi'), click('photo', 'lisi'), text('status', 'lisi'), text('zhang', 'zhang')]) {
    const c = content(await h.callback(srv, 'monitor', x));
    assert.match(c, /^Sorry, you are not allowed to use this bot\.\n抱歉/);
  }
  assert.equal(uploads().length, n, 'no upload happened');
});

test('without an allow key nobody may use the bot', async () => {
  const n = uploads().length;
  const c = content(await h.callback(srv, 'monnobody', text('photo')));
  assert.match(c, /not allowed/);
  assert.equal(uploads().length, n);
});

test('status answers real numbers from /proc and statvfs', async () => {
  const c = content(await h.callback(srv, 'monitor', text('Status')));
  const mem = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(mem)[1]);

  const load = /^Load \/ 负载: ([\d.]+) ([\d.]+) ([\d.]+)/m.exec(c);
  assert.ok(load, c);
  const real = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
  assert.ok(Math.abs(Number(load[1]) - real[0]) < 2, `load ${load[1]} vs ${real[0]}`);

  const m = /^Memory \/ 内存: (\d+) MiB available of (\d+) MiB \((\d+)% used\)/m.exec(c);
  assert.ok(m, c);
  assert.equal(Number(m[2]), Math.floor(kb('MemTotal') / 1024), 'MemTotal exactly');
  assert.ok(Math.abs(Number(m[1]) - kb('MemAvailable') / 1024) < 512, 'MemAvailable roughly');

  const d = /^Disk \/ \/ 磁盘: ([\d.]+) GiB free of ([\d.]+) GiB \((\d+)% used\)/m.exec(c);
  assert.ok(d, c);
  const fs = statfsSync('/');
  assert.ok(Math.abs(Number(d[2]) - (fs.blocks * fs.bsize) / 2 ** 30) < 0.1, `disk size ${d[2]}`);
  const used = (fs.blocks - fs.bfree) / (fs.blocks - fs.bfree + fs.bavail) * 100;
  assert.ok(Math.abs(Number(d[3]) - used) <= 2, `disk ${d[3]}% vs ${used}`);

  const u = /^Uptime \/ 运行时间: \d+d \d\d:\d\d \((\d+) s\)/m.exec(c);
  assert.ok(u, c);
  const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  assert.ok(Math.abs(Number(u[1]) - up) < 10, `uptime ${u[1]} vs ${up}`);

  let temp = null;
  try { temp = Number(readFileSync('/sys/class/thermal/thermal_zone0/temp', 'utf8')) / 1000; } catch { /* none */ }
  if (temp === null) assert.doesNotMatch(c, /temperature/);
  else assert.match(c, /^CPU temperature \/ 温度: -?[\d.]+ °C$/m);

  assert.match(content(await h.callback(srv, 'monitor', text('状态'))), /^Load/);
});

test('help, 帮助 and anything unknown list the commands', async () => {
  for (const w of ['help', '帮助', 'rm -rf / ; photo', '']) {
    const c = content(await h.callback(srv, 'monitor', text(w)));
    assert.match(c, /^Commands \/ 命令:/, w);
    assert.match(c, /photo \(拍照\)/);
    assert.match(c, /status \(状态\)/);
  }
});

test('a capture command that exits 3 is answered with its exit status and first stderr line', async () => {
  const n = uploads().length;
  const c = content(await h.callback(srv, 'monfail', text('photo')));
  assert.match(c, /^Photo failed \(capture command\): exit status 3: no camera for \S+\/wecom-cmd\.\w{6}\/out\.\n拍照失败：拍照命令出错。$/);
  assert.equal(uploads().length, n);
});

test('a capture command that hangs is killed after capture_timeout_ms, with the whole group', async () => {
  const t0 = Date.now();
  const c = content(await h.callback(srv, 'monhang', text('photo')));
  assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
  assert.match(c, /killed after 500 ms \(capture_timeout_ms\)/);
  const sleeps = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u000021.37\u0000'; } catch { return false; }
  });
  assert.deepEqual(sleeps, [], 'no sleep 21.37 left running');
});

test('a capture slower than deadline_ms: an empty 200 at once, the image follows as a message', async () => {
  const t0 = Date.now();
  const r = await h.callback(srv, 'monslow', text('photo'));
  const took = Date.now() - t0;
  assert.equal(r.status, 200);
  assert.equal(r.body.length, 0, 'empty 200');
  assert.ok(took < 1800, `answered in ${took} ms`);
  const end = Date.now() + 10000;
  let sent;
  while (!sent && Date.now() < end) {
    sent = fake.state.messages.find((m) => m.api === 'message/send' && m.body.msgtype === 'image');
    if (!sent) await h.sleep(100);
  }
  assert.ok(sent, 'an image was sent with message/send');
  assert.equal(sent.body.touser, 'zhangsan');
  assertFixtureImage(sent.body.image.media_id);
});

test('the capture command inherits no descriptor above 2 (client sockets, listeners, files)', async () => {
  const r = await h.callback(srv, 'monfds', text('photo'));
  assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
  assertFixtureImage(r.msg.get('Image/MediaId'));
});

test('stderr that is not valid XML text is answered as U+FFFD, well-formed', async () => {
  const r = await h.callback(srv, 'mongarble', text('photo'));
  assert.doesNotMatch(r.reply, /[\x00-\x08\x0b\x0c\x0e-\x1f]/, 'no C0 control in the reply');
  assert.match(content(r), /exit status 3: bad \uFFFD\uFFFD\uFFFD\( end\.\n/);
});

test('the same stderr in a late reply still reaches the member as a message', async () => {
  const r = await h.callback(srv, 'monlategarble', text('photo'));
  assert.equal(r.body.length, 0, 'empty 200');
  const end = Date.now() + 10000;
  let sent;
  while (!sent && Date.now() < end) {
    sent = fake.state.messages.find((m) => m.api === 'message/send' && m.body.msgtype === 'text' &&
      /bad/.test(m.body.text.content));
    if (!sent) await h.sleep(100);
  }
  assert.ok(sent, 'the failure was sent with message/send');
  assert.equal(sent.body.touser, 'zhangsan');
  assert.match(sent.body.text.content, /exit status 3: bad \uFFFD\uFFFD\uFFFD\( end\.\n/);
});

test('without %s the picture is the command\'s stdout', async () => {
  const r = await h.callback(srv, 'monstdout', text('photo'));
  assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
  assertFixtureImage(r.msg.get('Image/MediaId'));
});

test('a camera program making calls no worker may (exec, ioctl, setsid) takes the picture', async () => {
  const r = await h.callback(srv, 'moncam', text('photo'));
  assert.equal(r.msg.get('MsgType'), 'image', r.msg.get('Content'));
  assertFixtureImage(r.msg.get('Image/MediaId'));
  assert.deepEqual(h.deaths(srv.log()), [], 'no sandbox violation, no death');
});

test('an app without a capture key says so', async () => {
  const c = content(await h.callback(srv, 'monnone', text('photo')));
  assert.match(c, /^Photo failed \(capture command\): \[app monnone\] has no capture command\.\n拍照失败：无法运行拍照命令。$/);
});
