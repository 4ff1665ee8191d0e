'use strict';
/*
 * bench/deliver.cjs: the node half of bench/deliver (which runs it; no npm
 * packages needed).  Subcommands, each printing one machine-readable line:
 *
 *   setup BASE TOPIC NSUBS SINK [FIELDS-JSON]
 *       creates TOPIC and NSUBS subscriptions to SINK in state pub_only;
 *       prints "SUBS id,id,..."
 *   prefill BASE TOPIC COUNT TAG
 *       publishes COUNT ~400-byte events in batches of 1000 (two in
 *       flight); prints "PREFILL events=N ms=T"
 *   drain BASE IDS TARGET TIMEOUT_S
 *       PATCHes the subscriptions to pub_and_sub and waits until
 *       sluice_messages_delivered_total (GET /metrics) has grown by TARGET
 *       or TIMEOUT_S passed; prints "DRAIN delivered=N ms=T rate=R"
 *   latency BASE TOPIC RATE SECONDS [FIELDS-JSON [WARMUP_S]]
 *       starts a sink on a free loopback port that timestamps each receipt,
 *       subscribes it to TOPIC, publishes RATE events/s (one per request,
 *       structured, keep-alive) for WARMUP_S (default 2; connections open,
 *       JIT warms up: not counted) and then SECONDS, waits for the last,
 *       and prints
 *       "LATENCY n=N lost=L p50_us=.. p90_us=.. p99_us=.. max_us=..
 *       send_p50_us=.. send_p99_us=.. achieved=R"; latency is from the 202
 *       arriving at the publisher to the event arriving at the sink, 0 when
 *       the sink had it first (send_*: from the request being sent).
 */
const http = require('node:http');
const { performance } = require('node:perf_hooks');

const now = () => performance.timeOrigin + performance.now(); /* ms, sub-ms */

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function request(base, method, path, body, headers = {}) {
	const u = new URL(base + path);
	const payload = body === undefined ? undefined :
	    typeof body === 'string' ? body : JSON.stringify(body);
	if (payload !== undefined && !headers['content-type'])
		headers['content-type'] = 'application/json';
	return new Promise((resolve, reject) => {
		const req = http.request({ host: u.hostname, port: u.port, method,
		    path: u.pathname + u.search, headers, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const text = Buffer.concat(chunks).toString('utf8');
				resolve({ status: res.statusCode, text, at: now() });
			});
		});
		req.on('error', reject);
		req.end(payload);
	});
}

async function must(p, status, what) {
	const r = await p;
	if (r.status !== status)
		throw new Error(`${what}: HTTP ${r.status} ${r.text}`);
	return r.text ? JSON.parse(r.text) : null;
}

/* The event bench/ingest sends: an order in some shop, ~400 bytes. */
function event(id) {
	return {
		specversion: '1.0', type: 'com.example.shop.order.placed',
		source: 'https://shop.example.com/orders', id,
		subject: `order/${id}`, time: '2026-11-23T12:00:00Z',
		datacontenttype: 'application/json',
		data: { order: { customer: 'c-1029', currency: 'EUR',
		    total: '129.90', lines: [{ sku: 'BK-1001', qty: 1,
			price: '99.90' }, { sku: 'SH-0042', qty: 2,
			price: '15.00' }] }, channel: 'web' },
	};
}

async function setup(base, topic, nsubs, sink, fields) {
	const extra = fields ? JSON.parse(fields) : {};
	await must(request(base, 'POST', '/api/v1/topics', { name: topic }), 201,
	    'create topic');
	const ids = [];
	for (let i = 0; i < Number(nsubs); i++) {
		const sub = await must(request(base, 'POST', '/api/v1/subscriptions',
		    Object.assign({ topic, sink: `${sink}/${topic}/${i}`,
			name: `bench ${i}`, state: 'pub_only' }, extra)), 201,
		    'create subscription');
		ids.push(sub.id);
	}
	console.log(`SUBS ${ids.join(',')}`);
}

async function prefill(base, topic, count, tag) {
	const n = Number(count);
	const t0 = now();
	let next = 0;
	const worker = async () => {
		while (next < n) {
			const from = next;
			next = Math.min(n, next + 1000);
			const evs = [];
			for (let i = from; i < next; i++)
				evs.push(event(`${tag}-${i}`));
			await must(request(base, 'POST', `/topics/${topic}/events`,
			    JSON.stringify(evs), { 'content-type':
				'application/cloudevents-batch+json' }), 202, 'publish');
		}
	};
	await Promise.all([worker(), worker()]);
	console.log(`PREFILL events=${n} ms=${Math.round(now() - t0)}`);
}

async function delivered(base) {
	const r = await request(base, 'GET', '/metrics');
	const m = /^sluice_messages_delivered_total (\d+)/m.exec(r.text);
	if (m)
		return Number(m[1]);
	const st = await must(request(base, 'GET', '/api/v1/stats'), 200, 'stats');
	return st.queue.delivered;
}

