'use strict';
/*
 * pull.test.cjs: pull delivery against the real sluiced: pull leases up to
 * max messages for lease_ms in queue order and returns them with receipts;
 * ack marks them delivered; nack makes them due again with an attempt
 * counted, dead at max_attempts; a lease that runs out makes them due again
 * (attempt counted) within about lease_ms; concurrent pulls never lease a
 * message twice; notify subscriptions and the pub_only and disabled states
 * answer 409; bad bodies answer 400 naming the field.  The answer is shaped
 * like every list, with "next_cursor": null.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, sleep, assertProblem, timingSlack } =
    require('../lib/sluice.cjs');

const WAIT = 15000;
const SLACK = timingSlack(700);

let s;
let nTopic = 0;

test.before(async () => {
	s = await start();
});

test.after(async () => {
	if (s) {
		await s.stop();
		await s.cleanup();
	}
});

async function topic() {
	const name = `pt${++nTopic}`;
	await s.createTopic(name);
	return name;
}

async function pullSub(fields = {}) {
	const tp = fields.topic || await topic();
	const r = await s.api('POST', '/api/v1/subscriptions',
	    Object.assign({ topic: tp, delivery_method: 'pull' }, fields));
	assert.equal(r.status, 201, `create pull subscription: ${r.text}`);
	return r.json;
}

async function publishN(tp, n, from = 1) {
	const evs = [];
	for (let i = from; i < from + n; i++)
		evs.push({ specversion: '1.0', id: `p-${i}`, source: '/test/pull',
		    type: 'com.example.pull', datacontenttype: 'application/json',
		    data: { i } });
	const r = await s.publishBatch(evs, { topic: tp });
	assert.equal(r.status, 202, r.text);
	return { evs, msgs: r.json.accepted.map((a) => a.msg) };
}

async function pull(id, body = {}) {
	const r = await s.api('POST', `/api/v1/subscriptions/${id}/pull`, body);
	assert.equal(r.status, 200, `pull: ${r.text}`);
	assert.ok(Array.isArray(r.json.items));
	/* shaped like every list: no further page, a pull leases the next */
	assert.ok('next_cursor' in r.json, `next_cursor in ${r.text}`);
	assert.equal(r.json.next_cursor, null);
	return r.json.items;
}

async function ack(id, receipts, what = 'ack') {
	const r = await s.api('POST', `/api/v1/subscriptions/${id}/${what}`,
	    { receipts });
	assert.equal(r.status, 200, `${what}: ${r.text}`);
	return r.json;
}

async function message(id, msg) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}/messages/${msg}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

async function getSub(id) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

test('a pull subscription: no sink, created as delivery_method pull', async () => {
	const sub = await pullSub();
	assert.equal(sub.delivery_method, 'pull');
	assert.equal(sub.sink ?? null, null);
	const tp = await topic();
	const r = await s.api('POST', '/api/v1/subscriptions', { topic: tp,
	    delivery_method: 'pull', sink: 'http://127.0.0.1:9/' });
	assertProblem(r, 400, 'sink');
});

test('pull leases up to max messages in queue order with receipts and the events; a second pull gets the next ones', async () => {
	const sub = await pullSub();
	const { evs, msgs } = await publishN(sub.topic, 7);
	const a = await pull(sub.id, { max: 3, lease_ms: 30000 });
	assert.equal(a.length, 3);
	assert.deepEqual(a.map((i) => i.msg), msgs.slice(0, 3));
	for (let i = 0; i < 3; i++) {
		assert.equal(typeof a[i].receipt, 'string');
		assert.ok(a[i].receipt.length > 8, 'a receipt');
		assert.deepEqual(a[i].event, evs[i]);
		assert.equal(a[i].attempts, 0);
		if (a[i].lease_until !== undefined) {
			const lu = Date.parse(a[i].lease_until);
			assert.ok(lu > Date.now() + 25000 && lu < Date.now() + 31000,
			    `lease_until ${a[i].lease_until}`);
		}
	}
	assert.equal(new Set(a.map((i) => i.receipt)).size, 3, 'receipts differ');
	const b = await pull(sub.id, { max: 10, lease_ms: 30000 });
	assert.deepEqual(b.map((i) => i.msg), msgs.slice(3), 'the next four');
	assert.deepEqual(await pull(sub.id, { max: 10 }), [], 'all leased');
	const st = await getSub(sub.id);
	assert.equal(st.status.queue.inflight, 7);
	assert.equal(st.status.queue.pending, 0);
	/* default max is 10 */
	const sub2 = await pullSub();
	await publishN(sub2.topic, 12);
	assert.equal((await pull(sub2.id)).length, 10);
});

