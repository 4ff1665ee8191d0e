'use strict';
/*
 * delivery.test.cjs: what an endpoint receives from the real sluiced, as a
 * recording sink on loopback sees it: each HTTP method, REST structured
 * (the event JSON exactly as published), binary (ce-* headers percent-
 * encoded per the HTTP binding, data bytes exact), batches and wrap_in_list
 * in queue order, custom headers and User-Agent, SOAP 1.1 and 1.2 envelopes
 * parsed as XML and checked against the CloudEvents XML format, Standard
 * Webhooks signatures verified with the `standardwebhooks` library, the
 * abuse-protection handshake (validate), 410 Gone, and the attempts and
 * status the API shows.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { XMLParser } = require('fast-xml-parser');
const { Webhook } = require('standardwebhooks');
const { start, sleep, until, timingSlack } = require('../lib/sluice.cjs');
const { startSink, soapFault } = require('../lib/sink.cjs');

const CE_NS = 'http://cloudevents.io/xmlformat/V1';
const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
const XS_NS = 'http://www.w3.org/2001/XMLSchema';
const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';
const SECRET = 'whsec_' + Buffer.from('sluice-test-secret-0123456789ab')
    .toString('base64');
const WAIT = 15000;
const SLACK = timingSlack(800);

let s;
let version;
let nTopic = 0;

test.before(async () => {
	s = await start();
	version = (await s.api('GET', '/api/v1/stats')).json.version;
});

test.after(async () => {
	if (s) {
		await s.stop();
		await s.cleanup();
	}
});

/* A fresh topic, so that each test sees only its own events. */
async function topic() {
	const name = `dt${++nTopic}`;
	await s.createTopic(name);
	return name;
}

async function subscribe(fields) {
	const r = await s.api('POST', '/api/v1/subscriptions', fields);
	assert.equal(r.status, 201, `create subscription: ${r.text}`);
	return r.json;
}

async function patch(id, fields) {
	const r = await s.api('PATCH', `/api/v1/subscriptions/${id}`, fields);
	assert.equal(r.status, 200, `patch subscription: ${r.text}`);
	return r.json;
}

async function getSub(id) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

async function publish(t, event) {
	const r = await s.publishStructured(event, { topic: t });
	assert.equal(r.status, 202, r.text);
	return r.json.accepted[0].msg;
}

function event(n, extra = {}) {
	return Object.assign({
		specversion: '1.0', id: `e-${n}`, source: '/test/delivery',
		type: 'com.example.delivery', datacontenttype: 'application/json',
		data: { n },
	}, extra);
}

const xml = new XMLParser({
	ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false,
	parseAttributeValue: false, trimValues: false, removeNSPrefix: false,
	isArray: (name) => name === 'event',
});

/* The SOAP body's event elements, checked against the CloudEvents XML
 * format; returns [{attrs: {name: [text, xsi:type]}, data: [text, type]}]. */
function soapEvents(text, envNs) {
	const doc = xml.parse(text);
	const env = doc['soap:Envelope'];
	assert.ok(env, `a soap:Envelope: ${text}`);
	assert.equal(env['@xmlns:soap'], envNs);
	const body = env['soap:Body'];
	assert.ok(body, `a soap:Body: ${text}`);
	let holder, list;
	if (body.batch !== undefined) {
		holder = body.batch;
		list = holder.event;
	} else {
		list = body.event;
		holder = list && list[0];
	}
	assert.ok(Array.isArray(list) && list.length > 0, `event elements: ${text}`);
	assert.equal(holder['@xmlns'], CE_NS, 'default namespace is the CE one');
	/* xsi and the prefix used in xsi:type values must be declared */
	assert.equal(holder['@xmlns:xsi'], XSI_NS);
	return list.map((e) => {
		assert.equal(e['@specversion'], '1.0', 'specversion as an XML attribute');
		const attrs = {};
		let data;
		for (const [k, v] of Object.entries(e)) {
			if (k.startsWith('@'))
				continue;
			assert.ok(!k.includes(':'), `attribute ${k} in the default namespace`);
			const text = typeof v === 'object' ? v['#text'] ?? '' : v;
			const type = typeof v === 'object' ? v['@xsi:type'] : undefined;
			if (k === 'data')
				data = [text, type];
			else
				attrs[k] = [text, type];
		}
		return { attrs, data, raw: e, holder };
	});
}

function ceTypePrefixOk(holder) {
	return holder['@xmlns:ce'] === CE_NS;
}

/* ---- REST structured: each method, body = the published event ------ */

