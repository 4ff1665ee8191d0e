'use strict';
/*
 * daemon.test.cjs: sluiced as a process: its command line (--help,
 * --version, one-line errors with exit 2), where settings come from (file <
 * SLUICE_* environment < flags), clean stops on SIGTERM and SIGINT, crash
 * safety (every 202 survives a SIGKILL), migrations on restart, refusing a
 * database from a newer version, and many concurrent producers.  Also the
 * log file and SIGHUP (log rotation), empty values for settings that need
 * one, an empty allowed_origins, and a web_root that cannot serve.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { start, run, tempDir, assertProblem, api, until, childEnv,
	SLUICED } = require('../lib/sluice.cjs');

function lines(text) {
	return text.split('\n').filter((l) => l !== '');
}

test('--help prints the usage with every setting and exits 0', async () => {
	const r = await run(['--help']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^usage: sluiced/);
	for (const flag of ['--config', '--listen', '--db', '--admin-token',
		'--workers', '--max-body', '--web-root', '--log-level'])
		assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
	assert.equal(r.stderr, '');
});

test('--version prints the version and exits 0', async () => {
	const r = await run(['--version']);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /^sluiced \d+\.\d+/);
	assert.equal(lines(r.stdout).length, 1);
});

test('an unknown flag or a bad value is one line on stderr and exit 2', async () => {
	const dir = tempDir();
	try {
		const cases = [
			[['--no-such-flag'], /no-such-flag/],
			[['stray'], /stray/],
			[['--db'], /db/],
			[['--max-body', 'lots'], /max_body|max-body/],
			[['--max-body', '1'], /max_body|max-body/],
			[['--workers', '-3'], /workers/],
			[['--log-level', 'loud'], /log_level|log-level/],
			[['--listen', 'nonsense'], /listen/],
			[['--listen', '127.0.0.1:99999'], /listen/],
			[['--listen', 'no_such_host:80'], /listen/],
			[['--sink-deny', 'bogus'], /sink_deny: not a CIDR: bogus/],
			[['--sink-deny', '10.0.0.0/33'], /sink_deny/],
			[['--ca-file', path.join(dir, 'no-such.pem')],
			    /ca_file: .*no-such\.pem: No such file/],
			[['--listen', '-bad.example:80'], /listen/],
			[['--idle-timeout', 'forever'], /idle_timeout|idle-timeout/],
		];
		for (const [args, re] of cases) {
			const r = await run([...args, '--db', path.join(dir, 'x.db')],
			    { cwd: dir });
			assert.equal(r.code, 2, `${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
			assert.equal(lines(r.stderr).length, 1,
			    `${args.join(' ')}: one line: ${r.stderr}`);
			assert.match(r.stderr, re);
			assert.equal(r.stdout, '');
		}
		const env = await run([], { cwd: dir, env: { SLUICE_MAX_BODY: 'x',
			SLUICE_DB: path.join(dir, 'x.db') } });
		assert.equal(env.code, 2);
		assert.match(env.stderr, /SLUICE_MAX_BODY/);
		fs.writeFileSync(path.join(dir, 'bad.conf'), '# c\nmax_body = zz\n');
		const file = await run(['--config', 'bad.conf'], { cwd: dir });
		assert.equal(file.code, 2);
		assert.match(file.stderr, /bad\.conf:2/);
		const missing = await run(['--config', 'missing.conf'], { cwd: dir });
		assert.equal(missing.code, 2);
		assert.equal(lines(missing.stderr).length, 1);
		assert.ok(!fs.existsSync(path.join(dir, 'x.db')),
		    'a refused command line touches no database');
	} finally {
		fs.rmSync(dir, { recursive: true, force: true });
	}
});

test('settings: config file < SLUICE_* environment < flags', async (t) => {
	const dir = tempDir(t);
	fs.writeFileSync(path.join(dir, 'sluice.conf'), [
		'# settings for the precedence test',
		'listen = 127.0.0.1:0',
		'db = file.db',
		'max_body = 2k',
		'allowed_origins = file.example.com',
	].join('\n') + '\n');
	const body = (n) => JSON.stringify({ specversion: '1.0', id: `n${n}`,
		source: '/p', type: 't', data: 'x'.repeat(n - 80) }).padEnd(n, ' ');

	/* file + env + flag */
	const a = await start({ t, dir, bare: true, args: ['--config',
		'sluice.conf', '--max-body', '4k'], env: { SLUICE_DB: 'env.db',
		SLUICE_MAX_BODY: '3k' } });
	assert.match(a.logs(), /database env\.db/, 'SLUICE_DB wins over the file');
	assert.ok(fs.existsSync(path.join(dir, 'env.db')));
	assert.ok(!fs.existsSync(path.join(dir, 'file.db')));
	let r = await a.publishStructured(body(3500));
	assert.equal(r.status, 202, `--max-body 4k wins over SLUICE_MAX_BODY 3k: ${r.text}`);
	r = await a.publishStructured(body(4097));
	assert.equal(r.status, 413);
	r = await a.api('OPTIONS', '/events', null,
	    { headers: { 'WebHook-Request-Origin': 'file.example.com' } });
	assert.equal(r.headers['webhook-allowed-origin'], 'file.example.com',
	    'the file sets what nothing overrides');
	r = await a.api('OPTIONS', '/events', null,
	    { headers: { 'WebHook-Request-Origin': 'other.example.com' } });
	assert.equal(r.status, 403);
	await a.stop();

	/* file + env (via SLUICE_CONFIG) */
	const b = await start({ t, dir, bare: true, env: {
		SLUICE_CONFIG: 'sluice.conf', SLUICE_MAX_BODY: '3k' } });
	assert.match(b.logs(), /database file\.db/, 'the file names the db');
	r = await b.publishStructured(body(3000));
	assert.equal(r.status, 202, r.text);
	r = await b.publishStructured(body(3500));
	assert.equal(r.status, 413, 'SLUICE_MAX_BODY 3k wins over the file');
	await b.stop();

	/* the file alone, and a flag over it */
	const c = await start({ t, dir, bare: true, args: ['--config',
		'sluice.conf', '--db', 'flag.db'] });
	assert.match(c.logs(), /database flag\.db/);
	r = await c.publishStructured(body(2100));
	assert.equal(r.status, 413, 'max_body 2k from the file');
	await c.stop();
});