test('the pull answer is {"items":[...],"next_cursor":null}, full, partial or empty', async () => {
	const sub = await pullSub();
	await publishN(sub.topic, 3);
	for (const [max, n] of [[2, 2], [5, 1], [5, 0]]) {
		const r = await s.api('POST', `/api/v1/subscriptions/${sub.id}/pull`,
		    { max });
		assert.equal(r.status, 200, r.text);
		assert.deepEqual(Object.keys(r.json).sort(), ['items', 'next_cursor']);
		assert.equal(r.json.items.length, n);
		assert.equal(r.json.next_cursor, null);
	}
});

test('ack: the messages are delivered (attempt ok); an acked receipt is unknown afterwards', async () => {
	const sub = await pullSub();
	const { msgs } = await publishN(sub.topic, 3);
	const items = await pull(sub.id, { max: 3 });
	assert.equal((await getSub(sub.id)).status.last_success_at, null);
	const r = await ack(sub.id, items.slice(0, 2).map((i) => i.receipt));
	assert.equal(r.acked, 2);
	assert.deepEqual(r.unknown, []);
	/* the status says when the endpoint last took a message */
	const when = (await getSub(sub.id)).status.last_success_at;
	assert.ok(when && Math.abs(Date.parse(when) - Date.now()) < 60000, when);
	for (const m of msgs.slice(0, 2)) {
		const x = await message(sub.id, m);
		assert.equal(x.delivery.state, 'delivered');
		assert.equal(x.attempts.length, 1);
		assert.equal(x.attempts[0].outcome, 'ok');
	}
	assert.equal((await message(sub.id, msgs[2])).delivery.state, 'inflight');
	const again = await ack(sub.id, [items[0].receipt, 'no-such-receipt']);
	assert.equal(again.acked, 0);
	assert.deepEqual(again.unknown, [items[0].receipt, 'no-such-receipt']);
	const st = await getSub(sub.id);
	assert.equal(st.status.queue.delivered, 2);
	assert.equal(st.status.queue.inflight, 1);
	/* a delivered message is never pulled again */
	await ack(sub.id, [items[2].receipt]);
	assert.deepEqual(await pull(sub.id), []);
});

