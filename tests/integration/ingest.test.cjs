'use strict';
/*
 * ingest.test.cjs: CloudEvents ingest against the real sluiced: every HTTP
 * binding mode read back exactly as sent, the 202 body, duplicates, atomic
 * batches, and every error status a producer can get (400, 401, 403, 404,
 * 405, 413, 415), plus the OPTIONS abuse-protection handshake.  Where
 * what was accepted shapes what goes out (an explicit "data": null), a
 * recording sink checks the delivery too.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { start, assertProblem } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const MIB = 1024 * 1024;
let s;	/* the server most tests share */
let seq = 0;

function uid(prefix = 'ev') {
	return `${prefix}-${process.pid}-${++seq}`;
}

/* The stored event (the "event" member of the item) for a 202's msg. */
async function readBack(msg) {
	const item = await s.event(msg);
	assert.equal(item.msg, msg);
	return item;
}

/* Asserts a 202 answer for events (each {id, source}), and returns msgs. */
function assertAccepted(r, events) {
	assert.equal(r.status, 202, r.text);
	assert.match(r.headers['content-type'], /^application\/json/);
	assert.deepEqual(Object.keys(r.json).sort(), ['accepted', 'duplicates']);
	assert.equal(r.json.duplicates.length, 0, r.text);
	assert.equal(r.json.accepted.length, events.length, r.text);
	r.json.accepted.forEach((a, i) => {
		assert.deepEqual(Object.keys(a).sort(), ['id', 'msg', 'source']);
		assert.equal(a.id, events[i].id);
		assert.equal(a.source, events[i].source);
		assert.equal(typeof a.msg, 'string');
		assert.ok(a.msg.length > 0);
	});
	return r.json.accepted.map((a) => a.msg);
}

test.before(async () => {
	s = await start();
});

test.after(async () => {
	if (s)
		await s.cleanup();
});

test('structured mode: every attribute, typed extensions and JSON data come back as sent', async () => {
	const ev = {
		specversion: '1.0',
		id: uid('st'),
		source: 'https://example.com/orders',
		type: 'com.example.order.created',
		subject: 'order/42',
		time: '2026-01-02T03:04:05.678Z',
		datacontenttype: 'application/json',
		dataschema: 'https://example.com/schemas/order.json',
		count: 42,
		negative: -2147483648,
		urgent: true,
		archived: false,
		note: 'caf\u00e9 \u2603',
		data: { a: 1, b: [true, null, 'x'], c: { d: 1.5, e: 'caf\u00e9' } },
	};
	const r = await s.publishStructured(ev);
	const [msg] = assertAccepted(r, [ev]);
	const item = await readBack(msg);
	assert.equal(item.topic, 'default');
	assert.match(item.received_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
	assert.deepEqual(item.event, ev);
	assert.equal(typeof item.event.count, 'number');
	assert.equal(typeof item.event.urgent, 'boolean');
	assert.equal(item.event.archived, false);
});

test('structured mode: JSON data text is kept exactly (number forms, spacing)', async () => {
	const id = uid('st');
	const text = '{"specversion":"1.0","id":"' + id + '","source":"/s",' +
	    '"type":"t","data": {"price": 1.50, "big": 12345678901234567890, "e" : [1e3]} }';
	const r = await s.publishStructured(text);
	const [msg] = assertAccepted(r, [{ id, source: '/s' }]);
	const got = await s.api('GET', `/api/v1/events/${msg}`);
	assert.equal(got.status, 200);
	assert.ok(got.text.includes('{"price": 1.50, "big": 12345678901234567890, "e" : [1e3]}'),
	    got.text);
});

test('structured mode: data_base64 and string data with text/plain', async () => {
	const bin = {
		id: uid('st'), source: '/s', type: 't',
		datacontenttype: 'application/octet-stream',
		data_base64: Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]).toString('base64'),
	};
	const txt = {
		id: uid('st'), source: '/s', type: 't',
		datacontenttype: 'text/plain', data: 'hello\nworld \u00e9',
	};
	const none = { id: uid('st'), source: '/s', type: 't' };
	for (const ev of [bin, txt, none]) {
		const [msg] = assertAccepted(await s.publishStructured(ev), [ev]);
		const item = await readBack(msg);
		assert.deepEqual(item.event, Object.assign({ specversion: '1.0' }, ev));
	}
});

test('structured mode: JSON null means unset', async () => {
	const ev = { id: uid('st'), source: '/s', type: 't', subject: null,
		myext: null, data_base64: null };
	const [msg] = assertAccepted(await s.publishStructured(ev), [ev]);
	const item = await readBack(msg);
	assert.deepEqual(item.event, { specversion: '1.0', id: ev.id,
		source: '/s', type: 't' });
});

