// SPDX-License-Identifier: ISC
// A fake WeCom corporate API for tests: gettoken, message/send, recall,
// media/upload, uploadimg, appchat, webhook/send, webhook/upload_media and
// the directory reads, with WeCom's request checks and errcodes. It counts
// calls and lets a test inject errcodes, delays, HTTP 5xx and dropped
// connections through /_fake/* (inject, and uninject to end them early).
// Node built-ins only.
//
// For the outbox: /_fake/config {chaos: {rate, path, modes}} fails that
// share of requests at random (modes: http 502, busy -1, drop the
// connection, lost = deliver, then drop the answer); {down_ms, down_mode}
// makes the whole API unreachable for a while. message/send's duplicate
// check is WeCom's: /_fake/stats tells deliveries from absorbed repeats.
//
// The directory (user/get, user/list, department/list) is USERS and
// DEPARTMENTS until a test changes it: POST /_fake/directory {users:
// [{userid, name, department…}] (added, or merged into a member),
// remove: [userid], departments: [{id, name, parentid}], generate: N
// (N more members, m0001…), withhold: true (answers carry only userid
// and department, as WeCom gives newer apps)}; GET shows it.
//
//   node tests/fake_wecom/server.mjs [PORT]   prints "port N" when ready
//   import { startFake } from './server.mjs'  → { port, base, state, close,
//     control(what, body) }: GET /_fake/what, or POST body as JSON; its JSON

import http from 'node:http';
import crypto from 'node:crypto';

export const CORPID = 'wwfake0000000001';
export const APPS = {
  'app-secret-1': { agentid: 1000002 },
  'app-secret-2': { agentid: 1000003 },
};
export const USERS = ['zhangsan', 'lisi', 'wangwu', 'zhaoliu'];
const PARTIES = ['1', '2', '3'];
const TAGS = ['1', '2'];
const MSGTYPES = ['text', 'image', 'voice', 'video', 'file', 'textcard',
  'news', 'mpnews', 'markdown', 'miniprogram_notice', 'template_card'];
const MEDIA_TYPES = ['image', 'voice', 'video', 'file'];

const fail = (errcode, errmsg, extra = {}) => ({ errcode, errmsg, ...extra });
const ok = (extra = {}) => ({ errcode: 0, errmsg: 'ok', ...extra });

function freshState() {
  return {
    counts: {},		// api path → calls
    tokens: new Map(),	// token → { secret, agentid, expiresAt, invalid }
    expiresIn: 7200,
    robotLimit: 20,
    robotSent: new Map(),	// key → [timestamps]
    injections: [],
    messages: [],		// { api, body, query, msgid }
    responseCodes: new Set(),	// aibot/response codes used
    media: new Map(),	// media_id → { type, size, md5, filename }
    chats: new Map(),
    msgids: new Map(),	// msgid → { recalled }
    dedup: new Map(),
    delivered: 0,		// message/send deliveries, repeats not counted
    duplicates: 0,	// repeats absorbed by enable_duplicate_check
    chaos: null,		// { rate, path, modes }
    chaosHits: {},	// mode → requests failed on purpose
    downUntil: 0,
    downMode: 'http',
    directory: { users: new Map(), removed: new Set(), departments: new Map(), withhold: false },
  };
}

// multipart/form-data → [{ name, filename, type, data }]
export function parseMultipart(contentType, body) {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || '');
  if (!/^multipart\/form-data/i.test(contentType || '') || !m) return null;
  const delim = Buffer.from('--' + (m[1] || m[2]));
  const parts = [];
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    const start = pos + delim.length;
    if (body.slice(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delim, start);
    if (next === -1) return null;
    const chunk = body.slice(start + 2, next - 2);	// CRLF after delim, before next
    const hend = chunk.indexOf('\r\n\r\n');
    if (hend === -1) return null;
    const headers = chunk.slice(0, hend).toString('utf8');
    const disp = /content-disposition:\s*form-data;([^\r\n]*)/i.exec(headers);
    const name = disp && /\bname="([^"]*)"/i.exec(disp[1]);
    const fname = disp && /\bfilename="([^"]*)"/i.exec(disp[1]);
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers);
    parts.push({ name: name ? name[1] : null, filename: fname ? fname[1] : null,
      type: type ? type[1].trim() : null, data: chunk.slice(hend + 4) });
    pos = next;
  }
  return parts;
}

