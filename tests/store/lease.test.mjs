// SPDX-License-Identifier: ISC
// A bot's long connection held by exactly one of several real servers
// (seccomp tracing on) sharing one PostgreSQL ([global] store) and one
// strict fake WeCom long-connection server (tests/fake_aibot): steady,
// with no kick loop; taken over when the holder is killed (-9) or
// stopped (SIGTERM); never two subscribed connections at once, which
// the fake would show as a disconnected_event sent to the older one;
// the database killed and back after the lease's life: one holder again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from '../callback/harness.mjs';
import { startAibot } from '../fake_aibot/server.mjs';
import { startPostgres } from '../pg/pg.mjs';
import { within } from './hosts.mjs';

const BOT = 'aibLEASE';
const SECRET = 'lease-secret';
const DOWNBOT = 'aibDOWN';
const BACKBOT = 'aibBACK';
let pg, fake;
const servers = [];

const conf = (url, bot) => ({
  workers: 2,
  globalExtra: `store = ${url}\naibot_ping_ms = 1000\n`,
  sections: `
[aibot leasebot]
handler = echo
mode = websocket
bot_id = ${bot}
secret = ${SECRET}
ws_url = ${fake.url}
`,
});

async function start(url = pg.url, bot = BOT, extra = {}) {
  const s = await h.startServer({ ...conf(url, bot), ...extra });
  servers.push(s);
  return s;
}

// Its last word on the lease says it holds it.
const held = (s) => {
  const said = s.log().match(/leasebot: (this server holds|standing by|closing|lease given up)/g) ?? [];
  return said.length > 0 && said[said.length - 1].endsWith('this server holds');
};
const kicks = (bot = BOT) => fake.out.filter((f) => f.bot === bot && f.json?.body?.event?.eventtype === 'disconnected_event');
const subs = () => fake.connections[BOT] || 0;

// The holder among the live servers, once exactly one says so.
async function holder(ms = 30000, bot = BOT) {
  const t0 = Date.now();
  for (;;) {
    const live = servers.filter((s) => !s.gone);
    const hs = live.filter(held);
    if (hs.length === 1 && fake.isLive(bot)) return hs[0];
    assert.ok(hs.length <= 1, 'two servers hold the lease');
    if (Date.now() - t0 > ms) throw new Error(`no holder within ${ms} ms:\n${live.map((s) => s.log()).join('\n----\n')}`);
    await h.sleep(50);
  }
}

// The takeover: ms from `since` to the next accepted subscribe.
async function takeover(since, n, ms) {
  await fake.waitConnected(BOT, n, ms);
  return Date.now() - since;
}

before(async () => {
  pg = await startPostgres();
  fake = await startAibot({ bots: { [BOT]: SECRET, [DOWNBOT]: SECRET, [BACKBOT]: SECRET } });
  await Promise.all([start(), start()]);
});

after(async () => {
  for (const s of servers) {
    const log = await s.stop();
    // A worker stopped and continued dies today, store or not: its ws
    // thread's poll() comes back as restart_syscall, which the sandbox
    // does not allow (a signal-blocking thread cannot report it).
    const thawed = (l) => s.frozen && /exited with status 31|died from sandbox violation/.test(l);
    if (!s.killed) assert.deepEqual(h.deaths(log).filter((l) => !thawed(l)), [], 'a kore process died');
    assert.doesNotMatch(log, new RegExp(SECRET), 'no secret in the log');
  }
  await within(fake?.close(), 5000);
  await within(pg?.stop(), 30000);
  assert.deepEqual(fake.errors, [], 'the fake saw no protocol error');
});

