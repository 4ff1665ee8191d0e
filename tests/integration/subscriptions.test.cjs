'use strict';
/*
 * subscriptions.test.cjs: /api/v1/subscriptions against docs/api.md over
 * real HTTP: create with defaults and with every field, read, list (by
 * topic, paged), PATCH (only the fields given; null resets), DELETE; every
 * refused value and combination a 400 problem+json naming the field;
 * secret write-only everywhere; a name is a label (not unique); live queue
 * counts in status; deleting a topic that has subscriptions.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, assertProblem, sleep } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

let s, sink;

test.before(async () => {
	s = await start();
	sink = await startSink();
	await s.createTopic('orders');
	await s.createTopic('other');
});

test.after(async () => {
	if (sink)
		await sink.close();
	if (s)
		await s.cleanup();
});

const DEFAULTS = {
	topic: 'default', endpoint_type: 'rest', delivery_method: 'notify',
	http_method: 'POST', content_mode: 'structured', soap_version: null,
	soap_action: null, state: 'pub_and_sub', batch_size: 1,
	wrap_in_list: false, max_attempts: 10, tcp_error_pause_ms: 10000,
	app_error_pause_ms: 3000, backoff_factor: 1, max_pause_ms: 300000,
	rate_limit: 0, timeout_ms: 10000, headers: {}, max_inflight: 1,
	filters: [], secret_set: false, validate: false,
};
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let n = 0;
function hook() {
	return `${sink.url}/hook/${++n}`;
}

async function create(body, status = 201) {
	const r = await s.api('POST', '/api/v1/subscriptions', body);
	assert.equal(r.status, status, `create ${JSON.stringify(body)}: ${r.text}`);
	return r.json;
}

/* The subscription without what changes on its own. */
function fields(sub) {
	const o = Object.assign({}, sub);
	delete o.status;
	delete o.updated_at;
	return o;
}

test('POST with only a sink: 201, Location, every default applied and returned', async () => {
	const url = hook();
	const r = await s.api('POST', '/api/v1/subscriptions',
	    { sink: url, state: 'pub_only' });
	assert.equal(r.status, 201, r.text);
	assert.match(r.headers['content-type'], /^application\/json/);
	const sub = r.json;
	assert.equal(r.headers.location, `/api/v1/subscriptions/${sub.id}`);
	assert.ok(Number.isInteger(sub.id) && sub.id > 0);
	assert.equal(sub.name, `POST ${url}`, 'the default name');
	assert.equal(sub.sink, url);
	for (const [k, v] of Object.entries(DEFAULTS))
		if (k !== 'state')
			assert.deepEqual(sub[k], v, `default ${k}`);
	assert.equal(sub.state, 'pub_only');
	assert.ok(!('secret' in sub));
	assert.match(sub.created_at, TIME);
	assert.match(sub.updated_at, TIME);
	assert.deepEqual(sub.status.queue,
	    { pending: 0, inflight: 0, delivered: 0, dead: 0 });
	for (const k of ['paused_until', 'pause_reason', 'last_error',
	    'last_error_at', 'last_success_at'])
		assert.equal(sub.status[k], null, `status.${k}`);
	const g = await s.api('GET', r.headers.location);
	assert.equal(g.status, 200);
	assert.deepEqual(fields(g.json), fields(sub));
	const l = await s.api('GET', '/api/v1/subscriptions');
	assert.deepEqual(fields(l.json.items.find((x) => x.id === sub.id)),
	    fields(sub));
	/* pull: no sink, named "pull" */
	const p = await create({ delivery_method: 'pull', topic: 'other' });
	assert.equal(p.name, 'pull');
	assert.equal(p.sink, null);
	assert.equal(p.delivery_method, 'pull');
	/* SOAP: soap_version 1.1 by default */
	const soap = await create({ sink: hook(), endpoint_type: 'soap',
		state: 'disabled' });
	assert.equal(soap.soap_version, '1.1');
	assert.equal(soap.http_method, 'POST');
});