function checkToken(state, q) {
  const t = q.get('access_token');
  if (!t) return [null, fail(41001, 'access_token missing')];
  const info = state.tokens.get(t);
  if (!info || info.invalid) return [null, fail(40014, 'invalid access_token')];
  if (Date.now() >= info.expiresAt) return [null, fail(42001, 'access_token expired')];
  return [info, null];
}

const bytes = (s) => Buffer.byteLength(s, 'utf8');
const str = (v) => typeof v === 'string' && v.length > 0;

// The msgtype object, as message/send, appchat/send and robots check it.
function checkContent(state, body, { robot = false } = {}) {
  const t = body.msgtype;
  const allowed = robot ? ['text', 'markdown', 'image', 'news', 'file', 'voice', 'template_card']
    : MSGTYPES;
  if (!allowed.includes(t)) return fail(40008, 'invalid message type');
  const o = body[t];
  if (!o || typeof o !== 'object') return fail(40058, `missing ${t}`);
  switch (t) {
    case 'text':
    case 'markdown':
      if (!str(o.content)) return fail(44004, 'empty content');
      if (bytes(o.content) > (t === 'text' ? 2048 : 4096))
        return fail(45002, 'content size out of limit');
      if (robot && o.mentioned_list !== undefined && !Array.isArray(o.mentioned_list))
        return fail(40058, 'mentioned_list must be an array');
      return null;
    case 'image':
      if (robot) {
        if (!str(o.base64) || !str(o.md5)) return fail(40058, 'image needs base64 and md5');
        const raw = Buffer.from(o.base64, 'base64');
        if (crypto.createHash('md5').update(raw).digest('hex') !== o.md5)
          return fail(40009, 'invalid image md5');
        return null;
      }
    // fallthrough
    case 'voice':
    case 'video':
    case 'file':
      if (!str(o.media_id) || !state.media.has(o.media_id)) return fail(40007, 'invalid media_id');
      return null;
    case 'textcard':
      if (!str(o.title) || !str(o.description) || !str(o.url))
        return fail(40058, 'textcard needs title, description and url');
      return null;
    case 'news':
    case 'mpnews':
      if (!Array.isArray(o.articles) || o.articles.length === 0) return fail(40058, 'no articles');
      if (o.articles.length > 8) return fail(45008, 'article size out of limit');
      for (const a of o.articles) {
        if (!str(a.title)) return fail(40058, 'article needs a title');
        if (t === 'mpnews' && (!str(a.thumb_media_id) || !str(a.content)))
          return fail(40058, 'mpnews needs thumb_media_id and content');
      }
      return null;
    case 'miniprogram_notice':
      if (!str(o.appid) || !str(o.title)) return fail(40058, 'miniprogram_notice needs appid and title');
      return null;
    case 'template_card':
      if (!str(o.card_type)) return fail(40058, 'template_card needs card_type');
      return null;
  }
  return null;
}

function newId(prefix) {
  return prefix + crypto.randomBytes(12).toString('base64url');
}

// WeCom also takes numbers as JSON strings: Alertmanager's wechat notifier
// sends "agentid":"1000002" and "safe":"0".
const num = (v) => (typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v);