/* JSON format 3.1.1: data is no attribute; null there is a payload. */
test('structured and batch mode: "data": null is kept as an explicit null payload, not dropped', async () => {
	const plain = { id: uid('null'), source: '/null', type: 't', data: null };
	const json = { id: uid('null'), source: '/null', type: 't',
		datacontenttype: 'application/json', data: null };
	const text = { id: uid('null'), source: '/null', type: 't',
		datacontenttype: 'text/plain', data: null };
	for (const ev of [plain, json, text]) {
		const [msg] = assertAccepted(await s.publishStructured(ev), [ev]);
		const got = await s.api('GET', `/api/v1/events/${msg}`);
		assert.equal(got.status, 200, got.text);
		assert.ok('data' in got.json.event, got.text);
		assert.deepEqual(got.json.event,
		    Object.assign({ specversion: '1.0' }, ev));
		assert.ok(got.text.includes('"data":null'), got.text);
	}
	const batch = [
		{ specversion: '1.0', id: uid('null'), source: '/null', type: 'b',
			data: null },
		{ specversion: '1.0', id: uid('null'), source: '/null', type: 'b' },
	];
	const msgs = assertAccepted(await s.publishBatch(batch), batch);
	const first = (await readBack(msgs[0])).event;
	const second = (await readBack(msgs[1])).event;
	assert.deepEqual(first, batch[0]);
	assert.ok('data' in first && first.data === null);
	assert.deepEqual(second, batch[1]);
	assert.ok(!('data' in second), 'no data member stays no data');
});

test('"data": null is delivered: structured as "data":null, binary as body null with Content-Type application/json', async (t) => {
	const tp = `nulldata${process.pid}`;
	await s.createTopic(tp);
	const sink = await startSink({ t });
	for (const [path, mode] of [['/st', 'structured'], ['/bin', 'binary']]) {
		const r = await s.api('POST', '/api/v1/subscriptions', { topic: tp,
			sink: sink.url + path, content_mode: mode });
		assert.equal(r.status, 201, r.text);
	}
	const ev = { specversion: '1.0', id: uid('null'), source: '/null',
		type: 't', data: null };
	assertAccepted(await s.publishStructured(ev, { topic: tp }), [ev]);
	const reqs = await sink.waitFor(2, 15000);
	const by = Object.fromEntries(reqs.map((r) => [r.url, r]));
	assert.match(by['/st'].headers['content-type'],
	    /^application\/cloudevents\+json/);
	assert.deepEqual(JSON.parse(by['/st'].text), ev);
	assert.ok(by['/st'].text.includes('"data":null'), by['/st'].text);
	assert.equal(by['/bin'].headers['content-type'], 'application/json');
	assert.equal(by['/bin'].text, 'null');
	assert.equal(by['/bin'].headers['ce-id'], ev.id);
});

test('binary mode: arbitrary bytes (NUL, invalid UTF-8) come back byte for byte as data_base64', async () => {
	const body = Buffer.alloc(300);
	for (let i = 0; i < body.length; i++)
		body[i] = (i * 7 + 3) & 0xff;
	body[0] = 0;
	body[1] = 0xc3;	/* a truncated UTF-8 sequence */
	body[2] = 0x28;
	const attrs = { id: uid('bin'), source: 'urn:example:bytes',
		type: 'com.example.bytes', subject: 'blob' };
	const r = await s.publishBinary(attrs, body,
	    { contentType: 'application/octet-stream' });
	const [msg] = assertAccepted(r, [attrs]);
	const item = await readBack(msg);
	assert.equal(item.event.data, undefined);
	assert.ok(Buffer.from(item.event.data_base64, 'base64').equals(body),
	    'data bytes differ');
	assert.equal(item.event.data_base64, body.toString('base64'));
	assert.deepEqual(item.event, Object.assign({ specversion: '1.0',
		datacontenttype: 'application/octet-stream',
		data_base64: body.toString('base64') }, attrs));
});

test('binary mode: text/plain comes back as a string, JSON as JSON', async () => {
	const t1 = { id: uid('bin'), source: '/s', type: 't' };
	const [m1] = assertAccepted(await s.publishBinary(t1,
	    Buffer.from('plain text \u00e9\n', 'utf8'),
	    { contentType: 'text/plain; charset=utf-8' }), [t1]);
	const e1 = (await readBack(m1)).event;
	assert.equal(e1.data, 'plain text \u00e9\n');
	assert.equal(e1.datacontenttype, 'text/plain; charset=utf-8');
	assert.equal(e1.data_base64, undefined);

	const t2 = { id: uid('bin'), source: '/s', type: 't' };
	const [m2] = assertAccepted(await s.publishBinary(t2,
	    '{"k": [1, 2.50], "s": "v"}', { contentType: 'application/json' }),
	[t2]);
	const got = await s.api('GET', `/api/v1/events/${m2}`);
	assert.deepEqual(got.json.event.data, { k: [1, 2.5], s: 'v' });
	assert.ok(got.text.includes('{"k": [1, 2.50], "s": "v"}'), got.text);
	assert.equal(got.json.event.datacontenttype, 'application/json');
});

