'use strict';
/*
 * web.test.cjs: the web admin in a real browser.  Headless Chromium (Debian
 * chromium) driven by playwright-core, against the real sluiced with its
 * embedded web/ files and real recording sinks: static headers (CSP, ETag
 * and Last-Modified revalidation), sign-in with the admin token (right and
 * wrong), a REST and a SOAP subscription created through the form, events
 * published and the queue depth changing live, the prefix search, a
 * message's detail with its attempts, an endpoint's pause after its sink
 * fails, retrying a dead message, event data rendered inert, and no console
 * errors.  Without Chromium (or playwright-core) the browser tests skip saying so
 * and the static-file tests still run.
 *
 * SLUICE_SCREENSHOTS=DIR saves a 1280x800 screenshot of each page there.
 */
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { start, api, sleep, TOP_SRCDIR } = require('../lib/sluice.cjs');
const { startSink } = require('../lib/sink.cjs');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'web-admin-test-token-0123456789';
const SHOTS = process.env.SLUICE_SCREENSHOTS || null;
const WAIT = 15000;
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " +
    "base-uri 'none'; form-action 'self'";

let chromium = null;
let skipAll = null;
if (!fs.existsSync(CHROMIUM))
	skipAll = `chromium not installed (${CHROMIUM})`;
else {
	try {
		chromium = require('playwright-core').chromium;
	} catch (e) {
		skipAll = 'playwright-core not installed (npm ci in tests/)';
	}
}
if (skipAll)
	console.log(`# SKIP the browser tests: ${skipAll}`);

let s;			/* sluiced with an admin token */
let sink;		/* recording sink for the REST subscription */
let soapSink;
let browser, context, page;
const problems = [];	/* console errors and page errors */
const expected = [];	/* console errors a test caused on purpose */
const failed = [];	/* "STATUS METHOD URL" of answers >= 400, to explain them */
const dialogs = [];
/* Skips the running test when reason is set. */
function gate(t, reason) {
	if (!reason)
		return false;
	t.skip(reason);
	return true;
}

async function shot(name, p = page) {
	if (!SHOTS)
		return;
	fs.mkdirSync(SHOTS, { recursive: true });
	await p.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

/* Polls fn until it returns a truthy value. */
async function until(fn, what, ms = WAIT) {
	const end = Date.now() + ms;
	let last;
	while (Date.now() < end) {
		try {
			last = await fn();
			if (last)
				return last;
		} catch (e) {
			last = e;
		}
		await sleep(100);
	}
	throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function go(hash) {
	await page.evaluate((h) => { location.hash = h; }, hash);
	await page.locator('main h1').first().waitFor({ timeout: WAIT });
}

async function createSubscription(fields) {
	const r = await s.api('POST', '/api/v1/subscriptions', fields);
	assert.equal(r.status, 201, r.text);
	return r.json;
}

async function subscription(id) {
	const r = await s.api('GET', `/api/v1/subscriptions/${id}`);
	assert.equal(r.status, 200, r.text);
	return r.json;
}

test.before(async () => {
	s = await start({ token: TOKEN, args: ['--admin-token', TOKEN] });
	sink = await startSink();
	soapSink = await startSink();
	if (skipAll)
		return;
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		args: ['--headless', '--no-sandbox', '--disable-gpu',
		    '--disable-quic', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update',
		    '--disable-sync'],
	});
	context = await browser.newContext({ viewport: { width: 1280,
	    height: 800 } });
	context.setDefaultTimeout(WAIT);
	page = await context.newPage();
	page.on('console', (m) => {
		if (m.type() === 'error')
			problems.push(`console: ${m.text()}`);
	});
	page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
	/* a request the page started and then dropped (left unread, say) */
	page.on('requestfailed', (r) => problems.push(`requestfailed: ` +
	    `${r.method()} ${r.url()} ${r.failure()?.errorText}`));
	page.on('response', (r) => {
		if (r.status() >= 400)
			failed.push(`${r.status()} ${r.request().method()} ${r.url()}`);
	});
	page.on('dialog', (d) => {
		dialogs.push(d.message());
		d.dismiss().catch(() => {});
	});
});

test.after(async () => {
	if (browser)
		await browser.close();
	if (sink)
		sink.close();
	if (soapSink)
		soapSink.close();
	if (s) {
		try {
			await s.stop();
		} finally {
			await s.cleanup();
		}
	}
});

test('static files: content types, CSP and the other security headers', async () => {
	const r = await api(s.url, 'GET', '/admin/');
	assert.equal(r.status, 200);
	assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
	assert.equal(r.headers['content-security-policy'], CSP);
	assert.equal(r.headers['x-content-type-options'], 'nosniff');
	assert.equal(r.headers['referrer-policy'], 'no-referrer');
	assert.equal(r.headers['cache-control'], 'no-cache');
	assert.match(r.text, /<script type="module" src="app.js"><\/script>/);
	assert.doesNotMatch(r.text, /<script>|\sstyle=|\son[a-z]+=/i,
	    'no inline script, style or handler in index.html');
	const types = { 'app.js': 'text/javascript; charset=utf-8',
	    'style.css': 'text/css; charset=utf-8',
	    'favicon.svg': 'image/svg+xml' };
	for (const [f, ct] of Object.entries(types)) {
		const x = await api(s.url, 'GET', `/admin/${f}`);
		assert.equal(x.status, 200, f);
		assert.equal(x.headers['content-type'], ct, f);
		assert.equal(x.headers['content-security-policy'], CSP, f);
	}
	const cfg = await api(s.url, 'GET', '/admin/config.json');
	assert.equal(cfg.status, 200);
	assert.deepEqual(JSON.parse(cfg.text), { auth: 'token' });
	assert.equal(cfg.headers['cache-control'], 'no-store');
	const idx = await api(s.url, 'GET', '/admin/index.html');
	assert.equal(idx.text, r.text);
	const head = await api(s.url, 'HEAD', '/admin/app.js');
	assert.equal(head.status, 200);
	assert.equal(head.text, '');
	assert.ok(Number(head.headers['content-length']) > 1000);
});

