'use strict';
/*
 * tests/lib/sluice.cjs: the integration-test harness.  Starts the real
 * sluiced (the binary make check names in $SLUICED) on a free loopback
 * port with a fresh temp directory and database, talks HTTP to it, and
 * stops it again: stop() asserts a clean exit (status 0, so sanitizer
 * reports fail the test), kill() is a SIGKILL, restart() starts it again on
 * the same database.  Every process and temp dir it makes is cleaned up by
 * the test that made it (pass the test context as `t`, or call cleanup()),
 * and, as a last resort, when the node process exits.
 *
 *   const { start } = require('../lib/sluice.cjs');
 *   test('x', async (t) => {
 *     const s = await start({ t, args: ['--max-body', '2k'] });
 *     const r = await s.publishStructured({ id: '1', source: '/s', type: 't' });
 *     assert.equal(r.status, 202);
 *   });
 */
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const TOP_BUILDDIR = process.env.TOP_BUILDDIR ||
    path.resolve(__dirname, '..', '..');
const TOP_SRCDIR = process.env.TOP_SRCDIR || path.resolve(__dirname, '..', '..');
const SLUICED = process.env.SLUICED || path.join(TOP_BUILDDIR, 'sluiced');
const READY_MS = Number(process.env.SLUICE_TEST_READY_MS || 20000);
/* What ASan, LSan, TSan and UBSan print when they find something. */
const SANITIZER_REPORT =
    /ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:/;

const live = new Set();	/* processes still running, for the exit hook */
process.on('exit', () => {
	for (const p of live) {
		try {
			p.kill('SIGKILL');
		} catch (e) { /* already gone */ }
	}
});

/* The environment for sluiced: ours without SLUICE_* settings, plus env. */
function childEnv(env) {
	const out = {};
	for (const [k, v] of Object.entries(process.env))
		if (!k.startsWith('SLUICE_'))
			out[k] = v;
	return Object.assign(out, env || {});
}

/*
 * Polls fn every 50 ms until it returns a truthy value, and returns that;
 * throws naming what after ms.
 */
async function until(fn, ms = 20000, what = 'condition') {
	const end = Date.now() + ms;
	for (;;) {
		const v = await fn();
		if (v)
			return v;
		if (Date.now() > end)
			throw new Error(`timed out after ${ms} ms waiting for ${what}`);
		await sleep(50);
	}
}

function sleep(ms) {
	return new Promise((r) => setTimeout(r, ms));
}

/*
 * Runs sluiced to completion (for --help, bad flags, refused databases).
 * Resolves {code, signal, stdout, stderr}.
 */