/* JSON format 3.1.1: JSON is any type/json or type/subtype+json. */
test('binary mode: any */json or */*+json Content-Type is JSON: checked, and read back as JSON data', async () => {
	for (const ct of ['example/json', 'Text/JSON; charset=utf-8',
		'application/vnd.example+JSON']) {
		const attrs = { id: uid('json'), source: '/json', type: 't' };
		const [msg] = assertAccepted(await s.publishBinary(attrs,
		    '{"k": [1, null]}', { contentType: ct }), [attrs]);
		const got = await s.api('GET', `/api/v1/events/${msg}`);
		assert.deepEqual(got.json.event.data, { k: [1, null] }, got.text);
		assert.equal(got.json.event.data_base64, undefined, got.text);
		assert.equal(got.json.event.datacontenttype, ct);
		assertProblem(await s.publishBinary({ id: uid('json'),
			source: '/json', type: 't' }, 'not json', { contentType: ct }),
		    400, 'data');
	}
	/* not JSON: json-seq and x-json are bytes/text as before */
	const attrs = { id: uid('json'), source: '/json', type: 't' };
	const [msg] = assertAccepted(await s.publishBinary(attrs, 'not json',
	    { contentType: 'application/x-json' }), [attrs]);
	assert.equal((await readBack(msg)).event.data_base64,
	    Buffer.from('not json').toString('base64'));
});

test('binary mode: every attribute as ce- headers, extensions as strings, percent-decoded', async () => {
	const attrs = {
		id: uid('bin'), source: 'https://example.com/a', type: 't.x',
		subject: 'caf%C3%A9 100%', time: '2026-03-04T05:06:07Z',
		dataschema: 'https://example.com/s', count: '42', flag: 'true',
	};
	const r = await s.publishBinary(attrs, 'x', { contentType: 'text/plain' });
	const [msg] = assertAccepted(r, [attrs]);
	const e = (await readBack(msg)).event;
	assert.equal(e.subject, 'caf\u00e9 100%');
	assert.equal(e.time, attrs.time);
	assert.equal(e.dataschema, attrs.dataschema);
	assert.equal(e.count, '42');
	assert.equal(e.flag, 'true');
	assert.equal(e.data, 'x');
});

test('binary mode: header values are unquoted, percent-decoded once, and must be UTF-8', async () => {
	const base = { specversion: '1.0', source: '/hdr', type: 't' };
	const send = (headers) => s.raw({ path: '/events', body: 'x',
		headers: Object.assign({ 'content-type': 'text/plain' },
		    Object.fromEntries(Object.entries(base).map(([k, v]) =>
			[`ce-${k}`, v])), headers) });
	let r = await send({ 'ce-id': uid('hdr'), 'ce-subject': '"a\\"b%41"' });
	assert.equal(r.status, 202, r.text);
	assert.equal((await readBack(r.json.accepted[0].msg)).event.subject, 'a"bA');
	r = await send({ 'ce-id': uid('hdr'), 'ce-subject': '%2541 %zz' });
	assert.equal(r.status, 202, r.text);
	assert.equal((await readBack(r.json.accepted[0].msg)).event.subject,
	    '%41 %zz', 'decoded once; a stray % stays');
	r = await send({ 'ce-id': uid('hdr'), 'ce-subject': '%FF' });
	assert.equal(r.status, 400, r.text);
	assert.ok(r.json.errors.some((e) => e.attribute === 'subject'), r.text);
	const long = 'x'.repeat(100);
	r = await send({ 'ce-id': uid('hdr'), [`ce-${long}`]: 'v' });
	assert.equal(r.status, 202, r.text);
	assert.equal((await readBack(r.json.accepted[0].msg)).event[long], 'v');
});

test('binary mode: a repeated ce- header or ce-datacontenttype is a 400 naming the attribute', async () => {
	const headers = { 'content-type': 'text/plain', 'ce-specversion': '1.0',
		'ce-source': '/hdr', 'ce-type': 't' };
	let r = await s.raw({ path: '/events', body: 'x', headers: Object.assign(
	    { 'ce-id': ['one', 'two'] }, headers) });
	assert.equal(r.status, 400, r.text);
	assert.ok(r.json.errors.some((e) => e.attribute === 'id'), r.text);
	r = await s.raw({ path: '/events', body: 'x', headers: Object.assign(
	    { 'ce-id': uid('hdr'), 'ce-datacontenttype': 'text/plain' }, headers) });
	assert.equal(r.status, 400, r.text);
	assert.ok(r.json.errors.some((e) => e.attribute === 'datacontenttype'),
	    r.text);
});

test('the mode comes from Content-Type, case-insensitively, with parameters', async () => {
	const ev = { specversion: '1.0', id: uid('ct'), source: '/ct', type: 't',
		data: { x: 1 } };
	let r = await s.api('POST', '/events', JSON.stringify(ev), { headers: {
		'content-type': 'Application/CloudEvents+JSON; charset=UTF-8' } });
	assertAccepted(r, [ev]);
	const b = Object.assign({}, ev, { id: uid('ct') });
	r = await s.api('POST', '/events', JSON.stringify([b]), { headers: {
		'content-type': 'APPLICATION/CLOUDEVENTS-BATCH+JSON' } });
	assertAccepted(r, [b]);
	assert.deepEqual((await readBack(r.json.accepted[0].msg)).event, b);
});

