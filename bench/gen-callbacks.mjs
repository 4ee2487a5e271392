// SPDX-License-Identifier: ISC
// Pre-encrypt N distinct WeCom text callbacks for the echo demo, so the
// benchmark measures the server, not the client, and no cache or dedupe
// can flatter the figure. Output: one "path?query<TAB>body" per line.
//   node bench/gen-callbacks.mjs 20000 /tmp/callbacks.txt
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';

const require = createRequire(new URL('../tests/package.json', import.meta.url));
const { encrypt, getSignature } = require('@wecom/crypto');

const TOKEN = 'QDG6eK';
const AESKEY = 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C';
const CORPID = 'wx5823bf96d3bd56c7';
const n = Number(process.argv[2] || 20000);
const out = process.argv[3] || 'callbacks.txt';
const path = process.argv[4] || '/wecom/echo';

const lines = [];
for (let i = 0; i < n; i++) {
  const words = randomBytes(8 + (i % 40)).toString('base64');
  const xml = `<xml><ToUserName><![CDATA[${CORPID}]]></ToUserName>` +
    `<FromUserName><![CDATA[user${i % 500}]]></FromUserName>` +
    `<CreateTime>${1700000000 + i}</CreateTime><MsgType><![CDATA[text]]></MsgType>` +
    `<Content><![CDATA[message ${i}: ${words}]]></Content>` +
    `<MsgId>${7000000000000000000n + BigInt(i)}</MsgId><AgentID>218</AgentID></xml>`;
  const enc = encrypt(AESKEY, xml, CORPID);
  const ts = String(1700000000 + i);
  const nonce = String(100000 + i);
  const sig = getSignature(TOKEN, ts, nonce, enc);
  const body = `<xml><ToUserName><![CDATA[${CORPID}]]></ToUserName>` +
    `<Encrypt><![CDATA[${enc}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>`;
  lines.push(`${path}?msg_signature=${sig}&timestamp=${ts}&nonce=${nonce}\t${body}`);
}
writeFileSync(out, lines.join('\n') + '\n');
console.error(`wrote ${n} callbacks to ${out}`);
