'use strict';
/*
 * auth.test.cjs: who may call what.  With --admin-token every /api/v1
 * route answers 401 (with WWW-Authenticate) without a bearer token, 403
 * with a wrong one and its normal answer with the right one; ingest,
 * /healthz and the web admin's files need no admin token.  A topic's
 * publish_token guards its ingest URL (401/403/202).  Without an admin
 * token, sluiced listening on a non-loopback address refuses /api/v1
 * (403) and says why in its log at start.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, api, assertProblem } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const TOKEN = 'admin-token-for-the-auth-test-0123456789';

/* Every /api/v1 route, with the ids a test run fills in as it goes. */
function routes(ctx) {
	const sub = `/api/v1/subscriptions/${ctx.sub}`;
	const pull = `/api/v1/subscriptions/${ctx.pull}`;
	return [
		['GET', '/api/v1/topics', undefined, 200],
		['POST', '/api/v1/topics', { name: 'made' }, 201],
		['GET', '/api/v1/topics/made', undefined, 200],
		['PATCH', '/api/v1/topics/made', { description: 'd' }, 200],
		['GET', '/api/v1/events', undefined, 200],
		['GET', `/api/v1/events/${ctx.msg}`, undefined, 200],
		['GET', '/api/v1/subscriptions', undefined, 200],
		['POST', '/api/v1/subscriptions', { topic: 'made', sink: ctx.sink,
			state: 'pub_only' }, 201],
		['GET', sub, undefined, 200],
		['PATCH', sub, { batch_size: 2 }, 200],
		['GET', `${sub}/messages`, undefined, 200],
		['GET', `${sub}/messages/${ctx.msg}`, undefined, 200],
		['POST', `${sub}/pause`, {}, 200],
		['POST', `${sub}/resume`, {}, 200],
		['POST', `${sub}/retry`, { state: 'dead' }, 200],
		['POST', `${sub}/purge`, { state: 'delivered' }, 200],
		['POST', `${pull}/pull`, { max: 1 }, 200],
		['POST', `${pull}/ack`, { receipts: ['x'] }, null],
		['POST', `${pull}/nack`, { receipts: ['x'] }, null],
		['GET', '/api/v1/sysevents', undefined, 200],
		['GET', '/api/v1/eventtypes', undefined, 200],
		['GET', '/api/v1/stats', undefined, 200],
		['DELETE', sub, undefined, 204],
		['DELETE', '/api/v1/topics/made?force=true', undefined, 204],
	];
}