test('time keeps the string the producer sent; impossible dates are a 400', async () => {
	for (const time of ['2026-01-02T03:04:05.678+01:00', '2026-01-02t03:04:05z',
		'2026-01-02T03:04:05.123456789Z']) {
		const ev = { id: uid('time'), source: '/time', type: 't', time };
		const [msg] = assertAccepted(await s.publishStructured(ev), [ev]);
		assert.equal((await readBack(msg)).event.time, time);
	}
	for (const time of ['2026-02-30T00:00:00Z', '2026-01-02T24:00:00Z',
		'2026-01-02 03:04:05Z', '2026-01-02T03:04:05'])
		assertProblem(await s.publishStructured({ id: uid('time'),
			source: '/time', type: 't', time }), 400, 'time');
});

test('a batch element that is not an object is a 400 naming its index', async () => {
	const r = await s.publishBatch('[{"specversion":"1.0","id":"ok",' +
	    '"source":"/bi","type":"t"}, 5]');
	const p = assertProblem(r, 400);
	assert.ok(p.errors.some((e) => e.index === 1), r.text);
	assert.deepEqual(await s.allEvents({ source: '/bi' }), []);
});

test('binary mode: an event without a body has no data', async () => {
	const attrs = { id: uid('bin'), source: '/s', type: 't' };
	const [msg] = assertAccepted(await s.publishBinary(attrs, '',
	    { contentType: null }), [attrs]);
	const e = (await readBack(msg)).event;
	assert.equal(e.data, undefined);
	assert.equal(e.data_base64, undefined);
	assert.equal(e.id, attrs.id);
});

test('batch mode: each event stored in order, read back as sent', async () => {
	const evs = [
		{ specversion: '1.0', id: uid('b'), source: '/batch', type: 'a',
			data: { n: 1 }, big: 7 },
		{ specversion: '1.0', id: uid('b'), source: '/batch', type: 'b',
			datacontenttype: 'text/plain', data: 'two' },
		{ specversion: '1.0', id: uid('b'), source: '/batch', type: 'c',
			datacontenttype: 'image/png',
			data_base64: Buffer.from([0x89, 0x50, 0, 0xff]).toString('base64') },
		{ specversion: '1.0', id: uid('b'), source: '/batch', type: 'd',
			ok: false },
	];
	const r = await s.publishBatch(evs);
	const msgs = assertAccepted(r, evs);
	assert.equal(new Set(msgs).size, evs.length);
	for (let i = 0; i < evs.length; i++)
		assert.deepEqual((await readBack(msgs[i])).event, evs[i]);
	const listed = (await s.allEvents({ source: '/batch' }))
	    .filter((it) => msgs.includes(it.msg)).map((it) => it.msg);
	assert.deepEqual(listed, msgs, 'listed in the order sent');
});

test('batch mode: an empty batch is accepted with nothing in it', async () => {
	const r = await s.publishBatch([]);
	assert.equal(r.status, 202, r.text);
	assert.deepEqual(r.json, { accepted: [], duplicates: [] });
});

test('202 body: exactly {accepted:[{msg,id,source}], duplicates:[]}', async () => {
	const ev = { id: uid('shape'), source: '/shape', type: 't' };
	const r = await s.publishStructured(ev);
	assert.equal(r.status, 202);
	assert.deepEqual(r.json, { accepted: [{ msg: r.json.accepted[0].msg,
		id: ev.id, source: '/shape' }], duplicates: [] });
});

test('duplicates on (topic, source, id) are reported with the msg they repeat and not stored twice', async () => {
	const ev = { id: uid('dup'), source: '/dup', type: 't', data: { v: 1 } };
	const [first] = assertAccepted(await s.publishStructured(ev), [ev]);
	const again = await s.publishStructured(Object.assign({}, ev,
	    { data: { v: 2 } }));
	assert.equal(again.status, 202, again.text);
	assert.deepEqual(again.json, { accepted: [],
		duplicates: [{ msg: first, id: ev.id, source: '/dup' }] });
	/* binary mode repeats it too */
	const bin = await s.publishBinary({ id: ev.id, source: '/dup', type: 't' },
	    'x', { contentType: 'text/plain' });
	assert.deepEqual(bin.json.duplicates, [{ msg: first, id: ev.id,
		source: '/dup' }]);
	const stored = (await s.allEvents({ source: '/dup' }))
	    .filter((it) => it.event.id === ev.id);
	assert.equal(stored.length, 1);
	assert.deepEqual(stored[0].event.data, { v: 1 }, 'the first one stays');
	/* same id, other source: a different event */
	const other = { id: ev.id, source: '/dup-other', type: 't' };
	assertAccepted(await s.publishStructured(other), [other]);
});

test('duplicates within one batch: the second names the first, stored once', async () => {
	const a = { specversion: '1.0', id: uid('bd'), source: '/bd', type: 't' };
	const b = { specversion: '1.0', id: uid('bd'), source: '/bd', type: 't' };
	const r = await s.publishBatch([a, b, a]);
	assert.equal(r.status, 202, r.text);
	assert.equal(r.json.accepted.length, 2, r.text);
	assert.deepEqual(r.json.accepted.map((x) => x.id), [a.id, b.id]);
	assert.equal(r.json.duplicates.length, 1, r.text);
	assert.deepEqual(r.json.duplicates[0], { msg: r.json.accepted[0].msg,
		id: a.id, source: '/bd' });
	const stored = await s.allEvents({ source: '/bd' });
	assert.equal(stored.filter((it) => it.event.id === a.id).length, 1);
	assert.equal(stored.filter((it) => it.event.id === b.id).length, 1);
});

