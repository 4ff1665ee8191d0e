// page-subscription.js: one subscription: its settings (the secret only as
// "set"), live status, and the actions: state change, pause/resume, retry
// dead, purge, edit, delete.

import * as api from './api.js';
import { h, replace, dl, time, errorBox, notice, confirmDialog }
	from './dom.js';
import { queueCounts, pauseText, isPaused, endpointLabel } from './common.js';

const STATES = ['pub_and_sub', 'pub_only', 'sub_only', 'disabled'];

export async function subscriptionPage(ctx) {
	const id = ctx.params[0];
	const path = `/subscriptions/${id}`;
	let sub = await api.get(path);
	if (!ctx.alive())
		return;
	ctx.title(sub.name);
	/* what is put in it is the live region (a notice or an alert) */
	const msg = h('div', { id: 'action-msg' });
	const statusEl = h('section', { 'aria-labelledby': 'status-h' });
	const settingsEl = h('section', { 'aria-labelledby': 'settings-h' });
	const head = h('h1');

	/* what: the action ("Pause"); done: its success ("Paused") */
	async function act(what, done, fn) {
		try {
			const r = await fn();
			const n = r && typeof r.affected === 'number' ?
			    ` (${r.affected} message${r.affected === 1 ? '' :
			    's'})` : '';
			replace(msg, notice(`${done}: done${n}.`));
			await refresh();
		} catch (e) {
			/* a 410 is lifted by a state change, not by resume */
			if (e.status === 409 && sub.status?.pause_reason === 'gone')
				e = new Error('the endpoint answered 410 Gone, so ' +
				    'the subscription is disabled: choose its state ' +
				    '(pub_and_sub or sub_only) and Change state to ' +
				    'deliver its queue again.');
			replace(msg, errorBox(e, `${what} failed`));
		}
	}

	const stateSel = h('select', { id: 'state-select', name: 'state' },
	    STATES.map((s) => h('option', { value: s, text: s })));
	const pauseIn = h('input', { id: 'pause-duration', type: 'number',
	    min: 1, step: 1, placeholder: 'until resumed',
	    'aria-describedby': 'pause-help' });
	const pauseBtn = h('button', { type: 'submit', id: 'pause',
	    text: 'Pause' });
	const resumeBtn = h('button', { type: 'button', id: 'resume',
	    onclick: () => act('Resume', 'Resumed', () =>
		api.post(`${path}/resume`, {})), text: 'Resume' });
	const purgeSel = h('select', { id: 'purge-state' },
	    ['pending', 'dead', 'delivered'].map((s) => h('option',
		{ value: s, text: s })));

	const actions = h('section', { class: 'actions',
	    'aria-labelledby': 'actions-h' },
	    h('h2', { id: 'actions-h', text: 'Actions' }), h('div', { class: 'card' },
	    h('form', { class: 'inline', onsubmit: (ev) => {
		ev.preventDefault();
		act('Change state', `State set to ${stateSel.value}`,
		    () => api.patch(path,
		    { state: stateSel.value }));
	    } }, h('label', { for: 'state-select', text: 'State' }), stateSel,
		h('button', { type: 'submit', text: 'Change state' })),
	    h('form', { class: 'inline', onsubmit: (ev) => {
		ev.preventDefault();
		const secs = Number(pauseIn.value);
		const body = secs > 0 ? { duration_ms: Math.round(secs * 1000) } :
		    {};
		act('Pause', 'Paused', () => api.post(`${path}/pause`, body));
	    } }, h('label', { for: 'pause-duration',
		text: 'Pause for (seconds)' }), pauseIn,
		pauseBtn, resumeBtn,
		h('span', { id: 'pause-help', class: 'muted',
		    text: 'Empty: paused until resumed.' })),
	    h('div', { class: 'inline' },
		h('button', { type: 'button', id: 'retry-dead', onclick: () =>
		    act('Retry', 'Retried dead messages', () => api.post(
			`${path}/retry`, { state: 'dead' })),
		    text: 'Retry dead messages' })),
	    h('form', { class: 'inline', onsubmit: async (ev) => {
		ev.preventDefault();
		const st = purgeSel.value;
		if (!await confirmDialog(`Remove every ${st} message of ` +
		    `subscription #${id} from its queue? This cannot be ` +
		    'undone.', `Purge ${st}`))
			return;
		act('Purge', `Purged ${st}`, () => api.post(`${path}/purge`,
		    { state: st }));
	    } }, h('label', { for: 'purge-state', text: 'Purge messages' }),
		purgeSel, h('button', { type: 'submit', id: 'purge',
		    class: 'danger', text: 'Purge…' })),
	    h('div', { class: 'inline' },
		h('a', { class: 'button', href: `#${path}/edit`, text: 'Edit' }),
		h('a', { class: 'button', href: `#${path}/messages`,
		    text: 'Browse queue' }),
		h('button', { type: 'button', id: 'delete', class: 'danger',
		    onclick: async () => {
			if (!await confirmDialog(`Delete subscription #${id} ` +
			    `"${sub.name}" and its queue?`, 'Delete'))
				return;
			await ctx.quiet();
			try {
				await api.del(path);
				ctx.navigate('#/');
			} catch (e) {
				replace(msg, errorBox(e, 'Delete failed'));
				ctx.live(refresh);
			}
		    }, text: 'Delete…' })),
	    msg));

	replace(ctx.main, h('p', { class: 'crumbs' }, h('a', { href: '#/',
	    text: 'Dashboard' }), ' / subscription'), head,
	    h('div', { class: 'cols' }, statusEl, actions), settingsEl);

	let shownState = null;
	function render() {
		replace(head, `#${sub.id} ${sub.name}`);
		/* a refresh must not undo a choice not yet applied */
		if (sub.state !== shownState)
			stateSel.value = shownState = sub.state;
		const st = sub.status || {};
		const paused = isPaused(sub);

		replace(statusEl, h('h2', { id: 'status-h', text: 'Status' }),
		    paused ? h('p', { class: 'paused banner', id: 'pause-banner',
			text: pauseText(sub) }) : null,
		    dl([
			['State', h('span', { class: `badge state-${sub.state}`,
			    text: sub.state })],
			['Queue', queueCounts(sub)],
			['Last success', time(st.last_success_at,
			    { none: 'never' })],
			['Last error', st.last_error ? h('span', {
			    class: 'err-text', text: st.last_error }) : '—'],
			['Last error at', time(st.last_error_at)],
			['Failures in a row', String(st.consecutive_failures ?? 0)],
			['Validation', st.validation || '—'],
		    ]));
		replace(settingsEl, h('h2', { id: 'settings-h',
		    text: 'Settings' }), dl(settingsPairs(sub)));
	}

	async function refresh() {
		const s = await api.get(path);
		if (!ctx.alive())
			return;
		sub = s;
		render();
	}
	render();
	ctx.live(refresh);
}