test('--admin-token: every /api/v1 route is 401 without a token, 403 with a wrong one, served with the right one', async (t) => {
	const sink = await startSink({ t });
	const s = await start({ t, args: ['--admin-token', TOKEN], token: TOKEN });
	/* a message queued to a pub_only subscription, and a pull one */
	const ctx = { sink: `${sink.url}/hook` };
	let r = await s.api('POST', '/api/v1/subscriptions',
	    { sink: ctx.sink, state: 'pub_only', name: 'held' });
	assert.equal(r.status, 201, r.text);
	ctx.sub = r.json.id;
	r = await s.api('POST', '/api/v1/subscriptions',
	    { delivery_method: 'pull' });
	assert.equal(r.status, 201, r.text);
	ctx.pull = r.json.id;
	r = await s.publishStructured({ id: 'a1', source: '/auth', type: 't' });
	assert.equal(r.status, 202, 'ingest needs no admin token');
	ctx.msg = r.json.accepted[0].msg;

	for (const [method, path, body] of routes(ctx)) {
		const what = `${method} ${path}`;
		r = await s.api(method, path, body, { token: null });
		assertProblem(r, 401);
		assert.match(r.headers['www-authenticate'] || '', /^Bearer\b/i,
		    `${what}: WWW-Authenticate`);
		r = await s.api(method, path, body, { token: 'not-the-token' });
		assertProblem(r, 403);
		r = await s.api(method, path, body, { token: `${TOKEN}x` });
		assertProblem(r, 403);
		r = await s.api(method, path, body, { token: TOKEN.slice(0, -1) });
		assertProblem(r, 403);
		r = await s.api(method, path, body,
		    { token: null, headers: { authorization: `Basic ${TOKEN}` } });
		assert.equal(r.status, 401, `${what} with Basic: ${r.text}`);
	}
	/* nothing above changed anything */
	r = await s.api('GET', '/api/v1/topics/made');
	assert.equal(r.status, 404, 'unauthenticated creates did nothing');
	r = await s.api('GET', `/api/v1/subscriptions/${ctx.sub}`);
	assert.equal(r.json.batch_size, 1, 'unauthenticated PATCH did nothing');
	assert.equal(r.json.status.queue.pending, 1, 'nor the purge');
	r = await s.api('GET', '/api/v1/sysevents');
	assert.deepEqual(r.json.items.map((e) => e.operation)
	    .filter((o) => !o.startsWith('server.')).sort(),
	    ['subscription.create', 'subscription.create'],
	    'only the two authorised creates are recorded');

	/* the right token: each route answers as it would */
	for (const [method, path, body, want] of routes(ctx)) {
		r = await s.api(method, path, body);
		if (method === 'POST' && path === '/api/v1/subscriptions')
			ctx.sub = r.json && r.json.id;
		if (want === null)
			assert.ok(r.status !== 401 && r.status !== 403 &&
			    r.status < 500, `${method} ${path}: ${r.status} ${r.text}`);
		else
			assert.equal(r.status, want, `${method} ${path}: ${r.text}`);
	}
	/* the scheme name is case-insensitive (RFC 7235) */
	r = await s.api('GET', '/api/v1/stats', undefined,
	    { token: null, headers: { authorization: `bearer ${TOKEN}` } });
	assert.equal(r.status, 200, r.text);
	/* the actor of a change made with the admin token */
	r = await s.api('GET', '/api/v1/sysevents?operation=topic.create');
	assert.equal(r.json.items.length, 1);
	assert.equal(typeof r.json.items[0].actor, 'string');
	await s.stop();
});

test('--admin-token: ingest, /healthz and the web admin files need no admin token', async (t) => {
	const s = await start({ t, args: ['--admin-token', TOKEN] });
	let r = await s.publishStructured({ id: '1', source: '/s', type: 't' });
	assert.equal(r.status, 202, r.text);
	r = await s.publishBinary({ id: '2', source: '/s', type: 't' }, 'x',
	    { contentType: 'text/plain' });
	assert.equal(r.status, 202, r.text);
	r = await s.publishBatch([{ id: '3', source: '/s', type: 't' }]);
	assert.equal(r.status, 202, r.text);
	r = await s.api('GET', '/healthz', undefined, { token: null });
	assert.equal(r.status, 200, r.text);
	r = await s.api('GET', '/admin/', undefined, { token: null });
	assert.equal(r.status, 200, 'the sign-in page itself is public');
	/* a wrong admin token on ingest is not looked at */
	r = await s.publishStructured({ id: '4', source: '/s', type: 't' },
	    { token: 'whatever' });
	assert.equal(r.status, 202, r.text);
	r = await s.api('GET', '/api/v1/events?topic=default', undefined,
	    { token: TOKEN });
	assert.equal(r.json.items.length, 4, r.text);
	await s.stop();
});