test('POST with every field of docs/api.md: each is stored and returned', async () => {
	const rest = {
		name: 'all fields', topic: 'orders', endpoint_type: 'rest',
		delivery_method: 'notify', sink: hook(), http_method: 'PUT',
		content_mode: 'binary', state: 'pub_only', batch_size: 1,
		wrap_in_list: false, max_attempts: 3, tcp_error_pause_ms: 100,
		app_error_pause_ms: 200, backoff_factor: 2.5, max_pause_ms: 5000,
		rate_limit: 50, timeout_ms: 2000, headers: { 'X-Env': 'prod',
			Authorization: 'Bearer downstream' },
		max_inflight: 4, filters: [{ all: [{ exact: { type: 'a' } },
			{ not: { prefix: { source: '/x' } } }] }],
		secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', validate: true,
	};
	const a = await create(rest);
	for (const [k, v] of Object.entries(rest))
		if (k !== 'secret')
			assert.deepEqual(a[k], v, k);
	assert.equal(a.secret_set, true);
	assert.equal(a.soap_version, null);
	const soap = {
		name: 'soap', topic: 'orders', endpoint_type: 'soap',
		sink: hook(), soap_version: '1.2', soap_action: 'urn:sluice#notify',
		http_method: 'GET', batch_size: 100, state: 'disabled',
	};
	const b = await create(soap);
	for (const [k, v] of Object.entries(soap))
		assert.deepEqual(b[k], v, k);
	assert.equal(b.wrap_in_list, false);
	const wrap = await create({ sink: hook(), batch_size: 1000,
		wrap_in_list: true, state: 'disabled', topic: 'orders' });
	assert.equal(wrap.batch_size, 1000);
	assert.equal(wrap.wrap_in_list, true);
	/* and GET shows the same */
	for (const x of [a, b, wrap]) {
		const g = await s.api('GET', `/api/v1/subscriptions/${x.id}`);
		assert.deepEqual(fields(g.json), fields(x));
	}
	/* GET ?topic= lists only that topic's */
	const l = await s.api('GET', '/api/v1/subscriptions?topic=orders');
	assert.equal(l.status, 200);
	assert.ok(l.json.items.length >= 3);
	assert.ok(l.json.items.every((x) => x.topic === 'orders'), l.text);
	const u = await s.api('GET', '/api/v1/subscriptions?topic=nosuch');
	assertProblem(u, 404);
	const e = await s.api('GET', '/api/v1/subscriptions?topic=&limit=1000');
	assert.equal(e.status, 200, 'an empty ?topic= lists every topic');
	assert.deepEqual(e.json.items.map((x) => x.id), (await s.api('GET',
	    '/api/v1/subscriptions?limit=1000')).json.items.map((x) => x.id));
});

test('unknown and read-only fields are 400 naming them', async () => {
	for (const f of ['colour', 'id', 'status', 'secret_set', 'created_at',
	    'updated_at', 'Sink', 'filter']) {
		const r = await s.api('POST', '/api/v1/subscriptions',
		    { sink: hook(), [f]: 1 });
		assertProblem(r, 400, f);
	}
});

