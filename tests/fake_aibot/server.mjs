// SPDX-License-Identifier: ISC
// A fake of WeCom's intelligent-bot ("aibot") long-connection server
// (shared/aibot-protocol.md §2): the bot's side opens a WebSocket to it,
// subscribes with BotID + Secret, pings, gets aibot_msg_callback /
// aibot_event_callback frames and answers them on the same req_id, pushes
// aibot_send_msg and uploads media in chunks. One live connection per bot:
// a new one kicks the old with disconnected_event, as WeCom does.
//
// Every frame is recorded and checked; what WeCom would refuse is answered
// with WeCom's errcode and also recorded in `errors` as "tag: detail", so a
// test asserts `errors` stays empty (or holds just what it provoked). Tags:
// frame, cmd, req_id, subscribe, order, reply, inflight, shape, stream,
// stream-expired, window, rate, media.
// Errcodes: 853000 bad credentials, 846605 invalid req_id (unknown, or the
// wrong kind of reply for that callback), 846608 stream update expired or
// after finish, late welcome/update; 45009 rate; 40058 anything malformed.
//
//   node tests/fake_aibot/server.mjs [PORT]   prints "port N" when ready;
//     bots from FAKE_AIBOTS="id:secret,id2:secret2"; wss:// when
//     FAKE_AIBOT_KEY and FAKE_AIBOT_CERT name PEM files
//   import { startAibot, textMsg, enterChat, cardEvent } from './server.mjs'

import http from 'node:http';
import https from 'node:https';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { WebSocketServer } from 'ws';

export const CLIENT_CMDS = ['aibot_subscribe', 'ping', 'aibot_respond_msg',
  'aibot_respond_welcome_msg', 'aibot_respond_update_msg', 'aibot_send_msg',
  'aibot_upload_media_init', 'aibot_upload_media_chunk', 'aibot_upload_media_finish'];
const REPLY_CMDS = ['aibot_respond_msg', 'aibot_respond_welcome_msg', 'aibot_respond_update_msg'];
const REPLY_MSGTYPES = ['stream', 'markdown', 'template_card', 'text', 'image', 'file',
  'voice', 'video', 'stream_with_template_card'];
const MEDIA_TYPES = ['image', 'file', 'voice', 'video'];
const STREAM_MAX = 20480;		// bytes of stream.content, UTF-8
const CHUNK_MAX = 512 * 1024;	// decoded bytes per upload chunk
const CHUNKS_MAX = 100;

const rid = (n = 12) => crypto.randomBytes(n).toString('hex');
const now = () => Date.now();
const isStr = (v) => typeof v === 'string' && v.length > 0;
const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const md5 = (b) => crypto.createHash('md5').update(b).digest('hex');
const running = new Set();	// media stores of the fakes not yet closed
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// ---- Bodies WeCom sends (§1 shapes) ----------------------------------------

const responseUrl = () =>
  `https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=${rid(16)}`;

function chat(chatid, chattype) {
  const type = chattype || (chatid ? 'group' : 'single');
  const o = { chattype: type };
  if (type === 'group') o.chatid = chatid || 'wrfakegroupchat0001';
  return o;
}

// A text message: aibot_msg_callback's body. aibotid is filled in by send().
export function textMsg({ from = 'zhangsan', content = 'hello', chatid, chattype,
  msgid = rid(16), aibotid } = {}) {
  const c = chat(chatid, chattype);
  return { msgid, ...(aibotid ? { aibotid } : {}), ...(c.chatid ? { chatid: c.chatid } : {}),
    chattype: c.chattype, from: { userid: from }, response_url: responseUrl(),
    msgtype: 'text', text: { content } };
}

function eventBody(eventtype, extra, { from = 'zhangsan', chatid, chattype,
  msgid = rid(16), aibotid } = {}) {
  const c = chat(chatid, chattype);
  return { msgid, create_time: Math.floor(now() / 1000), ...(aibotid ? { aibotid } : {}),
    ...(c.chatid ? { chatid: c.chatid } : {}), chattype: c.chattype,
    from: { userid: from }, msgtype: 'event', event: { eventtype, ...extra } };
}

// enter_chat: answerable with aibot_respond_welcome_msg within 5 s.
export const enterChat = (o = {}) => eventBody('enter_chat', {}, o);

