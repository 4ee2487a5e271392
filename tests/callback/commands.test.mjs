// SPDX-License-Identifier: ISC
// Commands (docs/commands.md), through the test app tests/apps/commands.c:
// a text names the key to run, the reply says how it ended. The command
// helper runs them outside the workers' sandbox (seccomp tracing is on:
// a violation is a death); a worker can run only the lines its section
// holds; arguments are words, never a shell line unless _shell = yes;
// timeouts, output limits, noisy and missing programs; the helper killed
// (idle or mid-command) is restarted by the parent; bad lines stop the
// server at start with the key named.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as h from './harness.mjs';

let srv;

const sections = {
  words: `run = python3 -c 'import sys; print(sys.argv[1:])' 'a b' "c\\"d" e\\ f\n`,
  suffix: `run = sh -c 'echo "$0" > "$0"' %s.jpg\nrun_dir = /tmp\n`,
  stdout: 'run = printf hello\n',
  fail: `run = sh -c 'echo oops >&2; echo more >&2; exit 7'\n`,
  missing: 'run = /nonexistent/camera --now\n',
  slow: 'run = sleep 21.38\nrun_timeout_ms = 300\n',
  big: 'run = head -c 2000000 /dev/zero\nrun_output_max = 1M\n',
  noisy: `run = sh -c 'head -c 3000000 /dev/zero >&2; head -c 3000000 /dev/zero; echo made > "$0"' %s\n`,
  pipe: 'run = echo one two | tr a-z A-Z\nrun_shell = yes\n',
  nofile: 'run = true %s\n',
  late: `run = sh -c 'sleep 1; printf late'\n`,
  sleeper: 'run = sleep 1\n',
  env: `run = sh -c 'echo "preload=[$LD_PRELOAD] uid=$(id -u) pwd=$(pwd)"'\n`,
  nothing: '',
};

const text = (name, content) => h.toXml({
  ToUserName: srv.apps[name].corpid, FromUserName: 'zhangsan',
  CreateTime: String(Math.floor(Date.now() / 1000)), MsgType: 'text', Content: content,
  MsgId: String(Date.now()) + String(Math.random()).slice(2, 8), AgentID: String(srv.apps[name].agentid),
});

// { rc, exited, code, signal, timed_out, too_large, len, err, out }
async function run(name, key = 'run') {
  const r = await h.callback(srv, name, text(name, key), { timeout: 15000 });
  assert.equal(r.status, 200);
  const c = r.msg.get('Content');
  const m = /^rc=(-?\d+) exited=(\d) code=(\d+) signal=(\d+) timed_out=(\d) too_large=(\d) len=(\d+) err=(.*)\n([^]*)$/.exec(c);
  assert.ok(m, c);
  return {
    rc: +m[1], exited: +m[2], code: +m[3], signal: +m[4], timed_out: +m[5], too_large: +m[6],
    len: +m[7], err: m[8], out: m[9],
  };
}

// The helper: the kore parent's child whose title says so.
function helperPids() {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      return +stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === srv.child.pid &&
        /\[commands\]/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
    } catch { return false; }
  });
}

async function newHelper(old) {
  const t0 = Date.now();
  for (;;) {
    const p = helperPids();
    if (p.length === 1 && p[0] !== old) return p[0];
    assert.ok(Date.now() - t0 < 5000, `no new helper: ${p} ${(await import('node:child_process')).execSync('ps -eo pid,ppid,args --forest').toString()}`);
    await h.sleep(50);
  }
}

before(async () => {
  srv = await h.startServer({
    workers: 1,
    globalExtra: 'handler_threads = 12\n',
    apps: Object.entries(sections).map(([name, extra]) => ({
      name, handler: 'commands', extra: `${extra}deadline_ms = 4500\n`,
    })),
  });
});

after(async () => {
  const log = await srv.stop();
  assert.deepEqual(h.deaths(log), [], 'a kore process died');
});

test('a line is split into words as sh would, and run without a shell', async () => {
  const r = await run('words');
  assert.equal(r.rc, 0, r.err);
  assert.equal(r.out, `['a b', 'c"d', 'e f']\n`);
});

test('%s is a file in a fresh directory under _dir; a suffix is kept, the directory removed', async () => {
  const r = await run('suffix');
  assert.equal(r.rc, 0, r.err);
  const m = /^(\/tmp\/wecom-cmd\.\w{6})\/out\.jpg\n$/.exec(r.out);
  assert.ok(m, r.out);
  assert.throws(() => readdirSync(m[1]), /ENOENT/);
});

test('without %s the output is stdout', async () => {
  assert.deepEqual(await run('stdout'), {
    rc: 0, exited: 1, code: 0, signal: 0, timed_out: 0, too_large: 0, len: 5, err: '', out: 'hello',
  });
});