for (const method of ['POST', 'PUT', 'PATCH', 'DELETE', 'GET']) {
	test(`REST structured with ${method}: the sink gets that method and the event JSON exactly as published`, async (t) => {
		const tp = await topic();
		const sink = await startSink({ t });
		await subscribe({ topic: tp, sink: `${sink.url}/hook/${method}`,
		    http_method: method });
		const ev = event(1, {
			subject: 'order/42', time: '2026-11-23T12:00:00.123Z',
			dataschema: 'https://schemas.example.com/order',
			myint: 42, mybool: false, mystr: 'text "with" quotes',
			negint: -7,
			data: { order: { id: 42, lines: [1, 2.5, 'x'], ok: true,
			    nested: null, big: 12345678901234567890 } },
		});
		await publish(tp, ev);
		const [r] = await sink.waitFor(1, WAIT);
		assert.equal(r.method, method);
		assert.equal(r.url, `/hook/${method}`);
		assert.match(r.headers['content-type'],
		    /^application\/cloudevents\+json(;|$)/);
		assert.deepEqual(JSON.parse(r.text), ev);
		assert.equal(r.headers['user-agent'], `sluice/${version}`);
	});
}

test('REST structured: text data, data_base64 and no data come as published', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url });
	const bytes = crypto.randomBytes(300);
	const evs = [
		event(1, { datacontenttype: 'text/plain', data: 'plain ünïcode text\n' }),
		event(2, { datacontenttype: 'application/octet-stream',
		    data: undefined, data_base64: bytes.toString('base64') }),
		event(3, { datacontenttype: undefined, data: undefined }),
	];
	for (const e of evs)
		await publish(tp, JSON.parse(JSON.stringify(e)));
	const reqs = await sink.waitFor(3, WAIT);
	for (let i = 0; i < 3; i++) {
		const want = JSON.parse(JSON.stringify(evs[i]));
		assert.deepEqual(JSON.parse(reqs[i].text), want, `event ${i + 1}`);
	}
});

/* ---- REST binary ------------------------------------------------------ */

test('REST binary: ce-* headers percent-encoded per the HTTP binding decode to the published values; Content-Type and body bytes exact', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, content_mode: 'binary' });
	const bytes = Buffer.concat([Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80]),
	    crypto.randomBytes(1000)]);
	const ev = {
		specversion: '1.0', id: 'id with space', source: '/a b/"q"/%25',
		type: 'com.example.bin', subject: 'sp ace "quote" 100% ünï €',
		time: '2026-01-02T03:04:05Z',
		datacontenttype: 'application/vnd.example+octets; v=1',
		myext: 'x y%z"é', mynum: 7, myflag: true,
		data_base64: bytes.toString('base64'),
	};
	await publish(tp, ev);
	const [r] = await sink.waitFor(1, WAIT);
	assert.equal(r.headers['content-type'], ev.datacontenttype);
	assert.ok(r.body.equals(bytes), 'body bytes exact');
	assert.equal(r.headers['ce-datacontenttype'], undefined);
	const got = {};
	for (let i = 0; i < r.rawHeaders.length; i += 2) {
		const name = r.rawHeaders[i].toLowerCase();
		if (!name.startsWith('ce-'))
			continue;
		const value = r.rawHeaders[i + 1];
		/* the binding: space, '"', '%' and non-ASCII are %-encoded */
		assert.ok(!/[ "\u0080-\uffff]/.test(value),
		    `${name} is percent-encoded: ${value}`);
		got[name.slice(3)] = decodeURIComponent(value);
	}
	const want = {};
	for (const [k, v] of Object.entries(ev))
		if (k !== 'data_base64' && k !== 'datacontenttype')
			want[k] = String(v);
	assert.deepEqual(got, want);
});

test('REST binary: JSON and text data as the body with their content type', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, content_mode: 'binary',
	    http_method: 'PUT' });
	await publish(tp, event(1, { data: { a: [1, 2, { b: 'c' }] } }));
	await publish(tp, event(2, { datacontenttype: 'text/csv',
	    data: 'a,b\n1,2\n' }));
	const r = await sink.waitFor(2, WAIT);
	assert.equal(r[0].method, 'PUT');
	assert.equal(r[0].headers['content-type'], 'application/json');
	assert.deepEqual(JSON.parse(r[0].text), { a: [1, 2, { b: 'c' }] });
	assert.equal(r[0].headers['ce-id'], 'e-1');
	assert.equal(r[1].headers['content-type'], 'text/csv');
	assert.equal(r[1].text, 'a,b\n1,2\n');
});

/* ---- batches ---------------------------------------------------------- */

test('batch_size 3: a pre-filled queue of 7 goes as application/cloudevents-batch+json arrays of 3, 3, 1 in queue order', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url, batch_size: 3,
	    state: 'pub_only' });
	const evs = [];
	for (let i = 1; i <= 7; i++) {
		evs.push(event(i));
		await publish(tp, evs[i - 1]);
	}
	assert.ok(await sink.quiet(300), 'pub_only delivers nothing');
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(3, WAIT);
	assert.ok(await sink.quiet(300));
	const sizes = [];
	const all = [];
	for (const r of sink.requests) {
		const arr = JSON.parse(r.text);
		assert.ok(Array.isArray(arr), r.text);
		assert.ok(arr.length >= 1 && arr.length <= 3, `batch of ${arr.length}`);
		sizes.push(arr.length);
		all.push(...arr);
	}
	assert.deepEqual(all, evs, 'every event once, in queue order');
	assert.deepEqual(sizes, [3, 3, 1]);
	assert.equal(reqs.length, 3);
	for (const r of sink.requests)
		assert.match(r.headers['content-type'],
		    /^application\/cloudevents-batch\+json(;|$)/);
});