test('two servers, one store: one connection, steady for 15 s, no kick', async () => {
  const a = await holder(15000);
  const b = servers.find((s) => s !== a);
  assert.equal(subs(), 1);
  await h.waitLog(b, /leasebot: standing by: .* holds the long connection/, 10000);
  await h.sleep(15000);
  assert.equal(subs(), 1, 'one subscribe in all');
  assert.equal(fake.subscribes[BOT], 1);
  assert.deepEqual(kicks(), [], 'no disconnected_event');
  assert.ok(fake.isLive(BOT));
  const rows = await pg.psql("SELECT holder, epoch FROM wecom_lease WHERE name = 'aibot:aibLEASE'");
  assert.equal(rows.length, 1);
  assert.equal(rows[0][1], '1', 'one holder so far: epoch 1');
  for (const s of servers) assert.deepEqual(h.deaths(s.log()), [], 'no sandbox violation');
});

test('the holder killed (-9): the other connects within 30 s, never both at once', async () => {
  const a = await holder();
  const n = subs();
  const t0 = Date.now();
  a.killed = a.gone = true;
  process.kill(-a.child.pid, 'SIGKILL');
  const ms = await takeover(t0, n + 1, 30000);
  console.log(`# takeover after kill -9: ${ms} ms`);
  assert.ok(ms < 30000, `${ms} ms`);
  const b = await holder(5000);
  assert.notEqual(b, a);
  assert.deepEqual(kicks(), [], 'no disconnected_event: never two at once');
  const rows = await pg.psql("SELECT epoch FROM wecom_lease WHERE name = 'aibot:aibLEASE'");
  assert.deepEqual(rows, [['2']], 'a new holder: epoch 2');
});

test('the holder stopped (SIGTERM): a standby takes over at once', async () => {
  const c = await start();
  await h.waitLog(c, /leasebot: standing by/, 10000);
  const b = await holder(5000);
  assert.notEqual(b, c);
  const n = subs();
  const t0 = Date.now();
  b.gone = true;
  const log = await b.stop();
  assert.deepEqual(h.deaths(log), [], 'a kore process died');
  const ms = await takeover(t0, n + 1, 15000);
  console.log(`# takeover after SIGTERM: ${ms} ms`);
  assert.ok(ms < 10000, `${ms} ms`);
  assert.equal(await holder(5000), c);
  assert.deepEqual(kicks(), [], 'no disconnected_event');
});

