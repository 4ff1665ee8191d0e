'use strict';
/*
 * crash.test.cjs (fault test a): sluiced is killed with SIGKILL ten times
 * while several producers publish and a sink receives deliveries.  Every
 * event that was answered 202 must be stored after the last restart and
 * delivered to the sink at least once; the duplicates the sink saw
 * (at-least-once delivery after a crash) are reported as a TAP comment.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start, sleep, until } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const KILLS = 10;
const PRODUCERS = 6;

test('every 202 survives ten SIGKILLs under ingest and delivery, and is delivered',
    { timeout: 180000 }, async (t) => {
	const sink = await startSink({ t });
	const s = await start({ t });
	await s.createTopic('crash');
	let r = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'crash', sink: `${sink.url}/hook`, max_inflight: 4,
		tcp_error_pause_ms: 100, app_error_pause_ms: 100,
		max_attempts: 1000,
	});
	assert.equal(r.status, 201, r.text);
	const sub = r.json.id;

	/* Producers: single events and batches of 5, each id unique.
	 * acked: id -> msg of every event answered 202. */
	const acked = new Map();
	let seq = 0, running = true, errors = 0, refused = 0;
	const producer = async (n) => {
		while (running) {
			const batch = seq % 3 === 0;
			const evs = [];
			for (let i = 0; i < (batch ? 5 : 1); i++)
				evs.push({ id: `p${n}-${++seq}`, source: '/faults/crash',
				    type: 'crash.test', data: { n, seq } });
			try {
				const res = batch ?
				    await s.publishBatch(evs, { topic: 'crash' }) :
				    await s.publishStructured(evs[0], { topic: 'crash' });
				if (res.status === 202) {
					for (const a of res.json.accepted)
						acked.set(a.id, a.msg);
					for (const a of res.json.duplicates)
						acked.set(a.id, a.msg);
				} else
					refused++;	/* e.g. 503 while stopping */
			} catch (e) {
				errors++;	/* the connection died with sluiced */
				await sleep(20);
			}
		}
	};
	const producers = [];
	for (let n = 0; n < PRODUCERS; n++)
		producers.push(producer(n));

	const perRun = [];
	for (let k = 0; k < KILLS; k++) {
		const before = acked.size;
		await sleep(800 + Math.floor(Math.random() * 700));
		await s.kill();
		perRun.push(acked.size - before);
		await s.restart({ samePort: true });
	}
	await sleep(500);
	running = false;
	await Promise.all(producers);
	t.diagnostic(`${acked.size} events answered 202 across ${KILLS} kills ` +
	    `(per run: ${perRun.join(' ')}); ${errors} requests cut by a kill, ` +
	    `${refused} refused`);
	assert.ok(acked.size > 200, `enough traffic to mean something: ${acked.size}`);
	assert.ok(perRun.every((n) => n > 0), `every run acknowledged some: ${perRun}`);

	/* After the last restart the queue drains. */
	await until(async () => {
		const q = (await s.api('GET', `/api/v1/subscriptions/${sub}`))
		    .json.status.queue;
		return q.pending === 0 && q.inflight === 0;
	}, 60000, 'the queue to drain');

	/* Every 202'd event is stored, under the msg its 202 named. */
	const stored = new Map();
	for (const it of await s.allEvents({ topic: 'crash' }))
		stored.set(it.event.id, it.msg);
	const missing = [...acked.keys()].filter((id) => !stored.has(id));
	assert.deepEqual(missing.slice(0, 20), [],
	    `${missing.length} acknowledged events are missing`);
	for (const [id, msg] of acked)
		assert.equal(stored.get(id), msg, `event ${id} keeps its msg`);

	/* ... and reached the sink at least once. */
	const seen = new Map();
	for (const req of sink.requests) {
		if (req.answer.status && req.answer.status !== 200)
			continue;
		const id = JSON.parse(req.text).id;
		seen.set(id, (seen.get(id) || 0) + 1);
	}
	const undelivered = [...acked.keys()].filter((id) => !seen.has(id));
	assert.deepEqual(undelivered.slice(0, 20), [],
	    `${undelivered.length} acknowledged events never reached the sink`);
	let dups = 0, dupEvents = 0;
	for (const [id, n] of seen)
		if (acked.has(id) && n > 1) {
			dups += n - 1;
			dupEvents++;
		}
	const extra = [...seen.keys()].filter((id) => !acked.has(id)).length;
	t.diagnostic(`duplicates delivered: ${dups} extra deliveries of ` +
	    `${dupEvents} events (of ${acked.size} acknowledged, ` +
	    `${sink.requests.length} sink requests); ${extra} delivered events ` +
	    'were committed but their 202 was lost with the process');
	await s.stop();
});