function messageSend(state, info, body) {
  if (body.agentid === undefined) return fail(41011, 'missing agentid');
  if (num(body.agentid) !== info.agentid) return fail(301002, 'access_token and agentid mismatch');
  const bad = checkContent(state, body);
  if (bad) return bad;
  if (body.safe !== undefined && ![0, 1, 2].includes(num(body.safe))) return fail(40058, 'invalid safe');
  const split = (v) => (typeof v === 'string' && v !== '' ? v.split('|') : []);
  const users = split(body.touser), parties = split(body.toparty), tags = split(body.totag);
  const badU = users.filter((u) => u !== '@all' && !knownUser(state, u));
  const badP = parties.filter((p) => !PARTIES.includes(p));
  const badT = tags.filter((t) => !TAGS.includes(t));
  const invalid = { invaliduser: badU.join('|'), invalidparty: badP.join('|'),
    invalidtag: badT.join('|'), unlicenseduser: '' };
  if (users.length - badU.length + parties.length - badP.length + tags.length - badT.length === 0)
    return fail(81013, 'user & party & tag all invalid', invalid);
  if (body.enable_duplicate_check === 1) {
    const key = JSON.stringify({ ...body, enable_duplicate_check: 0 });
    const prev = state.dedup.get(key);
    const interval = (body.duplicate_check_interval || 1800) * 1000;
    if (prev && Date.now() - prev.at < interval) {
      // Answered like a delivery; marked (not in the JSON) for the stats.
      return Object.defineProperty(ok({ ...invalid, msgid: prev.msgid }), 'duplicate',
        { value: true });
    }
    const msgid = newId('msg');
    state.dedup.set(key, { at: Date.now(), msgid });
    return ok({ ...invalid, msgid });
  }
  return ok({ ...invalid, msgid: newId('msg') });
}

function upload(state, req, body, q, types) {
  const type = q.get('type');
  if (types && !types.includes(type)) return fail(40004, 'invalid media type');
  const parts = parseMultipart(req.headers['content-type'], body);
  if (!parts) return fail(41005, 'media data missing (multipart/form-data expected)');
  const media = parts.find((p) => p.name === 'media');
  if (!media) return fail(41005, 'media data missing: no field "media"');
  if (!media.filename) return fail(40005, 'invalid file type: no filename');
  if (media.data.length < 5) return fail(40006, 'invalid file size');
  const id = newId('media');
  state.media.set(id, { type: type || 'image', size: media.data.length, filename: media.filename,
    md5: crypto.createHash('md5').update(media.data).digest('hex') });
  return [id, media];
}

function robotSend(state, q, body) {
  const key = q.get('key');
  if (!key || !key.startsWith('robot-')) return fail(93000, 'invalid webhook url');
  const bad = checkContent(state, body, { robot: true });
  if (bad) return bad;
  const now = Date.now();
  const sent = (state.robotSent.get(key) || []).filter((t) => now - t < 60000);
  if (sent.length >= state.robotLimit) return fail(45009, 'api freq out of limit');
  sent.push(now);
  state.robotSent.set(key, sent);
  return ok();
}

const DEPARTMENTS = [
  { id: 1, name: 'Corp', parentid: 0, order: 100 },
  { id: 2, name: 'Ops', parentid: 1, order: 90 },
  { id: 3, name: 'Dev', parentid: 1, order: 80 },
];
const user = (u, i) => ({ userid: u, name: u[0].toUpperCase() + u.slice(1),
  department: [i % 2 ? 2 : 3], mobile: `1380000000${i}`, email: `${u}@example.com`, status: 1 });

// The directory with the changes of /_fake/directory.
function dirUsers(state) {
  const d = state.directory;
  const all = USERS.map(user).filter((u) => !d.removed.has(u.userid))
    .map((u) => ({ ...u, ...(d.users.get(u.userid) || {}) }));
  for (const [id, u] of d.users) {
    if (!USERS.includes(id) && !d.removed.has(id)) all.push({ userid: id, status: 1, ...u });
  }
  return d.withhold ? all.map((u) => ({ userid: u.userid, department: u.department })) : all;
}

