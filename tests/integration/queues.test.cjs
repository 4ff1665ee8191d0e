'use strict';
/*
 * queues.test.cjs: what ingest puts into each subscription's queue and
 * what an operator sees and does with it, over real HTTP with real sinks.
 * Each state's effect (pub_and_sub, pub_only, sub_only, disabled), fan-out
 * to exactly the subscriptions whose filters match, cursor paging over
 * 1,000 queued messages, the prefix search (first 64 bytes only), message
 * detail with attempts and the clause that matched, and the actions pause,
 * resume, retry and purge.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, assertProblem, sleep, until } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

async function createSub(s, body) {
	const r = await s.api('POST', '/api/v1/subscriptions', body);
	assert.equal(r.status, 201, `create ${JSON.stringify(body)}: ${r.text}`);
	return r.json;
}

async function sub(s, id) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

/* Polls the queue counts until they equal want (or gives up, returning
 * the last ones so the assertion shows them). */
async function queueBecomes(s, id, want, ms = 10000) {
	const end = Date.now() + ms;
	let q;
	for (;;) {
		q = (await sub(s, id)).status.queue;
		const full = Object.assign({ pending: 0, inflight: 0, delivered: 0,
			dead: 0 }, want);
		if (JSON.stringify(q) === JSON.stringify(full) || Date.now() > end)
			return { got: q, want: full };
		await sleep(25);
	}
}

async function assertQueue(s, id, want, what) {
	const { got, want: full } = await queueBecomes(s, id, want);
	assert.deepEqual(got, full, what);
}

/* Every message of a queue (following the cursor), with a query. */
async function messages(s, id, query = {}, limit = 1000) {
	const out = [];
	let cursor = null;
	for (let pages = 0; pages < 10000; pages++) {
		const q = new URLSearchParams(Object.assign({}, query,
		    { limit: String(limit) }));
		if (cursor)
			q.set('cursor', cursor);
		const r = await s.api('GET', `/api/v1/subscriptions/${id}/messages?${q}`);
		assert.equal(r.status, 200, r.text);
		out.push(...r.json.items);
		cursor = r.json.next_cursor;
		if (cursor === null)
			return out;
	}
	throw new Error('the message list does not end');
}

async function publish(s, ev, options) {
	const r = await s.publishStructured(ev, options);
	assert.equal(r.status, 202, r.text);
	return r.json.accepted[0].msg;
}

/* The CloudEvents ids the sink received, in order. */
function ids(reqs) {
	return reqs.map((r) => JSON.parse(r.text).id);
}

test('states: pub_and_sub queues and delivers; pub_only queues and the sink gets nothing', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t });
	const both = await createSub(s, { sink: `${sink.url}/both` });
	const held = await createSub(s, { sink: `${sink.url}/held`, state: 'pub_only' });
	for (let i = 0; i < 4; i++)
		await publish(s, { id: `e${i}`, source: '/s', type: 't' });
	await assertQueue(s, both.id, { delivered: 4 }, 'pub_and_sub delivers');
	await assertQueue(s, held.id, { pending: 4 }, 'pub_only keeps them');
	assert.ok(await sink.quiet(500));
	assert.deepEqual(sink.requests.map((r) => r.url), Array(4).fill('/both'),
	    'only pub_and_sub reached the sink');
	assert.deepEqual(ids(sink.requests), ['e0', 'e1', 'e2', 'e3'], 'in order');
	/* pull is not allowed on pub_only either */
	const pull = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	await publish(s, { id: 'p1', source: '/s', type: 't' });
	const r = await s.api('POST', `/api/v1/subscriptions/${pull.id}/pull`, { max: 5 });
	assert.ok(r.status >= 400 || r.json.items.length === 0,
	    `pull from pub_only: ${r.status} ${r.text}`);
	await s.stop();
});

test('states: sub_only queues nothing new but drains what was queued; disabled neither queues nor delivers and keeps its queue', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t });
	const drain = await createSub(s, { sink: `${sink.url}/drain`, state: 'pub_only' });
	const off = await createSub(s, { sink: `${sink.url}/off`, state: 'pub_only' });
	const before = [];
	for (let i = 0; i < 3; i++)
		before.push(await publish(s, { id: `old${i}`, source: '/s', type: 't' }));
	await assertQueue(s, drain.id, { pending: 3 });
	await assertQueue(s, off.id, { pending: 3 });
	let r = await s.api('PATCH', `/api/v1/subscriptions/${off.id}`, { state: 'disabled' });
	assert.equal(r.status, 200, r.text);
	r = await s.api('PATCH', `/api/v1/subscriptions/${drain.id}`, { state: 'sub_only' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.state, 'sub_only');
	const after = [];
	for (let i = 0; i < 2; i++)
		after.push(await publish(s, { id: `new${i}`, source: '/s', type: 't' }));
	await sink.waitFor(3);
	await assertQueue(s, drain.id, { delivered: 3 }, 'sub_only drained the old three only');
	await assertQueue(s, off.id, { pending: 3 }, 'disabled kept its three, added none');
	assert.ok(await sink.quiet(500));
	assert.deepEqual(ids(sink.requests), ['old0', 'old1', 'old2']);
	assert.ok(sink.requests.every((x) => x.url === '/drain'));
	/* the new events were stored but queued to nobody */
	for (const m of after) {
		const ev = await s.event(m);
		assert.deepEqual(ev.subscriptions, [], JSON.stringify(ev));
	}
	const listed = (await messages(s, off.id)).map((m) => m.msg);
	assert.deepEqual(listed, before, 'disabled queue holds exactly the old ones');
	/* enabling the disabled one delivers what it kept, nothing more */
	sink.clear();
	r = await s.api('PATCH', `/api/v1/subscriptions/${off.id}`, { state: 'pub_and_sub' });
	assert.equal(r.status, 200, r.text);
	await sink.waitFor(3);
	await assertQueue(s, off.id, { delivered: 3 });
	assert.ok(await sink.quiet(300));
	assert.deepEqual(ids(sink.requests), ['old0', 'old1', 'old2']);
	assert.ok(sink.requests.every((x) => x.url === '/off'));
	await s.stop();
});

