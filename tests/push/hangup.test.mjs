// SPDX-License-Identifier: ISC
// A relay or push request whose client hung up before a thread took it
// is dropped unrun: it does not reach WeCom later, with its copied body.
// One api thread, kept busy by a slow WeCom, makes the order certain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as h from '../callback/harness.mjs';
import { startFake, CORPID } from '../fake_wecom/server.mjs';

const RELAY_KEY = 'relay-key-hangup-0123456789';
let srv, fake;

before(async () => {
  fake = await startFake();
  srv = await h.startServer({
    workers: 1, apiBase: fake.base, globalExtra: `api_threads = 1

[app ops]
corpid = ${CORPID}
agentid = 1000002
secret = app-secret-1

[relay]
key = ${RELAY_KEY}
`,
  });
});

after(async () => {
  await h.stopAndCheck(srv);
  await fake.close();
});

const send = (content) => h.request(srv, {
  method: 'POST', path: '/cgi-bin/webhook/send?key=robot-hangup-1',
  body: JSON.stringify({ msgtype: 'text', text: { content } }),
  headers: { 'content-type': 'application/json', 'x-relay-key': RELAY_KEY },
});

// The same request on a raw socket, closed before any answer.
function sendAndHangUp(content) {
  const body = JSON.stringify({ msgtype: 'text', text: { content } });
  return new Promise((res) => {
    const s = net.connect(srv.port, '127.0.0.1', () => {
      s.write(`POST /cgi-bin/webhook/send?key=robot-hangup-1 HTTP/1.1\r\nHost: x\r\n` +
        `Content-Type: application/json\r\nX-Relay-Key: ${RELAY_KEY}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      setTimeout(() => { s.destroy(); res(); }, 200);
    });
  });
}

test('a relayed call whose client left before its turn never reaches WeCom', async () => {
  await fetch(`${fake.url}/_fake/inject`, {
    method: 'POST', body: JSON.stringify({ path: 'webhook/send', delay_ms: 1500 }),
  });
  const first = send('first, slow');
  await h.sleep(200);            // the only api thread is now busy with it
  await sendAndHangUp('second, abandoned');
  const r = await first;
  assert.equal(r.status, 200);
  await h.sleep(800);
  const sent = (fake.state.robotSent.get('robot-hangup-1') ?? []).map((m) => m.text?.content ?? m.content);
  assert.equal(sent.length, 1, JSON.stringify(sent));
  const later = await send('third');
  assert.equal(later.status, 200);
  assert.equal(fake.state.robotSent.get('robot-hangup-1').length, 2);
});
