'use strict';
/*
 * ops.test.cjs: what an operator relies on.  GET /metrics is Prometheus
 * text (parsed here: every sample belongs to a family with a # TYPE) and
 * its counters move with ingest and deliveries; /healthz and /readyz;
 * --log-json lines; periodic io.sluice.server.stats system events;
 * --backup while sluiced runs, restored into a second sluiced; the admin
 * token never reaches the log; subscription secrets and publish tokens are
 * not in the database file in clear, and a restart with the same key file
 * still signs so that the standardwebhooks library verifies.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Webhook } = require('standardwebhooks');
const { start, run, tempDir, sleep, until } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const WAIT = 15000;

/*
 * Parses the Prometheus text exposition format (version 0.0.4) strictly
 * enough to catch mistakes: returns {families: name -> {type, help},
 * samples: [{name, labels, value}]} and throws on a malformed line or a
 * sample without a # TYPE for its family.
 */
function parseProm(text) {
	const families = new Map(), samples = [];
	assert.ok(text.endsWith('\n'), 'ends with a newline');
	const familyOf = (name) => {
		if (families.has(name))
			return name;
		for (const suf of ['_bucket', '_sum', '_count', '_total', '_created'])
			if (name.endsWith(suf) && families.has(name.slice(0, -suf.length)))
				return name.slice(0, -suf.length);
		return null;
	};
	for (const line of text.split('\n')) {
		if (line === '')
			continue;
		let m;
		if ((m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
			const f = families.get(m[2]) || {};
			if (m[1] === 'TYPE') {
				assert.ok(['counter', 'gauge', 'histogram', 'summary',
				    'untyped'].includes(m[3]), `type: ${line}`);
				assert.equal(f.type, undefined, `one # TYPE per family: ${line}`);
				f.type = m[3];
			} else
				f.help = m[3];
			families.set(m[2], f);
			continue;
		}
		if (line.startsWith('#'))
			continue;
		m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
		assert.ok(m, `a sample line: ${JSON.stringify(line)}`);
		const labels = {};
		if (m[3] !== undefined && m[3] !== '') {
			const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;
			let lm, at = 0;
			while (at < m[3].length && (lm = re.exec(m[3]))) {
				labels[lm[1]] = lm[2].replace(/\\(.)/g,
				    (_, c) => (c === 'n' ? '\n' : c));
				at = re.lastIndex;
			}
			assert.equal(at, m[3].length, `labels of ${line}`);
		}
		const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity :
		    Number(m[4]);
		assert.ok(!Number.isNaN(value) || m[4] === 'NaN', `value: ${line}`);
		const fam = familyOf(m[1]);
		assert.ok(fam && families.get(fam).type, `# TYPE for ${m[1]}`);
		samples.push({ name: m[1], family: fam, labels, value });
	}
	return { families, samples };
}

/* The value of the sample name{labels} (all given labels match), or
 * undefined. */
function val(p, name, labels = {}) {
	const s = p.samples.find((x) => x.name === name &&
	    Object.entries(labels).every(([k, v]) => x.labels[k] === v));
	return s ? s.value : undefined;
}

async function metrics(s) {
	const r = await s.api('GET', '/metrics');
	assert.equal(r.status, 200);
	assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
	return parseProm(r.text);
}

test('/metrics is Prometheus text whose counters move with ingest and ' +
    'deliveries; /healthz and /readyz answer', async (t) => {
	const sink = await startSink({ t });
	const s = await start({ t });
	const m0 = await metrics(s);
	for (const [name, type] of [
		['sluice_events_accepted_total', 'counter'],
		['sluice_events_rejected_total', 'counter'],
		['sluice_delivery_attempts_total', 'counter'],
		['sluice_queue_messages', 'gauge'],
		['sluice_group_commit_jobs', 'histogram'],
		['sluice_sqlite_commit_duration_seconds', 'histogram'],
		['sluice_delivery_attempt_duration_seconds', 'histogram'],
		['sluice_resident_memory_bytes', 'gauge'],
	])
		assert.equal(m0.families.get(name)?.type, type, `${name} is a ${type}`);

	await s.createTopic('ops');
	sink.next({ status: 500 });	/* the first attempt fails */
	const r = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'ops', sink: `${sink.url}/ops`, app_error_pause_ms: 0 });
	assert.equal(r.status, 201, r.text);
	const sub = String(r.json.id);
	/* one subscription that does not deliver: its queue stays pending */
	const r2 = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'ops', sink: `${sink.url}/held`, state: 'pub_only' });
	assert.equal(r2.status, 201, r2.text);
	const held = String(r2.json.id);

	for (let i = 0; i < 3; i++) {
		const x = await s.publishStructured({ id: `ops${i}`, source: '/ops',
		    type: 'ops.t' }, { topic: 'ops' });
		assert.equal(x.status, 202, x.text);
	}
	const dup = await s.publishStructured({ id: 'ops0', source: '/ops',
	    type: 'ops.t' }, { topic: 'ops' });
	assert.equal(dup.status, 202);
	const bad = await s.publishStructured({ id: 'x', source: '/ops' },
	    { topic: 'ops' });
	assert.equal(bad.status, 400);
	const nf = await s.publishStructured({ id: 'x', source: '/ops', type: 't' },
	    { topic: 'no-such-topic' });
	assert.equal(nf.status, 404);
	/* over --max-body (1 MiB): counted for the ingest URL only */
	const big = JSON.stringify({ specversion: '1.0', id: 'big', source: '/ops',
	    type: 't', data: 'x'.repeat(1024 * 1024) });
	const ce = { headers: { 'content-type': 'application/cloudevents+json' } };
	assert.equal((await s.api('POST', '/topics/ops/events', big, ce)).status,
	    413);
	assert.equal((await s.api('POST', '/api/v1/topics', big)).status, 413);
	await sink.waitFor(4, WAIT);	/* one 500, then three 200s */
	await until(async () => {
		const q = (await s.api('GET', `/api/v1/subscriptions/${sub}`))
		    .json.status.queue;
		return q.delivered === 3;
	}, WAIT, 'three deliveries recorded');

	const m1 = await metrics(s);
	const d = (name, labels) => val(m1, name, labels) - (val(m0, name, labels) || 0);
	assert.equal(d('sluice_events_accepted_total'), 3);
	assert.equal(d('sluice_events_duplicate_total'), 1);
	assert.equal(d('sluice_events_rejected_total', { reason: 'invalid' }), 1);
	assert.equal(d('sluice_events_rejected_total',
	    { reason: 'topic_not_found' }), 1);
	assert.equal(d('sluice_events_rejected_total', { reason: 'too_large' }), 1,
	    'the admin API\'s 413 is not an event rejected');
	assert.equal(d('sluice_delivery_attempts_total', { outcome: 'ok' }), 3);
	assert.equal(d('sluice_delivery_attempts_total', { outcome: 'app_error' }), 1);
	assert.equal(d('sluice_messages_delivered_total'), 3);
	assert.ok(d('sluice_delivery_attempt_duration_seconds_count') >= 4);
	assert.ok(d('sluice_group_commit_jobs_count') > 0, 'group commits counted');
	assert.ok(d('sluice_sqlite_commit_duration_seconds_count') > 0);
	/* histogram buckets are cumulative and end in +Inf == _count */
	for (const h of ['sluice_group_commit_jobs',
		'sluice_delivery_attempt_duration_seconds']) {
		const b = m1.samples.filter((x) => x.name === `${h}_bucket`);
		for (let i = 1; i < b.length; i++)
			assert.ok(b[i].value >= b[i - 1].value, `${h} buckets cumulative`);
		assert.equal(b[b.length - 1].labels.le, '+Inf');
		assert.equal(b[b.length - 1].value, val(m1, `${h}_count`));
	}
	/* queue depth by subscription and state */
	assert.equal(val(m1, 'sluice_queue_messages',
	    { subscription: sub, state: 'delivered' }), 3);
	assert.equal(val(m1, 'sluice_queue_messages',
	    { subscription: held, state: 'pending' }), 3);
	assert.ok(val(m1, 'sluice_resident_memory_bytes') > 1e6);
	/* /api/v1/stats totals every queue by state: the gauges' sums */
	const stats = (await s.api('GET', '/api/v1/stats')).json;
	for (const state of ['pending', 'inflight', 'delivered', 'dead']) {
		const sum = m1.samples.filter((x) => x.name ===
		    'sluice_queue_messages' && x.labels.state === state)
		    .reduce((a, x) => a + x.value, 0);
		assert.equal(stats.queue[state], sum, `stats queue.${state}`);
	}
	assert.equal(stats.queue.delivered >= 3 && stats.queue.pending >= 3, true);

	let h = await s.api('GET', '/healthz');
	assert.equal(h.status, 200);
	h = await s.api('GET', '/readyz');
	assert.equal(h.status, 200);
	await s.stop();
});

