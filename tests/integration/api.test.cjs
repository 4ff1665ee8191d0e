'use strict';
/*
 * api.test.cjs: the admin REST API against the real sluiced: topics (list,
 * create, read, update, delete, with their errors), the events list with
 * its filters and cursor paging (next_cursor null on an exactly full last
 * page), empty query parameters taken as absent on every list, and the
 * admin token.
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

test('GET /api/v1/topics lists the built-in topic default on a fresh database', async () => {
	const r = await s.api('GET', '/api/v1/topics');
	assert.equal(r.status, 200, r.text);
	assert.match(r.headers['content-type'], /^application\/json/);
	assert.ok(Array.isArray(r.json.items));
	assert.equal(r.json.next_cursor, null);
	const def = r.json.items.find((t) => t.name === 'default');
	assert.ok(def, r.text);
	assert.equal(def.ingest_path, '/events');
});

test('POST /api/v1/topics: 201 with Location, then GET one shows it', async () => {
	const r = await s.api('POST', '/api/v1/topics',
	    { name: 'orders.v1', description: 'orders' });
	assert.equal(r.status, 201, r.text);
	assert.equal(r.headers.location, '/api/v1/topics/orders.v1');
	assert.equal(r.json.name, 'orders.v1');
	assert.equal(r.json.description, 'orders');
	assert.equal(r.json.ingest_path, '/topics/orders.v1/events');
	assert.equal(r.json.publish_token_set, false);
	const g = await s.api('GET', r.headers.location);
	assert.equal(g.status, 200);
	assert.deepEqual(g.json, r.json);
	const l = await s.api('GET', '/api/v1/topics');
	assert.ok(l.json.items.some((t) => t.name === 'orders.v1'));
});

test('POST /api/v1/topics: 409 for a name that exists', async () => {
	await s.createTopic('twice');
	const r = await s.api('POST', '/api/v1/topics', { name: 'twice' });
	assertProblem(r, 409, 'name');
	assert.match(r.json.detail, /twice/);
	const d = await s.api('POST', '/api/v1/topics', { name: 'default' });
	assertProblem(d, 409, 'name');
});

test('POST /api/v1/topics: 400 naming the field for bad names, types and unknown fields', async () => {
	const cases = [
		[{ name: 'has space' }, 'name'],
		[{ name: '' }, 'name'],
		[{ name: '-leading' }, 'name'],
		[{ name: 'x'.repeat(129) }, 'name'],
		[{ name: 'a/b' }, 'name'],
		[{ name: 7 }, 'name'],
		[{}, 'name'],
		[{ name: 'ok', colour: 'red' }, 'colour'],
		[{ name: 'ok', description: 5 }, 'description'],
		[{ name: 'ok', publish_token: '' }, 'publish_token'],
		[{ name: 'ok', publish_token: 'x'.repeat(257) }, 'publish_token'],
	];
	for (const [body, field] of cases) {
		const r = await s.api('POST', '/api/v1/topics', body);
		assertProblem(r, 400, field);
	}
	for (const body of ['not json', '[1,2]', '{"name":"a","name":"b"}']) {
		const r = await s.api('POST', '/api/v1/topics', body,
		    { headers: { 'content-type': 'application/json' } });
		assertProblem(r, 400);
	}
	const l = await s.api('GET', '/api/v1/topics');
	assert.ok(!l.json.items.some((t) => t.name === 'ok'),
	    'no topic made by a refused request');
});

test('GET /api/v1/topics/{name}: 404 for an unknown topic', async () => {
	assertProblem(await s.api('GET', '/api/v1/topics/nope'), 404);
});

test('PATCH /api/v1/topics/{name}: changes the description, 400 and 404 as expected', async () => {
	await s.createTopic('patchme', { description: 'before' });
	const r = await s.api('PATCH', '/api/v1/topics/patchme',
	    { description: 'after' });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.description, 'after');
	assert.equal(r.json.name, 'patchme');
	const g = await s.api('GET', '/api/v1/topics/patchme');
	assert.equal(g.json.description, 'after');
	/* a publish token set and cleared */
	let p = await s.api('PATCH', '/api/v1/topics/patchme',
	    { publish_token: 'a-long-enough-token-123' });
	assert.equal(p.status, 200, p.text);
	assert.equal(p.json.publish_token_set, true);
	assert.equal(p.json.description, 'after', 'untouched fields stay');
	const pub = await s.publishStructured({ id: '1', source: '/s', type: 't' },
	    { topic: 'patchme' });
	assert.equal(pub.status, 401);
	p = await s.api('PATCH', '/api/v1/topics/patchme', { publish_token: null });
	assert.equal(p.json.publish_token_set, false);
	assertProblem(await s.api('PATCH', '/api/v1/topics/patchme',
	    { name: 'renamed' }), 400, 'name');
	assertProblem(await s.api('PATCH', '/api/v1/topics/patchme',
	    { description: [] }), 400, 'description');
	assertProblem(await s.api('PATCH', '/api/v1/topics/nope',
	    { description: 'x' }), 404);
});