test('filter routing: 5 subscriptions, 20 events; each queue holds exactly the matching ones and each event lists its subscriptions', async (t) => {
	const s = await start({ t });
	const subs = {
		all: await createSub(s, { name: 'all', delivery_method: 'pull',
			state: 'pub_only' }),
		created: await createSub(s, { name: 'created', delivery_method: 'pull',
			state: 'pub_only', filters: [{ suffix: { type: '.created' } }] }),
		eu: await createSub(s, { name: 'eu', delivery_method: 'pull',
			state: 'pub_only', filters: [{ exact: { region: 'eu' } }] }),
		ordersNotEu: await createSub(s, { name: 'orders-not-eu',
			delivery_method: 'pull', state: 'pub_only', filters: [
				{ prefix: { source: '/shop/orders' } },
				{ not: { exact: { region: 'eu' } } }] }),
		anyOf: await createSub(s, { name: 'any', delivery_method: 'pull',
			state: 'pub_only', filters: [{ any: [
				{ exact: { type: 'shop.order.deleted' } },
				{ all: [{ exact: { prio: '1' } },
					{ prefix: { subject: 'vip/' } }] }] }] }),
	};
	const types = ['shop.order.created', 'shop.order.deleted',
		'shop.user.created', 'shop.user.updated'];
	const sources = ['/shop/orders', '/shop/users', '/shop/orders/eu'];
	const want = { all: [], created: [], eu: [], ordersNotEu: [], anyOf: [] };
	const queuedTo = {};
	for (let i = 0; i < 20; i++) {
		const ev = { id: `f${i}`, type: types[i % 4], source: sources[i % 3] };
		if (i % 5 === 0)
			ev.region = 'eu';
		else if (i % 5 === 1)
			ev.region = 'us';
		if (i % 2 === 0)
			ev.prio = 1;
		if (i % 3 === 0)
			ev.subject = i % 6 === 0 ? 'vip/1' : 'std/1';
		const msg = await publish(s, ev);
		const match = {
			all: true,
			created: ev.type.endsWith('.created'),
			eu: ev.region === 'eu',
			ordersNotEu: ev.source.startsWith('/shop/orders') &&
			    ev.region !== 'eu',
			anyOf: ev.type === 'shop.order.deleted' ||
			    (ev.prio === 1 && (ev.subject || '').startsWith('vip/')),
		};
		queuedTo[msg] = [];
		for (const k of Object.keys(want))
			if (match[k]) {
				want[k].push(msg);
				queuedTo[msg].push(subs[k].id);
			}
	}
	for (const k of Object.keys(want)) {
		assert.ok(want[k].length > 0 && (k === 'all' || want[k].length < 20),
		    `the data set exercises ${k}`);
		const got = (await messages(s, subs[k].id)).map((m) => m.msg);
		assert.deepEqual(got, want[k], `queue of ${k}`);
		assert.equal((await sub(s, subs[k].id)).status.queue.pending,
		    want[k].length, `pending count of ${k}`);
	}
	for (const [msg, subIds] of Object.entries(queuedTo)) {
		const ev = await s.event(msg);
		assert.deepEqual(ev.subscriptions.map((x) => x.id).sort((a, b) => a - b),
		    subIds.sort((a, b) => a - b), `subscriptions of ${msg}`);
		for (const x of ev.subscriptions) {
			assert.equal(x.state, 'pending');
			assert.equal(typeof x.name, 'string');
		}
	}
	/* a filter changed by PATCH applies to the next event */
	let r = await s.api('PATCH', `/api/v1/subscriptions/${subs.eu.id}`,
	    { filters: [{ exact: { region: 'us' } }] });
	assert.equal(r.status, 200, r.text);
	const us = await publish(s, { id: 'late-us', type: 't', source: '/x', region: 'us' });
	const eu = await publish(s, { id: 'late-eu', type: 't', source: '/x', region: 'eu' });
	const got = (await messages(s, subs.eu.id)).map((m) => m.msg);
	assert.ok(got.includes(us) && !got.includes(eu), 'the new filter is in force');
	/* another topic's subscriptions see none of it */
	await s.createTopic('elsewhere');
	const other = await createSub(s, { topic: 'elsewhere', delivery_method: 'pull',
		state: 'pub_only' });
	await publish(s, { id: 'x1', type: 't', source: '/x' });
	r = await sub(s, other.id);
	assert.equal(r.status.queue.pending, 0);
	await s.stop();
});

test('cursor paging over 1,000 messages in one queue: 10 pages of 100, no gaps or repeats', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t });
	const held = await createSub(s, { sink: `${sink.url}/x`, state: 'pub_only' });
	const sent = [];
	for (let b = 0; b < 10; b++) {
		const batch = [];
		for (let i = 0; i < 100; i++)
			batch.push({ id: `m${b * 100 + i}`, source: '/page', type: 't',
				data: { n: b * 100 + i } });
		const r = await s.publishBatch(batch);
		assert.equal(r.status, 202, r.text);
		sent.push(...r.json.accepted.map((a) => a.msg));
	}
	assert.equal(sent.length, 1000);
	const seen = [];
	let cursor = null, pages = 0;
	for (;;) {
		const q = `limit=100${cursor ? `&cursor=${cursor}` : ''}`;
		const r = await s.api('GET', `/api/v1/subscriptions/${held.id}/messages?${q}`);
		assert.equal(r.status, 200, r.text);
		pages++;
		assert.equal(r.json.items.length, 100, `page ${pages} is full`);
		seen.push(...r.json.items.map((m) => m.msg));
		cursor = r.json.next_cursor;
		if (cursor === null || pages > 20)
			break;
	}
	assert.equal(pages, 10, 'ten pages; the tenth says it is the last');
	assert.equal(new Set(seen).size, 1000, 'no repeats');
	assert.deepEqual(seen, sent, 'every message once, in queue order');
	/* the pages are stable while new messages arrive */
	const first = await s.api('GET', `/api/v1/subscriptions/${held.id}/messages?limit=100`);
	await publish(s, { id: 'late', source: '/page', type: 't' });
	const again = await s.api('GET',
	    `/api/v1/subscriptions/${held.id}/messages?limit=100&cursor=${first.json.next_cursor}`);
	assert.deepEqual(again.json.items.map((m) => m.msg), sent.slice(100, 200));
	/* state filter and the fields of an item */
	const item = first.json.items[0];
	assert.equal(item.state, 'pending');
	assert.equal(item.attempts, 0);
	assert.equal(item.id, 'm0');
	assert.equal(item.source, '/page');
	assert.equal(item.type, 't');
	assert.equal(item.prefix, '{"n":0}');
	assert.ok(item.received_at && item.next_attempt_at);
	let r = await s.api('GET', `/api/v1/subscriptions/${held.id}/messages?state=delivered`);
	assert.deepEqual(r.json, { items: [], next_cursor: null });
	r = await s.api('GET', `/api/v1/subscriptions/${held.id}/messages?state=pending&limit=1000`);
	assert.equal(r.json.items.length, 1000);
	assert.notEqual(r.json.next_cursor, null);
	assertProblem(await s.api('GET',
	    `/api/v1/subscriptions/${held.id}/messages?state=lost`), 400, 'state');
	assertProblem(await s.api('GET',
	    `/api/v1/subscriptions/${held.id}/messages?cursor=!!`), 400, 'cursor');
	assertProblem(await s.api('GET',
	    `/api/v1/subscriptions/${held.id}/messages?limit=1001`), 400, 'limit');
	assert.ok(await sink.quiet(100));
	assert.equal(sink.requests.length, 0, 'pub_only delivered nothing');
	await s.stop();
});

