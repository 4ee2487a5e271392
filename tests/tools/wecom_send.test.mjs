// SPDX-License-Identifier: ISC
// wecom-send against the fake WeCom: every message kind, every target,
// media, app chats, recall, robots, long content and the exit codes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import { execFile } from 'node:child_process';
import { setup, WECOM_SEND } from '../client/helpers.mjs';

let t;
before(async () => { t = await setup(); });
after(async () => { await t.close(); });

const last = async (api) => (await t.messages()).filter((m) => !api || m.api === api).at(-1);
const file = (name, bytes) => {
  const p = path.join(t.dir, name);
  fs.writeFileSync(p, bytes);
  return p;
};

test('sends a text to users and prints its msgid', async () => {
  const r = await t.send(['--to', 'zhangsan,lisi', 'disk', 'full']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^msgid: msg\S+$/m);
  const m = await last('message/send');
  assert.equal(m.body.touser, 'zhangsan|lisi');
  assert.equal(m.body.msgtype, 'text');
  assert.equal(m.body.text.content, 'disk full');
  assert.equal(m.body.agentid, 1000002);
});

test('reads the text from stdin when no TEXT is given', async () => {
  const r = await t.send(['--to', 'zhangsan'], { input: 'from stdin\n' });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await last('message/send')).body.text.content, 'from stdin');
});

// Every request the fake has seen, of any API.
const total = async () => Object.values(await t.counts()).reduce((a, b) => a + b, 0);
const MiB = 1024 * 1024;

test('more than 1 MiB on stdin is refused whole: exit 65, a message, nothing sent', async () => {
  const before = await total();
  const r = await t.send(['--to', 'zhangsan'], { input: 'x'.repeat(MiB + 1) });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /^wecom-send: stdin: more than 1048576 bytes \(1 MiB\).*nothing sent$/m);
  assert.equal(r.stdout, '');
  assert.equal(await total(), before);
});

test('exactly 1 MiB on stdin is taken', async () => {
  const r = await t.send(['--to', 'zhangsan', '--truncate'], { input: 'x'.repeat(MiB) });
  assert.equal(r.code, 0, r.stderr);
  const c = (await last('message/send')).body.text.content;
  const kept = Buffer.byteLength(c.replace(/\n…\(truncated: \d+ more bytes\)$/, ''));
  assert.equal(Number(/truncated: (\d+) more bytes/.exec(c)[1]) + kept, MiB);
});

test('a NUL byte on stdin is refused: exit 65, a message naming its offset, nothing sent', async () => {
  const before = await total();
  const input = Buffer.concat([Buffer.from('disk full'), Buffer.from([0]), Buffer.from('on db1\n')]);
  const r = await t.send(['--to', 'zhangsan'], { input });
  assert.equal(r.code, 65, r.stderr);
  assert.match(r.stderr, /^wecom-send: stdin: a NUL byte at offset 9\b.*nothing sent$/m);
  assert.equal(r.stdout, '');
  assert.equal(await total(), before);
});

test('--spool refuses the same input and queues nothing', async () => {
  const queued = () => {
    try { return fs.readdirSync(path.join(t.state, 'outbox', 'new')).length; } catch { return 0; }
  };
  const before = queued();
  for (const input of ['x'.repeat(MiB + 1), 'a\0b']) {
    const r = await t.send(['--spool', '--to', 'zhangsan'], { input });
    assert.equal(r.code, 65, r.stderr);
    assert.match(r.stderr, /nothing sent/);
    assert.equal(r.stdout, '');
  }
  assert.equal(queued(), before);
});

test('sends to departments and tags with safe, id_trans and duplicate check', async () => {
  const r = await t.send(['--party', '2', '--tag', '1', '--safe', '--id-trans',
    '--dup-check', '600', 'to ops']);
  assert.equal(r.code, 0, r.stderr);
  const b = (await last('message/send')).body;
  assert.equal(b.toparty, '2');
  assert.equal(b.totag, '1');
  assert.equal(b.safe, 1);
  assert.equal(b.enable_id_trans, 1);
  assert.equal(b.enable_duplicate_check, 1);
  assert.equal(b.duplicate_check_interval, 600);
});

