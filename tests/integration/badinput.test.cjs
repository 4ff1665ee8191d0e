'use strict';
/*
 * badinput.test.cjs: bad admin input is a 400 problem naming the field and
 * changes nothing: a body field of one queue action sent to another
 * (purge {"duration_ms"} used to purge the whole backlog), retry with a state other than dead, sink
 * URLs libcurl cannot send to (bad ports, an unclosed IPv6 bracket),
 * header values with DEL, subscription names counted in characters (not
 * bytes), and topic descriptions with control characters.  Each case
 * reads the resource before and after to show that nothing changed.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, assertProblem } = require('../lib/sluice.cjs');

let s;

test.before(async () => {
	s = await start();
});

test.after(async () => {
	if (s)
		await s.cleanup();
});

async function createSub(body) {
	const r = await s.api('POST', '/api/v1/subscriptions', body);
	assert.equal(r.status, 201, `create ${JSON.stringify(body)}: ${r.text}`);
	return r.json;
}

async function getSub(id) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

/* The message ids of a queue by state. */
async function queueByState(id) {
	const r = await s.api('GET',
	    `/api/v1/subscriptions/${id}/messages?limit=1000`);
	assert.equal(r.status, 200, r.text);
	const out = {};
	for (const m of r.json.items)
		(out[m.state] = out[m.state] || []).push(m.msg);
	return out;
}

/* What an operator sees of a subscription and its queue. */
async function snapshot(id) {
	const sub = await getSub(id);
	delete sub.status.last_error_at;
	return { sub, queue: await queueByState(id) };
}

async function sysevents(operation) {
	const r = await s.api('GET',
	    `/api/v1/sysevents?operation=${operation}&limit=1000`);
	assert.equal(r.status, 200, r.text);
	return r.json.items.length;
}

/*
 * A pull subscription (max_attempts 1) on its own topic with 1 delivered
 * (acked), 1 dead (nacked) and 2 pending messages.
 */
async function queueOfEveryKind(topic) {
	await s.createTopic(topic);
	const sub = await createSub({ topic, delivery_method: 'pull',
		max_attempts: 1 });
	const evs = [];
	for (let i = 0; i < 4; i++)
		evs.push({ id: `${topic}${i}`, source: '/b', type: 't' });
	const r = await s.publishBatch(evs, { topic });
	assert.equal(r.status, 202, r.text);
	for (const what of ['ack', 'nack']) {
		const p = await s.api('POST', `/api/v1/subscriptions/${sub.id}/pull`,
		    { max: 1, lease_ms: 600000 });
		assert.equal(p.status, 200, p.text);
		const d = await s.api('POST', `/api/v1/subscriptions/${sub.id}/${what}`,
		    { receipts: p.json.items.map((i) => i.receipt) });
		assert.equal(d.status, 200, d.text);
	}
	const got = await getSub(sub.id);
	assert.deepEqual(got.status.queue,
	    { pending: 2, inflight: 0, delivered: 1, dead: 1 }, 'setup');
	return sub;
}

test('each queue action takes only its own fields; another action\'s field is 400 "unknown field" naming it, and nothing changes', async () => {
	const sub = await queueOfEveryKind('f3');
	const path = `/api/v1/subscriptions/${sub.id}`;
	const before = await snapshot(sub.id);
	const events = {};
	for (const op of ['pause', 'resume', 'retry', 'purge'])
		events[op] = await sysevents(`subscription.${op}`);
	const bad = [
		['purge', { duration_ms: 'oops' }, 'duration_ms'],
		['purge', { duration_ms: 60000 }, 'duration_ms'],
		['purge', { state: 'dead', duration_ms: 60000 }, 'duration_ms'],
		['retry', { duration_ms: -1 }, 'duration_ms'],
		['retry', { duration_ms: 60000 }, 'duration_ms'],
		['pause', { state: 'nope' }, 'state'],
		['pause', { state: 'dead' }, 'state'],
		['pause', { msgs: 'x' }, 'msgs'],
		['pause', { duration_ms: 60000, msgs: [] }, 'msgs'],
		['resume', { duration_ms: 60000 }, 'duration_ms'],
		['resume', { state: 'dead' }, 'state'],
		['resume', { msgs: before.queue.dead }, 'msgs'],
		['pause', { bogus: 1 }, 'bogus'],
		['resume', { bogus: 1 }, 'bogus'],
		['retry', { bogus: 1 }, 'bogus'],
		['purge', { bogus: 1 }, 'bogus'],
	];
	for (const [op, body, field] of bad) {
		const r = await s.api('POST', `${path}/${op}`, body);
		const p = assertProblem(r, 400, field);
		const e = p.errors.find((x) => x.field === field);
		assert.match(e.reason || p.detail, /unknown field/,
		    `${op} ${JSON.stringify(body)}: ${r.text}`);
		assert.deepEqual(await snapshot(sub.id), before,
		    `${op} ${JSON.stringify(body)} changed the subscription`);
	}
	assert.equal(before.sub.status.paused_until, null);
	for (const op of Object.keys(events))
		assert.equal(await sysevents(`subscription.${op}`), events[op],
		    `no subscription.${op} system event for a refused request`);

	/* the fields each action does take still work */
	let r = await s.api('POST', `${path}/pause`, { duration_ms: 60000 });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.status.pause_reason, 'manual');
	assert.notEqual(r.json.status.paused_until, null);
	r = await s.api('POST', `${path}/resume`, {});
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.status.paused_until, null);
	r = await s.api('POST', `${path}/purge`, { msgs: before.queue.dead });
	assert.deepEqual(r.json, { affected: 1 }, r.text);
	assert.deepEqual((await getSub(sub.id)).status.queue,
	    { pending: 2, inflight: 0, delivered: 1, dead: 0 });
});

