// SPDX-License-Identifier: ISC
// The outbox through wecom-send --spool and --flush, against the fake
// WeCom: what is queued, delivered, retried, failed, and how it looks
// on disk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setup, deliveries, sleep, parallel, WECOM_SEND } from './helpers.mjs';
import { run } from '../client/helpers.mjs';

async function withOutbox(opts, fn) {
  const t = await setup(opts);
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

test('--spool queues a message and prints its key; --flush delivers it', () =>
  withOutbox({}, async (t) => {
    const s = await t.spool(['--to', 'zhangsan,lisi', 'disk full on db1']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.key, /^[0-9a-f]{32}$/);
    assert.deepEqual(t.files('new'), [s.key]);
    assert.equal((await t.counts())['message/send'], undefined);

    const f = await t.flush();
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^delivered: 1$/m);
    assert.match(f.stdout, /^failed: 0$/m);
    assert.match(f.stdout, /^remaining: 0$/m);
    assert.deepEqual(t.files('new'), []);
    assert.deepEqual(t.files('done'), [s.key]);
    const m = (await t.messages()).at(-1);
    assert.equal(m.body.touser, 'zhangsan|lisi');
    assert.equal(m.body.text.content, 'disk full on db1');
    // WeCom's own duplicate check, over the whole max age (4 h at most).
    assert.equal(m.body.enable_duplicate_check, 1);
    assert.equal(m.body.duplicate_check_interval, 14400);
    assert.equal(t.record('done', s.key).msgid, m.msgid);
  }));

test('a key given twice is queued once and delivered once', () =>
  withOutbox({}, async (t) => {
    for (let i = 0; i < 2; i++) {
      const s = await t.spool(['--key', 'alert-42', '--to', 'zhangsan', 'once']);
      assert.equal(s.code, 0, s.stderr);
      assert.equal(s.key, 'alert-42');
    }
    assert.equal((await t.flush()).code, 0);
    // Put again after delivery: done/ remembers the key.
    assert.equal((await t.spool(['--key', 'alert-42', '--to', 'zhangsan', 'once'])).code, 0);
    assert.deepEqual(t.files('new'), []);
    assert.equal((await t.flush()).code, 0);
    assert.equal((await t.stats()).delivered, 1);
    const bad = await t.spool(['--key', '../x', '--to', 'zhangsan', 'x']);
    assert.equal(bad.code, 65);
  }));

test('queues markdown with a fallback, app chats and robots by name', () =>
  withOutbox({}, async (t) => {
    assert.equal((await t.send(['--create-chat', 'ops', '--to', 'zhangsan,lisi',
      '--chat', 'chat1'])).code, 0);
    assert.equal((await t.spool(['--to', 'zhangsan', '--markdown', '--fallback-to', 'lisi',
      '**db1** full'])).code, 0);
    assert.equal((await t.spool(['--chat', 'chat1', 'to the chat'])).code, 0);
    assert.equal((await t.spool(['--webhook', 'ops', '--mention', 'zhangsan', 'robot'])).code, 0);
    assert.equal((await t.spool(['--to', 'zhangsan', '--json', 'textcard',
      '{"title":"t","description":"d","url":"https://example.com/"}'])).code, 0);
    const f = await t.flush();
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stdout, /^delivered: 4$/m);
    const msgs = await t.messages();
    const md = msgs.find((m) => m.body.msgtype === 'markdown');
    assert.equal(md.body.markdown.content, '**db1** full');
    const fb = msgs.find((m) => m.api === 'message/send' && m.body.touser === 'lisi');
    assert.equal(fb.body.text.content, '**db1** full');
    assert.equal(msgs.find((m) => m.api === 'appchat/send').body.text.content, 'to the chat');
    const robot = msgs.find((m) => m.api === 'webhook/send');
    assert.deepEqual(robot.body.text.mentioned_list, ['zhangsan']);
    assert.equal(msgs.find((m) => m.body.msgtype === 'textcard').body.textcard.title, 't');
  }));