async function drain(base, ids, target, timeoutS) {
	const start = await delivered(base);
	const want = Number(target);
	const t0 = now();
	await Promise.all(ids.split(',').map((id) => must(request(base, 'PATCH',
	    `/api/v1/subscriptions/${id}`, { state: 'pub_and_sub' }), 200,
	    'resume')));
	const end = t0 + Number(timeoutS) * 1000;
	/*
	 * Polled 4 times a second (a /metrics scrape counts every queue, so
	 * polling faster would slow what is measured); the end is placed
	 * between the last two polls, in proportion to what was delivered.
	 */
	let got = 0, prevGot = 0, prevT = t0, t = t0;
	for (;;) {
		got = (await delivered(base)) - start;
		t = now();
		if (got >= want || t > end)
			break;
		prevGot = got;
		prevT = t;
		await new Promise((r) => setTimeout(r, 250));
	}
	const ms = got > prevGot && got >= want ?
	    prevT - t0 + (t - prevT) * (want - prevGot) / (got - prevGot) :
	    t - t0;
	got = Math.min(got, want);
	console.log(`DRAIN delivered=${got} ms=${Math.round(ms)} ` +
	    `rate=${Math.round(got / (ms / 1000))}`);
}

function pct(sorted, p) {
	if (sorted.length === 0)
		return 0;
	return sorted[Math.min(sorted.length - 1,
	    Math.floor(p / 100 * sorted.length))];
}

async function latency(base, topic, rate, seconds, fields, warmupS = '2') {
	const got = new Map();	/* id -> receipt time */
	const sink = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const at = now();
			try {
				const ev = JSON.parse(Buffer.concat(chunks).toString());
				for (const e of Array.isArray(ev) ? ev : [ev])
					if (!got.has(e.id))
						got.set(e.id, at);
			} catch (e) { /* counted as lost */ }
			res.writeHead(200, { 'content-length': 0 });
			res.end();
		});
	});
	sink.keepAliveTimeout = 60000;
	await new Promise((r) => sink.listen(0, '127.0.0.1', r));
	const sinkUrl = `http://127.0.0.1:${sink.address().port}`;
	const extra = fields ? JSON.parse(fields) : {};
	await must(request(base, 'POST', '/api/v1/topics', { name: topic }), 201,
	    'create topic');
	await must(request(base, 'POST', '/api/v1/subscriptions',
	    Object.assign({ topic, sink: `${sinkUrl}/latency` }, extra)), 201,
	    'create subscription');
	const warm = Math.round(Number(rate) * Number(warmupS));
	const n = warm + Math.round(Number(rate) * Number(seconds));
	const sent = new Map();	/* id -> [send time, 202 time] */
	const interval = 1000 / Number(rate);
	const t0 = now();
	const inflight = [];
	const refused = new Map();	/* answers other than 202, by status */
	let warmed = 0;
	for (let i = 0; i < n; i++) {
		const due = t0 + i * interval;
		const wait = due - now();
		if (wait > 1)
			await new Promise((r) => setTimeout(r, wait));
		const id = `lat-${i}`;
		const at = now();
		inflight.push(request(base, 'POST', `/topics/${topic}/events`,
		    JSON.stringify(event(id)), { 'content-type':
			'application/cloudevents+json' }).then((r) => {
			if (r.status === 202 && i >= warm)
				sent.set(id, [at, r.at]);
			else if (r.status === 202)
				warmed++;
			else
				refused.set(r.status, (refused.get(r.status) || 0) + 1);
		}, (e) => refused.set(e.code, (refused.get(e.code) || 0) + 1)));
	}
	await Promise.all(inflight);
	const achieved = n / ((now() - t0) / 1000);
	const deadline = now() + 30000;
	while (got.size < sent.size + warmed && now() < deadline)
		await new Promise((r) => setTimeout(r, 50));
	const lat = [], lsend = [];
	for (const [id, [s, a]] of sent) {
		if (!got.has(id))
			continue;
		/* < 0: at the sink before the 202 reached the publisher */
		lat.push(Math.max(0, (got.get(id) - a) * 1000));
		lsend.push((got.get(id) - s) * 1000);
	}
	lat.sort((a, b) => a - b);
	lsend.sort((a, b) => a - b);
	const f = (x) => Math.round(x);
	console.log(`LATENCY n=${lat.length} lost=${sent.size - lat.length} ` +
	    `p50_us=${f(pct(lat, 50))} p90_us=${f(pct(lat, 90))} ` +
	    `p99_us=${f(pct(lat, 99))} max_us=${f(lat[lat.length - 1] || 0)} ` +
	    `send_p50_us=${f(pct(lsend, 50))} send_p99_us=${f(pct(lsend, 99))} ` +
	    `achieved=${Math.round(achieved)} ` +
	    `not202=${n - sent.size - warmed}` +
	    (refused.size ? ` (${[...refused].map(([k, v]) => `${k}:${v}`)})` : ''));
	agent.destroy();
	sink.closeAllConnections();
	sink.close();
}

const [cmd, ...args] = process.argv.slice(2);
const cmds = { setup, prefill, drain, latency };
if (!cmds[cmd]) {
	console.error('usage: deliver.cjs setup|prefill|drain|latency ARGS...');
	process.exit(2);
}
cmds[cmd](...args).then(() => {
	agent.destroy();
}, (e) => {
	console.error(`bench/deliver.cjs ${cmd}: ${e.message}`);
	process.exit(1);
});