test('DELETE /api/v1/topics/{name}: 204, then 404; default cannot be deleted', async () => {
	await s.createTopic('gone');
	const pub = await s.publishStructured({ id: '1', source: '/s', type: 't' },
	    { topic: 'gone' });
	assert.equal(pub.status, 202);
	const d = await s.api('DELETE', '/api/v1/topics/gone');
	assert.equal(d.status, 204, d.text);
	assert.equal(d.text, '');
	assertProblem(await s.api('GET', '/api/v1/topics/gone'), 404);
	assertProblem(await s.api('DELETE', '/api/v1/topics/gone'), 404);
	assertProblem(await s.publishStructured({ id: '2', source: '/s',
		type: 't' }, { topic: 'gone' }), 404);
	const def = await s.api('DELETE', '/api/v1/topics/default');
	assert.ok(def.status === 409 || def.status === 403, def.text);
	assertProblem(def, def.status);
	assert.equal((await s.api('GET', '/api/v1/topics/default')).status, 200);
	const sys = await s.api('DELETE', '/api/v1/topics/$sys');
	assert.ok(sys.status >= 400 && sys.status < 500, sys.text);
	/* a deleted name can be made again */
	await s.createTopic('gone');
});

test('405 with Allow for methods a topics route does not take', async () => {
	const r = await s.api('PUT', '/api/v1/topics', {});
	assertProblem(r, 405);
	assert.match(r.headers.allow, /GET/);
	assert.match(r.headers.allow, /POST/);
	const one = await s.api('POST', '/api/v1/topics/default', {});
	assertProblem(one, 405);
	assert.match(one.headers.allow, /PATCH/);
});

