// app.js: the web admin's shell: hash routing (#/subscriptions/3/messages),
// login with the admin token, the header, and the live refresh loop.

import * as api from './api.js';
import { h, replace, loading, errorBox } from './dom.js';
import { dashboardPage } from './page-dashboard.js';
import { subscriptionPage } from './page-subscription.js';
import { subscriptionFormPage } from './page-form.js';
import { queuePage } from './page-queue.js';
import { messagePage, eventPage } from './page-message.js';
import { syseventsPage, eventtypesPage } from './page-catalog.js';

const REFRESH_MS = 3000;

const routes = [
	[/^\/$/, dashboardPage, 'dashboard'],
	[/^\/subscriptions\/new$/, subscriptionFormPage, 'new'],
	[/^\/subscriptions\/(\d+)$/, subscriptionPage, 'dashboard'],
	[/^\/subscriptions\/(\d+)\/edit$/, subscriptionFormPage, 'dashboard'],
	[/^\/subscriptions\/(\d+)\/messages$/, queuePage, 'dashboard'],
	[/^\/subscriptions\/(\d+)\/messages\/([^/]+)$/, messagePage,
	    'dashboard'],
	[/^\/events\/([^/]+)$/, eventPage, 'dashboard'],
	[/^\/sysevents$/, syseventsPage, 'sysevents'],
	[/^\/eventtypes$/, eventtypesPage, 'eventtypes'],
];

const state = {
	auth: 'unknown',	// unknown | ok | needed
	tokenless: false,	// the API answers without a token
	authMessage: null,	// why the login page is shown
	generation: 0,		// bumps on every navigation
	refreshers: [],
	ticking: null,		// the refresh pass in flight
	returnTo: null,
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const session = document.getElementById('session');
const liveStatus = document.getElementById('live');

function parseHash() {
	const raw = location.hash.replace(/^#/, '') || '/';
	const q = raw.indexOf('?');
	const path = q === -1 ? raw : raw.slice(0, q);
	const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
	return { path: path || '/', query };
}

export function navigate(hash) {
	if (location.hash === hash)
		route();
	else
		location.hash = hash;
}

// Builds "#/path?k=v" from a path and an object of query values.
export function link(path, query = {}) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(query))
		if (v !== undefined && v !== null && v !== '')
			p.set(k, v);
	const s = p.toString();
	return `#${path}${s ? `?${s}` : ''}`;
}

function renderSession() {
	if (state.auth !== 'ok') {
		replace(session);
		return;
	}
	if (state.tokenless) {
		replace(session, h('span', { class: 'muted',
		    text: 'No admin token needed (loopback)' }));
		return;
	}
	replace(session, h('span', { class: 'muted', text: 'Signed in' }),
	    h('button', { type: 'button', id: 'logout', class: 'link',
		onclick: logout, text: 'Log out' }));
}

function renderNav(current) {
	const items = [
		['dashboard', '#/', 'Dashboard'],
		['new', '#/subscriptions/new', 'New subscription'],
		['sysevents', '#/sysevents', 'System events'],
		['eventtypes', '#/eventtypes', 'Event types'],
	];
	replace(nav, state.auth === 'ok' ? h('ul', null, items.map(
	    ([key, href, label]) => h('li', null, h('a', { href,
		'aria-current': key === current ? 'page' : undefined,
		text: label })))) : null);
}

function logout() {
	api.setToken(null);
	state.auth = 'needed';
	state.authMessage = 'Signed out.';
	route();
}

// What sluiced says about signing in: "token", "none" or "off".
async function authMode() {
	try {
		const r = await fetch('/admin/config.json', { cache: 'no-store' });
		return r.ok ? (await r.json()).auth : null;
	} catch (e) {
		return null;
	}
}

// Checks whether the API answers with the stored token (or none).  With
// no token, asks sluiced first whether one is needed, so that the sign-in
// page is not reached through a refused (401) request.
async function checkAuth() {
	const token = api.getToken();
	if (!token) {
		const mode = await authMode();
		if (mode === 'token') {
			state.auth = 'needed';
			return;
		}
		if (mode === 'off') {
			state.auth = 'needed';
			state.authMessage = 'The admin API is off: sluiced has ' +
			    'no admin token and listens on a public address. ' +
			    'Restart it with --admin-token.';
			return;
		}
	}
	try {
		await api.get('/topics', { limit: 1 }, { noAuthRedirect: true });
		state.auth = 'ok';
		state.tokenless = !token;
	} catch (e) {
		if (e.status === 401 || e.status === 403) {
			state.auth = 'needed';
			if (token) {
				api.setToken(null);
				state.authMessage = 'The stored token was ' +
				    `refused (${e.status}); sign in again.`;
			} else if (e.status === 403) {
				state.authMessage = e.message;
			}
			return;
		}
		throw e;
	}
}