test('q searches the first 64 bytes of each message: a needle at byte 70 is not found', async (t) => {
	const s = await start({ t });
	const held = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	const pad = (n) => 'x'.repeat(n);
	/* JSON data: the prefix is the JSON text as sent */
	const early = await publish(s, { id: 'early', source: '/q', type: 't',
		data: { k: `${pad(10)}NEEDLE${pad(80)}` } });
	/* {"k":" is 6 bytes: NEEDLE at 6 + 64 = byte 70 */
	const late = await publish(s, { id: 'late', source: '/q', type: 't',
		data: { k: `${pad(64)}NEEDLE` } });
	/* straddling the end: NEEDLE at bytes 60..65 */
	const edge = await publish(s, { id: 'edge', source: '/q', type: 't',
		data: { k: `${pad(54)}NEEDLE` } });
	/* text data in binary mode */
	let r = await s.publishBinary({ id: 'text', source: '/q', type: 't' },
	    'plain NEEDLE text', { contentType: 'text/plain' });
	assert.equal(r.status, 202, r.text);
	const text = r.json.accepted[0].msg;
	/* a needle in an attribute is not in the data */
	await publish(s, { id: 'NEEDLE', source: '/q', type: 'NEEDLE', data: 'nothing' });
	const found = async (q, query = {}) => (await messages(s, held.id,
	    Object.assign({ q }, query))).map((m) => m.msg);
	assert.deepEqual(await found('NEEDLE'), [early, text]);
	assert.deepEqual(await found('NEED'), [early, edge, text], 'the part within 64 bytes');
	assert.deepEqual(await found('"k":"xxxxxxxxxxNEEDLE'), [early]);
	assert.deepEqual(await found('needle'), [], 'case-sensitive');
	assert.deepEqual(await found('plain'), [text]);
	assert.deepEqual(await found('%'), [], 'LIKE wildcards are literal');
	assert.deepEqual(await found('_'), [], 'LIKE wildcards are literal');
	assert.deepEqual(await found('xx', { limit: 1 }), [early, late, edge],
	    'q with paging');
	assert.ok(!(await found('NEEDLE')).includes(late));
	r = await s.api('GET', `/api/v1/subscriptions/${held.id}/messages?q=${'a'.repeat(65)}`);
	assertProblem(r, 400, 'q');
	/* q with a state */
	assert.deepEqual(await found('NEEDLE', { state: 'dead' }), []);
	/* the prefix shown is those 64 bytes */
	const items = await messages(s, held.id, { q: 'NEEDLE' });
	assert.equal(Buffer.byteLength(items[0].prefix), 64);
	assert.ok(items[0].prefix.startsWith('{"k":"xxxxxxxxxxNEEDLE'));
	await s.stop();
});

