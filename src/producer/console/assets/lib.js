// Small helpers shared by the console's views: building elements (text only, never HTML from
// data), calling the API, formatting figures.

/** An element: attributes (on* as listeners), then children (strings become text). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== 'string') el[name] = value;
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export class ApiError extends Error {
  constructor(status, body) {
    const issues = (body && body.issues) || [];
    super(
      [
        body && body.error ? body.error : `HTTP ${status}`,
        ...issues.map((i) => `${i.field}: ${i.rule}${i.value === undefined ? '' : ` (got ${JSON.stringify(i.value)})`}`),
      ].join('\n'),
    );
    this.status = status;
    this.issues = issues;
  }
}

/** JSON in and out, with the session cookie; a lost session goes back to the login page. */
export async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) {
    location.assign('/login');
    throw new ApiError(401, { error: 'logged out' });
  }
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const usd = (n) => (n === null || n === undefined ? '–' : `$${n.toFixed(n < 10 ? 3 : 2)}`);

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** "in 4 min", "12:04 UTC" style: a finish time a person reads at a glance. */
export function until(iso) {
  if (!iso) return '–';
  const ms = Date.parse(iso) - Date.now();
  if (ms <= 0) return 'any moment';
  if (ms < 90_000) return `in ${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return `in ${Math.round(ms / 60_000)} min`;
  return new Date(iso).toLocaleString();
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '–');

/** Share of a batch's jobs that have ended (stored, failed or cancelled). */
export function percentDone(b) {
  const ended = b.done + b.failed + (b.cancelled ?? 0);
  return b.jobs ? Math.floor((100 * ended) / b.jobs) : 0;
}

/** A progress bar with its figure, for screen readers too. */
export function progressBar(percent, label) {
  return h('div', {}, h('progress', { max: 100, value: percent, 'aria-label': label }), h('span', { class: 'progress-text' }, `${percent} %`));
}

/** A definition list of figures. */
export function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))),
  );
}

/** Replaces the view's content and announces the page. */
export function show(view, title, ...children) {
  document.title = `${title} · sora-batch`;
  view.replaceChildren(h('h1', {}, title), ...children);
}
