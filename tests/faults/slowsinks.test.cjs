'use strict';
/*
 * slowsinks.test.cjs (fault test c): hostile sinks.  One accepts the
 * connection and never answers, one trickles its response a byte at a
 * time, one answers 100 MB.  Each is hammered (pauses of 0, several
 * requests in flight) while a healthy subscription on the same topic keeps
 * receiving: sluiced's RSS stays under a fixed bound, the stuck attempts
 * are classified transport_error (timeout), and the healthy sink gets every
 * event within a tolerance.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { start, sleep } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const RSS_BOUND_MB = 150;	/* the bound asserted (idle sluiced: ~15 MB) */
const HEALTHY_MS = Number(process.env.SLUICE_TEST_HEALTHY_MS || 5000);
const EVENTS = 30;
const BIG = 100 * 1024 * 1024;

/*
 * Listens on a free loopback port; t.after destroys the connections still
 * open and closes the server.  Resolves with the server's URL.
 */
function serve(t, srv) {
	const sockets = new Set();
	srv.on('connection', (sock) => {
		sockets.add(sock);
		sock.on('close', () => sockets.delete(sock));
	});
	t.after(() => new Promise((r) => {
		for (const sock of sockets)
			sock.destroy();
		srv.close(r);
	}));
	return new Promise((resolve) => srv.listen(0, '127.0.0.1',
	    () => resolve(`http://127.0.0.1:${srv.address().port}`)));
}

/* A TCP server that takes connections and never closes or answers them. */
async function hangSink(t) {
	const stats = { connections: 0 };
	const srv = net.createServer((sock) => {
		stats.connections++;
		sock.on('data', () => {});
		sock.on('error', () => {});
	});
	return { url: await serve(t, srv), stats };
}

/* Answers each request with a status line and headers, then a body it
 * never finishes, one byte every 50 ms. */
async function trickleSink(t) {
	const stats = { connections: 0, bytes: 0 };
	const head = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n' +
	    'Content-Length: 1000000\r\n\r\n';
	const srv = net.createServer((sock) => {
		stats.connections++;
		let i = 0, timer = null;
		sock.on('error', () => {});
		sock.on('data', () => {
			if (timer)
				return;
			timer = setInterval(() => {
				if (sock.destroyed)
					return;
				sock.write(i < head.length ? head[i] : 'x');
				i++;
				stats.bytes++;
			}, 50);
		});
		sock.on('close', () => clearInterval(timer));
	});
	return { url: await serve(t, srv), stats };
}

/* Answers 200 with a 100 MB body, written as fast as the reader takes it. */
async function bigSink(t) {
	const stats = { requests: 0, sent: 0, aborted: 0 };
	const chunk = Buffer.alloc(1024 * 1024, 'b');
	const srv = http.createServer((req, res) => {
		req.resume();
		req.on('end', () => {
			stats.requests++;
			res.writeHead(200, { 'content-type': 'text/plain',
			    'content-length': String(BIG) });
			let left = BIG / chunk.length;
			const pump = () => {
				while (left > 0) {
					left--;
					stats.sent += chunk.length;
					if (!res.write(chunk)) {
						res.once('drain', pump);
						return;
					}
				}
				res.end();
			};
			res.on('close', () => {
				if (left > 0)
					stats.aborted++;
				left = 0;
			});
			pump();
		});
	});
	return { url: await serve(t, srv), stats };
}

