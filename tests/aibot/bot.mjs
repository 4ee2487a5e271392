// SPDX-License-Identifier: ISC
// Talking to the real server as WeCom talks to an intelligent bot in
// callback mode: JSON bodies {"encrypt": …}, signed and encrypted with
// receiveid "" by Tencent's own @wecom/crypto, and JSON replies
// {"encrypt","msgsignature","timestamp","nonce"} checked the same way.

import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { encrypt, decrypt, getSignature } from '@wecom/crypto';
import { request, randomCredentials } from '../callback/harness.mjs';

// A [aibot NAME] section in callback mode with fresh credentials.
export function callbackBot(name, handler, extra = '') {
  const c = randomCredentials();
  const bot = { name, handler, token: c.token, aeskey: c.aeskey, path: `/bot/${name}` };
  bot.section = `
[aibot ${name}]
handler = ${handler}
mode = callback
token = ${bot.token}
aeskey = ${bot.aeskey}
path = ${bot.path}
${extra}`;
  return bot;
}

let seq = 0;
export function textBody({ content, from = 'zhangsan', chatid, msgid, response_url } = {}) {
  const m = {
    msgid: msgid ?? `m${Date.now()}${seq++}${randomBytes(3).toString('hex')}`,
    aibotid: 'aibFAKE', chattype: chatid ? 'group' : 'single',
    from: { userid: from }, msgtype: 'text', text: { content },
  };
  if (chatid) m.chatid = chatid;
  if (response_url) m.response_url = response_url;
  return m;
}

export function refreshBody(streamId) {
  return {
    msgid: `r${Date.now()}${seq++}`, aibotid: 'aibFAKE', chattype: 'single',
    from: { userid: 'zhangsan' }, msgtype: 'stream', stream: { id: streamId },
  };
}

export function eventBody(eventtype, extra = {}) {
  return {
    msgid: `e${Date.now()}${seq++}`, aibotid: 'aibFAKE', chattype: 'single',
    from: { userid: 'zhangsan' }, msgtype: 'event', create_time: Math.floor(Date.now() / 1000),
    event: { eventtype, ...extra },
  };
}

export function buildBotCallback(bot, msg, o = {}) {
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const nonce = o.nonce ?? randomBytes(6).toString('hex');
  const plain = typeof msg === 'string' ? msg : JSON.stringify(msg);
  const enc = encrypt(bot.aeskey, plain, o.receiveid ?? '');
  const sig = getSignature(bot.token, timestamp, nonce, enc);
  return {
    path: `${bot.path}?msg_signature=${sig}&timestamp=${timestamp}&nonce=${nonce}`,
    body: o.body ?? JSON.stringify({ encrypt: enc }), nonce,
  };
}

// The reply envelope, verified; its decrypted JSON (or null for an empty 200).
export function openBotReply(bot, text, nonce) {
  if (text === '') return null;
  const env = JSON.parse(text);
  assert.deepEqual(Object.keys(env).sort(), ['encrypt', 'msgsignature', 'nonce', 'timestamp']);
  assert.equal(typeof env.timestamp, 'number', 'timestamp is a number');
  assert.ok(Math.abs(env.timestamp - Date.now() / 1000) < 60, 'timestamp is now');
  assert.equal(env.nonce, nonce, "the reply carries the callback's nonce");
  assert.equal(env.msgsignature, getSignature(bot.token, String(env.timestamp), env.nonce, env.encrypt));
  const { message, id } = decrypt(bot.aeskey, env.encrypt);
  assert.equal(id, '', 'receiveid is ""');
  return JSON.parse(message);
}

export async function botCallback(srv, bot, msg, o = {}) {
  const cb = buildBotCallback(bot, msg, o);
  const r = await request(srv, { method: 'POST', path: cb.path, body: cb.body, headers: { 'content-type': 'application/json' } });
  r.reply = r.status === 200 ? openBotReply(bot, r.text, cb.nonce) : null;
  return r;
}