test('SIGTERM stops cleanly: exit 0, database closed, a restart sees every event', async (t) => {
	const s = await start({ t });
	const ev = { id: 'before-stop', source: '/s', type: 't', data: { k: 1 } };
	const r = await s.publishStructured(ev);
	assert.equal(r.status, 202);
	const ex = await s.stop();
	assert.equal(ex.code, 0);
	assert.equal(ex.signal, null);
	assert.match(s.logs(), /SIGTERM/);
	assert.ok(!fs.existsSync(s.db + '-wal') ||
	    fs.statSync(s.db + '-wal').size === 0, 'the WAL was checkpointed');
	await s.restart();
	const item = await s.event(r.json.accepted[0].msg);
	assert.deepEqual(item.event, Object.assign({ specversion: '1.0' }, ev));
	await s.stop();
});

test('SIGHUP does not stop sluiced; it keeps serving, and SIGTERM still exits 0', async (t) => {
	const s = await start({ t });
	s.proc.kill('SIGHUP');
	await new Promise((res) => setTimeout(res, 200));
	assert.ok(s.running, `sluiced ended on SIGHUP:\n${s.logs()}`);
	assert.match(s.logs(), /SIGHUP/);
	const r = await s.publishStructured({ id: 'hup', source: '/s', type: 't' });
	assert.equal(r.status, 202);
	assert.equal((await s.stop()).code, 0);
});

test('logs: levelled lines on stderr; --log-json makes each line a JSON object; --log-level filters', async (t) => {
	const text = await start({ t });
	assert.match(text.logs(), /^\S+ info main: sluiced .* listening on http:\/\//m);
	await text.stop();
	const json = await start({ t, args: ['--log-json'] });
	const ls = json.lines.filter((l) => l.trim() !== '');
	assert.ok(ls.length >= 2);
	for (const l of ls) {
		const o = JSON.parse(l);
		assert.equal(typeof o.time, 'string');
		assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), l);
		assert.equal(typeof o.msg, 'string');
	}
	await json.stop();
	/* at warn, a start that fails prints its error and no info lines */
	const dir = tempDir(t);
	const quiet = await run(['--listen', '127.0.0.1:0', '--db',
		path.join(dir, 'no-such-dir', 'q.db'), '--log-level', 'warn']);
	assert.notEqual(quiet.code, 0);
	assert.match(quiet.stderr, / error main: .*no-such-dir/);
	assert.doesNotMatch(quiet.stderr, / info /);
	const w = await start({ t, dir, args: ['--log-level', 'debug'] });
	assert.match(w.logs(), / debug /, 'debug lines at --log-level debug');
	await w.stop();
});

test('SIGINT stops cleanly too', async (t) => {
	const s = await start({ t });
	s.proc.kill('SIGINT');
	const ex = await s.waitExit(30000);
	assert.equal(ex.code, 0, s.logs());
	assert.match(s.logs(), /SIGINT/);
});

