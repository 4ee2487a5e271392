// SPDX-License-Identifier: ISC
// A callback-mode bot on two real servers (seccomp tracing on) sharing
// one PostgreSQL: WeCom's refreshes of a stream reach whichever server
// the load balancer picks, and each is answered with the stream as its
// handler on the other server last wrote it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../callback/harness.mjs';
import { startFake } from '../fake_wecom/server.mjs';
import { startPostgres } from '../pg/pg.mjs';
import { callbackBot, textBody, refreshBody, botCallback } from '../aibot/bot.mjs';
import { within } from './hosts.mjs';

const bot = callbackBot('streamer', 'stream', 'deadline_ms = 400\n');
let pg, fake, a, b;

before(async () => {
  pg = await startPostgres();
  fake = await startFake();
  const opts = {
    sections: bot.section, dedupe: true, apiBase: fake.base, globalExtra: `store = ${pg.url}\n`,
    apps: [{ name: 'streamapp', handler: 'stream' }],
  };
  [a, b] = await Promise.all([h.startServer(opts), h.startServer(opts)]);
});

after(async () => {
  for (const srv of [a, b]) if (srv) await h.stopAndCheck(srv);
  await within(fake?.close(), 5000);
  await within(pg?.stop(), 30000);
});

// Refreshes on srv every 100 ms until the stream is finished: the
// contents seen, in order, without repeats.
async function follow(srv, id) {
  const seen = [];
  for (let i = 0; i < 80; i++) {
    const r = await botCallback(srv, bot, refreshBody(id));
    assert.equal(r.status, 200);
    assert.ok(r.reply, `refresh ${i}: an answer`);
    assert.equal(r.reply.stream.id, id);
    if (seen.at(-1) !== r.reply.stream.content) seen.push(r.reply.stream.content);
    if (r.reply.stream.finish) return seen;
    await h.sleep(100);
  }
  assert.fail(`never finished: ${JSON.stringify(seen)}`);
}

test('a stream running on A is refreshed on B, growing until finished', async () => {
  const r = await botCallback(a, bot, textBody({ content: 'stream 5 300' }));
  assert.equal(r.reply.stream.finish, false);
  const seen = await follow(b, r.reply.stream.id);
  assert.equal(seen.at(-1), 'done 5');
  assert.ok(seen.length >= 3, `B saw the stream grow: ${JSON.stringify(seen)}`);
  for (let i = 1; i < seen.length - 1; i++) assert.ok(seen[i].startsWith(seen[i - 1]), JSON.stringify(seen));
  const rows = await pg.psql(`SELECT finish, content FROM wecom_stream WHERE id = '${r.reply.stream.id}'`);
  assert.deepEqual(rows, [['t', 'done 5']]);
});

test('a handler slower than the deadline on B: its answer by a refresh on A', async () => {
  const r = await botCallback(b, bot, textBody({ content: 'late 900' }));
  assert.deepEqual([r.reply.stream.finish, r.reply.stream.content], [false, '']);
  await h.sleep(1200);
  const f = await botCallback(a, bot, refreshBody(r.reply.stream.id));
  assert.deepEqual(f.reply.stream, { id: r.reply.stream.id, finish: true, content: 'late 900' });
});

test('a stream no server knows is answered empty', async () => {
  for (const srv of [a, b]) {
    const r = await botCallback(srv, bot, refreshBody('0'.repeat(32)));
    assert.equal(r.status, 200);
    assert.equal(r.reply, null);
  }
});

test('the database down: A still streams, B answers empty at once; back up, B follows again', async () => {
  await pg.kill();
  const r = await botCallback(a, bot, textBody({ content: 'stream 3 200' }));
  assert.equal(r.reply.stream.finish, false);
  const t0 = Date.now();
  const other = await botCallback(b, bot, refreshBody(r.reply.stream.id));
  assert.equal(other.status, 200);
  assert.equal(other.reply, null);
  assert.ok(Date.now() - t0 < 2000, `${Date.now() - t0} ms`);
  assert.equal((await follow(a, r.reply.stream.id)).at(-1), 'done 3');
  await pg.restart();
  // Each connection stays down for 5 s after a failure: then it is back.
  let seen;
  for (let i = 0; i < 20 && !seen; i++) {
    await h.sleep(1000);
    const s = await botCallback(a, bot, textBody({ content: 'stream 3 200' }));
    const first = await botCallback(b, bot, refreshBody(s.reply.stream.id));
    if (first.reply) seen = await follow(b, s.reply.stream.id);
  }
  assert.ok(seen, 'B never followed a stream after the database came back');
  assert.equal(seen.at(-1), 'done 3');
  for (const srv of [a, b]) assert.deepEqual(h.deaths(srv.log()), [], 'no sandbox violation');
});
