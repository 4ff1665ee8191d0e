'use strict';
/*
 * sysevents.test.cjs: sluice's record of its own operations.  Every
 * create, update and delete of topics and subscriptions, and every pause,
 * resume, purge and retry, is listed by GET /api/v1/sysevents (filtered by
 * operation, newest first, paged by cursor) and published into the
 * reserved topic $sys as a CloudEvent, which a subscription on $sys
 * receives at its sink like any other event.  $sys cannot be published to
 * from outside.  GET /api/v1/eventtypes lists each (topic, type, source)
 * seen, with counts and an example message that resolves (the latest).
 * A subscription's outage is a system pause and, at its end, a system
 * resume.  The list filters by operation, entity, entity_id and actor;
 * retention removes old system events.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, assertProblem, sleep } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const NODE = 'node-7.test';
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

async function ok(r, status, what) {
	assert.equal(r.status, status, `${what}: ${r.text}`);
	return r.json;
}

/* Every system event (newest first), following the cursor. */
async function allSysevents(s, query = {}, limit = 1000) {
	const out = [];
	let cursor = null;
	for (let pages = 0; pages < 1000; pages++) {
		const q = new URLSearchParams(Object.assign({}, query,
		    { limit: String(limit) }));
		if (cursor)
			q.set('cursor', cursor);
		const r = await s.api('GET', `/api/v1/sysevents?${q}`);
		assert.equal(r.status, 200, r.text);
		out.push(...r.json.items);
		cursor = r.json.next_cursor;
		if (cursor === null)
			return out;
	}
	throw new Error('the sysevents list does not end');
}

/* Performs every operation once; returns what each should record. */
async function everyOperation(s, sink) {
	const expect = [];
	await ok(await s.api('POST', '/api/v1/topics', { name: 'audit' }), 201,
	    'topic create');
	expect.push(['topic.create', 'topic', 'audit']);
	await ok(await s.api('PATCH', '/api/v1/topics/audit',
	    { description: 'changed' }), 200, 'topic update');
	expect.push(['topic.update', 'topic', 'audit']);
	const sub = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'audit', sink: `${sink.url}/audited`, name: 'audited',
		    state: 'pub_only' }), 201, 'subscription create');
	const id = String(sub.id);
	expect.push(['subscription.create', 'subscription', id]);
	await ok(await s.api('PATCH', `/api/v1/subscriptions/${id}`,
	    { batch_size: 5, max_attempts: 2 }), 200, 'subscription update');
	expect.push(['subscription.update', 'subscription', id]);
	const p = await s.publishStructured({ id: 'a1', source: '/s', type: 't' },
	    { topic: 'audit' });
	assert.equal(p.status, 202, p.text);
	await ok(await s.api('POST', `/api/v1/subscriptions/${id}/pause`), 200, 'pause');
	expect.push(['subscription.pause', 'subscription', id]);
	await ok(await s.api('POST', `/api/v1/subscriptions/${id}/resume`), 200, 'resume');
	expect.push(['subscription.resume', 'subscription', id]);
	await ok(await s.api('POST', `/api/v1/subscriptions/${id}/retry`,
	    { state: 'dead' }), 200, 'retry');
	expect.push(['subscription.retry', 'subscription', id]);
	await ok(await s.api('POST', `/api/v1/subscriptions/${id}/purge`,
	    { state: 'pending' }), 200, 'purge');
	expect.push(['subscription.purge', 'subscription', id]);
	const r = await s.api('DELETE', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 204, r.text);
	expect.push(['subscription.delete', 'subscription', id]);
	const t = await s.api('DELETE', '/api/v1/topics/audit');
	assert.equal(t.status, 204, t.text);
	expect.push(['topic.delete', 'topic', 'audit']);
	return { expect, subId: id };
}

