// page-form.js: the subscription create and edit form.  Grouped by
// endpoint type (REST, SOAP): the fields change with the type, the
// delivery method and the SOAP version.  Topics the chosen endpoint (sink
// and method) already subscribes to are disabled in the topic picker.  The
// API's validation messages (problem+json errors[].field) are shown next to
// the field they name.

import * as api from './api.js';
import { h, replace, errorBox } from './dom.js';

const REST_METHODS = ['POST', 'PUT', 'PATCH', 'DELETE', 'GET'];
const STATES = ['pub_and_sub', 'pub_only', 'sub_only', 'disabled'];

// Delivery tuning: number fields with the API's bounds and defaults.
const NUMBERS = [
	['batch_size', 'Batch size', 1, 1000, 1, 'events per request'],
	['max_attempts', 'Max attempts', 1, 1000, 10,
	    'then the message goes dead'],
	['tcp_error_pause_ms', 'Pause after transport error (ms)', 0, 86400000,
	    10000, 'refused, reset, DNS, TLS, timeout'],
	['app_error_pause_ms', 'Pause after application error (ms)', 0,
	    86400000, 3000, 'non-2xx response or SOAP Fault'],
	['backoff_factor', 'Backoff factor', 1, 100, 1,
	    'pause multiplier per consecutive failure'],
	['max_pause_ms', 'Max pause (ms)', 0, 86400000, 300000,
	    'cap for backoff and Retry-After'],
	['rate_limit', 'Rate limit (per second)', 0, 100000, 0, '0: none'],
	['timeout_ms', 'Timeout (ms)', 100, 300000, 10000, 'whole request'],
	['max_inflight', 'Max in flight', 1, 1000, 1, '1: strict order'],
];

