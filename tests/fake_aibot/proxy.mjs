// SPDX-License-Identifier: ISC
// A minimal HTTP CONNECT proxy for tests: tunnels to any host:port and
// records each CONNECT's target ("host:port"), in order. With auth
// ("user:pass") it wants Proxy-Authorization: Basic, else 407. Anything
// but CONNECT gets 405. Node built-ins only; never keeps a test alive.
//
//   import { startProxy } from './proxy.mjs'
//   → { port, url, connects: ['127.0.0.1:4433', …], requests, close() }

import http from 'node:http';
import net from 'node:net';

export function startProxy({ port = 0, host = '127.0.0.1', auth = null } = {}) {
  const connects = [];	// targets, in order
  const requests = [];	// { target, headers, ok }
  const socks = new Set();
  const track = (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    s.unref();
  };
  const server = http.createServer((req, res) => {
    res.writeHead(405, { allow: 'CONNECT', 'content-type': 'text/plain' });
    res.end('CONNECT only\n');
  });
  server.on('connection', track);
  server.on('connect', (req, client, head) => {
    const target = req.url;
    const rec = { target, headers: req.headers, ok: false };
    requests.push(rec);
    connects.push(target);
    client.on('error', () => {});
    const refuse = (status, extra = '') => client.end(`HTTP/1.1 ${status}\r\n${extra}`
      + 'content-length: 0\r\nconnection: close\r\n\r\n');
    if (auth) {
      const want = 'Basic ' + Buffer.from(auth).toString('base64');
      if (req.headers['proxy-authorization'] !== want)
        return refuse('407 Proxy Authentication Required', 'proxy-authenticate: Basic realm="fake"\r\n');
    }
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(target || '');
    if (!m) return refuse('400 Bad Request');
    const upstream = net.connect(Number(m[2]), m[1].replace(/^\[|\]$/g, ''));
    track(upstream);
    upstream.on('connect', () => {
      rec.ok = true;
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head && head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => { if (!rec.ok) refuse('502 Bad Gateway'); else client.destroy(); });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.unref();
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const p = server.address().port;
      resolve({
        port: p, url: `http://${host}:${p}`, connects, requests, server,
        close: () => new Promise((r) => {
          for (const s of socks) s.destroy();
          server.close(() => r());
        }),
      });
    });
  });
}