test('message detail: attributes, data, delivery metadata, every attempt with status and outcome, and what matched', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t, answer: { status: 500, body: 'boom' } });
	const a = await createSub(s, { sink: `${sink.url}/fail`, max_attempts: 2,
		app_error_pause_ms: 10, tcp_error_pause_ms: 10,
		filters: [{ exact: { type: 'com.x' } }] });
	const msg = await publish(s, { id: 'd1', source: '/detail', type: 'com.x',
		subject: 'sub/1', time: '2024-01-02T03:04:05Z', region: 'eu', prio: 3,
		urgent: true, datacontenttype: 'application/json', data: { order: 12 } });
	await sink.waitFor(2);
	await assertQueue(s, a.id, { dead: 1 });
	const r = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${msg}`);
	assert.equal(r.status, 200, r.text);
	const m = r.json;
	assert.equal(m.msg, msg);
	assert.equal(m.topic, 'default');
	assert.ok(m.received_at);
	assert.deepEqual(m.event, { specversion: '1.0', id: 'd1', source: '/detail',
		type: 'com.x', subject: 'sub/1', time: '2024-01-02T03:04:05Z',
		region: 'eu', prio: 3, urgent: true,
		datacontenttype: 'application/json', data: { order: 12 } });
	assert.equal(m.delivery.state, 'dead');
	assert.equal(m.delivery.attempts, 2);
	assert.equal(m.delivery.last_status, 500);
	assert.equal(typeof m.delivery.last_error, 'string');
	assert.equal(m.matched, 'exact type=com.x');
	assert.equal(m.attempts.length, 2, JSON.stringify(m.attempts));
	for (const at of m.attempts) {
		assert.equal(at.http_status, 500);
		assert.equal(at.outcome, 'app_error');
		assert.ok(Number.isInteger(at.duration_ms) && at.duration_ms >= 0);
		assert.ok(at.time);
		assert.equal(at.response, 'boom');
	}
	assert.ok(m.attempts[0].time <= m.attempts[1].time);
	/* a transport error is another class */
	sink.always({ close: true });
	const b = await createSub(s, { sink: `${sink.url}/close`, max_attempts: 1,
		tcp_error_pause_ms: 10, filters: [{ exact: { type: 'com.y' } }] });
	const msg2 = await publish(s, { id: 'd2', source: '/detail', type: 'com.y' });
	await assertQueue(s, b.id, { dead: 1 });
	const r2 = await s.api('GET', `/api/v1/subscriptions/${b.id}/messages/${msg2}`);
	assert.equal(r2.json.attempts.length, 1);
	assert.equal(r2.json.attempts[0].http_status, null);
	assert.notEqual(r2.json.attempts[0].outcome, 'app_error');
	assert.match(r2.json.attempts[0].outcome, /tcp|transport/);
	/* no attempts yet: an empty list; no filters: says so */
	const c = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	const msg3 = await publish(s, { id: 'd3', source: '/detail', type: 'com.z',
		data: 'text' });
	const r3 = await s.api('GET', `/api/v1/subscriptions/${c.id}/messages/${msg3}`);
	assert.deepEqual(r3.json.attempts, []);
	assert.equal(r3.json.delivery.state, 'pending');
	assert.equal(r3.json.event.data, 'text');
	assert.match(r3.json.matched, /no filters/);
	/* a message of another queue, or none */
	assertProblem(await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${msg3}`), 404);
	assertProblem(await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/nope`), 404);
	assertProblem(await s.api('GET', `/api/v1/subscriptions/99999/messages/${msg}`), 404);
	await s.stop();
});

test('pause (manual): nothing is delivered while paused; resume delivers; pause with a duration ends on its own', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t });
	const a = await createSub(s, { sink: `${sink.url}/p` });
	let r = await s.api('POST', `/api/v1/subscriptions/${a.id}/pause`);
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.id, a.id);
	assert.equal(r.json.status.pause_reason, 'manual');
	assert.equal(r.json.status.paused_until, null, 'indefinite');
	for (let i = 0; i < 3; i++)
		await publish(s, { id: `p${i}`, source: '/s', type: 't' });
	assert.ok(await sink.quiet(800), 'nothing while paused');
	await assertQueue(s, a.id, { pending: 3 });
	r = await sub(s, a.id);
	assert.equal(r.status.pause_reason, 'manual');
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/resume`);
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.status.pause_reason, null);
	await sink.waitFor(3);
	await assertQueue(s, a.id, { delivered: 3 });
	assert.deepEqual(ids(sink.requests), ['p0', 'p1', 'p2']);
	/* a pause with a duration */
	sink.clear();
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/pause`, { duration_ms: 1000 });
	assert.equal(r.status, 200, r.text);
	assert.ok(r.json.status.paused_until, 'shows until when');
	const t0 = Date.now();
	await publish(s, { id: 'timed', source: '/s', type: 't' });
	await sink.waitFor(1, 10000);
	assert.ok(Date.now() - t0 >= 700, 'not before the pause ended');
	/* bad bodies */
	for (const [body, field] of [[{ duration_ms: 0 }, 'duration_ms'],
	    [{ duration_ms: 'soon' }, 'duration_ms'], [{ until: 5 }, 'until']])
		assertProblem(await s.api('POST', `/api/v1/subscriptions/${a.id}/pause`, body),
		    400, field);
	assertProblem(await s.api('POST', '/api/v1/subscriptions/99999/pause'), 404);
	await s.stop();
});

test('retry: dead messages go back to pending and are delivered once the sink answers 2xx', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t, answer: { status: 503 } });
	const a = await createSub(s, { sink: `${sink.url}/r`, max_attempts: 1,
		app_error_pause_ms: 10 });
	const msgs = [];
	for (let i = 0; i < 3; i++)
		msgs.push(await publish(s, { id: `r${i}`, source: '/s', type: 't' }));
	await assertQueue(s, a.id, { dead: 3 });
	sink.always({ status: 204 });
	sink.clear();
	/* one by id first */
	let r = await s.api('POST', `/api/v1/subscriptions/${a.id}/retry`, { msgs: [msgs[1]] });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { affected: 1 });
	await sink.waitFor(1);
	await assertQueue(s, a.id, { dead: 2, delivered: 1 });
	assert.deepEqual(ids(sink.requests), ['r1']);
	/* the rest by state (dead is the default) */
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/retry`);
	assert.deepEqual(r.json, { affected: 2 });
	await sink.waitFor(3);
	await assertQueue(s, a.id, { delivered: 3 });
	assert.deepEqual(ids(sink.requests).sort(), ['r0', 'r1', 'r2']);
	const m = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${msgs[0]}`);
	assert.equal(m.json.delivery.state, 'delivered');
	assert.equal(m.json.attempts.length, 2, 'the failed attempt is kept');
	assert.equal(m.json.attempts[1].outcome, 'ok');
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/retry`, { state: 'dead' });
	assert.deepEqual(r.json, { affected: 0 });
	await s.stop();
});