// template_card_event: answerable with aibot_respond_update_msg within 5 s.
export function cardEvent({ card_type = 'button_interaction', event_key = 'btn_ok',
  task_id = 'task_' + rid(4), selected_items, ...o } = {}) {
  const b = eventBody('template_card_event', { template_card_event: { card_type, event_key,
    task_id, ...(selected_items ? { selected_items } : {}) } }, o);
  b.response_url = responseUrl();
  return b;
}

export const feedbackEvent = ({ id = rid(8), type = 1, ...o } = {}) =>
  eventBody('feedback_event', { feedback_event: { id, type } }, o);

// ---- The server --------------------------------------------------------------

export async function startAibot({ port = 0, host = '127.0.0.1', tls = null, bots = {},
  streamWindowMs = 6 * 60 * 1000, eventWindowMs = 5000, sendPerMinute = 30,
  sendPerHour = 1000, uploadsPerMinute = 30, standalone = false } = {}) {
  const frames = [];		// { bot, conn, t, json, raw }
  const out = [];		// { bot, conn, t, json }: what the fake sent
  const errors = [];
  const connections = {};	// bot → accepted (subscribed) connections
  const subscribes = {};	// bot → aibot_subscribe frames
  const callbacks = new Map();	// req_id → { bot, cmd, kind, t, body, inflight, card }
  const streams = new Map();	// bot\0stream.id → { bot, reqId, id, first, last, content, finished, updates }
  const sent = new Map();	// bot\0chatid → [{ t, body }] accepted aibot_send_msg
  const uploads = new Map();	// upload_id → { bot, type, filename, total_size, total_chunks, md5, chunks, t }
  const mediaStore = new Map();	// media_id → { bot, type, filename, data, created_at }
  const live = new Map();	// bot → conn
  const clientReqIds = new Set();
  const injected = [];		// { cmd, errcode, times }
  const uploadTimes = new Map();	// bot → [t]
  const waiters = new Set();
  const socks = new Set();
  let pingAck = true;
  let ackDelay = 0;
  let connSeq = 0;

  const error = (tag, msg) => {
    errors.push(`${tag}: ${msg}`);
    if (standalone) console.error(`fake aibot: ${tag}: ${msg}`);
  };

  function write(conn, json) {
    out.push({ bot: conn.bot, conn: conn.id, t: now(), json });
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(json));
  }

  function ack(conn, reqId, errcode = 0, errmsg = 'ok', body, { close = false, done } = {}) {
    const go = () => {
      const a = { headers: { req_id: reqId }, errcode, errmsg };
      if (body !== undefined) a.body = body;
      write(conn, a);
      if (done) done();
      if (close) conn.ws.close(1000, errmsg);
    };
    if (close) conn.closing = true;
    if (ackDelay > 0) setTimeout(go, ackDelay).unref();
    else go();
  }

  function push(bot, cmd, body) {
    const conn = live.get(bot);
    if (!conn) throw new Error(`fake aibot: bot ${bot} has no live connection`);
    const reqId = rid(16);
    if (body.aibotid === undefined) body = { aibotid: bot, ...body };
    const kind = cmd === 'aibot_msg_callback' ? 'msg' : (body.event && body.event.eventtype) || 'event';
    callbacks.set(reqId, { bot, cmd, kind, t: now(), body, inflight: 0, card: false });
    write(conn, { cmd, headers: { req_id: reqId }, body });
    return reqId;
  }

  // The old connection learns it was replaced, then is closed.
  function kickConn(conn, reason) {
    if (live.get(conn.bot) === conn) live.delete(conn.bot);
    const reqId = rid(16);
    const body = { msgid: rid(16), create_time: Math.floor(now() / 1000), aibotid: conn.bot,
      msgtype: 'event', event: { eventtype: 'disconnected_event' } };
    callbacks.set(reqId, { bot: conn.bot, cmd: 'aibot_event_callback', kind: 'disconnected_event',
      t: now(), body, inflight: 0 });
    write(conn, { cmd: 'aibot_event_callback', headers: { req_id: reqId }, body });
    conn.closing = true;
    conn.ws.close(1000, reason);
  }

  function injection(cmd) {
    const i = injected.find((x) => x.cmd === cmd && x.times > 0);
    if (!i) return null;
    i.times--;
    return i.errcode;
  }

  // ---- per-command handlers: return [errcode, errmsg, body?] ----
  function subscribe(conn, f, reqId) {
    const b = f.body;
    const bot = isObj(b) && typeof b.bot_id === 'string' ? b.bot_id : null;
    if (bot !== null) subscribes[bot] = (subscribes[bot] || 0) + 1;
    if (conn.bot) {
      error('subscribe', `second aibot_subscribe on a subscribed connection (bot ${conn.bot})`);
      return ack(conn, reqId);
    }
    const inj = injection('aibot_subscribe');
    if (inj !== null) return ack(conn, reqId, inj, `injected ${inj}`, undefined, { close: true });
    if (!isObj(b) || !isStr(b.bot_id) || !isStr(b.secret)) {
      error('subscribe', 'aibot_subscribe needs body.bot_id and body.secret');
      return ack(conn, reqId, 40058, 'invalid bot_id or secret', undefined, { close: true });
    }
    if (!Object.hasOwn(bots, b.bot_id) || bots[b.bot_id] !== b.secret) {
      error('subscribe', `bad credentials for bot ${b.bot_id}`);
      return ack(conn, reqId, 853000, 'invalid bot_id or secret', undefined, { close: true });
    }
    const old = live.get(b.bot_id);
    if (old && old !== conn) kickConn(old, 'replaced by a new connection');
    conn.bot = b.bot_id;
    live.set(conn.bot, conn);
    connections[conn.bot] = (connections[conn.bot] || 0) + 1;
    ack(conn, reqId);
    wake();
  }

  function checkMedia(o, what) {
    if (!isObj(o) || !isStr(o.media_id)) return `${what} needs media_id`;
    if (!mediaStore.has(o.media_id)) return `${what}: unknown media_id ${o.media_id}`;
    return null;
  }

  // A markdown/template_card/text/media body; null when fine.
  function checkContent(b, msgtype) {
    const o = b[msgtype];
    switch (msgtype) {
      case 'markdown':
      case 'text':
        if (!isObj(o) || !isStr(o.content)) return `${msgtype} needs a non-empty content`;
        if (Buffer.byteLength(o.content) > STREAM_MAX) return `${msgtype}.content over ${STREAM_MAX} bytes`;
        return null;
      case 'template_card':
        if (!isObj(o) || !isStr(o.card_type)) return 'template_card needs card_type';
        return null;
      default:
        return checkMedia(o, msgtype);
    }
  }

  function respond(conn, f, reqId, cmd) {
    const cb = callbacks.get(reqId);
    if (!cb || cb.bot !== conn.bot) {
      error('reply', `${cmd} on req_id ${reqId}, which is no callback of bot ${conn.bot}`);
      return ack(conn, reqId, 846605, 'invalid req_id');
    }
    if (cb.inflight > 0)
      error('inflight', `${cmd} on req_id ${reqId} while an earlier reply on it is unacked`);
    cb.inflight++;
    const done = () => { cb.inflight--; };
    const fail = (tag, code, msg) => {
      if (tag) error(tag, `${cmd} on ${reqId}: ${msg}`);
      ack(conn, reqId, code, msg, undefined, { done });
    };
    const inj = injection(cmd);
    if (inj !== null) return fail(null, inj, `injected ${inj}`);

    const allowed = cmd === 'aibot_respond_msg' ? ['msg', 'enter_chat']
      : cmd === 'aibot_respond_welcome_msg' ? ['enter_chat'] : ['template_card_event'];
    if (!allowed.includes(cb.kind))
      return fail('reply', 846605, `invalid req_id: a ${cb.kind} callback cannot take ${cmd}`);
    if (cmd !== 'aibot_respond_msg' && now() - cb.t > eventWindowMs)
      return fail('window', 846608, `${now() - cb.t} ms after the event (limit ${eventWindowMs})`);

    const b = f.body;
    if (!isObj(b)) return fail('shape', 40058, 'no body');
    if (cmd === 'aibot_respond_update_msg') {
      // The official SDK's shape: { response_type, template_card, userids? }.
      if (b.response_type !== 'update_template_card')
        return fail('shape', 40058, 'response_type must be update_template_card');
      if (!isObj(b.template_card) || !isStr(b.template_card.card_type))
        return fail('shape', 40058, 'template_card needs card_type');
      const want = cb.body.event.template_card_event && cb.body.event.template_card_event.task_id;
      if (want && b.template_card.task_id !== want)
        return fail('shape', 40058, `template_card.task_id must be the event's ${want}`);
      if (b.userids !== undefined && (!Array.isArray(b.userids) || !b.userids.every(isStr)))
        return fail('shape', 40058, 'userids must be an array of strings');
      return ack(conn, reqId, 0, 'ok', undefined, { done });
    }
    const types = cmd === 'aibot_respond_welcome_msg' ? ['text', 'template_card'] : REPLY_MSGTYPES;
    if (!types.includes(b.msgtype))
      return fail('shape', 40058, `msgtype ${JSON.stringify(b.msgtype)} not one of ${types.join('/')}`);
    if (cmd === 'aibot_respond_welcome_msg') {
      if (cb.welcomed) return fail('reply', 846605, 'a second welcome on one enter_chat');
      const m = checkContent(b, b.msgtype);
      if (m) return fail('shape', 40058, m);
      cb.welcomed = true;
      return ack(conn, reqId, 0, 'ok', undefined, { done });
    }
    if (b.msgtype !== 'stream' && b.msgtype !== 'stream_with_template_card') {
      const m = checkContent(b, b.msgtype);
      if (m) return fail('shape', 40058, m);
      if (b.msgtype === 'template_card') {
        if (cb.card) return fail('reply', 40058, 'one template_card per callback');
        cb.card = true;
      }
      return ack(conn, reqId, 0, 'ok', undefined, { done });
    }
    const s = b.stream;
    if (!isObj(s) || !isStr(s.id)) return fail('shape', 40058, 'stream needs a string id');
    if (typeof s.content !== 'string') return fail('shape', 40058, 'stream needs a string content');
    if (typeof s.finish !== 'boolean') return fail('shape', 40058, 'stream needs a boolean finish');
    if (Buffer.byteLength(s.content) > STREAM_MAX)
      return fail('shape', 40058, `stream.content is ${Buffer.byteLength(s.content)} bytes (max ${STREAM_MAX})`);
    if (s.msg_item !== undefined) {
      if (!s.finish) return fail('shape', 40058, 'stream.msg_item only with finish:true');
      if (!Array.isArray(s.msg_item) || s.msg_item.length > 10)
        return fail('shape', 40058, 'stream.msg_item: an array of at most 10 items');
    }
    if (b.msgtype === 'stream_with_template_card' && b.template_card !== undefined) {
      const m = checkContent(b, 'template_card');
      if (m) return fail('shape', 40058, m);
      if (cb.card) return fail('reply', 40058, 'one template_card per callback');
    }
    const key = `${conn.bot}\0${s.id}`;
    let st = streams.get(key);
    if (st && st.reqId !== reqId)
      return fail('stream', 40058, `stream id ${s.id} already belongs to req_id ${st.reqId}`);
    if (st && st.finished) return fail('stream', 846608, `stream ${s.id} updated after finish:true`);
    if (st && now() - st.first > streamWindowMs)
      return fail('stream-expired', 846608, `stream ${s.id} updated ${now() - st.first} ms after its first send (limit ${streamWindowMs})`);
    if (!st) {
      st = { bot: conn.bot, reqId, id: s.id, first: now(), content: '', finished: false, updates: 0 };
      streams.set(key, st);
    }
    st.last = now();
    st.updates++;
    st.content = s.content;
    st.finished = s.finish;
    if (b.msgtype === 'stream_with_template_card' && b.template_card !== undefined) cb.card = true;
    ack(conn, reqId, 0, 'ok', undefined, { done });
  }

  function sendMsg(conn, f, reqId) {
    const inj = injection('aibot_send_msg');
    if (inj !== null) return ack(conn, reqId, inj, `injected ${inj}`);
    const b = f.body;
    const bad = (m) => { error('shape', `aibot_send_msg: ${m}`); ack(conn, reqId, 40058, m); };
    if (!isObj(b)) return bad('no body');
    if (!isStr(b.chatid)) return bad('chatid must be a non-empty string');
    if (b.chat_type !== 1 && b.chat_type !== 2) return bad('chat_type must be 1 (single) or 2 (group)');
    if (!['markdown', 'template_card', ...MEDIA_TYPES].includes(b.msgtype))
      return bad(`msgtype ${JSON.stringify(b.msgtype)} not markdown/template_card/media`);
    const m = checkContent(b, b.msgtype);
    if (m) return bad(m);
    const key = `${conn.bot}\0${b.chatid}`;
    const list = sent.get(key) || [];
    const t = now();
    const minute = list.filter((x) => t - x.t < 60000).length;
    const hour = list.filter((x) => t - x.t < 3600000).length;
    if (minute >= sendPerMinute || hour >= sendPerHour) {
      error('rate', `aibot_send_msg to ${b.chatid}: ${minute} this minute, ${hour} this hour`);
      return ack(conn, reqId, 45009, 'api freq out of limit');
    }
    list.push({ t, body: b, bot: conn.bot });
    sent.set(key, list);
    ack(conn, reqId);
  }

  function uploadInit(conn, f, reqId) {
    const inj = injection('aibot_upload_media_init');
    if (inj !== null) return ack(conn, reqId, inj, `injected ${inj}`);
    const b = f.body;
    const bad = (m) => { error('media', `aibot_upload_media_init: ${m}`); ack(conn, reqId, 40058, m); };
    if (!isObj(b)) return bad('no body');
    if (!MEDIA_TYPES.includes(b.type)) return bad(`type ${JSON.stringify(b.type)} not image/file/voice/video`);
    if (!isStr(b.filename)) return bad('filename must be a non-empty string');
    if (!Number.isInteger(b.total_size) || b.total_size <= 0) return bad('total_size must be a positive integer');
    if (!Number.isInteger(b.total_chunks) || b.total_chunks < 1 || b.total_chunks > CHUNKS_MAX)
      return bad(`total_chunks must be 1..${CHUNKS_MAX}`);
    if (b.total_chunks * CHUNK_MAX < b.total_size) return bad('total_chunks too few for total_size');
    if (typeof b.md5 !== 'string' || !/^[0-9a-f]{32}$/i.test(b.md5)) return bad('md5 must be 32 hex digits');
    const t = now();
    const times = (uploadTimes.get(conn.bot) || []).filter((x) => t - x < 60000);
    if (times.length >= uploadsPerMinute) {
      error('rate', `aibot_upload_media_init: ${times.length} uploads this minute`);
      return ack(conn, reqId, 45009, 'api freq out of limit');
    }
    times.push(t);
    uploadTimes.set(conn.bot, times);
    const id = 'up_' + rid(12);
    uploads.set(id, { bot: conn.bot, type: b.type, filename: b.filename, total_size: b.total_size,
      total_chunks: b.total_chunks, md5: b.md5.toLowerCase(), chunks: new Map(), t });
    ack(conn, reqId, 0, 'ok', { upload_id: id });
  }

  function session(conn, b) {
    if (!isObj(b) || !isStr(b.upload_id)) return [null, 'upload_id missing'];
    const u = uploads.get(b.upload_id);
    if (!u || u.bot !== conn.bot) return [null, `unknown upload_id ${b.upload_id}`];
    if (now() - u.t > 30 * 60 * 1000) return [null, `upload_id ${b.upload_id} expired`];
    return [u, null];
  }

  function uploadChunk(conn, f, reqId) {
    const inj = injection('aibot_upload_media_chunk');
    if (inj !== null) return ack(conn, reqId, inj, `injected ${inj}`);
    const b = f.body;
    const bad = (m) => { error('media', `aibot_upload_media_chunk: ${m}`); ack(conn, reqId, 40058, m); };
    const [u, m] = session(conn, b);
    if (!u) return bad(m);
    if (!Number.isInteger(b.chunk_index) || b.chunk_index < 0 || b.chunk_index >= u.total_chunks)
      return bad(`chunk_index must be 0..${u.total_chunks - 1}`);
    if (!isStr(b.base64_data) || !B64.test(b.base64_data)) return bad('base64_data is not base64');
    const data = Buffer.from(b.base64_data, 'base64');
    if (data.length > CHUNK_MAX) return bad(`chunk of ${data.length} bytes (max ${CHUNK_MAX})`);
    u.chunks.set(b.chunk_index, data);	// any order, idempotent
    ack(conn, reqId);
  }

  function uploadFinish(conn, f, reqId) {
    const inj = injection('aibot_upload_media_finish');
    if (inj !== null) return ack(conn, reqId, inj, `injected ${inj}`);
    const b = f.body;
    const bad = (m) => { error('media', `aibot_upload_media_finish: ${m}`); ack(conn, reqId, 40058, m); };
    const [u, m] = session(conn, b);
    if (!u) return bad(m);
    const missing = [];
    for (let i = 0; i < u.total_chunks; i++) if (!u.chunks.has(i)) missing.push(i);
    if (missing.length) return bad(`chunks missing: ${missing.join(',')}`);
    const data = Buffer.concat([...Array(u.total_chunks).keys()].map((i) => u.chunks.get(i)));
    if (data.length !== u.total_size) return bad(`${data.length} bytes uploaded, total_size ${u.total_size}`);
    if (md5(data) !== u.md5) return bad(`md5 ${md5(data)} of the upload, init said ${u.md5}`);
    uploads.delete(b.upload_id);
    const id = 'media_' + rid(16);
    const created_at = String(Math.floor(now() / 1000));
    mediaStore.set(id, { bot: conn.bot, type: u.type, filename: u.filename, data, created_at });
    ack(conn, reqId, 0, 'ok', { type: u.type, media_id: id, created_at });
  }

  function onFrame(conn, data, isBinary) {
    const raw = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data).toString('utf8');
    let json = null;
    if (!isBinary) { try { json = JSON.parse(raw); } catch { /* recorded below */ } }
    const bot = conn.bot || (isObj(json) && json.cmd === 'aibot_subscribe' && isObj(json.body)
      && typeof json.body.bot_id === 'string' ? json.body.bot_id : null);
    const rec = { bot, conn: conn.id, t: now(), json, raw };
    frames.push(rec);
    try {
      handle(conn, rec, isBinary);
    } finally {
      wake();
    }
  }

  function handle(conn, { json: f, raw }, isBinary) {
    // Closing (kicked, refused): what crossed the close is dropped, as
    // WeCom drops it; the client could not have known.
    if (conn.closing) return;
    const who = conn.bot ? `bot ${conn.bot}` : `connection ${conn.id}`;
    if (isBinary) return error('frame', `binary frame from ${who} (frames are JSON text)`);
    if (!isObj(f)) return error('frame', `not a JSON object from ${who}: ${raw.slice(0, 80)}`);
    if (!isObj(f.headers) || !isStr(f.headers.req_id))
      return error('req_id', `${f.cmd} from ${who} without a non-empty headers.req_id`);
    const reqId = f.headers.req_id;
    if (!CLIENT_CMDS.includes(f.cmd)) {
      error('cmd', `unknown cmd ${JSON.stringify(f.cmd)} from ${who}`);
      return ack(conn, reqId, 40058, 'invalid cmd');
    }
    if (!REPLY_CMDS.includes(f.cmd)) {
      if (clientReqIds.has(reqId) || callbacks.has(reqId))
        error('req_id', `${f.cmd} from ${who} reuses req_id ${reqId}`);
      clientReqIds.add(reqId);
    }
    if (f.cmd === 'aibot_subscribe') return subscribe(conn, f, reqId);
    if (!conn.bot) {
      error('order', `${f.cmd} before a successful aibot_subscribe on connection ${conn.id}`);
      return ack(conn, reqId, 40058, 'not subscribed', undefined, { close: true });
    }
    switch (f.cmd) {
      case 'ping': {
        if (!pingAck) return;
        const inj = injection('ping');
        return inj !== null ? ack(conn, reqId, inj, `injected ${inj}`) : ack(conn, reqId);
      }
      case 'aibot_send_msg': return sendMsg(conn, f, reqId);
      case 'aibot_upload_media_init': return uploadInit(conn, f, reqId);
      case 'aibot_upload_media_chunk': return uploadChunk(conn, f, reqId);
      case 'aibot_upload_media_finish': return uploadFinish(conn, f, reqId);
      default: return respond(conn, f, reqId, f.cmd);
    }
  }

  function wake() {
    for (const w of [...waiters]) w();
  }

  function until(test, ms, what) {
    return new Promise((resolve, reject) => {
      const hit = test();
      if (hit !== undefined) return resolve(hit);
      const w = () => {
        const v = test();
        if (v !== undefined) { waiters.delete(w); clearTimeout(timer); resolve(v); }
      };
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`fake aibot: timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      waiters.add(w);
    });
  }

  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }) : http.createServer();
  server.on('request', (req, res) => { res.writeHead(426, { 'content-type': 'text/plain' }); res.end('WebSocket only\n'); });
  server.on('connection', (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
    if (!standalone) s.unref();
  });
  const wss = new WebSocketServer({ server, maxPayload: 8 * 1024 * 1024 });
  wss.on('connection', (ws) => {
    const conn = { id: ++connSeq, ws, bot: null, closing: false };
    ws.on('message', (data, isBinary) => onFrame(conn, data, isBinary));
    ws.on('close', () => {
      if (conn.bot && live.get(conn.bot) === conn) live.delete(conn.bot);
      conn.closed = true;
      wake();
    });
    ws.on('error', () => {});
  });
  wss.on('error', () => {});
  // In a test, the fake never keeps node alive.
  if (!standalone) server.unref();

  await new Promise((resolve) => server.listen(port, host, resolve));
  running.add(mediaStore);
  const p = server.address().port;

  return {
    port: p,
    url: tls ? `wss://localhost:${p}` : `ws://${host}:${p}`,
    frames, out, errors, connections, subscribes, callbacks, streams, sent, server,

    send(bot, body, { cmd = 'aibot_msg_callback' } = {}) { return push(bot, cmd, body); },
    event(bot, body) { return push(bot, 'aibot_event_callback', body); },
    drop(bot) {
      const c = live.get(bot);
      if (!c) return false;
      live.delete(bot);
      c.ws.terminate();
      return true;
    },
    kick(bot) {
      const c = live.get(bot);
      if (!c) return false;
      kickConn(c, 'kicked');
      return true;
    },
    isLive: (bot) => live.has(bot),
    setPingAck(on) { pingAck = !!on; },
    setAckDelay(ms) { ackDelay = ms; },
    setErrcode(cmd, errcode, times = 1) { injected.push({ cmd, errcode, times }); },
    clearErrcodes() { injected.length = 0; },
    waitFrame(pred, ms = 5000) {
      let i = 0;
      return until(() => {
        for (; i < frames.length; i++) if (pred(frames[i])) return frames[i];
        return undefined;
      }, ms, `a frame matching ${pred}`);
    },
    // Resolves once `bot` has had n accepted connections in all.
    waitConnected(bot, n = 1, ms = 5000) {
      return until(() => ((connections[bot] || 0) >= n && live.has(bot) ? live.get(bot).id : undefined),
        ms, `connection #${n} of bot ${bot}`);
    },
    replies(reqId) {
      return frames.filter((f) => f.json && REPLY_CMDS.includes(f.json.cmd)
        && f.json.headers && f.json.headers.req_id === reqId);
    },
    // Accepted aibot_send_msg bodies to one conversation.
    sentTo(bot, chatid) { return (sent.get(`${bot}\0${chatid}`) || []).map((x) => x.body); },
    media(mediaId) { const m = mediaStore.get(mediaId); return m ? m.data : undefined; },
    mediaInfo(mediaId) { return mediaStore.get(mediaId); },
    close() {
      running.delete(mediaStore);
      return new Promise((resolve) => {
        for (const c of wss.clients) c.terminate();
        for (const s of socks) s.destroy();
        wss.close(() => server.close(() => resolve()));
      });
    },
  };
}

// An uploaded file's bytes, from whichever running fake holds it.
export function media(mediaId) {
  for (const store of running) if (store.has(mediaId)) return store.get(mediaId).data;
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const bots = {};
  for (const pair of (process.env.FAKE_AIBOTS || '').split(',').filter(Boolean)) {
    const i = pair.indexOf(':');
    if (i > 0) bots[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const { FAKE_AIBOT_KEY: key, FAKE_AIBOT_CERT: cert } = process.env;
  const fake = await startAibot({ standalone: true, bots,
    port: Number(process.argv[2] || process.env.FAKE_AIBOT_PORT || 0),
    tls: key && cert ? { key: fs.readFileSync(key), cert: fs.readFileSync(cert) } : null });
  console.log(`port ${fake.port}`);
}
