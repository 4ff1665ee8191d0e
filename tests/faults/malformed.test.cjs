'use strict';
/*
 * malformed.test.cjs (fault test d): 10,000 malformed requests, each on its
 * own TCP connection, written byte for byte: bad JSON, bad and duplicate
 * headers, wrong Content-Length, invalid UTF-8, huge header lines, broken
 * chunked bodies, bad request lines, random bytes, and slowloris
 * connections that send their headers a byte at a time.  None may be
 * accepted (no 2xx) or crash the server (no 5xx but 505); meanwhile and afterwards
 * /healthz answers and valid events are accepted; the stored events are
 * exactly the valid ones.  SLUICE_TEST_SEED picks the random cases.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { start, sleep } = require('../lib/sluice.cjs');

const TOTAL = Number(process.env.SLUICE_TEST_MALFORMED || 10000);
const SLOWLORIS = 200;	/* connections, part of TOTAL */
const CONCURRENCY = 32;
const SEED = Number(process.env.SLUICE_TEST_SEED || Date.now() % 1000000);

/* A small seeded PRNG (mulberry32), so a failure can be replayed. */
function prng(seed) {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6D2B79F5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

const VALID = '{"specversion":"1.0","id":"v","source":"/s","type":"t"}';
const NOTYPE = '{"specversion":"1.0","id":"v","source":"/s"}';
const TWO_CL = 'two different content-lengths';
const twoCl = {};	/* what the requests of that case got */

/* Request bytes: request line, headers (array of [name, value] or raw
 * strings), body.  Content-Length is added unless cl === false or given. */
function req(line, headers, body = '', cl = true) {
	const b = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
	let h = `${line}\r\nHost: 127.0.0.1\r\nConnection: close\r\n`;
	for (const x of headers)
		h += Array.isArray(x) ? `${x[0]}: ${x[1]}\r\n` : `${x}\r\n`;
	if (cl === true)
		h += `Content-Length: ${b.length}\r\n`;
	return Buffer.concat([Buffer.from(h + '\r\n', 'latin1'), b]);
}

const SJ = ['Content-Type', 'application/cloudevents+json'];
const BJ = ['Content-Type', 'application/cloudevents-batch+json'];

/* The malformed cases: each (rnd) => {name, bytes}. */
const CASES = [
	/* bad JSON, structured mode */
	(r) => ({ name: 'truncated json', bytes: req('POST /events HTTP/1.1', [SJ],
	    VALID.slice(0, 1 + Math.floor(r() * (VALID.length - 2)))) }),
	() => ({ name: 'trailing garbage', bytes: req('POST /events HTTP/1.1', [SJ],
	    VALID + '}x') }),
	() => ({ name: 'json not an object', bytes: req('POST /events HTTP/1.1', [SJ],
	    '[1,2,3]') }),
	() => ({ name: 'missing id', bytes: req('POST /topics/mal/events HTTP/1.1',
	    [SJ], '{"specversion":"1.0","source":"/s","type":"t"}') }),
	() => ({ name: 'duplicate member', bytes: req('POST /events HTTP/1.1', [SJ],
	    '{"specversion":"1.0","id":"a","id":"b","source":"/s","type":"t"}') }),
	() => ({ name: 'specversion 0.3', bytes: req('POST /events HTTP/1.1', [SJ],
	    VALID.replace('1.0', '0.3')) }),
	(r) => ({ name: 'deep nesting', bytes: req('POST /events HTTP/1.1', [SJ],
	    '{"specversion":"1.0","id":"d","source":"/s","type":"t","data":' +
	    '['.repeat(1000 + Math.floor(r() * 50000)) + '}') }),
	() => ({ name: 'data and data_base64', bytes: req('POST /events HTTP/1.1',
	    [SJ], '{"specversion":"1.0","id":"x","source":"/s","type":"t",' +
	    '"data":1,"data_base64":"AA=="}') }),
	() => ({ name: 'invalid utf-8 in json', bytes: req('POST /events HTTP/1.1',
	    [SJ], Buffer.concat([Buffer.from('{"specversion":"1.0","id":"'),
		Buffer.from([0xff, 0xfe, 0xc3]),
		Buffer.from('","source":"/s","type":"t"}')])) }),
	() => ({ name: 'overlong utf-8', bytes: req('POST /events HTTP/1.1', [SJ],
	    Buffer.concat([Buffer.from('{"specversion":"1.0","id":"'),
		Buffer.from([0xc0, 0xaf, 0xed, 0xa0, 0x80]),
		Buffer.from('","source":"/s","type":"t"}')])) }),
	() => ({ name: 'lone surrogate escape', bytes: req('POST /events HTTP/1.1',
	    [SJ], '{"specversion":"1.0","id":"\\ud800","source":"/s","type":"t"}') }),
	() => ({ name: 'bad time', bytes: req('POST /events HTTP/1.1', [SJ],
	    '{"specversion":"1.0","id":"x","source":"/s","type":"t","time":"yesterday"}') }),
	() => ({ name: 'bad extension name', bytes: req('POST /events HTTP/1.1', [SJ],
	    '{"specversion":"1.0","id":"x","source":"/s","type":"t","Bad-Name":1}') }),
	/* batches: one bad event rejects the whole batch */
	(r) => ({ name: 'batch with one bad event', bytes: req(
	    'POST /topics/mal/events HTTP/1.1', [BJ], JSON.stringify([
		{ specversion: '1.0', id: `ok${Math.floor(r() * 1e9)}`, source: '/s',
		    type: 't' },
		{ specversion: '1.0', id: 'bad', source: '/s' }])) }),
	() => ({ name: 'batch not an array', bytes: req('POST /events HTTP/1.1', [BJ],
	    VALID) }),
	() => ({ name: 'batch truncated', bytes: req('POST /events HTTP/1.1', [BJ],
	    `[${VALID},${VALID.slice(0, 20)}`) }),
	/* binary mode headers */
	(r) => ({ name: 'duplicate ce-id', bytes: req('POST /topics/mal/events HTTP/1.1',
	    [['ce-specversion', '1.0'], ['ce-id', `a${r()}`], ['ce-id', 'b'],
		['ce-source', '/s'], ['ce-type', 't'],
		['Content-Type', 'text/plain']], 'hi') }),
	() => ({ name: 'duplicate ce-specversion', bytes: req('POST /events HTTP/1.1',
	    [['ce-specversion', '1.0'], ['ce-specversion', '0.3'], ['ce-id', 'a'],
		['ce-source', '/s'], ['ce-type', 't']], 'hi') }),
	() => ({ name: 'binary without source', bytes: req('POST /events HTTP/1.1',
	    [['ce-specversion', '1.0'], ['ce-id', 'a'], ['ce-type', 't'],
		['Content-Type', 'text/plain']], 'hi') }),
	() => ({ name: 'binary invalid utf-8 header', bytes: req('POST /events HTTP/1.1',
	    [['ce-specversion', '1.0'], ['ce-id', 'a%FF%FE'], ['ce-source', '/s'],
		['ce-type', 't']], 'hi') }),
	() => ({ name: 'binary raw 8-bit header', bytes: Buffer.concat([
	    Buffer.from('POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
		'ce-specversion: 1.0\r\nce-id: '),
	    Buffer.from([0xff, 0x80, 0x00, 0x7f]),
	    Buffer.from('\r\nce-source: /s\r\nce-type: t\r\nContent-Length: 0\r\n\r\n')]) }),
	() => ({ name: 'binary ce-datacontenttype', bytes: req('POST /events HTTP/1.1',
	    [['ce-specversion', '1.0'], ['ce-id', 'a'], ['ce-source', '/s'],
		['ce-type', 't'], ['ce-datacontenttype', 'text/plain']], 'hi') }),
	() => ({ name: 'json content-type, non-json body', bytes: req(
	    'POST /events HTTP/1.1', [['ce-specversion', '1.0'], ['ce-id', 'a'],
		['ce-source', '/s'], ['ce-type', 't'],
		['Content-Type', 'application/json']], '{not json') }),
	() => ({ name: 'no specversion, unknown type', bytes: req(
	    'POST /events HTTP/1.1', [['Content-Type', 'application/x-what']], 'x') }),
	() => ({ name: 'header without colon', bytes: req('POST /events HTTP/1.1',
	    [SJ, 'this is not a header'], '{"specversion":"1.0"}') }),
	() => ({ name: 'header with space before colon', bytes: req(
	    'POST /events HTTP/1.1', [SJ, 'ce-id : x'], '{}') }),
	() => ({ name: 'obsolete line folding', bytes: req('POST /events HTTP/1.1',
	    [SJ, 'X-Folded: a\r\n b'], '{"specversion":"1.0","id":1}') }),
	(r) => ({ name: 'huge header line', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['X-Huge', 'h'.repeat(40000 + Math.floor(r() * 100000))]], VALID) }),
	(r) => ({ name: 'many headers', bytes: req('POST /events HTTP/1.1',
	    [SJ, ...Array.from({ length: 2000 + Math.floor(r() * 2000) },
		(_, i) => [`X-H${i}`, 'v'.repeat(20)])], VALID) }),
	(r) => ({ name: 'huge url', bytes: req(`POST /topics/${'t'.repeat(
	    40000 + Math.floor(r() * 40000))}/events HTTP/1.1`, [SJ], VALID) }),
	/* lengths */
	(r) => ({ name: 'content-length too small', bytes: (() => {
		const b = Buffer.from(VALID);
		const n = Math.floor(r() * (b.length - 1));
		return Buffer.concat([Buffer.from('POST /events HTTP/1.1\r\nHost: x\r\n' +
		    'Content-Type: application/cloudevents+json\r\n' +
		    `Content-Length: ${n}\r\n\r\n`), b]);
	})() }),
	(r) => ({ name: 'content-length too big', wait: 300, bytes: req(
	    'POST /events HTTP/1.1', [SJ, ['Content-Length',
		String(VALID.length + 1 + Math.floor(r() * 100))]], VALID, false) }),
	() => ({ name: TWO_CL, bytes: req('POST /topics/mal2/events HTTP/1.1',
	    [SJ, ['Content-Length', String(VALID.length)], ['Content-Length', '5']],
	    VALID, false) }),
	() => ({ name: 'negative content-length', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Content-Length', '-1']], VALID, false) }),
	() => ({ name: 'non-numeric content-length', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Content-Length', '12abc']], VALID, false) }),
	() => ({ name: 'huge content-length', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Content-Length', '99999999999999999999999']], VALID, false) }),
	/* RFC 9112 6.1 lets a server go by Transfer-Encoding alone here: the
	 * event inside is what makes it invalid */
	() => ({ name: 'chunked and content-length', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Transfer-Encoding', 'chunked'], ['Content-Length', '3']],
	    `${NOTYPE.length.toString(16)}\r\n${NOTYPE}\r\n0\r\n\r\n`, false) }),
	() => ({ name: 'bad chunk size', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Transfer-Encoding', 'chunked']], `zz\r\n${VALID}\r\n0\r\n\r\n`,
	    false) }),
	() => ({ name: 'chunk size overflow', bytes: req('POST /events HTTP/1.1',
	    [SJ, ['Transfer-Encoding', 'chunked']],
	    `ffffffffffffffffffff\r\n${VALID}\r\n0\r\n\r\n`, false) }),
	() => ({ name: 'truncated chunked body', wait: 300, bytes: req(
	    'POST /events HTTP/1.1', [SJ, ['Transfer-Encoding', 'chunked']],
	    `100\r\n${VALID}`, false) }),
	/* request lines */
	() => ({ name: 'no version', bytes: Buffer.from('POST /events\r\n\r\n') }),
	() => ({ name: 'bad version', bytes: req('POST /events HTTP/9.9', [SJ], VALID) }),
	() => ({ name: 'bad method', bytes: req('P@ST /events HTTP/1.1', [SJ], VALID) }),
	() => ({ name: 'absolute url elsewhere', bytes: req(
	    'POST http://example.com/../events HTTP/1.1', [SJ, ['ce-x', 'y']],
	    '{"specversion":"1.0"}') }),
	() => ({ name: 'bare LF and NUL', bytes: Buffer.from(
	    'POST /events HTTP/1.1\nHost: x\nContent-Length: 2\n\n{\0') }),
	/* random bytes, with or without an HTTP-looking start */
	(r) => {
		const n = 1 + Math.floor(r() * 4096);
		const b = Buffer.alloc(n);
		for (let i = 0; i < n; i++)
			b[i] = Math.floor(r() * 256);
		return { name: 'random bytes', bytes: r() < 0.5 ? b : Buffer.concat([
		    Buffer.from('POST /events HTTP/1.1\r\n'), b]) };
	},
];

/*
 * Sends bytes on a new connection and resolves the status of the answer
 * (0: closed without one, -1: nothing within the wait after the last byte).
 */
function send(port, bytes, options = {}) {
	return new Promise((resolve) => {
		const sock = net.connect(port, '127.0.0.1');
		let got = '', done = false;
		const finish = (v) => {
			if (done)
				return;
			done = true;
			clearTimeout(timer);
			sock.destroy();
			resolve(v);
		};
		const status = () => {
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
			return m ? Number(m[1]) : 0;
		};
		let timer = null;
		const arm = () => {
			clearTimeout(timer);
			timer = setTimeout(() => finish(status() || -1),
			    options.wait || 10000);
		};
		sock.on('data', (d) => {
			got += d.toString('latin1');
			if (/\r\n\r\n/.test(got))
				finish(status());
		});
		sock.on('error', () => finish(status()));
		sock.on('close', () => finish(status()));
		sock.on('connect', async () => {
			if (options.slowly) {
				for (const c of bytes) {
					if (done)
						return;
					sock.write(Buffer.from([c]));
					await sleep(options.slowly);
				}
			} else
				sock.write(bytes);
			arm();
		});
		arm();
	});
}

async function userEvents(s) {
	const n = {};
	for (const topic of ['default', 'mal', 'mal2', 'valid'])
		n[topic] = (await s.allEvents({ topic })).length;
	return n;
}

test(`${TOTAL} malformed requests leave the server answering and the ` +
    'database unchanged', { timeout: 300000 }, async (t) => {
	const s = await start({ t, args: ['--idle-timeout', '3s'] });
	await s.createTopic('mal');
	await s.createTopic('mal2');
	await s.createTopic('valid');
	const before = await userEvents(s);
	const rnd = prng(SEED);
	t.diagnostic(`seed ${SEED} (SLUICE_TEST_SEED replays it)`);

	/* Slowloris: connections that send a request a byte every 200 ms,
	 * running while the rest go on. */
	const lorisReq = req('POST /events HTTP/1.1', [SJ, ['X-Slow',
	    'a'.repeat(200)]], '{"specversion":"1.0","id":"slow"}');
	const loris = [];
	for (let i = 0; i < SLOWLORIS; i++)
		loris.push(send(s.port, lorisReq.subarray(0, 40 + (i % 40)),
		    { slowly: 200, wait: 1000 }));

	const statuses = new Map();	/* status -> count */
	const byCase = new Map();	/* name -> Map status -> count */
	const bad = [];
	let next = 0, valid = 0;
	const note = (name, st) => {
		statuses.set(st, (statuses.get(st) || 0) + 1);
		if (!byCase.has(name))
			byCase.set(name, new Map());
		const m = byCase.get(name);
		m.set(st, (m.get(st) || 0) + 1);
		if ((st >= 200 && st < 300) || (st >= 500 && st !== 505))
			bad.push(`${name}: ${st}`);
	};
	const worker = async () => {
		while (next < TOTAL - SLOWLORIS) {
			const i = next++;
			const c = CASES[i % CASES.length](rnd);
			note(c.name, await send(s.port, c.bytes, { wait: c.wait }));
			if (i % 500 === 0) {
				/* still answering, still accepting valid events */
				const h = await s.api('GET', '/healthz');
				assert.equal(h.status, 200, 'healthz during the storm');
				const v = await s.publishStructured({ id: `valid${i}`,
				    source: '/faults/malformed', type: 'ok' },
				    { topic: 'valid' });
				assert.equal(v.status, 202, `valid ingest during: ${v.text}`);
				valid++;
			}
		}
	};
	const started = Date.now();
	await Promise.all(Array.from({ length: CONCURRENCY }, worker));
	for (const st of await Promise.all(loris))
		note('slowloris', st);
	const secs = (Date.now() - started) / 1000;

	t.diagnostic(`${TOTAL} malformed requests in ${secs.toFixed(1)} s: ` +
	    [...statuses].sort((a, b) => a[0] - b[0])
		.map(([k, v]) => `${k === 0 ? 'closed' : k === -1 ? 'no answer' : k} ` +
		    `x${v}`).join(', '));
	for (const [name, m] of byCase)
		t.diagnostic(`  ${name}: ${[...m].map(([k, v]) => `${k}x${v}`).join(' ')}`);
	assert.deepEqual(bad.slice(0, 20), [], `${bad.length} malformed ` +
	    'requests were accepted or answered 5xx');
	/* (asserted by the test at the end) */
	twoCl.answers = [...byCase.get(TWO_CL).keys()];
	twoCl.stored = (await s.allEvents({ topic: 'mal2' })).length;

	/* Still answering, still accepting, nothing malformed stored. */
	assert.equal((await s.api('GET', '/healthz')).status, 200);
	const v = await s.publishStructured({ id: 'valid-after',
	    source: '/faults/malformed', type: 'ok' }, { topic: 'valid' });
	assert.equal(v.status, 202, v.text);
	valid++;
	const after = await userEvents(s);
	assert.deepEqual(after, { default: before.default, mal: before.mal,
	    mal2: before.mal2, valid: before.valid + valid },
	    'only the valid events were stored');
	const m = (await s.api('GET', '/metrics')).text;
	t.diagnostic('rejected by reason: ' + m.split('\n')
	    .filter((l) => l.startsWith('sluice_events_rejected_total{'))
	    .map((l) => l.replace('sluice_events_rejected_total', '')).join(' '));
	await s.stop();
});

test('two different Content-Length headers are refused (RFC 9112 6.3: ' +
    'invalid framing, 400) and store nothing', () => {
	assert.deepEqual(twoCl.answers, [400], `answers: ${twoCl.answers}`);
	assert.equal(twoCl.stored, 0, 'nothing stored from them');
});