test('--log-json writes one JSON object a line with time, level, module ' +
    'and msg; the admin token is never logged', async (t) => {
	const token = `adm-${crypto.randomBytes(12).toString('hex')}`;
	const wrong = `wrong-${crypto.randomBytes(12).toString('hex')}`;
	const ptoken = `pub-${crypto.randomBytes(12).toString('hex')}`;
	const s = await start({ t, token, args: ['--log-json', '--log-level',
	    'debug', '--admin-token', token] });
	await s.createTopic('logged', { publish_token: ptoken });
	assert.equal((await s.api('GET', '/api/v1/topics', null,
	    { token: wrong })).status, 403);
	assert.equal((await s.api('GET', '/api/v1/topics', null,
	    { token: null })).status, 401);
	assert.equal((await s.publishStructured({ id: '1', source: '/l', type: 't' },
	    { topic: 'logged', token: ptoken })).status, 202);
	assert.equal((await s.publishStructured({ id: '2', source: '/l', type: 't' },
	    { topic: 'logged', token: wrong })).status, 403);
	await s.stop();
	const lines = s.lines.filter((l) => l !== '');
	assert.ok(lines.length >= 3, `some log lines: ${lines.length}`);
	for (const l of lines) {
		let o;
		assert.doesNotThrow(() => { o = JSON.parse(l); }, `JSON: ${l}`);
		assert.equal(typeof o, 'object');
		assert.ok(!Number.isNaN(Date.parse(o.time)) &&
		    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(o.time), `time: ${l}`);
		assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level),
		    `level: ${l}`);
		assert.equal(typeof o.module, 'string', `module: ${l}`);
		assert.equal(typeof o.msg, 'string', `msg: ${l}`);
	}
	assert.ok(lines.some((l) => JSON.parse(l).msg.includes('listening on')));
	const log = s.logs();
	for (const [what, secret] of [['admin token', token],
		['wrong token', wrong], ['publish token', ptoken]])
		assert.ok(!log.includes(secret), `the ${what} is not in the log`);
});