test('records are 0600 in 0700 directories and hold no secret or robot key', () =>
  withOutbox({}, async (t) => {
    const keys = [];
    for (const args of [['--to', 'zhangsan', 'a'], ['--webhook', 'ops', 'b']])
      keys.push((await t.spool(args)).key);
    const raw = await t.spool(['--webhook', 'robot-raw-key', 'c']);
    assert.equal(raw.code, 78, 'a raw webhook key is never stored');
    assert.match(raw.stderr, /never stores a webhook key/);
    assert.doesNotMatch(raw.stderr, /robot-raw-key/);
    await t.inject({ path: 'webhook/send', errcode: 93000, times: 1 });
    await t.flush();
    for (const sub of ['', 'new', 'sending', 'done', 'failed'])
      assert.equal(fs.statSync(path.join(t.outbox, sub)).mode & 0o777, 0o700, sub);
    let n = 0;
    for (const sub of ['new', 'done', 'failed']) {
      for (const f of t.files(sub)) {
        const p = path.join(t.outbox, sub, f);
        assert.equal(fs.statSync(p).mode & 0o777, 0o600, p);
        const s = fs.readFileSync(p, 'utf8');
        assert.doesNotMatch(s, /app-secret|robot-ops-0001|access_token/, p);
        n++;
      }
    }
    assert.equal(n, 2);
    assert.equal(t.record('failed', keys[1]).robot, 'ops');
  }));

test('a permanent rejection goes to failed/ at once with errcode, errmsg and hint', () =>
  withOutbox({}, async (t) => {
    const bad = await t.spool(['--to', 'ghost', 'nobody']);
    const good = await t.spool(['--to', 'zhangsan', 'somebody']);
    const f = await t.flush();
    assert.equal(f.code, 76, f.stdout + f.stderr);
    assert.match(f.stdout, /^delivered: 1$/m);
    assert.match(f.stdout, /^failed: 1$/m);
    assert.match(f.stderr, new RegExp(`${bad.key} \\(app main to ghost\\) failed: rejected ` +
      'after 1 attempt: errcode 81013'));
    const r = t.record('failed', bad.key);
    assert.equal(r.error.errcode, 81013);
    assert.equal(r.error.errmsg, 'user & party & tag all invalid');
    assert.match(r.error.hint, /no valid recipient/);
    assert.equal(r.failed_why, 'rejected');
    assert.equal(r.attempts, 1);
    assert.deepEqual(t.files('done'), [good.key]);
    // Failed is final: not sent again.
    assert.equal((await t.flush()).code, 0);
    assert.equal((await t.counts())['message/send'], 2);

    const rej = await t.spool(['--to', 'zhangsan', 'refused']);
    await t.inject({ path: 'message/send', errcode: 40003, errmsg: 'invalid userid' });
    assert.equal((await t.flush()).code, 76);
    assert.equal(t.record('failed', rej.key).error.errcode, 40003);
  }));

// A backoff of 1.5 to 3 s: long enough to see "not due yet" under ASan.
test('a transient failure is kept and retried after a backoff', () =>
  withOutbox({ env: { WECOM_OUTBOX_BACKOFF_MS: '3000' } }, async (t) => {
    const s = await t.spool(['--to', 'zhangsan', 'later']);
    // More 503s than the client's own attempts (4): the outbox keeps it.
    await t.inject({ path: 'message/send', http: 503, times: 4 });
    const f1 = await t.flush();
    assert.equal(f1.code, 69, f1.stdout + f1.stderr);
    assert.match(f1.stdout, /^remaining: 1$/m);
    assert.match(f1.stderr, /HTTP 503 from message\/send\); attempt 2 in \d/);
    let r = t.record('new', s.key);
    assert.equal(r.attempts, 1);
    assert.ok(r.next > Date.now(), 'not due at once');
    assert.equal(r.error.code, -1006);

    const f2 = await t.flush();		// not due yet: nothing sent
    assert.equal(f2.code, 69);
    assert.equal((await t.counts())['message/send'], 4);
    await sleep(r.next - Date.now() + 50);
    const f3 = await t.flush();
    assert.equal(f3.code, 0, f3.stderr);
    assert.equal(t.record('done', s.key).attempts, 2);
    assert.equal((await t.stats()).delivered, 1);
  }));

test('past outbox_max_age a message fails with its last error', () =>
  withOutbox({ env: { WECOM_OUTBOX_MAX_AGE: '2' } }, async (t) => {
    const s = await t.spool(['--to', 'zhangsan', 'too late']);
    await t.config({ down_ms: 60000 });
    const f1 = await t.flush();
    assert.equal(f1.code, 69, f1.stderr);
    const r = t.record('new', s.key);
    assert.equal(r.dup_interval, 2, 'the duplicate check covers the max age');
    assert.ok(r.next <= r.created + 2000, 'the last try falls on the max age');
    let f;
    for (let i = 0; i < 40; i++) {
      f = await t.flush(['-q']);
      if (f.code !== 69) break;
      await sleep(100);
    }
    assert.equal(f.code, 76, f.stderr);
    assert.match(f.stderr, /failed: outbox_max_age reached after \d+ attempts?: HTTP 503/);
    const fr = t.record('failed', s.key);
    assert.equal(fr.failed_why, 'max_age');
    assert.ok(fr.attempts >= 2);
    assert.equal((await t.stats()).delivered, 0);
  }));

