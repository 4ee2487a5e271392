// SPDX-License-Identifier: ISC
// A throw-away PostgreSQL for one test file: Debian's own binaries, a
// fresh cluster (initdb) in a temporary directory, trust authentication
// for the superuser `wecom`, the database `wecom`, a Unix socket in that
// directory and 127.0.0.1 on a free port. Nothing of the machine's own
// clusters is touched.
//
//   const pg = await startPostgres();
//   pg.url                      postgresql://wecom@127.0.0.1:PORT/wecom
//   await pg.psql('select 1')   [['1']]
//   await pg.kill();            crash: every postgres process SIGKILLed
//   await pg.restart();         same port, same data (crash recovery)
//   await pg.stop();            fast shutdown, no process left, dir removed
//
// PostgreSQL refuses to run as root: under root the server (and initdb)
// run as an unprivileged user (PG_TEST_USER, default `nobody`) that owns
// the directory; psql stays the caller's (trust needs no password).

import { spawn, execFileSync } from 'node:child_process';
import {
  mkdtempSync, chownSync, chmodSync, openSync, closeSync,
  readFileSync, readdirSync, existsSync, rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../callback/harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Debian installs each major version under /usr/lib/postgresql/N/bin;
// PG_BIN overrides. The newest version present wins (15 on bookworm).
export function pgBin() {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = '/usr/lib/postgresql';
  let versions = [];
  try {
    versions = readdirSync(base).filter((v) => /^\d+$/.test(v) &&
      existsSync(join(base, v, 'bin', 'postgres')) && existsSync(join(base, v, 'bin', 'initdb')));
  } catch { /* none */ }
  if (!versions.length) {
    throw new Error('no PostgreSQL server under /usr/lib/postgresql/*/bin: apt-get install postgresql postgresql-client');
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return join(base, versions[0], 'bin');
}

// Who runs the server: ourselves, or under root an unprivileged user.
function serverIdentity() {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const user = process.env.PG_TEST_USER || 'nobody';
  try {
    const uid = Number(execFileSync('id', ['-u', user]).toString().trim());
    const gid = Number(execFileSync('id', ['-g', user]).toString().trim());
    if (uid === 0) throw new Error(`PG_TEST_USER=${user} is root`);
    return { user, uid, gid };
  } catch (e) {
    throw new Error(`running as root: cannot run PostgreSQL as '${user}' (${e.message}); set PG_TEST_USER`);
  }
}

// Environment for our children: none of the caller's PG* settings.
function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^PG/.test(k)) env[k] = v;
  env.LC_ALL = 'C';
  env.LANG = 'C';
  return env;
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    const out = [];
    const err = [];
    c.stdout.on('data', (d) => out.push(d));
    c.stderr.on('data', (d) => err.push(d));
    c.on('error', reject);
    c.on('close', (code, signal) => resolve({
      code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(),
    }));
    c.stdin.end(opts.input ?? '');
  });
}

// Live (not zombie) state of a pid: false once it is gone or a zombie
// (a killed postmaster's children are orphans; the init of some
// containers never reaps them).
export function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(ppid) {
  const kids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === ppid && f[0] !== 'Z') kids.push(Number(d));
    } catch { /* gone */ }
  }
  return kids;
}

async function waitGone(pids, ms) {
  const t0 = Date.now();
  while (pids.some(alive)) {
    if (Date.now() - t0 > ms) return false;
    await sleep(10);
  }
  return true;
}

// psql's unaligned, tuples-only output with every record ended by a NUL
// (-0: the last one too), fields split by \x1f and NULL printed as \x01:
// unambiguous for any text value (PostgreSQL text holds no NUL).
function parseRows(buf) {
  const s = buf.toString('utf8');
  if (!s.length) return [];
  const recs = s.split('\0');
  recs.pop();
  return recs.map((r) => r.split('\x1f').map((v) => (v === '\x01' ? null : v)));
}

