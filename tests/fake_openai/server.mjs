// SPDX-License-Identifier: ISC
// A fake OpenAI-compatible chat completions endpoint for tests, strict
// about the request as OpenAI is: POST /v1/chat/completions, a JSON
// body with a model and messages [{role, content}], optionally a bearer
// key. It answers a stream (text/event-stream, chat.completion.chunk
// events, then "data: [DONE]") or one chat.completion object, and
// records every request so a test can check what was sent. Node
// built-ins only.
//
// Scripting, at start or later with set(opts):
//   key        the bearer key required (null: none)
//   reply      a string, or (body) => string; default "You said: " and
//              the last user message
//   chunk      characters per chunk (default 4)
//   delayMs    between chunks (default 0)
//   stream     false: answer JSON even when asked to stream
//   hangAfter  stop after this many chunks and keep the connection open
//   status     answer this HTTP status with OpenAI's error JSON
// and, at start only, tls: { key, cert, host } for https (host: the
// name in the URLs, e.g. "localhost" to match the certificate).
//
//   import { startOpenAI } from './server.mjs'
//   const ai = await startOpenAI({ key: 'sk-test' })
//   → { port, url, base, requests, set(opts), reset() (to the start's
//   options), close() }
//   node tests/fake_openai/server.mjs [PORT]   prints "port N" when ready

import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';

const DEFAULTS = {
  key: null, reply: null, chunk: 4, delayMs: 0, stream: true, hangAfter: null, status: null,
};
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// OpenAI's error object.
function sendError(res, status, message, type, code = null, param = null) {
  sendJson(res, status, { error: { message, type, param, code } });
}

function lastUser(messages) {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i].role === 'user') return messages[i].content;
  }
  return '';
}

// The body's problems, as OpenAI words them; null when it is fine.
function invalid(body) {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return ['We could not parse the JSON body of your request.', null];
  if (typeof body.model !== 'string' || body.model === '') return ["you must provide a model parameter", 'model'];
  if (!Array.isArray(body.messages) || body.messages.length === 0) return ["'messages' must be a non-empty array", 'messages'];
  for (const [i, m] of body.messages.entries()) {
    if (m === null || typeof m !== 'object' || !ROLES.includes(m.role)) return [`Invalid value for 'messages[${i}].role'`, `messages[${i}].role`];
    if (typeof m.content !== 'string') return [`Invalid type for 'messages[${i}].content': expected a string`, `messages[${i}].content`];
  }
  if (body.stream !== undefined && typeof body.stream !== 'boolean') return ["Invalid type for 'stream': expected a boolean", 'stream'];
  return null;
}

function checkKey(o, req, res) {
  if (o.key === null) return true;
  const auth = req.headers.authorization ?? '';
  if (!auth.startsWith('Bearer ')) {
    sendError(res, 401, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", 'invalid_request_error');
    return false;
  }
  if (auth.slice(7) !== o.key) {
    sendError(res, 401, `Incorrect API key provided: ${auth.slice(7, 10)}***. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key');
    return false;
  }
  return true;
}

async function streamAnswer(o, res, body, text, id, created) {
  const chunk = (delta, finish = null) => `data: ${JSON.stringify({
    id, object: 'chat.completion.chunk', created, model: body.model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.write(chunk({ role: 'assistant', content: '' }));
  // By code point: a chunk never splits a character.
  const chars = Array.from(text);
  let n = 0;
  for (let i = 0; i < chars.length; i += o.chunk) {
    if (o.hangAfter !== null && n === o.hangAfter) return;	// left open
    if (o.delayMs) await sleep(o.delayMs);
    if (res.destroyed) return;
    res.write(chunk({ content: chars.slice(i, i + o.chunk).join('') }));
    n++;
  }
  if (o.hangAfter !== null) return;
  res.write(chunk({}, 'stop'));
  res.end('data: [DONE]\n\n');
}

function plainAnswer(res, body, text, id, created) {
  sendJson(res, 200, {
    id, object: 'chat.completion', created, model: body.model,
    choices: [{ index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  });
}

async function handle(state, req, res, raw) {
  const o = state.opts;
  let body = null;
  try { body = JSON.parse(raw.toString('utf8')); } catch { /* checked below */ }
  state.requests.push({ method: req.method, url: req.url, headers: req.headers, body, at: Date.now() });

  if (req.url.split('?')[0] !== '/v1/chat/completions') return sendError(res, 404, `Invalid URL (${req.method} ${req.url})`, 'invalid_request_error');
  if (req.method !== 'POST') return sendError(res, 405, `Invalid method for URL (${req.method} ${req.url})`, 'invalid_request_error');
  if (!checkKey(o, req, res)) return undefined;
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    return sendError(res, 400, 'Invalid Content-Type header, expected application/json.', 'invalid_request_error');
  }
  const bad = invalid(body);
  if (bad) return sendError(res, 400, bad[0], 'invalid_request_error', null, bad[1]);
  if (o.status !== null) return sendError(res, o.status, 'The server had an error while processing your request. Sorry about that!', 'server_error');

  const text = typeof o.reply === 'function' ? o.reply(body)
    : o.reply ?? `You said: ${lastUser(body.messages)}`;
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  if (body.stream === true && o.stream !== false) return streamAnswer(o, res, body, text, id, created);
  if (o.hangAfter !== null) return undefined;	// never answers
  return plainAnswer(res, body, text, id, created);
}

export function startOpenAI({ port = 0, host = '127.0.0.1', standalone = false, tls = null, ...opts } = {}) {
  const start = { ...DEFAULTS, ...opts };
  const state = { opts: { ...start }, requests: [] };
  const onRequest = (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      handle(state, req, res, Buffer.concat(chunks)).catch((e) => {
        if (!res.headersSent) sendError(res, 500, String(e), 'server_error');
        else res.destroy();
      });
    });
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, onRequest)
    : http.createServer(onRequest);
  // In a test, the fake never keeps node alive.
  if (!standalone) server.unref();
  return new Promise((resolve) => {
    server.listen(port, host, () => {
      const p = server.address().port;
      const origin = `${tls ? 'https' : 'http'}://${tls?.host ?? host}:${p}`;
      resolve({
        port: p, server,
        url: `${origin}/v1/chat/completions`,
        base: `${origin}/v1/`,
        requests: state.requests,
        set: (o) => { Object.assign(state.opts, o); },
        reset: () => { state.opts = { ...start }; },
        close: () => new Promise((r) => { server.closeAllConnections(); server.close(r); }),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ai = await startOpenAI({ standalone: true, port: Number(process.argv[2] || 0), key: process.env.FAKE_OPENAI_KEY ?? null });
  console.log(`port ${ai.port}`);
}