test('a send cut short before done/ is sent again, into the duplicate check', () =>
  withOutbox({}, async (t) => {
    const s = await t.spool(['--to', 'zhangsan', 'exactly once']);
    const queued = fs.readFileSync(path.join(t.outbox, 'new', s.key));
    assert.equal((await t.flush()).code, 0);
    // As if the drainer died after WeCom answered, before done/ was written.
    fs.rmSync(path.join(t.outbox, 'done', s.key));
    fs.writeFileSync(path.join(t.outbox, 'sending', s.key), queued, { mode: 0o600 });
    const f = await t.flush();
    assert.equal(f.code, 0, f.stderr);
    assert.match(f.stderr, /stopped while sending it; sending it again/);
    const st = await t.stats();
    assert.equal(st.delivered, 1);
    assert.equal(st.duplicates, 1);
    assert.equal(t.record('done', s.key).attempts, 2);
  }));

test('a record left in new/ next to its done/ entry is not sent again', () =>
  withOutbox({}, async (t) => {
    const s = await t.spool(['--to', 'zhangsan', 'once only']);
    const queued = fs.readFileSync(path.join(t.outbox, 'new', s.key));
    assert.equal((await t.flush()).code, 0);
    fs.writeFileSync(path.join(t.outbox, 'new', s.key), queued, { mode: 0o600 });
    assert.equal((await t.flush()).code, 0);
    assert.deepEqual(t.files('new'), []);
    assert.equal((await t.counts())['message/send'], 1);
  }));

test('two drainers at once never send the same record', () =>
  withOutbox({}, async (t) => {
    const n = 200;
    const keys = await parallel([...Array(n).keys()], 8, async (i) =>
      (await t.spool(['--to', 'zhangsan', `concurrent #${i}`])).key);
    assert.equal(new Set(keys).size, n);
    let busy = 0;
    await Promise.all([0, 1, 2, 3].map(async () => {
      for (let i = 0; i < 200 && t.files('new').length + t.files('sending').length > 0; i++) {
        const d = t.drainer();
        const r = await d.done;
        if (/^busy:/m.test(r.stdout)) busy++;
      }
    }));
    const st = await t.stats();
    const { count } = await deliveries(t);
    assert.equal(st.delivered, n);
    assert.equal(st.duplicates, 0, 'no repeat even reached WeCom');
    assert.equal(count.size, n);
    assert.ok([...count.values()].every((c) => c === 1));
    assert.equal(t.files('done').length, n);
    assert.ok(busy > 0, 'the drainers did meet');
  }));

test('a spool killed at any moment leaves no message or a whole one', () =>
  withOutbox({}, async (t) => {
    let queued = 0;
    for (let i = 0; i < 40; i++) {
      const p = spawn(WECOM_SEND, ['-c', t.conf, '--spool', '--to', 'zhangsan',
        `killed spool #${i}`], { env: t.env, stdio: 'ignore' });
      setTimeout(() => p.kill('SIGKILL'), Math.random() * 6);
      await new Promise((r) => p.on('close', r));
    }
    queued = t.files('new').length;
    const f = await t.flush();
    assert.equal(f.code, 0, f.stderr);
    assert.doesNotMatch(f.stderr, /not a record/);
    assert.match(f.stdout, new RegExp(`^delivered: ${queued}$`, 'm'));
  }));

let valgrind = true;
try { execFileSync('valgrind', ['--version']); } catch { valgrind = false; }
if (process.env.SANITIZE === '1') valgrind = false;

test('one flush runs clean under valgrind', { skip: !valgrind && 'no valgrind or ASan build' },
  () => withOutbox({}, async (t) => {
    await t.spool(['--to', 'zhangsan', 'x'.repeat(3000)]);
    await t.spool(['--to', 'ghost', 'rejected']);
    await t.spool(['--webhook', 'ops', '--markdown', '**x**']);
    await t.spool(['--to', 'lisi', 'retried']);
    await t.inject({ path: 'message/send', http: 502, times: 8 });
    const r = await run('valgrind', ['--error-exitcode=99', '--leak-check=full',
      '--errors-for-leak-kinds=definite', '-q', WECOM_SEND, '-c', t.conf, '--flush'],
    { env: t.env });
    assert.ok(r.code === 69 || r.code === 76, `${r.code} ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /==\d+==/, r.stderr);
  }));
