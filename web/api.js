// api.js: talks to sluice's admin REST API (/api/v1).  The admin token
// lives in sessionStorage (gone when the tab closes) and goes out as a
// Bearer header.  Errors come back as ApiError carrying the problem+json.

const TOKEN_KEY = 'sluice.token';

export class ApiError extends Error {
	constructor(status, problem, fallback) {
		super(problem && (problem.detail || problem.title) ?
		    (problem.detail || problem.title) :
		    fallback || `HTTP ${status}`);
		this.name = 'ApiError';
		this.status = status;
		this.problem = problem || null;
	}
}

export function getToken() {
	return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
	if (token)
		sessionStorage.setItem(TOKEN_KEY, token);
	else
		sessionStorage.removeItem(TOKEN_KEY);
}

// Called on 401/403 so the app can show the login page.
let onAuthFailure = null;
export function setAuthFailureHandler(fn) {
	onAuthFailure = fn;
}

// request('GET', '/topics', {query, body, token, noAuthRedirect})
export async function request(method, path, opts = {}) {
	const url = new URL(`/api/v1${path}`, location.origin);
	for (const [k, v] of Object.entries(opts.query || {}))
		if (v !== undefined && v !== null && v !== '')
			url.searchParams.set(k, v);
	const headers = { Accept: 'application/json' };
	const token = opts.token !== undefined ? opts.token : getToken();
	if (token)
		headers.Authorization = `Bearer ${token}`;
	const init = { method, headers, cache: 'no-store' };
	if (opts.body !== undefined) {
		headers['Content-Type'] = 'application/json';
		init.body = JSON.stringify(opts.body);
	}
	let res;
	try {
		res = await fetch(url, init);
	} catch (e) {
		throw new ApiError(0, null,
		    `cannot reach sluiced (${e.message})`);
	}
	const ctype = res.headers.get('Content-Type') || '';
	let body = null;
	if (res.status !== 204 && ctype.includes('json')) {
		try {
			body = await res.json();
		} catch (e) {
			body = null;
		}
	} else {
		/* read to its end, even an empty 204: a response left unread
		 * counts as aborted once the page moves on */
		await res.text();
	}
	if (!res.ok) {
		const err = new ApiError(res.status, body,
		    `${method} ${path}: HTTP ${res.status}`);
		if ((res.status === 401 || res.status === 403) &&
		    !opts.noAuthRedirect && onAuthFailure)
			onAuthFailure(err);
		throw err;
	}
	return body;
}

export const get = (path, query, opts) =>
	request('GET', path, { ...opts, query });
export const post = (path, body, opts) =>
	request('POST', path, { ...opts, body });
export const patch = (path, body, opts) =>
	request('PATCH', path, { ...opts, body });
export const del = (path, query, opts) =>
	request('DELETE', path, { ...opts, query });

// Every item of a list, following next_cursor (at most max items).
export async function all(path, query = {}, max = 5000) {
	const items = [];
	let cursor = null;
	do {
		const page = await get(path, { ...query, limit: 1000, cursor });
		items.push(...page.items);
		cursor = page.next_cursor;
	} while (cursor && items.length < max);
	return items;
}

export const enc = encodeURIComponent;