function dirDepartments(state) {
  const d = state.directory.departments;
  return [...DEPARTMENTS.map((x) => ({ ...x, ...(d.get(x.id) || {}) })),
    ...[...d.values()].filter((x) => !DEPARTMENTS.some((y) => y.id === x.id))];
}

const knownUser = (state, u) => (USERS.includes(u) || state.directory.users.has(u)) &&
  !state.directory.removed.has(u);

function directory(state, json) {
  const d = state.directory;
  for (const u of json.users || []) {
    d.removed.delete(u.userid);
    d.users.set(u.userid, { ...(d.users.get(u.userid) || {}), ...u });
  }
  for (const id of json.remove || []) d.removed.add(id);
  for (const x of json.departments || []) d.departments.set(x.id, { ...(d.departments.get(x.id) || {}), ...x });
  for (let i = 1; i <= (json.generate || 0); i++) {
    const id = `m${String(d.users.size + 1).padStart(4, '0')}`;
    d.users.set(id, { userid: id, name: `成员${id.slice(1)}`, department: [i % 2 ? 2 : 3],
      position: 'engineer', mobile: `139${String(i).padStart(8, '0')}`, email: `${id}@example.com`, status: 1 });
  }
  if (json.withhold !== undefined) d.withhold = !!json.withhold;
}