test('retry takes dead messages only: {"state":"pending"|"delivered"|"inflight"} is 400 naming state, {"state":"dead"} retries', async () => {
	const sub = await queueOfEveryKind('f3retry');
	const path = `/api/v1/subscriptions/${sub.id}/retry`;
	const before = await snapshot(sub.id);
	const events = await sysevents('subscription.retry');
	for (const state of ['pending', 'delivered', 'inflight', 'nope', 5]) {
		const r = await s.api('POST', path, { state });
		const p = assertProblem(r, 400, 'state');
		assert.match(p.detail, /retry takes dead messages/, r.text);
		assert.deepEqual(await snapshot(sub.id), before,
		    `retry ${JSON.stringify(state)} changed the queue`);
	}
	assert.equal(await sysevents('subscription.retry'), events);
	const r = await s.api('POST', path, { state: 'dead' });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { affected: 1 });
	assert.deepEqual((await getSub(sub.id)).status.queue,
	    { pending: 3, inflight: 0, delivered: 1, dead: 0 });
	const after = await queueByState(sub.id);
	assert.ok(after.pending.includes(before.queue.dead[0]),
	    'the dead message is pending again');
	assert.deepEqual(after.delivered, before.queue.delivered,
	    'the delivered message stays delivered');
});

const BAD_SINKS = [
	['http://a:abc/', /port/],
	['http://a:99999/', /port/],
	['http://a:65536/', /port/],
	['http://a:-1/', /port/],
	['http://a:0/', /port/],
	['http://a:0000/x', /port/],
	['http://a:+80/', /port/],
	['http://a:1:2/', /port/],
	['http://a:80x/', /port/],
	['http://[::1/', /IPv6|libcurl/],
	['https://[::1/x', /IPv6|libcurl/],
	['http://[::1]x/', /port|libcurl/],
];

test('sink URLs libcurl cannot send to (bad ports, an unclosed IPv6 bracket) are 400 naming sink on create; nothing is created', async () => {
	await s.createTopic('f5');
	const list = async () => (await s.api('GET',
	    '/api/v1/subscriptions?topic=f5')).json.items;
	for (const [sink, why] of BAD_SINKS) {
		const r = await s.api('POST', '/api/v1/subscriptions',
		    { topic: 'f5', sink, max_attempts: 2 });
		const p = assertProblem(r, 400, 'sink');
		assert.match(p.detail, why, `${sink}: ${r.text}`);
		assert.deepEqual(await list(), [], `${sink} created a subscription`);
	}
	/* the edges of the port range, IPv6 literals and plain URLs are fine */
	for (const sink of ['http://a:1/', 'http://a:65535/x', 'http://a:080/',
	    'http://[::1]:8080/h', 'https://[::1]/', 'HTTP://Example.COM/x?y=1',
	    'http://u:p@127.0.0.1:9/h#f']) {
		const c = await createSub({ topic: 'f5', sink });
		assert.equal(c.sink, sink);
	}
});

test('PATCHing a sink to a URL libcurl cannot send to is 400 naming sink; sink, name and queue stay as they were', async () => {
	const sub = await createSub({ sink: 'http://127.0.0.1:9/hook',
		http_method: 'PUT' });
	const before = await snapshot(sub.id);
	for (const [sink, why] of BAD_SINKS) {
		const r = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
		    { sink });
		const p = assertProblem(r, 400, 'sink');
		assert.match(p.detail, why, `${sink}: ${r.text}`);
		const now = await snapshot(sub.id);
		assert.equal(now.sub.sink, 'http://127.0.0.1:9/hook');
		assert.equal(now.sub.name, 'PUT http://127.0.0.1:9/hook');
		assert.deepEqual(now, before, `PATCH ${sink} changed it`);
	}
});