test('batch_size 3: a batch of one left at the end of the queue is still a list (application/cloudevents-batch+json)', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url, batch_size: 3,
	    state: 'pub_only' });
	for (let i = 1; i <= 4; i++)
		await publish(tp, event(i));
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(2, WAIT);
	assert.match(reqs[1].headers['content-type'],
	    /^application\/cloudevents-batch\+json(;|$)/);
	assert.deepEqual(JSON.parse(reqs[1].text), [event(4)]);
	/* one event published to an empty queue: a list of one too */
	await publish(tp, event(5));
	const r3 = await sink.waitFor(3, WAIT);
	assert.deepEqual(JSON.parse(r3[2].text), [event(5)]);
});

test('wrap_in_list with batch_size 1: each event as a one-element list', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, wrap_in_list: true });
	await publish(tp, event(1));
	await publish(tp, event(2));
	const r = await sink.waitFor(2, WAIT);
	for (let i = 0; i < 2; i++) {
		assert.match(r[i].headers['content-type'],
		    /^application\/cloudevents-batch\+json(;|$)/);
		assert.deepEqual(JSON.parse(r[i].text), [event(i + 1)]);
	}
});

test('custom headers are sent; reserved ones do not override the request\'s own', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    headers: { 'X-Api-Key': 'k-123', 'X-Tenant': 'acme corp',
		Authorization: 'Bearer abc' } });
	await publish(tp, event(1));
	const [r] = await sink.waitFor(1, WAIT);
	assert.equal(r.headers['x-api-key'], 'k-123');
	assert.equal(r.headers['x-tenant'], 'acme corp');
	assert.equal(r.headers.authorization, 'Bearer abc');
	assert.equal(r.headers['user-agent'], `sluice/${version}`);
	assert.deepEqual((await getSub(sub.id)).headers, { 'X-Api-Key': 'k-123',
	    'X-Tenant': 'acme corp', Authorization: 'Bearer abc' });
	/* Content-Type cannot be replaced by a user header */
	const tp2 = await topic();
	const r2 = await s.api('POST', '/api/v1/subscriptions', { topic: tp2,
	    sink: sink.url, headers: { 'Content-Type': 'text/evil' } });
	if (r2.status === 201) {
		await publish(tp2, event(2));
		const reqs = await sink.waitFor(2, WAIT);
		assert.match(reqs[1].headers['content-type'],
		    /^application\/cloudevents\+json/);
	} else
		assert.equal(r2.status, 400, r2.text);
});

/* ---- SOAP ------------------------------------------------------------- */

test('SOAP 1.1: text/xml with SOAPAction, the event in the CloudEvents XML format (attributes as elements, xsi:type on extensions, data typed)', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: { status: 200,
	    headers: { 'content-type': 'text/xml' },
	    body: '<soap:Envelope xmlns:soap="' + SOAP11_NS +
		'"><soap:Body/></soap:Envelope>' } });
	await subscribe({ topic: tp, sink: sink.url, endpoint_type: 'soap',
	    soap_version: '1.1', soap_action: 'urn:example:notify' });
	const ev = event(1, { subject: 'a <b> & "c"', myint: 5, mybool: true,
	    mystr: 'ünï & <x>', time: '2026-11-23T12:00:00Z',
	    data: { text: '<not xml> & stuff', n: 1 } });
	await publish(tp, ev);
	const bytes = crypto.randomBytes(64);
	await publish(tp, event(2, { datacontenttype: 'application/octet-stream',
	    data: undefined, data_base64: bytes.toString('base64') }));
	await publish(tp, event(3, { datacontenttype: 'text/plain',
	    data: 'hello <world> & all' }));
	const reqs = await sink.waitFor(3, WAIT);
	const r = reqs[0];
	assert.equal(r.method, 'POST');
	assert.match(r.headers['content-type'], /^text\/xml(;|$)/);
	assert.equal(r.headers.soapaction, '"urn:example:notify"');
	const [e] = soapEvents(r.text, SOAP11_NS);
	assert.ok(ceTypePrefixOk(e.holder), 'ce: prefix bound to the CE namespace');
	assert.deepEqual(e.attrs.id, ['e-1', undefined]);
	assert.deepEqual(e.attrs.source, ['/test/delivery', undefined]);
	assert.deepEqual(e.attrs.type, ['com.example.delivery', undefined]);
	assert.deepEqual(e.attrs.subject, ['a <b> & "c"', undefined]);
	assert.deepEqual(e.attrs.time, ['2026-11-23T12:00:00Z', undefined]);
	assert.deepEqual(e.attrs.datacontenttype, ['application/json', undefined]);
	assert.deepEqual(e.attrs.myint, ['5', 'ce:integer']);
	assert.deepEqual(e.attrs.mybool, ['true', 'ce:boolean']);
	assert.deepEqual(e.attrs.mystr, ['ünï & <x>', 'ce:string']);
	assert.equal(e.data[1], 'xs:string');
	assert.deepEqual(JSON.parse(e.data[0]), ev.data);
	const [e2] = soapEvents(reqs[1].text, SOAP11_NS);
	assert.equal(e2.data[1], 'xs:base64Binary');
	assert.ok(Buffer.from(e2.data[0], 'base64').equals(bytes));
	const [e3] = soapEvents(reqs[2].text, SOAP11_NS);
	assert.deepEqual(e3.data, ['hello <world> & all', 'xs:string']);
});