test('static files: ETag and Last-Modified revalidate with 304', async () => {
	const r = await api(s.url, 'GET', '/admin/app.js');
	const etag = r.headers.etag;
	assert.match(etag, /^"[^"]+"$/);
	const lm = r.headers['last-modified'];
	assert.match(lm, /GMT$/);
	const a = await api(s.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-none-match': etag } });
	assert.equal(a.status, 304);
	assert.equal(a.text, '');
	assert.equal(a.headers.etag, etag);
	const w = await api(s.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-none-match': `"other", W/${etag}` } });
	assert.equal(w.status, 304, 'weak comparison in a list');
	const b = await api(s.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-none-match': '"stale"' } });
	assert.equal(b.status, 200);
	assert.equal(b.text, r.text);
	const c = await api(s.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-modified-since': lm } });
	assert.equal(c.status, 304);
	const d = await api(s.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-modified-since': 'Thu, 01 Jan 1970 00:00:00 GMT' } });
	assert.equal(d.status, 200);
	const other = await api(s.url, 'GET', '/admin/style.css');
	assert.notEqual(other.headers.etag, etag, 'each file its own ETag');
});

test('static files: redirects, unknown files and escapes are refused', async () => {
	for (const p of ['/', '/admin']) {
		const r = await s.raw({ method: 'GET', path: p });
		assert.equal(r.status, 302, p);
		assert.equal(r.headers.location, '/admin/', p);
	}
	for (const p of ['/admin/nope.js', '/admin/../sql/001_init.sql',
	    '/admin/%2e%2e/sql/001_init.sql', '/admin/.hidden',
	    '/admin//etc/passwd', '/admin/sub/../index.html']) {
		const r = await s.raw({ method: 'GET', path: p });
		assert.equal(r.status, 404, p);
	}
	const post = await s.raw({ method: 'POST', path: '/admin/index.html',
	    body: Buffer.from('') });
	assert.equal(post.status, 405);
});

test('--web-root serves web/ from disk with the same headers, and no token opens the admin directly',
    async (t) => {
	const web = path.join(TOP_SRCDIR, 'web');
	const dev = await start({ t, args: ['--web-root', web] });
	const r = await api(dev.url, 'GET', '/admin/app.js');
	assert.equal(r.status, 200);
	assert.equal(r.text, fs.readFileSync(path.join(web, 'app.js'), 'utf8'));
	assert.equal(r.headers['content-security-policy'], CSP);
	const again = await api(dev.url, 'GET', '/admin/app.js', null,
	    { headers: { 'if-none-match': r.headers.etag } });
	assert.equal(again.status, 304);
	assert.equal((await api(dev.url, 'GET', '/admin/nope.css')).status, 404);
	assert.equal((await api(dev.url, 'GET', '/admin/')).status, 200);
	assert.deepEqual(JSON.parse((await api(dev.url, 'GET',
	    '/admin/config.json')).text), { auth: 'none' });
	if (skipAll) {
		t.diagnostic(`browser part skipped: ${skipAll}`);
		return;
	}

	const p = await context.newPage();
	const errs = [];
	p.on('pageerror', (e) => errs.push(e.message));
	await p.goto(`${dev.url}/admin/`);
	await p.locator('h1', { hasText: 'Dashboard' }).waitFor({ timeout: WAIT });
	assert.equal(await p.locator('#token').count(), 0, 'no login form');
	await p.locator('#session', { hasText: 'No admin token needed' })
	    .waitFor({ timeout: WAIT });
	await p.close();
	assert.deepEqual(errs, []);
});

test('sign in: a wrong token is refused and says so; the right one opens the dashboard; log out',
    { skip: skipAll || false }, async () => {
	await page.goto(`${s.url}/`);
	assert.equal(new URL(page.url()).pathname, '/admin/');
	await page.locator('#token').waitFor({ timeout: WAIT });
	/* the page asked /admin/config.json whether a token is needed, not
	 * the API (a refused request would be a console error) */
	assert.deepEqual(failed, [], 'no answer >= 400 before signing in');
	await shot('login');
	await page.getByLabel('Admin token').fill('not-the-token');
	expected.push(/status of 403/);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.locator('#login-error', { hasText: 'Wrong token' })
	    .waitFor({ timeout: WAIT });
	assert.match(await page.locator('#login-error').innerText(), /403/);
	assert.equal(await page.evaluate(() =>
	    sessionStorage.getItem('sluice.token')), null);

	await page.getByLabel('Admin token').fill(TOKEN);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.locator('h1', { hasText: 'Dashboard' }).waitFor({ timeout: WAIT });
	assert.equal(await page.evaluate(() =>
	    sessionStorage.getItem('sluice.token')), TOKEN);
	const ingest = page.locator('code.url', { hasText: `${s.url}/events` });
	await ingest.first().waitFor({ timeout: WAIT });

	await page.getByRole('button', { name: 'Log out' }).click();
	await page.locator('#token').waitFor({ timeout: WAIT });
	assert.equal(await page.evaluate(() =>
	    sessionStorage.getItem('sluice.token')), null);
	await page.getByLabel('Admin token').fill(TOKEN);
	await page.getByLabel('Admin token').press('Enter');
	await page.locator('h1', { hasText: 'Dashboard' }).waitFor({ timeout: WAIT });
});

test('a topic created on the dashboard shows its ingest URL',
    { skip: skipAll || false }, async () => {
	await go('#/');
	await page.getByLabel('New topic').fill('orders');
	await page.getByLabel('Description').fill('<b>orders</b> & co');
	await page.getByRole('button', { name: 'Create topic' }).click();
	await page.locator('code.url', { hasText: `${s.url}/topics/orders/events` })
	    .waitFor({ timeout: WAIT });
	await page.locator('td', { hasText: '<b>orders</b> & co' })
	    .waitFor({ timeout: WAIT });
	const r = await s.api('GET', '/api/v1/topics/orders');
	assert.equal(r.status, 200);
	const soap = await s.api('POST', '/api/v1/topics', { name: 'invoices' });
	assert.equal(soap.status, 201, soap.text);
});

test('event data is shown as text, never as HTML (XSS)',
    { skip: skipAll || false }, async () => {
	const evil = '<img src=x onerror=alert(1)>';
	const r = await s.publishBinary({ id: 'xss-1', source: '/xss',
	    type: '<script>alert(2)</script>', subject: evil }, evil,
	    { contentType: 'text/html' });
	assert.equal(r.status, 202, r.text);
	const msg = r.json.accepted[0].msg;
	await go(`#/events/${msg}`);
	const data = page.locator('pre.data-text');
	await data.waitFor({ timeout: WAIT });
	assert.equal(await data.innerText(), evil);
	await page.locator('td', { hasText: '<script>alert(2)</script>' })
	    .waitFor({ timeout: WAIT });
	assert.equal(await page.locator('main img').count(), 0);
	assert.equal(await page.locator('main script').count(), 0);
	const j = await s.publishStructured({ id: 'xss-2', source: '/xss',
	    type: 't', data: { html: evil } });
	await go(`#/events/${j.json.accepted[0].msg}`);
	await page.locator('pre.data-text', { hasText: '"html"' })
	    .waitFor({ timeout: WAIT });
	assert.match(await page.locator('pre.data-text').innerText(),
	    /"html": "<img src=x onerror=alert\(1\)>"/);
	const b = await s.publishBinary({ id: 'bin-1', source: '/bin',
	    type: 'bytes' }, Buffer.from([0, 1, 2, 0x3c, 0xff, 0x41]),
	    { contentType: 'application/octet-stream' });
	await go(`#/events/${b.json.accepted[0].msg}`);
	await page.locator('pre.data-hex').waitFor({ timeout: WAIT });
	assert.match(await page.locator('pre.data-hex').innerText(),
	    /00 01 02 3c ff 41/);
	assert.equal(await page.locator('pre.data-b64').innerText(), 'AAECPP9B');
	await sleep(300);
	assert.deepEqual(dialogs, [], 'no script ran');
});

let restId, soapId;

test('create a REST subscription through the form, with the API\'s validation messages next to the fields',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go('#/subscriptions/new');
	await shot('subscription-new');
	await page.getByLabel('REST', { exact: true }).check();
	await page.getByLabel('Sink URL').fill(`${sink.url}/rest`);
	await page.getByLabel('HTTP method').selectOption('PUT');
	await page.getByLabel('Topic').selectOption('orders');
	await page.getByLabel('State').selectOption('pub_only');
	await page.getByLabel(/^Binary/).check();
	await page.locator('summary', { hasText: 'Delivery tuning' }).click();
	await page.getByLabel('Batch size').fill('5');

	/* binary mode with a batch: the API names batch_size */
	expected.push(/status of 400/);
	await page.getByRole('button', { name: 'Create subscription' }).click();
	await page.locator('#err-batch_size:not([hidden])').waitFor({ timeout: WAIT });
	assert.match(await page.locator('#err-batch_size').innerText(), /binary|1/);
	assert.equal(await page.getByLabel('Batch size')
	    .getAttribute('aria-invalid'), 'true');

	/* JSON that does not parse never leaves the page */
	await page.getByLabel('Batch size').fill('1');
	await page.getByLabel('Filters (JSON)').fill('[{"exact": ');
	await page.getByRole('button', { name: 'Create subscription' }).click();
	await page.locator('#err-filters:not([hidden])').waitFor({ timeout: WAIT });
	assert.match(await page.locator('#err-filters').innerText(), /JSON/);

	/* a filter dialect the API does not know: named by the API */
	await page.getByLabel('Filters (JSON)').fill('[{"sql": "type = 1"}]');
	await page.getByRole('button', { name: 'Create subscription' }).click();
	await page.locator('#err-filters:not([hidden])', { hasText: /./ })
	    .waitFor({ timeout: WAIT });
	assert.doesNotMatch(await page.locator('#err-filters').innerText(), /JSON:/);

	await page.getByLabel(/^Structured/).check();
	await page.getByLabel('Filters (JSON)').fill(
	    '[{"prefix": {"type": "com.example."}}]');
	await page.getByLabel('Batch size').fill('1');
	await page.getByLabel('Pause after application error (ms)').fill('4000');
	await page.getByLabel('Max attempts').fill('2');
	await page.getByLabel('Signing secret').fill('whsec_' +
	    Buffer.from('0123456789abcdef0123456789abcdef').toString('base64'));
	await page.getByRole('button', { name: 'Create subscription' }).click();
	await page.waitForURL(/#\/subscriptions\/\d+$/, { timeout: WAIT });
	restId = Number(/subscriptions\/(\d+)$/.exec(page.url())[1]);
	const sub = await subscription(restId);
	assert.equal(sub.topic, 'orders');
	assert.equal(sub.endpoint_type, 'rest');
	assert.equal(sub.http_method, 'PUT');
	assert.equal(sub.sink, `${sink.url}/rest`);
	assert.equal(sub.content_mode, 'structured');
	assert.equal(sub.state, 'pub_only');
	assert.equal(sub.max_attempts, 2);
	assert.equal(sub.app_error_pause_ms, 4000);
	assert.deepEqual(sub.filters, [{ prefix: { type: 'com.example.' } }]);
	assert.equal(sub.secret_set, true);
	await page.locator('h1', { hasText: `#${restId}` }).waitFor();
	const text = await page.locator('main').innerText();
	assert.doesNotMatch(text, /whsec_/, 'the secret is never shown');
	assert.match(text, /Secret\s+set/);
	await shot('subscription');

	/* edit: extra headers; the secret left empty stays set */
	await page.getByRole('link', { name: 'Edit' }).click();
	await page.locator('h1', { hasText: 'Edit subscription' }).waitFor();
	assert.equal(await page.getByLabel('Signing secret').inputValue(), '');
	assert.equal(await page.getByLabel('HTTP method').inputValue(), 'PUT');
	await page.getByLabel('Extra request headers (JSON)').fill(
	    '{"X-Tenant": "acme"}');
	await page.getByRole('button', { name: 'Save changes' }).click();
	await page.waitForURL(new RegExp(`#/subscriptions/${restId}$`));
	const edited = await subscription(restId);
	assert.deepEqual(edited.headers, { 'X-Tenant': 'acme' });
	assert.equal(edited.secret_set, true);
	assert.equal(edited.http_method, 'PUT');
	assert.equal(edited.state, 'pub_only');
	assert.equal(edited.previous_secret_until, null);

	/* a new secret: the replaced one signs beside it for the grace */
	await page.getByRole('link', { name: 'Edit' }).click();
	await page.locator('h1', { hasText: 'Edit subscription' }).waitFor();
	assert.match(await page.locator('main').innerText(),
	    /the old one keeps signing beside it/);
	await page.getByLabel('Signing secret').fill('whsec_' +
	    Buffer.from('fedcba9876543210fedcba9876543210').toString('base64'));
	await page.getByRole('button', { name: 'Save changes' }).click();
	await page.waitForURL(new RegExp(`#/subscriptions/${restId}$`));
	await page.locator('main', { hasText:
	    'the replaced one also signs until' }).waitFor({ timeout: WAIT });
	const rotated = await subscription(restId);
	assert.ok(Date.parse(rotated.previous_secret_until) >
	    Date.now() + 23 * 3600e3, `the default grace is 24 h: ${
	    rotated.previous_secret_until}`);
});

test('create a SOAP subscription; the topics the endpoint already has are disabled',
    async (t) => {
	if (gate(t, skipAll))
		return;
	assert.ok(restId, 'the REST subscription exists');
	await go('#/subscriptions/new');
	/* the REST endpoint (sink + PUT) already has orders */
	await page.getByLabel('Sink URL').fill(`${sink.url}/rest`);
	await page.getByLabel('HTTP method').selectOption('PUT');
	const orders = page.locator('#f-topic option[value="orders"]');
	assert.equal(await orders.isDisabled(), true);
	assert.match(await orders.innerText(), /already subscribed/);
	assert.equal(await page.locator('#f-topic option[value="invoices"]')
	    .isDisabled(), false);
	await page.getByLabel('HTTP method').selectOption('POST');
	assert.equal(await orders.isDisabled(), false, 'another method');

	await page.getByLabel('SOAP', { exact: true }).check();
	assert.equal(await page.locator('.group-rest').isHidden(), true);
	assert.equal(await page.getByLabel('SOAP version').isVisible(), true);
	assert.deepEqual(await page.locator('#f-http_method option')
	    .allInnerTexts(), ['POST']);
	await page.getByLabel('SOAP version').selectOption('1.2');
	assert.deepEqual(await page.locator('#f-http_method option')
	    .allInnerTexts(), ['POST', 'GET']);
	await page.getByLabel('Pull').check();
	assert.equal(await page.getByLabel('Sink URL').isHidden(), true);
	await page.getByLabel(/^Notify/).check();
	await page.getByLabel('Sink URL').fill(`${soapSink.url}/soap`);
	await page.getByLabel('SOAP action').fill('urn:orders#notify');
	await page.getByLabel('Topic').selectOption('invoices');
	await page.getByLabel('Name').fill('invoices to SOAP');
	/* a SOAP endpoint may take every request as a <batch> */
	await page.getByLabel(/^Always send a batch/).check();
	await shot('subscription-new-soap');
	await page.getByRole('button', { name: 'Create subscription' }).click();
	await page.waitForURL(/#\/subscriptions\/\d+$/, { timeout: WAIT });
	soapId = Number(/subscriptions\/(\d+)$/.exec(page.url())[1]);
	const sub = await subscription(soapId);
	assert.equal(sub.endpoint_type, 'soap');
	assert.equal(sub.soap_version, '1.2');
	assert.equal(sub.soap_action, 'urn:orders#notify');
	assert.equal(sub.http_method, 'POST');
	assert.equal(sub.topic, 'invoices');
	assert.equal(sub.name, 'invoices to SOAP');
	assert.equal(sub.wrap_in_list, true);

	/* edit: the form comes back filled in, the topic fixed */
	await go(`#/subscriptions/${soapId}/edit`);
	assert.equal(await page.getByLabel('Topic').isDisabled(), true);
	assert.equal(await page.getByLabel('SOAP action').inputValue(),
	    'urn:orders#notify');
	await page.getByLabel('SOAP action').fill('urn:invoices#notify');
	await page.getByRole('button', { name: 'Save changes' }).click();
	await page.waitForURL(new RegExp(`#/subscriptions/${soapId}$`),
	    { timeout: WAIT });
	assert.equal((await subscription(soapId)).soap_action,
	    'urn:invoices#notify');
});

test('published events show up in the queue depth live; the state change delivers them',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go('#/');
	await page.evaluate(() => { window.sluiceNoReload = true; });
	const pending = page.locator(`a[data-key="q-${restId}-pending"] .qc-v`);
	await pending.waitFor({ timeout: WAIT });
	assert.equal(await pending.innerText(), '0');
	for (let i = 1; i <= 6; i++) {
		const r = await s.publishStructured({ id: `o-${i}`, source: '/shop',
		    type: 'com.example.order', data: { order: i, item: 'book' } },
		    { topic: 'orders' });
		assert.equal(r.status, 202, r.text);
	}
	const ignored = await s.publishStructured({ id: 'x-1', source: '/shop',
	    type: 'other.type', data: { order: 99 } }, { topic: 'orders' });
	assert.equal(ignored.status, 202);
	await until(async () => await pending.innerText() === '6',
	    'pending 6 on the dashboard');
	assert.equal(await page.evaluate(() => window.sluiceNoReload), true,
	    'refreshed without reloading');
	await shot('dashboard');

	await go(`#/subscriptions/${restId}`);
	await page.getByLabel('State', { exact: true })
	    .selectOption('pub_and_sub');
	await page.getByRole('button', { name: 'Change state' }).click();
	await sink.waitFor(6, WAIT);
	assert.equal(sink.requests[0].headers['x-tenant'], 'acme');
	assert.ok(sink.requests[0].headers['webhook-signature'], 'signed');
	const delivered = page.locator(
	    `#status-h ~ dl a[data-key="q-${restId}-delivered"] .qc-v`);
	await until(async () => await delivered.innerText() === '6',
	    'delivered 6 on the subscription page');
	assert.equal(sink.requests[0].method, 'PUT');
});

test('queue browser: state tabs, prefix search and a message\'s detail with its attempts',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go(`#/subscriptions/${restId}/messages?state=delivered`);
	const rows = page.locator('#messages tbody tr');
	await until(async () => await rows.count() === 6, '6 delivered rows');
	assert.equal(await page.locator('#tab-delivered').getAttribute(
	    'aria-current'), 'page');
	assert.match(await page.locator('#tab-delivered').innerText(), /6/);

	/* paging by cursor, 4 a page */
	await go(`#/subscriptions/${restId}/messages?state=delivered&limit=4`);
	await until(async () => await rows.count() === 4, 'first page of 4');
	const first = await page.locator('a.msg-link').allInnerTexts();
	await page.getByRole('link', { name: 'Next →' }).click();
	await until(async () => await rows.count() === 2, 'second page of 2');
	const second = await page.locator('a.msg-link').allInnerTexts();
	assert.equal(new Set([...first, ...second]).size, 6, 'no repeats');
	assert.equal(await page.locator('#next-page').count(), 0, 'last page');
	await page.getByRole('link', { name: '← Previous' }).click();
	await until(async () => (await page.locator('a.msg-link')
	    .allInnerTexts()).join() === first.join(), 'back to the first page');

	await go(`#/subscriptions/${restId}/messages?state=delivered`);
	await until(async () => await rows.count() === 6, '6 delivered rows');
	await page.getByLabel('Search data prefix').fill('"order":3');
	await page.getByRole('button', { name: 'Search' }).click();
	await until(async () => await rows.count() === 1 &&
	    /"order":3/.test(await rows.first().innerText()), 'one match');
	assert.match(page.url(), /q=%22order%22%3A3/);
	await shot('queue');
	await page.getByLabel('Search data prefix').fill('no such text');
	await page.getByRole('button', { name: 'Search' }).click();
	await page.locator('td.empty', { hasText: 'matches' })
	    .waitFor({ timeout: WAIT });
	await page.getByLabel('Search data prefix').fill('"order":3');
	await page.getByRole('button', { name: 'Search' }).click();
	await page.locator('a.msg-link').first().waitFor({ timeout: WAIT });
	await page.locator('a.msg-link').first().click();
	await page.locator('h1', { hasText: 'Message' }).waitFor({ timeout: WAIT });
	const attempts = page.locator('table.attempts tbody tr');
	await until(async () => await attempts.count() === 1, 'one attempt');
	const a = await attempts.first().innerText();
	assert.match(a, /200/);
	assert.match(a, /\d+ ms/);
	assert.match(await page.locator('#delivery-state').innerText(),
	    /delivered/);
	assert.match(await page.locator('#matched').innerText(), /prefix|type/);
	assert.match(await page.locator('pre.data-text').innerText(),
	    /"order": 3/);
	await page.locator('table.attrs', { hasText: 'com.example.order' })
	    .waitFor();
	await shot('message');
});

test('a failing sink pauses the endpoint, highlighted on the dashboard; a dead message is retried',
    async (t) => {
	if (gate(t, skipAll))
		return;
	sink.always({ status: 500, body: 'down <b>for</b> maintenance' });
	const r = await s.publishStructured({ id: 'fail-1', source: '/shop',
	    type: 'com.example.order', data: { order: 100 } },
	    { topic: 'orders' });
	assert.equal(r.status, 202);
	const msg = r.json.accepted[0].msg;
	await go('#/');
	const row = page.locator('tr.paused', { hasText: `#${restId}` });
	await row.waitFor({ timeout: WAIT });
	assert.match(await row.innerText(), /Paused \(app error\) until/);
	await page.locator('.alert-panel', { hasText: 'Paused endpoints' })
	    .waitFor({ timeout: WAIT });
	await shot('dashboard-paused');
	/* two attempts, then dead */
	await until(async () => (await subscription(restId)).status.queue.dead ===
	    1, 'the message goes dead', 20000);
	sink.always({ status: 200 });
	await go(`#/subscriptions/${restId}/messages/${msg}`);
	const attempts = page.locator('table.attempts tbody tr');
	await until(async () => await attempts.count() === 2, 'two attempts');
	assert.match(await attempts.first().innerText(), /500/);
	assert.match(await page.locator('table.attempts').innerText(),
	    /down <b>for<\/b> maintenance/);
	await page.getByRole('button', { name: 'Retry this message' }).click();
	await until(async () => /delivered/.test(await page.locator(
	    '#delivery-state').innerText()), 'delivered after retry', 20000);
	await page.locator('table.attempts tbody tr', { hasText: '200' })
	    .waitFor({ timeout: WAIT });

	/* purge this one message, after confirming */
	const before = (await subscription(restId)).status.queue.delivered;
	await page.getByRole('button', { name: 'Purge this message…' }).click();
	await page.locator('dialog[open]').getByRole('button', { name: 'Purge' })
	    .click();
	await page.waitForURL(new RegExp(`#/subscriptions/${restId}/messages$`));
	await until(async () => (await subscription(restId)).status.queue
	    .delivered === before - 1, 'one message fewer');
	const gone = await s.api('GET',
	    `/api/v1/subscriptions/${restId}/messages/${msg}`);
	assert.equal(gone.status, 404, gone.text);

	/* retry every dead message from the subscription page */
	sink.always({ status: 500 });
	const r2 = await s.publishStructured({ id: 'fail-2', source: '/shop',
	    type: 'com.example.order', data: { order: 101 } },
	    { topic: 'orders' });
	assert.equal(r2.status, 202);
	await until(async () => (await subscription(restId)).status.queue.dead ===
	    1, 'the second message goes dead', 20000);
	sink.always({ status: 200 });
	await go(`#/subscriptions/${restId}`);
	await page.getByRole('button', { name: 'Retry dead messages' }).click();
	await page.locator('#action-msg', { hasText: '1 message' })
	    .waitFor({ timeout: WAIT });
	await until(async () => (await subscription(restId)).status.queue.dead ===
	    0 && (await subscription(restId)).status.queue.delivered >= 7,
	    'retried and delivered', 20000);
	await page.locator('#action-msg').waitFor();
});

test('pause and resume by hand, purge with confirmation, delete with confirmation',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go(`#/subscriptions/${soapId}`);
	await page.getByRole('button', { name: 'Pause', exact: true }).click();
	await page.locator('#pause-banner', { hasText: 'manual' })
	    .waitFor({ timeout: WAIT });
	assert.equal((await subscription(soapId)).status.pause_reason, 'manual');
	await page.getByRole('button', { name: 'Resume' }).click();
	await until(async () => (await subscription(soapId)).status
	    .pause_reason === null, 'resumed');

	/* purge: cancel keeps the queue, confirm empties it */
	await s.api('POST', `/api/v1/subscriptions/${soapId}/pause`, {});
	const p = await s.publishStructured({ id: 'inv-1', source: '/billing',
	    type: 'com.example.invoice', data: { invoice: 1 } },
	    { topic: 'invoices' });
	assert.equal(p.status, 202, p.text);
	await until(async () => (await subscription(soapId)).status.queue
	    .pending === 1, 'one pending invoice');
	await page.getByLabel('Purge messages').selectOption('pending');
	await page.getByRole('button', { name: 'Purge…' }).click();
	await page.locator('dialog[open]').waitFor();
	await page.getByRole('button', { name: 'Cancel' }).click();
	assert.equal((await subscription(soapId)).status.queue.pending, 1);
	await page.getByRole('button', { name: 'Purge…' }).click();
	await page.locator('dialog[open]').getByRole('button',
	    { name: 'Purge pending' }).click();
	await page.locator('#action-msg', { hasText: 'Purged pending' })
	    .waitFor();
	assert.equal((await subscription(soapId)).status.queue.pending, 0);
	assert.equal(soapSink.requests.length, 0, 'nothing was delivered');

	await page.getByRole('button', { name: 'Delete…' }).click();
	await page.getByRole('button', { name: 'Cancel' }).click();
	assert.equal((await s.api('GET', `/api/v1/subscriptions/${soapId}`))
	    .status, 200, 'cancel keeps it');
	await page.getByRole('button', { name: 'Delete…' }).click();
	await page.locator('dialog[open]').getByRole('button',
	    { name: 'Delete' }).click();
	await page.locator('h1', { hasText: 'Dashboard' }).waitFor({ timeout: WAIT });
	assert.equal((await s.api('GET', `/api/v1/subscriptions/${soapId}`))
	    .status, 404);
});

test('a delete waits for a live refresh in flight, which then finds the subscription',
    async (t) => {
	if (gate(t, skipAll))
		return;
	const c = await createSubscription(
	    { delivery_method: 'pull', name: 'short-lived' });
	const id = c.id;
	const url = new RegExp(`/api/v1/subscriptions/${id}$`);
	/* hold the page's next GET of the subscription (a live refresh) */
	let armed = false, held = null, release;
	const released = new Promise((r) => { release = r; });
	const answers = [];
	await page.route(url, async (route) => {
		if (armed && route.request().method() === 'GET' &&
		    held === null) {
			held = route;
			await released;
		}
		const r = await route.fetch();
		answers.push(`${route.request().method()} ${r.status()}`);
		await route.fulfill({ response: r });
	});
	try {
		await go(`#/subscriptions/${id}`);
		await page.locator('h1', { hasText: 'short-lived' })
		    .waitFor({ timeout: WAIT });
		armed = true;
		await until(async () => held !== null, 'a live refresh');
		await page.getByRole('button', { name: 'Delete…' }).click();
		await page.locator('dialog[open]').getByRole('button',
		    { name: 'Delete' }).click();
		await sleep(300);
		release();
		await page.locator('h1', { hasText: 'Dashboard' })
		    .waitFor({ timeout: WAIT });
	} finally {
		release();
		await page.unroute(url);
	}
	assert.equal((await s.api('GET', `/api/v1/subscriptions/${id}`)).status,
	    404, 'deleted');
	assert.ok(!answers.includes('GET 404'), answers.join(', '));
	assert.ok(answers.includes('DELETE 204'), answers.join(', '));
});

/* The tests below keep what they create: deleting a subscription while its
 * page refreshes live would make that refresh a 404 (a console error). */
test('edit: clearing the name gives the subscription its default name back',
    async (t) => {
	if (gate(t, skipAll))
		return;
	const c = await createSubscription(
	    { sink: `${sink.url}/named`, name: 'a chosen name', state: 'pub_only' });
	await go(`#/subscriptions/${c.id}/edit`);
	await page.getByLabel('Name', { exact: true }).fill('');
	await page.getByRole('button', { name: /save/i }).click();
	await page.waitForURL(new RegExp(`#/subscriptions/${c.id}$`));
	await until(async () => (await subscription(c.id)).name ===
	    `POST ${sink.url}/named`, 'the default name');
});

test('queue browser: retry and purge of a state are off while it holds nothing',
    async (t) => {
	if (gate(t, skipAll))
		return;
	const c = await createSubscription(
	    { delivery_method: 'pull', name: 'empty-queue' });
	await go(`#/subscriptions/${c.id}/messages?state=dead`);
	const retry = page.getByRole('button', { name: 'Retry all dead' });
	await retry.waitFor({ timeout: WAIT });
	await until(async () => await retry.isDisabled() &&
	    await page.getByRole('button', { name: 'Purge all dead…' })
		.isDisabled(), 'both off');
});

test('410 Gone: the page says why the subscription is off; Resume explains that a state change turns it on',
    async (t) => {
	if (gate(t, skipAll))
		return;
	const gone = await startSink({ answer: { status: 410 } });
	t.after(() => gone.close());
	await s.api('POST', '/api/v1/topics', { name: 'gone-topic' });
	const c = await createSubscription(
	    { topic: 'gone-topic', sink: gone.url, name: 'gone-endpoint' });
	const id = c.id;
	await s.publishStructured({ id: 'g-1', source: '/g', type: 't' },
	    { topic: 'gone-topic' });
	await until(async () => (await subscription(id)).status.pause_reason ===
	    'gone', 'gone');
	/* the API refuses resume and pause, naming state, and changes nothing */
	for (const a of ['resume', 'pause']) {
		const r = await s.api('POST', `/api/v1/subscriptions/${id}/${a}`, {});
		assert.equal(r.status, 409, r.text);
		assert.equal(r.json.errors[0].field, 'state', r.text);
		assert.match(r.json.detail, /410 Gone/);
	}
	assert.equal((await subscription(id)).status.pause_reason, 'gone');
	await go(`#/subscriptions/${id}`);
	await page.locator('#pause-banner', { hasText: '410' })
	    .waitFor({ timeout: WAIT });
	expected.push(/status of 409/);
	await page.getByRole('button', { name: 'Resume' }).click();
	const alert = page.locator('#action-msg [role=alert]');
	await alert.waitFor({ timeout: WAIT });
	assert.match(await alert.innerText(), /^Resume failed: .*410 Gone.*Change state/s);
	assert.equal(await page.locator('#action-msg li').count(), 0,
	    'the reason is said once');
	assert.equal(await page.getByRole('status').count(), 0,
	    'no success notice');
	/* the state change turns it on and delivers the kept queue */
	gone.always({ status: 200 });
	await page.getByLabel('State').selectOption('pub_and_sub');
	await page.getByRole('button', { name: 'Change state' }).click();
	await page.locator('#action-msg', { hasText: 'State set to pub_and_sub' })
	    .waitFor({ timeout: WAIT });
	assert.equal(await page.getByRole('status').count(), 1,
	    'one live region says it');
	await until(async () => (await subscription(id)).status.queue
	    .delivered === 1, 'delivered after the state change');
});

test('system events page filters by operation',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go('#/sysevents');
	await page.locator('#sysevents tbody tr').first().waitFor({ timeout: WAIT });
	await page.getByLabel('Operation').fill('topic.create');
	await page.getByRole('button', { name: 'Filter' }).click();
	await until(async () => {
		const ops = await page.locator('#sysevents tbody tr td:nth-child(2)')
		    .allInnerTexts();
		return ops.length > 0 && ops.every((o) => o === 'topic.create');
	}, 'only topic.create rows');
	assert.match(page.url(), /operation=topic.create/);
	await shot('sysevents');
	/* the entity links to what it names */
	await page.getByLabel('Operation').fill('subscription.create');
	await page.getByRole('button', { name: 'Filter' }).click();
	const ent = page.locator('#sysevents tbody tr td:nth-child(3) a',
	    { hasText: `subscription ${restId}` });
	await ent.first().waitFor({ timeout: WAIT });
	await ent.first().click();
	await page.waitForURL(new RegExp(`#/subscriptions/${restId}$`));
	await page.locator('#action-msg').waitFor({ state: 'attached' });
});

test('event-type catalog lists what each topic has seen',
    async (t) => {
	if (gate(t, skipAll))
		return;
	await go('#/eventtypes');
	await page.locator('#eventtypes td', { hasText: 'com.example.order' })
	    .first().waitFor({ timeout: WAIT });
	await page.getByLabel('Topic').selectOption('orders');
	await until(async () => {
		const t = await page.locator('#eventtypes tbody tr td:first-child')
		    .allInnerTexts();
		return t.length > 0 && t.every((x) => x === 'orders');
	}, 'only orders rows');
	await shot('eventtypes');
	await page.locator('#eventtypes a').first().click();
	await page.locator('h1', { hasText: 'Event' }).waitFor({ timeout: WAIT });
});

test('narrow window: the dashboard stacks and stays usable',
    { skip: skipAll || false }, async () => {
	await page.setViewportSize({ width: 400, height: 800 });
	await go('#/');
	await page.locator('code.url').first().waitFor({ timeout: WAIT });
	const wide = await page.evaluate(() =>
	    document.documentElement.scrollWidth);
	assert.ok(wide <= 420, `no horizontal scrolling (${wide}px)`);
	if (SHOTS)
		await shot('dashboard-narrow');
	await page.setViewportSize({ width: 1280, height: 800 });
});

test('keyboard: the nav and forms are reachable with Tab and have visible focus',
    { skip: skipAll || false }, async () => {
	await go('#/');
	await page.locator('header a.brand').focus();
	await page.keyboard.press('Tab');
	const seen = [];
	for (let i = 0; i < 8; i++) {
		seen.push(await page.evaluate(() => document.activeElement &&
		    document.activeElement.textContent.trim()));
		await page.keyboard.press('Tab');
	}
	assert.ok(seen.includes('System events'), seen.join(' | '));
	const outline = await page.evaluate(() => {
		const a = [...document.querySelectorAll('#nav a')].pop();
		a.focus();
		return getComputedStyle(a).outlineStyle;
	});
	assert.notEqual(outline, 'none');
});

test('no console errors and no page errors', { skip: skipAll || false },
    async () => {
	const unexpected = problems.filter((p) =>
	    !expected.some((re) => re.test(p)));
	assert.deepEqual(unexpected, [], `answers >= 400: ${failed.join(', ')}`);
	assert.deepEqual(dialogs, []);
});