test('purge by state and by message ids; bad targets are 400 naming the field', async (t) => {
	const s = await start({ t });
	const a = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	const msgs = [];
	for (let i = 0; i < 6; i++)
		msgs.push(await publish(s, { id: `u${i}`, source: '/s', type: 't' }));
	let r = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`,
	    { msgs: [msgs[0], msgs[3]] });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json, { affected: 2 });
	assert.deepEqual((await messages(s, a.id)).map((m) => m.msg),
	    [msgs[1], msgs[2], msgs[4], msgs[5]]);
	assertProblem(await s.api('GET',
	    `/api/v1/subscriptions/${a.id}/messages/${msgs[0]}`), 404);
	/* the event itself stays */
	assert.equal((await s.event(msgs[0])).event.id, 'u0');
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`, { state: 'dead' });
	assert.deepEqual(r.json, { affected: 0 });
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`, { state: 'pending' });
	assert.deepEqual(r.json, { affected: 4 });
	await assertQueue(s, a.id, {});
	assert.deepEqual(await messages(s, a.id), []);
	const bad = [
		[{ state: 'inflight' }, 'state'],
		[{ state: null }, 'state'],
		[{ state: 5 }, 'state'],
		[{ state: 'gone' }, 'state'],
		[{ msgs: [] }, 'msgs'],
		[{ msgs: 'x' }, 'msgs'],
		[{ msgs: ['not-a-msg'] }, 'msgs'],
		[{ msgs: [msgs[0]], state: 'dead' }, 'msgs'],
		[{ everything: true }, 'everything'],
	];
	for (const [body, field] of bad) {
		r = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`, body);
		assertProblem(r, 400, field);
	}
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/retry`, { state: 'inflight' });
	assertProblem(r, 400, 'state');
	assertProblem(await s.api('POST', '/api/v1/subscriptions/99999/purge',
	    { state: 'dead' }), 404);
	await s.stop();
});

/*
 * Brings the queue of a pull subscription (max_attempts 1) holding the 8
 * msgs to every state: 2 delivered (acked), 2 dead (nacked), 1 inflight
 * (leased) and 3 pending.  Returns the lease's receipt.
 */
async function everyState(s, a, msgs) {
	const pull = async (max) => {
		const r = await s.api('POST', `/api/v1/subscriptions/${a.id}/pull`,
		    { max, lease_ms: 600000 });
		assert.equal(r.status, 200, r.text);
		return r.json.items;
	};
	const done = async (what, items) => {
		const r = await s.api('POST', `/api/v1/subscriptions/${a.id}/${what}`,
		    { receipts: items.map((i) => i.receipt) });
		assert.equal(r.status, 200, r.text);
	};
	await done('ack', await pull(2));
	await done('nack', await pull(2));
	const leased = await pull(1);
	assert.deepEqual(leased.map((i) => i.msg), [msgs[4]]);
	await assertQueue(s, a.id, { pending: 3, inflight: 1, delivered: 2,
		dead: 2 }, 'every state');
	return { sub: a, receipt: leased[0].receipt };
}

test('purge with no body (or {}) empties the backlog: pending and dead go, delivered and inflight stay; counts agree', async (t) => {
	const s = await start({ t });
	await s.createTopic('pd');
	const subs = [];
	for (let i = 0; i < 3; i++)
		subs.push(await createSub(s, { topic: 'pd', delivery_method: 'pull',
			max_attempts: 1 }));
	const evs = [];
	for (let i = 0; i < 8; i++)
		evs.push({ id: `pd${i}`, source: '/pd', type: 't' });
	const r = await s.publishBatch(evs, { topic: 'pd' });
	assert.equal(r.status, 202, r.text);
	const msgs = r.json.accepted.map((x) => x.msg);
	const bare = await everyState(s, subs[0], msgs);
	const empty = await everyState(s, subs[1], msgs);
	const other = await everyState(s, subs[2], msgs);
	const ids = [bare.sub.id, empty.sub.id, other.sub.id];
	await countsAgree(s, ids, 'before the purges');
	for (const [{ sub: a }, body] of [[bare, undefined], [empty, {}]]) {
		const p = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`,
		    body);
		assert.equal(p.status, 200, `purge ${JSON.stringify(body)}: ${p.text}`);
		assert.deepEqual(p.json, { affected: 5 }, '3 pending and 2 dead');
		await assertQueue(s, a.id, { inflight: 1, delivered: 2 },
		    `after purge ${JSON.stringify(body)}`);
		assert.deepEqual((await messages(s, a.id)).map((m) =>
		    [m.msg, m.state]), [[msgs[0], 'delivered'],
			[msgs[1], 'delivered'], [msgs[4], 'inflight']]);
	}
	await assertQueue(s, other.sub.id, { pending: 3, inflight: 1,
		delivered: 2, dead: 2 }, 'another queue is untouched');
	await countsAgree(s, ids, 'after the purges');
	/* the lease survives the purge: its ack still counts */
	const ack = await s.api('POST', `/api/v1/subscriptions/${bare.sub.id}/ack`,
	    { receipts: [bare.receipt] });
	assert.equal(ack.status, 200, ack.text);
	await assertQueue(s, bare.sub.id, { delivered: 3 }, 'acked after purge');
	/* the events stay, and a purge of an empty backlog is 0 */
	assert.equal((await s.event(msgs[7])).event.id, 'pd7');
	const again = await s.api('POST',
	    `/api/v1/subscriptions/${bare.sub.id}/purge`);
	assert.deepEqual(again.json, { affected: 0 });
	/* delivered ones go only when asked */
	const d = await s.api('POST', `/api/v1/subscriptions/${bare.sub.id}/purge`,
	    { state: 'delivered' });
	assert.deepEqual(d.json, { affected: 3 });
	await countsAgree(s, ids, 'after purging delivered');
	/* the system event names the states purged */
	const se = (await s.api('GET',
	    '/api/v1/sysevents?operation=subscription.purge&limit=1000')).json.items;
	const of = (id) => se.filter((e) => e.entity_id === String(id))
	    .map((e) => e.metadata).reverse();
	assert.deepEqual(of(bare.sub.id), [
		{ affected: 5, states: ['pending', 'dead'] },
		{ affected: 0, states: ['pending', 'dead'] },
		{ affected: 3, state: 'delivered' },
	]);
	await s.stop();
});

/*
 * Queues n events to a push subscription whose sink takes 200 ms a request,
 * purges once the first arrives (body: the purge's, or none), and checks
 * that at most the request already on its way is sent after it.
 */