test('--stats-interval 1s publishes io.sluice.server.stats system events',
    async (t) => {
	const s = await start({ t, args: ['--stats-interval', '1s'] });
	await s.publishStructured({ id: 'st', source: '/st', type: 't' });
	const items = await until(async () => {
		const r = await s.api('GET', '/api/v1/sysevents?operation=server.stats');
		assert.equal(r.status, 200, r.text);
		return r.json.items.length >= 2 ? r.json.items : null;
	}, 10000, 'two stats system events');
	const it = items[0];
	assert.equal(it.operation, 'server.stats');
	for (const k of ['uptime_s', 'topics', 'subscriptions', 'events'])
		assert.equal(typeof it.metadata[k], 'number', `metadata.${k}`);
	for (const k of ['pending', 'inflight', 'delivered', 'dead'])
		assert.equal(typeof it.metadata.queue[k], 'number', `queue.${k}`);
	/* ... and as CloudEvents in $sys */
	const ev = (await s.allEvents({ topic: '$sys', type: 'io.sluice.server.stats' }));
	assert.ok(ev.length >= 2, `stats events in $sys: ${ev.length}`);
	assert.match(ev[0].event.source, /^\/sluice\//);
	await s.stop();
});

test('--backup FILE while sluiced runs and ingests; a second sluiced on the ' +
    'copy reads the same events and still signs with the same key', async (t) => {
	const sink = await startSink({ t });
	const secret = 'whsec_' + crypto.randomBytes(24).toString('base64');
	const s = await start({ t });
	await s.createTopic('bk');
	const r = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'bk', sink: `${sink.url}/bk`, secret, state: 'pub_only' });
	assert.equal(r.status, 201, r.text);
	const acked = new Map();
	for (let i = 0; i < 200; i++) {
		const x = await s.publishStructured({ id: `bk${i}`, source: '/bk',
		    type: 'bk.t', data: { i } }, { topic: 'bk' });
		assert.equal(x.status, 202);
		acked.set(`bk${i}`, x.json.accepted[0].msg);
	}
	/* back up while a producer keeps publishing */
	let going = true, more = 0;
	const producer = (async () => {
		while (going) {
			const x = await s.publishStructured({ id: `more${more}`,
			    source: '/bk', type: 'bk.t' }, { topic: 'bk' });
			assert.equal(x.status, 202);
			more++;
		}
	})();
	const dir = tempDir(t);
	const copy = path.join(dir, 'sluice.db');
	const b = await run(['--db', s.db, '--backup', copy]);
	going = false;
	await producer;
	assert.equal(b.code, 0, b.stderr);
	assert.ok(fs.statSync(copy).size > 0);
	t.diagnostic(`backup taken while ${more} more events were published`);
	/* the key file goes with it */
	assert.ok(fs.existsSync(`${copy}.key`), '--backup writes FILE.key');
	assert.deepEqual(fs.readFileSync(`${copy}.key`),
	    fs.readFileSync(`${s.db}.key`), 'the same key');

	const s2 = await start({ t, dir, db: copy });
	const stored = new Map((await s2.allEvents({ topic: 'bk' }))
	    .map((it) => [it.event.id, it]));
	for (const [id, msg] of acked) {
		assert.ok(stored.has(id), `restored copy has ${id}`);
		assert.equal(stored.get(id).msg, msg);
	}
	assert.deepEqual(stored.get('bk7').event.data, { i: 7 });
	/* the restored subscription delivers, signed with the same secret */
	const subs = (await s2.api('GET', '/api/v1/subscriptions?topic=bk')).json.items;
	assert.equal(subs.length, 1);
	assert.equal(subs[0].secret_set, true);
	const p = await s2.api('PATCH', `/api/v1/subscriptions/${subs[0].id}`,
	    { state: 'pub_and_sub' });
	assert.equal(p.status, 200, p.text);
	const reqs = await sink.waitFor(stored.size, WAIT);
	assert.doesNotThrow(() => new Webhook(secret).verify(reqs[0].text,
	    reqs[0].headers), 'the restored copy signs with the secret');
	await s2.stop();
	await s.stop();
});

