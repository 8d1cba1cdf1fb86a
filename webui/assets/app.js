// The weir dashboard: the top bar, hash routing to the pages, and live updates from one
// EventSource: a task or run event changes every element that shows that state, in place, and
// then tells the page (which may fetch what it lacks, e.g. a run it has not seen).

import {currentActor, initMessages, loadSession, onSessionChange, showError, signIn, signOut}
  from './api.js';
import {dagList, dagPage} from './dag.js';
import {auditPage, datasetList, datasetPage} from './data.js';
import {h, replace, setState} from './dom.js';
import {logPage, runPage} from './run.js';

// [pattern, page, nav section]; a page is (main, ctx, ...path parts decoded, query).
const ROUTES = [
  [/^\/?$/, dagList, 'dags'],
  [/^\/dags\/([^/]+)$/, dagPage, 'dags'],
  [/^\/runs\/([^/]+)$/, runPage, 'dags'],
  [/^\/runs\/([^/]+)\/tasks\/([^/]+)\/logs$/, logPage, 'dags'],
  [/^\/datasets$/, datasetList, 'datasets'],
  [/^\/dataset$/, datasetPage, 'datasets'],
  [/^\/audit$/, auditPage, 'audit'],
];

// What a page may hold on to while it is shown: timers, live-event handlers, cleanups. All of
// it ends when the user goes to another page.
class PageContext {
  constructor() {
    this.alive = true;
    this.handlers = [];
    this.cleanups = [];
  }
  on(fn) { this.handlers.push(fn); }
  cleanup(fn) { this.cleanups.push(fn); }
  later(ms, fn) {
    const t = setTimeout(() => { if (this.alive) fn(); }, ms);
    this.cleanups.push(() => clearTimeout(t));
  }
  every(ms, fn) {
    const t = setInterval(() => { if (this.alive) fn(); }, ms);
    this.cleanups.push(() => clearInterval(t));
  }
  emit(type, ev) {
    for (const fn of this.handlers) {
      try { fn(type, ev); } catch (e) { showError(e); }
    }
  }
  dispose() {
    this.alive = false;
    for (const fn of this.cleanups) fn();
  }
}

const main = h('main', {id: 'main', tabindex: -1});
const navLinks = new Map();
const actorBox = h('span', {class: 'actor', 'data-testid': 'actor'});
const signButton = h('button', {type: 'button', class: 'signin', 'data-testid': 'signin-button',
  onclick: () => (currentActor() ? signOut() : signIn())}, 'Sign in');
const liveDot = h('span', {class: 'live-dot', role: 'status', title: 'live updates'}, 'offline');
let page = null;    // the PageContext of the page shown
let events = null;  // the EventSource

function topBar() {
  const sections = [['dags', '#/', 'DAGs'], ['datasets', '#/datasets', 'Datasets'],
    ['audit', '#/audit', 'Audit']];
  const nav = h('nav', {'aria-label': 'main'}, sections.map(([key, href, text]) => {
    const a = h('a', {href, 'data-testid': `nav-${key}`}, text);
    navLinks.set(key, a);
    return a;
  }));
  return h('header', {class: 'topbar'},
    h('a', {class: 'brand', href: '#/'}, h('img', {src: '/assets/favicon.svg', alt: '', width: 20,
      height: 20}), 'weir'),
    nav, h('span', {class: 'spacer'}), liveDot, actorBox, signButton);
}

let needsSignIn = false;  // the page could not be read without a session (--auth-reads)

onSessionChange((actor) => {
  actorBox.textContent = actor ? actor : '';
  actorBox.title = actor ? `signed in as ${actor}` : '';
  signButton.textContent = actor ? 'Sign out' : 'Sign in';
  if (actor && events && events.readyState === EventSource.CLOSED) connectEvents();
  if (actor && needsSignIn) route();
});

async function route() {
  needsSignIn = false;
  if (page) page.dispose();
  const ctx = new PageContext();
  page = ctx;
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, search] = [hash.split('?')[0], hash.split('?').slice(1).join('?')];
  const q = new URLSearchParams(search);
  for (const [pattern, render, section] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    for (const [key, a] of navLinks) {
      if (key === section) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    let parts;
    try {
      parts = m.slice(1).map(decodeURIComponent);
    } catch {
      replace(main, h('h1', {}, 'Not found'), h('p', {}, 'That address is not well-formed.'));
      return;
    }
    replace(main, h('p', {class: 'muted loading'}, 'Loading…'));
    try {
      await render(main, ctx, ...parts, q);
    } catch (e) {
      if (!ctx.alive) return;
      if (e.status === 401 && !currentActor()) {
        needsSignIn = true;
        replace(main, h('h1', {}, 'Sign in to see this page'),
          h('p', {}, 'This server asks for a token to read, too.'),
          h('p', {}, h('button', {type: 'button', class: 'primary', onclick: () => signIn()},
            'Sign in')));
        return;
      }
      replace(main, h('h1', {}, 'Could not load this page'),
        h('p', {class: 'error-text'}, e.message),
        h('p', {}, h('a', {href: '#/'}, 'Back to the DAGs')));
      showError(e);
    }
    return;
  }
  replace(main, h('h1', {}, 'Not found'), h('p', {}, h('a', {href: '#/'}, 'Back to the DAGs')));
}

// ---- Live updates ----

function sel(name, value) {
  return `[${name}="${CSS.escape(value)}"]`;
}

function connectEvents() {
  if (!('EventSource' in window)) return;
  if (events) events.close();
  events = new EventSource('/api/v1/events');
  const status = (on) => {
    liveDot.textContent = on ? 'live' : 'offline';
    liveDot.classList.toggle('on', on);
    liveDot.title = on ? 'live updates' : 'live updates: reconnecting';
  };
  events.addEventListener('open', () => status(true));
  events.addEventListener('error', () => status(false));  // EventSource reconnects by itself
  const handle = (type) => (message) => {
    let ev;
    try {
      ev = JSON.parse(message.data);
    } catch {
      return;
    }
    if (type === 'task') {
      for (const el of document.querySelectorAll(
        `.task-state${sel('data-run', ev.run_id)}${sel('data-task', ev.task_id)}`)) {
        setState(el, ev.state);
      }
    } else {
      for (const el of document.querySelectorAll(`.run-state${sel('data-run', ev.run_id)}`)) {
        setState(el, ev.state);
      }
    }
    if (page) page.emit(type, ev);
  };
  events.addEventListener('task', handle('task'));
  events.addEventListener('run', handle('run'));
}

// ---- Start ----

const messages = h('div', {class: 'messages', 'data-testid': 'message', 'aria-live': 'polite'});
initMessages(messages);
document.body.replaceChildren(
  h('a', {class: 'skip', href: '#main', onclick: (ev) => { ev.preventDefault(); main.focus(); }},
    'Skip to content'),
  topBar(), messages, main);
window.addEventListener('hashchange', () => { route(); window.scrollTo(0, 0); });
window.addEventListener('unhandledrejection', (ev) => showError(ev.reason));
loadSession();
connectEvents();
route();