async function purgeWhileBusy(t, n, body) {
	const s = await start({ t });
	const sink = await startSink({ t });
	sink.always({ status: 200, delayMs: 200 });
	const a = await createSub(s, { sink: `${sink.url}/slow` });
	const evs = [];
	for (let i = 0; i < n; i++)
		evs.push({ id: `b${i}`, source: '/s', type: 't' });
	const r = await s.publishBatch(evs);
	assert.equal(r.status, 202, r.text);
	await sink.waitFor(1, 5000);
	const p = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`,
	    body);
	assert.equal(p.status, 200, p.text);
	const seen = sink.requests.length;
	await sleep(1000);
	/* at most the request on its way when the purge committed */
	assert.ok(sink.requests.length <= seen + 1,
	    `${sink.requests.length - seen} sent after the purge`);
	return { s, a, purged: p.json.affected, sent: sink.requests.length };
}

test('purge with no body on a busy push subscription: nothing queued is sent afterwards, only delivered messages stay, counts agree', async (t) => {
	const { s, a, purged, sent } = await purgeWhileBusy(t, 20);
	assert.ok(purged >= 17, `purged ${purged} of 20`);
	assert.ok(sent + purged === 20 || sent + purged === 21,
	    `each event sent or purged (${sent} sent, ${purged} purged)`);
	/* each message was purged or is kept as delivered */
	await assertQueue(s, a.id, { delivered: 20 - purged },
	    'only delivered stay');
	await countsAgree(s, [a.id], 'after a purge while busy');
	await s.stop();
});

test('purge while a push subscription is busy: purged messages are not sent afterwards', async (t) => {
	const { s, a, purged, sent } = await purgeWhileBusy(t, 40,
	    { state: 'pending' });
	assert.ok(purged >= 37, `purged ${purged} of 40`);
	assert.equal(purged + sent >= 40 - 1, true);
	const q = (await sub(s, a.id)).status.queue;
	assert.equal(q.pending, 0);
	await s.stop();
});

test('a duplicate is not queued twice; a refused batch queues nothing', async (t) => {
	const s = await start({ t });
	const a = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	const m = await publish(s, { id: 'dup', source: '/s', type: 't' });
	let r = await s.publishStructured({ id: 'dup', source: '/s', type: 't' });
	assert.equal(r.status, 202, r.text);
	assert.deepEqual(r.json.duplicates.map((d) => d.msg), [m]);
	r = await s.publishBatch([{ id: 'dup', source: '/s', type: 't' },
		{ id: 'fresh', source: '/s', type: 't' }]);
	assert.equal(r.status, 202, r.text);
	assert.equal(r.json.accepted.length, 1);
	const fresh = r.json.accepted[0].msg;
	assert.deepEqual((await messages(s, a.id)).map((x) => x.msg), [m, fresh]);
	/* one bad event rejects the batch, and nothing of it is queued */
	r = await s.publishBatch([{ id: 'b1', source: '/s', type: 't' },
		{ id: 'b2', source: '/s' }]);
	assertProblem(r, 400);
	assert.deepEqual((await messages(s, a.id)).map((x) => x.msg), [m, fresh]);
	await s.stop();
});

test('a manual pause made while a failing request is in flight stays manual', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t, answer: { status: 500, delayMs: 400 } });
	const a = await createSub(s, { sink: `${sink.url}/slow`, app_error_pause_ms: 60000 });
	await publish(s, { id: 'm1', source: '/s', type: 't' });
	await sink.waitFor(1);
	let r = await s.api('POST', `/api/v1/subscriptions/${a.id}/pause`);
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.status.pause_reason, 'manual');
	await sleep(800);	/* the 500 has come back and been recorded */
	r = await sub(s, a.id);
	assert.equal(r.status.last_error !== null, true, JSON.stringify(r.status));
	assert.equal(r.status.pause_reason, 'manual', JSON.stringify(r.status));
	assert.equal(r.status.paused_until, null, 'still indefinite');
	/* and resume really resumes (no 60 s application-error pause left) */
	sink.always({ status: 200 });
	r = await s.api('POST', `/api/v1/subscriptions/${a.id}/resume`);
	assert.equal(r.status, 200, r.text);
	await sink.waitFor(2, 5000);
	await s.stop();
});

test('routing is the same whichever binding mode carried the event', async (t) => {
	const s = await start({ t });
	const xml = await createSub(s, { name: 'xml', delivery_method: 'pull', state: 'pub_only',
		filters: [{ exact: { datacontenttype: 'application/xml' } }] });
	const eu = await createSub(s, { name: 'eu', delivery_method: 'pull', state: 'pub_only',
		filters: [{ exact: { region: 'eu' } }, { suffix: { type: '.v1' } }] });
	const want = { xml: [], eu: [] };
	let r = await s.publishBinary({ id: 'b1', source: '/s', type: 'a.v1', region: 'eu' },
	    '<a/>', { contentType: 'application/xml' });
	assert.equal(r.status, 202, r.text);
	want.xml.push(r.json.accepted[0].msg);
	want.eu.push(r.json.accepted[0].msg);
	/* percent-encoded header value, decoded before matching */
	r = await s.publishBinary({ id: 'b2', source: '/s', type: 'a.v1', region: '%65u' },
	    'x', { contentType: 'text/plain' });
	assert.equal(r.status, 202, r.text);
	want.eu.push(r.json.accepted[0].msg);
	r = await s.publishStructured({ id: 's1', source: '/s', type: 'a.v2', region: 'eu',
		datacontenttype: 'application/xml', data: '<b/>' });
	want.xml.push(r.json.accepted[0].msg);
	r = await s.publishBatch([
		{ id: 'x1', source: '/s', type: 'b.v1', region: 'eu' },
		{ id: 'x2', source: '/s', type: 'b.v1', region: 'us' },
		{ id: 'x3', source: '/s', type: 'b.v1', region: 'eu',
			datacontenttype: 'application/xml', data: '<c/>' }]);
	assert.equal(r.status, 202, r.text);
	const [x1, , x3] = r.json.accepted.map((a) => a.msg);
	want.eu.push(x1, x3);
	want.xml.push(x3);
	assert.deepEqual((await messages(s, xml.id)).map((m) => m.msg), want.xml);
	assert.deepEqual((await messages(s, eu.id)).map((m) => m.msg), want.eu);
	const m = await s.api('GET', `/api/v1/subscriptions/${eu.id}/messages/${x3}`);
	assert.equal(m.json.matched, 'exact region=eu and suffix type=.v1');
	await s.stop();
});

test('binary data: the prefix shows bytes as \\xNN, q finds text among them, the detail has data_base64', async (t) => {
	const s = await start({ t });
	const a = await createSub(s, { delivery_method: 'pull', state: 'pub_only' });
	const body = Buffer.concat([Buffer.from([0, 1, 2, 0xff]), Buffer.from('MAGIC'),
		Buffer.alloc(100, 0x41)]);
	let r = await s.publishBinary({ id: 'bin', source: '/s', type: 't' }, body,
	    { contentType: 'application/octet-stream' });
	assert.equal(r.status, 202, r.text);
	const msg = r.json.accepted[0].msg;
	/* text whose 64th byte ends a two-byte character, then one more */
	r = await s.publishBinary({ id: 'utf8', source: '/s', type: 't' },
	    `${'x'.repeat(62)}éé`, { contentType: 'text/plain; charset=utf-8' });
	assert.equal(r.status, 202, r.text);
	const items = await messages(s, a.id);
	assert.equal(items[0].prefix, `\\x00\\x01\\x02\\xffMAGIC${'A'.repeat(55)}`);
	assert.equal(items[1].prefix, `${'x'.repeat(62)}é`, 'whole characters of the 64 bytes');
	assert.deepEqual((await messages(s, a.id, { q: 'MAGIC' })).map((m) => m.msg), [msg]);
	r = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${msg}`);
	assert.equal(r.json.event.data_base64, body.toString('base64'));
	assert.equal(r.json.event.datacontenttype, 'application/octet-stream');
	assert.ok(!('data' in r.json.event));
	await s.stop();
});

/*
 * What the counts say and what the queues hold: per subscription and
 * state, status.queue, the /metrics gauge and the messages listed; and
 * /api/v1/stats against the sums.  Polls until they agree (deliveries
 * settle), then asserts.
 */
