// SPDX-License-Identifier: ISC
/*
 * crypto/ against @wecom/crypto, Tencent's own JS implementation of the
 * scheme, in both directions on random messages, plus signatures,
 * receiveid checks and tampered ciphertexts.
 *
 * The C side is build/tests/test_crypto_tool (tests/test_crypto_tool.c),
 * one process for every case. Every random choice comes from one PRNG:
 * a failure prints its seed and case number, and
 *	CROSSCHECK_SEED=<seed> sh tests/crypto_crosscheck.t
 * replays it. WECOM_CRYPTO_TOOL points at another build of the tool
 * (an ASan one, say).
 */

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import { decrypt, encrypt, getSignature } from '@wecom/crypto';

const SEED = Number(process.env.CROSSCHECK_SEED ?? 20240917) >>> 0;
const CASES = 1000;
const MAX_MSG = 64 * 1024;
const TOOL = process.env.WECOM_CRYPTO_TOOL ??
    fileURLToPath(new URL('../../build/tests/test_crypto_tool',
        import.meta.url));

/* Tencent's public sample (docs/wecom-protocol.md, section 1). */
const SAMPLE = {
	token: 'QDG6eK',
	aeskey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
	corpid: 'wx5823bf96d3bd56c7',
	echostr: 'P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==',
	post: 'RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==',
};

/* Every code crypto/ may answer for a ciphertext it refuses. */
const DECRYPT_ERRORS = new Set(['-40005', '-40007', '-40008', '-40010']);

/* ---- a seeded PRNG (splitmix32 seeding xoshiro128**) ---- */