test('nack: the message is pending again with an attempt counted, first in line; dead at max_attempts with delivery.dead', async () => {
	const sub = await pullSub({ max_attempts: 3 });
	const { msgs } = await publishN(sub.topic, 2);
	let items = await pull(sub.id, { max: 1 });
	assert.equal(items[0].msg, msgs[0]);
	const r = await ack(sub.id, [items[0].receipt], 'nack');
	assert.equal(r.nacked, 1);
	const nacked = (await getSub(sub.id)).status;
	assert.equal(nacked.last_error, 'nack');
	assert.ok(nacked.last_error_at, 'last_error_at');
	assert.equal(nacked.paused, false, 'a nack does not pause pull');
	let x = await message(sub.id, msgs[0]);
	assert.equal(x.delivery.state, 'pending');
	assert.equal(x.delivery.attempts, 1);
	assert.equal(x.attempts[0].outcome, 'nack');
	items = await pull(sub.id, { max: 1 });
	assert.equal(items[0].msg, msgs[0], 'the nacked message comes first');
	assert.equal(items[0].attempts, 1);
	await ack(sub.id, [items[0].receipt], 'nack');
	items = await pull(sub.id, { max: 1 });
	assert.equal(items[0].attempts, 2);
	await ack(sub.id, [items[0].receipt], 'nack');
	x = await message(sub.id, msgs[0]);
	assert.equal(x.delivery.state, 'dead');
	assert.equal(x.delivery.attempts, 3);
	const se = await s.api('GET', '/api/v1/sysevents?limit=1000');
	const dead = se.json.items.find((i) => i.operation === 'delivery.dead' &&
	    JSON.stringify(i).includes(msgs[0]));
	assert.ok(dead, 'delivery.dead recorded');
	assert.equal(dead.metadata.attempts, 3, 'as a push message\'s does');
	items = await pull(sub.id, { max: 5 });
	assert.deepEqual(items.map((i) => i.msg), [msgs[1]], 'the queue moves on');
	const st = await getSub(sub.id);
	assert.equal(st.status.queue.dead, 1);
});

test('lease expiry: unacked messages are due again within about lease_ms, with an attempt counted; the old receipt is then unknown', async () => {
	const sub = await pullSub();
	const { msgs } = await publishN(sub.topic, 2);
	const t0 = Date.now();
	const first = await pull(sub.id, { max: 2, lease_ms: 1000 });
	assert.equal(first.length, 2);
	assert.deepEqual(await pull(sub.id, { max: 2, lease_ms: 1000 }), []);
	let again;
	for (;;) {
		again = await pull(sub.id, { max: 2, lease_ms: 30000 });
		if (again.length > 0 || Date.now() - t0 > WAIT)
			break;
		await sleep(50);
	}
	const after = Date.now() - t0;
	assert.ok(after >= 950 && after <= 1000 + SLACK,
	    `due again after ${after} ms, lease 1000 ms`);
	if (again.length < 2)
		again.push(...await pull(sub.id, { max: 2, lease_ms: 30000 }));
	assert.deepEqual(again.map((i) => i.msg).sort(), [...msgs].sort());
	for (const i of again)
		assert.equal(i.attempts, 1, 'the lease that ran out counts');
	const x = await message(sub.id, msgs[0]);
	assert.equal(x.attempts.length, 1);
	assert.match((await getSub(sub.id)).status.last_error, /lease/);
	const stale = await ack(sub.id, first.map((i) => i.receipt));
	assert.equal(stale.acked, 0, 'an expired lease\'s receipt does not ack');
	assert.equal(stale.unknown.length, 2);
	const ok = await ack(sub.id, again.map((i) => i.receipt));
	assert.equal(ok.acked, 2);
});

test('lease expiry at max_attempts: dead', async () => {
	const sub = await pullSub({ max_attempts: 1 });
	const { msgs } = await publishN(sub.topic, 1);
	await pull(sub.id, { max: 1, lease_ms: 1000 });
	const end = Date.now() + 1000 + SLACK + 1000;
	let x;
	for (;;) {
		x = await message(sub.id, msgs[0]);
		if (x.delivery.state === 'dead' || Date.now() > end)
			break;
		await sleep(100);
	}
	assert.equal(x.delivery.state, 'dead');
	assert.deepEqual(await pull(sub.id), []);
});

test('concurrent pulls never lease a message twice', async (t) => {
	const sub = await pullSub();
	const { msgs } = await publishN(sub.topic, 40);
	const all = await Promise.all(Array.from({ length: 6 }, () =>
		pull(sub.id, { max: 10 })));
	const got = all.flat().map((i) => i.msg);
	t.diagnostic(`6 concurrent pulls of max 10 on 40 messages got ` +
	    `${all.map((a) => a.length)}`);
	assert.equal(new Set(got).size, got.length, 'no message twice');
	/* whatever a racing pull missed, later pulls get */
	for (let i = 0; i < 10 && got.length < 40; i++)
		got.push(...(await pull(sub.id, { max: 10 })).map((x) => x.msg));
	assert.deepEqual([...got].sort(), [...msgs].sort());
});