test('topics list pages with limit and cursor', async () => {
	for (let i = 0; i < 5; i++)
		await s.createTopic(`page-${i}`);
	const all = (await s.api('GET', '/api/v1/topics?limit=1000')).json.items
	    .map((t) => t.name);
	const seen = [];
	let cursor = null;
	for (let n = 0; n < 100; n++) {
		const q = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` :
		    '?limit=2';
		const r = await s.api('GET', `/api/v1/topics${q}`);
		assert.equal(r.status, 200, r.text);
		assert.ok(r.json.items.length <= 2);
		seen.push(...r.json.items.map((t) => t.name));
		cursor = r.json.next_cursor;
		if (cursor === null)
			break;
	}
	assert.deepEqual(seen, all);
	assert.equal(new Set(seen).size, seen.length);
});

test('events list filters by topic, type and source', async () => {
	await s.createTopic('filt');
	const plan = [
		['default', 'com.a', '/src/1'], ['default', 'com.b', '/src/1'],
		['filt', 'com.a', '/src/2'], ['filt', 'com.a', '/src/1'],
		['filt', 'com.b', '/src/2'], ['default', 'com.a', '/src/2'],
	];
	const sent = [];
	for (const [i, [topic, type, source]] of plan.entries()) {
		const id = `filter-${i}`;
		const r = await s.publishStructured({ id, type, source,
			data: { i } }, { topic });
		assert.equal(r.status, 202, r.text);
		sent.push({ msg: r.json.accepted[0].msg, topic, type, source, id });
	}
	const expect = (f) => sent.filter(f).map((e) => e.msg);
	const got = async (q) => (await s.allEvents(q))
	    .filter((it) => it.event.id.startsWith('filter-')).map((it) => it.msg);
	assert.deepEqual(await got({ topic: 'filt' }),
	    expect((e) => e.topic === 'filt'));
	assert.deepEqual(await got({ type: 'com.a' }),
	    expect((e) => e.type === 'com.a'));
	assert.deepEqual(await got({ source: '/src/2' }),
	    expect((e) => e.source === '/src/2'));
	assert.deepEqual(await got({ topic: 'filt', type: 'com.a' }),
	    expect((e) => e.topic === 'filt' && e.type === 'com.a'));
	assert.deepEqual(await got({ topic: 'default', type: 'com.a',
		source: '/src/2' }), expect((e) => e.topic === 'default' &&
	    e.type === 'com.a' && e.source === '/src/2'));
	assert.deepEqual(await got({ type: 'com.none' }), []);
	const items = await s.allEvents({ topic: 'filt', source: '/src/1' });
	assert.equal(items.length, 1);
	assert.equal(items[0].topic, 'filt');
	assert.deepEqual(items[0].event.data, { i: 3 });
	assertProblem(await s.api('GET', '/api/v1/events?topic=nope'), 404);
});

test('events list: 250 events paged by 100 with no gaps and no repeats', async () => {
	await s.createTopic('paging');
	const batch = [];
	for (let i = 0; i < 250; i++)
		batch.push({ id: `p-${i}`, source: '/paging', type: 'page',
			data: { i } });
	const sentMsgs = [];
	for (let o = 0; o < 250; o += 50) {
		const r = await s.publishBatch(batch.slice(o, o + 50),
		    { topic: 'paging' });
		assert.equal(r.status, 202, r.text);
		sentMsgs.push(...r.json.accepted.map((a) => a.msg));
	}
	const pages = [];
	let cursor = null;
	do {
		const q = `/api/v1/events?topic=paging&limit=100` +
		    (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
		const r = await s.api('GET', q);
		assert.equal(r.status, 200, r.text);
		pages.push(r.json.items);
		cursor = r.json.next_cursor;
		assert.ok(pages.length <= 4, 'paging ends');
	} while (cursor !== null);
	assert.deepEqual(pages.map((p) => p.length), [100, 100, 50]);
	const msgs = pages.flat().map((it) => it.msg);
	assert.equal(new Set(msgs).size, 250, 'no repeats');
	assert.deepEqual(msgs, sentMsgs, 'every event, in the order accepted');
	assert.deepEqual(pages.flat().map((it) => it.event.data.i),
	    [...Array(250).keys()]);
	/* a page boundary on exactly the last event */
	const r = await s.api('GET', '/api/v1/events?topic=paging&limit=50&cursor=' +
	    encodeURIComponent(msgs[199]));
	assert.equal(r.json.items.length, 50);
	const last = await s.api('GET', '/api/v1/events?topic=paging&limit=50&cursor=' +
	    encodeURIComponent(msgs[249]));
	assert.deepEqual(last.json, { items: [], next_cursor: null });
});

test('events list: 400 naming limit or cursor when they are bad', async () => {
	for (const l of ['0', '1001', 'ten', '-1', '5x'])
		assertProblem(await s.api('GET', `/api/v1/events?limit=${l}`), 400,
		    'limit');
	assertProblem(await s.api('GET', '/api/v1/events?cursor=not*a*cursor'),
	    400, 'cursor');
});

/*
 * Walks the list at path by pages of limit; asserts every page is
 * non-empty and full but for the last, which says next_cursor null.
 * Returns the items.
 */
async function walk(path, limit) {
	const items = [];
	const sep = path.includes('?') ? '&' : '?';
	let cursor = null;
	for (let pages = 1; pages <= 1000; pages++) {
		const r = await s.api('GET', `${path}${sep}limit=${limit}` +
		    (cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`));
		assert.equal(r.status, 200, r.text);
		assert.ok(r.json.items.length > 0 || (pages === 1 && items.length === 0),
		    `${path} limit ${limit}: page ${pages} is empty (a cursor that ` +
		    `leads nowhere)`);
		assert.ok(r.json.items.length <= limit);
		items.push(...r.json.items);
		cursor = r.json.next_cursor;
		if (cursor === null)
			return items;
		assert.equal(r.json.items.length, limit,
		    `${path} limit ${limit}: a page with a cursor is full`);
	}
	throw new Error(`${path}: paging does not end`);
}