/* JSON format 3.1.2: re-serialised, JSON data names its implied type. */
test('SOAP: JSON data published without datacontenttype carries <datacontenttype>application/json</datacontenttype>, "data": null too', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, endpoint_type: 'soap' });
	await publish(tp, event(1, { datacontenttype: undefined, myext: 'x' }));
	await publish(tp, event(2, { datacontenttype: undefined, data: null }));
	await publish(tp, event(3, { datacontenttype: 'text/plain',
	    data: 'plain' }));
	const reqs = await sink.waitFor(3, WAIT);
	const [e1] = soapEvents(reqs[0].text, SOAP11_NS);
	assert.deepEqual(e1.attrs.datacontenttype, ['application/json', undefined]);
	assert.deepEqual(JSON.parse(e1.data[0]), { n: 1 });
	assert.match(reqs[0].text, new RegExp('<type>com\\.example\\.delivery' +
	    '</type><datacontenttype>application/json</datacontenttype>' +
	    '<myext '), 'after the required attributes, before the others');
	const [e2] = soapEvents(reqs[1].text, SOAP11_NS);
	assert.deepEqual(e2.attrs.datacontenttype, ['application/json', undefined]);
	assert.deepEqual(e2.data, ['null', 'xs:string']);
	const [e3] = soapEvents(reqs[2].text, SOAP11_NS);
	assert.deepEqual(e3.attrs.datacontenttype, ['text/plain', undefined]);
	assert.equal((reqs[2].text.match(/<datacontenttype>/g) || []).length, 1);
});

test('SOAP 1.2: application/soap+xml with action=, batch_size 2 as <batch> of events', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    endpoint_type: 'soap', soap_version: '1.2',
	    soap_action: 'urn:example:batch', batch_size: 2, state: 'pub_only' });
	for (let i = 1; i <= 3; i++)
		await publish(tp, event(i, { myint: i }));
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(2, WAIT);
	const ct = reqs[0].headers['content-type'];
	assert.match(ct, /^application\/soap\+xml/);
	assert.match(ct, /;\s*action="?urn:example:batch"?/);
	assert.equal(reqs[0].headers.soapaction, undefined);
	const b1 = soapEvents(reqs[0].text, SOAP12_NS);
	const b2 = soapEvents(reqs[1].text, SOAP12_NS);
	assert.equal(b1.length, 2);
	assert.equal(b2.length, 1);
	assert.ok(xml.parse(reqs[0].text)['soap:Envelope']['soap:Body'].batch,
	    'several events go in a <batch>');
	const ids = [...b1, ...b2].map((e) => e.attrs.id[0]);
	assert.deepEqual(ids, ['e-1', 'e-2', 'e-3']);
	assert.deepEqual(b2[0].attrs.myint, ['3', 'ce:integer']);
});

test('SOAP batch_size 2: a batch of one left at the end is still a <batch>', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    endpoint_type: 'soap', batch_size: 2, state: 'pub_only' });
	for (let i = 1; i <= 3; i++)
		await publish(tp, event(i));
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(2, WAIT);
	assert.ok(xml.parse(reqs[1].text)['soap:Envelope']['soap:Body'].batch,
	    `a <batch>: ${reqs[1].text}`);
});

test('SOAP with wrap_in_list: one event per request, always as a <batch>', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, endpoint_type: 'soap',
	    wrap_in_list: true });
	await publish(tp, event(1));
	const [r] = await sink.waitFor(1, WAIT);
	const body = xml.parse(r.text)['soap:Envelope']['soap:Body'];
	assert.ok(body.batch, `a <batch>: ${r.text}`);
	assert.equal(body.event, undefined, 'no bare <event>');
	assert.equal((r.text.match(/<event /g) || []).length, 1, r.text);
	assert.match(r.text, /<id>e-1<\/id>/);
});

