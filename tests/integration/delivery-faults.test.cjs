'use strict';
/*
 * delivery-faults.test.cjs: how sluice behaves when endpoints fail, as real
 * sinks on loopback see it: measured pause lengths after a 500, a refused
 * connection, a connection closed without an answer, a request hanging past
 * timeout_ms, a 429 with Retry-After, backoff doubling up to max_pause_ms
 * and reset by a success, rate_limit spacing; strict order under failure
 * with max_inflight 1, dead letters at max_attempts, max_inflight N
 * concurrency; one failing endpoint not slowing a healthy one; and restart
 * recovery after SIGKILL with deliveries in flight (at least once, nothing
 * that got its 2xx recorded sent again).
 *
 * Timing tolerances: an attempt comes no sooner than the pause (minus 50 ms
 * for clock granularity) and at most ~600 ms after it (more under
 * sanitizers, and SLUICE_TEST_SLACK_MS adds to that).
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, sleep, until, SANITIZED, timingSlack } = require('../lib/sluice.cjs');
const { startSink, refusedUrl } = require('../lib/sink.cjs');

const WAIT = 20000;
const SLACK = timingSlack(600);

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

async function topic(srv = s) {
	const name = `ft${++nTopic}`;
	await srv.createTopic(name);
	return name;
}

async function subscribe(fields, srv = s) {
	const r = await srv.api('POST', '/api/v1/subscriptions', fields);
	assert.equal(r.status, 201, `create subscription: ${r.text}`);
	return r.json;
}

async function patch(id, fields, srv = s) {
	const r = await srv.api('PATCH', `/api/v1/subscriptions/${id}`, fields);
	assert.equal(r.status, 200, `patch subscription: ${r.text}`);
	return r.json;
}

async function getSub(id, srv = s) {
	const r = await srv.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

async function message(id, msg, srv = s) {
	const r = await srv.api('GET', `/api/v1/subscriptions/${id}/messages/${msg}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

async function publish(t, event, srv = s) {
	const r = await srv.publishStructured(event, { topic: t });
	assert.equal(r.status, 202, r.text);
	return r.json.accepted[0].msg;
}

async function publishMany(t, events, srv = s) {
	const msgs = [];
	for (let i = 0; i < events.length; i += 100) {
		const r = await srv.publishBatch(events.slice(i, i + 100), { topic: t });
		assert.equal(r.status, 202, r.text);
		msgs.push(...r.json.accepted.map((a) => a.msg));
	}
	return msgs;
}

function event(n, extra = {}) {
	return Object.assign({ specversion: '1.0', id: `e-${n}`,
	    source: '/test/faults', type: 'com.example.faults',
	    datacontenttype: 'application/json', data: { n } }, extra);
}

function idOf(rec) {
	try {
		return JSON.parse(rec.text).id;
	} catch (e) {
		return rec.headers['ce-id'];
	}
}

function gaps(times) {
	const g = [];
	for (let i = 1; i < times.length; i++)
		g.push(times[i] - times[i - 1]);
	return g;
}

function assertGap(gap, want, what) {
	assert.ok(gap >= want - 50 && gap <= want + SLACK,
	    `${what}: ${gap} ms between attempts, want ${want} ms ` +
	    `(-50/+${SLACK})`);
}

/* ---- pause lengths ---------------------------------------------------- */

test('500: the next attempt comes after app_error_pause_ms (1000 ms), not sooner, not much later', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 500 }, { status: 500 });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 1000, tcp_error_pause_ms: 60000 });
	await publish(tp, event(1));
	const reqs = await sink.waitFor(1, WAIT);
	const st = await until(async () => {
		const g = await getSub(sub.id);
		return g.status.pause_reason && g;
	}, WAIT, 'pause');
	assert.equal(st.status.pause_reason, 'app_error');
	await sink.waitFor(3, WAIT);
	for (const g of gaps(sink.requests.map((r) => r.time)))
		assertGap(g, 1000, 'after a 500');
	assert.ok(reqs.length >= 1);
	assert.ok(await sink.quiet(300), 'delivered: no more attempts');
});

