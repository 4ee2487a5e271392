// SPDX-License-Identifier: ISC
// Starts a real Kore server (build/wecom-test.so) for one test file and
// talks to it the way WeCom does: signed, encrypted callbacks in, signed,
// encrypted replies out. Every reply envelope is checked here with
// Tencent's own JS implementation (@wecom/crypto), so a test only looks
// at the decrypted message.

import { spawn } from 'node:child_process';
import { randomBytes, createCipheriv } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import net from 'node:net';
import assert from 'node:assert/strict';
import { encrypt, decrypt, getSignature } from '@wecom/crypto';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
// BUILD (from tests/run.sh) picks the build tree, e.g. build/asan.
export const MODULE = join(resolve(ROOT, process.env.BUILD ?? 'build'), 'wecom-test.so');

// Tencent's public sample credentials (wecom-protocol.md §1).
export const SAMPLE = {
  corpid: 'wx5823bf96d3bd56c7',
  token: 'QDG6eK',
  aeskey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
  verifyQuery: 'msg_signature=5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3&timestamp=1409659589&nonce=263014780&echostr=P9nAzCzyDtyTWESHep1vC5X9xho%2FqYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp%2B4RPcs8TgAE7OaBO%2BFZXvnaqQ%3D%3D',
  verifyAnswer: '1616140317555161061',
  postQuery: 'msg_signature=477715d11cdb4164915debcba66cb864d751f3e6&timestamp=1409659813&nonce=1372623149',
  postBody: '<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><Encrypt><![CDATA[RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>',
};

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomAlnum(n) {
  const b = randomBytes(n);
  let s = '';
  for (let i = 0; i < n; i++) s += ALNUM[b[i] % ALNUM.length];
  return s;
}

// 43 characters of [A-Za-z0-9] that decode (with "=") to 32 bytes: take
// the base64 of 32 random bytes and retry until it happens to be alnum.
export function randomAesKey() {
  for (;;) {
    const s = randomBytes(32).toString('base64').slice(0, 43);
    if (/^[A-Za-z0-9]{43}$/.test(s)) return s;
  }
}

export function randomCredentials() {
  return {
    corpid: 'ww' + randomBytes(8).toString('hex'),
    token: randomAlnum(24),
    aeskey: randomAesKey(),
  };
}

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------
// XML: escaping for the plaintexts we build, and a small parser for the
// replies (elements, text, CDATA, the five entities and char refs).

export function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function cdata(s) {
  return '<![CDATA[' + String(s).split(']]>').join(']]]]><![CDATA[>') + ']]>';
}

// Builds <xml>…</xml> from an object: strings become CDATA, numbers stay
// bare, nested objects become elements, arrays repeat the element.
export function toXml(obj) {
  const body = (o) => Object.entries(o).map(([k, v]) => {
    if (Array.isArray(v)) return v.map((x) => body({ [k]: x })).join('');
    if (v !== null && typeof v === 'object') return `<${k}>${body(v)}</${k}>`;
    if (typeof v === 'number' || typeof v === 'bigint') return `<${k}>${v}</${k}>`;
    return `<${k}>${cdata(v)}</${k}>`;
  }).join('\n');
  return `<xml>\n${body(obj)}\n</xml>`;
}