test('every invalid value and combination is a 400 problem+json naming the field', async () => {
	const sk = 'http://127.0.0.1:9/x';
	const cases = [
		[{}, 'sink', 'notify without a sink'],
		[{ delivery_method: 'notify', sink: null }, 'sink', 'null sink'],
		[{ delivery_method: 'pull', sink: sk }, 'sink', 'pull with a sink'],
		[{ sink: 'ftp://h/x' }, 'sink', 'ftp sink'],
		[{ sink: 'file:///etc/passwd' }, 'sink', 'file sink'],
		[{ sink: 'not a url' }, 'sink', 'not a URL'],
		[{ sink: 'http://' }, 'sink', 'no host'],
		[{ sink: 42 }, 'sink', 'a number'],
		[{ sink: sk, content_mode: 'binary', batch_size: 2 }, 'batch_size',
			'binary with batch_size 2'],
		[{ sink: sk, content_mode: 'binary', wrap_in_list: true },
			'wrap_in_list', 'binary with wrap_in_list'],
		[{ sink: sk, endpoint_type: 'soap', content_mode: 'binary' },
			'content_mode', 'SOAP binary'],
		[{ sink: sk, endpoint_type: 'soap', http_method: 'PUT' },
			'http_method', 'SOAP 1.1 with PUT'],
		[{ sink: sk, endpoint_type: 'soap', soap_version: '1.1',
			http_method: 'GET' }, 'http_method', 'SOAP 1.1 with GET'],
		[{ sink: sk, endpoint_type: 'soap', soap_version: '1.2',
			http_method: 'PATCH' }, 'http_method', 'SOAP 1.2 with PATCH'],
		[{ sink: sk, endpoint_type: 'soap', soap_version: '1.2',
			http_method: 'DELETE' }, 'http_method', 'SOAP 1.2 with DELETE'],
		[{ sink: sk, endpoint_type: 'soap', soap_version: '2.0' },
			'soap_version', 'SOAP 2.0'],
		[{ sink: sk, soap_version: '1.1' }, 'soap_version', 'REST with soap_version'],
		[{ sink: sk, soap_action: 'urn:x' }, 'soap_action', 'REST with soap_action'],
		[{ sink: sk, batch_size: 0 }, 'batch_size', 'batch_size 0'],
		[{ sink: sk, batch_size: 1001 }, 'batch_size', 'batch_size 1001'],
		[{ sink: sk, batch_size: '5' }, 'batch_size', 'batch_size a string'],
		[{ sink: sk, tcp_error_pause_ms: -1 }, 'tcp_error_pause_ms', 'negative tcp pause'],
		[{ sink: sk, app_error_pause_ms: -1 }, 'app_error_pause_ms', 'negative app pause'],
		[{ sink: sk, max_pause_ms: -1 }, 'max_pause_ms', 'negative max pause'],
		[{ sink: sk, backoff_factor: 0.5 }, 'backoff_factor', 'backoff below 1'],
		[{ sink: sk, max_attempts: 0 }, 'max_attempts', 'max_attempts 0'],
		[{ sink: sk, timeout_ms: 10 }, 'timeout_ms', 'timeout 10 ms'],
		[{ sink: sk, rate_limit: -1 }, 'rate_limit', 'negative rate limit'],
		[{ sink: sk, max_inflight: 0 }, 'max_inflight', 'max_inflight 0'],
		[{ sink: sk, http_method: 'HEAD' }, 'http_method', 'HEAD'],
		[{ sink: sk, endpoint_type: 'grpc' }, 'endpoint_type', 'grpc'],
		[{ sink: sk, delivery_method: 'email' }, 'delivery_method', 'email'],
		[{ sink: sk, content_mode: 'batched' }, 'content_mode', 'batched'],
		[{ sink: sk, state: 'paused' }, 'state', 'state paused'],
		[{ sink: sk, wrap_in_list: 'yes' }, 'wrap_in_list', 'wrap_in_list a string'],
		[{ sink: sk, validate: 1 }, 'validate', 'validate a number'],
		[{ sink: sk, name: '' }, 'name', 'empty name'],
		[{ sink: sk, name: 'x'.repeat(201) }, 'name', 'name of 201'],
		[{ sink: sk, secret: 'short' }, 'secret', 'short secret'],
		[{ sink: sk, secret: 'plain-secret-0123456789' }, 'secret',
			'a secret without whsec_'],
		[{ sink: sk, secret: 'whsec_not*base64*at-all' }, 'secret',
			'whsec_ and not base64'],
		[{ sink: sk, headers: ['a'] }, 'headers', 'headers a list'],
		[{ sink: sk, headers: { 'Content-Type': 'x' } }, 'headers.Content-Type',
			'a header sluice sets'],
		[{ sink: sk, headers: { 'X-A': 'a\r\nX-B: b' } }, 'headers.X-A',
			'a header value with CRLF'],
		[{ sink: sk, filters: [{ sql: "type = 'a'" }] }, 'filters[0].sql',
			'bad filter dialect'],
		[{ sink: sk, filters: [{ any: [] }] }, 'filters[0].any', 'empty any'],
		[{ sink: sk, filters: [{ all: [] }] }, 'filters[0].all', 'empty all'],
		[{ sink: sk, filters: [{ prefix: { subject: '' } }] },
			'filters[0].prefix.subject', 'an empty filter value'],
		[{ sink: sk, filters: [{ exact: { type: 'a' } }, { not: { exact: { Type: 'b' } } }] },
			'filters[1].not.exact.Type', 'bad attribute name'],
		[{ sink: sk, filters: { exact: { type: 'a' } } }, 'filters',
			'filters not a list'],
		[{ sink: sk, topic: 'nosuch' }, 'topic', 'unknown topic'],
	];
	for (const [body, field, what] of cases) {
		const r = await s.api('POST', '/api/v1/subscriptions', body);
		assert.equal(r.status, 400, `${what}: ${r.text}`);
		assertProblem(r, 400, field);
		assert.ok(r.json.detail.length > 0, what);
	}
	/* bodies that are not a JSON object */
	for (const body of ['', 'not json', '[]', '"x"', '{"sink":']) {
		const r = await s.api('POST', '/api/v1/subscriptions', body,
		    { headers: { 'content-type': 'application/json' } });
		assertProblem(r, 400);
	}
	/* nothing was created by any of these */
	const l = await s.api('GET', '/api/v1/subscriptions?limit=1000');
	assert.ok(!l.json.items.some((x) => x.sink === sk), 'none was stored');
});