test('every operation appears in GET /api/v1/sysevents and reaches a $sys subscription as a CloudEvent', async (t) => {
	const s = await start({ t, args: ['--node', NODE, '--stats-interval', '0'] });
	const sink = await startSink({ t });
	const sys = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: '$sys', sink: `${sink.url}/sys`, name: 'ops' }), 201,
	'a subscription on $sys');
	assert.equal(sys.topic, '$sys');
	const t0 = new Date().toISOString();
	const { expect, subId } = await everyOperation(s, sink);

	/* the list: newest first, each with entity, id, actor, time, metadata */
	const items = (await allSysevents(s)).filter((e) =>
	    !e.operation.startsWith('server.'));
	const ops = items.map((e) => [e.operation, e.entity, e.entity_id]);
	assert.deepEqual(ops.slice(0, expect.length), [...expect].reverse(),
	    'each operation once, newest first');
	for (const e of items) {
		assert.ok(Number.isInteger(e.id), JSON.stringify(e));
		assert.match(e.time, TIME);
		assert.equal(typeof e.actor, 'string');
		assert.ok(e.actor.length > 0);
		assert.equal(typeof e.metadata, 'object');
		assert.notEqual(e.metadata, null, JSON.stringify(e));
		assert.equal(e.operation.split('.')[0], e.entity);
	}
	for (let i = 1; i < items.length; i++) {
		assert.ok(items[i - 1].id > items[i].id, 'ids descend');
		assert.ok(items[i - 1].time >= items[i].time, 'times descend');
	}
	assert.ok(items[0].time >= t0.slice(0, 19));
	const byOp = {};
	for (const e of items)
		if (!(e.operation in byOp))
			byOp[e.operation] = e;	/* the newest of each */
	assert.equal(byOp['subscription.create'].metadata.topic, 'audit');
	assert.equal(byOp['subscription.create'].metadata.name, 'audited');
	assert.match(JSON.stringify(byOp['subscription.update'].metadata),
	    /batch_size/, 'an update names the fields it changed');
	assert.equal(byOp['subscription.purge'].metadata.affected, 1);
	assert.equal(byOp['subscription.retry'].metadata.affected, 0);

	/* the $sys subscription received each as a CloudEvent */
	const isOp = (r) => !JSON.parse(r.text).type.startsWith('io.sluice.server.');
	for (let i = 0; i < 300 && sink.requests.filter(isOp).length <
	    expect.length; i++)
		await sleep(50);
	const reqs = sink.requests.filter(isOp);
	assert.ok(reqs.every((r) => r.url === '/sys'));
	const evs = reqs.map((r) => {
		assert.match(r.headers['content-type'], /^application\/cloudevents\+json/);
		return JSON.parse(r.text);
	});
	const types = evs.map((e) => e.type).filter((x) => !x.startsWith('io.sluice.server.'));
	assert.deepEqual(types, expect.map(([op]) => `io.sluice.${op}`),
	    'one CloudEvent per operation, in order');
	for (const e of evs) {
		assert.equal(e.specversion, '1.0');
		assert.equal(e.source, `/sluice/${NODE}`);
		assert.equal(typeof e.id, 'string');
		assert.match(e.time, /^\d{4}-/);
		assert.equal(typeof e.data, 'object', JSON.stringify(e));
	}
	const pause = evs.find((e) => e.type === 'io.sluice.subscription.pause');
	assert.equal(pause.subject, subId);
	assert.equal(pause.data.entity, 'subscription');
	assert.equal(pause.data.entity_id, subId);
	assert.equal(pause.data.operation, 'subscription.pause');
	assert.equal(typeof pause.data.actor, 'string');
	assert.equal(new Set(evs.map((e) => e.id)).size, evs.length, 'ids are unique');
	/* the same events are stored in $sys and listed by the events API */
	const stored = await s.allEvents({ topic: '$sys' });
	for (const e of evs)
		assert.ok(stored.some((x) => x.event && x.event.id === e.id ||
		    x.id === e.id || JSON.stringify(x).includes(`"${e.id}"`)),
		`${e.id} is stored in $sys`);
	await s.stop();
});