test('prints invalid recipients and still succeeds when one is valid', async () => {
  const r = await t.send(['--to', 'zhangsan,ghost', '--party', '99', 'hi']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^invaliduser: ghost$/m);
  assert.match(r.stdout, /^invalidparty: 99$/m);
});

test('no valid recipient is 81013 with a hint and exit 76', async () => {
  const r = await t.send(['--to', 'ghost', 'hi']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 81013/);
  assert.match(r.stderr, /hint: no valid recipient/);
  assert.match(r.stdout, /^invaliduser: ghost$/m);
});

test('markdown goes out as markdown, with a text fallback for plugin users', async () => {
  const r = await t.send(['--to', 'zhangsan', '--markdown', '--fallback-to', 'lisi',
    '# Alert\n**db1** full']);
  assert.equal(r.code, 0, r.stderr);
  const sent = (await t.messages()).filter((m) => m.api === 'message/send').slice(-2);
  assert.equal(sent[0].body.msgtype, 'markdown');
  assert.equal(sent[0].body.touser, 'zhangsan');
  assert.equal(sent[1].body.msgtype, 'text');
  assert.equal(sent[1].body.touser, 'lisi');
  assert.equal(sent[1].body.text.content, '# Alert\n**db1** full');
  assert.equal(r.stdout.match(/^msgid:/gm).length, 2);
});

test('long text is split on UTF-8 boundaries into ordered parts (1/N)', async () => {
  const text = Array.from({ length: 300 }, (_, i) => `第${i}行：磁盘空间不足`).join('\n');
  assert.ok(Buffer.byteLength(text) > 2 * 2048);
  const r = await t.send(['--to', 'zhangsan'], { input: text });
  assert.equal(r.code, 0, r.stderr);
  const n = r.stdout.match(/^msgid:/gm).length;
  assert.ok(n >= 3, `${n} parts`);
  const mine = (await t.messages()).filter((m) => m.api === 'message/send').slice(-n)
    .map((m) => m.body.text.content);
  mine.forEach((p, i) => {
    assert.ok(p.startsWith(`(${i + 1}/${n}) `), p.slice(0, 10));
    assert.ok(Buffer.byteLength(p) <= 2048);
  });
  assert.equal(mine.map((p) => p.replace(/^\(\d+\/\d+\) /, '')).join('\n'), text);
});

test('--truncate sends one message with a visible notice', async () => {
  const r = await t.send(['--to', 'zhangsan', '--truncate'], { input: 'x'.repeat(5000) });
  assert.equal(r.code, 0, r.stderr);
  const c = (await last('message/send')).body.text.content;
  assert.ok(Buffer.byteLength(c) <= 2048);
  assert.match(c, /truncated: \d+ more bytes/);
});

test('image, voice, video and file are uploaded as field "media" and sent by media_id', async () => {
  for (const [opt, type] of [['--image', 'image'], ['--voice', 'voice'], ['--video', 'video'],
    ['--file', 'file']]) {
    const bytes = crypto.randomBytes(2000);
    const r = await t.send(['--to', 'zhangsan', opt, file(`m.${type}`, bytes)]);
    assert.equal(r.code, 0, `${type}: ${r.stderr}`);
    const b = (await last('message/send')).body;
    assert.equal(b.msgtype, type);
    const media = t.fake.state.media.get(b[type].media_id);
    assert.equal(media.type, type);
    assert.equal(media.size, 2000);
    assert.equal(media.md5, crypto.createHash('md5').update(bytes).digest('hex'));
    assert.equal(media.filename, `m.${type}`);
  }
});

test('a missing file is exit 66 before any request', async () => {
  const before = (await t.counts())['media/upload'] || 0;
  const r = await t.send(['--to', 'zhangsan', '--image', '/nonexistent.png']);
  assert.equal(r.code, 66);
  assert.equal((await t.counts())['media/upload'] || 0, before);
});