test('SIGTERM while producers are sending: requests in flight finish, exit 0', async (t) => {
	const s = await start({ t });
	await s.createTopic('inflight');
	/* 16 producers sending back to back, each request on its own
	 * connection (node:http, so a reset is an error, never a hang) */
	const results = [];
	let replies = 0, stopping = false;
	const producer = async (p) => {
		for (let i = 0; !stopping || i < 1000; i++) {
			const body = Buffer.from(JSON.stringify({ specversion: '1.0',
				id: `f${p}-${i}`, source: '/f', type: 't', data: { p, i } }));
			try {
				const r = await s.raw({ path: '/topics/inflight/events', body,
					headers: { 'content-type': 'application/cloudevents+json' },
					timeoutMs: 20000 });
				results.push({ id: `f${p}-${i}`, status: r.status, json: r.json });
				replies++;
			} catch (e) {
				/* refused or reset: the server had stopped taking work */
				assert.ok(stopping, `error before SIGTERM: ${e.message}`);
				assert.match(e.code || e.message, /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up/);
				return;
			}
		}
	};
	const producers = [...Array(16).keys()].map(producer);
	while (replies < 100)
		await new Promise((res) => setTimeout(res, 2));
	stopping = true;
	const ex = await s.stop();
	assert.equal(ex.code, 0);
	await Promise.all(producers);
	for (const r of results)
		assert.equal(r.status, 202, `${r.id}: ${JSON.stringify(r.json)}`);
	await s.restart();
	const stored = await s.allEvents({ topic: 'inflight' });
	const ids = new Set(stored.map((i) => i.event.id));
	for (const r of results)
		assert.ok(ids.has(r.id), `${r.id} got a 202 but is not stored`);
	assert.equal(ids.size, stored.length, 'nothing stored twice');
	await s.stop();
});

test('every event that got a 202 is present after a SIGKILL and a restart', async (t) => {
	const s = await start({ t });
	await s.createTopic('crash');
	const total = 600, accepted = [];
	let next = 0, killed = false;
	const worker = async () => {
		while (next < total && !killed) {
			const i = next++;
			const body = i % 3 === 0 ?
			    s.publishBinary({ id: `k${i}`, source: '/crash', type: 't' },
				Buffer.from([i & 0xff, 0, 0xff]), { topic: 'crash' }) :
			    s.publishStructured({ id: `k${i}`, source: '/crash',
				type: 't', data: { i } }, { topic: 'crash' });
			try {
				const r = await body;
				if (r.status === 202)
					accepted.push({ i, msg: r.json.accepted[0].msg });
			} catch (e) {
				/* the connection died with the server */
			}
		}
	};
	const workers = [];
	for (let w = 0; w < 24; w++)
		workers.push(worker());
	while (accepted.length < 200)
		await new Promise((res) => setTimeout(res, 2));
	killed = true;
	await s.kill();
	assert.equal(s.exit.signal, 'SIGKILL');
	await Promise.all(workers);
	assert.ok(accepted.length >= 200);
	await s.restart();
	const stored = await s.allEvents({ topic: 'crash' });
	const byMsg = new Map(stored.map((it) => [it.msg, it]));
	for (const a of accepted) {
		const it = byMsg.get(a.msg);
		assert.ok(it, `event k${a.i} got a 202 (msg ${a.msg}) but is gone`);
		assert.equal(it.event.id, `k${a.i}`);
		if (a.i % 3 === 0)
			assert.equal(it.event.data_base64,
			    Buffer.from([a.i & 0xff, 0, 0xff]).toString('base64'));
		else
			assert.deepEqual(it.event.data, { i: a.i });
	}
	assert.equal(new Set(stored.map((it) => it.event.id)).size, stored.length,
	    'nothing stored twice');
	/* and the restarted server takes new events */
	const r = await s.publishStructured({ id: 'after-crash', source: '/crash',
		type: 't' }, { topic: 'crash' });
	assert.equal(r.status, 202);
	await s.stop();
});

test('starting twice on the same database is a no-op for the schema', async (t) => {
	const s = await start({ t });
	const first = s.logs();
	assert.match(first, /applied migration 001_init\.sql/);
	const v1 = /schema version (\d+)/.exec(first);
	assert.ok(v1, first);
	await s.createTopic('kept');
	await s.stop();
	const before = s.lines.length;
	await s.restart();
	const second = s.lines.slice(before).join('\n');
	assert.doesNotMatch(second, /applied migration/);
	assert.equal(/schema version (\d+)/.exec(second)[1], v1[1]);
	assert.equal((await s.api('GET', '/api/v1/topics/kept')).status, 200);
	const topics = (await s.api('GET', '/api/v1/topics')).json.items;
	assert.equal(topics.filter((x) => x.name === 'default').length, 1);
	await s.stop();
});