test('sysevents: ?operation= filters; pages newest first with a cursor, no gaps or repeats', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	for (let i = 0; i < 12; i++)
		await ok(await s.api('POST', '/api/v1/topics', { name: `t${i}` }), 201, 'create');
	for (let i = 0; i < 5; i++)
		await ok(await s.api('PATCH', `/api/v1/topics/t${i}`, { description: 'x' }),
		    200, 'update');
	let r = await s.api('GET', '/api/v1/sysevents?operation=topic.update');
	assert.equal(r.status, 200);
	assert.equal(r.json.items.length, 5);
	assert.ok(r.json.items.every((e) => e.operation === 'topic.update'));
	assert.deepEqual(r.json.items.map((e) => e.entity_id),
	    ['t4', 't3', 't2', 't1', 't0']);
	assert.equal(r.json.next_cursor, null);
	r = await s.api('GET', '/api/v1/sysevents?operation=subscription.delete');
	assert.deepEqual(r.json, { items: [], next_cursor: null });
	/* paging: 12 creates by 5 */
	const all = (await s.api('GET', '/api/v1/sysevents?operation=topic.create&limit=1000'))
	    .json.items;
	assert.equal(all.length, 12);
	const seen = [];
	let cursor = null, pages = 0;
	do {
		const q = `operation=topic.create&limit=5${cursor ? `&cursor=${cursor}` : ''}`;
		r = await s.api('GET', `/api/v1/sysevents?${q}`);
		assert.equal(r.status, 200, r.text);
		seen.push(...r.json.items);
		cursor = r.json.next_cursor;
		pages++;
	} while (cursor !== null && pages < 20);
	assert.equal(pages, 3);
	assert.deepEqual(seen, all);
	assert.deepEqual(seen.map((e) => e.entity_id),
	    Array.from({ length: 12 }, (_, i) => `t${11 - i}`));
	/* an exactly full last page says null */
	r = await s.api('GET', '/api/v1/sysevents?operation=topic.create&limit=12');
	assert.equal(r.json.items.length, 12);
	assert.equal(r.json.next_cursor, null);
	r = await s.api('GET', '/api/v1/sysevents?operation=topic.create&limit=6');
	r = await s.api('GET', '/api/v1/sysevents?operation=topic.create&limit=6' +
	    `&cursor=${r.json.next_cursor}`);
	assert.deepEqual(r.json.items, all.slice(6));
	assert.equal(r.json.next_cursor, null);
	/* empty parameters are absent */
	const plain = (await s.api('GET', '/api/v1/sysevents')).json;
	for (const q of ['operation=&limit=&cursor=', 'operation=', 'limit=',
	    'cursor=']) {
		r = await s.api('GET', `/api/v1/sysevents?${q}`);
		assert.equal(r.status, 200, `?${q}: ${r.text}`);
		assert.deepEqual(r.json, plain, `?${q}`);
	}
	r = await s.api('GET',
	    '/api/v1/sysevents?operation=topic.update&limit=&cursor=');
	assert.equal(r.json.items.length, 5, 'a real operation still filters');
	/* a page boundary is stable while new events arrive */
	const p1 = (await s.api('GET', '/api/v1/sysevents?operation=topic.create&limit=5')).json;
	await ok(await s.api('POST', '/api/v1/topics', { name: 'later' }), 201, 'create');
	const p2 = (await s.api('GET',
	    `/api/v1/sysevents?operation=topic.create&limit=5&cursor=${p1.next_cursor}`)).json;
	assert.deepEqual(p2.items, all.slice(5, 10));
	assertProblem(await s.api('GET', '/api/v1/sysevents?cursor=abc'), 400, 'cursor');
	assertProblem(await s.api('GET', '/api/v1/sysevents?limit=0'), 400, 'limit');
	await s.stop();
});