test('secret is write-only: secret_set, never echoed in answers, lists or system events', async () => {
	const secret = 'whsec_c2VjcmV0LW5ldmVyLXNob3du';
	const raw = 'c2VjcmV0LW5ldmVyLXNob3du';
	const a = await create({ sink: hook(), secret, state: 'pub_only' });
	assert.equal(a.secret_set, true);
	let r = await s.api('GET', `/api/v1/subscriptions/${a.id}`);
	r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`,
	    { secret: 'whsec_YW5vdGhlci1zZWNyZXQtdmFsdWU' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.secret_set, true);
	const texts = [
		(await s.api('POST', '/api/v1/subscriptions',
		    { sink: hook(), secret, state: 'pub_only' })).text,
		(await s.api('GET', `/api/v1/subscriptions/${a.id}`)).text,
		(await s.api('GET', '/api/v1/subscriptions?limit=1000')).text,
		(await s.api('GET', '/api/v1/sysevents?limit=1000')).text,
		JSON.stringify(await s.allEvents({ topic: '$sys' })),
		r.text,
	];
	for (const t of texts) {
		assert.ok(!t.includes(raw), `the secret shows: ${t.slice(0, 300)}`);
		assert.ok(!t.includes('YW5vdGhlci1zZWNyZXQtdmFsdWU'),
		    'the new one neither');
	}
	/* the $sys events' data, one by one */
	for (const e of await s.allEvents({ topic: '$sys' })) {
		const full = await s.event(e.msg);
		assert.ok(!JSON.stringify(full).includes(raw));
	}
	r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, { secret: null });
	assert.equal(r.json.secret_set, false, 'null removes it');
});

test('PATCH changes only the fields given; null resets to the default', async () => {
	const a = await create({ sink: hook(), name: 'patched', state: 'pub_only',
		batch_size: 20, max_attempts: 3, headers: { 'X-A': '1' },
		filters: [{ exact: { type: 'a' } }], backoff_factor: 2 });
	await sleep(5);
	const steps = [
		[{ batch_size: 5 }, { batch_size: 5 }],
		[{ max_attempts: null }, { max_attempts: 10 }],
		[{ headers: { 'X-B': '2' } }, { headers: { 'X-B': '2' } }],
		[{ filters: null }, { filters: [] }],
		[{ state: 'disabled', timeout_ms: 500 },
			{ state: 'disabled', timeout_ms: 500 }],
		[{ name: 'renamed' }, { name: 'renamed' }],
		[{ backoff_factor: null }, { backoff_factor: 1 }],
		[{ http_method: 'PATCH', validate: true },
			{ http_method: 'PATCH', validate: true }],
		[{}, {}],
	];
	let before = a;
	for (const [patch, changed] of steps) {
		const r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, patch);
		assert.equal(r.status, 200, `${JSON.stringify(patch)}: ${r.text}`);
		const want = Object.assign(fields(before), changed);
		assert.deepEqual(fields(r.json), want, JSON.stringify(patch));
		assert.ok(r.json.updated_at >= before.updated_at);
		const g = await s.api('GET', `/api/v1/subscriptions/${a.id}`);
		assert.deepEqual(fields(g.json), want, 'GET agrees');
		before = r.json;
	}
	assert.equal(before.created_at, a.created_at, 'created_at stays');
	/* refused PATCHes change nothing */
	const refused = [
		[{ topic: 'other' }, 'topic'],
		[{ sink: null }, 'sink'],
		[{ content_mode: 'binary' }, 'batch_size'],
		[{ endpoint_type: 'soap' }, 'http_method'],
		[{ batch_size: 0 }, 'batch_size'],
		[{ nope: true }, 'nope'],
		[{ filters: [{ any: [] }] }, 'filters[0].any'],
		[{ batch_size: 2, max_attempts: -1 }, 'max_attempts'],
	];
	for (const [patch, field] of refused) {
		const r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, patch);
		assertProblem(r, 400, field);
	}
	const g = await s.api('GET', `/api/v1/subscriptions/${a.id}`);
	assert.deepEqual(fields(g.json), fields(before), 'unchanged');
	let r = await s.api('PATCH', '/api/v1/subscriptions/999999', { batch_size: 2 });
	assertProblem(r, 404);
	r = await s.api('PATCH', '/api/v1/subscriptions/abc', { batch_size: 2 });
	assertProblem(r, 404);
});

test('a name is a label: two subscriptions may share one, and so may two unnamed ones to the same endpoint', async () => {
	const url = hook();
	const a = await create({ sink: url, name: 'dup', state: 'disabled' });
	let r = await s.api('POST', '/api/v1/subscriptions',
	    { sink: hook(), name: 'dup', state: 'disabled' });
	assert.equal(r.status, 201, r.text);
	assert.notEqual(r.json.id, a.id);
	/* two unnamed subscriptions to one endpoint (say, other filters) */
	r = await s.api('POST', '/api/v1/subscriptions', { sink: url, state: 'disabled' });
	assert.equal(r.status, 201, r.text);
	r = await s.api('POST', '/api/v1/subscriptions', { sink: url, state: 'disabled',
	    filters: [{ exact: { type: 'b' } }] });
	assert.equal(r.status, 201, r.text);
	assert.equal(r.json.name, `POST ${url}`);
	/* and two unnamed pull subscriptions */
	for (let i = 0; i < 2; i++) {
		r = await s.api('POST', '/api/v1/subscriptions',
		    { delivery_method: 'pull', state: 'disabled' });
		assert.equal(r.status, 201, r.text);
	}
	/* renaming onto a name in use */
	r = await s.api('PATCH', `/api/v1/subscriptions/${r.json.id}`, { name: 'dup' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.name, 'dup');
	/* a default name follows a new sink or method; a chosen one stays */
	const d = await create({ sink: hook(), state: 'disabled' });
	const moved = hook();
	r = await s.api('PATCH', `/api/v1/subscriptions/${d.id}`, { sink: moved });
	assert.equal(r.json.name, `POST ${moved}`);
	r = await s.api('PATCH', `/api/v1/subscriptions/${d.id}`, { http_method: 'PUT' });
	assert.equal(r.json.name, `PUT ${moved}`);
	r = await s.api('PATCH', `/api/v1/subscriptions/${d.id}`, { name: 'chosen' });
	r = await s.api('PATCH', `/api/v1/subscriptions/${d.id}`, { sink: hook() });
	assert.equal(r.json.name, 'chosen');
});

test('status shows live queue counts by state', async (t) => {
	const own = await start({ t });
	const ok = await startSink({ t });
	const bad = await startSink({ t, answer: { status: 500 } });
	const held = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: `${ok.url}/held`, state: 'pub_only' })).json;
	const good = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: `${ok.url}/good` })).json;
	const dead = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: `${bad.url}/dead`, max_attempts: 1,
	      app_error_pause_ms: 10 })).json;
	for (let i = 0; i < 3; i++) {
		const r = await own.publishStructured({ id: `q${i}`, source: '/s', type: 't' });
		assert.equal(r.status, 202);
	}
	await ok.waitFor(3);
	const queue = async (id) => (await own.api('GET',
	    `/api/v1/subscriptions/${id}`)).json.status.queue;
	const until = async (id, want) => {
		for (let i = 0; i < 200; i++) {
			const q = await queue(id);
			if (JSON.stringify(q) === JSON.stringify(want))
				return q;
			await sleep(50);
		}
		return queue(id);
	};
	assert.deepEqual(await until(held.id,
	    { pending: 3, inflight: 0, delivered: 0, dead: 0 }),
	{ pending: 3, inflight: 0, delivered: 0, dead: 0 });
	assert.deepEqual(await until(good.id,
	    { pending: 0, inflight: 0, delivered: 3, dead: 0 }),
	{ pending: 0, inflight: 0, delivered: 3, dead: 0 });
	assert.deepEqual(await until(dead.id,
	    { pending: 0, inflight: 0, delivered: 0, dead: 3 }),
	{ pending: 0, inflight: 0, delivered: 0, dead: 3 });
	const g = (await own.api('GET', `/api/v1/subscriptions/${good.id}`)).json;
	assert.match(g.status.last_success_at, TIME);
	const d = (await own.api('GET', `/api/v1/subscriptions/${dead.id}`)).json;
	assert.match(d.status.last_error_at, TIME);
	assert.match(d.status.last_error, /500/);
	/* the list carries the same status */
	const l = await own.api('GET', '/api/v1/subscriptions');
	assert.deepEqual(l.json.items.find((x) => x.id === held.id).status.queue,
	    { pending: 3, inflight: 0, delivered: 0, dead: 0 });
	await own.stop();
});

test('DELETE: 204, then 404 for GET, PATCH and DELETE; gone from the list', async () => {
	const a = await create({ sink: hook(), state: 'pub_only' });
	await s.publishStructured({ id: `del-${a.id}`, source: '/s', type: 't' });
	let r = await s.api('DELETE', `/api/v1/subscriptions/${a.id}`);
	assert.equal(r.status, 204, r.text);
	assert.equal(r.text, '');
	r = await s.api('GET', `/api/v1/subscriptions/${a.id}`);
	assertProblem(r, 404);
	r = await s.api('DELETE', `/api/v1/subscriptions/${a.id}`);
	assertProblem(r, 404);
	r = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages`);
	assertProblem(r, 404);
	r = await s.api('GET', '/api/v1/subscriptions?limit=1000');
	assert.ok(!r.json.items.some((x) => x.id === a.id));
	for (const bad of ['0', '-1', 'x', '1.5', '99999999'])
		assertProblem(await s.api('GET', `/api/v1/subscriptions/${bad}`), 404);
});