test('batches are atomic: one bad event is a 400 naming its index, nothing stored', async () => {
	const src = `/atomic-${process.pid}`;
	const evs = [
		{ specversion: '1.0', id: 'a1', source: src, type: 't' },
		{ specversion: '1.0', id: 'a2', source: src, type: 't' },
		{ specversion: '1.0', id: 'a3', source: src },	/* no type */
		{ specversion: '1.0', id: 'a4', source: src, type: 't' },
	];
	const r = await s.publishBatch(evs);
	const p = assertProblem(r, 400, 'type');
	const e = p.errors.find((x) => x.attribute === 'type');
	assert.equal(e.index, 2);
	assert.match(p.detail, /2/);
	assert.deepEqual(await s.allEvents({ source: src }), []);
	/* the same batch fixed goes in whole */
	evs[2].type = 't';
	assertAccepted(await s.publishBatch(evs), evs);
	assert.equal((await s.allEvents({ source: src })).length, 4);
});

test('batches: data and data_base64 both present (one null) is a 400 naming data_base64 and the index', async () => {
	const src = `/both-${process.pid}`;
	const evs = [
		{ specversion: '1.0', id: 'b1', source: src, type: 't', data: null },
		{ specversion: '1.0', id: 'b2', source: src, type: 't', data: null,
			data_base64: 'AAEC' },
	];
	const p = assertProblem(await s.publishBatch(evs), 400, 'data_base64');
	assert.equal(p.errors.find((x) => x.attribute === 'data_base64').index,
	    1);
	assert.deepEqual(await s.allEvents({ source: src }), []);
});

test('400: problem+json naming the attribute, for each kind of invalid event', async () => {
	const base = { specversion: '1.0', id: 'x', source: '/s', type: 't' };
	const cases = [
		[{ id: undefined }, 'id'],
		[{ id: '' }, 'id'],
		[{ source: undefined }, 'source'],
		[{ type: undefined }, 'type'],
		[{ type: 42 }, 'type'],
		[{ specversion: '0.3' }, 'specversion'],
		[{ specversion: undefined }, 'specversion'],
		[{ time: 'yesterday' }, 'time'],
		[{ time: '2026-13-01T00:00:00Z' }, 'time'],
		[{ dataschema: 'not a uri' }, 'dataschema'],
		[{ datacontenttype: 'no-slash' }, 'datacontenttype'],
		[{ subject: 7 }, 'subject'],
		[{ 'Bad-Name': 'x' }, 'Bad-Name'],
		[{ ext: { nested: 1 } }, 'ext'],
		[{ big: 2147483648 }, 'big'],
		[{ frac: 1.5 }, 'frac'],
		[{ data: 1, data_base64: 'AA==' }, 'data'],
		/* exclusive by presence (JSON format 3.1.1), null or not */
		[{ data: null, data_base64: 'AA==' }, 'data_base64'],
		[{ data: [1], data_base64: null }, 'data_base64'],
		[{ data: null, data_base64: null }, 'data_base64'],
		[{ data_base64: '%%%' }, 'data_base64'],
	];
	for (const [change, attr] of cases) {
		const ev = Object.assign({}, base, change);
		for (const k of Object.keys(ev))
			if (ev[k] === undefined)
				delete ev[k];
		const r = await s.publishStructured(JSON.stringify(ev));
		const p = assertProblem(r, 400);
		assert.ok(Array.isArray(p.errors) && p.errors.length > 0, r.text);
		if (attr !== 'data')
			assert.ok(p.errors.some((e) => e.attribute === attr),
			    `${JSON.stringify(change)} should name ${attr}: ${r.text}`);
		else
			assert.ok(p.errors.some((e) => /data/.test(e.attribute)),
			    `${JSON.stringify(change)} should name data: ${r.text}`);
		for (const e of p.errors)
			assert.equal(typeof e.reason, 'string');
	}
});

test('400: a body that is not JSON, or not an object, in structured mode', async () => {
	for (const body of ['{"specversion":"1.0",', 'not json', '[1]', '"x"',
		'{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}'])
		assertProblem(await s.publishStructured(body), 400);
	assertProblem(await s.publishBatch('{"not":"a list"}'), 400);
});

test('400: binary mode names the missing or bad header attribute', async () => {
	let r = await s.publishBinary({ id: 'b1', source: '/s' }, 'x',
	    { contentType: 'text/plain' });
	assertProblem(r, 400, 'type');
	r = await s.publishBinary({ id: 'b1', source: '/s', type: 't',
		time: 'noon' }, 'x', { contentType: 'text/plain' });
	assertProblem(r, 400, 'time');
	r = await s.publishBinary({ id: 'b1', source: '/s', type: 't',
		specversion: '0.3' }, 'x', { contentType: 'text/plain' });
	assertProblem(r, 400, 'specversion');
	r = await s.publishBinary({ id: 'b1', source: '/s', type: 't' },
	    'not json', { contentType: 'application/json' });
	assertProblem(r, 400);
});