test('textcard and news take their title and url, the text is the description', async () => {
  let r = await t.send(['--to', 'zhangsan', '--textcard', 'Disk', 'https://ops/x',
    '--btntxt', 'Open', 'db1 at 95%']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await last('message/send')).body.textcard,
    { title: 'Disk', description: 'db1 at 95%', url: 'https://ops/x', btntxt: 'Open' });
  r = await t.send(['--to', 'zhangsan', '--news', 'Report', 'https://ops/r', '--picurl',
    'https://ops/p.png', 'weekly']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await last('message/send')).body.news.articles,
    [{ title: 'Report', description: 'weekly', url: 'https://ops/r', picurl: 'https://ops/p.png' }]);
});

test('template_card and miniprogram_notice go through --json', async () => {
  let r = await t.send(['--to', 'zhangsan', '--json', 'template_card',
    '{"card_type":"text_notice","main_title":{"title":"hi"}}']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await last('message/send')).body.template_card.card_type, 'text_notice');
  r = await t.send(['--to', 'zhangsan', '--json', 'miniprogram_notice',
    '{"appid":"wx123","title":"Meeting"}']);
  assert.equal(r.code, 0, r.stderr);
  r = await t.send(['--to', 'zhangsan', '--json', 'template_card', '{nope']);
  assert.equal(r.code, 65);
});

test('the fake rejects what WeCom rejects: a template_card without card_type is 40058', async () => {
  const r = await t.send(['--to', 'zhangsan', '--json', 'template_card', '{}']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 40058/);
});