test('topics list: an exactly full last page says next_cursor null; every page size sees each topic once', async () => {
	for (let i = 0; i < 3; i++)
		await s.createTopic(`exact-${i}`);
	const all = (await s.api('GET', '/api/v1/topics?limit=1000')).json.items
	    .map((t) => t.name);
	const n = all.length;
	assert.ok(n >= 4, `${n} topics`);
	let r = await s.api('GET', `/api/v1/topics?limit=${n}`);
	assert.equal(r.json.items.length, n);
	assert.equal(r.json.next_cursor, null, 'exactly full: the last page');
	r = await s.api('GET', `/api/v1/topics?limit=${n - 1}`);
	assert.equal(r.json.items.length, n - 1);
	assert.notEqual(r.json.next_cursor, null, 'one more exists');
	r = await s.api('GET', `/api/v1/topics?limit=${n - 1}&cursor=` +
	    encodeURIComponent(r.json.next_cursor));
	assert.deepEqual(r.json.items.map((t) => t.name), [all[n - 1]]);
	assert.equal(r.json.next_cursor, null);
	for (let k = 1; k <= n + 1; k++) {
		const seen = (await walk('/api/v1/topics', k)).map((t) => t.name);
		assert.deepEqual(seen, all, `limit ${k}`);
	}
});

test('events list: an exactly full last page says next_cursor null, with and without filters; every page size sees each event once', async () => {
	await s.createTopic('exact-ev');
	const sent = [];
	for (let i = 0; i < 6; i++) {
		const r = await s.publishStructured({ id: `ex-${i}`, source: '/ex',
			type: i % 2 ? 'odd' : 'even' }, { topic: 'exact-ev' });
		assert.equal(r.status, 202, r.text);
		sent.push(r.json.accepted[0].msg);
	}
	const q = '/api/v1/events?topic=exact-ev';
	let r = await s.api('GET', `${q}&limit=6`);
	assert.deepEqual(r.json.items.map((e) => e.msg), sent);
	assert.equal(r.json.next_cursor, null, 'exactly full: the last page');
	r = await s.api('GET', `${q}&type=odd&limit=3`);
	assert.deepEqual(r.json.items.map((e) => e.msg),
	    [sent[1], sent[3], sent[5]]);
	assert.equal(r.json.next_cursor, null, 'filtered, exactly full');
	r = await s.api('GET', `${q}&limit=3&cursor=${sent[2]}`);
	assert.deepEqual(r.json.items.map((e) => e.msg), sent.slice(3));
	assert.equal(r.json.next_cursor, null, 'from a cursor, exactly full');
	for (let k = 1; k <= 7; k++)
		assert.deepEqual((await walk(q, k)).map((e) => e.msg), sent,
		    `limit ${k}`);
	/* every event of every topic, on one exactly full page */
	const all = await s.allEvents();
	assert.ok(all.length <= 1000);
	r = await s.api('GET', `/api/v1/events?limit=${all.length}`);
	assert.equal(r.json.items.length, all.length);
	assert.equal(r.json.next_cursor, null);
});

test('empty query parameters are absent: each list\'s URL template with every value empty answers 200 with the items of no parameters', async (t) => {
	const e = await start({ t, args: ['--stats-interval', '0'] });
	await e.createTopic('tmpl');
	const sub = await e.api('POST', '/api/v1/subscriptions',
	    { topic: 'tmpl', delivery_method: 'pull' });
	assert.equal(sub.status, 201, sub.text);
	for (let i = 0; i < 4; i++) {
		const r = await e.publishStructured({ id: `tm-${i}`, source: '/tm',
			type: `t${i % 2}` }, { topic: i < 3 ? 'tmpl' : 'default' });
		assert.equal(r.status, 202, r.text);
	}
	const lists = [
		['/api/v1/topics', 'limit=&cursor='],
		['/api/v1/events', 'topic=&type=&source=&limit=&cursor='],
		[`/api/v1/subscriptions/${sub.json.id}/messages`,
		    'state=&q=&limit=&cursor='],
		['/api/v1/sysevents', 'operation=&limit=&cursor='],
		['/api/v1/eventtypes', 'topic=&limit=&cursor='],
	];
	for (const [path, template] of lists) {
		const plain = await e.api('GET', path);
		assert.equal(plain.status, 200, `${path}: ${plain.text}`);
		assert.ok(plain.json.items.length > 0, `${path} lists something`);
		const empty = await e.api('GET', `${path}?${template}`);
		assert.equal(empty.status, 200, `${path}?${template}: ${empty.text}`);
		assert.deepEqual(empty.json, plain.json, `${path}?${template}`);
		for (const one of template.split('&')) {
			const r = await e.api('GET', `${path}?${one}`);
			assert.equal(r.status, 200, `${path}?${one}: ${r.text}`);
			assert.deepEqual(r.json, plain.json, `${path}?${one}`);
		}
	}
	/* a client that always sends cursor=, empty on the first page */
	for (const path of ['/api/v1/events?topic=tmpl&type=&source=',
	    `/api/v1/subscriptions/${sub.json.id}/messages?state=&q=`]) {
		const seen = [];
		let cursor = null;
		for (let pages = 0; pages < 10 && (pages === 0 || cursor); pages++) {
			const r = await e.api('GET', `${path}&limit=2&cursor=` +
			    encodeURIComponent(cursor ?? ''));
			assert.equal(r.status, 200, `${path}: ${r.text}`);
			seen.push(...r.json.items.map((x) => x.msg));
			cursor = r.json.next_cursor;
		}
		assert.equal(cursor, null, `${path} ends`);
		assert.equal(seen.length, 3, `${path}: ${seen}`);
		assert.equal(new Set(seen).size, 3);
	}
	/* empty values next to real ones: the real ones still filter */
	const r = await e.api('GET',
	    '/api/v1/events?topic=tmpl&type=t1&source=&limit=&cursor=');
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json.items.map((x) => x.event.id), ['tm-1']);
	await e.stop();
});