function run(args, options = {}) {
	return new Promise((resolve, reject) => {
		const p = spawn(SLUICED, args, {
			cwd: options.cwd, env: childEnv(options.env),
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		let stdout = '', stderr = '';
		const timer = setTimeout(() => p.kill('SIGKILL'),
		    options.timeoutMs || 20000);
		live.add(p);
		p.stdout.on('data', (d) => { stdout += d; });
		p.stderr.on('data', (d) => { stderr += d; });
		p.on('error', (e) => {
			clearTimeout(timer);
			live.delete(p);
			reject(e);
		});
		p.on('close', (code, signal) => {
			clearTimeout(timer);
			live.delete(p);
			resolve({ code, signal, stdout, stderr });
		});
	});
}

/*
 * One HTTP request to base + path.  body: object (sent as JSON), string, or
 * Buffer.  Resolves {status, headers, text, json, body}; rejects if the
 * connection fails or is reset.  (node:http rather than fetch: undici's
 * fetch can leave its promise unsettled forever when the server resets
 * the connection, e.g. when a test stops sluiced mid-request.)
 */
function api(base, method, p, body, options = {}) {
	const headers = Object.assign({}, options.headers || {});
	let payload;
	if (options.token)
		headers.authorization = `Bearer ${options.token}`;
	if (body !== undefined && body !== null) {
		if (Buffer.isBuffer(body) || body instanceof Uint8Array ||
		    typeof body === 'string')
			payload = Buffer.from(body);
		else {
			payload = Buffer.from(JSON.stringify(body));
			if (!Object.keys(headers).some((h) =>
			    h.toLowerCase() === 'content-type'))
				headers['content-type'] = 'application/json';
		}
	}
	if (payload !== undefined)
		headers['content-length'] = String(payload.length);
	const u = new URL(base + p);
	return new Promise((resolve, reject) => {
		const req = http.request({
			host: u.hostname, port: u.port, method,
			path: u.pathname + u.search, headers,
			agent: options.agent,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('error', reject);
			res.on('aborted', () => reject(new Error('response aborted')));
			res.on('end', () => {
				const buf = Buffer.concat(chunks);
				const text = buf.toString('utf8');
				const out = { status: res.statusCode, headers: res.headers,
					text, body: buf, json: undefined };
				try {
					if (/json/i.test(res.headers['content-type'] || '') &&
					    text !== '')
						out.json = JSON.parse(text);
				} catch (e) {
					reject(new Error(`${method} ${p}: bad JSON: ${text}`));
					return;
				}
				resolve(out);
			});
		});
		req.on('error', reject);
		req.setTimeout(options.timeoutMs || 60000, () =>
		    req.destroy(new Error(`${method} ${p}: no answer in time`)));
		req.end(payload);
	});
}

/*
 * A request through node:http with full control: headers exactly as given,
 * body as a Buffer (sent with Content-Length) or as an array of Buffers
 * (sent chunked).  Resolves {status, headers, body, text, json} as soon as
 * the response is complete, even if the server stopped reading the body.
 */
/*
 * Sends bytes as they are on a fresh TCP connection (for what node's own
 * client refuses to send: a NUL in a header, a path with raw bytes) and
 * reads the answer to the connection's end: { status, headers, text, json }.
 * The request should say Connection: close.
 */
function socketRequest(base, bytes) {
	const u = new URL(base);
	return new Promise((resolve, reject) => {
		const chunks = [];
		const c = net.connect(Number(u.port), u.hostname, () => c.end(bytes));
		c.on('data', (d) => chunks.push(d));
		c.on('error', reject);
		c.on('close', () => {
			const all = Buffer.concat(chunks).toString('latin1');
			const at = all.indexOf('\r\n\r\n');
			const head = (at < 0 ? all : all.slice(0, at)).split('\r\n');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(head[0] || '');
			const headers = {};
			for (const l of head.slice(1)) {
				const i = l.indexOf(':');
				if (i > 0)
					headers[l.slice(0, i).trim().toLowerCase()] =
					    l.slice(i + 1).trim();
			}
			const text = at < 0 ? '' : Buffer.from(all.slice(at + 4),
			    'latin1').toString('utf8');
			let json;
			try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
			resolve({ status: m ? Number(m[1]) : 0, headers, text, json });
		});
	});
}

function rawRequest(base, options) {
	const u = new URL(base);
	return new Promise((resolve, reject) => {
		let done = false;
		const req = http.request({
			host: u.hostname, port: u.port, method: options.method || 'POST',
			path: options.path, headers: options.headers || {},
			agent: false,
		}, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				done = true;
				const body = Buffer.concat(chunks);
				const text = body.toString('utf8');
				let json;
				if (/json/.test(res.headers['content-type'] || ''))
					try { json = JSON.parse(text); } catch (e) { /* */ }
				resolve({ status: res.statusCode, headers: res.headers,
				    body, text, json });
				req.destroy();
			});
		});
		req.on('error', (e) => { if (!done) reject(e); });
		if (options.timeoutMs)
			req.setTimeout(options.timeoutMs, () =>
			    req.destroy(new Error('request timed out')));
		if (Array.isArray(options.body)) {
			for (const c of options.body)
				req.write(c);
			req.end();
		} else
			req.end(options.body);
	});
}

/* Header name for a binary-mode attribute. */
function ceHeaders(attrs) {
	const h = {};
	for (const [k, v] of Object.entries(attrs)) {
		if (v === undefined || v === null || k === 'data' ||
		    k === 'data_base64' || k === 'datacontenttype')
			continue;
		h[`ce-${k}`] = String(v);
	}
	return h;
}

function ingestPath(topic) {
	return !topic || topic === 'default' ? '/events' :
	    `/topics/${encodeURIComponent(topic)}/events`;
}

class Sluice {
	constructor(options) {
		this.options = options;
		this.args = options.args || [];
		this.env = options.env || {};
		this.dir = options.dir;
		this.db = options.db;
		this.ownsDir = options.ownsDir;
		this.token = options.token;
		this.proc = null;
		this.url = null;
		this.port = null;
		this.address = null;
		this.exit = null;	/* {code, signal} once it stopped */
		this.lines = [];
		this.cleaned = false;
		this.agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
	}

	/* Everything sluiced logged (all runs, in order), as one string. */
	logs() {
		return this.lines.join('\n');
	}