test('a frozen holder (SIGSTOP): its lease runs out, the other connects; thawed, it stands by', async () => {
  // Kore's seccomp tracer would keep a stopped worker's threads going:
  // the holder to freeze runs untraced (its sandbox still kills).
  const b = await holder(5000);
  const c = await start(pg.url, BOT, { trace: false });
  await h.waitLog(c, /leasebot: standing by/, 10000);
  b.gone = true;
  await b.stop();
  assert.equal(await holder(15000), c);
  const d = await start();
  await h.waitLog(d, /leasebot: standing by/, 10000);
  const n = subs();
  const t0 = Date.now();
  // Its database session lives on: only the lease's end frees the bot.
  process.kill(-c.child.pid, 'SIGSTOP');
  c.gone = c.frozen = true;
  let ms;
  try {
    ms = await takeover(t0, n + 1, 35000);
  } finally {
    process.kill(-c.child.pid, 'SIGCONT');
  }
  console.log(`# takeover from a frozen holder: ${ms} ms`);
  assert.ok(ms > 10000 && ms < 30000, `${ms} ms`);
  // The fake replaced the frozen connection: the one kick there is.
  assert.equal(kicks().length, 1);
  await h.waitLog(c, /leasebot: (closing: this server's lease ended|standing by)/, 10000);
  c.gone = false;
  await h.sleep(8000);
  assert.equal(subs(), n + 1, 'no connection since: no kick loop');
  assert.equal(kicks().length, 1);
  assert.equal(await holder(1000), d);
});

test('the store down: the bot connects as without one, said once', async () => {
  const e = await start('postgresql://wecom@127.0.0.1:1/wecom', DOWNBOT);
  await fake.waitConnected(DOWNBOT, 1, 10000);
  await h.sleep(6000);
  assert.equal(e.log().match(/aibot: the store does not answer/g)?.length, 1, e.log());
  assert.equal(fake.connections[DOWNBOT], 1);
  assert.deepEqual(kicks(DOWNBOT), []);
});

// What /healthz says of the bot: "connected", "standby (held by …)", ….
const health = async (s) => (await h.request(s, { path: '/healthz' })).text
  .match(/^aibot leasebot: websocket (.*?) since /m)?.[1];

test('the database killed for longer than the lease, then back: one holder, one standby, no fight', async () => {
  // Two servers and the store, alone: the others would fight over
  // their own bot while the database is down.
  await Promise.all(servers.filter((s) => !s.gone).map((s) => { s.gone = true; return s.stop(); }));
  const [x, y] = await Promise.all([start(pg.url, BACKBOT), start(pg.url, BACKBOT)]);
  await fake.waitConnected(BACKBOT, 1, 15000);
  const a = await holder(15000, BACKBOT);
  const b = a === x ? y : x;
  await h.waitLog(b, /leasebot: standing by: .* holds the long connection/, 10000);
  assert.equal(await health(a), 'connected');
  assert.match(await health(b), /^standby \(held by /);
  const [[epoch]] = await pg.psql(`SELECT epoch FROM wecom_lease WHERE name = 'aibot:${BACKBOT}'`);

  // Down for 22 s, past the 20 s lease: each server connects as
  // without a store, and WeCom's disconnected_event stops the older.
  const t0 = Date.now();
  await pg.kill();
  for (const s of [a, b]) await h.waitLog(s, /aibot: the store does not answer/, 10000);
  await h.sleep(Math.max(0, 22000 - (Date.now() - t0)));
  assert.ok(fake.isLive(BACKBOT), 'the bot stayed connected while the database was down');
  const kicked = kicks(BACKBOT).length;
  assert.ok(kicked <= 1, `${kicked} disconnected_event(s) while down`);
  await pg.restart();
  const back = Date.now();

  // One holder again: connected there, standby on the other, and
  // nothing more for WeCom to stop.
  let one;
  for (;;) {
    const hs = [a, b].filter(held);
    const says = await Promise.all([a, b].map(health));
    if (hs.length === 1 && fake.isLive(BACKBOT) && says.includes('connected') &&
      says.some((w) => /^standby \(held by /.test(w ?? ''))) { one = hs[0]; break; }
    assert.ok(hs.length <= 1, 'two servers hold the lease');
    if (Date.now() - back > 40000) {
      assert.fail(`no single holder 40 s after the restart: /healthz ${JSON.stringify(says)}\n` +
        `${a.log()}\n----\n${b.log()}`);
    }
    await h.sleep(200);
  }
  console.log(`# the database down ${back - t0} ms; one holder ${Date.now() - back} ms after it was back ` +
    `(${one === a ? 'the same server' : 'the other server'}); ${kicked} disconnected_event(s) while down`);
  for (const s of [a, b]) await h.waitLog(s, /aibot: the store answers: each bot connects again/, 10000);
  const n = fake.connections[BACKBOT];
  await h.sleep(6000);
  assert.equal(fake.connections[BACKBOT], n, 'no connection since: no kick loop');
  assert.equal(kicks(BACKBOT).length, kicked, 'no disconnected_event once the store was back');
  assert.ok(held(one));
  assert.equal(await health(one), 'connected');
  const other = (await health(one === a ? b : a)).match(/^standby \(held by (.*)\)$/);
  assert.ok(other, 'the other stands by');
  const rows = await pg.psql(`SELECT holder, epoch FROM wecom_lease WHERE name = 'aibot:${BACKBOT}'`);
  assert.equal(rows.length, 1);
  assert.ok(rows[0][0].startsWith(`${other[1]}:`), `${rows[0][0]}: the one /healthz names`);
  assert.ok(Number(rows[0][1]) >= Number(epoch));
  for (const s of [a, b]) {
    assert.match(s.log(), /store: the database is unreachable/, 'the store said it went down');
    assert.match(s.log(), /store: the database answers again/, 'and that it came back');
    assert.deepEqual(h.deaths(s.log()), [], 'no sandbox violation');
  }
});