// One API call, after counting and injections. Returns the JSON answer.
function api(state, name, req, body, q) {
  if (name === 'gettoken') {
    const corpid = q.get('corpid'), secret = q.get('corpsecret');
    if (!corpid) return fail(41002, 'corpid missing');
    if (!secret) return fail(41004, 'corpsecret missing');
    if (corpid !== CORPID) return fail(40013, 'invalid corpid');
    if (!APPS[secret]) return fail(40001, 'invalid credential');
    const token = crypto.randomBytes(96).toString('base64url');
    state.tokens.set(token, { secret, agentid: APPS[secret].agentid,
      expiresAt: Date.now() + state.expiresIn * 1000 });
    return ok({ access_token: token, expires_in: state.expiresIn });
  }
  if (name === 'webhook/send' || name === 'webhook/upload_media') {
    if (req.method !== 'POST') return fail(43002, 'require POST method');
    const key = q.get('key');
    if (!key || !key.startsWith('robot-')) return fail(93000, 'invalid webhook url');
    if (name === 'webhook/upload_media') {
      const r = upload(state, req, body, q, ['file', 'voice']);
      if (!Array.isArray(r)) return r;
      return ok({ type: q.get('type'), media_id: r[0], created_at: String(Math.floor(Date.now() / 1000)) });
    }
    const json = parseJson(body);
    if (!json) return fail(47001, 'data format error');
    const r = robotSend(state, q, json);
    if (r.errcode === 0) state.messages.push({ api: name, key, body: json });
    return r;
  }

  // An intelligent bot's response_url: no token, a one-time code valid
  // an hour; markdown or template_card (aibot-protocol.md §1).
  if (name === 'aibot/response') {
    if (req.method !== 'POST') return fail(43002, 'require POST method');
    const code = q.get('response_code');
    if (!code) return fail(40058, 'response_code missing');
    if (state.responseCodes.has(code)) return fail(40058, 'response_code used');
    const json = parseJson(body);
    if (!json || !['markdown', 'template_card'].includes(json.msgtype) ||
        (json.msgtype === 'markdown' && typeof json.markdown?.content !== 'string'))
      return fail(40058, 'invalid msgtype or content');
    state.responseCodes.add(code);
    state.messages.push({ api: name, code, body: json });
    return ok();
  }

  const [info, err] = checkToken(state, q);
  if (err) return err;
  switch (name) {
    case 'message/send': {
      const json = parseJson(body);
      if (!json) return fail(47001, 'data format error');
      const r = messageSend(state, info, json);
      if (r.errcode === 0 && r.duplicate) {
        state.duplicates++;
        state.messages.push({ api: name, body: json, msgid: r.msgid, duplicate: true });
      } else if (r.errcode === 0) {
        state.delivered++;
        state.messages.push({ api: name, body: json, msgid: r.msgid });
        state.msgids.set(r.msgid, { recalled: false });
      }
      return r;
    }
    case 'message/recall': {
      const json = parseJson(body);
      if (!json) return fail(47001, 'data format error');
      const m = state.msgids.get(json.msgid);
      if (!m || m.recalled) return fail(40058, 'invalid msgid');
      m.recalled = true;
      state.messages.push({ api: name, body: json });
      return ok();
    }
    case 'media/upload': {
      const r = upload(state, req, body, q, MEDIA_TYPES);
      if (!Array.isArray(r)) return r;
      return ok({ type: q.get('type'), media_id: r[0], created_at: String(Math.floor(Date.now() / 1000)) });
    }
    case 'media/uploadimg': {
      const r = upload(state, req, body, q, null);
      if (!Array.isArray(r)) return r;
      if (!/\.(jpe?g|png)$/i.test(r[1].filename)) return fail(40005, 'invalid file type');
      return ok({ url: `https://wework.qpic.cn/fake/${r[0]}/0` });
    }
    case 'appchat/create': {
      const json = parseJson(body);
      if (!json) return fail(47001, 'data format error');
      if (!Array.isArray(json.userlist) || json.userlist.length < 2)
        return fail(40058, 'userlist needs at least 2 members');
      const chatid = json.chatid || newId('chat');
      if (state.chats.has(chatid)) return fail(86215, 'chatid already exists');
      state.chats.set(chatid, { ...json, chatid });
      return ok({ chatid });
    }
    case 'appchat/send': {
      const json = parseJson(body);
      if (!json) return fail(47001, 'data format error');
      if (!str(json.chatid) || !state.chats.has(json.chatid)) return fail(86003, 'chat not found');
      const bad = checkContent(state, json);
      if (bad) return bad;
      state.messages.push({ api: name, body: json });
      return ok();
    }
    case 'user/get': {
      const u = dirUsers(state).find((x) => x.userid === q.get('userid'));
      if (!u) return fail(60111, 'userid not found');
      return ok(u);
    }
    case 'user/list': {
      const d = Number(q.get('department_id'));
      if (!dirDepartments(state).some((x) => x.id === d)) return fail(60123, 'invalid party id');
      return ok({ userlist: dirUsers(state).filter((u) => d === 1 || u.department.includes(d)) });
    }
    case 'department/list': {
      const id = q.get('id');
      const all = dirDepartments(state);
      if (id === null) return ok({ department: all });
      const d = all.filter((x) => x.id === Number(id) || x.parentid === Number(id));
      if (d.length === 0) return fail(60123, 'invalid party id');
      return ok({ department: d });
    }
  }
  return null;
}