test('server start and stop are recorded', async (t) => {
	const s = await start({ t, args: ['--node', NODE, '--stats-interval', '0'] });
	/* server.start is written just after sluiced says it is listening */
	const servers = async (n) => {
		let ops = [];
		for (let i = 0; i < 100; i++) {
			ops = (await allSysevents(s)).map((e) => e.operation)
			    .filter((o) => o.startsWith('server.'));
			if (ops.length >= n)
				break;
			await sleep(20);
		}
		return ops;
	};
	assert.deepEqual(await servers(1), ['server.start']);
	await s.restart();
	assert.deepEqual(await servers(3),
	    ['server.start', 'server.stop', 'server.start'], 'newest first');
	const stops = await allSysevents(s, { operation: 'server.stop' });
	assert.equal(stops.length, 1);
	assert.equal(stops[0].entity, 'server');
	assert.equal(stops[0].metadata.signal, 'SIGTERM');
	await s.stop();
});

test('$sys is reserved: no publishing from outside, no creating, no deleting', async (t) => {
	const s = await start({ t });
	for (const topic of ['$sys']) {
		let r = await s.publishStructured({ id: 'x', source: '/evil', type: 'io.sluice.topic.delete' },
		    { topic });
		assert.ok(r.status === 403 || r.status === 404, `${r.status} ${r.text}`);
		assertProblem(r, r.status);
		r = await s.api('POST', '/topics/%24sys/events',
		    JSON.stringify({ specversion: '1.0', id: 'y', source: '/e', type: 't' }),
		    { headers: { 'content-type': 'application/cloudevents+json' } });
		assert.ok(r.status === 403 || r.status === 404, `${r.status} ${r.text}`);
		r = await s.publishBinary({ id: 'z', source: '/e', type: 't' }, 'x',
		    { topic, contentType: 'text/plain' });
		assert.ok(r.status === 403 || r.status === 404, `${r.status} ${r.text}`);
		r = await s.publishBatch([{ id: 'w', source: '/e', type: 't' }], { topic });
		assert.ok(r.status === 403 || r.status === 404, `${r.status} ${r.text}`);
	}
	const stored = await s.allEvents({ topic: '$sys' });
	assert.ok(!stored.some((e) => JSON.stringify(e).includes('/evil') ||
	    JSON.stringify(e).includes('"/e"')), 'nothing from outside got into $sys');
	let r = await s.api('POST', '/api/v1/topics', { name: '$sys' });
	assert.ok(r.status === 400 || r.status === 409, r.text);
	r = await s.api('POST', '/api/v1/topics', { name: '$other' });
	assertProblem(r, 400, 'name');
	r = await s.api('DELETE', '/api/v1/topics/$sys');
	assertProblem(r, 409);
	r = await s.api('GET', '/api/v1/topics/$sys');
	assert.equal(r.status, 200, r.text);
	await s.stop();
});