test('secrets are not in the database file in clear; a restart with the ' +
    'same key file still signs so that standardwebhooks verifies', async (t) => {
	const sink = await startSink({ t });
	const raw = crypto.randomBytes(32);
	const secret = 'whsec_' + raw.toString('base64');
	const ptoken = `publish-${crypto.randomBytes(16).toString('hex')}`;
	const s = await start({ t });
	await s.createTopic('sec', { publish_token: ptoken });
	const r = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'sec', sink: `${sink.url}/sec`, secret });
	assert.equal(r.status, 201, r.text);
	const sub = r.json.id;
	/* a second subscription with a secret in unpadded base64 */
	const plain = 'whsec_' + crypto.randomBytes(31).toString('base64')
	    .replace(/=+$/, '');
	const r2 = await s.api('POST', '/api/v1/subscriptions', {
		topic: 'sec', sink: `${sink.url}/plain`, secret: plain,
		state: 'pub_only' });
	assert.equal(r2.status, 201, r2.text);

	const pub = async (id) => {
		const x = await s.publishStructured({ id, source: '/sec', type: 't' },
		    { topic: 'sec', token: ptoken });
		assert.equal(x.status, 202, x.text);
	};
	await pub('a');
	let [req] = await sink.waitFor(1, WAIT);
	assert.doesNotThrow(() => new Webhook(secret).verify(req.text, req.headers));

	/* Stop (checkpoint) and read every file of the database. */
	await s.stop();
	const files = fs.readdirSync(s.dir).filter((f) => f.startsWith('sluice.db') &&
	    !f.endsWith('.key')).map((f) => path.join(s.dir, f));
	assert.ok(fs.existsSync(`${s.db}.key`), 'a key file beside the database');
	const mode = fs.statSync(`${s.db}.key`).mode & 0o777;
	assert.equal(mode & 0o077, 0, `the key file is private: ${mode.toString(8)}`);
	for (const f of files) {
		const bytes = fs.readFileSync(f);
		for (const [what, needle] of [
			['secret', Buffer.from(secret)],
			['secret base64', Buffer.from(raw.toString('base64'))],
			['secret bytes', raw],
			['unpadded secret', Buffer.from(plain.slice(6))],
			['publish token', Buffer.from(ptoken)]])
			assert.equal(bytes.indexOf(needle), -1,
			    `${path.basename(f)} does not hold the ${what} in clear`);
	}
	/* (the search works: what is stored in clear is found) */
	assert.ok(files.some((f) => fs.readFileSync(f)
	    .indexOf(Buffer.from(`${sink.url}/plain`)) >= 0), 'the sink URL is found');
	const key = fs.readFileSync(`${s.db}.key`);
	for (const f of files)
		assert.equal(fs.readFileSync(f).indexOf(key.subarray(0, 16)), -1,
		    `${path.basename(f)} does not hold the key`);

	/* Same database, same key file: still signs, still takes the token. */
	await s.restart();
	sink.clear();
	await pub('b');
	[req] = await sink.waitFor(1, WAIT);
	assert.equal(JSON.parse(req.text).id, 'b');
	assert.doesNotThrow(() => new Webhook(secret).verify(req.text, req.headers),
	    'signed with the same secret after a restart');
	const x = await s.publishStructured({ id: 'c', source: '/sec', type: 't' },
	    { topic: 'sec', token: 'not-the-token' });
	assert.equal(x.status, 403);
	const st = await s.api('GET', `/api/v1/subscriptions/${sub}`);
	assert.equal(st.json.secret_set, true);
	assert.equal(st.json.secret, undefined);
	await s.stop();
});