async function countsAgree(s, ids, what) {
	const states = ['pending', 'inflight', 'delivered', 'dead'];
	const end = Date.now() + 10000;
	let diff;
	for (;;) {
		diff = [];
		const m = (await s.api('GET', '/metrics')).text;
		const gauge = (id, st) => {
			const re = new RegExp(`^sluice_queue_messages\\{subscription="${id}",` +
			    `state="${st}"\\} (\\d+)$`, 'm');
			const x = re.exec(m);
			return x ? Number(x[1]) : 0;
		};
		const total = { pending: 0, inflight: 0, delivered: 0, dead: 0 };
		for (const id of ids) {
			const q = (await sub(s, id)).status.queue;
			for (const st of states) {
				const listed = (await messages(s, id, { state: st })).length;
				total[st] += listed;
				if (q[st] !== listed || gauge(id, st) !== listed)
					diff.push(`${id} ${st}: status ${q[st]}, gauge ` +
					    `${gauge(id, st)}, listed ${listed}`);
			}
		}
		const all = (await s.api('GET', '/api/v1/stats')).json;
		const stats = all.queue;
		for (const st of states)
			if (stats[st] !== total[st])
				diff.push(`stats ${st}: ${stats[st]}, listed ${total[st]}`);
		const events = (await s.allEvents()).length;
		if (all.events !== events)
			diff.push(`stats events: ${all.events}, listed ${events}`);
		if (diff.length === 0 || Date.now() > end)
			break;
		await sleep(100);
	}
	assert.deepEqual(diff, [], what);
}

test('queue counts stay exact through delivery, failure, retry, purge, pull, deletion, retention and a restart', async (t) => {
	const s = await start({ t, args: ['--retention', '2s'] });
	const sink = await startSink({ t });
	sink.always((rec) => rec.url.startsWith('/fail') ? { status: 500 } :
	    { status: 200 });
	await s.createTopic('qc');
	const ok = await createSub(s, { topic: 'qc', sink: `${sink.url}/ok` });
	const fail = await createSub(s, { topic: 'qc', sink: `${sink.url}/fail`,
		max_attempts: 1, app_error_pause_ms: 0 });
	const held = await createSub(s, { topic: 'qc', sink: `${sink.url}/held`,
		state: 'pub_only' });
	const pull = await createSub(s, { topic: 'qc', delivery_method: 'pull' });
	const gone = await createSub(s, { topic: 'qc', sink: `${sink.url}/gone`,
		state: 'pub_only' });
	const evs = [];
	for (let i = 0; i < 6; i++)
		evs.push({ id: `qc${i}`, source: '/qc', type: 't' });
	const r = await s.publishBatch(evs, { topic: 'qc' });
	assert.equal(r.status, 202, r.text);
	const msgs = r.json.accepted.map((a) => a.msg);
	const ids = [ok.id, fail.id, held.id, pull.id];
	const all = ids.concat(gone.id);
	await countsAgree(s, all, 'after ingest and delivery');
	await assertQueue(s, ok.id, { delivered: 6 }, 'delivered');
	await assertQueue(s, fail.id, { dead: 6 }, 'dead at max_attempts 1');

	/* retry by message and by state, purge by message and by state */
	let x = await s.api('POST', `/api/v1/subscriptions/${fail.id}/retry`,
	    { msgs: [msgs[0], msgs[1]] });
	assert.deepEqual(x.json, { affected: 2 });
	x = await s.api('POST', `/api/v1/subscriptions/${held.id}/purge`,
	    { msgs: [msgs[2]] });
	assert.deepEqual(x.json, { affected: 1 });
	/* delivered messages are sent again by naming them (a replay) */
	x = await s.api('POST', `/api/v1/subscriptions/${ok.id}/retry`,
	    { msgs });
	assert.deepEqual(x.json, { affected: 6 });
	x = await s.api('POST', `/api/v1/subscriptions/${fail.id}/purge`,
	    { state: 'dead' });
	assert.equal(x.status, 200, x.text);
	await countsAgree(s, all, 'after retry and purge');

	/* pull: lease, ack one, nack one, let one lease run out */
	const p = await s.api('POST', `/api/v1/subscriptions/${pull.id}/pull`,
	    { max: 3, lease_ms: 1000 });
	assert.equal(p.json.items.length, 3);
	await countsAgree(s, all, 'three leased');
	x = await s.api('POST', `/api/v1/subscriptions/${pull.id}/ack`,
	    { receipts: [p.json.items[0].receipt] });
	assert.equal(x.status, 200, x.text);
	x = await s.api('POST', `/api/v1/subscriptions/${pull.id}/nack`,
	    { receipts: [p.json.items[1].receipt] });
	assert.equal(x.status, 200, x.text);
	await sleep(1500);
	await countsAgree(s, all, 'after ack, nack and a lease running out');

	/* a deleted topic takes its events and its queues along */
	await s.createTopic('qc-tmp');
	const tmp = await createSub(s, { topic: 'qc-tmp', state: 'pub_only',
		sink: `${sink.url}/tmp` });
	x = await s.publishBatch(evs.slice(0, 2), { topic: 'qc-tmp' });
	assert.equal(x.status, 202, x.text);
	await countsAgree(s, all.concat(tmp.id), 'a second topic');
	x = await s.api('DELETE', '/api/v1/topics/qc-tmp?force=true');
	assert.equal(x.status, 204, x.text);
	await countsAgree(s, all, 'after a topic deletion');

	/* a deleted subscription leaves no gauge behind */
	x = await s.api('DELETE', `/api/v1/subscriptions/${gone.id}`);
	assert.equal(x.status, 204, x.text);
	assert.doesNotMatch((await s.api('GET', '/metrics')).text,
	    new RegExp(`subscription="${gone.id}"`));
	await countsAgree(s, ids, 'after a deletion');

	/* retention removes the delivered ones (2 s), then a restart */
	await until(async () => (await sub(s, ok.id)).status.queue.delivered === 0,
	    15000, 'retention');
	await countsAgree(s, ids, 'after retention');
	await s.restart();
	await countsAgree(s, ids, 'after a restart');
	await s.stop();
});