function unentity(s) {
  return s.replace(/&(lt|gt|amp|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (m, e) => {
    switch (e) {
      case 'lt': return '<';
      case 'gt': return '>';
      case 'amp': return '&';
      case 'quot': return '"';
      case 'apos': return "'";
      default:
        return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    }
  });
}

// Returns { name, text, children } for the root element.
export function parseXml(src) {
  let i = 0;
  const skipMisc = () => {
    for (;;) {
      while (i < src.length && /\s/.test(src[i])) i++;
      if (src.startsWith('<?', i)) i = src.indexOf('?>', i) + 2;
      else if (src.startsWith('<!--', i)) i = src.indexOf('-->', i) + 3;
      else return;
    }
  };
  const element = () => {
    const m = /^<([A-Za-z_][\w.-]*)\s*(\/?)>/.exec(src.slice(i));
    if (!m) throw new Error(`bad XML at ${i}: ${src.slice(i, i + 40)}`);
    i += m[0].length;
    const node = { name: m[1], text: '', children: [] };
    if (m[2] === '/') return node;
    for (;;) {
      if (src.startsWith('<![CDATA[', i)) {
        const end = src.indexOf(']]>', i);
        node.text += src.slice(i + 9, end);
        i = end + 3;
      } else if (src.startsWith('</', i)) {
        const end = src.indexOf('>', i);
        const name = src.slice(i + 2, end).trim();
        if (name !== node.name) throw new Error(`mismatched </${name}> for <${node.name}>`);
        i = end + 1;
        return node;
      } else if (src.startsWith('<!--', i)) {
        i = src.indexOf('-->', i) + 3;
      } else if (src[i] === '<') {
        node.children.push(element());
      } else if (i >= src.length) {
        throw new Error(`unterminated <${node.name}>`);
      } else {
        const end = src.indexOf('<', i);
        node.text += unentity(src.slice(i, end === -1 ? src.length : end));
        i = end === -1 ? src.length : end;
      }
    }
  };
  skipMisc();
  const root = element();
  skipMisc();
  if (i !== src.length) throw new Error('trailing data after root element');
  return root;
}

// A flat view of a parsed reply: get('Image/MediaId'), all('Articles/item').
export function xmlView(root) {
  const find = (node, path) => {
    let nodes = [node];
    for (const part of path.split('/')) {
      nodes = nodes.flatMap((n) => n.children.filter((c) => c.name === part));
    }
    return nodes;
  };
  return {
    root,
    get: (path) => {
      const n = find(root, path);
      return n.length ? n[0].text : undefined;
    },
    all: (path) => find(root, path).map(xmlView),
    names: () => root.children.map((c) => c.name),
  };
}

// ---------------------------------------------------------------------
// Crypto helpers beyond @wecom/crypto: hand-built plaintexts for the
// hostile cases (bad padding, bad lengths).

function keyOf(aeskey) {
  const key = Buffer.from(aeskey + '=', 'base64');
  assert.equal(key.length, 32);
  return key;
}

// AES-256-CBC without padding over exactly the bytes given (a multiple
// of 16), base64.
export function rawEncrypt(aeskey, plain) {
  const key = keyOf(aeskey);
  const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
  c.setAutoPadding(false);
  return Buffer.concat([c.update(plain), c.final()]).toString('base64');
}

// random(16) ‖ len(4) ‖ msg ‖ receiveid, with options to lie about the
// length or the padding. pad: a number (the pad byte value, repeated to
// fill to a 32-byte multiple — which may be "wrong") or undefined (PKCS#7).
export function buildPlain({ msg, receiveid, lenField, pad }) {
  const m = Buffer.isBuffer(msg) ? msg : Buffer.from(msg);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(lenField ?? m.length, 0);
  const body = Buffer.concat([randomBytes(16), len, m, Buffer.from(receiveid)]);
  let n = 32 - (body.length % 32);
  let value = n;
  if (pad !== undefined) {
    value = pad;
    if (n === 0) n = 32;
  }
  return Buffer.concat([body, Buffer.alloc(n, value)]);
}

// ---------------------------------------------------------------------

export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'wecom-cb-'));
  const port = await freePort();
  const apps = {
    echo: { name: 'echo', handler: 'echo', path: '/wecom/echo', agentid: 218, ...SAMPLE },
    dump: { name: 'dump', handler: 'dump', path: '/cb/dump', agentid: 1000002, ...randomCredentials() },
    routes: { name: 'routes', handler: 'routes', path: '/cb/routes', agentid: 1000003, ...randomCredentials() },
  };
  const bodyMax = opts.bodyMax ?? 65536;

  // The shipped kore.conf, with the test's port and module: the tests
  // run under the settings users run under.
  const koreConf = readFileSync(join(ROOT, 'kore.conf'), 'utf8')
    .replace(/bind\s+127\.0\.0\.1\s+\d+/, `bind\t\t127.0.0.1 ${port}`)
    .replace(/^load\s+.*$/m, `load\t\t${MODULE}\n${opts.trace === false ? '' : 'seccomp_tracing yes\n'}${opts.koreExtra ?? ''}`)
    .replace(/^workers\s+\d+/m, `workers\t\t\t${opts.workers ?? 2}`);
  const appSection = (a, extra = '') => `
[app ${a.name}]
handler = ${a.handler}
corpid  = ${a.corpid}
agentid = ${a.agentid}
token   = ${a.token}
aeskey  = ${a.aeskey}
path    = ${a.path}
${extra}`;
  // More apps: opts.apps = [{ name, handler, extra }] with fresh credentials.
  for (const a of opts.apps ?? []) {
    apps[a.name] = { path: `/cb/${a.name}`, agentid: 1000010, ...randomCredentials(), ...a };
  }
  const extraSections = (opts.apps ?? []).map((a) => appSection(apps[a.name], a.extra ?? '')).join('');
  // The echo app answers Tencent's 2014 sample vector: no timestamp window.
  // The suites reuse MsgIds across cases on purpose: retry recognition is
  // off unless a test asks for it (opts.dedupe).
  const wecomConf = `# written by tests/callback/harness.mjs
[global]
api_base = ${opts.apiBase ?? 'http://127.0.0.1:9/cgi-bin/'}
state_dir = ${dir}
body_max = ${bodyMax}
${opts.dedupe ? '' : 'dedupe_window = 0\n'}${opts.globalExtra ?? ''}
${appSection(apps.echo, 'greeting = Welcome\ntimestamp_window = 0\n')}${appSection(apps.dump)}${appSection(apps.routes, 'motto = hello motto\n')}${extraSections}
${opts.sections ?? ''}`;
  writeFileSync(join(dir, 'kore.conf'), koreConf);
  // opts.confFile: a config of the test's own (the tutorial's), as it is.
  const confPath = opts.confFile ?? join(dir, 'wecom.conf');
  if (!opts.confFile) writeFileSync(confPath, wecomConf);

  let log = '';
  const child = spawn('stdbuf', ['-oL', '-eL', 'kore', '-f', '-n', '-r', '-c', join(dir, 'kore.conf')], {
    cwd: dir,
    env: {
      ...process.env,
      WECOM_CONF: confPath,
      // SANITIZE=1: the stock kore binary loads an ASan module.
      // LeakSanitizer's exit-time tracer cannot run in the workers' seccomp
      // sandbox (it would spin for ever): leaks are the unit tests' job.
      ...(process.env.WECOM_KORE_PRELOAD ? {
        LD_PRELOAD: process.env.WECOM_KORE_PRELOAD,
        ASAN_OPTIONS: `${process.env.ASAN_OPTIONS ?? ''}:detect_leaks=0`,
      } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.on('data', (d) => { log += d.toString(); });
  child.stderr.on('data', (d) => { log += d.toString(); });
  let exited = null;
  const exitP = new Promise((r) => child.on('exit', (code, sig) => { exited = { code, sig }; r(exited); }));
  // Never leave a server behind, even when the test process dies early
  // (an uncaught error, a closed stdout).
  const reap = () => {
    if (!exited) try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
  };
  process.on('exit', reap);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP']) {
    process.once(sig, () => { reap(); process.exit(128 + 15); });
  }

  const srv = {
    dir, port, apps, bodyMax, child,
    log: () => log,
    url: (path) => `http://127.0.0.1:${port}${path}`,
  };

  // Ready when a request is answered (workers up), not just accepted.
  const t0 = Date.now();
  for (;;) {
    if (exited) throw new Error(`kore exited (${JSON.stringify(exited)}) before answering:\n${log}`);
    try {
      const r = await request(srv, { path: '/__ready__', timeout: 1000 });
      if (r.status === 404) break;
    } catch { /* not yet */ }
    if (Date.now() - t0 > 15000) {
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
      throw new Error(`kore did not answer on port ${port} within 15 s:\n${log}`);
    }
    await sleep(50);
  }

  srv.stop = async () => {
    if (!exited) {
      const t0 = Date.now();
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      const t = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 5000);
      await exitP;
      clearTimeout(t);
      srv.stopMs = Date.now() - t0;
    }
    rmSync(dir, { recursive: true, force: true });
    return log;
  };
  return srv;
}

// Lines that mean a worker (or the parent) died, or would have: seccomp
// violations (the suites run with seccomp_tracing on, which logs and
// allows them), signals, abnormal exits. Checked at the end of every
// test file.
export function deaths(log) {
  // "exited with status 0" is a worker that stopped cleanly before its
  // parent (the whole process group gets SIGTERM): not a death. The
  // store's line quotes libpq ("FATAL:  the database system is starting
  // up" while PostgreSQL restarts): the database's word, not a death.
  return log.split('\n').filter((l) => /died|violation|signal|exited with status|segfault|fatal|abort/i.test(l) &&
    !/exited with status 0$/.test(l) && !/: store: the database is unreachable \(/.test(l));
}

export async function stopAndCheck(srv) {
  const log = await srv.stop();
  assert.deepEqual(deaths(log), [], 'a kore process died');
  return log;
}

// Polls the log until re matches (the worker writes asynchronously).
export async function waitLog(srv, re, ms = 3000) {
  const t0 = Date.now();
  for (;;) {
    const lines = srv.log().split('\n').filter((l) => re.test(l));
    if (lines.length || Date.now() - t0 > ms) return lines;
    await sleep(20);
  }
}

// ---------------------------------------------------------------------
// HTTP.

// A plain node:http request. Returns { status, headers, body (Buffer),
// text, ms }. No keep-alive: each call is a fresh connection.
export function request(srv, { method = 'GET', path = '/', body, headers = {}, timeout = 10000, agent = false } = {}) {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const h = { ...headers };
    if (body !== undefined && h['content-length'] === undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({
      host: '127.0.0.1', port: srv.port, method, path, headers: h, agent,
    }, (resp) => {
      const chunks = [];
      resp.on('data', (c) => chunks.push(c));
      resp.on('end', () => {
        const b = Buffer.concat(chunks);
        res({ status: resp.statusCode, headers: resp.headers, body: b, text: b.toString(), ms: performance.now() - t0 });
      });
      resp.on('error', rej);
    });
    req.setTimeout(timeout, () => req.destroy(new Error(`timeout after ${timeout} ms: ${method} ${path}`)));
    req.on('error', rej);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Signs and encrypts a plaintext message for an app as WeCom would.
// Options: timestamp, nonce, receiveid (another corpid), token (to sign
// with another token), encrypt (a ready Encrypt text), envelope (a
// function (encrypt) → body), query (extra query text appended).
export function buildCallback(app, plainXml, o = {}) {
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? String(randomBytes(4).readUInt32BE(0));
  const enc = o.encrypt ?? encrypt(app.aeskey, plainXml, o.receiveid ?? app.corpid);
  const sig = o.signature ?? getSignature(o.token ?? app.token, timestamp, nonce, enc);
  const body = o.envelope
    ? o.envelope(enc)
    : `<xml><ToUserName><![CDATA[${app.corpid}]]></ToUserName><Encrypt><![CDATA[${enc}]]></Encrypt><AgentID><![CDATA[${app.agentid}]]></AgentID></xml>`;
  const q = `msg_signature=${sig}&timestamp=${timestamp}&nonce=${nonce}${o.query ?? ''}`;
  return { path: `${o.path ?? app.path}?${q}`, body, encrypt: enc, timestamp, nonce, signature: sig };
}

// Checks a reply envelope and returns the decrypted plaintext.
export function openReply(app, text) {
  const env = xmlView(parseXml(text));
  assert.deepEqual(env.names(), ['Encrypt', 'MsgSignature', 'TimeStamp', 'Nonce'], `envelope: ${text}`);
  const enc = env.get('Encrypt');
  const sig = env.get('MsgSignature');
  const ts = env.get('TimeStamp');
  const nonce = env.get('Nonce');
  assert.match(ts, /^\d{10}$/, 'TimeStamp is a Unix time');
  assert.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, 'TimeStamp is now');
  assert.ok(nonce.length > 0, 'Nonce is set');
  assert.equal(sig, getSignature(app.token, ts, nonce, enc), 'reply signature verifies');
  const { message, id } = decrypt(app.aeskey, enc);
  assert.equal(id, app.corpid, 'reply receiveid is the corpid');
  return message;
}

// Sends a signed callback; returns the response plus, for a 200 with a
// body, the verified, decrypted reply (reply: text, msg: xmlView).
export async function callback(srv, appName, plainXml, o = {}) {
  const app = srv.apps[appName];
  const cb = buildCallback(app, plainXml, o);
  const r = await request(srv, {
    method: 'POST', path: cb.path, body: cb.body, headers: o.headers ?? {}, timeout: o.timeout, agent: o.agent ?? false,
  });
  if (r.status === 200 && r.body.length > 0) {
    r.reply = openReply(app, r.text);
    r.msg = xmlView(parseXml(r.reply));
  }
  return r;
}

// The reply of the dump app as a map: field → value (last wins).
export function dumpFields(r) {
  assert.equal(r.status, 200, `dump status ${r.status}`);
  assert.ok(r.msg, 'dump app replied');
  assert.equal(r.msg.get('MsgType'), 'text');
  const out = {};
  for (const line of r.msg.get('Content').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

// A signed GET for URL verification of an app; echostr as given.
export function verifyPath(app, plain, o = {}) {
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? String(randomBytes(4).readUInt32BE(0));
  const echostr = encrypt(app.aeskey, plain, o.receiveid ?? app.corpid);
  const sig = o.signature ?? getSignature(app.token, timestamp, nonce, echostr);
  const e = o.raw ? echostr : encodeURIComponent(echostr);
  return { path: `${app.path}?msg_signature=${sig}&timestamp=${timestamp}&nonce=${nonce}&echostr=${e}`, echostr };
}

// A raw request over a socket, for HTTP a client library will not send.
// data: a string/Buffer or an array of chunks written with delayMs
// between them. Resolves when a full response (by content-length) is
// read, the peer closes, or timeout passes: { status, headers, body,
// raw, closed, ms }.
export function raw(srv, data, { delayMs = 0, timeout = 5000, end = false } = {}) {
  return new Promise((res) => {
    const t0 = performance.now();
    const sock = net.connect(srv.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const text = buf.toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const hend = text.indexOf('\r\n\r\n');
      const headers = {};
      if (hend > 0) {
        for (const l of text.slice(0, hend).split('\r\n').slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
      }
      res({
        status: m ? Number(m[1]) : null, headers, raw: text,
        body: hend > 0 ? buf.subarray(hend + 4) : Buffer.alloc(0), closed, ms: performance.now() - t0,
      });
    };
    const timer = setTimeout(() => finish(false), timeout);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const text = buf.toString('latin1');
      const hend = text.indexOf('\r\n\r\n');
      if (hend > 0) {
        const cl = /\r\ncontent-length:\s*(\d+)/i.exec(text.slice(0, hend));
        if (cl && buf.length - (hend + 4) >= Number(cl[1])) finish(false);
      }
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => finish(true));
    sock.on('connect', async () => {
      const chunks = Array.isArray(data) ? data : [data];
      for (const c of chunks) {
        if (done || sock.destroyed) return;
        sock.write(c);
        if (delayMs) await sleep(delayMs);
      }
      if (end) sock.end();
    });
  });
}

export { encrypt, decrypt, getSignature, sleep };
