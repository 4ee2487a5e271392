// SPDX-License-Identifier: ISC
// Runs the real nginx (Debian 12 package nginx, 1.22.1) as the current
// user, everything under one temporary directory: nginx.conf written by the
// test, pid, logs and temp paths there, "daemon off", no "user", listening
// on free 127.0.0.1 ports. The shipped files are used as they are: the
// directory's snippets/ is a symlink to conf/nginx/, so "include
// snippets/wecom-log.conf" in a test's nginx.conf, or in the shipped site
// file, reads the repository's file (relative includes resolve against the
// directory of the -c file, as they resolve against /etc/nginx/ in
// production).
//
//   import { nginxBinary, nginxDir, startNginx, nginxTest } from './nginx.mjs'
//   const dir = nginxDir()                      → tmp dir with logs/, temp/, snippets/
//   const ng = await startNginx(dir, (ports) => confText, { ports: 1, probe })
//                                               → { ports, log(), stop() }
//   nginxTest(dir, confText)                    → { status, output } of nginx -t

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from '../callback/harness.mjs';

// The shipped files; WECOM_NGINX_DIR points a run at another copy (used to
// show what the test finds on an older layout).
export const CONF_DIR = resolve(process.env.WECOM_NGINX_DIR ?? join(ROOT, 'conf', 'nginx'));

export function nginxBinary() {
  if (process.env.NGINX_BIN) return existsSync(process.env.NGINX_BIN) ? process.env.NGINX_BIN : null;
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx']) {
    if (existsSync(p)) return p;
  }
  const r = spawnSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export function freePort(host = '127.0.0.1') {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, host, () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

export function canBind(host) {
  return new Promise((res) => {
    const s = net.createServer();
    s.on('error', () => res(false));
    s.listen(0, host, () => s.close(() => res(true)));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A directory for one nginx: logs/, temp/, snippets -> conf/nginx.
export function nginxDir(prefix = 'wecom-nginx-') {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // Run as root (CI), nginx's workers are "nobody": let them reach temp/.
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'temp'));
  symlinkSync(CONF_DIR, join(dir, 'snippets'));
  return dir;
}

// The main-context lines every test nginx.conf starts with: Debian's
// nginx.conf has "error_log /var/log/nginx/error.log;" (level error) and
// "access_log /var/log/nginx/access.log;" (combined) around the sites:
// main.error.log and main.access.log stand for them here.
export function mainConf(dir) {
  return `# written by tests/nginx/nginx.mjs
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/main.error.log;
events { worker_connections 64; }
`;
}

export function httpCommon(dir) {
  return `	client_body_temp_path ${dir}/temp/body;
	proxy_temp_path ${dir}/temp/proxy;
	fastcgi_temp_path ${dir}/temp/fastcgi;
	uwsgi_temp_path ${dir}/temp/uwsgi;
	scgi_temp_path ${dir}/temp/scgi;
	default_type application/octet-stream;
	access_log ${dir}/logs/main.access.log;
`;
}

function args(dir, conf) {
  return ['-p', `${dir}/`, '-c', join(dir, conf), '-e', join(dir, 'logs', 'startup.log')];
}

// nginx -t of a configuration written into dir.
export function nginxTest(dir, text, name = 'nginx-t.conf') {
  writeFileSync(join(dir, name), text);
  const r = spawnSync(nginxBinary(), ['-t', ...args(dir, name)], { encoding: 'utf8', timeout: 20000 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const running = new Set();
process.on('exit', () => {
  for (const pid of running) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
});

// Starts nginx with conf(ports) (ports: opts.ports free 127.0.0.1 ports),
// ready once opts.probe(ports) resolves true. A port taken in between
// (bind() failed) is tried again with new ones.
export async function startNginx(dir, conf, { ports: nports = 1, probe, name = 'nginx.conf' } = {}) {
  for (let attempt = 1; ; attempt++) {
    const ports = [];
    for (let i = 0; i < nports; i++) ports.push(await freePort());
    writeFileSync(join(dir, name), conf(ports));
    let out = '';
    const child = spawn(nginxBinary(), args(dir, name), {
      cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    running.add(child.pid);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let exited = null;
    const exitP = new Promise((r) => child.on('exit', (code, sig) => {
      exited = { code, sig };
      running.delete(child.pid);
      r(exited);
    }));
    const ng = {
      ports, dir, pid: child.pid,
      log: () => {
        let s = out;
        try { s += readFileSync(join(dir, 'logs', 'startup.log'), 'utf8'); } catch { /* none */ }
        return s;
      },
      stop: async () => {
        if (exited) return exited;
        // SIGTERM: fast shutdown; the master waits for its worker.
        try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ }
        const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
        await exitP;
        clearTimeout(t);
        // The worker is gone with its master; make sure of it.
        try { process.kill(-child.pid, 'SIGKILL'); } catch { /* none left */ }
        return exited;
      },
    };
    const t0 = Date.now();
    for (;;) {
      if (exited) break;
      try {
        if (await probe(ports)) return ng;
      } catch { /* not yet */ }
      if (Date.now() - t0 > 15000) {
        await ng.stop();
        throw new Error(`nginx did not answer within 15 s:\n${ng.log()}`);
      }
      await sleep(50);
    }
    if (/bind\(\) to .* failed \(98/.test(ng.log()) && attempt < 5) continue;
    throw new Error(`nginx exited (${JSON.stringify(exited)}):\n${ng.log()}`);
  }
}
