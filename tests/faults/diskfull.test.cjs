'use strict';
/*
 * diskfull.test.cjs (fault test b): the store fills up.  First with
 * --max-db-pages (SQLite's max_page_count: SQLITE_FULL), then, where this
 * process may mount a filesystem (root), with a real ENOSPC on a small
 * tmpfs.  While full, ingest answers 503 (problem+json, Retry-After) and
 * never 202 for what it did not store; every event that was answered 202
 * stays stored and is delivered; /readyz says 503 while the last write
 * failed; when space returns ingest answers 202 again without a restart.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { start, sleep, until, assertProblem } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const BULK = 'x'.repeat(16 * 1024);	/* 16 KiB of data per bulk event */
const readyWhileFull = {};	/* label -> what /readyz said while full */

function metric(text, name) {
	const re = new RegExp(`^${name.replace(/[{}"=]/g, '\\$&')} (\\S+)$`, 'm');
	const m = re.exec(text);
	return m ? Number(m[1]) : NaN;
}

/*
 * Publishes bulk events to topic 'bulk' and small ones to 'keep' until
 * `full` consecutive bulk posts are refused.  Returns {acked: Map id ->
 * {topic, msg}, refusals: [responses that were not 202]}.
 */
async function fill(s, maxPosts) {
	const acked = new Map(), refusals = [];
	let seq = 0, streak = 0;
	for (let i = 0; i < maxPosts && streak < 5; i++) {
		const bulk = i % 4 !== 3;
		const id = `${bulk ? 'b' : 'k'}${++seq}`;
		const r = await s.publishStructured({ id, source: '/faults/disk',
		    type: 'disk.test', data: bulk ? { pad: BULK } : { seq } },
		    { topic: bulk ? 'bulk' : 'keep' });
		if (r.status === 202) {
			for (const a of r.json.accepted)
				acked.set(a.id, { topic: bulk ? 'bulk' : 'keep', msg: a.msg });
			if (bulk)
				streak = 0;
		} else {
			refusals.push(r);
			if (bulk)
				streak++;
		}
	}
	return { acked, refusals };
}

async function assertStored(s, acked) {
	const stored = new Map();
	for (const topic of ['bulk', 'keep'])
		for (const it of await s.allEvents({ topic }, 200))
			stored.set(it.event.id, it.msg);
	const missing = [];
	for (const [id, a] of acked)
		if (stored.get(id) !== a.msg)
			missing.push(id);
	assert.deepEqual(missing.slice(0, 20), [],
	    `${missing.length} of ${acked.size} acknowledged events are missing`);
}

/* The whole scenario on a started sluiced; freeSpace() makes room. */
async function scenario(t, s, sink, freeSpace, label) {
	await s.createTopic('bulk');
	await s.createTopic('keep');
	/* The subscription queues while the store fills and delivers once
	 * space is back: with deliveries going on, each completion that
	 * changes a row in place succeeds even when the store is full, and
	 * /readyz (the last write failed?) would flap with it. */
	const r = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'keep', sink: `${sink.url}/keep`, state: 'pub_only',
		tcp_error_pause_ms: 100, app_error_pause_ms: 100,
		max_attempts: 1000,
	});
	assert.equal(r.status, 201, r.text);
	const sub = r.json.id;

	const { acked, refusals } = await fill(s, 2000);
	t.diagnostic(`${label}: ${acked.size} events answered 202 before the ` +
	    `store was full; ${refusals.length} refused`);
	assert.ok(refusals.length >= 5, `${label}: the store filled up`);
	assert.ok(acked.size > 10, `${label}: some events fit first`);
	for (const x of refusals)
		assert.equal(x.status, 503, `${label}: refused with 503: ${x.text}`);
	const p = assertProblem(refusals[0], 503);
	assert.match(p.detail, /retry|stored/i);
	assert.match(refusals[0].headers['retry-after'] || '', /^\d+$/,
	    'a 503 says Retry-After');

	/* Still full: more 503s, never a 202 that was not stored. */
	const more = await s.publishStructured({ id: 'while-full',
	    source: '/faults/disk', type: 'disk.test', data: { pad: BULK } },
	    { topic: 'bulk' });
	assert.equal(more.status, 503, more.text);

	const m = await s.api('GET', '/metrics');
	assert.ok(metric(m.text,
	    'sluice_events_rejected_total{reason="storage_unavailable"}') >= 5,
	    'metrics count the refusals');
	assert.equal((await s.api('GET', '/healthz')).status, 200,
	    'healthz: the process is up');

	/* (asserted by the test at the end) */
	const rzFull = await s.api('GET', '/readyz');
	readyWhileFull[label] = `${rzFull.status} ${rzFull.text.trim()}`;

	/* Nothing acknowledged is lost. */
	await assertStored(s, acked);

	/* Space returns: ingest works again, without a restart. */
	await freeSpace();
	const back = await until(async () => {
		const x = await s.publishStructured({ id: 'after', source:
		    '/faults/disk', type: 'disk.test', data: { ok: true } },
		    { topic: 'keep' });
		return x.status === 202 ? x : null;
	}, 20000, 'a 202 after space returned');
	acked.set('after', { topic: 'keep', msg: back.json.accepted[0].msg });
	for (let i = 0; i < 20; i++) {
		const x = await s.publishStructured({ id: `again${i}`, source:
		    '/faults/disk', type: 'disk.test', data: { i } },
		    { topic: 'keep' });
		assert.equal(x.status, 202, `ingest after recovery: ${x.text}`);
		acked.set(`again${i}`, { topic: 'keep',
		    msg: x.json.accepted[0].msg });
	}
	const rz = await s.api('GET', '/readyz');
	assert.equal(rz.status, 200, `readyz after recovery: ${rz.text}`);
	const on = await s.api('PATCH', `/api/v1/subscriptions/${sub}`,
	    { state: 'pub_and_sub' });
	assert.equal(on.status, 200, on.text);

	/* Every acknowledged 'keep' event (bulk was emptied by freeSpace only
	 * if it deleted that topic) is stored and reaches the sink. */
	const keep = new Map([...acked].filter(([, a]) => a.topic === 'keep'));
	const stored = new Map();
	for (const it of await s.allEvents({ topic: 'keep' }, 200))
		stored.set(it.event.id, it.msg);
	for (const [id, a] of keep)
		assert.equal(stored.get(id), a.msg, `${label}: keep event ${id} stored`);
	await until(async () => {
		const q = (await s.api('GET', `/api/v1/subscriptions/${sub}`))
		    .json.status.queue;
		return q.pending === 0 && q.inflight === 0;
	}, 60000, 'the keep queue to drain');
	const seen = new Set(sink.requests.map((x) => JSON.parse(x.text).id));
	const undelivered = [...keep.keys()].filter((id) => !seen.has(id));
	assert.deepEqual(undelivered, [], `${label}: every keep event delivered`);
	return acked;
}