test('connection refused: the next attempt comes after tcp_error_pause_ms (1000 ms); attempts say transport_error', async (t) => {
	const tp = await topic();
	const url = await refusedUrl();
	const sub = await subscribe({ topic: tp, sink: url,
	    tcp_error_pause_ms: 1000, app_error_pause_ms: 60000 });
	const msg = await publish(tp, event(1));
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.attempts.length >= 3 && x;
	}, WAIT, '3 attempts');
	const times = m.attempts.map((a) => Date.parse(a.time));
	const g = gaps(times);
	for (let i = 0; i < g.length; i++) {
		assert.equal(m.attempts[i].outcome, 'transport_error');
		assert.equal(m.attempts[i].http_status, null);
		assert.ok(m.attempts[i].error, 'the error is recorded');
		assertGap(g[i] - m.attempts[i].duration_ms, 1000, 'after refused');
	}
	const st = await getSub(sub.id);
	assert.equal(st.status.pause_reason, 'tcp_error');
	assert.ok(st.status.paused_until, 'paused_until shown');
	assert.ok(st.status.last_error, 'last_error shown');
	/* stop it retrying for the rest of the file */
	await patch(sub.id, { state: 'disabled' });
});

test('connection closed without an answer: transport error, tcp_error_pause_ms (1000 ms)', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ close: true }, { close: true });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    tcp_error_pause_ms: 1000, app_error_pause_ms: 60000 });
	const msg = await publish(tp, event(1));
	const reqs = await sink.waitFor(3, WAIT);
	for (const g of gaps(reqs.map((r) => r.time)))
		assertGap(g, 1000, 'after a closed connection');
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.delivery.state === 'delivered' && x;
	});
	assert.deepEqual(m.attempts.map((a) => a.outcome),
	    ['transport_error', 'transport_error', 'ok']);
});

test('connection closed without an answer on a reused (keep-alive) connection: still one request, a transport error and the pause', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	/* the first request opens the connection that the second reuses */
	sink.next({ status: 200 }, { close: true });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    tcp_error_pause_ms: 1000, app_error_pause_ms: 60000 });
	await publish(tp, event(1));
	await sink.waitFor(1, WAIT);
	const msg = await publish(tp, event(2));
	const reqs = await sink.waitFor(3, WAIT);
	assert.deepEqual(reqs.map(idOf), ['e-1', 'e-2', 'e-2']);
	/* libcurl would send it again at once on a fresh connection */
	assertGap(reqs[2].time - reqs[1].time, 1000, 'after the closed connection');
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.delivery.state === 'delivered' && x;
	});
	assert.deepEqual(m.attempts.map((a) => a.outcome),
	    ['transport_error', 'ok']);
});

test('hang past timeout_ms (500 ms): transport error after ~500 ms, then tcp_error_pause_ms (1000 ms)', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ hang: true });
	const sub = await subscribe({ topic: tp, sink: sink.url, timeout_ms: 500,
	    tcp_error_pause_ms: 1000, app_error_pause_ms: 60000 });
	const msg = await publish(tp, event(1));
	const reqs = await sink.waitFor(2, WAIT);
	assertGap(reqs[1].time - reqs[0].time, 1500, 'timeout 500 + pause 1000');
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.delivery.state === 'delivered' && x;
	});
	assert.equal(m.attempts[0].outcome, 'transport_error');
	assert.ok(m.attempts[0].duration_ms >= 450 &&
	    m.attempts[0].duration_ms <= 500 + SLACK,
	    `timed out after ${m.attempts[0].duration_ms} ms`);
	assert.match(m.attempts[0].error, /time/i);
});

test('429 with Retry-After: 2 pauses ~2 s (pause_reason retry_after), not app_error_pause_ms', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 429, headers: { 'retry-after': '2' } });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 60000, tcp_error_pause_ms: 60000 });
	const msg = await publish(tp, event(1));
	await sink.waitFor(1, WAIT);
	const st = await until(async () => {
		const g = await getSub(sub.id);
		return g.status.pause_reason && g;
	}, WAIT, 'pause');
	assert.equal(st.status.pause_reason, 'retry_after');
	const reqs = await sink.waitFor(2, WAIT);
	assertGap(reqs[1].time - reqs[0].time, 2000, 'Retry-After: 2');
	const m = await message(sub.id, msg);
	assert.equal(m.attempts[0].outcome, 'app_error');
	assert.equal(m.attempts[0].http_status, 429);
});

