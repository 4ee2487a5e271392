// SPDX-License-Identifier: ISC
// Issue 4, item 4, as accepted: 1000 outbox messages, WeCom failing
// 30 % of sends (HTTP 502, errcode -1, dropped connections, answers lost
// after delivery) and down for 20 s, the drainer (`wecom-send --flush`
// in a loop) kill -9'ed twice at random moments → every message
// delivered exactly once; repeats that reached WeCom are absorbed by its
// duplicate check and counted apart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { setup, deliveries, sleep, parallel } from './helpers.mjs';
import { run, BUILD } from '../client/helpers.mjs';

const N = 1000;
const CLI = 100;		// queued by wecom-send --spool; the rest by the C API
const PUT = path.join(BUILD, 'tests/outbox_put');
const OUTAGE_MS = 20000;
const rand = (lo, hi) => lo + Math.random() * (hi - lo);

test(`${N} messages, 30 % failures, a 20 s outage, two kill -9: each delivered once`,
  { timeout: 120000 }, async () => {
    const t = await setup({ timeoutMs: 2000 });
    try {
      const t0 = Date.now();
      const keys = await parallel([...Array(CLI).keys()], 8, async (i) => {
        const r = await t.spool(['--key', `acc-${i}`, '--to', 'zhangsan', `outbox #${i}`]);
        assert.equal(r.code, 0, r.stderr);
        return r.key;
      });
      assert.equal(new Set(keys).size, CLI);
      // Three writers at once, as three handlers would.
      const per = (N - CLI) / 3;
      await Promise.all([0, 1, 2].map(async (w) => {
        const r = await run(PUT, [t.conf, String(CLI + w * per), String(per), 'acc-', 'zhangsan'],
          { env: t.env });
        assert.equal(r.code, 0, r.stderr);
      }));
      assert.equal(t.files('new').length, N);
      const spooled = Date.now();

      await t.config({ chaos: { rate: 0.3, path: 'message/send' } });
      let current = null, runs = 0, killed = 0, recovered = 0, finished = false;
      const loop = (async () => {
        while (!finished && Date.now() - spooled < 100000) {
          current = t.drainer();
          const r = await current.done;
          current = null;
          runs++;
          recovered += (r.stderr.match(/stopped while sending it/g) || []).length;
          assert.ok(r.signal === 'SIGKILL' || [0, 69].includes(r.code),
            `flush: ${r.code} ${r.stderr}`);
          if (r.code === 0) finished = true;
          else await sleep(50);
        }
      })();
      const inFlight = [];
      const kill = async () => {
        while (current === null) await sleep(1);
        inFlight.push(t.files('sending').length);
        current.child.kill('SIGKILL');
        killed++;
      };

      // First kill while the backlog drains, then the outage, then the
      // second kill once WeCom is back and the drainer has work again.
      await sleep(rand(200, 900));
      await kill();
      await sleep(rand(100, 400));
      await t.config({ down_ms: OUTAGE_MS, down_mode: Math.random() < 0.5 ? 'drop' : 'http' });
      const downAt = Date.now();
      const doneBefore = t.files('done').length;
      await sleep(OUTAGE_MS + rand(100, 1500));
      await kill();
      await loop;
      const elapsed = Date.now() - spooled;

      assert.ok(finished, 'the outbox drained');
      assert.equal(killed, 2);
      const st = await t.stats();
      const { count, absorbed } = await deliveries(t);
      const twice = [...count].filter(([, c]) => c !== 1);
      assert.deepEqual(twice, [], 'no message delivered twice');
      for (let i = 0; i < N; i++)
        assert.equal(count.get(`outbox #${i}`), 1, `outbox #${i}`);
      assert.equal(st.delivered, N);
      assert.equal(absorbed, st.duplicates);
      assert.equal(t.files('done').length, N);
      assert.deepEqual(t.files('new'), []);
      assert.deepEqual(t.files('sending'), []);
      assert.deepEqual(t.files('failed'), []);
      const injected = Object.values(st.chaos).reduce((a, b) => a + b, 0);
      console.log(`# spool ${N}: ${spooled - t0} ms; drained in ${elapsed} ms ` +
        `(outage ${OUTAGE_MS} ms from +${downAt - spooled} ms, ${doneBefore} done before it); ` +
        `${runs} flush runs, ${killed} killed (records in sending/ then: ${inFlight}), ` +
        `${recovered} recovered from sending/; ` +
        `message/send requests ${st.counts['message/send']}, failed on purpose ${injected} ` +
        `${JSON.stringify(st.chaos)}; delivered ${st.delivered}, repeats absorbed by ` +
        `duplicate_check ${st.duplicates}`);
    } finally {
      await t.close();
    }
  });
