// dom.js: builds DOM nodes without ever parsing HTML.  Every string that
// reaches the page goes through textContent or an attribute, so event data,
// headers and error texts stay inert.

// h('a', {href: '#/x', class: 'btn'}, 'text', child, [more]) -> element.
// Attributes starting with "on" take functions (event listeners); the
// special keys "text" and "dataset" set textContent and data-* attributes.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs) {
		for (const [k, v] of Object.entries(attrs)) {
			if (v === undefined || v === null || v === false)
				continue;
			if (k.startsWith('on') && typeof v === 'function')
				el.addEventListener(k.slice(2), v);
			else if (k === 'text')
				el.textContent = String(v);
			else if (k === 'dataset')
				Object.assign(el.dataset, v);
			else if (k === 'value')
				el.value = v;
			else if (k === 'checked' || k === 'disabled' ||
			    k === 'selected' || k === 'hidden' || k === 'required')
				el[k] = Boolean(v);
			else
				el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	append(el, children);
	return el;
}

function append(el, children) {
	for (const c of children) {
		if (c === undefined || c === null || c === false)
			continue;
		if (Array.isArray(c))
			append(el, c);
		else if (c instanceof Node)
			el.appendChild(c);
		else
			el.appendChild(document.createTextNode(String(c)));
	}
}

// Replaces el's children, keeping keyboard focus on the element with the
// same data-key when a live refresh rebuilds what had the focus.
export function replace(el, ...children) {
	const active = document.activeElement;
	const key = active && el.contains(active) ? active.dataset.key : null;
	el.replaceChildren();
	append(el, children);
	if (key) {
		const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
		if (again)
			again.focus();
	}
}

export function text(v) {
	return document.createTextNode(v === null || v === undefined ? '' :
	    String(v));
}

// A time as "2026-11-23 16:58:03" (UTC) with a relative hint in the title.
export function time(iso, opts = {}) {
	if (!iso)
		return h('span', { class: 'muted', text: opts.none || '—' });
	const d = new Date(iso);
	if (isNaN(d))
		return h('span', { text: iso });
	return h('time', { datetime: iso, title: iso },
	    (opts.relative ? relative(d) : absolute(d)));
}

export function absolute(d) {
	return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function relative(d, now = Date.now()) {
	const s = Math.round((d.getTime() - now) / 1000);
	const a = Math.abs(s);
	let v;
	if (a < 1)
		return 'just now';
	if (a < 60)
		v = `${a}s`;
	else if (a < 3600)
		v = `${Math.round(a / 60)}m`;
	else if (a < 86400)
		v = `${Math.round(a / 3600)}h`;
	else
		v = `${Math.round(a / 86400)}d`;
	return s >= 0 ? `in ${v}` : `${v} ago`;
}

export function loading(what = 'Loading…') {
	return h('p', { class: 'loading', role: 'status', text: what });
}

// An error box for an ApiError or any Error.
export function errorBox(err, prefix) {
	const box = h('div', { class: 'error', role: 'alert' });
	const message = err && err.message ? err.message : String(err);
	box.append(h('strong', { text: prefix ? `${prefix}: ` : 'Error: ' }),
	    text(message));
	/* the errors list, less what the message already says */
	const items = (err && err.problem && Array.isArray(err.problem.errors) ?
	    err.problem.errors : []).map((e) =>
	    `${e.field || e.attribute || ''}: ${e.detail || e.reason || ''}`)
	    .filter((t) => t !== message);
	if (items.length)
		box.append(h('ul', null, items.map((t) => h('li', { text: t }))));
	return box;
}

// A status message for an action's result.
export function notice(msg, kind = 'ok') {
	return h('p', { class: `notice ${kind}`, role: 'status', text: msg });
}

// Asks for confirmation in a modal <dialog>; resolves true or false.
export function confirmDialog(question, confirmLabel = 'Confirm') {
	return new Promise((resolve) => {
		const yes = h('button', { type: 'submit', value: 'yes',
		    class: 'danger', text: confirmLabel });
		const no = h('button', { type: 'submit', value: 'no',
		    text: 'Cancel' });
		const dlg = h('dialog', { class: 'confirm', 'aria-label':
		    'Confirm' },
		    h('form', { method: 'dialog' },
			h('p', { text: question }),
			h('div', { class: 'buttons' }, no, yes)));
		dlg.addEventListener('close', () => {
			resolve(dlg.returnValue === 'yes');
			dlg.remove();
		});
		document.body.append(dlg);
		dlg.showModal();
		no.focus();
	});
}

// A table from column specs: [{label, cell: (row) => node|string, cls}].
export function table(cols, rows, opts = {}) {
	const thead = h('thead', null, h('tr', null,
	    cols.map((c) => h('th', { scope: 'col', class: c.cls,
		text: c.label }))));
	const tbody = h('tbody');
	for (const r of rows) {
		const tr = h('tr', { class: opts.rowClass ? opts.rowClass(r) :
		    undefined });
		for (const c of cols) {
			const v = c.cell(r);
			tr.append(h('td', { class: c.cls, 'data-label': c.label },
			    v instanceof Node ? v : text(v)));
		}
		tbody.append(tr);
	}
	if (rows.length === 0)
		tbody.append(h('tr', null, h('td', { colspan: cols.length,
		    class: 'empty', text: opts.empty || 'Nothing here yet.' })));
	return h('div', { class: 'table-wrap' },
	    h('table', { class: opts.cls }, opts.caption ?
		h('caption', { text: opts.caption }) : null, thead, tbody));
}

// A definition list from [label, value] pairs.
export function dl(pairs) {
	const el = h('dl', { class: 'kv' });
	for (const [k, v] of pairs) {
		el.append(h('dt', { text: k }),
		    h('dd', null, v instanceof Node ? v : text(v)));
	}
	return el;
}

export function truncate(s, n) {
	if (s === null || s === undefined)
		return '';
	s = String(s);
	return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