test('the list pages by id with limit and cursor, no gaps or repeats', async () => {
	for (let i = 0; i < 7; i++)
		await create({ sink: hook(), topic: 'other', state: 'disabled' });
	const all = (await s.api('GET', '/api/v1/subscriptions?topic=other&limit=1000'))
	    .json.items.map((x) => x.id);
	assert.ok(all.length >= 7);
	const seen = [];
	let cursor = null;
	for (let pages = 0; pages < 100; pages++) {
		const q = `topic=other&limit=3${cursor ? `&cursor=${cursor}` : ''}`;
		const r = await s.api('GET', `/api/v1/subscriptions?${q}`);
		assert.equal(r.status, 200, r.text);
		assert.ok(r.json.items.length <= 3);
		seen.push(...r.json.items.map((x) => x.id));
		cursor = r.json.next_cursor;
		if (cursor === null)
			break;
	}
	assert.deepEqual(seen, all);
	assert.deepEqual([...seen].sort((a, b) => a - b), seen, 'by id');
	assertProblem(await s.api('GET', '/api/v1/subscriptions?limit=0'), 400, 'limit');
	assertProblem(await s.api('GET', '/api/v1/subscriptions?cursor=zz'), 400, 'cursor');
});

test('topic DELETE with subscriptions is 409; ?force=true deletes them and their queues', async () => {
	await s.createTopic('doomed');
	const a = await create({ sink: hook(), topic: 'doomed', state: 'pub_only' });
	const b = await create({ delivery_method: 'pull', topic: 'doomed' });
	const p = await s.publishStructured({ id: 'd1', source: '/s', type: 't' },
	    { topic: 'doomed' });
	assert.equal(p.status, 202);
	let r = await s.api('DELETE', '/api/v1/topics/doomed');
	assertProblem(r, 409, 'force');
	assert.match(r.json.detail, /force/);
	r = await s.api('GET', `/api/v1/subscriptions/${a.id}`);
	assert.equal(r.status, 200, 'the 409 deleted nothing');
	assert.equal(r.json.status.queue.pending, 1);
	r = await s.api('DELETE', '/api/v1/topics/doomed?force=false');
	assertProblem(r, 409);
	r = await s.api('DELETE', '/api/v1/topics/doomed?force=yes');
	assertProblem(r, 400, 'force');
	r = await s.api('DELETE', '/api/v1/topics/doomed?force=true');
	assert.equal(r.status, 204, r.text);
	for (const id of [a.id, b.id])
		assertProblem(await s.api('GET', `/api/v1/subscriptions/${id}`), 404);
	/* each subscription it took is recorded as deleted */
	r = await s.api('GET', '/api/v1/sysevents?operation=subscription.delete&limit=1000');
	for (const id of [a.id, b.id])
		assert.ok(r.json.items.some((e) => String(e.entity_id) === String(id) &&
		    e.metadata && e.metadata.topic_deleted === true),
		`subscription.delete for ${id}: ${r.text}`);
	r = await s.api('GET', '/api/v1/subscriptions?limit=1000');
	assert.ok(!r.json.items.some((x) => x.topic === 'doomed'));
	assertProblem(await s.api('GET', '/api/v1/topics/doomed'), 404);
	r = await s.publishStructured({ id: 'd2', source: '/s', type: 't' },
	    { topic: 'doomed' });
	assertProblem(r, 404);
	/* a topic without subscriptions goes without force */
	await s.createTopic('empty');
	assert.equal((await s.api('DELETE', '/api/v1/topics/empty')).status, 204);
	/* a new topic of the same name starts with no subscriptions */
	await s.createTopic('doomed');
	r = await s.api('GET', '/api/v1/subscriptions?topic=doomed');
	assert.deepEqual(r.json.items, []);
});