function settingsPairs(s) {
	const json = (v) => h('pre', { class: 'json',
	    text: JSON.stringify(v, null, 2) });
	const pairs = [
		['Topic', s.topic],
		['Endpoint', endpointLabel(s)],
		['Delivery', s.delivery_method],
	];
	if (s.delivery_method !== 'pull')
		pairs.push(['Sink', h('code', { class: 'url', text: s.sink })]);
	if (s.endpoint_type === 'soap')
		pairs.push(['SOAP action', s.soap_action ?? '—']);
	pairs.push(
	    ['Batch size', s.batch_size],
	    ['Wrap in list', s.wrap_in_list ? 'yes' : 'no'],
	    ['Max attempts', s.max_attempts],
	    ['Pause after transport error', `${s.tcp_error_pause_ms} ms`],
	    ['Pause after application error', `${s.app_error_pause_ms} ms`],
	    ['Backoff factor', s.backoff_factor],
	    ['Max pause', `${s.max_pause_ms} ms`],
	    ['Rate limit', s.rate_limit ? `${s.rate_limit}/s` : 'none'],
	    ['Timeout', `${s.timeout_ms} ms`],
	    ['Max in flight', s.max_inflight],
	    ['Headers', json(s.headers || {})],
	    ['Filters', json(s.filters || [])],
	    ['Secret', !s.secret_set ? 'not set' : s.previous_secret_until ?
		h('span', {}, 'set; the replaced one also signs until ',
		    time(s.previous_secret_until)) : 'set'],
	    ['Validate', s.validate ? 'yes' : 'no'],
	    ['Created', s.created_at || '—'],
	    ['Updated', s.updated_at || '—']);
	return pairs;
}