test('429 with Retry-After above max_pause_ms is capped at max_pause_ms', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next({ status: 429, headers: { 'retry-after': '3600' } });
	await subscribe({ topic: tp, sink: sink.url, max_pause_ms: 800,
	    app_error_pause_ms: 60000 });
	await publish(tp, event(1));
	const reqs = await sink.waitFor(2, WAIT);
	assertGap(reqs[1].time - reqs[0].time, 800, 'Retry-After capped');
});

test('backoff_factor 2: each consecutive pause doubles up to max_pause_ms; a success resets it', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	for (let i = 0; i < 4; i++)
		sink.next({ status: 500 });
	/* (tcp_error_pause_ms keeps its default, 10000: above the cap is fine) */
	await subscribe({ topic: tp, sink: sink.url, app_error_pause_ms: 300,
	    backoff_factor: 2, max_pause_ms: 1500 });
	await publish(tp, event(1));
	const reqs = await sink.waitFor(5, WAIT);
	const g = gaps(reqs.map((r) => r.time));
	[300, 600, 1200, 1500].forEach((want, i) =>
		assertGap(g[i], want, `pause ${i + 1}`));
	/* a success resets: the next failure pauses the base again */
	sink.next({ status: 500 }, { status: 500 });
	await publish(tp, event(2));
	const r2 = await sink.waitFor(8, WAIT);
	const g2 = gaps(r2.slice(5).map((r) => r.time));
	assertGap(g2[0], 300, 'first pause after a success');
	assertGap(g2[1], 600, 'second pause after a success');
	assert.deepEqual(r2.map(idOf), ['e-1', 'e-1', 'e-1', 'e-1', 'e-1',
	    'e-2', 'e-2', 'e-2']);
});

test('rate_limit 5/s: deliveries spaced ~200 ms', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url, rate_limit: 5,
	    state: 'pub_only' });
	const evs = [];
	for (let i = 1; i <= 11; i++)
		evs.push(event(i));
	await publishMany(tp, evs);
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(11, WAIT);
	const g = gaps(reqs.map((r) => r.time));
	for (const x of g)
		assert.ok(x >= 150, `spacing ${x} ms >= ~200 ms: ${g}`);
	const total = reqs[10].time - reqs[0].time;
	assert.ok(total >= 1950 && total <= 2000 + SLACK,
	    `10 intervals in ${total} ms, want ~2000`);
	assert.deepEqual(reqs.map(idOf), evs.map((e) => e.id));
});

test('503 with Retry-After as an HTTP-date pauses until then', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t });
	sink.next(() => ({ status: 503, headers: { 'retry-after':
	    new Date(Date.now() + 2500).toUTCString() } }));
	await subscribe({ topic: tp, sink: sink.url, app_error_pause_ms: 60000 });
	await publish(tp, event(1));
	const reqs = await sink.waitFor(2, WAIT);
	const g = reqs[1].time - reqs[0].time;
	/* an HTTP-date has whole seconds: 1.5 to 2.5 s from now */
	assert.ok(g >= 1400 && g <= 2500 + SLACK, `paused ${g} ms`);
});