test('every field survives a restart; the queue counts too', async (t) => {
	const own = await start({ t });
	await own.createTopic('kept');
	const body = {
		name: 'kept', topic: 'kept', sink: 'https://example.invalid/hook',
		http_method: 'PATCH', content_mode: 'binary', state: 'pub_only',
		max_attempts: 7, tcp_error_pause_ms: 123, app_error_pause_ms: 456,
		backoff_factor: 1.5, max_pause_ms: 7890, rate_limit: 3,
		timeout_ms: 4321, headers: { 'X-Kept': 'yes' }, max_inflight: 2,
		filters: [{ any: [{ exact: { type: 'a' } }, { suffix: { subject: '.png' } }] }],
		secret: 'whsec_a2VwdC1zZWNyZXQtMDEyMzQ1Njc4OQ==', validate: true,
	};
	const a = (await own.api('POST', '/api/v1/subscriptions', body)).json;
	const soap = (await own.api('POST', '/api/v1/subscriptions', {
		topic: 'kept', sink: 'http://example.invalid/soap', endpoint_type: 'soap',
		soap_version: '1.2', soap_action: 'urn:a', http_method: 'GET',
		batch_size: 9, state: 'disabled' })).json;
	const pull = (await own.api('POST', '/api/v1/subscriptions', {
		topic: 'kept', delivery_method: 'pull', state: 'sub_only' })).json;
	const r = await own.publishStructured({ id: 'k1', source: '/s', type: 'a' },
	    { topic: 'kept' });
	assert.equal(r.status, 202);
	await own.restart();
	for (const x of [a, soap, pull]) {
		const g = await own.api('GET', `/api/v1/subscriptions/${x.id}`);
		assert.equal(g.status, 200, g.text);
		assert.deepEqual(fields(g.json), fields(x), `subscription ${x.name}`);
	}
	const g = await own.api('GET', `/api/v1/subscriptions/${a.id}`);
	assert.equal(g.json.secret_set, true);
	assert.equal(g.json.status.queue.pending, 1);
	/* and routing uses the reloaded filters */
	await own.publishStructured({ id: 'k2', source: '/s', type: 'b', subject: 'x.png' },
	    { topic: 'kept' });
	await own.publishStructured({ id: 'k3', source: '/s', type: 'b' }, { topic: 'kept' });
	const q = await own.api('GET', `/api/v1/subscriptions/${a.id}`);
	assert.equal(q.json.status.queue.pending, 2);
	await own.stop();
});