function prng(seed, salt) {
	let x = (seed ^ Math.imul(salt, 0x9e3779b9)) >>> 0;
	const s = new Uint32Array(4);
	for (let i = 0; i < 4; i++) {
		x = (x + 0x9e3779b9) >>> 0;
		let z = x;
		z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
		z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
		s[i] = (z ^ (z >>> 16)) >>> 0;
	}
	const rotl = (v, k) => ((v << k) | (v >>> (32 - k))) >>> 0;
	const u32 = () => {
		const r = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
		const t = (s[1] << 9) >>> 0;
		s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
		s[2] ^= t; s[3] = rotl(s[3], 11);
		return r;
	};
	const int = (n) => Math.floor(u32() / 0x100000000 * n);
	const r = {
		u32,
		int,
		range: (lo, hi) => lo + int(hi - lo + 1),
		pick: (a) => a[int(a.length)],
		chance: (p) => u32() / 0x100000000 < p,
		bytes: (n) => {
			const b = Buffer.alloc(n);
			for (let i = 0; i < n; i++)
				b[i] = u32() & 0xff;
			return b;
		},
		chars: (alphabet, n) => {
			let out = '';
			for (let i = 0; i < n; i++)
				out += alphabet[int(alphabet.length)];
			return out;
		},
	};
	return r;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const B64 = ALNUM + '+/';
const HEXDIGITS = '0123456789abcdef';
const PRINTABLE = Array.from({ length: 95 }, (_, i) =>
    String.fromCharCode(32 + i)).join('');

/*
 * Valid UTF-8 text of exactly n bytes: ASCII, XML specials, controls
 * and NUL, Latin/Cyrillic, CJK, emoji. The last bytes are ASCII when no
 * wider character fits.
 */
function text(r, n) {
	const parts = [];
	let len = 0;
	while (len < n) {
		let cp;
		switch (r.int(8)) {
		case 0: case 1: cp = r.range(0x20, 0x7e); break;
		case 2: cp = r.pick([0x00, 0x09, 0x0a, 0x0d, 0x3c, 0x3e, 0x26,
		    0x5d]); break;
		case 3: cp = r.range(0xa0, 0x7ff); break;
		case 4: case 5: cp = r.range(0x4e00, 0x9fa5); break;
		case 6: cp = r.range(0x3000, 0x303f); break;
		default: cp = r.range(0x1f300, 0x1faff); break;
		}
		const w = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		if (len + w > n)
			cp = r.range(0x20, 0x7e);
		parts.push(String.fromCodePoint(cp));
		len += cp < 0x80 ? 1 : w;
	}
	return parts.join('');
}

/* Sizes: every small one around the first blocks, then 0 .. 64 KiB. */
function size(r, i) {
	if (i <= 80)
		return i;
	if (i === 81)
		return MAX_MSG;
	if (i === 82)
		return MAX_MSG - 1;
	const k = r.int(10);
	return k < 5 ? r.range(0, 300) : k < 8 ? r.range(0, 4096) :
	    r.range(0, MAX_MSG);
}

function receiveid(r) {
	switch (r.int(7)) {
	case 0: return 'ww' + r.chars(HEXDIGITS, 16);
	case 1: return 'wx' + r.chars(HEXDIGITS, 16);
	case 2: return 'tj' + r.chars(ALNUM, 16);
	case 3: return '';
	case 4: return r.chars(PRINTABLE, r.range(1, 64));
	case 5: return text(r, r.range(1, 60)).replace(/\0/g, '0');
	default: return r.chars(ALNUM, r.range(1, 128));
	}
}

/* 16 random bytes, with the corner cases first. */
function prefix(r, i) {
	switch (i) {
	case 0: return Buffer.alloc(16, 0);
	case 1: return Buffer.alloc(16, 0xff);
	case 2: return Buffer.alloc(16, 0x0a);
	case 3: return Buffer.from([0x00, 0x20, 0x0a, 0x0d, 0x3d, 0x2b, 0x2f,
	    0x3c, 0x3e, 0x5d, 0x5d, 0x3e, 0xff, 0xfe, 0x80, 0x01]);
	default: return r.bytes(16);
	}
}

function aeskey(r) {
	return r.chars(ALNUM, 43);
}

/* ---- the C side ---- */

function hex(v) {
	const b = Buffer.isBuffer(v) ? v : Buffer.from(v);
	return b.length === 0 ? '-' : b.toString('hex');
}

class Tool {
	constructor(path) {
		this.pending = [];
		this.buf = '';
		this.dead = null;
		this.proc = spawn(path, [], { stdio: ['pipe', 'pipe', 'inherit'] });
		this.proc.stdout.setEncoding('latin1');
		this.proc.stdout.on('data', (d) => this.data(d));
		this.proc.on('error', (e) => this.die(`cannot run ${path}: ${e}`));
		this.proc.on('exit', (code, sig) => this.die(
		    `${path} exited (code ${code}, signal ${sig})`));
		this.proc.stdin.on('error', () => {});
	}

	data(d) {
		this.buf += d;
		let nl;
		while ((nl = this.buf.indexOf('\n')) !== -1) {
			const line = this.buf.slice(0, nl);
			this.buf = this.buf.slice(nl + 1);
			const p = this.pending.shift();
			if (p !== undefined)
				p.resolve(line);
		}
	}

	die(why) {
		this.dead = why;
		for (const p of this.pending.splice(0))
			p.reject(new Error(`${why} while handling: ` +
			    p.cmd.slice(0, 160)));
	}

	/* One command; arguments are hex-encoded here. */
	call(cmd, ...args) {
		const line = [cmd, ...args.map(hex)].join(' ');
		if (this.dead !== null)
			return Promise.reject(new Error(this.dead));
		return new Promise((resolve, reject) => {
			this.pending.push({ resolve, reject, cmd: line });
			this.proc.stdin.write(line + '\n');
		});
	}

	close() {
		this.proc.stdin.end();
	}
}

const tool = new Tool(TOOL);
after(() => tool.close());

/* Run f(i) for i < n, at most 64 in flight, collecting failures. */
async function cases(n, f) {
	const failures = [];
	for (let i = 0; i < n; i += 64) {
		const batch = [];
		for (let j = i; j < Math.min(n, i + 64); j++)
			batch.push(f(j).catch((e) => failures.push(
			    `case ${j}: ${e.message}`)));
		await Promise.all(batch);
	}
	return failures;
}

function report(t, failures, what) {
	t.diagnostic(`seed ${SEED}: ${what}`);
	assert.deepEqual(failures.slice(0, 5), [],
	    `${failures.length} failing case(s) with CROSSCHECK_SEED=${SEED}`);
}

/* The outcome crypto/ must give by section 1 of the protocol notes. */
function expected(key, rid, b64) {
	const k = Buffer.from(key + '=', 'base64');
	if (b64.length === 0 || b64.length % 4 !== 0 ||
	    b64.length > (Math.floor(1024 * 1024 / 3) + 1) * 4 ||
	    !/^[A-Za-z0-9+/]*={0,2}$/.test(b64))
		return 'err -40010';
	const ct = Buffer.from(b64, 'base64');
	if (ct.length < 32 || ct.length % 16 !== 0)
		return 'err -40007';
	const d = createDecipheriv('aes-256-cbc', k, k.subarray(0, 16));
	d.setAutoPadding(false);
	const pt = Buffer.concat([d.update(ct), d.final()]);
	const pad = pt[pt.length - 1];
	if (pad < 1 || pad > 32 || pt.length - pad < 20)
		return 'err -40008';
	const body = pt.subarray(20, pt.length - pad);
	const mlen = pt.readUInt32BE(16);
	if (mlen > body.length)
		return 'err -40008';
	if (!body.subarray(mlen).equals(Buffer.from(rid)))
		return 'err -40005';
	return 'ok ' + hex(body.subarray(0, mlen));
}

/* Encrypt a plaintext we built by hand, with no padding added. */
function rawEncrypt(key, pt) {
	const k = Buffer.from(key + '=', 'base64');
	const c = createCipheriv('aes-256-cbc', k, k.subarray(0, 16));
	c.setAutoPadding(false);
	return Buffer.concat([c.update(pt), c.final()]).toString('base64');
}

/* random | length field | msg | rid, with correct 32-byte padding. */
function frame(msg, rid, lenfield) {
	const m = Buffer.from(msg);
	const len = Buffer.alloc(4);
	len.writeUInt32BE(lenfield ?? m.length);
	const body = Buffer.concat([Buffer.alloc(16, 0x5a), len, m,
	    Buffer.from(rid)]);
	const n = 32 - body.length % 32;
	return Buffer.concat([body, Buffer.alloc(n, n)]);
}

/* ---- the tests ---- */

test('agrees with Tencent\'s public vector on both sides', async (t) => {
	const s = SAMPLE;
	const sig = await tool.call('sign', s.token, s.aeskey, '1409659813',
	    '1372623149', s.post);
	assert.equal(sig, 'ok 477715d11cdb4164915debcba66cb864d751f3e6');
	assert.equal(getSignature(s.token, '1409659813', '1372623149',
	    s.post), '477715d11cdb4164915debcba66cb864d751f3e6');
	assert.equal(await tool.call('verify', s.token, s.aeskey,
	    '1409659589', '263014780', s.echostr,
	    '5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3'), 'ok 0');

	assert.equal(await tool.call('dec', s.token, s.aeskey, s.corpid,
	    s.echostr), 'ok ' + hex('1616140317555161061'));
	assert.equal(decrypt(s.aeskey, s.echostr).message,
	    '1616140317555161061');

	const post = await tool.call('dec', s.token, s.aeskey, s.corpid,
	    s.post);
	const js = decrypt(s.aeskey, s.post);
	assert.equal(js.id, s.corpid);
	assert.equal(post, 'ok ' + hex(js.message));
	assert.match(js.message, /<FromUserName><!\[CDATA\[mycreate\]\]>/);
	assert.match(js.message, /<Content><!\[CDATA\[hello\]\]>/);
	assert.match(js.message, /<MsgId>4561255354251345929<\/MsgId>/);
	assert.match(js.message, /<AgentID>218<\/AgentID>/);
});

test(`decrypts ${CASES} messages @wecom/crypto encrypted (UTF-8, 0 B to ` +
    '64 KiB, binary random prefixes)', async (t) => {
	const r = prng(SEED, 1);
	const t0 = Date.now();
	let bytes = 0, app;
	const failures = await cases(CASES, async (i) => {
		/* Ten messages per app: the C side reuses its buffers. */
		if (i % 10 === 0)
			app = [aeskey(r), receiveid(r), r.chars(ALNUM, 8)];
		const [key, rid, token] = app;
		const msg = text(r, size(r, i));
		const ct = encrypt(key, msg, rid, prefix(r, i));
		bytes += Buffer.byteLength(msg);
		const got = await tool.call('dec', token, key, rid, ct);
		assert.equal(got, 'ok ' + hex(msg),
		    `${Buffer.byteLength(msg)}-byte message, receiveid ` +
		    JSON.stringify(rid));
	});
	report(t, failures, `${CASES} messages, ${bytes} bytes, ` +
	    `${Date.now() - t0} ms`);
});

test(`@wecom/crypto decrypts ${CASES} messages C encrypted, and ` +
    're-encrypts them to the same bytes', async (t) => {
	const r = prng(SEED, 2);
	const t0 = Date.now();
	const prefixes = new Set();
	let app;
	const failures = await cases(CASES, async (i) => {
		if (i % 10 === 0)
			app = [aeskey(r), receiveid(r), r.chars(ALNUM, 8)];
		const [key, rid, token] = app;
		const msg = text(r, size(r, i));
		const got = await tool.call('enc', token, key, rid, msg);
		assert.match(got, /^ok [A-Za-z0-9+/]+={0,2}$/);
		const ct = got.slice(3);
		const js = decrypt(key, ct);
		assert.equal(js.message, msg, `${Buffer.byteLength(msg)}-byte ` +
		    'message');
		assert.equal(js.id, rid);
		assert.equal(js.random.length, 16);
		prefixes.add(js.random.toString('hex'));
		/* Same prefix in, same ciphertext out: layout and padding. */
		assert.equal(encrypt(key, msg, rid, js.random), ct);
	});
	report(t, failures, `${CASES} messages, ${Date.now() - t0} ms`);
	assert.equal(prefixes.size, CASES, 'C reused a random prefix');
});

/*
 * Parameter sets where the sort decides: shared prefixes, one a prefix
 * of another, case, digits against letters, blanks, CJK. Values stay
 * in ASCII and the BMP below the surrogates, where a byte-wise sort
 * (C) and JS's UTF-16 sort agree.
 */
function sigparams(r, i) {
	const kind = i % 6;
	if (kind === 0)
		return [r.chars(ALNUM, r.range(3, 32)),
		    String(r.range(1000000000, 2000000000)),
		    String(r.range(0, 1e10)),
		    r.bytes(r.range(32, 600)).toString('base64')];
	if (kind === 1) {
		const base = r.chars(PRINTABLE, r.range(0, 12));
		return Array.from({ length: 4 }, () => r.chance(0.3) ?
		    base.slice(0, r.int(base.length + 1)) :
		    base + r.chars(PRINTABLE, r.range(0, 3)));
	}
	if (kind === 2) {
		const base = r.chars('aAzZ09', r.range(1, 6));
		return Array.from({ length: 4 }, () => r.chance(0.5) ?
		    base.toUpperCase() + r.chars('aZ0 ', r.int(3)) :
		    base.toLowerCase() + r.chars('aZ0 ', r.int(3)));
	}
	if (kind === 3)
		return Array.from({ length: 4 }, () => r.chars(PRINTABLE,
		    r.range(0, 40)));
	if (kind === 4)
		return Array.from({ length: 4 }, () =>
		    text(r, r.range(0, 30)).replace(/[\u0000\u{10000}-\u{10ffff}]/gu,
		    'x'));
	/* One digit strings only: "10" < "9" byte-wise, not numerically. */
	return Array.from({ length: 4 }, () => String(r.range(0, 200)));
}

test(`signs ${CASES} parameter sets as @wecom/crypto does, sort order ` +
    'included', async (t) => {
	const r = prng(SEED, 3);
	const t0 = Date.now();
	let ordered = 0;
	const failures = await cases(CASES, async (i) => {
		const [token, ts, nonce, enc] = sigparams(r, i);
		const want = getSignature(token, ts, nonce, enc);
		if (want !== createHash('sha1').update(token + ts + nonce +
		    enc).digest('hex'))
			ordered++;
		const got = await tool.call('sign', token, aeskey(r), ts,
		    nonce, enc);
		assert.equal(got, 'ok ' + want, JSON.stringify([token, ts,
		    nonce, enc]));
	});
	/* The sets must exercise the sort, or the test proves little. */
	assert.ok(ordered > CASES * 0.8, `only ${ordered} sets depend on ` +
	    'the sort');
	report(t, failures, `${CASES} sets, ${ordered} order-dependent, ` +
	    `${Date.now() - t0} ms`);
});

test('verifies @wecom/crypto signatures and refuses altered ones ' +
    '(-40001)', async (t) => {
	const r = prng(SEED, 4);
	const failures = await cases(300, async (i) => {
		const [token, ts, nonce, enc] = sigparams(r, i);
		const key = aeskey(r);
		const sig = getSignature(token, ts, nonce, enc);
		const pos = r.int(40);
		const bad = sig.slice(0, pos) + HEXDIGITS[(parseInt(sig[pos],
		    16) + r.range(1, 15)) % 16] + sig.slice(pos + 1);
		assert.equal(await tool.call('verify', token, key, ts, nonce,
		    enc, sig), 'ok 0');
		for (const b of [bad, sig.slice(0, 39), sig + '0',
		    sig.toUpperCase() === sig ? bad : sig.toUpperCase()])
			assert.equal(await tool.call('verify', token, key, ts,
			    nonce, enc, b), 'err -40001', b);
	});
	report(t, failures, '300 sets, 4 forgeries each');
});

test('rejects a receiveid other than the one configured (-40005)',
    async (t) => {
	const r = prng(SEED, 5);
	const failures = await cases(300, async (i) => {
		const key = aeskey(r);
		let rid = receiveid(r).slice(0, 100), other;
		if (rid === '')
			rid = 'ww' + r.chars(HEXDIGITS, 16);
		switch (i % 6) {
		case 0: other = rid.slice(0, -1); break;
		case 1: other = rid + r.chars(ALNUM, 1); break;
		case 2: other = ''; break;
		case 3: {
			const p = r.int(rid.length);
			const c = rid[p] === 'A' ? 'B' : 'A';
			other = rid.slice(0, p) + c + rid.slice(p + 1);
			break;
		}
		case 4: other = rid.toUpperCase() === rid ?
		    rid.toLowerCase() + 'x' : rid.toUpperCase(); break;
		default: other = receiveid(r); break;
		}
		if (other === rid)
			other += 'x';
		const msg = text(r, size(r, r.int(500)));
		const ct = encrypt(key, msg, rid, r.bytes(16));
		assert.equal(await tool.call('dec', 'tok', key, other, ct),
		    'err -40005', `sent to ${JSON.stringify(rid)}, configured ` +
		    JSON.stringify(other));
		assert.equal(await tool.call('dec', 'tok', key, rid, ct),
		    'ok ' + hex(msg));
	});
	report(t, failures, '300 mismatched receiveids');
});

/* One way to damage a ciphertext; the result need not be base64. */
function tamper(r, rid, ct) {
	const raw = Buffer.from(ct, 'base64');
	const data = ct.replace(/=+$/, '');
	const at = (s, p, c) => s.slice(0, p) + c + s.slice(p + 1);
	switch (r.int(14)) {
	case 0:
		return at(ct, r.int(data.length), r.pick(B64));
	case 1:
		return at(ct, r.int(ct.length), r.pick(['!', '-', '_', ' ',
		    '\n', '\0', '.', '\xe9', '\xff', '=', '\r', '\t']));
	case 2:
		return ct.slice(0, r.int(ct.length));
	case 3:
		return ct.slice(0, r.int(ct.length / 4) * 4);
	case 4:
		return ct + r.chars(B64, r.range(1, 64));
	case 5:
		return data + r.chars(B64, r.range(1, 16) * 4);
	case 6:
		return raw.subarray(16).toString('base64');
	case 7:
		return raw.subarray(0, raw.length - 16).toString('base64');
	case 8:
		return r.bytes(r.range(0, 12) * 16).toString('base64');
	case 9:
		return encrypt(aeskey(r), 'x'.repeat(r.int(100)), rid);
	case 10: {
		const b = Buffer.from(raw);
		b[r.int(b.length)] ^= 1 << r.int(8);
		return b.toString('base64');
	}
	case 11: {
		const n = raw.length / 16;
		const i = r.int(n), j = r.int(n);
		const b = Buffer.from(raw);
		raw.copy(b, i * 16, j * 16, j * 16 + 16);
		raw.copy(b, j * 16, i * 16, i * 16 + 16);
		return b.toString('base64');
	}
	case 12:
		return ct.replace(/[+/]/g, (c) => (c === '+' ? '-' : '_'));
	default:
		return r.bytes(r.range(1, 200)).toString('latin1');
	}
}

test('answers every tampered ciphertext with ok or a documented code, ' +
    'never a crash', async (t) => {
	const r = prng(SEED, 6);
	const seen = new Map();
	const failures = await cases(CASES, async (i) => {
		const key = aeskey(r), rid = receiveid(r);
		const ct = encrypt(key, text(r, r.int(300)), rid, r.bytes(16));
		const bad = tamper(r, rid, ct);
		const got = await tool.call('dec', 'tok', key, rid,
		    Buffer.from(bad, 'latin1'));
		const code = got.startsWith('ok ') ? 'ok' : got.slice(4);
		seen.set(code, (seen.get(code) ?? 0) + 1);
		assert.ok(code === 'ok' || DECRYPT_ERRORS.has(code),
		    `undocumented answer ${got}`);
		/* CBC has no MAC: a damaged middle block may still decrypt. */
		assert.equal(got, expected(key, rid, bad),
		    `input ${JSON.stringify(bad.slice(0, 80))}`);
	});
	/* Oversized input is refused before it is decoded. */
	const huge = 'A'.repeat((Math.floor(1024 * 1024 / 3) + 2) * 4);
	assert.equal(await tool.call('dec', 'tok', aeskey(r), '', huge),
	    'err -40010');
	report(t, failures, `${CASES} tampered inputs: ` +
	    JSON.stringify(Object.fromEntries([...seen].sort())));
	for (const c of ['ok', '-40005', '-40007', '-40008', '-40010'])
		assert.ok(seen.has(c), `no tampered input gave ${c}`);
});

test('names the fault in hand-built plaintexts: padding 0, 33 and 255, ' +
    'a length field past the end, a short buffer', async () => {
	const key = SAMPLE.aeskey, rid = SAMPLE.corpid;
	const dec = (pt) => tool.call('dec', 'tok', key, rid,
	    rawEncrypt(key, pt));
	const good = frame('hello', rid);
	assert.equal(await dec(good), 'ok ' + hex('hello'));
	assert.equal(await dec(good), expected(key, rid, rawEncrypt(key,
	    good)));
	for (const pad of [0, 33, 255]) {
		const pt = Buffer.from(good);
		pt[pt.length - 1] = pad;
		assert.equal(await dec(pt), 'err -40008', `padding ${pad}`);
	}
	assert.equal(await dec(frame('hello', rid, 6 + rid.length)),
	    'err -40008');
	assert.equal(await dec(frame('hello', rid, 0xffffffff)), 'err -40008');
	/* All padding: nothing left for the 20-byte header. */
	assert.equal(await dec(Buffer.alloc(32, 32)), 'err -40008');
	assert.equal(await dec(Buffer.alloc(32, 12)), 'err -40008');
	/* The length field one short leaves a byte on the receiveid. */
	assert.equal(await dec(frame('hello', rid, 4)), 'err -40005');
	assert.equal(await tool.call('dec', 'tok', key, rid,
	    rawEncrypt(key, Buffer.alloc(16, 1))), 'err -40007');
});

/*
 * crypto/ promises strict base64. OpenSSL's EVP_DecodeBlock drops
 * trailing '-' (its end-of-data marker) and decodes the rest: crypto/
 * must check the alphabet itself (fixed in 007ebe6).
 */
test('refuses base64 with trailing \'-\' (strict base64)', async () => {
	const key = SAMPLE.aeskey, rid = SAMPLE.corpid;
	/* 20 + 40 + 18 bytes pad to 96: base64 without '='. */
	const ct = encrypt(key, 'a'.repeat(40), rid);
	assert.equal(ct.length, 128);
	assert.equal(await tool.call('dec', 'tok', key, rid, ct),
	    'ok ' + hex('a'.repeat(40)));
	for (const tail of ['----', '--------'])
		assert.equal(await tool.call('dec', 'tok', key, rid, ct + tail),
		    'err -40010', `ciphertext + "${tail}"`);
});