test('creates an app chat, sends every kind to it', async () => {
  let r = await t.send(['--create-chat', 'oncall', '--to', 'zhangsan,lisi', '--owner', 'zhangsan',
    '--chat', 'oncall1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^chatid: oncall1$/m);
  r = await t.send(['--chat', 'oncall1', 'hello chat']);
  assert.equal(r.code, 0, r.stderr);
  let m = await last('appchat/send');
  assert.equal(m.body.chatid, 'oncall1');
  assert.equal(m.body.text.content, 'hello chat');
  r = await t.send(['--chat', 'oncall1', '--markdown', '**x**']);
  assert.equal(r.code, 0, r.stderr);
  r = await t.send(['--chat', 'oncall1', '--image', file('c.png', crypto.randomBytes(100))]);
  assert.equal(r.code, 0, r.stderr);
  m = await last('appchat/send');
  assert.equal(m.body.msgtype, 'image');
  r = await t.send(['--chat', 'nochat', 'x']);
  assert.equal(r.code, 76);
});

test('recalls a message by msgid', async () => {
  let r = await t.send(['--to', 'zhangsan', 'oops']);
  const id = /msgid: (\S+)/.exec(r.stdout)[1];
  r = await t.send(['--recall', id]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(t.fake.state.msgids.get(id).recalled, true);
  r = await t.send(['--recall', id]);
  assert.equal(r.code, 76);
});

test('robot: text with mentions, markdown, image (base64 + md5), news, file, voice', async () => {
  let r = await t.send(['--webhook', 'ops', '--mention', 'zhangsan,@all', '--mention-mobile',
    '13800000000', 'robot says hi']);
  assert.equal(r.code, 0, r.stderr);
  let m = await last('webhook/send');
  assert.equal(m.key, 'robot-ops-0001');
  assert.deepEqual(m.body.text.mentioned_list, ['zhangsan', '@all']);
  assert.deepEqual(m.body.text.mentioned_mobile_list, ['13800000000']);
  r = await t.send(['--webhook', 'ops', '--markdown', '## hi']);
  assert.equal(r.code, 0, r.stderr);
  const png = crypto.randomBytes(3000);
  r = await t.send(['--webhook', 'ops', '--image', file('r.png', png)]);
  assert.equal(r.code, 0, r.stderr);
  m = await last('webhook/send');
  assert.equal(m.body.image.md5, crypto.createHash('md5').update(png).digest('hex'));
  assert.equal(Buffer.from(m.body.image.base64, 'base64').compare(png), 0);
  r = await t.send(['--webhook', 'ops', '--news', 'N', 'https://n', 'desc']);
  assert.equal(r.code, 0, r.stderr);
  for (const [opt, type] of [['--file', 'file'], ['--voice', 'voice']]) {
    r = await t.send(['--webhook', 'ops', opt, file(`r.${type}`, crypto.randomBytes(500))]);
    assert.equal(r.code, 0, r.stderr);
    m = await last('webhook/send');
    assert.equal(m.body.msgtype, type);
    assert.ok(t.fake.state.media.has(m.body[type].media_id));
  }
  assert.equal((await t.counts())['webhook/upload_media'], 2);
});

test('robot: a full webhook URL works, a bad UUID key is 93000 with a hint', async () => {
  let r = await t.send(['--webhook',
    'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=robot-raw-key', 'x']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await last('webhook/send')).key, 'robot-raw-key');
  r = await t.send(['--webhook', '693a91f6-7a2b-4bc4-97a0-0ec2f1fa5aaa', 'x']);
  assert.equal(r.code, 76);
  assert.match(r.stderr, /errcode 93000/);
  assert.match(r.stderr, /hint: invalid robot webhook key/);
});

test('usage errors are exit 64, config errors 78, and --help documents every exit code', async () => {
  assert.equal((await t.send(['hello'])).code, 64);
  assert.equal((await t.send(['--to', 'a', '--chat', 'c', 'x'])).code, 64);
  assert.equal((await t.send(['--to', 'a', '--markdown', '--image', 'f'])).code, 64);
  assert.equal((await t.send(['--to', 'zhangsan', '-a', 'nosuchapp', 'x'])).code, 78);
  const r = await t.send(['--help']);
  assert.equal(r.code, 0);
  for (const code of [0, 64, 65, 66, 69, 70, 74, 76, 78]) assert.match(r.stdout, new RegExp(`^ +${code} `, 'm'));
  for (const opt of ['--to', '--party', '--tag', '--chat', '--webhook', '--markdown', '--image',
    '--file', '--voice', '--video', '--textcard', '--news', '--safe', '--dup-check', '--truncate',
    '--quiet', '--config', '--app', '--recall', '--json', '--mention', '--fallback-to',
    '--mention-mobile', '--id-trans', '--create-chat', '--owner', '--picurl', '--btntxt',
    '--spool', '--key', '--flush', '--now', '--conf-keys', '--help'])
    assert.ok(r.stdout.includes(opt), opt);
});

test('-a picks another app with its own token', async () => {
  const r = await t.send(['-a', 'other', '--to', 'zhangsan', 'from other']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await last('message/send')).body.agentid, 1000003);
});

test('-q prints nothing on success', async () => {
  const r = await t.send(['-q', '--to', 'zhangsan', 'quiet']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, '');
});

test('--webhook NAME without a [robot NAME] is exit 64 and sends nothing', async () => {
  const before = await total();
  const r = await t.send(['--webhook', 'nope', 'x']);
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /^wecom-send: --webhook nope: no \[robot nope\] in /m);
  assert.equal(await total(), before);
});

test('TEXT and data on stdin together are refused: exit 64, nothing sent', async () => {
  const before = await total();
  const r = await t.send(['--to', 'zhangsan', 'disk report'], { input: 'Filesystem 95%\n' });
  assert.equal(r.code, 64, r.stderr);
  assert.match(r.stderr, /^wecom-send: text given both as TEXT and on stdin/m);
  assert.equal(await total(), before);
  const ok = await t.send(['--to', 'zhangsan', 'disk report'], { input: '' });
  assert.equal(ok.code, 0, ok.stderr);
});