test('SQLITE_FULL (--max-db-pages): 503 while full, nothing lost, recovers ' +
    'when a topic is deleted', { timeout: 150000 }, async (t) => {
	const sink = await startSink({ t });
	/* How big is an empty database? */
	const probe = await start({ t });
	await probe.stop();
	const pages = Math.ceil(fs.statSync(probe.db).size / 4096);
	const cap = pages + 300;	/* ~1.2 MB for events */
	t.diagnostic(`empty database ${pages} pages; --max-db-pages ${cap}`);
	const s = await start({ t, args: ['--max-db-pages', String(cap)] });
	const acked = await scenario(t, s, sink, async () => {
		const r = await s.api('DELETE', '/api/v1/topics/bulk?force=true');
		assert.ok(r.status === 204 || r.status === 200,
		    `delete the bulk topic while full: ${r.status} ${r.text}`);
	}, 'max-db-pages');
	/* A restart keeps it all (and the file respects the cap). */
	await s.restart();
	const stored = new Set((await s.allEvents({ topic: 'keep' }, 200))
	    .map((it) => it.event.id));
	for (const [id, a] of acked)
		if (a.topic === 'keep')
			assert.ok(stored.has(id), `keep event ${id} after restart`);
	await s.stop();
});

test('ENOSPC on a full tmpfs: 503 while full, nothing lost, recovers when ' +
    'a file is removed', { timeout: 150000 }, async (t) => {
	const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-tmpfs-'));
	try {
		execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt],
		    { stdio: 'pipe' });
	} catch (e) {
		fs.rmdirSync(mnt);
		t.skip(`cannot mount a tmpfs here (needs root and mount ` +
		    `permission): ${String(e.stderr || e.message).trim()}`);
		return;
	}
	let s = null;
	t.after(async () => {
		if (s)
			await s.cleanup();
		execFileSync('umount', ['-l', mnt]);
		fs.rmdirSync(mnt);
	});
	const sink = await startSink({ t });
	s = await start({ dir: mnt });
	/* Leave ~1.5 MB free: a ballast file takes the rest. */
	const ballast = path.join(mnt, 'ballast');
	const free = () => {
		const st = fs.statfsSync(mnt);
		return st.bavail * st.bsize;
	};
	const fd = fs.openSync(ballast, 'w');
	const chunk = Buffer.alloc(64 * 1024, 1);
	while (free() > 1.5 * 1048576)
		fs.writeSync(fd, chunk);
	fs.closeSync(fd);
	t.diagnostic(`tmpfs of 6 MB, ${(free() / 1048576).toFixed(2)} MB left ` +
	    'for the database');
	await scenario(t, s, sink, async () => {
		fs.rmSync(ballast);
	}, 'ENOSPC');
	await s.stop();
});

test('/readyz answers 503 while the store is full', () => {
	assert.ok(Object.keys(readyWhileFull).length > 0, 'the tests above ran');
	for (const [label, said] of Object.entries(readyWhileFull))
		assert.match(said, /^503 /, `${label}: /readyz while full: ${said}`);
});