test('a failure gives its exit status and the first line of its stderr', async () => {
  const r = await run('fail');
  assert.equal(r.rc, -1);
  assert.equal(r.exited, 1);
  assert.equal(r.code, 7);
  assert.equal(r.err, 'exit status 7: oops');
});

test('a program that does not exist: status 127 and why', async () => {
  const r = await run('missing');
  assert.equal(r.code, 127);
  assert.equal(r.err, 'exit status 127: cannot run /nonexistent/camera: No such file or directory');
});

test('a command that hangs is killed at its timeout, its group with it', async () => {
  const t0 = Date.now();
  const r = await run('slow');
  assert.ok(Date.now() - t0 < 2000, `answered in ${Date.now() - t0} ms`);
  assert.equal(r.timed_out, 1);
  assert.equal(r.signal, 9);
  assert.equal(r.err, 'killed after 300 ms (run_timeout_ms)');
  const left = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try { return readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u000021.38\u0000'; } catch { return false; }
  });
  assert.deepEqual(left, []);
});

test('an output past _output_max fails the run: not cut, not kept', async () => {
  const r = await run('big');
  assert.equal(r.rc, -1);
  assert.equal(r.too_large, 1);
  assert.equal(r.len, 0);
  assert.equal(r.err, 'its output passed 1048576 bytes (run_output_max)');
});

test('megabytes on stderr and stdout neither block nor reach the result', async () => {
  const r = await run('noisy');
  assert.equal(r.rc, 0, r.err);
  assert.equal(r.out, 'made\n');
});

test('_shell = yes runs the line with /bin/sh -c', async () => {
  const r = await run('pipe');
  assert.equal(r.rc, 0, r.err);
  assert.equal(r.out, 'ONE TWO\n');
});

test('a command that exits 0 but writes no %s file is a failure', async () => {
  const r = await run('nofile');
  assert.equal(r.rc, -1);
  assert.equal(r.err, 'it exited 0 but wrote no file at %s');
});

test('it does not inherit the server\'s preloads; it runs in / as the workers\' user', async () => {
  const r = await run('env');
  assert.equal(r.rc, 0, r.err);
  assert.equal(r.out, `preload=[] uid=${process.getuid()} pwd=/\n`);
});

test('a worker can run only the keys its app declared, and only its own section\'s', async () => {
  let r = await run('stdout', 'capture');
  assert.equal(r.rc, -1);
  assert.equal(r.err, '[app stdout] has no capture command');
  r = await run('nothing');
  assert.equal(r.err, '[app nothing] has no run command');
});

test('at most 8 commands at once: the rest are refused at once, not queued', async () => {
  const rs = await Promise.all(Array.from({ length: 11 }, () => run('sleeper')));
  const ok = rs.filter((r) => r.rc === 0).length;
  const busy = rs.filter((r) => /must wait: 8 commands are running/.test(r.err)).length;
  assert.equal(ok + busy, 11, JSON.stringify(rs.map((r) => r.err)));
  assert.ok(ok >= 8 && busy >= 1, `${ok} ran, ${busy} refused`);
});

test('the helper killed -9 while idle: the parent restarts it and commands run again', async () => {
  const [pid] = helperPids();
  assert.ok(pid, 'a helper runs');
  process.kill(+pid, 'SIGKILL');
  const next = await newHelper(pid);
  assert.notEqual(next, pid);
  const r = await run('stdout');
  assert.equal(r.out, 'hello');
  const lines = await h.waitLog(srv, new RegExp(`the command helper \\(pid ${pid}\\) ended by SIGKILL; restarted as pid ${next}`));
  assert.equal(lines.length, 1, srv.log());
});

test('the helper killed while a command runs: that command still answers', async () => {
  const [pid] = helperPids();
  const pending = run('late');
  await h.sleep(300);
  process.kill(+pid, 'SIGKILL');
  const r = await pending;
  assert.equal(r.rc, 0, r.err);
  assert.equal(r.out, 'late');
  await newHelper(pid);
  assert.equal((await run('stdout')).out, 'hello');
});

test('a line that needs a shell stops the server at start, naming the key', async () => {
  const bad = [
    ['run = echo hi | tee /tmp/x\n', /\[app cmdbad\]: run: '\|' needs a shell: quote it, or set the key's _shell = yes/],
    ["run = echo 'open\n", /\[app cmdbad\]: run: an unterminated '/],
    ['run = LANG=C date\n', /\[app cmdbad\]: run: 'LANG=C' sets a variable/],
    ['run = date\nrun_timeout_ms = soon\n', /\[app cmdbad\]: run: run_timeout_ms: bad value 'soon'/],
    ['run = date\nrun_shell = maybe\n', /\[app cmdbad\]: run: run_shell: bad value 'maybe' \(yes or no\)/],
  ];
  for (const [extra, re] of bad) {
    await assert.rejects(h.startServer({ workers: 1, apps: [{ name: 'cmdbad', handler: 'commands', extra }] }), re);
  }
});