/* Sets PRAGMA user_version of a closed database. */
function setUserVersion(db, v) {
	try {
		execFileSync('sqlite3', [db, `PRAGMA user_version = ${v};`],
		    { stdio: 'pipe' });
		return;
	} catch (e) {
		if (e.code !== 'ENOENT')
			throw e;
	}
	/* no sqlite3 shell: patch the header (offset 60, big-endian) */
	assert.ok(!fs.existsSync(db + '-wal') || fs.statSync(db + '-wal').size === 0);
	const fd = fs.openSync(db, 'r+');
	const b = Buffer.alloc(4);
	b.writeUInt32BE(v);
	fs.writeSync(fd, b, 0, 4, 60);
	fs.closeSync(fd);
}

test('migration 011 builds the subscriptions table again without losing a queue, and names may then repeat', async (t) => {
	try {
		execFileSync('sqlite3', ['-version'], { stdio: 'pipe' });
	} catch (e) {
		t.skip('no sqlite3 shell (scripts/install-deps --test installs it)');
		return;
	}
	const s = await start({ t });
	await s.createTopic('mig');
	const r = await s.api('POST', '/api/v1/subscriptions', { topic: 'mig',
	    sink: 'http://127.0.0.1:9/held', name: 'held', state: 'pub_only' });
	assert.equal(r.status, 201, r.text);
	const id = r.json.id;
	for (let i = 0; i < 3; i++)
		assert.equal((await s.publishStructured({ id: `m${i}`, source: '/m',
		    type: 't' }, { topic: 'mig' })).status, 202);
	await s.stop();
	/* back to schema 10: names unique per topic */
	execFileSync('sqlite3', [s.db, `BEGIN;
CREATE TABLE old (id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL
 REFERENCES topics(id) ON DELETE CASCADE, name TEXT NOT NULL,
 state TEXT NOT NULL DEFAULT 'pub_and_sub', spec TEXT NOT NULL, secret TEXT,
 created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
 paused_until INTEGER NOT NULL DEFAULT 0, pause_reason TEXT,
 failures INTEGER NOT NULL DEFAULT 0, validated INTEGER NOT NULL DEFAULT 0,
 last_error TEXT, last_error_at INTEGER, last_success_at INTEGER,
 allowed_rate INTEGER NOT NULL DEFAULT 0, UNIQUE (topic_id, name));
INSERT INTO old SELECT id, topic_id, name, state, spec, secret, created_at,
 updated_at, paused_until, pause_reason, failures, validated, last_error,
 last_error_at, last_success_at, allowed_rate FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE old RENAME TO subscriptions;
PRAGMA user_version = 10;
COMMIT;`], { stdio: 'pipe' });
	const before = s.lines.length;
	await s.restart();
	assert.match(s.lines.slice(before).join('\n'),
	    /applied migration 011_names_are_labels\.sql/);
	const sub = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(sub.status, 200, sub.text);
	assert.equal(sub.json.name, 'held');
	assert.equal(sub.json.status.queue.pending, 3, 'the queue is kept');
	const msgs = await s.api('GET', `/api/v1/subscriptions/${id}/messages`);
	assert.equal(msgs.json.items.length, 3);
	const again = await s.api('POST', '/api/v1/subscriptions', { topic: 'mig',
	    sink: 'http://127.0.0.1:9/other', name: 'held', state: 'pub_only' });
	assert.equal(again.status, 201, again.text);
	assert.ok(again.json.id > id, 'ids are not given again');
	await s.stop();
});

test('a second sluiced on a database in use is refused; the first keeps serving', async (t) => {
	const s = await start({ t });
	const r = await run(['--listen', '127.0.0.1:0', '--db', s.db]);
	assert.notEqual(r.code, 0, r.stderr);
	assert.match(r.stderr, /in use/);
	assert.match(r.stderr, new RegExp(`pid ${s.proc.pid}`));
	assert.doesNotMatch(r.stderr, /listening/);
	const ev = await s.publishStructured({ id: 'still', source: '/s', type: 't' });
	assert.equal(ev.status, 202);
	/* a crash frees the database for the next start */
	await s.kill();
	await s.restart();
	assert.equal((await s.allEvents({ source: '/s' })).length, 1);
	await s.stop();
});