test('PATCH endpoint_type back to rest drops the SOAP-only fields it did not name', async () => {
	const a = await create({ sink: hook(), endpoint_type: 'soap', state: 'disabled',
		soap_action: 'urn:x' });
	assert.equal(a.soap_version, '1.1');
	let r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, { endpoint_type: 'rest' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.endpoint_type, 'rest');
	assert.equal(r.json.soap_version, null);
	assert.equal(r.json.soap_action, null);
	/* naming one with rest is still refused */
	r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`,
	    { endpoint_type: 'rest', soap_version: '1.2' });
	assertProblem(r, 400, 'soap_version');
	/* and back to soap: 1.1 again by default */
	r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, { endpoint_type: 'soap' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.soap_version, '1.1');
	/* renaming to its own name is not a conflict */
	r = await s.api('PATCH', `/api/v1/subscriptions/${a.id}`, { name: a.name });
	assert.equal(r.status, 200, r.text);
});

test('concurrent PATCHes of different fields all take effect (no lost update)', async () => {
	const a = await create({ sink: hook(), state: 'disabled' });
	const patches = [{ batch_size: 7 }, { max_attempts: 7 },
		{ tcp_error_pause_ms: 7 }, { app_error_pause_ms: 7 },
		{ max_pause_ms: 7777 }, { rate_limit: 7 }, { timeout_ms: 7777 },
		{ max_inflight: 7 }, { name: 'seven' }, { validate: true }];
	const rs = await Promise.all(patches.map((p) =>
	    s.api('PATCH', `/api/v1/subscriptions/${a.id}`, p)));
	assert.deepEqual(rs.map((r) => r.status), patches.map(() => 200));
	const g = (await s.api('GET', `/api/v1/subscriptions/${a.id}`)).json;
	const lost = patches.filter((p) => {
		const [k, v] = Object.entries(p)[0];
		return g[k] !== v;
	});
	assert.deepEqual(lost, [], 'every PATCH answered 200 and must show');
	/* two PATCHes valid alone but not together: the second is refused */
	const b = await create({ sink: hook(), state: 'disabled' });
	const [bin, batch] = await Promise.all([
		s.api('PATCH', `/api/v1/subscriptions/${b.id}`, { content_mode: 'binary' }),
		s.api('PATCH', `/api/v1/subscriptions/${b.id}`, { batch_size: 5 }),
	]);
	assert.deepEqual([bin.status, batch.status].sort(), [200, 400],
	    `${bin.text} ${batch.text}`);
	const bad = bin.status === 400 ? bin : batch;
	assertProblem(bad, 400, 'batch_size');
	const after = (await s.api('GET', `/api/v1/subscriptions/${b.id}`)).json;
	assert.ok(!(after.content_mode === 'binary' && after.batch_size > 1),
	    'the stored subscription is valid');
});

test('concurrent topic PATCHes of description and publish_token both take effect', async () => {
	await s.createTopic('racy');
	const lost = [];
	for (let i = 0; i < 5; i++) {
		const [d, p] = await Promise.all([
			s.api('PATCH', '/api/v1/topics/racy', { description: `d${i}` }),
			s.api('PATCH', '/api/v1/topics/racy',
			    { publish_token: i % 2 ? null : 'racy-token-0123456789' }),
		]);
		assert.equal(d.status, 200, d.text);
		assert.equal(p.status, 200, p.text);
		const g = (await s.api('GET', '/api/v1/topics/racy')).json;
		if (g.description !== `d${i}` || g.publish_token_set !== (i % 2 === 0))
			lost.push(i);
	}
	assert.deepEqual(lost, []);
});

test('creating a subscription while its topic is deleted: 400 naming topic, or the delete is refused', async () => {
	for (let i = 0; i < 5; i++) {
		await s.createTopic(`brief${i}`);
		const [del, cre] = await Promise.all([
			s.api('DELETE', `/api/v1/topics/brief${i}`),
			s.api('POST', '/api/v1/subscriptions',
			    { topic: `brief${i}`, sink: hook(), state: 'disabled' }),
		]);
		if (del.status === 204)
			assertProblem(cre, 400, 'topic');
		else {
			assertProblem(del, 409);
			assert.equal(cre.status, 201, cre.text);
		}
	}
	/* concurrent creates to one endpoint: each its own subscription */
	const url = hook();
	const rs = await Promise.all(Array.from({ length: 8 }, () =>
	    s.api('POST', '/api/v1/subscriptions', { sink: url, state: 'disabled' })));
	assert.deepEqual(rs.map((r) => r.status), Array(8).fill(201));
	assert.equal(new Set(rs.map((r) => r.json.id)).size, 8, 'eight ids');
});

test('a deleted subscription\'s id is never given to a new one', async (t) => {
	const own = await start({ t });
	const a = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: 'http://127.0.0.1:9/a', state: 'disabled' })).json;
	assert.equal((await own.api('DELETE', `/api/v1/subscriptions/${a.id}`)).status, 204);
	const b = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: 'http://127.0.0.1:9/b', state: 'disabled' })).json;
	/* a client repeating its DELETE of a would delete b */
	assert.notEqual(b.id, a.id, 'ids are not reused');
	await own.restart();
	assert.equal((await own.api('DELETE', `/api/v1/subscriptions/${b.id}`)).status, 204);
	const c = (await own.api('POST', '/api/v1/subscriptions',
	    { sink: 'http://127.0.0.1:9/c', state: 'disabled' })).json;
	assert.ok(c.id > b.id, 'not after a restart either');
	await own.stop();
});

test('the shared server stops cleanly (exit 0)', async () => {
	assert.equal((await s.stop()).code, 0);
});
