'use strict';
/* sysevents.test.cjs: being written (issue 3). */
const test = require('node:test');
const assert = require('node:assert/strict');
const { start } = require('../lib/sluice.cjs');

test('GET /api/v1/sysevents answers 200', async (t) => {
	const s = await start({ t });
	const r = await s.api('GET', '/api/v1/sysevents');
	assert.equal(r.status, 200, r.text);
	await s.stop();
});