test('a database from a newer sluiced is refused with a clear message', async (t) => {
	const s = await start({ t });
	await s.publishStructured({ id: '1', source: '/s', type: 't' });
	await s.stop();
	setUserVersion(s.db, 999);
	const before = fs.readFileSync(s.db);
	const r = await run(['--listen', '127.0.0.1:0', '--db', s.db]);
	assert.notEqual(r.code, 0, r.stderr);
	assert.equal(r.signal, null);
	assert.match(r.stderr, /999/);
	assert.match(r.stderr, /newer/i);
	assert.doesNotMatch(r.stderr, /listening/);
	assert.ok(fs.readFileSync(s.db).equals(before), 'the database is untouched');
});

test('16 concurrent producers x 500 events: all read back intact, none lost, none doubled', async (t) => {
	const s = await start({ t });
	await s.createTopic('load');
	const clients = 16, per = 500;
	const accepted = new Map();
	const client = async (c) => {
		for (let i = 0; i < per; i++) {
			const id = `c${c}-${i}`;
			const r = i % 4 === 3 ?
			    await s.publishBinary({ id, source: `/client/${c}`,
				type: 'load' }, `text ${c} ${i}`,
			    { topic: 'load', contentType: 'text/plain' }) :
			    await s.publishStructured({ id, source: `/client/${c}`,
				type: 'load', seq: i, data: { c, i, pad: 'p'.repeat(i % 50) } },
			    { topic: 'load' });
			assert.equal(r.status, 202, r.text);
			assert.equal(r.json.accepted.length, 1, r.text);
			accepted.set(id, r.json.accepted[0].msg);
		}
	};
	await Promise.all([...Array(clients).keys()].map(client));
	assert.equal(accepted.size, clients * per);
	assert.equal(new Set(accepted.values()).size, clients * per,
	    'every 202 names its own msg');
	const stored = await s.allEvents({ topic: 'load' });
	assert.equal(stored.length, clients * per);
	const seen = new Set();
	for (const it of stored) {
		const e = it.event;
		assert.ok(!seen.has(e.id), `${e.id} stored twice`);
		seen.add(e.id);
		assert.equal(accepted.get(e.id), it.msg);
		const [c, i] = e.id.slice(1).split('-').map(Number);
		assert.equal(e.source, `/client/${c}`);
		if (i % 4 === 3)
			assert.equal(e.data, `text ${c} ${i}`);
		else {
			assert.equal(e.seq, i);
			assert.deepEqual(e.data, { c, i, pad: 'p'.repeat(i % 50) });
		}
	}
	/* each producer's events are listed in the order it sent them */
	for (let c = 0; c < clients; c++) {
		const mine = stored.filter((it) => it.event.source === `/client/${c}`)
		    .map((it) => Number(it.event.id.split('-')[1]));
		assert.deepEqual(mine, [...Array(per).keys()]);
	}
	await s.stop();
});

test('a full database: 503 with Retry-After, and an event is stored if and only if it got a 202', async (t) => {
	/* 300 pages hold the small events but never a 3 MiB one */
	const s = await start({ t, args: ['--max-db-pages', '300',
		'--max-body', '4M'] });
	const big = 'x'.repeat(3 * 1024 * 1024);
	const results = [];
	let problem;
	for (let round = 0; round < 8; round++) {
		const sends = [];
		for (let k = 0; k < 16; k++) {
			const id = `full-${round}-${k}`;
			const isBig = k === 3;
			sends.push(s.publishStructured({ id, source: '/full', type: 't',
				data: isBig ? big : `small ${id}` }).then((r) => {
				results.push({ id, status: r.status, isBig });
				if (r.status === 503)
					problem = r;
			}));
		}
		await Promise.all(sends);
	}
	for (const r of results)
		assert.ok(r.status === 202 || r.status === 503, JSON.stringify(r));
	assert.ok(results.filter((r) => r.isBig).every((r) => r.status === 503),
	    'an event that cannot fit is refused');
	assert.ok(results.some((r) => r.status === 202));
	assertProblem(problem, 503);
	assert.ok(Number(problem.headers['retry-after']) >= 0, problem.headers);
	const stored = new Set((await s.allEvents({ source: '/full' }))
	    .map((it) => it.event.id));
	for (const r of results)
		assert.equal(stored.has(r.id), r.status === 202,
		    `${r.id} answered ${r.status} but ${stored.has(r.id) ? '' : 'not '}stored`);
	/* a failed batch leaves nothing behind either */
	const batch = await s.publishBatch([
		{ id: 'fb-1', source: '/full-batch', type: 't', data: 'small' },
		{ id: 'fb-2', source: '/full-batch', type: 't', data: big },
	]);
	assertProblem(batch, 503);
	assert.deepEqual(await s.allEvents({ source: '/full-batch' }), []);
	await s.stop();
});