test('404: publishing to a topic that does not exist', async () => {
	const r = await s.publishStructured({ id: '1', source: '/s', type: 't' },
	    { topic: 'no-such-topic' });
	assertProblem(r, 404);
	assert.match(r.json.detail, /no-such-topic/);
});

test('405 with Allow for GET, PUT and DELETE on the ingest URLs', async () => {
	await s.createTopic('t405');
	for (const p of ['/events', '/topics/t405/events'])
		for (const method of ['GET', 'PUT', 'DELETE']) {
			const r = await s.api(method, p);
			assertProblem(r, 405);
			const allow = r.headers.allow.split(/\s*,\s*/);
			assert.ok(allow.includes('POST'), r.headers.allow);
			assert.ok(allow.includes('OPTIONS'), r.headers.allow);
		}
});

/* A structured event whose JSON text is exactly n bytes long. */
function eventOfSize(n, id) {
	const head = JSON.stringify({ specversion: '1.0', id, source: '/big',
		type: 't', data: '' });
	return Buffer.from(head.slice(0, -3) + '"' + 'a'.repeat(n - head.length) +
	    '"}');
}

test('413 for a 1 MiB + 1 body with Content-Length, and the server keeps serving', async () => {
	const body = eventOfSize(MIB + 1, uid('big'));
	assert.equal(body.length, MIB + 1);
	/*
	 * The client writes the whole body before it reads: the server must
	 * read it too, or closing with it unread resets the connection and
	 * the 413 is lost (most of the time, so ask 20 times).
	 */
	let r;
	for (let i = 0; i < 20; i++) {
		r = await s.raw({ path: '/events', body, headers: {
			'content-type': 'application/cloudevents+json',
			'content-length': String(body.length) } });
		assert.equal(r.status, 413, `attempt ${i}: ${r.text}`);
	}
	assert.match(r.headers['content-type'], /application\/problem\+json/);
	assert.equal(r.json.status, 413);
	const ok = { id: uid('after413'), source: '/s', type: 't' };
	assertAccepted(await s.publishStructured(ok), [ok]);
});

/* Sends only the head of a request with a body; resolves with the answer,
 * or with 'continue' if the server asked for the body. */
function headOnly(headers) {
	const u = new URL(s.url);
	return new Promise((resolve, reject) => {
		const req = http.request({ host: u.hostname, port: u.port,
			method: 'POST', path: '/events', headers, agent: false });
		req.on('continue', () => { resolve({ status: 'continue' });
			req.destroy(); });
		req.on('response', (res) => {
			res.resume();
			resolve({ status: res.statusCode });
			req.destroy();
		});
		req.on('error', reject);
		req.flushHeaders();
	});
}

test('413 at once, before any body is sent, for Expect: 100-continue or a length far over the limit', async () => {
	const ct = 'application/cloudevents+json';
	let r = await headOnly({ 'content-type': ct, expect: '100-continue',
		'content-length': String(MIB + 1) });
	assert.equal(r.status, 413);
	r = await headOnly({ 'content-type': ct,
		'content-length': String(64 * MIB) });
	assert.equal(r.status, 413);
	/* within the limit, the server asks for the body */
	r = await headOnly({ 'content-type': ct, expect: '100-continue',
		'content-length': '100' });
	assert.equal(r.status, 'continue');
	const ok = { id: uid('afterExpect'), source: '/s', type: 't' };
	assertAccepted(await s.publishStructured(ok), [ok]);
});

test('413 for a 1 MiB + 1 body sent chunked, and the server keeps serving', async () => {
	const body = eventOfSize(MIB + 1, uid('big'));
	const chunks = [];
	for (let o = 0; o < body.length; o += 64 * 1024)
		chunks.push(body.subarray(o, o + 64 * 1024));
	const r = await s.raw({ path: '/events', body: chunks, headers: {
		'content-type': 'application/cloudevents+json',
		'transfer-encoding': 'chunked' } });
	assert.equal(r.status, 413, r.text);
	assert.equal(r.json.status, 413);
	const ok = { id: uid('after413c'), source: '/s', type: 't' };
	assertAccepted(await s.publishStructured(ok), [ok]);
	assert.equal((await s.allEvents({ source: '/big' })).length, 0);
});

test('a body of exactly 1 MiB is accepted and kept whole', async () => {
	const id = uid('big');
	const body = eventOfSize(MIB, id);
	const r = await s.raw({ path: '/events', body, headers: {
		'content-type': 'application/cloudevents+json',
		'content-length': String(body.length) } });
	assert.equal(r.status, 202, r.text.slice(0, 300));
	const item = await readBack(r.json.accepted[0].msg);
	assert.equal(item.event.data, JSON.parse(body.toString()).data);
});

