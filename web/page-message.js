// page-message.js: one message: its attributes, its data (pretty-printed
// when JSON, hex and base64 when binary), and, within a subscription, its
// queue metadata, every delivery attempt and the filter that matched; retry
// or purge it.  All of it is text: nothing here is parsed as HTML.

import * as api from './api.js';
import { h, replace, table, time, dl, errorBox, notice, confirmDialog }
	from './dom.js';

const HEX_MAX = 4096;	// bytes shown in the hex dump

function isJsonType(ct) {
	if (!ct)
		return true;	// CloudEvents: no datacontenttype means JSON
	const t = ct.split(';')[0].trim().toLowerCase();
	return t === 'application/json' || t === 'text/json' ||
	    t.endsWith('+json');
}

function b64bytes(b64) {
	const bin = atob(b64);
	const out = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++)
		out[i] = bin.charCodeAt(i);
	return out;
}

export function hexdump(bytes) {
	const lines = [];
	const n = Math.min(bytes.length, HEX_MAX);
	for (let off = 0; off < n; off += 16) {
		const row = bytes.subarray(off, Math.min(off + 16, n));
		const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'));
		const ascii = Array.from(row, (b) => b >= 0x20 && b < 0x7f ?
		    String.fromCharCode(b) : '.').join('');
		lines.push(`${off.toString(16).padStart(8, '0')}  ` +
		    `${hex.slice(0, 8).join(' ').padEnd(23)}  ` +
		    `${hex.slice(8).join(' ').padEnd(23)}  |${ascii}|`);
	}
	if (bytes.length > n)
		lines.push(`… ${bytes.length - n} more bytes`);
	return lines.join('\n');
}

// The data section of an event in the CloudEvents JSON format.
export function dataView(ev) {
	const sec = h('section', { 'aria-labelledby': 'data-h', id: 'data' },
	    h('h2', { id: 'data-h', text: 'Data' }));
	if ('data_base64' in ev && ev.data_base64 !== null) {
		let bytes;
		try {
			bytes = b64bytes(ev.data_base64);
		} catch (e) {
			sec.append(errorBox(e, 'data_base64 is not base64'));
			return sec;
		}
		sec.append(h('p', { class: 'muted', text: `Binary, ${bytes.length} ` +
		    `bytes (${ev.datacontenttype || 'no content type'})` }),
		    h('h3', { text: 'Hex' }),
		    h('pre', { class: 'hex data-hex', text: hexdump(bytes) }),
		    h('h3', { text: 'Base64' }),
		    h('pre', { class: 'b64 data-b64', text: ev.data_base64 }));
		return sec;
	}
	if (!('data' in ev) || ev.data === undefined) {
		sec.append(h('p', { class: 'muted', text: 'No data.' }));
		return sec;
	}
	let shown = ev.data;
	let kind = 'Text';
	if (typeof ev.data !== 'string') {
		shown = JSON.stringify(ev.data, null, 2);
		kind = 'JSON';
	} else if (isJsonType(ev.datacontenttype)) {
		try {
			shown = JSON.stringify(JSON.parse(ev.data), null, 2);
			kind = 'JSON';
		} catch (e) {
			/* a string that is not JSON text: show it as it is */
		}
	}
	sec.append(h('p', { class: 'muted', text: `${kind}` +
	    (ev.datacontenttype ? ` (${ev.datacontenttype})` : '') }),
	    h('pre', { class: `data-text${kind === 'JSON' ? ' json' : ''}`,
		text: shown }));
	return sec;
}

export function attributesView(ev) {
	const rows = Object.entries(ev).filter(([k]) => k !== 'data' &&
	    k !== 'data_base64');
	return h('section', { 'aria-labelledby': 'attrs-h' },
	    h('h2', { id: 'attrs-h', text: 'Attributes' }),
	    table([
		{ label: 'Attribute', cell: ([k]) => h('code', { text: k }) },
		{ label: 'Value', cell: ([, v]) => typeof v === 'string' ? v :
		    JSON.stringify(v) },
		{ label: 'Type', cell: ([, v]) => typeof v === 'number' ?
		    'integer' : typeof v === 'boolean' ? 'boolean' : 'string' },
	    ], rows, { cls: 'attrs' }));
}