function fieldBase(name) {
	return String(name || '').split(/[.[]/)[0];
}

export async function subscriptionFormPage(ctx) {
	const id = ctx.params[0];
	const editing = id !== undefined;
	const [sub, topics, subs] = await Promise.all([
		editing ? api.get(`/subscriptions/${id}`) : null,
		api.all('/topics'),
		api.all('/subscriptions').catch(() => []),
	]);
	if (!ctx.alive())
		return;
	ctx.title(editing ? `Edit #${id}` : 'New subscription');

	const f = {};		// inputs by API field name
	const errs = {};	// error slots by API field name
	const general = h('div', { id: 'form-error', role: 'alert' });

	function errSlot(name) {
		errs[name] = h('p', { class: 'field-error', id: `err-${name}`,
		    hidden: true });
		return errs[name];
	}

	function field(name, label, input, help) {
		input.id = `f-${name}`;
		input.name = name;
		const ids = [`err-${name}`];
		if (help)
			ids.push(`help-${name}`);
		input.setAttribute('aria-describedby', ids.join(' '));
		f[name] = input;
		const wrap = h('div', { class: `field field-${name}` },
		    h('label', { for: input.id, text: label }), input,
		    help ? h('p', { class: 'help', id: `help-${name}`,
			text: help }) : null, errSlot(name));
		return wrap;
	}

	function radios(name, legend, options, value) {
		const set = h('fieldset', { class: `radios field-${name}` },
		    h('legend', { text: legend }));
		const inputs = [];
		for (const [v, label] of options) {
			const r = h('input', { type: 'radio', name, value: v,
			    id: `f-${name}-${v}`, checked: v === value,
			    'aria-describedby': `err-${name}` });
			inputs.push(r);
			set.append(h('label', { class: 'radio', for: r.id }, r,
			    label));
		}
		set.append(errSlot(name));
		f[name] = {
			get value() {
				const c = inputs.find((i) => i.checked);
				return c ? c.value : null;
			},
			set value(v) {
				for (const i of inputs)
					i.checked = i.value === v;
			},
			focus() {
				(inputs.find((i) => i.checked) || inputs[0]).focus();
			},
			inputs,
		};
		return set;
	}

	const s = sub || {};
	const endpointSet = radios('endpoint_type', 'Endpoint type',
	    [['rest', 'REST'], ['soap', 'SOAP']], s.endpoint_type || 'rest');
	const deliverySet = radios('delivery_method', 'Delivery',
	    [['notify', 'Notify (sluice pushes to a sink)'],
	     ['pull', 'Pull (the endpoint polls)']], s.delivery_method ||
	    'notify');
	const contentSet = radios('content_mode', 'Content mode',
	    [['structured', 'Structured (application/cloudevents+json)'],
	     ['binary', 'Binary (ce-* headers, data as body)']],
	    s.content_mode || 'structured');
	const versionSel = h('select', null,
	    ['1.1', '1.2'].map((v) => h('option', { value: v,
		text: `SOAP ${v}` })));
	const methodSel = h('select');
	const topicSel = h('select', { disabled: editing });

	const sinkField = field('sink', 'Sink URL', h('input', { type: 'url',
	    placeholder: 'https://example.com/hook', value: s.sink || '',
	    autocomplete: 'off' }), 'Where sluice sends the events');
	const methodField = field('http_method', 'HTTP method', methodSel);
	const wrapField = h('div', { class: 'field check' },
	    f.wrap_in_list = h('input', { type: 'checkbox', id: 'f-wrap_in_list',
		name: 'wrap_in_list', checked: Boolean(s.wrap_in_list),
		'aria-describedby': 'err-wrap_in_list' }),
	    h('label', { for: 'f-wrap_in_list',
		text: 'Always send a batch, even of one event (a JSON list; ' +
		    'a SOAP <batch>)' }),
	    errSlot('wrap_in_list'));
	const restGroup = h('fieldset', { class: 'group group-rest' },
	    h('legend', { text: 'REST' }), contentSet);
	const soapGroup = h('fieldset', { class: 'group group-soap' },
	    h('legend', { text: 'SOAP' }),
	    field('soap_version', 'SOAP version', versionSel),
	    field('soap_action', 'SOAP action', h('input', { type: 'text',
		value: s.soap_action || '' }), 'SOAPAction header (1.1) or ' +
		'action parameter (1.2); optional'));
	versionSel.value = s.soap_version || '1.1';

	const topicHelp = h('p', { class: 'help', id: 'help-topic' });
	const topicField = field('topic', 'Topic', topicSel);
	topicField.insertBefore(topicHelp, errs.topic);
	topicSel.setAttribute('aria-describedby', 'err-topic help-topic');

	const stateSel = h('select', null, STATES.map((v) => h('option',
	    { value: v, text: v })));
	stateSel.value = s.state || 'pub_and_sub';

	const filtersIn = h('textarea', { rows: 5, spellcheck: 'false',
	    class: 'code', placeholder: '[{"exact": {"type": "com.example.order"}}]' });
	filtersIn.value = JSON.stringify(s.filters || [], null, 2);
	const headersIn = h('textarea', { rows: 3, spellcheck: 'false',
	    class: 'code', placeholder: '{"X-Tenant": "acme"}' });
	headersIn.value = JSON.stringify(s.headers || {}, null, 2);

	const secretIn = h('input', { type: 'password', autocomplete: 'new-password',
	    placeholder: editing && s.secret_set ? 'set (leave empty to keep)' :
	    'whsec_… or 16+ characters' });
	const clearSecret = h('input', { type: 'checkbox', id: 'f-clear-secret' });
	const secretField = field('secret', 'Signing secret', secretIn,
	    editing ? `Secret: ${s.secret_set ? 'set' : 'not set'}. It is ` +
	    'write-only and never shown.' + (s.secret_set ? ' A new secret ' +
	    'replaces it; the old one keeps signing beside it for the ' +
	    "server's rotation grace (24 hours unless set otherwise)." : '') :
	    'Optional; write-only, never shown');
	if (editing && s.secret_set)
		secretField.append(h('div', { class: 'check' }, clearSecret,
		    h('label', { for: 'f-clear-secret',
			text: 'Remove the secret' })));
	const validateIn = h('input', { type: 'checkbox', id: 'f-validate',
	    name: 'validate', checked: Boolean(s.validate),
	    'aria-describedby': 'err-validate' });
	f.validate = validateIn;

	const numbers = h('div', { class: 'grid' }, NUMBERS.map(([name, label,
	    min, max, def, help]) => field(name, label, h('input', {
		type: 'number', min, max, step: name === 'backoff_factor' ?
		'any' : 1, value: s[name] ?? def }), help)));

	const submit = h('button', { type: 'submit', class: 'primary',
	    id: 'save', text: editing ? 'Save changes' : 'Create subscription' });
	const form = h('form', { class: 'sub-form', novalidate: true,
	    onsubmit: onSubmit },
	    general,
	    h('div', { class: 'cols' },
		h('div', null, endpointSet, deliverySet, sinkField, methodField,
		    restGroup, soapGroup, wrapField),
		h('div', null, topicField,
		    field('name', 'Name', h('input', { type: 'text',
			maxlength: 200, value: s.name || '',
			placeholder: 'default: "<method> <sink>"' }),
			'Optional; a label for people (need not be unique)'),
		    field('state', 'State', stateSel),
		    field('filters', 'Filters (JSON)', filtersIn,
			'CloudEvents Subscriptions API filters, ANDed: exact, ' +
			'prefix, suffix, all, any, not'),
		    field('headers', 'Extra request headers (JSON)',
			headersIn),
		    secretField,
		    h('div', { class: 'field check' }, validateIn,
			h('label', { for: 'f-validate', text: 'Run the ' +
			    'abuse-protection handshake before the first ' +
			    'delivery' }), errSlot('validate')))),
	    h('details', { class: 'tuning', open: editing ? true : undefined },
		h('summary', { text: 'Delivery tuning' }), numbers),
	    h('div', { class: 'buttons' }, submit,
		h('a', { class: 'button', href: editing ?
		    `#/subscriptions/${id}` : '#/', text: 'Cancel' })));

	replace(ctx.main,
	    h('p', { class: 'crumbs' }, h('a', { href: '#/', text: 'Dashboard' }),
		editing ? [' / ', h('a', { href: `#/subscriptions/${id}`,
		    text: `#${id}` })] : null),
	    h('h1', { text: editing ? `Edit subscription #${id}` :
		'New subscription' }), form);

	// ---- dynamic parts ------------------------------------------------
	function methodsFor() {
		if (f.endpoint_type.value === 'soap')
			return versionSel.value === '1.2' ? ['POST', 'GET'] :
			    ['POST'];
		return REST_METHODS;
	}

	function updateMethods() {
		const cur = methodSel.value || s.http_method || 'POST';
		replace(methodSel, methodsFor().map((m) => h('option',
		    { value: m, text: m })));
		methodSel.value = methodsFor().includes(cur) ? cur : 'POST';
	}

	function updateTopics() {
		const cur = topicSel.value || s.topic || ctx.query.get('topic') ||
		    'default';
		const sink = f.sink.value.trim();
		const method = methodSel.value;
		const notify = f.delivery_method.value === 'notify';
		const taken = new Set(subs.filter((x) => notify && sink &&
		    x.delivery_method !== 'pull' && x.sink === sink &&
		    x.http_method === method && x.id !== s.id)
		    .map((x) => x.topic));
		const names = topics.map((t) => t.name);
		if (editing && !names.includes(s.topic))
			names.push(s.topic);
		replace(topicSel, names.map((n) => h('option', { value: n,
		    disabled: taken.has(n) && !editing,
		    text: taken.has(n) ? `${n} (already subscribed)` : n })));
		let pick = cur;
		if (!editing && taken.has(pick))
			pick = names.find((n) => !taken.has(n)) || '';
		topicSel.value = pick;
		topicHelp.textContent = editing ? 'The topic cannot change.' :
		    taken.size ? `${method} ${sink} already subscribes to: ` +
		    `${[...taken].join(', ')}` : 'Topics this endpoint ' +
		    'already subscribes to are disabled';
	}

	function update() {
		const soap = f.endpoint_type.value === 'soap';
		const notify = f.delivery_method.value === 'notify';
		restGroup.hidden = soap;
		soapGroup.hidden = !soap;
		sinkField.hidden = !notify;
		methodField.hidden = !notify;
		/* one event per request in binary mode: no batch shape */
		wrapField.hidden = !soap && f.content_mode.value === 'binary';
		updateMethods();
		updateTopics();
	}
	for (const r of [...f.endpoint_type.inputs, ...f.delivery_method.inputs,
	    ...f.content_mode.inputs])
		r.addEventListener('change', update);
	versionSel.addEventListener('change', update);
	methodSel.addEventListener('change', updateTopics);
	f.sink.addEventListener('input', updateTopics);
	update();

	// ---- errors --------------------------------------------------------
	function clearErrors() {
		replace(general);
		for (const [name, slot] of Object.entries(errs)) {
			slot.hidden = true;
			slot.textContent = '';
			const input = document.getElementById(`f-${name}`);
			if (input)
				input.removeAttribute('aria-invalid');
		}
	}

	// Shows each error next to its field; returns those without one.
	function showErrors(list) {
		const rest = [];
		let first = null;
		for (const e of list) {
			const name = fieldBase(e.field);
			const slot = errs[name];
			if (!slot || slot.parentElement.closest('[hidden]')) {
				rest.push(e);
				continue;
			}
			slot.hidden = false;
			slot.textContent = (slot.textContent ?
			    `${slot.textContent} ` : '') + (e.field !== name ?
			    `${e.field}: ` : '') + (e.detail || e.reason ||
			    'invalid');
			const input = document.getElementById(`f-${name}`) ||
			    document.getElementById(`f-${name}-${f[name]?.value}`);
			if (input)
				input.setAttribute('aria-invalid', 'true');
			first = first || f[name];
		}
		if (first && first.focus)
			first.focus();
		return rest;
	}

	// ---- submit --------------------------------------------------------
	function parseJson(name, input, want) {
		const t = input.value.trim();
		if (t === '')
			return want === 'array' ? [] : {};
		try {
			const v = JSON.parse(t);
			if (want === 'array' ? !Array.isArray(v) :
			    (typeof v !== 'object' || v === null || Array.isArray(v)))
				throw new Error(`expected a JSON ${want}`);
			return v;
		} catch (e) {
			throw { field: name, detail: `not valid JSON: ${e.message}` };
		}
	}

	function body() {
		const soap = f.endpoint_type.value === 'soap';
		const notify = f.delivery_method.value === 'notify';
		const b = {};
		const bad = [];
		const reset = editing ? null : undefined;	// PATCH: null resets
		b.endpoint_type = f.endpoint_type.value;
		b.delivery_method = f.delivery_method.value;
		if (!editing)
			b.topic = topicSel.value;
		const name = f.name.value.trim();
		b.name = name || reset;	/* cleared: back to the default name */
		b.sink = notify ? f.sink.value.trim() : reset;
		b.http_method = notify ? methodSel.value : reset;
		b.content_mode = soap ? reset : f.content_mode.value;
		b.wrap_in_list = !soap && f.content_mode.value === 'binary' ?
		    reset : f.wrap_in_list.checked;
		b.soap_version = soap ? versionSel.value : reset;
		b.soap_action = soap ? (f.soap_action.value.trim() || reset) :
		    reset;
		b.state = stateSel.value;
		for (const [n] of NUMBERS) {
			const v = f[n].value.trim();
			if (v === '')
				b[n] = reset;
			else if (!Number.isFinite(Number(v)))
				bad.push({ field: n, detail: 'must be a number' });
			else
				b[n] = Number(v);
		}
		for (const [n, input, want] of [['filters', filtersIn, 'array'],
		    ['headers', headersIn, 'object']]) {
			try {
				b[n] = parseJson(n, input, want);
			} catch (e) {
				bad.push(e);
			}
		}
		if (secretIn.value)
			b.secret = secretIn.value;
		else if (clearSecret.checked)
			b.secret = null;
		b.validate = validateIn.checked;
		for (const k of Object.keys(b))
			if (b[k] === undefined)
				delete b[k];
		return { b, bad };
	}

	async function onSubmit(ev) {
		ev.preventDefault();
		clearErrors();
		const { b, bad } = body();
		if (bad.length) {
			showErrors(bad);
			replace(general, h('p', { class: 'error',
			    text: 'Fix the fields marked below.' }));
			return;
		}
		submit.disabled = true;
		replace(general, h('p', { class: 'loading', text: 'Saving…' }));
		try {
			const r = editing ? await api.patch(`/subscriptions/${id}`, b) :
			    await api.post('/subscriptions', b);
			ctx.navigate(`#/subscriptions/${r.id ?? id}`);
		} catch (e) {
			replace(general);
			const list = (e.problem && e.problem.errors) || [];
			const rest = showErrors(list);
			if (!list.length || rest.length)
				replace(general, errorBox(rest.length ?
				    Object.assign(new Error(e.message),
					{ problem: { errors: rest } }) : e,
				    'Not saved'));
			else
				replace(general, h('p', { class: 'error',
				    text: `Not saved: ${e.message}` }));
		} finally {
			submit.disabled = false;
		}
	}
}
