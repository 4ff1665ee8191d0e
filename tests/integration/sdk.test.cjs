'use strict';
/*
 * sdk.test.cjs: interop with the CloudEvents JavaScript SDK (the
 * `cloudevents` npm package), a client nobody here wrote.  Events emitted by
 * its HTTP emitter (emitterFor(httpTransport(url))) in binary and structured
 * mode are accepted and read back equal to what the SDK put on the wire,
 * attribute by attribute, with data deep-equal; the SDK reads sluice's
 * stored form back into the same event.  The SDK's emitter has no batch
 * mode, so a batch is built from SDK events and checked against the SDK's
 * own batch parser.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { start } = require('../lib/sluice.cjs');
const { CloudEvent, HTTP, Mode, emitterFor, httpTransport } =
    require('cloudevents');

let s;

test.before(async () => {
	s = await start();
	await s.createTopic('sdk');
});

test.after(async () => {
	if (s)
		await s.cleanup();
});

/* emitterFor(httpTransport(url)), recording each message the SDK sends. */
function sdkEmitter(mode, topic = 'sdk') {
	const url = `${s.url}/topics/${topic}/events`;
	const send = httpTransport(url);
	const sent = [];
	const emit = emitterFor((message, options) => {
		sent.push(message);
		return send(message, options);
	}, { mode });
	return { emit, sent };
}

/* The SDK transport's answer must be sluice's 202 body for this event. */
function acceptedMsg(response, event) {
	assert.match(response.headers['content-type'], /^application\/json/,
	    `not a 202: ${response.body}`);
	const body = JSON.parse(response.body);
	assert.deepEqual(body.duplicates, [], response.body);
	assert.equal(body.accepted.length, 1, response.body);
	assert.equal(body.accepted[0].id, event.id);
	assert.equal(body.accepted[0].source, event.source);
	return body.accepted[0].msg;
}

function header(headers, name) {
	for (const [k, v] of Object.entries(headers))
		if (k.toLowerCase() === name)
			return v;
	return undefined;
}

/* Attributes of the SDK event that are set (toJSON without undefined). */
function attrsOf(event) {
	const out = {};
	for (const [k, v] of Object.entries(event.toJSON()))
		if (v !== undefined && k !== 'data' && k !== 'data_base64')
			out[k] = v;
	return out;
}

const events = () => [
	new CloudEvent({
		id: `json-${Date.now()}`, type: 'com.example.sdk.json',
		source: 'https://example.com/sdk', subject: 'obj',
		time: '2026-05-06T07:08:09.123Z',
		dataschema: 'https://example.com/schema.json',
		data: { name: 'sluice', n: 3, list: [1, 'two', false, null],
			nested: { f: 1.25, s: 'caf\u00e9' } },
		count: 42, enabled: true, region: 'eu-west-1',
	}),
	new CloudEvent({
		id: `text-${Date.now()}`, type: 'com.example.sdk.text',
		source: '/sdk/text', datacontenttype: 'text/plain',
		data: 'hello from the SDK \u2603\nsecond line',
	}),
	new CloudEvent({
		id: `bin-${Date.now()}`, type: 'com.example.sdk.bytes',
		source: 'urn:sdk:bytes', datacontenttype: 'application/octet-stream',
		data: new Uint8Array([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, 0, 0xc3, 0x28]),
		partition: 7,
	}),
	new CloudEvent({
		id: `nodata-${Date.now()}`, type: 'com.example.sdk.empty',
		source: '/sdk/empty', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
	}),
];

/*
 * The SDK's httpTransport cannot send a binary-mode event without data (it
 * calls req.write(undefined) and throws), so binary mode sends those with
 * data only.
 */
const withData = (evs) => evs.filter((e) => e.data !== undefined);

test('binary mode: SDK events are accepted and read back as sent', async () => {
	const { emit, sent } = sdkEmitter(Mode.BINARY);
	for (const ev of withData(events())) {
		const response = await emit(ev);
		const msg = acceptedMsg(response, ev);
		const item = await s.event(msg);
		assert.equal(item.topic, 'sdk');
		const got = item.event;
		const message = sent[sent.length - 1];
		/* every ce- header the SDK sent is an attribute, as a string */
		const want = {};
		for (const [k, v] of Object.entries(message.headers))
			if (k.toLowerCase().startsWith('ce-'))
				want[k.slice(3).toLowerCase()] = String(v);
		const ctype = header(message.headers, 'content-type');
		if (message.body !== undefined && message.body !== '')
			want.datacontenttype = ctype;
		for (const [k, v] of Object.entries(want))
			assert.equal(got[k], v, `${ev.id}: attribute ${k}`);
		/* and each attribute of the SDK's event, in its string form */
		for (const [k, v] of Object.entries(attrsOf(ev)))
			assert.equal(got[k], String(v), `${ev.id}: ${k} as the SDK set it`);
		const extra = Object.keys(got).filter((k) => !(k in want) &&
		    k !== 'data' && k !== 'data_base64');
		assert.deepEqual(extra, [], `${ev.id}: attributes nobody sent`);
		/* data */
		if (ev.data instanceof Uint8Array) {
			assert.equal(got.data_base64, Buffer.from(ev.data).toString('base64'));
			assert.equal(got.data, undefined);
		} else if (typeof ev.data === 'string') {
			assert.equal(got.data, ev.data);
		} else if (ev.data !== undefined) {
			assert.deepEqual(got.data, ev.data);
			assert.deepEqual(got.data, JSON.parse(message.body));
		} else {
			assert.equal(got.data, undefined);
			assert.equal(got.data_base64, undefined);
		}
	}
});