test('a usage error is one line and a pointer to --help, exit 64', async () => {
  for (const args of [['hello'], ['--to', 'a', '--chat', 'c', 'x'], ['--bogus'],
    ['--dup-check', '0', '--to', 'a', 'x'], ['--textcard', 'T']]) {
    const r = await t.send(args);
    assert.equal(r.code, 64, args.join(' '));
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0], /^wecom-send: \S/);
    assert.equal(lines[1], "try 'wecom-send --help'");
    assert.equal(r.stdout, '');
  }
});

// wecom-send without -c, in directory cwd, with env.
const bare = (cwd, args, env) => new Promise((resolve) => {
  execFile(WECOM_SEND, args, { cwd, env }, (err, stdout, stderr) =>
    resolve({ code: err ? err.code : 0, stdout, stderr }));
});

test('the config is $WECOM_CONF, else /etc/wecom/wecom.conf, else ./conf/wecom.conf', async () => {
  const env = { ...t.env };
  delete env.WECOM_CONF;
  const empty = fs.mkdtempSync(path.join(t.dir, 'cwd-'));
  let r = await bare(empty, ['--to', 'zhangsan', 'x'], env);
  if (!fs.existsSync('/etc/wecom/wecom.conf')) {
    assert.equal(r.code, 78, r.stderr);
    assert.match(r.stderr, /\/etc\/wecom\/wecom\.conf/);
  }
  fs.mkdirSync(path.join(empty, 'conf'));
  fs.copyFileSync(t.conf, path.join(empty, 'conf', 'wecom.conf'));
  r = await bare(empty, ['--to', 'zhangsan', 'from ./conf'], env);
  if (!fs.existsSync('/etc/wecom/wecom.conf')) assert.equal(r.code, 0, r.stderr);
  r = await bare(t.dir, ['--to', 'zhangsan', 'from env'], { ...env, WECOM_CONF: t.conf });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await last('message/send')).body.text.content, 'from env');
  const h = await bare(empty, ['--help'], env);
  assert.match(h.stdout, /\/etc\/wecom\/wecom\.conf/);
});

test('an unset env: secret of a section the send does not use is no error', async () => {
  const u = await setup({ extra: '[robot night]\nkey = env:WECOM_TEST_UNSET_KEY\n\n' +
    `[app cron]\ncorpid = x\nagentid = 1\nsecret = file:${path.join(os.tmpdir(), 'nope')}\n` });
  try {
    const r = await u.send(['--to', 'zhangsan', 'x']);
    assert.equal(r.code, 0, r.stderr);
    const w = await u.send(['--webhook', 'night', 'x']);
    assert.equal(w.code, 78, w.stderr);
    assert.match(w.stderr, /WECOM_TEST_UNSET_KEY/);
    const c = await u.send(['--app', 'cron', '--to', 'zhangsan', 'x']);
    assert.equal(c.code, 78, c.stderr);
    assert.match(c.stderr, /secret.*nope/);
  } finally {
    await u.close();
  }
});

test('--flush --now sends what waits for its backoff, --now alone is a usage error', async () => {
  const env = { WECOM_OUTBOX_BACKOFF_MS: '600000' };
  const s = await t.send(['--spool', '--key', 'now-1', '--to', 'zhangsan', 'after outage'], { env });
  assert.equal(s.code, 0, s.stderr);
  await t.inject({ path: 'message/send', http: 503, times: 4 });
  let f = await t.send(['--flush'], { env });
  assert.equal(f.code, 69, f.stdout + f.stderr);
  f = await t.send(['--flush'], { env });
  assert.equal(f.code, 69, 'not due for 10 minutes');
  f = await t.send(['--flush', '--now'], { env });
  assert.equal(f.code, 0, f.stdout + f.stderr);
  assert.match(f.stdout, /^delivered: 1$/m);
  assert.match(f.stdout, /^remaining: 0$/m);
  assert.equal((await last('message/send')).body.text.content, 'after outage');
  assert.equal((await t.send(['--now', '--to', 'zhangsan', 'x'])).code, 64);
});
