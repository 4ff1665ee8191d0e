// common.js: small views of a subscription shared by several pages.

import { h, relative, absolute } from './dom.js';

export const QUEUE_STATES = ['pending', 'inflight', 'delivered', 'dead'];

export function isPaused(s, now = Date.now()) {
	const st = s.status || {};
	if (st.paused === false)
		return false;
	if (st.pause_reason && !st.paused_until)
		return true;	/* manual pause without an end */
	return Boolean(st.paused_until) &&
	    new Date(st.paused_until).getTime() > now;
}

// "Paused (app_error) until 17:01:02Z, in 3s" or "Paused (manual)".
export function pauseText(s, now = Date.now()) {
	const st = s.status || {};
	const why = st.pause_reason ? ` (${st.pause_reason.replace('_', ' ')})` :
	    '';
	if (st.pause_reason === 'gone')
		return 'Gone: the endpoint answered 410, so sluice disabled ' +
		    'the subscription until its state is changed back';
	if (!st.paused_until)
		return `Paused${why} until resumed`;
	const d = new Date(st.paused_until);
	return `Paused${why} until ${absolute(d)}, ${relative(d, now)}`;
}

export function endpointLabel(s) {
	if (s.endpoint_type === 'soap')
		return `SOAP ${s.soap_version || '1.1'} · ${s.http_method}`;
	return `REST · ${s.http_method} · ${s.content_mode}`;
}

// Queue depth by state as links into the queue browser.
export function queueCounts(s) {
	const q = (s.status && s.status.queue) || {};
	return h('span', { class: 'queue-counts' }, QUEUE_STATES.map((k) =>
	    h('a', { href: `#/subscriptions/${s.id}/messages?state=${k}`,
		class: `qc qc-${k}${q[k] > 0 ? ' nonzero' : ''}`,
		title: `${k}: ${q[k] ?? 0}`, 'data-key': `q-${s.id}-${k}`,
		'data-state': k },
		h('span', { class: 'qc-l', text: k === 'inflight' ? 'in flight' :
		    k }), ' ', h('span', { class: 'qc-v', text: q[k] ?? 0 }))));
}
