// SPDX-License-Identifier: ISC
// The sandbox never fails silently: a forbidden syscall ends the whole
// worker with one line naming the call and the app, Kore starts a new
// worker, and every worker answers again. glibc's own memory calls
// (mremap when a large block grows) are allowed. Tracing is off here:
// these are the production verdicts, not the suites' logged ones.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let srv;

const text = (app, content) => h.toXml({
  ToUserName: app.corpid, FromUserName: 'zhangsan', CreateTime: String(Math.floor(Date.now() / 1000)),
  MsgType: 'text', Content: content, MsgId: String(Date.now()) + String(Math.random()).slice(2, 8), AgentID: String(app.agentid),
});

async function send(name, content) {
  return h.callback(srv, name, text(srv.apps[name], content), { timeout: 5000 }).catch((e) => ({ status: null, error: e }));
}

// Every worker answers: more requests than workers, each a fresh connection.
async function allAnswer() {
  const t0 = Date.now();
  for (;;) {
    const rs = await Promise.all(Array.from({ length: 8 }, () => send('inline', 'ping')));
    if (rs.every((r) => r.status === 200 && r.msg?.get('Content') === 'sandbox ping')) return;
    assert.ok(Date.now() - t0 < 10000, `workers still not answering: ${rs.map((r) => r.status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  srv = await h.startServer({
    trace: false,
    workers: 2,
    apps: [
      { name: 'inline', handler: 'sandbox' },
      { name: 'threaded', handler: 'sandbox', extra: 'threaded = yes\n' },
    ],
  });
});

after(async () => {
  await srv.stop();
});

test('a large block grown by realloc (mremap) is allowed, inline and on a handler thread', async () => {
  for (const name of ['inline', 'threaded']) {
    const r = await send(name, 'grow');
    assert.equal(r.status, 200);
    assert.equal(r.msg.get('Content'), 'grew to 8388608');
  }
  assert.deepEqual(h.deaths(srv.log()), []);
});

test('a forbidden syscall on the event loop ends the worker with one line naming it and the app', async () => {
  const r = await send('inline', 'getpriority');
  assert.notEqual(r.status, 200, 'no answer from a worker that broke the sandbox');
  const lines = await h.waitLog(srv, /sandbox violation: syscall getpriority \(\d+\) in app inline;/);
  assert.equal(lines.length, 1, srv.log());
  await h.waitLog(srv, /restarting worker/);
  await allAnswer();
});

test('system() in a handler ends the worker (workers run no programs: commands go to the helper), never a silent thread', async () => {
  const before = h.deaths(srv.log()).length;
  const r = await send('threaded', 'system');
  assert.notEqual(r.status, 200);
  const lines = await h.waitLog(srv, /sandbox violation: syscall \w+ \(\d+\) in (a child of )?app threaded;/);
  assert.ok(lines.length >= 1, srv.log());
  assert.ok(h.deaths(srv.log()).length > before);
  await allAnswer();
  const after = await send('threaded', 'hello');
  assert.equal(after.status, 200);
  assert.equal(after.msg.get('Content'), 'sandbox hello');
});
