'use strict';
/*
 * bench/soak.cjs: the load and the measurements of bench/soak (which starts
 * sluiced and plots the result; run that, not this).
 *
 *   node bench/soak.cjs URL PID OUTDIR MINUTES RATE SUBS FANOUT
 *
 * Creates SUBS subscriptions on the default topic, each with an exact
 * filter on type soak.g<k>, FANOUT of them per type; every tenth one
 * (i % 10 == 9) points at a sink that fails intermittently (30% HTTP 500,
 * 5% connection reset) and uses short pauses (app 200 ms, tcp 500 ms), the
 * others at a sink that answers 204.  Then it posts RATE structured events
 * a second (one POST each, keep-alive, a random type) for MINUTES minutes
 * and every 10 s samples sluiced's RSS (VmRSS) and CPU% (utime+stime from
 * /proc/PID/stat), the queue depth (pending + inflight, GET /api/v1/stats)
 * the delivery latency p50/p99 (from the 202 to the sink's receipt, of the
 * deliveries answered 2xx in that window; p99_ok_sinks: healthy sinks
 * only) and the ingest latency p99 (POST sent to 202 read, producer-side
 * queueing included).  Writes OUTDIR/soak.dat (for gnuplot) and
 * OUTDIR/soak.txt (the table and verdict), prints the table as it goes, and
 * exits 0 on PASS, 1 on FAIL.
 *
 * Verdict: after the warm-up (the first fifth of the run, at least one
 * minute when the run is long enough), the samples are split in thirds; RSS
 * passes when the mean of the last third is within 10% of the middle
 * third's; the queue passes when its final depth is below 10 s of traffic.
 */
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const [url, pidArg, outdir, minArg, rateArg, subsArg, fanArg] =
    process.argv.slice(2);
if (!url || !pidArg || !outdir) {
	console.error('usage: node soak.cjs URL PID OUTDIR MINUTES RATE SUBS FANOUT');
	process.exit(2);
}
const pid = Number(pidArg);
const minutes = Number(minArg || 10);
const rate = Number(rateArg || 200);
const nsubs = Number(subsArg || 100);
const fanout = Number(fanArg || 1);
const groups = Math.max(1, Math.floor(nsubs / fanout));
const SAMPLE_MS = 10000;
const CLK_TCK = 100;	/* sysconf(_SC_CLK_TCK) on Linux */

const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

function request(method, p, body) {
	return new Promise((resolve, reject) => {
		const u = new URL(url + p);
		const data = body === undefined ? undefined :
		    Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
		const headers = {};
		if (data) {
			headers['content-type'] = typeof body === 'string' ?
			    'application/cloudevents+json' : 'application/json';
			headers['content-length'] = data.length;
		}
		const req = http.request({ host: u.hostname, port: u.port, method,
		    path: u.pathname + u.search, headers, agent }, (res) => {
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => resolve({ status: res.statusCode,
			    text: Buffer.concat(chunks).toString('utf8') }));
		});
		req.on('error', reject);
		req.end(data);
	});
}

/* ---- sinks ---- */
const posted = new Map();	/* event id -> time its POST was sent */
const acked = new Map();	/* event id -> time its 202 was read */
let window = [];		/* delivery latencies (ms) in this window */
let windowOk = [];		/* the same, healthy sinks only */
let windowIngest = [];		/* POST to 202 (ms) in this window */
let delivered = 0, failedAnswers = 0, requests = 0;

/*
 * Delivery latency: from the 202 to the sink's receipt.  A receipt that
 * comes before the producer has read the 202 (the sink and the producer
 * share this process's event loop; sluiced delivers as soon as it has
 * committed) counts as 0.
 */
function receipt(id, now, failing) {
	if (!posted.has(id))
		return;
	const a = acked.get(id);
	const lat = a === undefined ? 0 : Math.max(0, now - a);
	window.push(lat);
	if (!failing)
		windowOk.push(lat);
}

function startSink(failing) {
	const srv = http.createServer((req, res) => {
		const chunks = [];
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			requests++;
			const now = Date.now();
			if (failing) {
				const r = Math.random();
				if (r < 0.05) {
					failedAnswers++;
					req.socket.destroy();
					return;
				}
				if (r < 0.35) {
					failedAnswers++;
					res.writeHead(500, { 'content-type': 'text/plain' });
					res.end('soak: intermittent failure');
					return;
				}
			}
			let id;
			try {
				id = JSON.parse(Buffer.concat(chunks).toString('utf8')).id;
			} catch (e) { /* not ours */ }
			if (id !== undefined)
				receipt(id, now, failing);
			delivered++;
			res.writeHead(204);
			res.end();
		});
	});
	return new Promise((resolve) => srv.listen(0, '127.0.0.1',
	    () => resolve(srv)));
}

