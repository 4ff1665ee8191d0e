// page-dashboard.js: what flows and what is stuck: topics with their ingest
// URLs and event rates, subscriptions with state, endpoint, queue depths,
// last success and error, and paused endpoints.  Refreshes live.

import * as api from './api.js';
import { h, replace, table, time, errorBox, truncate, notice }
	from './dom.js';
import { queueCounts, pauseText, isPaused, endpointLabel } from './common.js';

// Samples of counters from the previous refresh, for rates.
const samples = { topics: new Map(), subs: new Map() };

function rate(map, key, count, now) {
	const prev = map.get(key);
	map.set(key, { count, t: now });
	if (!prev || now <= prev.t || count < prev.count)
		return null;
	return (count - prev.count) / ((now - prev.t) / 1000);
}

function fmtRate(r) {
	if (r === null)
		return '…';
	return r >= 10 ? `${Math.round(r)}/s` : `${r.toFixed(1)}/s`;
}

// Optional parts of the API: a missing route (404) shows a note, not an
// error page.
async function optional(p) {
	try {
		return { value: await p };
	} catch (e) {
		return { error: e };
	}
}

const TOPIC_RULE = 'letters, digits, ".", "_" and "-", starting with a ' +
    'letter or digit (names starting with $ are sluice\'s own)';

export async function dashboardPage(ctx) {
	ctx.title('Dashboard');
	const statsEl = h('section', { class: 'stats', 'aria-label':
	    'Totals' });
	const pausedEl = h('section', { 'aria-labelledby': 'paused-h' });
	const topicsEl = h('div');
	const subsEl = h('div');
	const topicMsg = h('div');	/* holds a notice or an alert */
	const nameIn = h('input', { id: 'topic-name', name: 'name',
	    required: true, maxlength: 128, pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*',
	    title: TOPIC_RULE, 'aria-describedby': 'topic-msg',
	    oninput: () => replace(topicMsg),
	    oninvalid: () => replace(topicMsg, h('p', { class: 'error',
		role: 'alert', text: nameIn.value ? `Not a topic name: ` +
		`${TOPIC_RULE}.` : 'Enter a topic name.' })) });
	const descIn = h('input', { id: 'topic-desc', name: 'description' });
	topicMsg.id = 'topic-msg';
	const topicForm = h('form', { class: 'inline', id: 'topic-form',
	    onsubmit: async (ev) => {
		ev.preventDefault();
		replace(topicMsg);
		try {
			const body = { name: nameIn.value.trim() };
			if (descIn.value.trim())
				body.description = descIn.value.trim();
			await api.post('/topics', body);
			replace(topicMsg, notice(`Topic ${body.name} created.`));
			nameIn.value = '';
			descIn.value = '';
			await refresh();
		} catch (e) {
			replace(topicMsg, errorBox(e, 'Cannot create the topic'));
		}
	    } },
	    h('label', { for: 'topic-name', text: 'New topic' }), nameIn,
	    h('label', { for: 'topic-desc', text: 'Description' }), descIn,
	    h('button', { type: 'submit', text: 'Create topic' }));

	replace(ctx.main,
	    h('div', { class: 'page-head' }, h('h1', { text: 'Dashboard' }),
		h('a', { class: 'button primary', href: '#/subscriptions/new',
		    text: 'New subscription' })),
	    statsEl, pausedEl,
	    h('section', { 'aria-labelledby': 'subs-h' },
		h('h2', { id: 'subs-h', text: 'Subscriptions' }), subsEl),
	    h('section', { 'aria-labelledby': 'topics-h' },
		h('h2', { id: 'topics-h', text: 'Topics' }), topicsEl,
		topicForm, topicMsg));

	async function refresh() {
		const [topics, subs, stats, types] = await Promise.all([
			api.all('/topics'),
			optional(api.all('/subscriptions')),
			optional(api.get('/stats')),
			optional(api.all('/eventtypes')),
		]);
		if (!ctx.alive())
			return;
		const now = Date.now();
		renderStats(statsEl, stats);
		renderTopics(topicsEl, topics, types, subs, now);
		renderSubs(subsEl, pausedEl, subs, now);
	}
	await refresh();
	ctx.live(refresh);
}

function renderStats(el, stats) {
	if (stats.error) {
		replace(el);
		return;
	}
	const s = stats.value;
	const q = s.queue || {};
	const box = (label, v, cls) => h('div', { class: `stat ${cls || ''}` },
	    h('span', { class: 'stat-v', text: v ?? '—' }),
	    h('span', { class: 'stat-l', text: label }));
	replace(el, box('topics', s.topics), box('subscriptions',
	    s.subscriptions), box('events', s.events),
	    box('pending', q.pending), box('in flight', q.inflight),
	    box('delivered', q.delivered),
	    box('dead', q.dead, q.dead > 0 ? 'bad' : ''),
	    h('p', { class: 'muted node', text: `node ${s.node || '?'} · ` +
		`sluice ${s.version || '?'} · up since ` +
		`${s.started_at ? s.started_at.replace('T', ' ') : '?'}` }));
}