test('a filter on a $sys subscription picks operations by type', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t });
	await ok(await s.api('POST', '/api/v1/subscriptions', { topic: '$sys',
		sink: `${sink.url}/topics`, filters: [{ prefix: { type: 'io.sluice.topic.' } }] }),
	201, 'filtered $sys subscription');
	await ok(await s.api('POST', '/api/v1/topics', { name: 'one' }), 201, 'create');
	const sub = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'one', delivery_method: 'pull' }), 201, 'sub');
	await ok(await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`, { batch_size: 2 }),
	    200, 'update');
	await ok(await s.api('DELETE', '/api/v1/topics/one?force=true'), 204, 'delete');
	const reqs = await sink.waitFor(2);
	assert.ok(await sink.quiet(500));
	assert.deepEqual(sink.requests.map((r) => JSON.parse(r.text).type),
	    ['io.sluice.topic.create', 'io.sluice.topic.delete'], reqs.length);
	await s.stop();
});

test('GET /api/v1/eventtypes: each (topic, type, source) with count, first and last seen, and an example that resolves', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	await s.createTopic('shop');
	const pub = async (ev, topic) => {
		const r = await s.publishStructured(ev, { topic });
		assert.equal(r.status, 202, r.text);
		return r.json;
	};
	const first = await pub({ id: '1', source: '/a', type: 'order.created' });
	await sleep(5);
	await pub({ id: '2', source: '/a', type: 'order.created' });
	const third = await pub({ id: '3', source: '/a', type: 'order.created' });
	await pub({ id: '4', source: '/a', type: 'order.deleted' });
	await pub({ id: '5', source: '/b', type: 'order.created' });
	await pub({ id: '6', source: '/a', type: 'order.created' }, 'shop');
	/* a batch counts each event; a duplicate counts nothing */
	let r = await s.publishBatch([{ id: '7', source: '/b', type: 'order.created' },
		{ id: '8', source: '/b', type: 'order.created' }]);
	assert.equal(r.status, 202, r.text);
	r = await s.publishStructured({ id: '1', source: '/a', type: 'order.created' });
	assert.equal(r.status, 202, r.text);
	assert.equal(r.json.duplicates.length, 1);
	r = await s.api('GET', '/api/v1/eventtypes?limit=1000');
	assert.equal(r.status, 200, r.text);
	const items = r.json.items.filter((x) => x.topic !== '$sys');
	const key = (x) => `${x.topic} ${x.type} ${x.source}`;
	const counts = Object.fromEntries(items.map((x) => [key(x), x.count]));
	assert.deepEqual(counts, {
		'default order.created /a': 3,
		'default order.deleted /a': 1,
		'default order.created /b': 3,
		'shop order.created /a': 1,
	});
	for (const x of items) {
		assert.match(x.first_seen, TIME);
		assert.match(x.last_seen, TIME);
		assert.ok(x.first_seen <= x.last_seen, JSON.stringify(x));
		const ev = await s.event(x.example_msg);
		assert.equal(ev.topic, x.topic, 'the example is of its topic');
		assert.equal(ev.event.type, x.type);
		assert.equal(ev.event.source, x.source);
	}
	const a = items.find((x) => key(x) === 'default order.created /a');
	assert.ok(a.first_seen < a.last_seen, 'first and last differ over time');
	assert.equal(a.first_seen, (await s.event(first.accepted[0].msg)).received_at);
	/* the example is the latest seen: the last one retention removes */
	assert.equal(a.example_msg, third.accepted[0].msg);
	/* $sys types are there too */
	assert.ok(r.json.items.some((x) => x.topic === '$sys' &&
	    x.type === 'io.sluice.topic.create'), r.text);
	/* ?topic= */
	r = await s.api('GET', '/api/v1/eventtypes?topic=shop');
	assert.deepEqual(r.json.items.map(key), ['shop order.created /a']);
	assertProblem(await s.api('GET', '/api/v1/eventtypes?topic=nosuch'), 404);
	r = await s.api('GET', '/api/v1/eventtypes?topic=&limit=1000');
	assert.equal(r.json.items.length, (await s.api('GET',
	    '/api/v1/eventtypes?limit=1000')).json.items.length, 'empty ?topic= is all');
	const plain = (await s.api('GET', '/api/v1/eventtypes')).json;
	for (const q of ['topic=&limit=&cursor=', 'limit=', 'cursor=']) {
		r = await s.api('GET', `/api/v1/eventtypes?${q}`);
		assert.equal(r.status, 200, `?${q}: ${r.text}`);
		assert.deepEqual(r.json, plain, `?${q}`);
	}
	/* paging: each page size sees every type once; no empty last page */
	const all = (await s.api('GET', '/api/v1/eventtypes?topic=default&limit=1000')).json.items;
	assert.equal(all.length, 3);
	for (let limit = 1; limit <= 4; limit++) {
		const seen = [];
		let cursor = null, pages = 0;
		do {
			r = await s.api('GET', `/api/v1/eventtypes?topic=default&limit=${limit}` +
			    `&cursor=${cursor ?? ''}`);
			assert.equal(r.status, 200, r.text);
			assert.ok(r.json.items.length > 0, `limit ${limit}: page ` +
			    `${pages + 1} is empty`);
			seen.push(...r.json.items);
			cursor = r.json.next_cursor;
			pages++;
		} while (cursor !== null && pages < 10);
		assert.deepEqual(seen, all, `limit ${limit}`);
		assert.equal(pages, Math.ceil(3 / limit), `limit ${limit}`);
	}
	await s.stop();
});

test('a dead-lettered delivery and a 410 Gone are system events too', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t, answer: { status: 500 } });
	const sysSink = await startSink({ t });
	await ok(await s.api('POST', '/api/v1/subscriptions', { topic: '$sys',
		sink: `${sysSink.url}/sys`, filters: [{ any: [
			{ exact: { type: 'io.sluice.delivery.dead' } },
			{ exact: { type: 'io.sluice.subscription.gone' } }] }] }), 201, '$sys');
	const dead = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { sink: `${sink.url}/dead`, max_attempts: 1, app_error_pause_ms: 10,
		    filters: [{ exact: { type: 'to.dead' } }] }), 201, 'sub');
	const r = await s.publishStructured({ id: 'd1', source: '/s', type: 'to.dead' });
	assert.equal(r.status, 202, r.text);
	await sysSink.waitFor(1, 15000);
	let items = await allSysevents(s, { operation: 'delivery.dead' });
	assert.equal(items.length, 1, JSON.stringify(items));
	assert.equal(items[0].entity, 'delivery');
	assert.equal(typeof items[0].metadata, 'object');
	assert.match(JSON.stringify(items[0]), new RegExp(r.json.accepted[0].msg),
	    'names the message');
	assert.equal(JSON.parse(sysSink.requests[0].text).type, 'io.sluice.delivery.dead');
	/* 410 Gone disables the subscription and says so */
	sink.always({ status: 410 });
	const gone = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { sink: `${sink.url}/gone`, filters: [{ exact: { type: 'to.gone' } }] }),
	201, 'sub');
	await s.publishStructured({ id: 'g1', source: '/s', type: 'to.gone' });
	await sysSink.waitFor(2, 15000);
	items = await allSysevents(s, { operation: 'subscription.gone' });
	assert.equal(items.length, 1);
	assert.equal(items[0].entity_id, String(gone.id));
	const g = await s.api('GET', `/api/v1/subscriptions/${gone.id}`);
	assert.equal(g.json.state, 'disabled');
	assert.equal(JSON.parse(sysSink.requests[1].text).type,
	    'io.sluice.subscription.gone');
	assert.notEqual(dead.id, gone.id);
	await s.stop();
});

test('an outage is a system pause when its first failure pauses the subscription, and a system resume at its first success; the retries between record nothing', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t });
	sink.next({ status: 500 });
	sink.next({ status: 503 });
	sink.next({ close: true });
	const sub = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { sink: `${sink.url}/flaky`, app_error_pause_ms: 50,
		tcp_error_pause_ms: 50, max_attempts: 10 }), 201, 'sub');
	const r = await s.publishStructured({ id: 'o1', source: '/s', type: 't' });
	assert.equal(r.status, 202, r.text);
	await sink.waitFor(4, 15000);
	let resumed = [];
	for (let i = 0; i < 100 && resumed.length === 0; i++) {
		resumed = await allSysevents(s, { operation: 'subscription.resume',
			entity_id: String(sub.id) });
		if (resumed.length === 0)
			await sleep(50);
	}
	const paused = await allSysevents(s, { operation: 'subscription.pause',
		entity_id: String(sub.id) });
	assert.equal(paused.length, 1, `one pause for three failures in a row: ${
		JSON.stringify(paused)}`);
	assert.equal(paused[0].actor, 'system');
	assert.equal(paused[0].entity, 'subscription');
	assert.equal(paused[0].metadata.reason, 'app_error');
	assert.equal(paused[0].metadata.http_status, 500);
	assert.equal(paused[0].metadata.pause_ms, 50);
	assert.equal(resumed.length, 1, JSON.stringify(resumed));
	assert.equal(resumed[0].actor, 'system');
	assert.ok(resumed[0].id > paused[0].id, 'resume after pause');
	await s.stop();
});

test('sysevents: ?entity=, ?entity_id= and ?actor= filter too, alone and together', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	await s.createTopic('fa');
	const a = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'fa', delivery_method: 'pull' }), 201, 'a');
	const b = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'fa', delivery_method: 'pull' }), 201, 'b');
	await ok(await s.api('PATCH', `/api/v1/subscriptions/${a.id}`,
	    { name: 'renamed' }), 200, 'patch');
	const all = await allSysevents(s);
	const expect = (pred) => all.filter(pred).map((e) => e.id);
	const got = async (q) => (await allSysevents(s, q)).map((e) => e.id);
	assert.deepEqual(await got({ entity: 'topic' }),
	    expect((e) => e.entity === 'topic'));
	assert.deepEqual(await got({ entity: 'subscription', entity_id: String(a.id) }),
	    expect((e) => e.entity === 'subscription' && e.entity_id === String(a.id)));
	assert.equal((await got({ entity: 'subscription',
	    entity_id: String(a.id) })).length, 2, 'create and update of a');
	assert.deepEqual(await got({ entity_id: String(b.id) }),
	    expect((e) => e.entity_id === String(b.id)));
	assert.deepEqual(await got({ actor: 'system' }),
	    expect((e) => e.actor === 'system'));
	assert.ok((await got({ actor: 'system' })).length >= 1, 'server.start');
	assert.deepEqual(await got({ actor: 'anonymous', operation: 'subscription.update' }),
	    expect((e) => e.actor === 'anonymous' && e.operation === 'subscription.update'));
	assert.deepEqual(await got({ entity: 'nothing-like-this' }), []);
	await s.stop();
});

test('retention removes system events older than --retention too', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0', '--retention', '2s'] });
	await s.createTopic('old-one');
	const before = await allSysevents(s, { operation: 'topic.create' });
	assert.equal(before.length, 1);
	let left = before;
	const t0 = Date.now();
	while (left.length > 0 && Date.now() - t0 < 15000) {
		await sleep(250);
		left = await allSysevents(s, { operation: 'topic.create' });
	}
	assert.deepEqual(left, [], 'the old topic.create is gone');
	assert.ok(Date.now() - t0 >= 1500, 'not before --retention');
	await s.createTopic('new-one');
	assert.equal((await allSysevents(s, { operation: 'topic.create' })).length, 1,
	    'a new one is listed');
	await s.stop();
});

test('topic.update names the fields set; a manual pause names its end (null: until resumed)', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	await s.createTopic('meta');
	await ok(await s.api('PATCH', '/api/v1/topics/meta',
	    { description: 'd' }), 200, 'patch');
	const up = await allSysevents(s, { operation: 'topic.update' });
	assert.equal(up.length, 1);
	assert.equal(up[0].metadata.fields, 'description');
	const sub = await ok(await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'meta', delivery_method: 'pull' }), 201, 'sub');
	await ok(await s.api('POST', `/api/v1/subscriptions/${sub.id}/pause`,
	    { duration_ms: 60000 }), 200, 'pause');
	await ok(await s.api('POST', `/api/v1/subscriptions/${sub.id}/pause`),
	    200, 'pause');
	const p = await allSysevents(s, { operation: 'subscription.pause' });
	assert.equal(p.length, 2);
	assert.equal(p[0].metadata.paused_until, null, 'the newest: no end');
	assert.match(p[1].metadata.paused_until, TIME);
	assert.ok(Date.parse(p[1].metadata.paused_until) > Date.parse(p[1].time) +
	    50000, JSON.stringify(p[1]));
	await s.stop();
});