test('no busy loop: a paused subscription and an empty queue cost (almost) no CPU', async (t) => {
	const srv = await start({ t });
	const tp = await topic(srv);
	const url = await refusedUrl();
	const sub = await subscribe({ topic: tp, sink: url,
	    tcp_error_pause_ms: 60000 }, srv);
	const sink = await startSink({ t });
	await subscribe({ topic: tp, sink: sink.url }, srv);
	await publish(tp, event(1), srv);
	await sink.waitFor(1, WAIT);
	await until(async () => (await getSub(sub.id, srv)).status.pause_reason,
	    WAIT, 'paused');
	await sleep(300);
	const cpu = () => {
		const f = require('node:fs').readFileSync(
		    `/proc/${srv.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
		return (Number(f[11]) + Number(f[12])) * 10;	/* ticks of 10 ms */
	};
	const c0 = cpu();
	await sleep(3000);
	const used = cpu() - c0;
	t.diagnostic(`sluiced used ${used} ms of CPU in 3 s idle`);
	assert.ok(used <= 60, `${used} ms of CPU in 3 s with nothing to do`);
});

/* ---- order and dead letters -------------------------------------------- */

test('order under failure (max_inflight 1): message 3 of 10 fails twice; the sink sees 1,2,3,3,3,4..10 and nothing after 3 before 3 succeeds', async (t) => {
	const tp = await topic();
	let fails = 0;
	const sink = await startSink({ t, answer: (rec) => {
		if (idOf(rec) === 'e-3' && fails < 2) {
			fails++;
			return { status: 500 };
		}
		return { status: 200 };
	} });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 200 });
	const evs = [];
	for (let i = 1; i <= 10; i++)
		evs.push(event(i));
	await publishMany(tp, evs);
	const reqs = await sink.waitFor(12, WAIT);
	assert.deepEqual(reqs.map(idOf), ['e-1', 'e-2', 'e-3', 'e-3', 'e-3',
	    'e-4', 'e-5', 'e-6', 'e-7', 'e-8', 'e-9', 'e-10']);
	assert.ok(await sink.quiet(300));
	assert.equal(sink.requests.length, 12);
	const st = await getSub(sub.id);
	assert.equal(st.status.queue.delivered, 10);
	assert.equal(st.status.queue.pending, 0);
});

test('dead at max_attempts (3): the head message goes dead, delivery.dead is recorded, the queue moves on', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: (rec) =>
		({ status: idOf(rec) === 'e-2' ? 500 : 200 }) });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 100, max_attempts: 3 });
	const msgs = await publishMany(tp, [1, 2, 3, 4].map((n) => event(n)));
	const reqs = await sink.waitFor(6, WAIT);
	assert.deepEqual(reqs.map(idOf), ['e-1', 'e-2', 'e-2', 'e-2', 'e-3', 'e-4']);
	const m = await message(sub.id, msgs[1]);
	assert.equal(m.delivery.state, 'dead');
	assert.equal(m.delivery.attempts, 3);
	assert.equal(m.attempts.length, 3);
	const se = await until(async () => {
		const r = await s.api('GET', '/api/v1/sysevents?limit=1000');
		return r.json.items.find((i) => i.operation === 'delivery.dead' &&
		    JSON.stringify(i).includes(msgs[1]));
	}, WAIT, 'delivery.dead naming the message');
	assert.ok(se.time);
	const st = await until(async () => {
		const g = await getSub(sub.id);
		return g.status.queue.delivered === 3 && g;
	});
	assert.equal(st.status.queue.dead, 1);
	const dead = await s.api('GET',
	    `/api/v1/subscriptions/${sub.id}/messages?state=dead`);
	assert.deepEqual(dead.json.items.map((i) => i.msg), [msgs[1]]);
});

test('max_inflight 4 with a slow sink: up to 4 requests at once, never more', async (t) => {
	const tp = await topic();
	const sink = await startSink({ t, answer: { status: 200, delayMs: 300 } });
	const sub = await subscribe({ topic: tp, sink: sink.url, max_inflight: 4,
	    state: 'pub_only' });
	const evs = [];
	for (let i = 1; i <= 20; i++)
		evs.push(event(i));
	await publishMany(tp, evs);
	await patch(sub.id, { state: 'pub_and_sub' });
	const reqs = await sink.waitFor(20, WAIT);
	assert.equal(sink.maxActive, 4, `at most ${sink.maxActive} at once`);
	assert.deepEqual(reqs.map(idOf).sort(), evs.map((e) => e.id).sort());
	await until(async () => (await getSub(sub.id)).status.queue.delivered === 20);
	assert.ok(await sink.quiet(300));
	assert.equal(sink.requests.length, 20, 'each once');
	/* and max_inflight 1 (default) never overlaps */
	const tp1 = await topic();
	const one = await startSink({ t, answer: { status: 200, delayMs: 100 } });
	await subscribe({ topic: tp1, sink: one.url });
	await publishMany(tp1, evs.slice(0, 5));
	await one.waitFor(5, WAIT);
	assert.equal(one.maxActive, 1);
});

/* ---- other answers and operator actions -------------------------------- */

test('a redirect (302) is not followed: an application error, the other URL gets nothing', async (t) => {
	const tp = await topic();
	const other = await startSink({ t });
	const sink = await startSink({ t });
	sink.next({ status: 302, headers: { location: `${other.url}/elsewhere` } });
	const sub = await subscribe({ topic: tp, sink: sink.url,
	    app_error_pause_ms: 300 });
	const msg = await publish(tp, event(1));
	await sink.waitFor(2, WAIT);
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.delivery.state === 'delivered' && x;
	});
	assert.equal(m.attempts[0].outcome, 'app_error');
	assert.equal(m.attempts[0].http_status, 302);
	assert.equal(other.requests.length, 0, 'the redirect was not followed');
});

test('a 2xx with a huge response body (3 MiB) is delivered; the attempt keeps its first 1 KiB', async (t) => {
	const tp = await topic();
	const big = Buffer.alloc(3 * 1024 * 1024, 'x');
	const sink = await startSink({ t, answer: { status: 200, body: big } });
	const sub = await subscribe({ topic: tp, sink: sink.url });
	const msg = await publish(tp, event(1));
	await publish(tp, event(2));
	await sink.waitFor(2, WAIT);
	const m = await until(async () => {
		const x = await message(sub.id, msg);
		return x.delivery.state === 'delivered' && x;
	});
	assert.equal(m.attempts.length, 1);
	assert.equal(m.attempts[0].outcome, 'ok');
	assert.ok(m.attempts[0].response === null ||
	    m.attempts[0].response.length <= 1024);
});

test('manual pause holds deliveries until resume; a fixed sink URL (PATCH) is used after resume', async (t) => {
	const tp = await topic();
	const bad = await startSink({ t, answer: { status: 500 } });
	const good = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: bad.url,
	    app_error_pause_ms: 60000 });
	await publish(tp, event(1));
	await bad.waitFor(1, WAIT);
	let r = await s.api('POST', `/api/v1/subscriptions/${sub.id}/pause`, {});
	assert.equal(r.status, 200, r.text);
	await patch(sub.id, { sink: good.url });
	await publish(tp, event(2));
	assert.ok(await good.quiet(700), 'paused: nothing delivered');
	const st = await getSub(sub.id);
	assert.equal(st.status.pause_reason, 'manual');
	r = await s.api('POST', `/api/v1/subscriptions/${sub.id}/resume`, {});
	assert.equal(r.status, 200, r.text);
	const reqs = await good.waitFor(2, WAIT);
	assert.deepEqual(reqs.map(idOf), ['e-1', 'e-2'], 'in order, to the new URL');
	assert.equal(bad.requests.length, 1);
});

test('deleting a subscription while its requests are in flight: no crash, nothing more sent, clean exit', async (t) => {
	const srv = await start({ t });
	const tp = await topic(srv);
	const sink = await startSink({ t, answer: { status: 200, delayMs: 800 } });
	const sub = await subscribe({ topic: tp, sink: sink.url, max_inflight: 4 },
	    srv);
	await publishMany(tp, [1, 2, 3, 4, 5, 6, 7, 8].map((n) => event(n)), srv);
	await sink.waitFor(2, WAIT);
	const r = await srv.api('DELETE', `/api/v1/subscriptions/${sub.id}`);
	assert.ok(r.status === 204 || r.status === 200, r.text);
	await sleep(1500);
	const n = sink.requests.length;
	assert.ok(n <= 8, `${n} requests`);
	assert.ok(await sink.quiet(1000), 'nothing more after the delete');
	const h = await srv.api('GET', '/healthz');
	assert.equal(h.status, 200);
	await srv.stop();	/* asserts exit 0: no sanitizer report */
});

/* ---- isolation -------------------------------------------------------- */

/* ms for 200 events published at once to reach the healthy sink. */
async function timeHealthy(t, failing) {
	const tp = await topic();
	const healthy = await startSink({ t });
	await subscribe({ topic: tp, sink: healthy.url, max_inflight: 1 });
	const subs = [];
	for (const f of failing)
		subs.push(await subscribe(Object.assign({ topic: tp }, f)));
	const evs = [];
	for (let i = 1; i <= 200; i++)
		evs.push(event(i));
	const t0 = Date.now();
	await publishMany(tp, evs);
	const reqs = await healthy.waitFor(200, 60000);
	const ms = reqs[199].time - t0;
	assert.deepEqual(reqs.map(idOf), evs.map((e) => e.id));
	for (const sub of subs)
		await patch(sub.id, { state: 'disabled' });
	return ms;
}

test('a failing endpoint (hangs, refuses, 500s) does not slow a healthy one: 200 events arrive in about the same time', async (t) => {
	const alone = await timeHealthy(t, []);
	const hang = await startSink({ t, answer: { hang: true } });
	const fail = await startSink({ t, answer: { status: 500 } });
	const refused = await refusedUrl();
	const withBad = await timeHealthy(t, [
		{ sink: hang.url, timeout_ms: 30000, max_inflight: 50 },
		{ sink: refused, tcp_error_pause_ms: 500, max_inflight: 10 },
		{ sink: fail.url, app_error_pause_ms: 500, max_inflight: 10 },
	]);
	t.diagnostic(`200 events to a healthy sink: ${alone} ms alone, ` +
	    `${withBad} ms beside a hanging, a refusing and a failing endpoint`);
	assert.ok(hang.requests.length > 0, 'the hanging endpoint was tried');
	assert.ok(fail.requests.length > 0, 'the failing endpoint was tried');
	assert.ok(withBad <= alone * 2 + 1000,
	    `${withBad} ms with failing neighbours vs ${alone} ms alone`);
});

test('endpoints failing with no pause (pause 0, max_inflight 10) do not slow a healthy one much either', async (t) => {
	const alone = await timeHealthy(t, []);
	const fail = await startSink({ t, answer: { status: 500 } });
	const refused = await refusedUrl();
	const withBad = await timeHealthy(t, [
		{ sink: refused, tcp_error_pause_ms: 0, max_inflight: 10,
		    max_attempts: 1000 },
		{ sink: fail.url, app_error_pause_ms: 0, max_inflight: 10,
		    max_attempts: 1000 },
	]);
	t.diagnostic(`200 events to a healthy sink: ${alone} ms alone, ` +
	    `${withBad} ms beside two endpoints failing with no pause`);
	assert.ok(withBad <= alone * 2 + 1000,
	    `${withBad} ms with hot-failing neighbours vs ${alone} ms alone`);
});

test('fair: a subscription with 5,000 queued messages (max_inflight 1000) does not starve one with a single message', async (t) => {
	/* the same, with nothing else going on */
	const lone0 = await startSink({ t });
	const tp0 = await topic();
	await subscribe({ topic: tp0, sink: lone0.url });
	let t0 = Date.now();
	await publish(tp0, event(0));
	const base = (await lone0.waitFor(1, WAIT))[0].time - t0;
	const tp = await topic();
	const busy = await startSink({ t, answer: { status: 200, delayMs: 50 } });
	const big = await subscribe({ topic: tp, sink: busy.url, max_inflight: 1000,
	    state: 'pub_only' });
	const evs = [];
	for (let i = 1; i <= 5000; i++)
		evs.push(event(i));
	await publishMany(tp, evs);
	await patch(big.id, { state: 'pub_and_sub' });
	await busy.waitFor(200, WAIT);
	const tp2 = await topic();
	const lone = await startSink({ t });
	await subscribe({ topic: tp2, sink: lone.url });
	t0 = Date.now();
	await publish(tp2, event(1));
	const [r] = await lone.waitFor(1, WAIT);
	const ms = r.time - t0;
	t.diagnostic(`one message beside a 5,000-message queue arrived in ${ms} ms ` +
	    `(${base} ms alone; the busy sink had ${busy.requests.length} ` +
	    `requests, up to ${busy.maxActive} at once)`);
	assert.ok(ms <= 3 * base + 300 + SLACK, `${ms} ms vs ${base} ms alone`);
	await patch(big.id, { state: 'disabled' });
});

test('retention: delivered messages and their attempts go after --retention; pending ones stay', async (t) => {
	const srv = await start({ t, args: ['--retention', '2s'] });
	const tp = await topic(srv);
	const sink = await startSink({ t });
	const sub = await subscribe({ topic: tp, sink: sink.url }, srv);
	const held = await subscribe({ topic: tp, sink: sink.url + '/held',
	    state: 'pub_only' }, srv);
	const msg = await publish(tp, event(1), srv);
	await sink.waitFor(1, WAIT);
	await until(async () => (await message(sub.id, msg, srv)).delivery.state ===
	    'delivered', WAIT, 'delivered');
	const t0 = Date.now();
	let gone;
	for (;;) {
		gone = await srv.api('GET',
		    `/api/v1/subscriptions/${sub.id}/messages/${msg}`);
		if (gone.status === 404 || Date.now() - t0 > 2000 + 500 + 2 * SLACK +
		    3000)
			break;
		await sleep(200);
	}
	assert.equal(gone.status, 404, `removed after retention: ${gone.text}`);
	const elapsed = Date.now() - t0;
	t.diagnostic(`delivered message removed ${elapsed} ms after delivery`);
	assert.ok(elapsed >= 1500, `not before retention: ${elapsed} ms`);
	const list = await srv.api('GET',
	    `/api/v1/subscriptions/${sub.id}/messages?state=delivered`);
	assert.deepEqual(list.json.items, []);
	const p = await message(held.id, msg, srv);
	assert.equal(p.delivery.state, 'pending', 'a pending message stays');
	await srv.stop();
});

test('hundreds of subscriptions are served by a few threads: one event reaches every endpoint', async (t) => {
	const srv = await start({ t });
	const tp = await topic(srv);
	const sink = await startSink({ t });
	const N = SANITIZED ? 300 : 500;	/* creating them is the slow part */
	const c0 = Date.now();
	let next = 0;
	const create = async () => {
		while (next < N) {
			const i = next++;
			await subscribe({ topic: tp, sink: `${sink.url}/s/${i}` }, srv);
		}
	};
	await Promise.all(Array.from({ length: 8 }, create));
	const threads = () => Number(/^Threads:\s+(\d+)/m.exec(require('node:fs')
	    .readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'))[1]);
	const before = threads();
	const t0 = Date.now();
	await publish(tp, event(1), srv);
	const reqs = await sink.waitFor(N, 60000);
	const ms = reqs[N - 1].time - t0;
	const after = threads();
	t.diagnostic(`${N} subscriptions created in ${t0 - c0} ms; ` +
	    `1 event to all of them delivered in ${ms} ms; ` +
	    `sluiced had ${before} threads before, ${after} after`);
	assert.equal(new Set(reqs.map((r) => r.url)).size, N, 'each endpoint once');
	assert.ok(after <= 64, `${after} threads`);
	assert.ok(await sink.quiet(300));
	assert.equal(sink.requests.length, N);
	await srv.stop();
});

/* ---- restart recovery ------------------------------------------------- */

test('restart recovery: SIGKILL with deliveries in flight, restart on the same db: every event delivered at least once, none recorded as delivered sent again', async (t) => {
	const srv = await start({ t });
	const sink = await startSink({ t, answer: { status: 200, delayMs: 150 } });
	const tp = await topic(srv);
	const sub = await subscribe({ topic: tp, sink: sink.url, max_inflight: 4,
	    app_error_pause_ms: 200, tcp_error_pause_ms: 200 }, srv);
	const evs = [];
	for (let i = 1; i <= 60; i++)
		evs.push(event(i));
	const msgs = await publishMany(tp, evs, srv);
	assert.equal(msgs.length, 60);
	await sink.waitFor(16, WAIT);
	const r = await srv.api('GET',
	    `/api/v1/subscriptions/${sub.id}/messages?state=delivered&limit=1000`);
	const recorded = new Set(r.json.items.map((i) => i.msg));
	await srv.kill();
	const before = sink.requests.length;
	assert.ok(sink.active > 0 || before < 60,
	    'deliveries were in flight at the kill');
	await srv.restart();
	await until(async () => {
		const ids = new Set(sink.requests.map(idOf));
		return evs.every((e) => ids.has(e.id));
	}, 30000, 'every event delivered after the restart');
	await until(async () => (await getSub(sub.id, srv)).status.queue.delivered
	    === 60, WAIT, 'all 60 recorded as delivered');
	const count = new Map();
	for (const rec of sink.requests)
		count.set(idOf(rec), (count.get(idOf(rec)) || 0) + 1);
	const dups = [...count].filter(([, n]) => n > 1);
	t.diagnostic(`${before} requests before SIGKILL (${recorded.size} ` +
	    `recorded delivered), ${sink.requests.length} in all; duplicates: ` +
	    (dups.length ? dups.map(([id, n]) => `${id} x${n}`).join(', ') :
		'none'));
	const idByMsg = new Map(msgs.map((m, i) => [m, evs[i].id]));
	for (const m of recorded)
		assert.equal(count.get(idByMsg.get(m)), 1,
		    `${idByMsg.get(m)} had its 2xx recorded: delivered once`);
	await srv.stop();
});