test('--backup refuses to copy sealed secrets without their key file (a --secret-key-file sluiced runs with, not given)', async (t) => {
	const dir = tempDir(t);
	const key = path.join(dir, 'elsewhere.key');
	const s = await start({ t, args: ['--secret-key-file', key] });
	const secret = 'whsec_' + crypto.randomBytes(24).toString('base64');
	const r = await s.api('POST', '/api/v1/subscriptions', {
		sink: 'http://127.0.0.1:9/nowhere', secret, state: 'pub_only' });
	assert.equal(r.status, 201, r.text);
	const copy = path.join(dir, 'copy.db');
	const b = await run(['--db', s.db, '--backup', copy]);
	assert.notEqual(b.code, 0, b.stderr);
	assert.match(b.stderr, /1 subscription secret\(s\) .* sealed .*--secret-key-file/);
	assert.ok(!fs.existsSync(copy), 'nothing was written');
	const ok = await run(['--db', s.db, '--backup', copy,
		'--secret-key-file', key]);
	assert.equal(ok.code, 0, ok.stderr);
	assert.deepEqual(fs.readFileSync(`${copy}.key`), fs.readFileSync(key));
	await s.stop();
});

test('a copy restored without its key file is refused with a message ' +
    'naming the key file', async (t) => {
	const s = await start({ t });
	const secret = 'whsec_' + crypto.randomBytes(24).toString('base64');
	const r = await s.api('POST', '/api/v1/subscriptions', {
		sink: 'http://127.0.0.1:9/nowhere', secret, state: 'pub_only' });
	assert.equal(r.status, 201, r.text);
	const dir = tempDir(t);
	const copy = path.join(dir, 'sluice.db');
	const b = await run(['--db', s.db, '--backup', copy]);
	assert.equal(b.code, 0, b.stderr);
	await s.stop();
	fs.rmSync(`${copy}.key`, { force: true });
	/* No key: sluiced must not start as if nothing were wrong (a new key
	 * would hide every subscription with a secret). */
	const x = await run(['--listen', '127.0.0.1:0', '--db', copy],
	    { timeoutMs: 10000 });
	assert.equal(x.signal, null, `exited by itself: ${x.stderr}`);
	assert.notEqual(x.code, 0, `refused: ${x.stderr}`);
	assert.match(x.stderr, /key/i, 'the refusal names the key');
	assert.ok(!fs.existsSync(`${copy}.key`), 'no new key was made');
});