test('415 without ce-specversion or for an unsupported format', async () => {
	const cases = [
		['application/json', '{"a":1}'],
		['text/plain', 'hello'],
		['application/xml', '<event/>'],
		['application/cloudevents+xml', '<event/>'],
	];
	for (const [ct, body] of cases) {
		const r = await s.api('POST', '/events', body,
		    { headers: { 'content-type': ct } });
		assertProblem(r, 415);
	}
	const r = await s.api('POST', '/events', '');
	assertProblem(r, 415);
});

test('every ingest error has an errors list naming what is wrong (401, 403, 404, 405, 413, 415)', async (t) => {
	const own = await start({ t, args: ['--max-body', '2k'] });
	await own.createTopic('locked', { publish_token: 'locked-token-0123456789' });
	const ev = JSON.stringify({ specversion: '1.0', id: 'x', source: '/x',
	    type: 't' });
	const ce = { 'content-type': 'application/cloudevents+json' };
	const cases = [
		[401, 'Authorization', '/topics/locked/events', 'POST', {}],
		[403, 'Authorization', '/topics/locked/events', 'POST',
			{ authorization: 'Bearer wrong' }],
		[404, 'topic', '/topics/no-such-topic/events', 'POST', {}],
		[403, 'topic', '/topics/$sys/events', 'POST', {}],
		[405, 'method', '/events', 'PUT', {}],
		[415, 'Content-Type', '/events', 'POST', { 'content-type': 'text/plain' }],
	];
	for (const [status, name, p, method, headers] of cases) {
		const r = await own.api(method, p, ev,
		    { headers: Object.assign({}, ce, headers) });
		const j = assertProblem(r, status, name);
		assert.ok(j.errors.every((e) => typeof e.reason === 'string' &&
		    e.reason.length > 0), `${status}: a reason: ${r.text}`);
	}
	const big = JSON.stringify({ specversion: '1.0', id: 'big', source: '/x',
	    type: 't', data: 'x'.repeat(3000) });
	assertProblem(await own.api('POST', '/events', big, { headers: ce }), 413,
	    'body');
	/* the admin API names fields, not attributes */
	const r = await own.api('PUT', '/api/v1/topics', {});
	assertProblem(r, 405, 'method');
	assert.equal(r.json.errors[0].attribute, undefined);
	assert.equal(r.json.errors[0].field, 'method');
	await own.stop();
});

test('--max-body changes the limit', async (t) => {
	const small = await start({ t, args: ['--max-body', '2k'] });
	const over = eventOfSize(2049, 'over');
	let r = await small.raw({ path: '/events', body: over, headers: {
		'content-type': 'application/cloudevents+json',
		'content-length': String(over.length) } });
	assert.equal(r.status, 413, r.text);
	assert.match(r.json.detail, /2048/);
	r = await small.raw({ path: '/events', body: [over.subarray(0, 1000),
		over.subarray(1000)], headers: {
		'content-type': 'application/cloudevents+json' } });
	assert.equal(r.status, 413, r.text);
	const exact = eventOfSize(2048, 'exact');
	r = await small.publishStructured(exact);
	assert.equal(r.status, 202, r.text);
	await small.stop();
});

test('OPTIONS handshake: WebHook-Request-Origin is echoed in WebHook-Allowed-Origin', async () => {
	await s.createTopic('handshake');
	for (const p of ['/events', '/topics/handshake/events']) {
		const r = await s.api('OPTIONS', p, null,
		    { headers: { 'WebHook-Request-Origin': 'eventemitter.example.com' } });
		assert.equal(r.status, 200, r.text);
		assert.equal(r.headers['webhook-allowed-origin'],
		    'eventemitter.example.com');
		assert.match(r.headers.allow, /POST/);
	}
	/* no consent for a URL that refuses every POST (webhook spec 4.2) */
	for (const [p, status] of [['/topics/no-such-topic/events', 404],
	    ['/topics/$sys/events', 403]]) {
		const r = await s.api('OPTIONS', p, null,
		    { headers: { 'WebHook-Request-Origin': 'eventemitter.example.com' } });
		assertProblem(r, status);
		assert.equal(r.headers['webhook-allowed-origin'], undefined, p);
		assert.equal(r.headers['webhook-allowed-rate'], undefined, p);
	}
});

test('OPTIONS handshake with --allowed-origins refuses other origins', async (t) => {
	const o = await start({ t, args: ['--allowed-origins',
		'good.example.com, other.example.com'] });
	let r = await o.api('OPTIONS', '/events', null,
	    { headers: { 'WebHook-Request-Origin': 'good.example.com' } });
	assert.equal(r.status, 200);
	assert.equal(r.headers['webhook-allowed-origin'], 'good.example.com');
	r = await o.api('OPTIONS', '/events', null,
	    { headers: { 'WebHook-Request-Origin': 'evil.example.com' } });
	assertProblem(r, 403);
	assert.equal(r.headers['webhook-allowed-origin'], undefined);
	await o.stop();
});