function parseJson(buf) {
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

function reply(res, status, obj) {
  const s = typeof obj === 'string' ? obj : JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': typeof obj === 'string' ? 'text/plain' : 'application/json' });
  res.end(s);
}

function control(state, name, q, body, res) {
  const json = parseJson(body) || {};
  switch (name) {
    case 'stats':
      return reply(res, 200, { counts: state.counts, tokens: state.tokens.size,
        messages: state.messages.length, media: state.media.size, chats: state.chats.size,
        delivered: state.delivered, duplicates: state.duplicates, chaos: state.chaosHits });
    case 'messages':
      return reply(res, 200, state.messages);
    case 'reset':
      Object.assign(state, freshState());
      return reply(res, 200, { ok: true });
    case 'inject':
      // { path, times=1, errcode, errmsg, http, drop, delay_ms }
      state.injections.push({ times: 1, ...json });
      return reply(res, 200, { ok: true });
    case 'uninject':
      // { path }: that path's injections end now (no path: all of them)
      state.injections = state.injections.filter((i) => json.path && i.path !== json.path);
      return reply(res, 200, { ok: true });
    case 'invalidate':
      for (const t of state.tokens.values()) {
        if (json.mode === 'expired') t.expiresAt = 0; else t.invalid = true;
      }
      return reply(res, 200, { ok: true, tokens: state.tokens.size });
    case 'directory':
      if (body.length > 0) directory(state, json);
      return reply(res, 200, { users: dirUsers(state), departments: dirDepartments(state) });
    case 'config':
      if (json.expires_in) state.expiresIn = json.expires_in;
      if (json.robot_limit) state.robotLimit = json.robot_limit;
      if (json.chaos !== undefined) state.chaos = json.chaos;
      if (json.down_ms !== undefined) {
        state.downUntil = Date.now() + json.down_ms;
        state.downMode = json.down_mode || 'http';
      }
      return reply(res, 200, { ok: true });
  }
  return reply(res, 404, 'no such control');
}

async function handle(state, req, res, body) {
  const url = new URL(req.url, 'http://fake');
  const q = url.searchParams;
  if (url.pathname.startsWith('/_fake/')) return control(state, url.pathname.slice(7), q, body, res);
  if (!url.pathname.startsWith('/cgi-bin/')) return reply(res, 404, 'not found');
  const name = url.pathname.slice(9);
  state.counts[name] = (state.counts[name] || 0) + 1;

  if (Date.now() < state.downUntil) {
    if (state.downMode === 'drop') return req.socket.destroy();
    return reply(res, 503, 'fake outage');
  }
  const c = state.chaos;
  if (c && (!c.path || c.path === name) && Math.random() < (c.rate || 0)) {
    const modes = c.modes || ['http', 'busy', 'drop', 'lost'];
    const mode = modes[Math.floor(Math.random() * modes.length)];
    state.chaosHits[mode] = (state.chaosHits[mode] || 0) + 1;
    if (mode === 'http') return reply(res, 502, 'fake HTTP 502');
    if (mode === 'busy') return reply(res, 200, fail(-1, 'system busy'));
    if (mode === 'drop') return req.socket.destroy();
    if (mode === 'lost') {
      // Done, but the answer never arrives: the sender cannot tell.
      api(state, name, req, body, q);
      return req.socket.destroy();
    }
  }
  const inj = state.injections.find((i) => i.times > 0 && (!i.path || i.path === name));
  if (inj) {
    inj.times--;
    if (inj.delay_ms) await new Promise((r) => setTimeout(r, inj.delay_ms));
    if (inj.drop) return req.socket.destroy();
    if (inj.http) return reply(res, inj.http, `fake HTTP ${inj.http}`);
    if (inj.errcode !== undefined)
      return reply(res, 200, fail(inj.errcode, inj.errmsg || `injected ${inj.errcode}`));
  }
  const ans = api(state, name, req, body, q);
  if (ans === null) return reply(res, 404, 'unknown API');
  return reply(res, 200, ans);
}

export function startFake({ port = 0, host = '127.0.0.1', standalone = false } = {}) {
  const state = freshState();
  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 32 * 1024 * 1024) req.socket.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      handle(state, req, res, Buffer.concat(chunks)).catch((e) => reply(res, 500, String(e)));
    });
  });
  server.keepAliveTimeout = 1000;
  // In a test, the fake never keeps node alive: a failed after() hook
  // that skips close() is reported instead of hanging the run.
  if (!standalone) server.unref();
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const p = server.address().port;
      resolve({
        port: p, state, server,
        url: `http://${host}:${p}`,
        base: `http://${host}:${p}/cgi-bin/`,
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
        control: async (what, body) => (await fetch(`http://${host}:${p}/_fake/${what}`,
          body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) })).json(),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fake = await startFake({ standalone: true, port: Number(process.argv[2] || process.env.FAKE_WECOM_PORT || 0) });
  console.log(`port ${fake.port}`);
}
