// page-catalog.js: the system events page (sluice's own operations,
// filtered by operation) and the event-type catalog (what each topic has
// seen: type, source, count, first and last seen, an example).

import * as api from './api.js';
import { h, replace, table, time, errorBox } from './dom.js';

const OPERATIONS = [
	'topic.create', 'topic.update', 'topic.delete',
	'subscription.create', 'subscription.update', 'subscription.delete',
	'subscription.pause', 'subscription.resume', 'subscription.retry',
	'subscription.purge', 'subscription.gone',
	'delivery.dead', 'server.start', 'server.stop', 'server.stats',
];

function pager(ctx, path, query, next, prev) {
	const links = [];
	if (query.cursor)
		links.push(h('a', { class: 'button', href: ctx.link(path,
		    { ...query, cursor: prev[prev.length - 1] || '',
			prev: prev.slice(0, -1).join(',') }),
		    text: '← Previous' }), h('a', { class: 'button',
		    href: ctx.link(path, { ...query, cursor: '', prev: '' }),
		    text: 'First page' }));
	if (next)
		links.push(h('a', { class: 'button', id: 'next-page',
		    href: ctx.link(path, { ...query, cursor: next,
			prev: [...prev, query.cursor || ''].join(',') }),
		    text: 'Next →' }));
	return h('nav', { class: 'pager', 'aria-label': 'Pages' }, links);
}

// "subscription 3", linked to what it names where that has a page.
function entityCell(e) {
	const label = `${e.entity ?? ''}` + (e.entity_id != null ?
	    ` ${e.entity_id}` : '');
	const id = e.entity_id != null ? String(e.entity_id) : '';
	let href = null;
	if (e.entity === 'subscription' && /^\d+$/.test(id) &&
	    e.operation !== 'subscription.delete')
		href = `#/subscriptions/${id}`;
	else if (e.entity === 'topic' && id && e.operation !== 'topic.delete')
		href = `#/eventtypes?topic=${api.enc(id)}`;
	return href ? h('a', { href, text: label }) : label;
}

export async function syseventsPage(ctx) {
	ctx.title('System events');
	const op = ctx.query.get('operation') || '';
	const cursor = ctx.query.get('cursor') || '';
	const prev = (ctx.query.get('prev') || '').split(',').filter(Boolean);
	const input = h('input', { id: 'operation', name: 'operation',
	    list: 'operations', value: op, placeholder: 'all operations' });
	const form = h('form', { class: 'inline', role: 'search',
	    onsubmit: (ev) => {
		ev.preventDefault();
		ctx.navigate(ctx.link('/sysevents',
		    { operation: input.value.trim() }));
	    } },
	    h('label', { for: 'operation', text: 'Operation' }), input,
	    h('datalist', { id: 'operations' }, OPERATIONS.map((o) =>
		h('option', { value: o }))),
	    h('button', { type: 'submit', text: 'Filter' }),
	    op ? h('a', { class: 'button', href: '#/sysevents',
		text: 'Show all' }) : null);
	const listEl = h('div', { id: 'sysevents' });
	const pagerEl = h('div');
	replace(ctx.main, h('h1', { text: 'System events' }),
	    h('p', { class: 'muted', text: 'sluice\'s own operations, newest ' +
		'first. They are also published as CloudEvents to the topic ' +
		'$sys.' }), form, listEl, pagerEl);

	async function refresh() {
		const page = await api.get('/sysevents', { operation: op,
		    cursor, limit: 100 });
		if (!ctx.alive())
			return;
		replace(listEl, table([
			{ label: 'Time', cell: (e) => time(e.time) },
			{ label: 'Operation', cell: (e) => h('a', {
			    href: ctx.link('/sysevents', { operation: e.operation }),
			    text: e.operation }) },
			{ label: 'Entity', cell: entityCell },
			{ label: 'Actor', cell: (e) => e.actor ?? '—' },
			{ label: 'Details', cell: (e) => e.metadata == null ? '—' :
			    h('code', { class: 'meta', text: typeof e.metadata ===
				'string' ? e.metadata : JSON.stringify(e.metadata) }) },
		], page.items, { cls: 'sysevents', empty: op ?
		    `No ${op} events.` : 'No system events.' }));
		replace(pagerEl, pager(ctx, '/sysevents', { operation: op, cursor },
		    page.next_cursor, prev));
	}
	try {
		await refresh();
	} catch (e) {
		replace(listEl, errorBox(e, 'Cannot list system events'));
		return;
	}
	if (!cursor)
		ctx.live(refresh);
}

export async function eventtypesPage(ctx) {
	ctx.title('Event types');
	const topic = ctx.query.get('topic') || '';
	const topics = await api.all('/topics');
	if (!ctx.alive())
		return;
	const sel = h('select', { id: 'et-topic', name: 'topic',
	    onchange: () => ctx.navigate(ctx.link('/eventtypes',
		{ topic: sel.value })) },
	    h('option', { value: '', text: 'All topics' }),
	    topics.map((t) => h('option', { value: t.name, text: t.name })));
	sel.value = topic;
	const listEl = h('div', { id: 'eventtypes' });
	replace(ctx.main, h('h1', { text: 'Event types' }),
	    h('p', { class: 'muted', text: 'Every (type, source) pair each ' +
		'topic has accepted.' }),
	    h('form', { class: 'inline', onsubmit: (ev) => ev.preventDefault() },
		h('label', { for: 'et-topic', text: 'Topic' }), sel),
	    listEl);

	async function refresh() {
		const items = await api.all('/eventtypes', { topic });
		if (!ctx.alive())
			return;
		replace(listEl, table([
			{ label: 'Topic', cell: (t) => t.topic },
			{ label: 'Type', cell: (t) => h('code', { text: t.type }) },
			{ label: 'Source', cell: (t) => t.source },
			{ label: 'Count', cls: 'num', cell: (t) => String(t.count) },
			{ label: 'First seen', cell: (t) => time(t.first_seen) },
			{ label: 'Last seen', cell: (t) => time(t.last_seen,
			    { relative: true }) },
			{ label: 'Example', cell: (t) => t.example_msg ? h('a', {
			    href: `#/events/${api.enc(t.example_msg)}`,
			    'data-key': `ex-${t.topic}-${t.type}-${t.source}`,
			    text: t.example_msg }) : '—' },
		], items, { cls: 'eventtypes', empty: 'No events yet.' }));
	}
	try {
		await refresh();
	} catch (e) {
		replace(listEl, errorBox(e, 'Cannot list event types'));
		return;
	}
	ctx.live(refresh);
}