test('POST /topics/{t}/events stores into a topic made with POST /api/v1/topics', async () => {
	await s.createTopic('orders', { description: 'order events' });
	const ev = { id: uid('topic'), source: '/shop', type: 'order', data: { n: 1 } };
	const [m1] = assertAccepted(await s.publishStructured(ev,
	    { topic: 'orders' }), [ev]);
	const b = { id: uid('topic'), source: '/shop', type: 'order' };
	const [m2] = assertAccepted(await s.publishBinary(b, 'hi',
	    { topic: 'orders', contentType: 'text/plain' }), [b]);
	const item = await readBack(m1);
	assert.equal(item.topic, 'orders');
	assert.deepEqual(item.event, Object.assign({ specversion: '1.0' }, ev));
	const inTopic = await s.allEvents({ topic: 'orders' });
	assert.deepEqual(inTopic.map((i) => i.msg), [m1, m2]);
	const inDefault = await s.allEvents({ topic: 'default' });
	assert.ok(!inDefault.some((i) => i.msg === m1 || i.msg === m2));
	/* the same (source, id) in another topic is not a duplicate */
	assertAccepted(await s.publishStructured(ev), [ev]);
});

test('a topic with a publish token: 401 without it, 403 with a wrong one, 202 with it', async () => {
	const token = 'publish-secret-0123456789';
	await s.createTopic('guarded', { publish_token: token });
	const ev = { id: uid('tok'), source: '/s', type: 't' };
	assertProblem(await s.publishStructured(ev, { topic: 'guarded' }), 401);
	assertProblem(await s.publishStructured(ev,
	    { topic: 'guarded', token: 'wrong-token-0123456789' }), 403);
	assertAccepted(await s.publishStructured(ev,
	    { topic: 'guarded', token }), [ev]);
	assert.equal((await s.allEvents({ topic: 'guarded' })).length, 1);
});

test('the reserved topic $sys takes no events from producers', async () => {
	const r = await s.publishStructured({ id: '1', source: '/s', type: 't' },
	    { topic: '$sys' });
	assert.ok(r.status === 403 || r.status === 404, r.text);
	assertProblem(r, r.status);
	const c = await s.api('POST', '/api/v1/topics', { name: '$mine' });
	assertProblem(c, 400, 'name');
});

test('JSON nested deeper than 512 levels is refused as too deep, not as invalid JSON', async () => {
	const deep = '['.repeat(600) + ']'.repeat(600);
	const r = await s.publishStructured(`{"specversion":"1.0","id":"deep",` +
	    `"source":"/s","type":"t","data":${deep}}`);
	const p = assertProblem(r, 400, 'body');
	assert.match(p.detail, /nested deeper than 512 levels/);
	const b = await s.publishBinary({ id: 'deep-b', source: '/s', type: 't' },
	    deep, { contentType: 'application/json' });
	assert.match(assertProblem(b, 400, 'data').detail,
	    /nested deeper than 512 levels/);
});

test('%00 in the path is a 400 naming path: it does not reach the route before it', async () => {
	const sub = await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'default', sink: 'http://127.0.0.1:9/n', state: 'pub_only' });
	assert.equal(sub.status, 201, sub.text);
	const id = sub.json.id;
	const del = await s.api('DELETE',
	    `/api/v1/subscriptions/${id}%00/messages/x`);
	assertProblem(del, 400, 'path');
	assert.equal((await s.api('GET', `/api/v1/subscriptions/${id}`)).status,
	    200, 'the subscription is still there');
	const subs = (await s.api('GET', '/api/v1/subscriptions')).json.items.length;
	assertProblem(await s.api('POST', '/api/v1/subscriptions/%00/pause',
	    { topic: 'default', delivery_method: 'pull' }), 400, 'path');
	assert.equal((await s.api('GET', '/api/v1/subscriptions')).json.items.length,
	    subs, 'nothing was created');
	/* in a query value it is not cut short either */
	assertProblem(await s.api('GET', '/api/v1/subscriptions?limit=10%00'),
	    400, 'limit');
	assert.equal((await s.api('DELETE', `/api/v1/subscriptions/${id}`)).status,
	    204);
});

test('bytes that are not UTF-8 in a path or attribute name are still named in the problem (as %XX)', async () => {
	const r = await s.socket(Buffer.concat([
	    Buffer.from('POST /topics/'), Buffer.from([0xff]),
	    Buffer.from('/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
		'Content-Type: application/cloudevents+json\r\n' +
		'Content-Length: 2\r\n\r\n{}')]));
	const p = assertProblem(r, 404, 'topic');
	assert.match(p.detail, /%FF/);
	assert.match(p.instance, /%FF/);
	const b = await s.socket(Buffer.concat([
	    Buffer.from('POST /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n' +
		'ce-specversion: 1.0\r\nce-id: u1\r\nce-source: /s\r\n' +
		'ce-type: t\r\nce-'), Buffer.from([0xff]),
	    Buffer.from(': v\r\nContent-Length: 0\r\n\r\n')]));
	const q = assertProblem(b, 400);
	assert.ok(q.errors.some((e) => /%FF/.test(e.attribute || '')), b.text);
});

test('the server stops cleanly (exit 0) after all of the above', async () => {
	const ex = await s.stop();
	assert.equal(ex.code, 0);
	assert.match(s.logs(), /stopped/);
});