test('a topic with publish_token: its ingest URL is 401 without, 403 wrong, 202 right', async (t) => {
	const s = await start({ t });
	const ptoken = 'publish-token-0123456789';
	let r = await s.api('POST', '/api/v1/topics',
	    { name: 'guarded', publish_token: ptoken });
	assert.equal(r.status, 201, r.text);
	assert.equal(r.json.publish_token_set, true);
	assert.ok(!r.text.includes(ptoken), 'the token is never shown');
	r = await s.api('GET', '/api/v1/topics/guarded');
	assert.ok(!r.text.includes(ptoken), 'not on GET either');
	const ev = { id: 'g1', source: '/s', type: 't' };
	r = await s.publishStructured(ev, { topic: 'guarded' });
	assertProblem(r, 401);
	assert.match(r.headers['www-authenticate'] || '', /^Bearer\b/i);
	r = await s.publishStructured(ev, { topic: 'guarded', token: 'wrong-token-123456' });
	assertProblem(r, 403);
	r = await s.publishBinary(ev, 'x', { topic: 'guarded', token: `${ptoken}!` });
	assertProblem(r, 403);
	r = await s.publishBatch([ev], { topic: 'guarded' });
	assertProblem(r, 401);
	let list = await s.api('GET', '/api/v1/events?topic=guarded');
	assert.equal(list.json.items.length, 0, 'refused events were not stored');
	r = await s.publishStructured(ev, { topic: 'guarded', token: ptoken });
	assert.equal(r.status, 202, r.text);
	r = await s.publishBinary({ id: 'g2', source: '/s', type: 't' }, 'x',
	    { topic: 'guarded', token: ptoken, contentType: 'text/plain' });
	assert.equal(r.status, 202, r.text);
	r = await s.publishBatch([{ id: 'g3', source: '/s', type: 't' }],
	    { topic: 'guarded', token: ptoken });
	assert.equal(r.status, 202, r.text);
	list = await s.api('GET', '/api/v1/events?topic=guarded');
	assert.equal(list.json.items.length, 3);
	/* other topics stay open */
	r = await s.publishStructured({ id: 'o1', source: '/s', type: 't' });
	assert.equal(r.status, 202, r.text);
	/* PATCH changes the token; null removes it */
	const other = 'another-publish-token-42';
	r = await s.api('PATCH', '/api/v1/topics/guarded', { publish_token: other });
	assert.equal(r.status, 200, r.text);
	r = await s.publishStructured({ id: 'g4', source: '/s', type: 't' },
	    { topic: 'guarded', token: ptoken });
	assertProblem(r, 403);
	r = await s.publishStructured({ id: 'g4', source: '/s', type: 't' },
	    { topic: 'guarded', token: other });
	assert.equal(r.status, 202, r.text);
	r = await s.api('PATCH', '/api/v1/topics/guarded', { description: 'kept' });
	assert.equal(r.json.publish_token_set, true, 'a PATCH without it keeps it');
	r = await s.api('PATCH', '/api/v1/topics/guarded', { publish_token: null });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.publish_token_set, false);
	r = await s.publishStructured({ id: 'g5', source: '/s', type: 't' },
	    { topic: 'guarded' });
	assert.equal(r.status, 202, r.text);
	/* an empty token is refused, naming the field; a short one is the
	 * operator's choice */
	r = await s.api('POST', '/api/v1/topics', { name: 'weak', publish_token: '' });
	assertProblem(r, 400, 'publish_token');
	r = await s.api('POST', '/api/v1/topics', { name: 'short', publish_token: 'tok' });
	assert.equal(r.status, 201, r.text);
	r = await s.publishStructured({ id: 'g6', source: '/s', type: 't' },
	    { topic: 'short', token: 'tok' });
	assert.equal(r.status, 202, r.text);
	await s.stop();
});