/* ---- /proc ---- */
function rssBytes() {
	const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
	const m = /VmRSS:\s+(\d+) kB/.exec(s);
	return m ? Number(m[1]) * 1024 : NaN;
}

function cpuTicks() {
	const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
	/* fields after the ")" of comm: state is field 3, utime 14, stime 15 */
	const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
	return Number(f[11]) + Number(f[12]);
}

function percentile(sorted, p) {
	if (sorted.length === 0)
		return NaN;
	return sorted[Math.min(sorted.length - 1,
	    Math.floor(p / 100 * sorted.length))];
}

function mean(a) {
	return a.reduce((x, y) => x + y, 0) / a.length;
}

function fmt(v, w, d = 0) {
	return (Number.isFinite(v) ? v.toFixed(d) : '-').padStart(w);
}

async function main() {
	fs.mkdirSync(outdir, { recursive: true });
	const good = await startSink(false);
	const bad = await startSink(true);
	for (let i = 0; i < nsubs; i++) {
		const failing = i % 10 === 9;
		const srv = failing ? bad : good;
		const body = {
			name: `soak ${i}`,
			sink: `http://127.0.0.1:${srv.address().port}/s/${i}`,
			filters: [{ exact: { type: `soak.g${i % groups}` } }],
			max_attempts: 1000,
		};
		if (failing)
			Object.assign(body, { app_error_pause_ms: 200,
			    tcp_error_pause_ms: 500, timeout_ms: 5000 });
		const r = await request('POST', '/api/v1/subscriptions', body);
		if (r.status !== 201)
			throw new Error(`create subscription ${i}: ${r.status} ${r.text}`);
	}

	const header = '  time_s  rss_mb  cpu_pct  queue  lat_p50_ms  lat_p99_ms' +
	    '  p99_ok_sinks  ingest_p99_ms' +
	    '  ingested  delivered';
	const lines = [
	    `# bench/soak: ${minutes} min, ${rate} events/s, ${nsubs} subscriptions ` +
	    `(${fanout} per event, every tenth failing 30% 500 + 5% reset), ` +
	    `sample every ${SAMPLE_MS / 1000} s`,
	    `# ${new Date().toISOString()}, ${require('node:os').cpus().length} cores, ` +
	    `load average ${require('node:os').loadavg().map((x) => x.toFixed(1)).join(' ')}`,
	    header];
	console.log(lines.join('\n'));
	const dat = ['# t_s rss_mb cpu_pct queue p50_ms p99_ms p99ok_ms ingest_p99_ms ingested delivered'];
	const samples = [];

	let seq = 0, sent = 0, ingested = 0, rejected = 0, inflightPosts = 0;
	let ingWindow = 0, delWindow = 0;
	const t0 = Date.now();
	const end = t0 + minutes * 60000;
	/* Steady rate: every 20 ms, post what is due since t0. */
	const producer = setInterval(() => {
		const now = Date.now();
		if (now >= end)
			return;
		const due = Math.floor((now - t0) * rate / 1000);
		while (sent < due) {
			if (inflightPosts > 1000)
				break;	/* sluiced is not keeping up: do not pile on */
			sent++;
			const id = `e${++seq}`;
			const ev = JSON.stringify({ specversion: '1.0', id,
			    source: '/bench/soak', type:
			    `soak.g${Math.floor(Math.random() * groups)}`,
			    data: { seq, pad: 'x'.repeat(200) } });
			inflightPosts++;
			posted.set(id, Date.now());
			request('POST', '/events', ev).then((r) => {
				inflightPosts--;
				if (r.status === 202) {
					ingested++;
					ingWindow++;
					const t = Date.now();
					acked.set(id, t);
					windowIngest.push(t - posted.get(id));
				} else
					rejected++;
			}, () => { inflightPosts--; rejected++; });
		}
	}, 20);

	let lastTicks = cpuTicks(), lastT = Date.now(), lastDelivered = 0;
	let drainedAt = null;
	await new Promise((resolve) => {
		const sampler = setInterval(async () => {
			const now = Date.now();
			const ticks = cpuTicks();
			const cpu = (ticks - lastTicks) / CLK_TCK /
			    ((now - lastT) / 1000) * 100;
			lastTicks = ticks;
			lastT = now;
			let queue = NaN;
			try {
				const st = JSON.parse((await request('GET',
				    '/api/v1/stats')).text);
				queue = st.queue.pending + st.queue.inflight;
			} catch (e) { /* leave it NaN */ }
			const lat = window.sort((a, b) => a - b);
			const latOk = windowOk.sort((a, b) => a - b);
			const latIn = windowIngest.sort((a, b) => a - b);
			window = [];
			windowOk = [];
			windowIngest = [];
			delWindow = delivered - lastDelivered;
			lastDelivered = delivered;
			const s = { t: Math.round((now - t0) / 1000),
			    rss: rssBytes() / 1048576, cpu, queue,
			    p50: percentile(lat, 50), p99: percentile(lat, 99),
			    p99ok: percentile(latOk, 99), in99: percentile(latIn, 99),
			    ing: ingWindow, del: delWindow };
			ingWindow = 0;
			/* forget send times older than two minutes (bounded memory) */
			const cut = now - 120000;
			for (const [k, v] of posted)
				if (v < cut) {
					posted.delete(k);
					acked.delete(k);
				} else
					break;
			const line = `${fmt(s.t, 8)}${fmt(s.rss, 8, 1)}${fmt(s.cpu, 9, 1)}` +
			    `${fmt(s.queue, 7)}${fmt(s.p50, 12, 1)}${fmt(s.p99, 12, 1)}` +
			    `${fmt(s.p99ok, 14, 1)}${fmt(s.in99, 15, 1)}` +
			    `${fmt(s.ing, 10)}${fmt(s.del, 11)}`;
			if (now <= end + 1000) {
				samples.push(s);
				lines.push(line);
				dat.push([s.t, s.rss.toFixed(2), s.cpu.toFixed(1),
				    Number.isFinite(s.queue) ? s.queue : 'NaN',
				    Number.isFinite(s.p50) ? s.p50 : 'NaN',
				    Number.isFinite(s.p99) ? s.p99 : 'NaN',
				    Number.isFinite(s.p99ok) ? s.p99ok : 'NaN',
				    Number.isFinite(s.in99) ? s.in99 : 'NaN',
				    s.ing, s.del].join(' '));
				console.log(line);
			}
			if (now > end) {
				/* after the load: wait (up to 60 s) for the queue to drain */
				if (queue === 0 || now > end + 60000) {
					drainedAt = queue === 0 ? now : null;
					clearInterval(sampler);
					clearInterval(producer);
					resolve();
				}
			}
		}, SAMPLE_MS);
	});

	const warm = Math.min(Math.max(6, Math.floor(samples.length / 5)),
	    Math.floor(samples.length / 3));
	const rest = samples.slice(warm);
	const third = Math.floor(rest.length / 3);
	const mid = rest.slice(third, 2 * third).map((s) => s.rss);
	const last = rest.slice(2 * third).map((s) => s.rss);
	const midMean = mean(mid), lastMean = mean(last);
	const growth = (lastMean - midMean) / midMean * 100;
	const rssOk = third > 0 && lastMean <= midMean * 1.10;
	const finalQueue = samples.length ? samples[samples.length - 1].queue : NaN;
	const queueOk = Number.isFinite(finalQueue) && finalQueue < rate * 10;
	const allLat = samples.map((s) => s.p99).filter(Number.isFinite);
	const summary = [
	    `# sent ${sent}, accepted ${ingested}, refused or failed ${rejected}; ` +
	    `sink requests ${requests} (${delivered} answered 2xx, ` +
	    `${failedAnswers} failed on purpose)`,
	    `# RSS mean after warm-up (${warm} samples): middle third ` +
	    `${midMean.toFixed(1)} MB, last third ${lastMean.toFixed(1)} MB ` +
	    `(${growth >= 0 ? '+' : ''}${growth.toFixed(1)}%, limit +10%): ` +
	    `${rssOk ? 'ok' : 'GROWS'}`,
	    `# peak RSS ${Math.max(...samples.map((s) => s.rss)).toFixed(1)} MB; ` +
	    `mean CPU ${mean(samples.map((s) => s.cpu)).toFixed(1)}%; ` +
	    `worst window p99 delivery latency ${Math.max(...allLat).toFixed(1)} ms, ` +
	    `median window p99 ${[...allLat].sort((a, b) => a - b)[allLat.length >> 1]} ms`,
	    `# load average at the end ` +
	    `${require('node:os').loadavg().map((x) => x.toFixed(1)).join(' ')} ` +
	    '(other work on this machine shares its cores)',
	    `# queue depth at the end of the load ${finalQueue}` +
	    (drainedAt ? `; drained ${((drainedAt - end) / 1000).toFixed(0)} s later` :
	    '; not drained within 60 s') + `: ${queueOk ? 'ok' : 'BACKLOG'}`,
	    rssOk && queueOk ? 'PASS' : 'FAIL'];
	lines.push(...summary);
	console.log(summary.join('\n'));
	fs.writeFileSync(path.join(outdir, 'soak.txt'), lines.join('\n') + '\n');
	fs.writeFileSync(path.join(outdir, 'soak.dat'), dat.join('\n') + '\n');
	good.close();
	bad.close();
	agent.destroy();
	process.exit(rssOk && queueOk ? 0 : 1);
}

main().catch((e) => {
	console.error(`soak: ${e.stack || e}`);
	process.exit(2);
});