test('SOAP: XML data (application/xml) is carried as xs:any with the document as a child element; malformed XML as xs:string', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url, endpoint_type: 'soap' });
	const send = async (id, body, ct = 'application/xml') => {
		const r = await s.publishBinary({ id, source: '/x', type: 't' }, body,
		    { topic: tp, contentType: ct });
		assert.equal(r.status, 202, r.text);
	};
	await send('x1', '<order xmlns="urn:o"><id>7</id></order>');
	await send('x2', '<?xml version="1.0" encoding="utf-8"?>\n' +
	    '<note><to>Ann &amp; Bob</to></note>');
	await send('x3', '<order><id>7</order>');
	await send('x4', '<a:b xmlns:a="urn:a"/>', 'text/xml');
	const reqs = await sink.waitFor(4, WAIT);
	const [e1] = soapEvents(reqs[0].text, SOAP11_NS);
	assert.equal(e1.data[1], 'xs:any', `data type: ${reqs[0].text}`);
	assert.ok(e1.raw.data.order, `the XML document is a child element: ${reqs[0].text}`);
	assert.equal(e1.raw.data.order['@xmlns'], 'urn:o', 'its namespace kept');
	assert.equal(e1.raw.data.order.id, '7');
	const [e2] = soapEvents(reqs[1].text, SOAP11_NS);
	assert.equal(e2.data[1], 'xs:any', reqs[1].text);
	const note = e2.raw.data.note;
	assert.ok(note, `root element without the XML declaration: ${reqs[1].text}`);
	/* no namespace of its own: it must not fall into the CE default one */
	assert.ok(note['@xmlns'] !== undefined && note['@xmlns'] !== CE_NS,
	    `<note> is not in the CloudEvents namespace: ${reqs[1].text}`);
	assert.equal(note.to, 'Ann & Bob');
	const [e3] = soapEvents(reqs[2].text, SOAP11_NS);
	assert.deepEqual(e3.data, ['<order><id>7</order>', 'xs:string'],
	    'malformed XML goes as text');
	const [e4] = soapEvents(reqs[3].text, SOAP11_NS);
	assert.equal(e4.data[1], 'xs:any', reqs[3].text);
	assert.ok(e4.raw.data['a:b'] !== undefined, reqs[3].text);
});

test('SOAP Fault in a 200 answer is an application error: attempt outcome app_error, pause app_error_pause_ms, then delivered', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 200, headers: { 'content-type': 'text/xml' },
	    body: soapFault('1.1', 'no thanks') });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    endpoint_type: 'soap', app_error_pause_ms: 1000 });
	const msg = await publish(tp, event(1));
	const reqs = await sink.waitFor(2, WAIT);
	const gap = reqs[1].time - reqs[0].time;
	assert.ok(gap >= 950 && gap <= 1000 + SLACK, `retry after ${gap} ms`);
	const m = await until(async () => {
		const r = await s.api('GET',
		    `/api/v1/subscriptions/${sub.id}/messages/${msg}`);
		return r.json.delivery.state === 'delivered' && r.json;
	});
	assert.equal(m.attempts.length, 2);
	assert.equal(m.attempts[0].outcome, 'app_error');
	assert.equal(m.attempts[0].http_status, 200);
	assert.match(m.attempts[0].response, /no thanks/);
	assert.equal(m.attempts[1].outcome, 'ok');
});

test('SOAP 1.2 Fault with HTTP 500 is an application error too', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 500, headers: { 'content-type': 'application/soap+xml' },
	    body: soapFault('1.2', 'busy') });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    endpoint_type: 'soap', soap_version: '1.2', app_error_pause_ms: 500,
	    tcp_error_pause_ms: 60000 });
	const msg = await publish(tp, event(1));
	await sink.waitFor(2, WAIT);
	const r = await s.api('GET', `/api/v1/subscriptions/${sub.id}/messages/${msg}`);
	assert.equal(r.json.attempts[0].outcome, 'app_error');
	assert.equal(r.json.attempts[0].http_status, 500);
});

/* ---- signatures ------------------------------------------------------- */

function verify(r) {
	const wh = new Webhook(SECRET);
	return wh.verify(r.text, {
		'webhook-id': r.headers['webhook-id'],
		'webhook-timestamp': r.headers['webhook-timestamp'],
		'webhook-signature': r.headers['webhook-signature'],
	});
}