test('no admin token on a non-loopback address: /api/v1 is 403 and the log says why at start', async (t) => {
	let s;
	try {
		s = await start({ t, listen: '0.0.0.0:0' });
	} catch (e) {
		t.skip(`cannot listen on 0.0.0.0 here: ${e.message.split('\n')[0]}`);
		return;
	}
	const base = `http://127.0.0.1:${s.port}`;
	assert.match(s.logs(), /admin_token|admin token/i);
	assert.match(s.logs(), /loopback/i);
	assert.match(s.logs(), /\/api\/v1|admin API/i);
	for (const p of ['/api/v1/topics', '/api/v1/subscriptions',
	    '/api/v1/sysevents', '/api/v1/stats']) {
		const r = await api(base, 'GET', p);
		assertProblem(r, 403);
		assert.match(r.json.detail, /admin_token|admin token/i, r.text);
	}
	let r = await api(base, 'POST', '/api/v1/topics', { name: 'nope' });
	assertProblem(r, 403);
	/* ingest and health stay up */
	r = await api(base, 'POST', '/events', JSON.stringify(
	    { specversion: '1.0', id: '1', source: '/s', type: 't' }),
	{ headers: { 'content-type': 'application/cloudevents+json' } });
	assert.equal(r.status, 202, r.text);
	r = await api(base, 'GET', '/healthz');
	assert.equal(r.status, 200);
	await s.stop();
});

test('with an admin token, a non-loopback address serves /api/v1 to the token', async (t) => {
	let s;
	try {
		s = await start({ t, listen: '0.0.0.0:0',
		    args: ['--admin-token', TOKEN] });
	} catch (e) {
		t.skip(`cannot listen on 0.0.0.0 here: ${e.message.split('\n')[0]}`);
		return;
	}
	const base = `http://127.0.0.1:${s.port}`;
	assert.doesNotMatch(s.logs(), /admin API \(\/api\/v1\) is off/);
	let r = await api(base, 'GET', '/api/v1/topics');
	assertProblem(r, 401);
	r = await api(base, 'GET', '/api/v1/topics', undefined, { token: TOKEN });
	assert.equal(r.status, 200, r.text);
	await s.stop();
});

test('an empty admin token counts as none: "Authorization: Bearer " opens nothing', async (t) => {
	let s;
	try {
		s = await start({ t, listen: '0.0.0.0:0', args: ['--admin-token', ''] });
	} catch (e) {
		t.skip(`cannot listen on 0.0.0.0 here: ${e.message.split('\n')[0]}`);
		return;
	}
	const base = `http://127.0.0.1:${s.port}`;
	for (const h of ['Bearer ', 'Bearer', 'bearer  ']) {
		const r = await api(base, 'GET', '/api/v1/topics', undefined,
		    { headers: { authorization: h } });
		assertProblem(r, 403);
	}
	assert.match(s.logs(), /admin API \(\/api\/v1\) is off/);
	await s.stop();
});

test('a publish_token on the topic default guards POST /events the same way', async (t) => {
	const s = await start({ t });
	const ptoken = 'default-publish-token-0123';
	let r = await s.api('PATCH', '/api/v1/topics/default', { publish_token: ptoken });
	assert.equal(r.status, 200, r.text);
	assert.equal(r.json.publish_token_set, true);
	r = await s.publishStructured({ id: 'd1', source: '/s', type: 't' });
	assertProblem(r, 401);
	r = await s.publishStructured({ id: 'd1', source: '/s', type: 't' },
	    { token: 'not-the-token-0000' });
	assertProblem(r, 403);
	r = await s.publishStructured({ id: 'd1', source: '/s', type: 't' },
	    { token: ptoken });
	assert.equal(r.status, 202, r.text);
	/* the token survives a restart (it is stored, hashed) */
	await s.restart();
	r = await s.publishStructured({ id: 'd2', source: '/s', type: 't' });
	assertProblem(r, 401);
	r = await s.publishStructured({ id: 'd2', source: '/s', type: 't' },
	    { token: ptoken });
	assert.equal(r.status, 202, r.text);
	/* $sys stays closed even to a token set on it */
	r = await s.api('PATCH', '/api/v1/topics/$sys', { publish_token: ptoken });
	if (r.status === 200) {
		r = await s.publishStructured({ id: 'x', source: '/s', type: 't' },
		    { topic: '$sys', token: ptoken });
		assert.ok(r.status === 403 || r.status === 404, r.text);
	} else
		assert.ok(r.status === 400 || r.status === 409 || r.status === 403, r.text);
	await s.stop();
});