test('group commit: concurrent producers share transactions (fewer commits than requests)', async (t) => {
	const s = await start({ t });
	const metric = (text, name) => {
		const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
		assert.ok(m, `GET /metrics has ${name}`);
		return Number(m[1]);
	};
	const before = (await s.api('GET', '/metrics')).text;
	await Promise.all([...Array(16).keys()].map(async (c) => {
		for (let i = 0; i < 60; i++) {
			const r = await s.publishStructured({ id: `g${c}-${i}`,
				source: '/gc', type: 't' });
			assert.equal(r.status, 202, r.text);
		}
	}));
	const after = (await s.api('GET', '/metrics')).text;
	const commits = metric(after, 'sluice_group_commit_jobs_count') -
	    metric(before, 'sluice_group_commit_jobs_count');
	const jobs = metric(after, 'sluice_group_commit_jobs_sum') -
	    metric(before, 'sluice_group_commit_jobs_sum');
	assert.ok(jobs >= 960, `${jobs} jobs for 960 requests`);
	assert.ok(commits <= jobs * 0.9, `${commits} commits for ${jobs} jobs: ` +
	    'requests are not sharing transactions');
	assert.equal((await s.allEvents({ source: '/gc' })).length, 960);
	await s.stop();
});

test('a producer sending the same events again after a restart gets duplicates, not copies', async (t) => {
	const s = await start({ t });
	const evs = [0, 1, 2].map((i) => ({ id: `r${i}`, source: '/again',
		type: 't' }));
	const first = await s.publishBatch(evs);
	assert.equal(first.status, 202);
	await s.restart();
	const again = await s.publishBatch(evs);
	assert.equal(again.status, 202);
	assert.deepEqual(again.json.accepted, []);
	assert.deepEqual(again.json.duplicates, first.json.accepted);
	assert.equal((await s.allEvents({ source: '/again' })).length, 3);
	assertProblem(await s.api('GET', '/api/v1/events?limit=0'), 400, 'limit');
	await s.stop();
});

/*
 * Starts sluiced logging to logFile (start() reads "listening on" from
 * stderr, which a log file leaves empty) and waits for this run's
 * "listening on" there: resolves { proc, url, stderr(), exited, running() },
 * and t.after kills what is still running.
 */
async function startLogged(t, dir, logFile, args = [], env = {}) {
	const from = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
	const proc = spawn(SLUICED, ['--listen', '127.0.0.1:0', '--db',
		path.join(dir, 'sluice.db'), ...args], { cwd: dir,
		env: childEnv(Object.assign({ SLUICE_LOG_FILE: logFile }, env)),
		stdio: ['ignore', 'pipe', 'pipe'] });
	let stderr = '';
	let exit = null;
	proc.stderr.on('data', (d) => { stderr += d; });
	proc.stdout.on('data', (d) => { stderr += d; });
	const exited = new Promise((res) => proc.on('close', (code, signal) => {
		exit = { code, signal };
		res(exit);
	}));
	t.after(async () => {
		if (exit === null) {
			proc.kill('SIGKILL');
			await exited;
		}
	});
	/* this run's lines: the file may hold earlier runs' */
	const read = () => fs.existsSync(logFile) ?
	    fs.readFileSync(logFile).subarray(from).toString('utf8') : '';
	const address = await until(() => {
		assert.equal(exit, null, `sluiced exited: ${stderr}\n${read()}`);
		const m = /listening on http:\/\/(\S+)/.exec(read());
		return m && m[1];
	}, 20000, `"listening on" in ${logFile}`);
	return { proc, url: `http://${address}`, stderr: () => stderr,
		exited, running: () => exit === null };
}

