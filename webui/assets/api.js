// Talking to `weir serve`: JSON reads, the signed-in session (its CSRF token lives in this
// module only, never in storage), the message area, and actions: sign in if needed, confirm in
// a dialog, POST, and report what happened.

import {h, replace} from './dom.js';

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function request(method, path, body, headers = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? headers : {'Content-Type': 'application/json', ...headers},
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `cannot reach weir serve (${e.message})`);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    if (response.ok) throw new ApiError(response.status, `${path}: the answer is not JSON`);
  }
  if (!response.ok) {
    const why = data && typeof data.error === 'string' ? data.error : response.statusText;
    const where = `${method} ${path.split('?')[0]}`;
    throw new ApiError(response.status, `${where}: ${response.status} ${why}`);
  }
  return data;
}

export const getJson = (path) => request('GET', path);

// ---- The message area ----

let messageArea = null;

export function initMessages(el) { messageArea = el; }

// Shows `text` until dismissed (errors) or for ten seconds (info). Never silent: an error with
// no message area goes to the console at least.
export function showMessage(text, kind = 'info') {
  if (!messageArea) { console.error(text); return; }
  const item = h('div', {class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status'},
    h('span', {class: 'msg-text'}, text),
    h('button', {type: 'button', class: 'link-button', 'aria-label': 'dismiss',
      onclick: () => item.remove()}, '×'));
  messageArea.append(item);
  while (messageArea.children.length > 4) messageArea.firstElementChild.remove();
  if (kind !== 'error') setTimeout(() => item.remove(), 10000);
}

export const showError = (e) => showMessage(e instanceof Error ? e.message : String(e), 'error');

// ---- The session ----

let session = null;  // {actor, csrf}
const sessionListeners = new Set();

export const currentActor = () => (session ? session.actor : null);
export function onSessionChange(fn) { sessionListeners.add(fn); }

function setSession(value) {
  session = value && value.actor && value.csrf ? {actor: value.actor, csrf: value.csrf} : null;
  for (const fn of sessionListeners) fn(session ? session.actor : null);
}

// Learns who is signed in from the session cookie (after a reload).
export async function loadSession() {
  try {
    setSession(await getJson('/api/v1/session'));
  } catch (e) {
    setSession(null);
    if (e.status !== 401) showError(e);
  }
}

export async function signOut() {
  try {
    if (session) {
      await request('POST', '/api/v1/session/logout', {}, {'X-CSRF-Token': session.csrf});
    }
    showMessage('Signed out.');
  } catch (e) {
    showError(e);
  }
  setSession(null);
}

// A POST of the signed-in session. A session the server no longer knows (it restarted, or it
// expired) asks to sign in again, once.
export async function post(path, body) {
  if (!session && !(await signIn())) throw new ApiError(401, 'not signed in');
  try {
    return await request('POST', path, body, {'X-CSRF-Token': session.csrf});
  } catch (e) {
    if (e.status !== 401) throw e;
    setSession(null);
    if (!(await signIn('Your session has ended: sign in again.'))) throw e;
    return request('POST', path, body, {'X-CSRF-Token': session.csrf});
  }
}

// ---- Dialogs ----

// Opens a modal dialog. `fields` are inputs ({name, label, type, value, options, required,
// hint}); `onConfirm(values, dialog)` does the work and returns its result, which closes the
// dialog, or KEEP_OPEN after changing the dialog (a second step). Resolves with the result, or
// null when cancelled.
export const KEEP_OPEN = Symbol('keep the dialog open');

export function openDialog({title, body = [], fields = [], reason = true, confirmLabel = 'Confirm',
  danger = false, testid = 'confirm-dialog', onConfirm}) {
  return new Promise((resolve) => {
    const inputs = new Map();
    const fieldRows = fields.map((f) => fieldRow(f, inputs));
    if (reason) {
      fieldRows.push(fieldRow({name: 'reason', label: 'Reason (optional, kept in the audit log)',
        type: 'text', value: ''}, inputs));
    }
    const bodyBox = h('div', {class: 'dialog-body'}, body);
    const errorLine = h('p', {class: 'dialog-error', role: 'alert', 'data-testid': 'dialog-error',
      hidden: true});
    const confirm = h('button', {type: 'submit', class: danger ? 'danger' : 'primary',
      'data-testid': 'confirm-button'}, confirmLabel);
    const cancel = h('button', {type: 'button', 'data-testid': 'cancel-button'}, 'Cancel');
    const form = h('form', {class: 'dialog-form', novalidate: true},
      h('h2', {}, title), bodyBox, fieldRows, errorLine,
      h('div', {class: 'dialog-buttons'}, cancel, confirm));
    const dlg = h('dialog', {'data-testid': testid, 'aria-label': title}, form);
    let result = null;
    const api = {
      setBody: (...nodes) => replace(bodyBox, ...nodes),
      setConfirmLabel: (text) => { confirm.textContent = text; },
      error: (text) => { errorLine.textContent = text; errorLine.hidden = !text; },
      fieldsHidden: (hidden) => { for (const row of fieldRows) row.hidden = hidden; },
    };
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); resolve(result); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      const values = {};
      for (const [name, read] of inputs) values[name] = read();
      confirm.disabled = true;
      api.error('');
      try {
        const out = await onConfirm(values, api);
        if (out !== KEEP_OPEN) {
          result = out === undefined ? true : out;
          dlg.close();
        }
      } catch (e) {
        api.error(e.message);
        showError(e);
      } finally {
        confirm.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

let fieldCounter = 0;

function fieldRow(f, inputs) {
  const id = `f${++fieldCounter}`;
  let input;
  if (f.type === 'select') {
    input = h('select', {id, name: f.name},
      f.options.map((o) => h('option', {value: o, selected: o === f.value}, o)));
    inputs.set(f.name, () => input.value);
  } else if (f.type === 'checkbox') {
    input = h('input', {id, name: f.name, type: 'checkbox', checked: Boolean(f.value)});
    inputs.set(f.name, () => input.checked);
  } else {
    input = h('input', {id, name: f.name, type: f.type || 'text', required: f.required,
      autocomplete: 'off', step: f.type === 'number' ? 'any' : null,
      'data-testid': f.testid || `field-${f.name}`});
    input.value = f.value === null || f.value === undefined ? '' : String(f.value);
    inputs.set(f.name, () => (f.type === 'number' ? Number(input.value) : input.value));
  }
  const label = h('label', {for: id}, f.label || f.name);
  const hint = f.hint ? h('small', {class: 'hint'}, f.hint) : null;
  return f.type === 'checkbox'
    ? h('div', {class: 'field field-check'}, input, label, hint)
    : h('div', {class: 'field'}, label, input, hint);
}

// The sign-in dialog: POST the token, keep the actor and the CSRF token. Resolves true when
// signed in.
let pendingSignIn = null;

export function signIn(note = '') {
  if (pendingSignIn) return pendingSignIn;
  pendingSignIn = new Promise((resolve) => {
    const token = h('input', {id: 'signin-token', type: 'password', autocomplete: 'off',
      required: true, minlength: 16, 'data-testid': 'signin-token'});
    const errorLine = h('p', {class: 'dialog-error', role: 'alert', hidden: true});
    const submit = h('button', {type: 'submit', class: 'primary', 'data-testid': 'signin-submit'},
      'Sign in');
    const cancel = h('button', {type: 'button', 'data-testid': 'signin-cancel'}, 'Cancel');
    const form = h('form', {class: 'dialog-form'},
      h('h2', {}, 'Sign in'),
      note ? h('p', {}, note) : null,
      h('p', {class: 'hint'}, 'Changes need an API token of this server (WEIR_API_TOKENS, or api.tokens in its config file). ' +
        'The page keeps a session cookie, never the token.'),
      h('div', {class: 'field'}, h('label', {for: 'signin-token'}, 'API token'), token),
      errorLine,
      h('div', {class: 'dialog-buttons'}, cancel, submit));
    const dlg = h('dialog', {'data-testid': 'signin-dialog', 'aria-label': 'Sign in'}, form);
    let ok = false;
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => { dlg.remove(); pendingSignIn = null; resolve(ok); });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      errorLine.hidden = true;
      try {
        setSession(await request('POST', '/api/v1/session', {token: token.value}));
        ok = true;
        showMessage(`Signed in as ${session.actor}.`);
        dlg.close();
      } catch (e) {
        errorLine.textContent = e.message;
        errorLine.hidden = false;
        token.select();
      } finally {
        submit.disabled = false;
      }
    });
    document.body.append(dlg);
    dlg.showModal();
    token.focus();
  });
  return pendingSignIn;
}

// Resolves true when signed in, asking for the token if needed.
export async function requireSession() {
  return Boolean(session) || signIn();
}

// An action on weir: sign in first if needed, confirm (with a reason for the audit log), POST,
// and say what happened. `describe` is the dialog's body; `send(values)` returns [path, body];
// `done(answer)` returns the success message. Resolves with the answer, or null.
export async function action({title, describe = [], fields = [], confirmLabel, danger, send,
  done}) {
  if (!session && !(await signIn())) return null;
  const answer = await openDialog({
    title, body: describe, fields, confirmLabel, danger,
    onConfirm: async (values) => {
      const [path, body] = send(values);
      if (values.reason) body.reason = values.reason;
      return post(path, body);
    },
  });
  if (answer && done) showMessage(done(answer));
  return answer;
}