test('signatures: structured, binary and batch requests verify with the standardwebhooks library; a wrong secret does not', async (t) => {
	const sink = await startSink({ t });
	const tps = [await topic(), await topic(), await topic()];
	await subscribe({ topic: tps[0], sink: `${sink.url}/structured`,
	    secret: SECRET });
	await subscribe({ topic: tps[1], sink: `${sink.url}/binary`,
	    secret: SECRET, content_mode: 'binary' });
	const b = await subscribe({ topic: tps[2], sink: `${sink.url}/batch`,
	    secret: SECRET, batch_size: 5, state: 'pub_only' });
	assert.equal(b.secret_set, true);
	assert.equal(b.secret, undefined, 'the secret is never shown');
	const msgs = [];
	msgs.push(await publish(tps[0], event(1)));
	/* (the library's verify also parses the body as JSON) */
	msgs.push(await publish(tps[1], event(2, { data: { bin: 'ary' } })));
	for (let i = 3; i <= 5; i++)
		await publish(tps[2], event(i));
	await patch(b.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(3, WAIT);
	for (const r of reqs) {
		assert.ok(r.headers['webhook-id'], `${r.url}: webhook-id`);
		assert.match(r.headers['webhook-timestamp'], /^\d+$/);
		assert.ok(Math.abs(Number(r.headers['webhook-timestamp']) -
		    Date.now() / 1000) < 60, 'timestamp is now');
		assert.match(r.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
		assert.doesNotThrow(() => verify(r), `${r.url} verifies`);
		const other = new Webhook('whsec_' +
		    Buffer.from('another-secret-0123456789').toString('base64'));
		assert.throws(() => other.verify(r.text, r.headers),
		    `${r.url}: a wrong secret does not verify`);
		assert.throws(() => new Webhook(SECRET).verify(r.text + ' ',
		    r.headers), `${r.url}: a changed body does not verify`);
	}
	const byUrl = Object.fromEntries(reqs.map((r) => [r.url, r]));
	assert.equal(byUrl['/structured'].headers['webhook-id'], msgs[0]);
	assert.equal(byUrl['/binary'].headers['webhook-id'], msgs[1]);
	assert.equal(JSON.parse(byUrl['/batch'].text).length, 3);
	/* no secret: no signature headers */
	const tp = await topic();
	const plain = await startSink({ t });
	await subscribe({ topic: tp, sink: plain.url });
	await publish(tp, event(9));
	const [p] = await plain.waitFor(1, WAIT);
	assert.equal(p.headers['webhook-signature'], undefined);

	/* a key in unpadded base64, which the library also takes */
	const unpadded = 'whsec_' + crypto.randomBytes(32).toString('base64')
	    .replace(/=+$/, '');
	const up = await startSink({ t });
	const tu = await topic();
	await subscribe({ topic: tu, sink: up.url, secret: unpadded });
	await publish(tu, event(10));
	const [u] = await up.waitFor(1, WAIT);
	assert.doesNotThrow(() => new Webhook(unpadded).verify(u.text, u.headers),
	    'an unpadded whsec_ key verifies');
});

test('signatures: webhook-id is the same on every retry of a message (fail twice, then succeed)', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 500 }, { status: 503 });
	await subscribe({ topic: tp, sink: sink.url, secret: SECRET,
	    app_error_pause_ms: 200 });
	const msg = await publish(tp, event(1));
	await publish(tp, event(2));
	const reqs = await sink.waitFor(4, WAIT);
	const ids = reqs.map((r) => r.headers['webhook-id']);
	assert.deepEqual(ids.slice(0, 3), [msg, msg, msg]);
	assert.notEqual(ids[3], msg, 'the next message has its own id');
	for (const r of reqs)
		assert.doesNotThrow(() => verify(r));
});

test('signatures: a replaced secret signs beside the new one for secret_rotation_grace, then stops; no secret, no signature', async (t) => {
	const d = await start({ t, args: ['--secret-rotation-grace', '3s'] });
	t.after(() => d.stop().then(() => d.cleanup()));
	const sink = await startSink({ t });
	await d.createTopic('rot');
	const OLD = SECRET;
	const NEW = 'whsec_' + crypto.randomBytes(32).toString('base64');
	const create = await d.api('POST', '/api/v1/subscriptions',
	    { topic: 'rot', sink: sink.url, secret: OLD });
	assert.equal(create.status, 201, create.text);
	const id = create.json.id;
	assert.equal(create.json.previous_secret_until, null);
	const send = async (n) => {
		const r = await d.publishStructured(event(n), { topic: 'rot' });
		assert.equal(r.status, 202, r.text);
		const [req] = await sink.waitFor(n, WAIT).then((a) => a.slice(-1));
		return req;
	};
	const sigs = (r) => r.headers['webhook-signature'].split(' ');
	const verifies = (secret, r) => {
		try {
			new Webhook(secret).verify(r.text, r.headers);
			return true;
		} catch {
			return false;
		}
	};

	let r = await send(1);
	assert.equal(sigs(r).length, 1, 'one secret: one signature');
	const rotated = Date.now();
	const p = await d.api('PATCH', `/api/v1/subscriptions/${id}`,
	    { secret: NEW });
	assert.equal(p.status, 200, p.text);
	const until = Date.parse(p.json.previous_secret_until);
	assert.ok(until >= rotated + 3000 - 1000 && until <= Date.now() + 3000 +
	    1000, `previous_secret_until is the grace from now: ${p.text}`);
	r = await send(2);
	assert.equal(sigs(r).length, 2, `during the grace, two signatures: ${
	    r.headers['webhook-signature']}`);
	assert.ok(verifies(NEW, r), 'the new secret verifies');
	assert.ok(verifies(OLD, r), 'the old secret still verifies');

	/* a PATCH of another field keeps the grace as it was */
	const p2 = await d.api('PATCH', `/api/v1/subscriptions/${id}`,
	    { max_attempts: 4 });
	assert.equal(p2.json.previous_secret_until, p.json.previous_secret_until);
	const refused = await d.api('PATCH', `/api/v1/subscriptions/${id}`,
	    { previous_secret_until: null });
	assert.equal(refused.status, 400);
	assert.equal(refused.json.errors[0].field, 'previous_secret_until');
	r = await send(3);
	assert.ok(Date.now() < until, 'still within the grace');
	assert.ok(verifies(NEW, r) && verifies(OLD, r),
	    'after that PATCH both secrets still verify');

	await new Promise((res) => setTimeout(res, Math.max(0, until - Date.now()) +
	    200));
	r = await send(4);
	assert.equal(sigs(r).length, 1, 'after the grace, one signature');
	assert.ok(verifies(NEW, r), 'the new secret verifies');
	assert.ok(!verifies(OLD, r), 'the old one no longer does');
	assert.equal((await d.api('GET', `/api/v1/subscriptions/${id}`)).json
	    .previous_secret_until, null);

	/* rotating again, then removing the secret: no signature at all */
	await d.api('PATCH', `/api/v1/subscriptions/${id}`, { secret: OLD });
	const off = await d.api('PATCH', `/api/v1/subscriptions/${id}`,
	    { secret: null });
	assert.equal(off.json.secret_set, false);
	assert.equal(off.json.previous_secret_until, null);
	r = await send(5);
	assert.equal(r.headers['webhook-signature'], undefined);
});