function rssMB(pid) {
	const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`,
	    'utf8'));
	return Number(m[1]) / 1024;
}

/* Every recorded attempt of the subscription's messages. */
async function allAttempts(s, sub) {
	const r = await s.api('GET', `/api/v1/subscriptions/${sub}/messages?limit=1000`);
	assert.equal(r.status, 200, r.text);
	assert.ok(r.json.items.length > 0, `subscription ${sub} has messages`);
	const out = [];
	for (const it of r.json.items) {
		const d = await s.api('GET',
		    `/api/v1/subscriptions/${sub}/messages/${it.msg}`);
		assert.equal(d.status, 200, d.text);
		out.push(...d.json.attempts);
	}
	return out;
}

test('a hanging, a trickling and a 100 MB sink: memory stays bounded, ' +
    'attempts time out as transport errors, a healthy sink keeps flowing',
    { timeout: 170000 }, async (t) => {
	const hang = await hangSink(t);
	const trickle = await trickleSink(t);
	const big = await bigSink(t);
	const healthy = await startSink({ t });
	const s = await start({ t });
	await s.createTopic('slow');
	const bad = { max_inflight: 4, timeout_ms: 2000, tcp_error_pause_ms: 0,
	    app_error_pause_ms: 0, max_attempts: 1000 };
	const subs = {};
	for (const [name, sink, extra] of [
		['hang', `${hang.url}/hook`, bad],
		['trickle', `${trickle.url}/hook`, bad],
		['big', `${big.url}/hook`, Object.assign({}, bad,
		    { timeout_ms: 30000, max_inflight: 2 })],
		['healthy', `${healthy.url}/hook`, {}],
	]) {
		const r = await s.api('POST', '/api/v1/subscriptions',
		    Object.assign({ topic: 'slow', name, sink }, extra));
		assert.equal(r.status, 201, r.text);
		subs[name] = r.json.id;
	}

	const pid = s.proc.pid;
	const rss = [rssMB(pid)];
	const sampler = setInterval(() => {
		try {
			rss.push(rssMB(pid));
		} catch (e) { /* exited: the test fails below */ }
	}, 250);
	t.after(() => clearInterval(sampler));

	/* An event every 500 ms; note when each was answered 202. */
	const acked = new Map();
	for (let i = 0; i < EVENTS; i++) {
		const r = await s.publishStructured({ id: `slow${i}`,
		    source: '/faults/slow', type: 'slow.test', data: { i } },
		    { topic: 'slow' });
		assert.equal(r.status, 202, r.text);
		acked.set(`slow${i}`, Date.now());
		await sleep(500);
	}
	/* Keep the pressure a little longer, then look. */
	await healthy.waitFor(EVENTS, HEALTHY_MS + 10000);
	await sleep(3000);
	clearInterval(sampler);
	rss.push(rssMB(pid));

	/* The healthy subscription got every event, each soon after its 202. */
	const late = [];
	let worst = 0;
	const got = new Map();
	for (const req of healthy.requests) {
		const id = JSON.parse(req.text).id;
		if (!got.has(id))
			got.set(id, req.time);
	}
	for (const [id, at] of acked) {
		assert.ok(got.has(id), `healthy sink got ${id}`);
		const lag = got.get(id) - at;
		worst = Math.max(worst, lag);
		if (lag > HEALTHY_MS)
			late.push(`${id}: ${lag} ms`);
	}
	const peak = Math.max(...rss);
	t.diagnostic(`RSS: start ${rss[0].toFixed(1)} MB, peak ${peak.toFixed(1)} MB, ` +
	    `end ${rss[rss.length - 1].toFixed(1)} MB (bound ${RSS_BOUND_MB} MB, ` +
	    `${rss.length} samples)`);
	t.diagnostic(`healthy sink: ${EVENTS} events, worst lag after the 202 ` +
	    `${worst} ms (tolerance ${HEALTHY_MS} ms)`);
	t.diagnostic(`hang sink: ${hang.stats.connections} connections; trickle ` +
	    `sink: ${trickle.stats.connections} connections, ` +
	    `${trickle.stats.bytes} bytes trickled; big sink: ` +
	    `${big.stats.requests} requests, ` +
	    `${(big.stats.sent / 1048576).toFixed(0)} MB written, ` +
	    `${big.stats.aborted} cut short by sluiced`);
	assert.ok(peak < RSS_BOUND_MB, `RSS peak ${peak.toFixed(1)} MB < ` +
	    `${RSS_BOUND_MB} MB`);
	assert.deepEqual(late, [], 'healthy deliveries within the tolerance');
	assert.ok(hang.stats.connections >= 2, 'the hang sink was retried');
	assert.ok(big.stats.requests >= 2, 'the big sink was retried');

	/* Stuck attempts are timeouts, classified as transport errors. */
	for (const name of ['hang', 'trickle']) {
		const attempts = await allAttempts(s, subs[name]);
		assert.ok(attempts.length >= EVENTS, `${name}: every message tried ` +
		    `(${attempts.length} attempts)`);
		for (const a of attempts) {
			assert.equal(a.outcome, 'transport_error',
			    `${name}: ${JSON.stringify(a)}`);
			assert.match(a.error || '', /time/i, `${name}: a timeout: ${a.error}`);
			assert.ok(a.duration_ms >= 1500 && a.duration_ms < 10000,
			    `${name}: stopped at its timeout_ms (2000): ${a.duration_ms}`);
		}
		const st = (await s.api('GET', `/api/v1/subscriptions/${subs[name]}`))
		    .json.status;
		assert.equal(st.queue.delivered, 0, `${name}: nothing delivered`);
		assert.match(st.last_error || '', /time/i, `${name} last_error`);
	}
	const bigAttempts = await allAttempts(s, subs.big);
	t.diagnostic(`100 MB sink's first attempt: ${JSON.stringify(
	    Object.assign({}, bigAttempts[0], { response: undefined }))}`);
	for (const a of bigAttempts)
		assert.ok(['ok', 'transport_error', 'app_error'].includes(a.outcome),
		    `big: classified: ${a.outcome}`);
	const m = (await s.api('GET', '/metrics')).text;
	const te = Number(/^sluice_delivery_attempts_total\{outcome="transport_error"\} (\d+)/m
	    .exec(m)[1]);
	assert.ok(te >= 4, `metrics count the transport errors: ${te}`);
	await s.stop();
});
