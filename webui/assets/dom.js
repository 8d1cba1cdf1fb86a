// DOM building and formatting helpers. Every piece of data reaches the page as a text node or
// an attribute value set through the DOM, never as markup: the CSP forbids inline styles and
// scripts, and these helpers are the only place that creates elements.

const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'style') {
      throw new Error('h(): no style attribute (CSP); use a class or el.style.prop');
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// Appends children: strings and numbers as text, nodes as they are, arrays flattened, and
// null, undefined and false skipped.
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// h('a', {href: '#/', class: 'x', onclick: fn}, 'text', otherNode): an HTML element.
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);

// s('rect', {x: 0}): an SVG element.
export const s = (tag, attrs, ...children) =>
  build(document.createElementNS(SVG_NS, tag), attrs, children);

// Replaces every child of `el`.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// The states weir reports, in legend order.
export const TASK_STATES = ['success', 'failed', 'running', 'queued', 'scheduled', 'up_for_retry',
  'upstream_failed', 'skipped', 'cached', 'pending'];
export const RUN_STATES = ['queued', 'running', 'success', 'failed'];

// A small coloured square for a state; `label` is its accessible name.
export function stateBox(state, attrs = {}, label = state) {
  return h('span', {class: 'box st', 'data-state': state || 'none', title: label,
    role: 'img', 'aria-label': label, ...attrs});
}

// A coloured badge with the state's name in it.
export function stateBadge(state, attrs = {}) {
  return h('span', {class: 'badge st', 'data-state': state || 'none', ...attrs},
    (state || 'none').replace(/_/g, ' '));
}

// The state colour legend.
export function legend(states = TASK_STATES) {
  return h('ul', {class: 'legend', 'aria-label': 'state colours'},
    states.map((st) => h('li', {}, stateBox(st, {}, ''), st.replace(/_/g, ' '))));
}

// Sets the state an element shows, in place: CSS colours it by data-state; a badge's text, a
// title or an accessible name that ends in ": STATE" follow.
export function setState(el, state) {
  el.setAttribute('data-state', state);
  if (el.classList.contains('badge')) el.textContent = state.replace(/_/g, ' ');
  const retitle = (text) => text.replace(/: [a-z_]+$/, `: ${state}`);
  for (const name of ['title', 'aria-label']) {
    if (el.hasAttribute(name)) el.setAttribute(name, retitle(el.getAttribute(name)));
  }
  const svgTitle = el.querySelector(':scope > title');
  if (svgTitle) svgTitle.textContent = retitle(svgTitle.textContent);
}

// "2026-01-16T03:04:05Z" -> "2026-01-16 03:04:05"; a midnight shows as the day alone when
// `dayIfMidnight`.
export function fmtTime(iso, dayIfMidnight = false) {
  if (!iso) return '';
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)/.exec(iso);
  if (!m) return iso;
  return dayIfMidnight && m[2] === '00:00:00' ? m[1] : `${m[1]} ${m[2]}`;
}

export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const sec = ms / 1000;
  if (sec < 60) return `${sec < 10 ? sec.toFixed(1) : Math.round(sec)}s`;
  const m = Math.floor(sec / 60), rest = Math.round(sec % 60);
  if (m < 60) return `${m}m ${String(rest).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return i === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const fmtNumber = (n) =>
  (n === null || n === undefined ? '' : Number(n).toLocaleString('en'));

// A value of unknown shape as one line of text.
export function fmtValue(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

// "in 3h 05m" or "12m 04s ago".
export function fmtRelative(iso) {
  const ms = Date.parse(iso) - Date.now();
  if (!Number.isFinite(ms)) return '';
  return ms >= 0 ? `in ${fmtDuration(ms)}` : `${fmtDuration(-ms)} ago`;
}

// Time between two ISO times, or from `from` to now.
export function duration(from, to) {
  if (!from) return '';
  return fmtDuration((to ? Date.parse(to) : Date.now()) - Date.parse(from));
}

// A table whose header cells label each body cell (data-label), so that CSS can stack the
// rows as cards on a narrow screen. `rows` are arrays of cells (nodes, text or [attrs, ...]).
export function table(headers, rows, attrs = {}) {
  const head = h('thead', {}, h('tr', {}, headers.map((t) => h('th', {scope: 'col'}, t))));
  const body = h('tbody', {},
    rows.map((row) => (row instanceof Node ? row : tableRow(headers, row))));
  return h('table', {class: 'data stack', ...attrs}, head, body);
}

export function tableRow(headers, cells, attrs = {}) {
  return h('tr', attrs, cells.map((cell, i) => h('td', {'data-label': headers[i] || ''}, cell)));
}

// Route links: every id is percent-encoded.
const enc = encodeURIComponent;
export const link = {
  dags: () => '#/',
  dag: (id) => `#/dags/${enc(id)}`,
  run: (id) => `#/runs/${enc(id)}`,
  log: (run, task, tryNumber) =>
    `#/runs/${enc(run)}/tasks/${enc(task)}/logs${tryNumber ? `?try=${tryNumber}` : ''}`,
  datasets: () => '#/datasets',
  // o: {version, direction, depth}, each left out when empty (the latest, upstream, all).
  dataset: (uri, o = {}) => `#/dataset${query({uri, version: o.version, direction: o.direction,
    depth: o.depth})}`,
  audit: (q = {}) => `#/audit${query(q)}`,
};

// {a: 1, b: ''} -> "?a=1" (empty values left out).
export function query(params) {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== '' && v !== null && v !== undefined)
    .map(([k, v]) => `${enc(k)}=${enc(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

// The part of a run id after the DAG: "user_training_set@2026-01-16T00:00:00Z~manual-1" ->
// "2026-01-16 manual-1".
export function shortRun(runId) {
  const at = runId.indexOf('@');
  const rest = at >= 0 ? runId.slice(at + 1) : runId;
  const [start, suffix] = rest.split('~');
  return `${fmtTime(start, true)}${suffix ? ` ${suffix}` : ''}`;
}

// Calls fn once calls have stopped for `ms`.
export function debounce(fn, ms) {
  let timer = 0;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// Calls fn `ms` after the first of a burst of calls, and so at most once per `ms` however long
// the calls go on.
export function throttle(fn, ms) {
  let timer = 0;
  const wrapped = () => {
    if (!timer) timer = setTimeout(() => { timer = 0; fn(); }, ms);
  };
  wrapped.cancel = () => { clearTimeout(timer); timer = 0; };
  return wrapped;
}