test('concurrent pulls together lease every available message (a pull returns fewer than max only when fewer are due)', async () => {
	const sub = await pullSub();
	const { msgs } = await publishN(sub.topic, 40);
	const all = await Promise.all(Array.from({ length: 6 }, () =>
		pull(sub.id, { max: 10 })));
	const got = all.flat().map((i) => i.msg);
	assert.equal(got.length, 40, `got ${all.map((a) => a.length)}`);
	assert.deepEqual([...got].sort(), [...msgs].sort());
});

test('409: pull, ack and nack on a notify subscription; pull in pub_only and disabled; sub_only pulls what is queued', async () => {
	const tp = await topic();
	const n = await s.api('POST', '/api/v1/subscriptions', { topic: tp,
	    sink: 'http://127.0.0.1:9/hook', state: 'pub_only' });
	assert.equal(n.status, 201, n.text);
	for (const what of ['pull', 'ack', 'nack']) {
		const r = await s.api('POST',
		    `/api/v1/subscriptions/${n.json.id}/${what}`,
		    what === 'pull' ? {} : { receipts: ['x'] });
		assertProblem(r, 409);
	}
	const sub = await pullSub({ state: 'pub_only' });
	await publishN(sub.topic, 3);
	assertProblem(await s.api('POST', `/api/v1/subscriptions/${sub.id}/pull`,
	    {}), 409);
	let r = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
	    { state: 'disabled' });
	assert.equal(r.status, 200, r.text);
	assertProblem(await s.api('POST', `/api/v1/subscriptions/${sub.id}/pull`,
	    {}), 409);
	r = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
	    { state: 'sub_only' });
	assert.equal(r.status, 200, r.text);
	const items = await pull(sub.id, { max: 10 });
	assert.equal(items.length, 3, 'sub_only delivers what was queued');
	await publishN(sub.topic, 2, 100);
	assert.equal((await pull(sub.id, { max: 10 })).length, 0,
	    'sub_only queues nothing new');
	r = await s.api('PATCH', `/api/v1/subscriptions/${sub.id}`,
	    { state: 'pub_and_sub' });
	assert.equal(r.status, 200, r.text);
	await publishN(sub.topic, 1, 200);
	assert.equal((await pull(sub.id, { max: 10 })).length, 1);
	assertProblem(await s.api('POST', '/api/v1/subscriptions/999999/pull', {}),
	    404);
});

test('400 naming the field: max and lease_ms out of range or mistyped, receipts missing or not a list, unknown fields', async () => {
	const sub = await pullSub();
	const p = `/api/v1/subscriptions/${sub.id}`;
	for (const [body, field] of [
		[{ max: 0 }, 'max'], [{ max: 1001 }, 'max'], [{ max: '5' }, 'max'],
		[{ max: 1.5 }, 'max'], [{ lease_ms: 10 }, 'lease_ms'],
		[{ lease_ms: 'long' }, 'lease_ms'], [{ maxx: 1 }, 'maxx'],
	])
		assertProblem(await s.api('POST', `${p}/pull`, body), 400, field);
	for (const body of [{}, { receipts: 'abc' }, { receipts: [] },
	    { receipts: [5] }])
		assertProblem(await s.api('POST', `${p}/ack`, body), 400, 'receipts');
	assertProblem(await s.api('POST', `${p}/nack`, { receipts: ['a'], x: 1 }),
	    400, 'x');
	assertProblem(await s.api('POST', `${p}/pull`, 'not json',
	    { headers: { 'content-type': 'application/json' } }), 400);
});