function loginPage() {
	const input = h('input', { id: 'token', name: 'token',
	    type: 'password', autocomplete: 'current-password', required: true,
	    'aria-describedby': 'login-msg' });
	const msg = h('p', { id: 'login-msg', class: 'muted',
	    text: 'Enter the admin token sluiced was started with ' +
		'(--admin-token or SLUICE_ADMIN_TOKEN).' });
	const err = h('div', { id: 'login-error', role: 'alert' });
	if (state.authMessage)
		replace(err, h('p', { class: 'error', text: state.authMessage }));
	const button = h('button', { type: 'submit', class: 'primary',
	    text: 'Sign in' });
	const form = h('form', { class: 'login card', novalidate: true,
	    onsubmit: async (ev) => {
		ev.preventDefault();
		const token = input.value.trim();
		if (!token) {
			replace(err, h('p', { class: 'error',
			    text: 'Enter a token.' }));
			input.focus();
			return;
		}
		button.disabled = true;
		replace(err, h('p', { class: 'loading', text: 'Checking…' }));
		try {
			await api.get('/topics', { limit: 1 },
			    { token, noAuthRedirect: true });
			api.setToken(token);
			state.auth = 'ok';
			state.tokenless = false;
			state.authMessage = null;
			const to = state.returnTo || '#/';
			state.returnTo = null;
			navigate(to);
		} catch (e) {
			const m = e.status === 403 ? 'Wrong token: sluiced ' +
			    'refused it (403 Forbidden).' : e.status === 401 ?
			    'sluiced asks for a token (401 Unauthorized).' :
			    e.message;
			replace(err, h('p', { class: 'error', text: m }));
			input.select();
			input.focus();
		} finally {
			button.disabled = false;
		}
	    } },
	    h('h1', { text: 'Sign in to sluice' }), msg,
	    h('label', { for: 'token', text: 'Admin token' }), input, err,
	    h('div', { class: 'buttons' }, button));
	replace(main, form);
	document.title = 'Sign in · sluice';
	input.focus();
}

function stopRefresh() {
	state.refreshers = [];
}

// Stops the page's live refresh and waits for a pass in flight, so that
// nothing asks for what the page is about to delete.
async function quiet() {
	stopRefresh();
	await state.ticking;
}

async function route() {
	const gen = ++state.generation;
	stopRefresh();
	const { path, query } = parseHash();
	if (state.auth === 'unknown') {
		replace(main, loading('Connecting to sluiced…'));
		try {
			await checkAuth();
		} catch (e) {
			replace(main, errorBox(e, 'Cannot reach the API'));
			return;
		}
		if (gen !== state.generation)
			return;
	}
	renderSession();
	if (state.auth !== 'ok' || path === '/login') {
		if (state.auth === 'ok') {
			navigate('#/');
			return;
		}
		if (path !== '/login')
			state.returnTo = location.hash || '#/';
		renderNav(null);
		loginPage();
		return;
	}
	for (const [re, page, navKey] of routes) {
		const m = path.match(re);
		if (!m)
			continue;
		renderNav(navKey);
		const ctx = {
			params: m.slice(1),
			query,
			main,
			alive: () => gen === state.generation,
			live: (fn) => state.refreshers.push(fn),
			quiet,
			title: (t) => { document.title = `${t} · sluice`; },
			navigate,
			link,
		};
		replace(main, loading());
		window.scrollTo(0, 0);
		try {
			await page(ctx);
		} catch (e) {
			if (gen === state.generation)
				replace(main, errorBox(e));
		}
		if (gen === state.generation) {
			const h1 = main.querySelector('h1');
			if (h1 && !main.contains(document.activeElement)) {
				h1.tabIndex = -1;
				h1.focus({ preventScroll: true });
			}
		}
		return;
	}
	renderNav(null);
	replace(main, h('h1', { text: 'Not found' }),
	    h('p', null, 'No page here. ', h('a', { href: '#/',
		text: 'Back to the dashboard' })));
}

async function refreshTick() {
	const fns = state.refreshers;
	if (document.hidden || fns.length === 0)
		return;
	const gen = state.generation;
	try {
		for (const fn of fns) {
			if (gen !== state.generation || fns !== state.refreshers)
				return;
			await fn();
		}
		liveStatus.textContent = `Live · updated ${new Date()
		    .toISOString().slice(11, 19)}Z`;
		liveStatus.classList.remove('stale');
	} catch (e) {
		liveStatus.textContent = `Live refresh failed: ${e.message}`;
		liveStatus.classList.add('stale');
	}
}

api.setAuthFailureHandler((e) => {
	if (state.auth !== 'ok')
		return;
	state.auth = 'needed';
	if (api.getToken())
		api.setToken(null);
	state.authMessage = `sluiced refused the request (${e.status}): ` +
	    'sign in again.';
	state.returnTo = location.hash || '#/';
	route();
});

window.addEventListener('hashchange', route);
setInterval(() => {
	if (state.ticking)	/* a slow pass is not stacked on */
		return;
	state.ticking = refreshTick().finally(() => { state.ticking = null; });
}, REFRESH_MS);
route();