test('empty query parameters are absent on the subscriptions list too', async (t) => {
	const e = await start({ t });
	const sub = await e.api('POST', '/api/v1/subscriptions',
	    { delivery_method: 'pull' });
	assert.equal(sub.status, 201, sub.text);
	const plain = await e.api('GET', '/api/v1/subscriptions');
	assert.equal(plain.status, 200, plain.text);
	assert.equal(plain.json.items.length, 1);
	for (const q of ['topic=&limit=&cursor=', 'topic=', 'limit=', 'cursor=']) {
		const r = await e.api('GET', `/api/v1/subscriptions?${q}`);
		assert.equal(r.status, 200, `?${q}: ${r.text}`);
		assert.deepEqual(r.json, plain.json, `?${q}`);
	}
	await e.stop();
});

test('GET /api/v1/events/{msg}: 404 for a message that does not exist', async () => {
	assertProblem(await s.api('GET', '/api/v1/events/nonsense'), 404);
	const r = await s.publishStructured({ id: 'x-404', source: '/s', type: 't' });
	const msg = r.json.accepted[0].msg;
	assert.equal((await s.api('GET', `/api/v1/events/${msg}`)).status, 200);
	const other = msg.slice(0, -1) + (msg.endsWith('1') ? '2' : '1');
	assertProblem(await s.api('GET', `/api/v1/events/${other}`), 404);
});

test('admin 404 and 409 answers name what they concern in errors: id, topic, msg, name, delivery_method', async () => {
	const sub = await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'default', sink: 'http://127.0.0.1:9/x', state: 'pub_only' });
	assert.equal(sub.status, 201, sub.text);
	const cases = [
		['GET', '/api/v1/subscriptions/999999', 404, 'id'],
		['PATCH', '/api/v1/subscriptions/999999', 404, 'id', { name: 'x' }],
		['DELETE', '/api/v1/subscriptions/999999', 404, 'id'],
		['POST', '/api/v1/subscriptions/999999/pause', 404, 'id', {}],
		['GET', '/api/v1/subscriptions/999999/messages', 404, 'id'],
		['GET', '/api/v1/subscriptions?topic=nope', 404, 'topic'],
		['GET', '/api/v1/events?topic=nope', 404, 'topic'],
		['GET', '/api/v1/eventtypes?topic=nope', 404, 'topic'],
		['GET', '/api/v1/events/nonsense', 404, 'msg'],
		['GET', `/api/v1/subscriptions/${sub.json.id}/messages/nonsense`, 404,
		    'msg'],
		['GET', '/api/v1/topics/nope', 404, 'name'],
		['PATCH', '/api/v1/topics/nope', 404, 'name', { description: 'x' }],
		['DELETE', '/api/v1/topics/nope', 404, 'name'],
		['DELETE', '/api/v1/topics/default', 409, 'name'],
		['POST', `/api/v1/subscriptions/${sub.json.id}/pull`, 409,
		    'delivery_method', {}],
	];
	for (const [method, path, status, field, body] of cases)
		assertProblem(await s.api(method, path, body), status, field);
	assert.equal((await s.api('DELETE',
	    `/api/v1/subscriptions/${sub.json.id}`)).status, 204);
});

