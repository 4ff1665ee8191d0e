'use strict';
/*
 * tests/lib/sink.cjs: a webhook sink for integration tests.  An HTTP server
 * on 127.0.0.1:0 that records every request (method, url, headers, the raw
 * body as a Buffer, when it arrived) and answers as it is told: a status,
 * headers (e.g. Retry-After), a body (e.g. a SOAP Fault), after a delay, or
 * not at all (close the connection without answering, or hang until the
 * sender times out).
 *
 *   const { startSink } = require('../lib/sink.cjs');
 *   const sink = await startSink({ t });          // t.after closes it
 *   sink.next({ status: 503, headers: { 'retry-after': '1' } });
 *   sink.next({ close: true });                  // then a transport error
 *   sink.always({ status: 200 });                // the default answer
 *   const reqs = await sink.waitFor(3, 5000);
 *
 * An answer is an object:
 *   status   HTTP status (default 200)
 *   headers  response headers
 *   body     string or Buffer (default empty)
 *   delayMs  wait this long before answering
 *   close    destroy the connection without answering
 *   hang     never answer (the connection stays open until the sink closes)
 * or a function (record) => answer, to decide per request.
 *
 * sink.active is the number of requests being answered now, sink.maxActive
 * the most there ever were at once; refusedUrl() gives a loopback URL where
 * nothing listens.
 */
const http = require('node:http');

const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';

/* A SOAP Fault body for SOAP 1.1 (default) or 1.2. */
function soapFault(version = '1.1', reason = 'the sink refused the message') {
	if (version === '1.2')
		return '<?xml version="1.0" encoding="utf-8"?>' +
		    `<soap:Envelope xmlns:soap="${SOAP12_NS}"><soap:Body>` +
		    '<soap:Fault><soap:Code><soap:Value>soap:Receiver</soap:Value>' +
		    `</soap:Code><soap:Reason><soap:Text xml:lang="en">${reason}` +
		    '</soap:Text></soap:Reason></soap:Fault></soap:Body>' +
		    '</soap:Envelope>';
	return '<?xml version="1.0" encoding="utf-8"?>' +
	    `<soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><soap:Fault>` +
	    `<faultcode>soap:Server</faultcode><faultstring>${reason}` +
	    '</faultstring></soap:Fault></soap:Body></soap:Envelope>';
}

/* A SOAP envelope with an empty body: a successful SOAP answer. */
function soapOk(version = '1.1') {
	return '<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="' +
	    (version === '1.2' ? SOAP12_NS : SOAP11_NS) +
	    '"><soap:Body/></soap:Envelope>';
}

class Sink {
	constructor() {
		this.requests = [];	/* every request, in arrival order */
		this.queue = [];	/* answers for the next requests */
		this.fallback = { status: 200 };
		this.waiters = [];
		this.sockets = new Set();
		this.pending = new Set();	/* responses held by hang/delay */
		this.active = 0;	/* requests received, not yet answered */
		this.maxActive = 0;	/* the most that were at once */
		this.server = http.createServer((req, res) => this.onRequest(req, res));
		this.server.on('connection', (s) => {
			this.sockets.add(s);
			s.on('close', () => this.sockets.delete(s));
		});
	}

	listen() {
		return new Promise((resolve, reject) => {
			this.server.once('error', reject);
			this.server.listen(0, '127.0.0.1', () => {
				const a = this.server.address();
				this.port = a.port;
				this.url = `http://127.0.0.1:${a.port}`;
				resolve(this);
			});
		});
	}

	/* Queues answers for the next requests, in order. */
	next(...answers) {
		this.queue.push(...answers);
		return this;
	}

	/* The answer once the queue is empty. */
	always(answer) {
		this.fallback = answer;
		return this;
	}

	/* Forgets the recorded requests (the answers stay). */
	clear() {
		this.requests = [];
	}

	onRequest(req, res) {
		const chunks = [];
		this.active++;
		if (this.active > this.maxActive)
			this.maxActive = this.active;
		let counted = true;
		const uncount = () => {
			if (counted) {
				counted = false;
				this.active--;
			}
		};
		res.on('finish', uncount);
		res.on('close', uncount);
		req.on('data', (c) => chunks.push(c));
		req.on('end', () => {
			const rec = {
				method: req.method,
				url: req.url,
				headers: req.headers,
				rawHeaders: req.rawHeaders,
				body: Buffer.concat(chunks),
				time: Date.now(),
			};
			rec.text = rec.body.toString('utf8');
			let answer = this.queue.length > 0 ? this.queue.shift() :
			    this.fallback;
			if (typeof answer === 'function')
				answer = answer(rec) || {};
			rec.answer = answer;
			this.requests.push(rec);
			this.wake();
			this.answer(req, res, answer);
		});
	}

	answer(req, res, a) {
		if (a.hang) {
			this.pending.add(res);
			res.on('close', () => this.pending.delete(res));
			return;
		}
		const go = () => {
			this.pending.delete(res);
			if (a.close) {
				req.socket.destroy();
				return;
			}
			const body = a.body === undefined ? '' : a.body;
			res.writeHead(a.status || 200, a.headers || {});
			res.end(body);
		};
		if (a.delayMs) {
			this.pending.add(res);
			setTimeout(go, a.delayMs);
		} else
			go();
	}

	wake() {
		this.waiters = this.waiters.filter((w) => {
			if (this.requests.length < w.n)
				return true;
			clearTimeout(w.timer);
			w.resolve(this.requests.slice());
			return false;
		});
	}

	/* Resolves the recorded requests once there are at least n. */
	waitFor(n, timeoutMs = 10000) {
		if (this.requests.length >= n)
			return Promise.resolve(this.requests.slice());
		return new Promise((resolve, reject) => {
			const w = { n, resolve };
			w.timer = setTimeout(() => {
				this.waiters = this.waiters.filter((x) => x !== w);
				reject(new Error(`sink: ${this.requests.length} of ${n} ` +
				    `requests within ${timeoutMs} ms`));
			}, timeoutMs);
			this.waiters.push(w);
		});
	}

	/* Resolves true if no new request arrives within ms (from now). */
	async quiet(ms) {
		const before = this.requests.length;
		await new Promise((r) => setTimeout(r, ms));
		return this.requests.length === before;
	}

	/* Stops listening and drops every connection (hung ones too). */
	close() {
		for (const w of this.waiters) {
			clearTimeout(w.timer);
			w.resolve(this.requests.slice());
		}
		this.waiters = [];
		return new Promise((resolve) => {
			this.server.close(() => resolve());
			for (const s of this.sockets)
				s.destroy();
		});
	}
}

/* A loopback URL where nothing listens (a port that was just free). */
function refusedUrl() {
	return new Promise((resolve, reject) => {
		const srv = require('node:net').createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const port = srv.address().port;
			srv.close(() => resolve(`http://127.0.0.1:${port}/`));
		});
	});
}

/* Starts a sink; with options.t, t.after closes it. */
async function startSink(options = {}) {
	const sink = new Sink();
	if (options.answer)
		sink.always(options.answer);
	await sink.listen();
	if (options.t)
		options.t.after(() => sink.close());
	return sink;
}

module.exports = { startSink, Sink, soapFault, soapOk, refusedUrl };