/* ---- validate: the abuse-protection handshake -------------------------- */

test('validate: an OPTIONS with WebHook-Request-Origin comes first; an endpoint that allows the origin gets the events', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: (rec) => rec.method === 'OPTIONS' ?
	    { status: 200, headers: { 'webhook-allowed-origin':
		rec.headers['webhook-request-origin'] } } : { status: 200 } });
	const sub = await subscribe({ topic: tp, sink: sink.url, validate: true });
	await publish(tp, event(1));
	await publish(tp, event(2));
	const reqs = await sink.waitFor(3, WAIT);
	assert.equal(reqs[0].method, 'OPTIONS');
	assert.ok(reqs[0].headers['webhook-request-origin'],
	    'WebHook-Request-Origin is sent');
	assert.equal(reqs[1].method, 'POST');
	assert.deepEqual(JSON.parse(reqs[1].text), event(1));
	assert.deepEqual(JSON.parse(reqs[2].text), event(2));
	for (const r of reqs.slice(1)) {
		/* webhook spec 1.0.2: each delivery carries the same origin */
		assert.equal(r.headers['webhook-request-origin'],
		    reqs[0].headers['webhook-request-origin']);
		assert.equal(r.headers.origin, undefined, 'no CORS Origin');
	}
	assert.ok(await sink.quiet(300));
	assert.equal(sink.requests.filter((r) => r.method === 'OPTIONS').length, 1,
	    'one handshake');
	assert.equal((await getSub(sub.id)).status.validation, 'allowed');
});

test('validate: the handshake asks for rate_limit as WebHook-Request-Rate, and a WebHook-Allowed-Rate of 120/min spaces deliveries ~500 ms', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: (rec) => rec.method === 'OPTIONS' ?
	    { status: 200, headers: { 'webhook-allowed-origin': '*',
		'webhook-allowed-rate': '120' } } : { status: 200 } });
	const sub = await subscribe({ topic: tp, sink: sink.url, validate: true,
	    rate_limit: 10, state: 'pub_only' });
	for (let i = 1; i <= 4; i++)
		await publish(tp, event(i));
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(5, WAIT);
	assert.equal(reqs[0].method, 'OPTIONS');
	assert.equal(reqs[0].headers['webhook-request-rate'], '600',
	    'rate_limit 10/s asked for as 600 per minute');
	const posts = reqs.slice(1);
	assert.deepEqual(posts.map((r) => JSON.parse(r.text).id),
	    [1, 2, 3, 4].map((i) => event(i).id));
	for (let i = 1; i < posts.length; i++) {
		const gap = posts[i].time - posts[i - 1].time;
		assert.ok(gap >= 450 && gap <= 500 + SLACK,
		    `granted 120/min: ${gap} ms between deliveries`);
	}
	const st = (await getSub(sub.id)).status;
	assert.equal(st.validation, 'allowed');
	assert.equal(st.allowed_rate, 120);
	/* a change runs the handshake again; "*" grants no limit */
	sink.always((rec) => rec.method === 'OPTIONS' ?
	    { status: 200, headers: { 'webhook-allowed-origin': '*',
		'webhook-allowed-rate': '*' } } : { status: 200 });
	await patch(sub.id, { rate_limit: 0 });
	await publish(tp, event(5));
	await sink.waitFor(7, WAIT);
	assert.equal(sink.requests[5].method, 'OPTIONS');
	assert.equal(sink.requests[5].headers['webhook-request-rate'], undefined);
	assert.equal((await getSub(sub.id)).status.allowed_rate, null);
});