test('ids and cursors are whole numbers: a sign, a space, trailing text or a value past 64 bits is refused, and the daemon goes on answering', async () => {
	const a = await s.api('POST', '/api/v1/subscriptions',
	    { topic: 'default', sink: 'http://127.0.0.1:9/a', state: 'pub_only' });
	assert.equal(a.status, 201, a.text);
	const id = a.json.id;
	for (const bad of [`+${id}`, `%20${id}`, `${id}abc`, '0', '-1',
	    '9223372036854775808', '99999999999999999999'])
		assertProblem(await s.api('GET', `/api/v1/subscriptions/${bad}`),
		    404, 'id');
	for (const list of ['/api/v1/subscriptions', '/api/v1/sysevents',
	    '/api/v1/eventtypes']) {
		for (const bad of ['5abc', '+5', '-5', '0',
		    '9223372036854775808', '99999999999999999999'])
			assertProblem(await s.api('GET',
			    `${list}?cursor=${encodeURIComponent(bad)}`), 400,
			    'cursor');
		for (const bad of ['+5', '10abc', '1001', '99999999999999999999'])
			assertProblem(await s.api('GET', `${list}?limit=${bad}`),
			    400, 'limit');
	}
	/* no id follows the largest one (the ASan build died here) */
	assertProblem(await s.api('GET',
	    '/api/v1/subscriptions?cursor=9223372036854775807'), 400, 'cursor');
	/* the largest cursor a page can hand out still reads as one */
	const r = await s.api('GET',
	    '/api/v1/subscriptions?cursor=9223372036854775806');
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(r.json.items, []);
	assert.equal((await s.api('GET', `/api/v1/subscriptions/${id}`)).status,
	    200);
	assert.equal((await s.api('DELETE', `/api/v1/subscriptions/${id}`)).status,
	    204);
});

test('404 problem+json for a path that does not exist', async () => {
	assertProblem(await s.api('GET', '/api/v1/nothing-here'), 404);
});

test('the shared server stops cleanly (exit 0)', async () => {
	assert.equal((await s.stop()).code, 0);
});

test('--admin-token: /api/v1 needs the bearer token (401 without, 403 wrong)', async (t) => {
	const token = 'admin-secret-token-42';
	const a = await start({ t, args: ['--admin-token', token] });
	let r = await a.api('GET', '/api/v1/topics');
	assertProblem(r, 401);
	assert.match(r.headers['www-authenticate'] || '', /Bearer/);
	r = await a.api('GET', '/api/v1/topics', null, { token: 'wrong' });
	assertProblem(r, 403);
	r = await a.api('GET', '/api/v1/topics', null, { token });
	assert.equal(r.status, 200);
	r = await a.api('POST', '/api/v1/topics', { name: 'nope' });
	assertProblem(r, 401);
	r = await a.api('GET', '/api/v1/topics/nope', null, { token });
	assert.equal(r.status, 404, 'the unauthenticated create did nothing');
	/* ingest stays open */
	r = await a.publishStructured({ id: '1', source: '/s', type: 't' });
	assert.equal(r.status, 202);
	await a.stop();
});

test('concurrent reads and writes of one subscription: every answer is whole, and the server stops cleanly (no sanitizer report)', async (t) => {
	const c = await start({ t, args: ['--http-threads', '4'] });
	const filters = [{ prefix: { type: 'com.example.' } },
	    { not: { exact: { source: '/x' } } }];
	const sub = await c.api('POST', '/api/v1/subscriptions', {
	    sink: 'http://127.0.0.1:9/race', state: 'pub_only', filters });
	assert.equal(sub.status, 201, sub.text);
	const path = `/api/v1/subscriptions/${sub.json.id}`;
	/* four HTTP threads read the same catalog entry while PATCHes
	 * replace it */
	const reads = await Promise.all(Array.from({ length: 200 }, (_, i) =>
	    i % 20 === 0 ? c.api('PATCH', path, { max_attempts: 1 + i / 20 }) :
	    i % 2 ? c.api('GET', path) :
	    c.api('GET', '/api/v1/subscriptions?limit=10')));
	for (const r of reads) {
		assert.equal(r.status, 200, r.text);
		const s = r.json.items ? r.json.items[0] : r.json;
		assert.deepEqual(s.filters, filters);
	}
	await c.stop();
});