test('structured mode: SDK events are accepted and read back equal, types and all', async () => {
	const { emit, sent } = sdkEmitter(Mode.STRUCTURED);
	for (const ev of events()) {
		const response = await emit(ev);
		const msg = acceptedMsg(response, ev);
		const got = (await s.event(msg)).event;
		const wire = JSON.parse(sent[sent.length - 1].body);
		for (const k of new Set([...Object.keys(wire), ...Object.keys(got)]))
			assert.deepEqual(got[k], wire[k], `${ev.id}: attribute ${k}`);
		for (const [k, v] of Object.entries(attrsOf(ev)))
			assert.deepEqual(got[k], v, `${ev.id}: ${k} as the SDK set it`);
		if (ev.id.startsWith('json-')) {
			assert.equal(typeof got.count, 'number');
			assert.equal(got.enabled, true);
			assert.deepEqual(got.data, ev.data);
		}
		if (ev.id.startsWith('bin-'))
			assert.ok(Buffer.from(got.data_base64, 'base64')
			    .equals(Buffer.from(ev.data)));
		/* the SDK reads the stored event back into the event it sent */
		const back = HTTP.toEvent({ headers: { 'content-type':
			'application/cloudevents+json' }, body: JSON.stringify(got) });
		assert.deepEqual(attrsOf(back), attrsOf(ev));
		if (ev.data instanceof Uint8Array)
			assert.deepEqual(Buffer.from(back.data), Buffer.from(ev.data));
		else
			assert.deepEqual(back.data, ev.data);
	}
});

test('the SDK HTTP emitter gets exactly a 202 (status checked on the wire)', async () => {
	/* a TransportFunction like httpTransport that keeps the status code */
	const statuses = [];
	const transport = (message) => new Promise((resolve, reject) => {
		const u = new URL(`${s.url}/topics/sdk/events`);
		const req = http.request(u, { method: 'POST', headers: message.headers },
		    (res) => {
			    statuses.push(res.statusCode);
			    res.resume();
			    res.on('end', () => resolve(res.statusCode));
		    });
		req.on('error', reject);
		req.end(message.body);
	});
	for (const mode of [Mode.BINARY, Mode.STRUCTURED]) {
		const emit = emitterFor(transport, { mode });
		for (const ev of mode === Mode.BINARY ? withData(events()) : events())
			await emit(ev.cloneWith({ id: `${mode}-status-${ev.id}` }));
	}
	assert.deepEqual(statuses, Array(7).fill(202));
});

test('emitting the same SDK event twice is reported as a duplicate', async () => {
	const { emit } = sdkEmitter(Mode.STRUCTURED);
	const ev = new CloudEvent({ id: `dup-${Date.now()}`, type: 't',
		source: '/sdk/dup', data: { once: true } });
	const first = JSON.parse((await emit(ev)).body);
	const again = JSON.parse((await emit(ev)).body);
	assert.deepEqual(again.accepted, []);
	assert.deepEqual(again.duplicates, first.accepted);
	const stored = (await s.allEvents({ topic: 'sdk', source: '/sdk/dup' }));
	assert.equal(stored.length, 1);
});

test('batch mode: the SDK emitter has none; a batch of SDK events is stored as the SDK itself parses it', async () => {
	assert.throws(() => emitterFor(httpTransport(s.url),
	    { mode: Mode.BATCH })(new CloudEvent({ type: 't', source: '/s' })),
	TypeError, 'if the SDK learns batch mode, emit through it here');
	const evs = events().map((e) => e.cloneWith({ id: `batch-${e.id}` }));
	const message = {
		headers: { 'content-type': 'application/cloudevents-batch+json' },
		body: JSON.stringify(evs.map((e) => e.toJSON())),
	};
	const sdkView = HTTP.toEvent(message);
	assert.equal(sdkView.length, evs.length);
	const r = await s.api('POST', '/topics/sdk/events', message.body,
	    { headers: message.headers });
	assert.equal(r.status, 202, r.text);
	assert.deepEqual(r.json.accepted.map((a) => a.id), evs.map((e) => e.id));
	for (let i = 0; i < evs.length; i++) {
		const got = (await s.event(r.json.accepted[i].msg)).event;
		const back = HTTP.toEvent({ headers: { 'content-type':
			'application/cloudevents+json' }, body: JSON.stringify(got) });
		assert.deepEqual(attrsOf(back), attrsOf(sdkView[i]));
		assert.deepEqual(back.data_base64, sdkView[i].data_base64);
		if (!(sdkView[i].data instanceof Uint8Array))
			assert.deepEqual(back.data, sdkView[i].data);
	}
});

test('the server stops cleanly (exit 0)', async () => {
	assert.equal((await s.stop()).code, 0);
});