test('a headers value (or name) with DEL is 400 naming headers.<name>, like other control characters; nothing changes', async () => {
	const sub = await createSub({ sink: 'http://127.0.0.1:9/h',
		headers: { 'X-Keep': 'yes' } });
	const before = await snapshot(sub.id);
	const cases = [
		[{ 'X-A': 'a\x7fb' }, 'headers.X-A'],
		[{ 'X-A': '\x7f' }, 'headers.X-A'],
		[{ 'X-A': 'a\x01b' }, 'headers.X-A'],
		[{ 'X\x7fA': 'v' }, 'headers.X\x7fA'],
	];
	for (const [headers, field] of cases) {
		const c = await s.api('POST', '/api/v1/subscriptions',
		    { sink: 'http://127.0.0.1:9/new', headers });
		assertProblem(c, 400, field);
		const p = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
		    { headers });
		assertProblem(p, 400, field);
		assert.deepEqual(await snapshot(sub.id), before,
		    `${JSON.stringify(headers)} changed it`);
	}
	const all = (await s.api('GET', '/api/v1/subscriptions?limit=1000')).json;
	assert.ok(!all.items.some((x) => x.sink === 'http://127.0.0.1:9/new'),
	    'no subscription was created');
	/* a tab and non-ASCII text are field content RFC 9110 allows */
	const ok = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
	    { headers: { 'X-A': 'a\tb', 'X-B': 'caf\u00e9' } });
	assert.equal(ok.status, 200, ok.text);
	assert.deepEqual(ok.json.headers, { 'X-A': 'a\tb', 'X-B': 'caf\u00e9' });
});

test('a subscription name is 1 to 200 characters counted as code points, not bytes', async () => {
	const sub = await createSub({ sink: 'http://127.0.0.1:9/n',
		name: 'first' });
	for (const name of ['\u00e9'.repeat(200), '\u{1F600}'.repeat(200),
	    'a'.repeat(199) + '\u20ac']) {
		const c = await createSub({ sink: 'http://127.0.0.1:9/n', name });
		assert.equal(c.name, name);
		const p = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
		    { name });
		assert.equal(p.status, 200, p.text);
		assert.equal((await getSub(sub.id)).name, name);
	}
	const before = await snapshot(sub.id);
	for (const name of ['\u00e9'.repeat(201), '\u{1F600}'.repeat(201),
	    'x'.repeat(201), '']) {
		const c = await s.api('POST', '/api/v1/subscriptions',
		    { sink: 'http://127.0.0.1:9/too-long', name });
		const pc = assertProblem(c, 400, 'name');
		assert.match(pc.detail, /1 to 200 characters/);
		const p = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
		    { name });
		assertProblem(p, 400, 'name');
		assert.deepEqual(await snapshot(sub.id), before);
	}
	const all = (await s.api('GET', '/api/v1/subscriptions?limit=1000')).json;
	assert.ok(!all.items.some((x) => x.sink === 'http://127.0.0.1:9/too-long'));
});

test('a topic description with control characters is 400 naming description on create and PATCH; nothing changes', async () => {
	const t = await s.createTopic('f10d', { description: 'kept' });
	const bad = ['a\u0001', 'line\nbreak', 'a\tb', 'del\x7f',
		'c1\u0085', '\u001b[31mred'];
	for (const description of bad) {
		const c = await s.api('POST', '/api/v1/topics',
		    { name: 'f10new', description });
		assertProblem(c, 400, 'description');
		assert.equal((await s.api('GET', '/api/v1/topics/f10new')).status,
		    404, `${JSON.stringify(description)} created the topic`);
		const p = await s.api('PATCH', '/api/v1/topics/f10d',
		    { description });
		assertProblem(p, 400, 'description');
		const g = await s.api('GET', '/api/v1/topics/f10d');
		assert.deepEqual(g.json, t, `${JSON.stringify(description)} ` +
		    'changed the topic');
	}
	const ok = await s.api('PATCH', '/api/v1/topics/f10d',
	    { description: 'Caf\u00e9 orders \u2615 (EU)' });
	assert.equal(ok.status, 200, ok.text);
	assert.equal(ok.json.description, 'Caf\u00e9 orders \u2615 (EU)');
});