	async spawn(listen) {
		const args = this.options.bare ? [...this.args] :
		    ['--listen', listen || '127.0.0.1:0', '--db', this.db, ...this.args];
		const p = spawn(SLUICED, args, {
			cwd: this.dir, env: childEnv(this.env),
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		this.proc = p;
		this.exit = null;
		live.add(p);
		const exited = new Promise((resolve) => {
			p.on('close', (code, signal) => {
				live.delete(p);
				this.exit = { code, signal };
				resolve(this.exit);
			});
		});
		this.exited = exited;
		let partial = '';
		const ready = new Promise((resolve, reject) => {
			const timer = setTimeout(() => reject(new Error(
			    `sluiced did not say "listening on" within ${READY_MS} ms:\n` +
			    this.logs())), READY_MS);
			const onData = (d) => {
				partial += d.toString('utf8');
				let i;
				while ((i = partial.indexOf('\n')) >= 0) {
					const line = partial.slice(0, i);
					partial = partial.slice(i + 1);
					this.lines.push(line);
					const m = /listening on http:\/\/(\S+)/.exec(line);
					if (m) {
						clearTimeout(timer);
						resolve(m[1]);
					}
				}
			};
			p.stderr.on('data', onData);
			p.stdout.on('data', onData);
			p.on('error', (e) => { clearTimeout(timer); reject(e); });
			exited.then(({ code, signal }) => {
				if (partial !== '')
					this.lines.push(partial);
				partial = '';
				clearTimeout(timer);
				reject(new Error(`sluiced exited (code ${code}, signal ` +
				    `${signal}) before listening:\n${this.logs()}`));
			});
		});
		try {
			this.address = await ready;
		} catch (e) {
			if (this.exit === null) {
				p.kill('SIGKILL');
				await exited;
			}
			throw e;
		}
		this.port = Number(/:(\d+)$/.exec(this.address)[1]);
		this.url = `http://${this.address}`;
		return this;
	}

	get running() {
		return this.proc !== null && this.exit === null;
	}

	/* SIGTERM; resolves the exit and asserts it was a clean exit 0. */
	async stop() {
		if (!this.running)
			return this.exit;
		this.proc.kill('SIGTERM');
		const ex = await this.waitExit(30000);
		assert.equal(ex.code, 0, `sluiced did not exit 0 on SIGTERM ` +
		    `(code ${ex.code}, signal ${ex.signal}):\n${this.logs()}`);
		assert.doesNotMatch(this.logs(), SANITIZER_REPORT,
		    `a sanitizer reported a problem:\n${this.logs()}`);
		return ex;
	}

	/* SIGKILL: a crash, as far as the database can tell. */
	async kill() {
		if (!this.running)
			return this.exit;
		this.proc.kill('SIGKILL');
		return this.exited;
	}

	/* Resolves {code, signal} when the process ends, or rejects. */
	async waitExit(ms) {
		let timer;
		const t = new Promise((_, reject) => {
			timer = setTimeout(() => reject(new Error(
			    `sluiced did not exit within ${ms} ms:\n${this.logs()}`)), ms);
		});
		try {
			return await Promise.race([this.exited, t]);
		} finally {
			clearTimeout(timer);
		}
	}

	/* Stops (if running) and starts again on the same database.  With
	 * samePort, listens on the port it had. */
	async restart(options = {}) {
		if (this.running)
			await this.stop();
		if (options.args)
			this.args = options.args;
		if (options.env)
			this.env = options.env;
		return this.spawn(options.samePort ? `127.0.0.1:${this.port}` :
		    undefined);
	}

	/* Kills what is still running and removes the temp dir. */
	async cleanup() {
		if (this.cleaned)
			return;
		this.cleaned = true;
		if (this.running) {
			this.proc.kill('SIGKILL');
			await this.exited;
		}
		this.agent.destroy();
		if (this.ownsDir)
			fs.rmSync(this.dir, { recursive: true, force: true });
	}

	api(method, p, body, options = {}) {
		return api(this.url, method, p, body,
		    Object.assign({ token: this.token, agent: this.agent }, options));
	}

	raw(options) {
		return rawRequest(this.url, options);
	}

	socket(bytes) {
		return socketRequest(this.url, bytes);
	}

	/* Structured mode: event is the CloudEvents JSON object (or text). */
	publishStructured(event, options = {}) {
		const body = typeof event === 'string' || Buffer.isBuffer(event) ?
		    event : JSON.stringify(Object.assign({ specversion: '1.0' }, event));
		return this.api('POST', ingestPath(options.topic), body, {
			token: options.token,
			headers: Object.assign({ 'content-type':
			    options.contentType || 'application/cloudevents+json' },
			    options.headers || {}),
		});
	}

	/* Binary mode: attrs become ce-* headers; body is the data. */
	publishBinary(attrs, body, options = {}) {
		const headers = Object.assign(
		    ceHeaders(Object.assign({ specversion: '1.0' }, attrs)),
		    options.headers || {});
		if (options.contentType !== null)
			headers['content-type'] = options.contentType ||
			    attrs.datacontenttype || 'application/octet-stream';
		return this.api('POST', ingestPath(options.topic),
		    body === undefined ? '' : body, { token: options.token, headers });
	}

	/* Batched mode: events is an array of CloudEvents JSON objects. */
	publishBatch(events, options = {}) {
		const body = typeof events === 'string' ? events : JSON.stringify(
		    events.map((e) => Object.assign({ specversion: '1.0' }, e)));
		return this.api('POST', ingestPath(options.topic), body, {
			token: options.token,
			headers: Object.assign({ 'content-type':
			    'application/cloudevents-batch+json' },
			    options.headers || {}),
		});
	}

	/* GET /api/v1/events/{msg}: the stored item, asserting 200. */
	async event(msg) {
		const r = await this.api('GET', `/api/v1/events/${msg}`);
		assert.equal(r.status, 200, `GET event ${msg}: ${r.text}`);
		return r.json;
	}

	/* Every item of GET /api/v1/events?query, following next_cursor. */
	async allEvents(query = {}, limit = 1000) {
		const items = [];
		let cursor = null;
		for (let pages = 0; pages < 100000; pages++) {
			const q = new URLSearchParams(Object.assign({}, query,
			    { limit: String(limit) }));
			if (cursor)
				q.set('cursor', cursor);
			const r = await this.api('GET', `/api/v1/events?${q}`);
			assert.equal(r.status, 200, `GET /api/v1/events: ${r.text}`);
			items.push(...r.json.items);
			cursor = r.json.next_cursor;
			if (cursor === null)
				return items;
		}
		throw new Error('events list does not end');
	}

	/* Creates a topic, asserting 201. */
	async createTopic(name, fields = {}) {
		const r = await this.api('POST', '/api/v1/topics',
		    Object.assign({ name }, fields));
		assert.equal(r.status, 201, `create topic ${name}: ${r.text}`);
		return r.json;
	}
}

/*
 * Starts sluiced.  options:
 *   t        the node:test context: its t.after() stops and cleans up
 *   args     extra flags (after --listen and --db)
 *   env      extra environment (SLUICE_* from the caller's env are dropped)
 *   dir, db  reuse a directory / database (default: a fresh mkdtemp dir
 *            holding sluice.db, removed at cleanup)
 *   token    admin token to send with api() (also pass --admin-token)
 *   listen   ADDR:PORT instead of 127.0.0.1:0
 *   bare     pass no --listen and --db: args, env or a config file say
 *            where to listen and which database (tests of the settings)
 *   stopOnCleanup  false: t.after only kills (for tests that expect a
 *            non-zero exit themselves); default true
 * start() waits for the info line "listening on http://ADDR:PORT", so
 * --log-level must stay at info or debug (use run() for anything else).
 */
async function start(options = {}) {
	let dir = options.dir, ownsDir = false;
	if (!dir) {
		dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
		ownsDir = true;
	}
	const s = new Sluice(Object.assign({}, options, {
		dir, ownsDir, db: options.db || path.join(dir, 'sluice.db'),
	}));
	if (options.t) {
		options.t.after(async () => {
			try {
				if (options.stopOnCleanup !== false && s.running)
					await s.stop();
			} finally {
				await s.cleanup();
			}
		});
	}
	try {
		await s.spawn(options.listen);
	} catch (e) {
		await s.cleanup();
		throw e;
	}
	return s;
}

/* A fresh temp dir removed by t.after (or returned for the caller). */
function tempDir(t) {
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-test-'));
	if (t)
		t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
	return dir;
}

/* Asserts r is a problem+json answer with the status; returns the body. */
function assertProblem(r, status, attribute) {
	assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
	assert.match(r.headers['content-type'] || '', /^application\/problem\+json/,
	    `problem content type: ${r.headers['content-type']}`);
	assert.equal(r.json.status, status);
	assert.equal(typeof r.json.title, 'string');
	assert.equal(typeof r.json.detail, 'string');
	if (attribute !== undefined) {
		assert.ok(Array.isArray(r.json.errors), `errors list: ${r.text}`);
		assert.ok(r.json.errors.some((e) => e.attribute === attribute ||
		    e.field === attribute), `errors name ${attribute}: ${r.text}`);
	}
	return r.json;
}

/* ASan+UBSan builds of sluiced run several times slower than plain ones. */
const SANITIZED = (() => {
	try {
		return fs.readFileSync(SLUICED).includes('__asan_init');
	} catch (e) {
		return false;
	}
})();

/*
 * How late a timed event (a retry after a pause, a lease's end) may come:
 * base ms, more under sanitizers, plus SLUICE_TEST_SLACK_MS on a loaded
 * machine.
 */
function timingSlack(base)
{
	return base + (SANITIZED ? 1400 : 0) +
	    Number(process.env.SLUICE_TEST_SLACK_MS || 0);
}

module.exports = {
	SLUICED, TOP_SRCDIR, TOP_BUILDDIR, SANITIZED, timingSlack,
	start, run, api, rawRequest, tempDir, sleep, until, assertProblem,
	ceHeaders,
	childEnv,
};