test('a message\'s detail is one snapshot: its state and attempt count agree with the attempts listed', async (t) => {
	const s = await start({ t });
	const sink = await startSink({ t });
	const n = 10;
	/* each message fails twice, then is delivered */
	for (let i = 0; i < n; i++)
		sink.next({ status: 500 }, { status: 500 }, { status: 200 });
	const a = await createSub(s, { sink: sink.url, app_error_pause_ms: 20,
	    max_inflight: 1 });
	const msgs = [];
	for (let i = 0; i < n; i++) {
		const r = await s.publishStructured({ id: `snap-${i}`, source: '/snap',
		    type: 't' });
		assert.equal(r.status, 202, r.text);
		msgs.push(r.json.accepted[0].msg);
	}
	let reads = 0;
	/* four readers at once per message, to meet its commits */
	const watch = async (msg) => {
		for (;;) {
			const r = await s.api('GET',
			    `/api/v1/subscriptions/${a.id}/messages/${msg}`);
			assert.equal(r.status, 200, r.text);
			const { delivery, attempts } = r.json;
			reads++;
			assert.equal(attempts.length, delivery.attempts,
			    `attempts listed vs counted: ${r.text}`);
			if (delivery.state === 'delivered') {
				assert.equal(attempts.at(-1).outcome, 'ok', r.text);
				return;
			}
			assert.ok(attempts.every((x) => x.outcome !== 'ok'), r.text);
		}
	};
	for (const msg of msgs)
		await Promise.all([1, 2, 3, 4].map(() => watch(msg)));
	assert.ok(reads > n, `read while delivering (${reads} reads)`);
	await s.stop();
});

test('a push in flight counts as inflight in the subscription status, /api/v1/stats and /metrics alike', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t });
	sink.always({ delayMs: 3000 });
	await s.createTopic('slowq');
	const a = await createSub(s, { topic: 'slowq', sink: `${sink.url}/slow`,
		timeout_ms: 20000 });
	const r = await s.publishBatch([{ id: 's1', source: '/q', type: 't' },
		{ id: 's2', source: '/q', type: 't' }], { topic: 'slowq' });
	assert.equal(r.status, 202, r.text);
	await until(() => sink.active === 1, 10000, 'the first push is at the sink');
	const st = (await sub(s, a.id)).status.queue;
	assert.equal(st.inflight, 1, JSON.stringify(st));
	assert.equal(st.pending, 1, JSON.stringify(st));
	const stats = (await s.api('GET', '/api/v1/stats')).json.queue;
	assert.equal(stats.inflight, 1, JSON.stringify(stats));
	assert.equal(stats.pending, 1, JSON.stringify(stats));
	const m = (await s.api('GET', '/metrics')).text;
	const line = (state) => {
		const x = new RegExp(`^sluice_queue_messages\\{subscription="${a.id}",` +
		    `state="${state}"\\} (\\d+)$`, 'm').exec(m);
		return x ? Number(x[1]) : 0;
	};
	assert.equal(line('inflight'), 1, m);
	assert.equal(line('pending'), 1, m);
	await s.stop();
});

test('a push in flight reads inflight in the queue list, its state filter, the message detail and the event\'s queues; delivered after the answer', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t });
	sink.always({ delayMs: 4000 });	/* time to look while they fly */
	await s.createTopic('flyq');
	const a = await createSub(s, { topic: 'flyq', sink: `${sink.url}/slow`,
		timeout_ms: 20000, max_inflight: 2 });
	const r = await s.publishBatch(['x1', 'x2', 'y3'].map((id) => ({ id,
		source: '/q', type: 't', data: { tag: id } })), { topic: 'flyq' });
	assert.equal(r.status, 202, r.text);
	const [m1, m2, m3] = r.json.accepted.map((x) => x.msg);
	await until(() => sink.active === 2, 10000, 'two pushes are at the sink');
	const states = async (query) => (await messages(s, a.id, query, 1))
	    .map((x) => [x.msg, x.state]);
	assert.deepEqual(await states({}), [[m1, 'inflight'], [m2, 'inflight'],
		[m3, 'pending']]);
	assert.deepEqual(await states({ state: 'inflight' }),
	    [[m1, 'inflight'], [m2, 'inflight']]);
	assert.deepEqual(await states({ state: 'pending' }), [[m3, 'pending']]);
	assert.deepEqual(await states({ state: 'inflight', q: 'x2' }),
	    [[m2, 'inflight']]);
	assert.deepEqual(await states({ state: 'pending', q: 'x' }), []);
	let d = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${m1}`);
	assert.equal(d.json.delivery.state, 'inflight', d.text);
	d = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${m3}`);
	assert.equal(d.json.delivery.state, 'pending', d.text);
	const e = await s.api('GET', `/api/v1/events/${m2}`);
	assert.deepEqual(e.json.subscriptions.map((x) => x.state), ['inflight'],
	    e.text);
	await until(async () => (await states({ state: 'delivered' })).length === 3,
	    20000, 'all three delivered');
	assert.deepEqual(await states({ state: 'inflight' }), []);
	d = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${m1}`);
	assert.equal(d.json.delivery.state, 'delivered', d.text);
	await s.stop();
});

test('purge leaves a message whose push is on its way (it reads inflight): the others go, it is delivered once', async (t) => {
	const s = await start({ t, args: ['--stats-interval', '0'] });
	const sink = await startSink({ t });
	sink.always({ delayMs: 3000 });
	await s.createTopic('purgefly');
	const a = await createSub(s, { topic: 'purgefly',
		sink: `${sink.url}/slow`, timeout_ms: 20000 });
	const r = await s.publishBatch(['p1', 'p2', 'p3', 'p4'].map((id) => ({
		id, source: '/q', type: 't' })), { topic: 'purgefly' });
	assert.equal(r.status, 202, r.text);
	const [m1, m2, m3, m4] = r.json.accepted.map((x) => x.msg);
	await until(() => sink.active === 1, 10000, 'the first push is at the sink');
	let p = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`,
	    { msgs: [m1, m2] });
	assert.equal(p.status, 200, p.text);
	assert.equal(p.json.affected, 1, p.text);
	p = await s.api('POST', `/api/v1/subscriptions/${a.id}/purge`, {});
	assert.equal(p.status, 200, p.text);
	assert.equal(p.json.affected, 2, p.text);
	assert.deepEqual((await messages(s, a.id)).map((x) => [x.msg, x.state]),
	    [[m1, 'inflight']]);
	await assertQueue(s, a.id, { delivered: 1 }, 'the one on its way is delivered');
	await sleep(300);
	assert.deepEqual(sink.requests.map((x) => JSON.parse(x.text).id), ['p1'],
	    'nothing purged was sent');
	for (const m of [m2, m3, m4]) {
		const d = await s.api('GET', `/api/v1/subscriptions/${a.id}/messages/${m}`);
		assert.equal(d.status, 404, d.text);
	}
	await s.stop();
});
