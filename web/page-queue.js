// page-queue.js: one subscription's queue: messages by state (tabs), paged
// by cursor, with the search over the 64-byte data prefix.  The state,
// search and cursor live in the URL, so every page is linkable.

import * as api from './api.js';
import { h, replace, table, time, errorBox, notice, truncate,
	confirmDialog } from './dom.js';
import { QUEUE_STATES, pauseText, isPaused } from './common.js';

const PAGE = 50;

export async function queuePage(ctx) {
	const id = ctx.params[0];
	const path = `/subscriptions/${id}`;
	const st = QUEUE_STATES.includes(ctx.query.get('state')) ?
	    ctx.query.get('state') : 'pending';
	const q = ctx.query.get('q') || '';
	const cursor = ctx.query.get('cursor') || '';
	const limit = Number(ctx.query.get('limit')) > 0 ?
	    Math.min(Number(ctx.query.get('limit')), 1000) : PAGE;
	// the cursors of the pages before this one, for "Previous"
	const prev = (ctx.query.get('prev') || '').split(',').filter(Boolean);
	const here = (extra) => ctx.link(`${path}/messages`, { state: st, q,
	    limit: limit === PAGE ? '' : limit, ...extra });

	const sub = await api.get(path);
	if (!ctx.alive())
		return;
	ctx.title(`Queue of #${id}`);

	const tabs = h('nav', { class: 'tabs', 'aria-label': 'Message state' });
	const banner = h('div');
	const listEl = h('div', { id: 'messages' });
	const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
	const msg = h('div');	/* holds a notice or an alert */
	const search = h('input', { id: 'q', name: 'q', type: 'search',
	    maxlength: 64, value: q, placeholder: 'e.g. "order":12',
	    'aria-describedby': 'q-help' });
	const form = h('form', { class: 'inline search', role: 'search',
	    onsubmit: (ev) => {
		ev.preventDefault();
		ctx.navigate(here({ q: search.value }));
	    } },
	    h('label', { for: 'q', text: 'Search data prefix' }), search,
	    h('button', { type: 'submit', text: 'Search' }),
	    q ? h('a', { class: 'button', href: here({ q: '' }),
		text: 'Clear' }) : null,
	    h('p', { class: 'help', id: 'q-help', text: 'Matches a substring ' +
		'of the first 64 bytes of each message\'s data.' }));

	const bulk = h('div', { class: 'inline' });
	if (st === 'dead')
		bulk.append(h('button', { type: 'button', id: 'retry-all-dead',
		    onclick: () => act('Retry', 'Retried dead messages', () =>
			api.post(`${path}/retry`, { state: 'dead' })),
		    text: 'Retry all dead' }));
	if (st !== 'inflight')
		bulk.append(h('button', { type: 'button', class: 'danger',
		    id: 'purge-state', onclick: async () => {
			if (await confirmDialog(`Remove every ${st} message of ` +
			    `subscription #${id}?`, `Purge ${st}`))
				act('Purge', `Purged ${st}`, () => api.post(`${path}/purge`,
				    { state: st }));
		    }, text: `Purge all ${st}…` }));

	/* what: the action ("Purge"); done: its success ("Purged dead") */
	async function act(what, done, fn) {
		try {
			const r = await fn();
			replace(msg, notice(`${done}: ${r?.affected ?? 0} ` +
			    'affected.'));
			await refresh();
		} catch (e) {
			replace(msg, errorBox(e, `${what} failed`));
		}
	}

	replace(ctx.main,
	    h('p', { class: 'crumbs' }, h('a', { href: '#/', text: 'Dashboard' }),
		' / ', h('a', { href: `#${path}`, text: `#${id} ${sub.name}` }),
		' / queue'),
	    h('h1', { text: `Queue of #${id} ${sub.name}` }), banner, tabs, form,
	    bulk, msg, listEl, pager);

	function renderTabs(s) {
		const counts = s.status?.queue || {};
		replace(tabs, QUEUE_STATES.map((k) => h('a', {
		    href: ctx.link(`${path}/messages`, { state: k, q }),
		    'aria-current': k === st ? 'page' : undefined,
		    class: `tab${k === st ? ' current' : ''}`, 'data-key': `tab-${k}`,
		    id: `tab-${k}` }, k === 'inflight' ? 'in flight' : k, ' ',
		    h('span', { class: 'count', text: counts[k] ?? 0 }))));
		replace(banner, isPaused(s) ? h('p', { class: 'paused banner',
		    text: pauseText(s) }) : null);
		/* nothing in this state: nothing to retry or purge */
		for (const b of bulk.querySelectorAll('button'))
			b.disabled = !(counts[st] > 0);
	}

	function renderList(page) {
		replace(listEl, table([
			{ label: 'Message', cell: (m) => h('a', {
			    href: `#${path}/messages/${api.enc(m.msg)}`,
			    class: 'msg-link', 'data-key': `m-${m.msg}`,
			    text: m.msg }) },
			{ label: 'Received', cell: (m) => time(m.received_at) },
			{ label: 'Type', cell: (m) => m.type },
			{ label: 'Source', cell: (m) => m.source },
			{ label: 'Id', cell: (m) => truncate(m.id, 40) },
			{ label: 'Attempts', cls: 'num', cell: (m) =>
			    String(m.attempts ?? 0) },
			{ label: st === 'pending' ? 'Next attempt' : 'Last status',
			    cell: (m) => st === 'pending' ?
			    time(m.next_attempt_at, { relative: true }) :
			    (m.last_status ?? '—') },
			{ label: 'Last error', cell: (m) => m.last_error ? h('span',
			    { class: 'err-text', title: m.last_error,
				text: truncate(m.last_error, 60) }) : '—' },
			{ label: 'Data prefix', cell: (m) => h('code',
			    { class: 'prefix', text: m.prefix ?? '' }) },
		], page.items, { cls: 'messages', empty: q ?
		    `No ${st} message matches "${q}".` : `No ${st} messages.` }));
		const links = [];
		if (cursor)
			links.push(h('a', { class: 'button', id: 'prev-page',
			    href: here({ cursor: prev[prev.length - 1] || '',
				prev: prev.slice(0, -1).join(',') }),
			    text: '← Previous' }),
			    h('a', { class: 'button', href: here({}),
				text: 'First page' }));
		if (page.next_cursor)
			links.push(h('a', { class: 'button', id: 'next-page',
			    href: here({ cursor: page.next_cursor,
				prev: [...prev, cursor].filter((x) => x !== undefined)
				    .join(',') }), text: 'Next →' }));
		replace(pager, links);
	}

	async function refresh() {
		const [s, page] = await Promise.all([api.get(path),
		    api.get(`${path}/messages`, { state: st, q, cursor,
			limit })]);
		if (!ctx.alive())
			return;
		renderTabs(s);
		renderList(page);
	}
	renderTabs(sub);
	try {
		await refresh();
	} catch (e) {
		replace(listEl, errorBox(e, 'Cannot list the queue'));
	}
	ctx.live(refresh);
}