export async function messagePage(ctx) {
	const [id, msgId] = ctx.params;
	const subPath = `/subscriptions/${id}`;
	const path = `${subPath}/messages/${api.enc(msgId)}`;
	let m = await api.get(path);
	if (!ctx.alive())
		return;
	ctx.title(`Message ${msgId}`);
	const note = h('div', { id: 'msg-action' }); /* a notice or an alert */
	const metaEl = h('section', { 'aria-labelledby': 'meta-h' });
	const attemptsEl = h('section', { 'aria-labelledby': 'attempts-h' });

	async function act(label, fn) {
		try {
			const r = await fn();
			replace(note, notice(`${label}: ${r?.affected ?? 0} ` +
			    'affected.'));
			await refresh();
		} catch (e) {
			replace(note, errorBox(e, `${label} failed`));
		}
	}

	const actions = h('div', { class: 'inline actions' },
	    h('button', { type: 'button', id: 'retry-msg', onclick: () =>
		act('Retry', () => api.post(`${subPath}/retry`,
		    { msgs: [msgId] })), text: 'Retry this message' }),
	    h('button', { type: 'button', id: 'purge-msg', class: 'danger',
		onclick: async () => {
		    if (!await confirmDialog(`Remove message ${msgId} from ` +
			`the queue of subscription #${id}?`, 'Purge'))
			    return;
		    await ctx.quiet();
		    try {
			    const r = await api.post(`${subPath}/purge`,
				{ msgs: [msgId] });
			    if (r.affected > 0) {
				    ctx.navigate(`#${subPath}/messages`);
				    return;
			    }
			    replace(note, notice('Not purged: the message is in ' +
				'flight (a push on its way, or a pull lease); ' +
				'its outcome settles it first.', 'warn'));
		    } catch (e) {
			    replace(note, errorBox(e, 'Purge failed'));
		    }
		    ctx.live(refresh);
		}, text: 'Purge this message…' }),
	    h('a', { class: 'button', href: `#/events/${api.enc(msgId)}`,
		text: 'Event (all subscriptions)' }));

	function render() {
		const d = m.delivery || {};
		replace(metaEl, h('h2', { id: 'meta-h', text: 'Queue' }), dl([
			['Message', h('code', { text: m.msg })],
			['Topic', m.topic],
			['Received', time(m.received_at)],
			['State', h('span', { class: `badge qs-${d.state}`,
			    id: 'delivery-state', text: d.state ?? '—' })],
			['Attempts', String(d.attempts ?? 0)],
			['Next attempt', time(d.next_attempt_at)],
			['Last status', d.last_status ?? '—'],
			['Last error', d.last_error ? h('span', { class: 'err-text',
			    text: d.last_error }) : '—'],
			['Updated', time(d.updated_at)],
			['Matched by', h('code', { id: 'matched',
			    text: m.matched || 'no filter (every event)' })],
		]));
		replace(attemptsEl, h('h2', { id: 'attempts-h',
		    text: `Delivery attempts (${(m.attempts || []).length})` }),
		    table([
			{ label: '#', cls: 'num', cell: (a) => String(a.n) },
			{ label: 'Time', cell: (a) => time(a.time) },
			{ label: 'Outcome', cell: (a) => h('span', {
			    class: `badge outcome-${a.outcome}`,
			    text: a.outcome }) },
			{ label: 'HTTP status', cls: 'num', cell: (a) =>
			    a.http_status ?? '—' },
			{ label: 'Duration', cls: 'num', cell: (a) =>
			    a.duration_ms != null ? `${a.duration_ms} ms` : '—' },
			{ label: 'Error', cell: (a) => a.error ? h('span',
			    { class: 'err-text', text: a.error }) : '—' },
			{ label: 'Response', cell: (a) => a.response ? h('pre',
			    { class: 'response', text: a.response }) : '—' },
		    ], (m.attempts || []).map((a, i) => ({ ...a, n: i + 1 })),
		    { cls: 'attempts', empty: 'No attempt yet.' }));
	}

	replace(ctx.main,
	    h('p', { class: 'crumbs' }, h('a', { href: '#/', text: 'Dashboard' }),
		' / ', h('a', { href: `#${subPath}`, text: `#${id}` }), ' / ',
		h('a', { href: `#${subPath}/messages`, text: 'queue' })),
	    h('h1', { text: `Message ${msgId}` }), actions, note,
	    h('div', { class: 'cols' }, metaEl, attributesView(m.event || {})),
	    dataView(m.event || {}), attemptsEl);
	render();

	async function refresh() {
		const n = await api.get(path);
		if (!ctx.alive())
			return;
		m = n;
		render();
	}
	ctx.live(refresh);
}

// An accepted event with the subscriptions it was queued to.
export async function eventPage(ctx) {
	const msgId = ctx.params[0];
	const e = await api.get(`/events/${api.enc(msgId)}`);
	if (!ctx.alive())
		return;
	ctx.title(`Event ${msgId}`);
	replace(ctx.main,
	    h('p', { class: 'crumbs' }, h('a', { href: '#/', text: 'Dashboard' }),
		' / event'),
	    h('h1', { text: `Event ${msgId}` }),
	    dl([['Topic', e.topic], ['Received', time(e.received_at)]]),
	    h('section', { 'aria-labelledby': 'queued-h' },
		h('h2', { id: 'queued-h', text: 'Queued to' }),
		table([
		    { label: 'Subscription', cell: (s) => h('a', {
			href: `#/subscriptions/${s.id}/messages/` +
			    `${api.enc(msgId)}`, text: `#${s.id} ${s.name}` }) },
		    { label: 'State', cell: (s) => s.state },
		], e.subscriptions || [], { empty: 'No subscription.' })),
	    attributesView(e.event || {}), dataView(e.event || {}));
}