test('validate: an endpoint that does not allow the origin gets no event, and its status says "validation":"refused"', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: (rec) => rec.method === 'OPTIONS' ?
	    { status: 200, headers: { 'webhook-allowed-origin':
		'https://someone-else.example' } } : { status: 200 } });
	const sink2 = await startSink({ t, answer: { status: 403 } });
	const sub = await subscribe({ topic: tp, sink: sink.url, validate: true });
	const sub2 = await subscribe({ topic: tp, sink: sink2.url, validate: true });
	await publish(tp, event(1));
	await until(async () => (await getSub(sub.id)).status.validation ===
	    'refused' && (await getSub(sub2.id)).status.validation === 'refused',
	WAIT, 'validation refused');
	await publish(tp, event(2));
	await sleep(500);
	assert.ok(sink.requests.length >= 1);
	assert.ok(sink.requests.every((r) => r.method === 'OPTIONS'),
	    `only OPTIONS: ${sink.requests.map((r) => r.method)}`);
	assert.ok(sink2.requests.every((r) => r.method === 'OPTIONS'),
	    `only OPTIONS: ${sink2.requests.map((r) => r.method)}`);
	const st = await getSub(sub.id);
	assert.equal(st.status.queue.delivered, 0);
});

/* ---- 410 Gone --------------------------------------------------------- */

test('410 Gone: the subscription becomes disabled, subscription.gone is recorded, and further events are not queued to it', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: { status: 410 } });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 100 });
	await publish(tp, event(1));
	await sink.waitFor(1, WAIT);
	const st = await until(async () => {
		const g = await getSub(sub.id);
		return g.state === 'disabled' && g;
	}, WAIT, 'state disabled');
	assert.equal(st.state, 'disabled');
	const se = await until(async () => {
		const r = await s.api('GET', '/api/v1/sysevents?limit=1000');
		return r.json.items.find((i) => i.operation === 'subscription.gone' &&
		    String(i.entity_id) === String(sub.id));
	}, WAIT, 'subscription.gone');
	assert.equal(se.entity, 'subscription');
	const msg = await publish(tp, event(2));
	const ev = await s.event(msg);
	assert.ok(!(ev.subscriptions || []).some((x) => x.id === sub.id),
	    `not queued to the gone subscription: ${JSON.stringify(ev)}`);
	assert.ok(await sink.quiet(500));
	assert.equal(sink.requests.length, 1);
	/* the status says why: paused, with no end, for "gone" */
	const gone = (await getSub(sub.id)).status;
	assert.equal(gone.paused, true, JSON.stringify(gone));
	assert.equal(gone.pause_reason, 'gone');
	assert.equal(gone.paused_until, null);
	/* and so does the log, which names no pause length */
	const said = s.logs().split('\n').filter((l) =>
	    l.includes(`subscription ${sub.id}:`) && l.includes('410'));
	assert.ok(said.some((l) => /410 Gone: disabled/.test(l)) &&
	    !said.some((l) => /pausing/.test(l)), said.join('\n'));

	/* the endpoint is back and the operator turns the subscription on */
	sink.always({ status: 200 });
	assert.equal((await patch(sub.id, { state: 'pub_and_sub' })).status.paused,
	    false);
	const [again] = await sink.waitFor(2, WAIT).then((r) => r.slice(1));
	assert.deepEqual(JSON.parse(again.text), event(1), 'the first message');
	const back = (await getSub(sub.id)).status;
	assert.equal(back.pause_reason, null);
});

/* ---- attempts and status ---------------------------------------------- */

test('attempts: each is listed with outcome, http_status, duration and the first 1 KiB of the response; status shows the pause and the failure', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const big = 'E'.repeat(3000);
	sink.next({ status: 500, body: big, delayMs: 150 });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 3000 });
	const msg = await publish(tp, event(1));
	await sink.waitFor(1, WAIT);
	const st = await until(async () => {
		const g = await getSub(sub.id);
		return g.status.paused_until && g;
	}, WAIT, 'paused_until');
	assert.equal(st.status.pause_reason, 'app_error');
	const until_ = Date.parse(st.status.paused_until);
	assert.ok(until_ > Date.now() && until_ < Date.now() + 3500,
	    `paused_until ${st.status.paused_until}`);
	assert.match(st.status.last_error, /500/);
	assert.ok(st.status.last_error_at);
	await sink.waitFor(2, WAIT);
	const m = await until(async () => {
		const r = await s.api('GET',
		    `/api/v1/subscriptions/${sub.id}/messages/${msg}`);
		return r.json.attempts.length === 2 && r.json;
	});
	const [a, b] = m.attempts;
	assert.equal(a.outcome, 'app_error');
	assert.equal(a.http_status, 500);
	assert.ok(a.duration_ms >= 140 && a.duration_ms < 2000,
	    `duration ${a.duration_ms}`);
	assert.equal(a.response, big.slice(0, 1024));
	assert.ok(!Number.isNaN(Date.parse(a.time)));
	assert.equal(b.outcome, 'ok');
	assert.equal(b.http_status, 200);
	assert.ok(Date.parse(b.time) - Date.parse(a.time) >= 2900);
	assert.equal(m.delivery.state, 'delivered');
	assert.equal(m.delivery.attempts, 2);
	const after = await getSub(sub.id);
	assert.equal(after.status.paused_until, null);
	assert.ok(after.status.last_success_at);
});