function renderTopics(el, topics, types, subs, now) {
	const counts = new Map();
	if (types.value)
		for (const t of types.value)
			counts.set(t.topic, (counts.get(t.topic) || 0) +
			    (t.count || 0));
	const nsubs = new Map();
	if (subs.value)
		for (const s of subs.value)
			nsubs.set(s.topic, (nsubs.get(s.topic) || 0) + 1);
	const rates = new Map();
	for (const t of topics)
		if (counts.has(t.name))
			rates.set(t.name, rate(samples.topics, t.name,
			    counts.get(t.name), now));
	replace(el, table([
		{ label: 'Topic', cell: (t) => h('a', { href: `#/eventtypes?` +
		    `topic=${api.enc(t.name)}`, 'data-key': `topic-${t.name}`,
		    text: t.name }) },
		/* $ topics are sluice's own: nobody else publishes there */
		{ label: 'Ingest URL', cell: (t) => t.name.startsWith('$') ?
		    h('span', { class: 'muted', text: 'reserved: sluice ' +
			'publishes its own events here' }) : h('code',
		    { class: 'url', text: location.origin + t.ingest_path }) },
		{ label: 'Publish token', cell: (t) => t.name.startsWith('$') ?
		    '—' : t.publish_token_set ? 'required' : 'none' },
		{ label: 'Events', cls: 'num', cell: (t) => counts.has(t.name) ?
		    String(counts.get(t.name)) : '—' },
		{ label: 'Event rate', cls: 'num', cell: (t) => rates.has(t.name) ?
		    fmtRate(rates.get(t.name)) : '—' },
		{ label: 'Subscriptions', cls: 'num', cell: (t) => subs.value ?
		    String(nsubs.get(t.name) || 0) : '—' },
		{ label: 'Description', cell: (t) => truncate(t.description, 80) },
		{ label: 'Actions', cell: (t) => t.name.startsWith('$') &&
		    t.name !== '$sys' ? '' : h('a', { href: '#/subscriptions/new?' +
		    `topic=${api.enc(t.name)}`, text: 'Subscribe' }) },
	], topics, { cls: 'topics', empty: 'No topics.' }));
}

function renderSubs(el, pausedEl, subs, now) {
	if (subs.error) {
		replace(el, errorBox(subs.error, 'Subscriptions unavailable'));
		replace(pausedEl);
		return;
	}
	const list = subs.value;
	const paused = list.filter((s) => isPaused(s, now));
	if (paused.length) {
		replace(pausedEl, h('h2', { id: 'paused-h',
		    text: `Paused endpoints (${paused.length})` }),
		    h('ul', { class: 'paused-list' }, paused.map((s) => h('li',
			{ class: 'paused' }, h('a', { href: `#/subscriptions/${s.id}`,
			    text: s.name }), ' — ', pauseText(s, now)))));
		pausedEl.classList.add('alert-panel');
	} else {
		replace(pausedEl);
		pausedEl.classList.remove('alert-panel');
	}
	replace(el, table([
		{ label: 'Subscription', cell: (s) => h('a', {
		    href: `#/subscriptions/${s.id}`, 'data-key': `sub-${s.id}`,
		    class: 'sub-name', text: `#${s.id} ${s.name}` }) },
		{ label: 'Topic', cell: (s) => s.topic },
		{ label: 'State', cell: (s) => h('span', {
		    class: `badge state-${s.state}`, text: s.state }) },
		{ label: 'Endpoint', cell: (s) => endpointLabel(s) },
		{ label: 'Sink', cls: 'sink', cell: (s) => s.delivery_method === 'pull' ?
		    h('span', { class: 'muted', text: 'pull' }) :
		    h('code', { class: 'url', text: s.sink }) },
		{ label: 'Queue', cell: (s) => queueCounts(s) },
		{ label: 'Delivery rate', cls: 'num', cell: (s) => fmtRate(rate(
		    samples.subs, s.id, s.status?.queue?.delivered ?? 0, now)) },
		{ label: 'Last success', cell: (s) => time(
		    s.status?.last_success_at, { relative: true,
		    none: 'never' }) },
		{ label: 'Last error / pause', cell: (s) => lastError(s, now) },
	], list, { cls: 'subs', empty: 'No subscriptions yet.',
	    rowClass: (s) => isPaused(s, now) ? 'paused' : undefined }));
}

function lastError(s, now) {
	const st = s.status || {};
	const parts = [];
	if (isPaused(s, now))
		parts.push(h('div', { class: 'pause-note' }, pauseText(s, now)));
	if (st.last_error)
		parts.push(h('div', { class: 'err-text',
		    title: st.last_error }, truncate(st.last_error, 80), ' ',
		    time(st.last_error_at, { relative: true })));
	if (!parts.length)
		return h('span', { class: 'muted', text: '—' });
	return h('div', null, parts);
}