/**
 * Starts a fresh cluster. opts.dir: where to make the temporary directory
 * (default the system's; under root it must be reachable by PG_TEST_USER);
 * opts.settings: extra `-c name=value` pairs, e.g. { max_connections: 20 }.
 */
export async function startPostgres(opts = {}) {
  const bin = pgBin();
  const who = serverIdentity();
  const env = cleanEnv();
  const asServer = who ? { uid: who.uid, gid: who.gid } : {};
  const t0 = Date.now();

  const dir = mkdtempSync(join(opts.dir ?? tmpdir(), 'wecom-pg-'));
  chmodSync(dir, 0o755);
  if (who) chownSync(dir, who.uid, who.gid);
  const dataDir = join(dir, 'data');
  const socketDir = dir;
  const logPath = join(dir, 'postgres.log');
  closeSync(openSync(logPath, 'a', 0o644));
  if (who) chownSync(logPath, who.uid, who.gid);

  const cleanup = () => rmSync(dir, { recursive: true, force: true });

  const init = await run(join(bin, 'initdb'), [
    '-D', dataDir, '-U', 'wecom', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync',
  ], { cwd: dir, env, ...asServer });
  if (init.code !== 0) {
    cleanup();
    throw new Error(`initdb failed (${init.code ?? init.signal})${who ? ` as ${who.user}` : ''}:\n${init.stderr}${init.stdout}`);
  }
  const initMs = Date.now() - t0;

  let port = opts.port ?? await freePort();
  let child = null;		// the postmaster
  let exited = null;
  let exitP = null;
  let logFrom = 0;

  const settings = {
    listen_addresses: '127.0.0.1',
    unix_socket_directories: socketDir,
    // fsync off: what a process crash loses is what never reached the
    // kernel, and commits do reach it (synchronous_commit stays on, or
    // kill() would lose the last 200 ms of commits).
    fsync: 'off',
    full_page_writes: 'off',
    shared_buffers: '32MB',
    log_line_prefix: '%m [%p] ',
    ...(opts.settings ?? {}),
  };

  const readLog = () => {
    try { return readFileSync(logPath, 'utf8'); } catch { return ''; }
  };

  // One postmaster on `port`; resolves when it accepts connections.
  async function launch() {
    logFrom = readLog().length;
    const args = ['-D', dataDir, '-p', String(port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    const logFd = openSync(logPath, 'a');
    exited = null;
    child = spawn(join(bin, 'postgres'), args, {
      cwd: dir, env, stdio: ['ignore', logFd, logFd], ...asServer,
    });
    closeSync(logFd);
    const me = child;
    exitP = new Promise((r) => me.on('exit', (code, sig) => {
      if (child === me) exited = { code, sig };
      r({ code, sig });
    }));
    const start = Date.now();
    for (;;) {
      const text = readLog().slice(logFrom);
      if (/database system is ready to accept connections/.test(text)) return;
      if (exited) throw new Error(`postgres exited (${JSON.stringify(exited)}):\n${text}`);
      if (Date.now() - start > 30000) {
        try { process.kill(me.pid, 'SIGKILL'); } catch { /* gone */ }
        throw new Error(`postgres not ready within 30 s:\n${text}`);
      }
      await sleep(10);
    }
  }

  // A free port can be taken between our probe and postgres' bind: a few
  // tries on fresh ports (only when the caller did not pick the port).
  for (let attempt = 0; ; attempt++) {
    try {
      await launch();
      break;
    } catch (e) {
      if (attempt < 3 && !opts.port && /could not bind|could not create any TCP\/IP sockets/.test(e.message)) {
        port = await freePort();
        continue;
      }
      if (child && !exited) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      cleanup();
      throw e;
    }
  }

  // Never leave a cluster behind, even when the test process dies early
  // (an uncaught error, a test that forgot stop()): every process
  // SIGKILLed, the directory removed.
  const reap = () => {
    if (child && !exited) {
      const pids = [child.pid, ...childrenOf(child.pid)];
      for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
    }
    cleanup();
  };
  process.on('exit', reap);
  const onSignal = () => { reap(); process.exit(128 + 15); };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.once(sig, onSignal);

  const psqlArgs = (db) => [
    '-X', '-q', '-A', '-t', '-0', '-v', 'ON_ERROR_STOP=1',
    '-F', '\x1f', '-P', 'null=\x01',
    '-h', socketDir, '-p', String(port), '-U', 'wecom', '-d', db, '-f', '-',
  ];

  const pg = {
    dir, dataDir, socketDir, bin,
    user: who?.user ?? null,
    get port() { return port; },
    get url() { return `postgresql://wecom@127.0.0.1:${port}/wecom`; },
    // libpq's form for the Unix socket.
    get socketUrl() { return `postgresql://wecom@/wecom?host=${encodeURIComponent(socketDir)}&port=${port}`; },
    get pid() { return child && !exited ? child.pid : null; },
    running: () => Boolean(child && !exited),
    timing: { initMs, startMs: 0 },
    log: readLog,

    // The postmaster and its live children.
    pids() {
      if (!child || exited) return [];
      return [child.pid, ...childrenOf(child.pid)];
    },

    // Rows of every statement that returns rows, in order: arrays of
    // strings, NULL as null. Rejects with psql's message on an error.
    async psql(sql, { db = 'wecom' } = {}) {
      const r = await run('psql', psqlArgs(db), { env, input: sql });
      if (r.code !== 0) {
        const e = new Error(`psql: ${r.stderr.trim() || `exit ${r.code ?? r.signal}`}`);
        e.stderr = r.stderr;
        throw e;
      }
      return parseRows(r.stdout);
    },

    // Fast shutdown (SIGINT); keeps the directory for restart().
    async halt() {
      if (!child || exited) return;
      const pids = pg.pids();
      try { process.kill(child.pid, 'SIGINT'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } }, 15000);
      await exitP;
      clearTimeout(t);
      if (!await waitGone(pids, 5000)) {
        for (const p of pids) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
        await waitGone(pids, 5000);
      }
    },

    // A crash: every postgres process SIGKILLed at once (the postmaster
    // stopped first, so it starts no new child meanwhile). Open
    // connections break; the TCP port and the socket stop answering.
    async kill() {
      if (!child || exited) return;
      try { process.kill(child.pid, 'SIGSTOP'); } catch { /* gone */ }
      const pids = pg.pids();
      for (const p of pids.slice(1)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
      try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
      await exitP;
      await waitGone(pids, 5000);
    },

    // halt() (if running), then the same cluster on the same port. After
    // kill(), the stale lock files name dead (perhaps zombie) pids: gone.
    async restart() {
      await pg.halt();
      rmSync(join(dataDir, 'postmaster.pid'), { force: true });
      rmSync(join(socketDir, `.s.PGSQL.${port}.lock`), { force: true });
      const t = Date.now();
      await launch();
      pg.timing.restartMs = Date.now() - t;
    },

    // Shut down, no process left, the directory removed (opts.keep: kept).
    async stop({ keep = false } = {}) {
      await pg.halt();
      process.removeListener('exit', reap);
      for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.removeListener(sig, onSignal);
      if (!keep) cleanup();
    },
  };

  // The database the servers use; the cluster has only `postgres`.
  try {
    await pg.psql('CREATE DATABASE wecom', { db: 'postgres' });
  } catch (e) {
    await pg.stop();
    throw e;
  }
  pg.timing.startMs = Date.now() - t0 - initMs;
  pg.timing.totalMs = Date.now() - t0;
  return pg;
}

// A value as an SQL literal, for tests that build SQL for psql() (which
// has no bind parameters): literal("it's") → 'it''s', null → NULL.
export function literal(v) {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  return `'${String(v).replace(/'/g, "''")}'`;
}