test('--log-file: lines go to the file; after a rename and SIGHUP the next lines go to a new file', async (t) => {
	const dir = tempDir(t);
	const log = path.join(dir, 'sluice.log');
	const s = await startLogged(t, dir, log);
	assert.equal(s.stderr(), '', 'nothing on stderr with a log file');
	assert.match(fs.readFileSync(log, 'utf8'),
	    /^\S+ info main: sluiced .* listening on http:\/\//m);
	assert.equal(fs.statSync(log).mode & 0o777 & ~0o640, 0,
	    'the log file is at most 0640');
	/* logrotate's way: rename, then SIGHUP */
	fs.renameSync(log, log + '.1');
	s.proc.kill('SIGHUP');
	const fresh = await until(() => fs.existsSync(log) &&
	    /SIGHUP: reopened/.test(fs.readFileSync(log, 'utf8')) &&
	    fs.readFileSync(log, 'utf8'), 10000, 'a new log file');
	assert.match(fresh, new RegExp(`info main: SIGHUP: reopened ${log}$`, 'm'));
	assert.doesNotMatch(fs.readFileSync(log + '.1', 'utf8'), /SIGHUP/,
	    'the rotated file gets nothing after the SIGHUP');
	/* it keeps serving, and later lines go to the new file */
	const r = await api(s.url, 'POST', '/events', JSON.stringify({
		specversion: '1.0', id: 'rot', source: '/s', type: 't' }),
	{ headers: { 'content-type': 'application/cloudevents+json' } });
	assert.equal(r.status, 202, r.text);
	s.proc.kill('SIGTERM');
	assert.equal((await s.exited).code, 0, s.stderr());
	const after = fs.readFileSync(log, 'utf8');
	assert.match(after, /SIGTERM: stopping/);
	assert.match(after, /main: stopped/);
	assert.doesNotMatch(fs.readFileSync(log + '.1', 'utf8'), /SIGTERM/);
	assert.equal(s.stderr(), '');
});

test('--log-file with --log-json: the file holds JSON lines, appended across restarts', async (t) => {
	const dir = tempDir(t);
	const log = path.join(dir, 'json.log');
	fs.writeFileSync(log, '');
	const s = await startLogged(t, dir, log, ['--log-json']);
	s.proc.kill('SIGTERM');
	assert.equal((await s.exited).code, 0);
	const first = lines(fs.readFileSync(log, 'utf8')).length;
	const again = await startLogged(t, dir, log, ['--log-json']);
	again.proc.kill('SIGTERM');
	assert.equal((await again.exited).code, 0);
	const all = lines(fs.readFileSync(log, 'utf8'));
	assert.ok(all.length > first, 'the second run appends');
	for (const l of all)
		assert.equal(typeof JSON.parse(l).msg, 'string', l);
});

test('SIGHUP when the log file cannot be reopened: an error in the old file, and sluiced keeps serving', async (t) => {
	const dir = tempDir(t);
	fs.mkdirSync(path.join(dir, 'logs'));
	const log = path.join(dir, 'logs', 'sluice.log');
	const s = await startLogged(t, dir, log);
	/* the folder moves away: the path cannot be opened again */
	fs.renameSync(path.join(dir, 'logs'), path.join(dir, 'old'));
	const old = path.join(dir, 'old', 'sluice.log');
	s.proc.kill('SIGHUP');
	const text = await until(() => {
		const x = fs.readFileSync(old, 'utf8');
		return /SIGHUP/.test(x) && x;
	}, 10000, 'the SIGHUP line in the old file');
	assert.match(text, new RegExp(`error main: SIGHUP: cannot reopen .*${
	    log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
	assert.ok(s.running(), 'sluiced is still running');
	assert.equal((await api(s.url, 'GET', '/healthz')).status, 200);
	s.proc.kill('SIGTERM');
	assert.equal((await s.exited).code, 0, s.stderr());
	assert.match(fs.readFileSync(old, 'utf8'), /main: stopped/,
	    'the old file is still the log');
});

test('a log file that cannot be opened: exit 2 naming log_file and the path', async (t) => {
	const dir = tempDir(t);
	const bad = path.join(dir, 'no-such-dir', 'x.log');
	for (const opts of [{ args: ['--log-file', bad] },
		{ env: { SLUICE_LOG_FILE: bad } }]) {
		const r = await run(['--listen', '127.0.0.1:0', '--db',
			path.join(dir, 'x.db'), ...(opts.args || [])],
		{ cwd: dir, env: opts.env });
		assert.equal(r.code, 2, `${JSON.stringify(opts)}: ${r.stderr}`);
		assert.equal(lines(r.stderr).length, 1, r.stderr);
		assert.match(r.stderr, /log_file/);
		assert.ok(r.stderr.includes(bad), r.stderr);
		assert.ok(!fs.existsSync(path.join(dir, 'x.db')));
	}
});

test('an empty value for a setting that needs one (db, listen, log_level, synchronous) is exit 2 naming it', async (t) => {
	const dir = tempDir(t);
	const cases = [
		[{ args: ['--db', ''] }, /db: must not be empty/],
		[{ args: ['--db='] }, /db: must not be empty/],
		[{ env: { SLUICE_DB: '' } }, /SLUICE_DB: db: must not be empty/],
		[{ file: 'db =\n' }, /empty\.conf:1: db: must not be empty/],
		[{ file: 'db = ""\n' }, /empty\.conf:1: db: must not be empty/],
		[{ args: ['--listen', ''] }, /listen: must not be empty/],
		[{ args: ['--log-level', ''] }, /log_level: must not be empty/],
		[{ env: { SLUICE_SYNCHRONOUS: '' } }, /synchronous: must not be empty/],
	];
	for (const [opts, re] of cases) {
		let args = opts.args || [];
		if (opts.file) {
			fs.writeFileSync(path.join(dir, 'empty.conf'), opts.file);
			args = ['--config', 'empty.conf'];
		}
		const r = await run(args, { cwd: dir, env: opts.env });
		const what = JSON.stringify(opts);
		assert.equal(r.code, 2, `${what}: exit ${r.code} ${r.signal}: ${r.stderr}`);
		assert.equal(lines(r.stderr).length, 1, `${what}: ${r.stderr}`);
		assert.match(r.stderr, re, what);
	}
	assert.deepEqual(fs.readdirSync(dir).filter((f) => f !== 'empty.conf'), [],
	    'no "(null).lock", no database');
	/* an optional one still unsets: an empty node falls back to the host */
	const s = await start({ t, args: ['--node', '', '--secret-key-file', ''] });
	assert.equal((await s.api('GET', '/healthz')).status, 200);
	await s.stop();
});

test('allowed_origins empty (flag, environment, file) allows no origin: the handshake is 403 and sluiced keeps serving', async (t) => {
	const dir = tempDir(t);
	fs.writeFileSync(path.join(dir, 'ao.conf'), 'allowed_origins =\n');
	for (const opts of [{ args: ['--allowed-origins', ''] },
		{ env: { SLUICE_ALLOWED_ORIGINS: '' } },
		{ args: ['--config', path.join(dir, 'ao.conf')] }]) {
		const s = await start(Object.assign({ t }, opts));
		const what = JSON.stringify(opts);
		for (const p of ['/events', '/topics/default/events']) {
			const r = await s.api('OPTIONS', p, null,
			    { headers: { 'WebHook-Request-Origin': 'example.com' } });
			assertProblem(r, 403);
			assert.equal(r.headers['webhook-allowed-origin'], undefined, what);
		}
		assert.ok(s.running, `${what}: sluiced died:\n${s.logs()}`);
		const bare = await s.api('OPTIONS', '/events');
		assert.equal(bare.status, 204, what);
		const ev = await s.publishStructured({ id: 'ao', source: '/ao',
			type: 't' });
		assert.equal(ev.status, 202, `${what}: ${ev.text}`);
		await s.stop();
	}
});

test('web_root must be a readable folder holding index.html: exit 2 naming it and the path', async (t) => {
	const dir = tempDir(t);
	fs.mkdirSync(path.join(dir, 'empty'));
	fs.writeFileSync(path.join(dir, 'file'), 'x');
	const cases = [
		[path.join(dir, 'nonexistent'), /No such file or directory/],
		[path.join(dir, 'file'), /not a directory/],
		[path.join(dir, 'empty'), /index\.html/],
	];
	for (const [root, re] of cases) {
		for (const opts of [{ args: ['--web-root', root] },
			{ env: { SLUICE_WEB_ROOT: root } }]) {
			const r = await run(['--listen', '127.0.0.1:0', '--db',
				path.join(dir, 'w.db'), ...(opts.args || [])],
			{ cwd: dir, env: opts.env });
			const what = `${root} ${JSON.stringify(opts)}`;
			assert.equal(r.code, 2, `${what}: ${r.stderr}`);
			assert.equal(lines(r.stderr).length, 1, `${what}: ${r.stderr}`);
			assert.match(r.stderr, /web_root/, what);
			assert.ok(r.stderr.includes(root), `${what}: ${r.stderr}`);
			assert.match(r.stderr, re, what);
			assert.doesNotMatch(r.stderr, /listening/);
		}
	}
	assert.ok(!fs.existsSync(path.join(dir, 'w.db')));
	/* a folder with index.html is served */
	fs.writeFileSync(path.join(dir, 'empty', 'index.html'),
	    '<!doctype html><title>from disk</title>');
	const s = await start({ t, args: ['--web-root', path.join(dir, 'empty')] });
	const r = await s.api('GET', '/admin/');
	assert.equal(r.status, 200, r.text);
	assert.match(r.text, /from disk/);
	await s.stop();
});

test('--listen takes a host name: localhost binds 127.0.0.1; a name that does not resolve is refused, saying so', async (t) => {
	const s = await start({ t, listen: 'localhost:0' });
	assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+$/, s.url);
	const r = await api(s.url, 'GET', '/healthz');
	assert.equal(r.status, 200);
	await s.stop();
	const dir = tempDir(t);
	const bad = await run(['--listen', 'no-such-host.invalid:0', '--db',
		path.join(dir, 'x.db')], { cwd: dir });
	assert.notEqual(bad.code, 0, bad.stderr);
	assert.match(bad.stderr, /cannot resolve "no-such-host\.invalid"/);
	assert.doesNotMatch(bad.stderr, /listening/);
});
