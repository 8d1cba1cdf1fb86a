// A run's page (summary, Gantt timeline of its attempts, tasks with Clear and Mark) and the log
// viewer, which follows a running attempt's log.

import {ApiError, action, getJson, showError} from './api.js';
import {TASK_STATES, debounce, duration, fmtBytes, fmtDuration, fmtTime, fmtValue, h, legend, link,
  replace, shortRun, stateBadge} from './dom.js';
import {layout, readingOrder} from './graph.js';

const enc = encodeURIComponent;

// The DAG's task ids, upstream first, or null when the DAG cannot be read (its file is gone).
async function taskOrder(dagId) {
  try {
    const dag = await getJson(`/api/v1/dags/${enc(dagId)}`);
    const nodes = dag.tasks.map((t) => ({id: t.task_id, label: t.task_id}));
    const edges = dag.tasks.flatMap((t) => t.deps.map((d) => ({from: d, to: t.task_id})));
    return readingOrder(layout(nodes, edges));
  } catch {
    return null;
  }
}

// ---- A run ----

export async function runPage(main, ctx, runId) {
  document.title = `${shortRun(runId)} · weir`;
  let run = await getJson(`/api/v1/runs/${enc(runId)}`);
  if (!ctx.alive) return;
  const order = await taskOrder(run.dag_id);
  if (!ctx.alive) return;
  const rank = new Map((order || []).map((id, i) => [id, i]));
  const byOrder = (a, b) => (rank.get(a.task_id) ?? 1e9) - (rank.get(b.task_id) ?? 1e9);
  const downstream = new Set();  // tasks whose "downstream" box is ticked, kept across redraws

  const summary = h('div', {});
  const gantt = h('div', {class: 'gantt', 'data-testid': 'gantt'});
  const tasks = h('div', {});
  replace(main, summary,
    h('section', {'aria-labelledby': 'gantt-h'}, h('h2', {id: 'gantt-h'}, 'Timeline'), gantt,
      legend(TASK_STATES)),
    h('section', {'aria-labelledby': 'tasks-h'}, h('h2', {id: 'tasks-h'}, 'Tasks'), tasks));

  const reload = async () => {
    const fresh = await getJson(`/api/v1/runs/${enc(runId)}`);
    if (ctx.alive) { run = fresh; render(); }
  };
  const after = (answer) => { if (answer) reload().catch(showError); };

  const render = () => {
    run.tasks.sort(byOrder);
    replace(summary,
      h('div', {class: 'page-head'},
        h('p', {class: 'crumbs'}, h('a', {href: link.dag(run.dag_id)}, run.dag_id), ' › run'),
        h('div', {class: 'title-row'},
          h('h1', {class: 'run-title'}, shortRun(run.run_id)),
          stateBadge(run.state, {class: 'badge st run-state', 'data-run': run.run_id}),
          h('div', {class: 'actions'},
            h('button', {type: 'button', 'data-testid': 'clear-run-button',
              onclick: () => runAction(run, 'clear').then(after)}, 'Clear failed'),
            h('button', {type: 'button', 'data-testid': 'mark-run-success',
              onclick: () => runAction(run, 'success').then(after)}, 'Mark success'),
            h('button', {type: 'button', class: 'danger', 'data-testid': 'mark-run-failed',
              onclick: () => runAction(run, 'failed').then(after)}, 'Mark failed'))),
        h('dl', {class: 'facts'},
          fact('Run id', h('code', {}, run.run_id)),
          fact('Kind', run.kind),
          fact('Interval', `${fmtTime(run.interval_start)} → ${fmtTime(run.interval_end)}`),
          fact('Created', fmtTime(run.created_at)),
          fact('Started', fmtTime(run.started_at) || '—'),
          fact('Ended', fmtTime(run.ended_at) || '—'),
          fact('Duration', run.started_at ? duration(run.started_at, run.ended_at) : '—'),
          fact('Params', Object.keys(run.params || {}).length
            ? Object.entries(run.params).map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ')
            : 'none'),
          run.backfill_id ? fact('Backfill', h('code', {}, run.backfill_id)) : null)));
    drawGantt(gantt, run, byOrder);
    drawTasks(tasks, run, downstream, after);
  };
  render();

  // Live: states change in place (app.js); times and tries come with a fresh read.
  const refresh = debounce(() => reload().catch(showError), 400);
  ctx.on((type, ev) => { if (ev.run_id === runId) refresh(); });
  ctx.cleanup(refresh.cancel);
  // A running attempt's bar grows with the clock.
  ctx.every(2000, () => {
    if (run.attempts.some((a) => !a.ended_at)) drawGantt(gantt, run, byOrder);
  });
}

function fact(name, ...value) {
  return h('div', {}, h('dt', {}, name), h('dd', {}, value));
}

// One row per task, a bar per attempt from its start to its end (or now).
function drawGantt(box, run, byOrder) {
  if (!run.attempts.length) {
    replace(box, h('p', {class: 'empty'}, 'No attempt yet.'));
    return;
  }
  const now = Date.now();
  const start = Math.min(...run.attempts.map((a) => Date.parse(a.started_at)));
  const end = Math.max(start + 1000,
    ...run.attempts.map((a) => (a.ended_at ? Date.parse(a.ended_at) : now)));
  const span = end - start;
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = h('span', {class: 'tick'}, `+${fmtDuration(f * span)}`);
    tick.style.left = `${f * 100}%`;
    return tick;
  });
  const rows = [...run.tasks].sort(byOrder).map((t) => {
    const bars = run.attempts.filter((a) => a.task_id === t.task_id).map((a) => {
      const from = Date.parse(a.started_at), to = a.ended_at ? Date.parse(a.ended_at) : now;
      const bar = h('a', {class: 'bar st', 'data-state': a.state, 'data-task': a.task_id,
        'data-try': a.try_number, href: link.log(run.run_id, a.task_id, a.try_number),
        title: `${a.task_id} try ${a.try_number}: ${a.state}\n${fmtTime(a.started_at)} → ` +
          `${a.ended_at ? fmtTime(a.ended_at) : 'now'} (${fmtDuration(to - from)})` +
          `${a.reason ? `\n${a.reason}` : ''}`,
        'aria-label': `${a.task_id} try ${a.try_number}: ${a.state}, ${fmtDuration(to - from)}`});
      bar.style.left = `${((from - start) / span) * 100}%`;
      bar.style.width = `${Math.max(0.4, ((to - from) / span) * 100)}%`;
      return bar;
    });
    return h('div', {class: 'gantt-row'},
      h('span', {class: 'gantt-label', title: t.task_id}, t.task_id),
      h('div', {class: 'gantt-track'}, bars));
  });
  replace(box,
    h('div', {class: 'gantt-row gantt-axis'},
      h('span', {class: 'gantt-label muted small'}, fmtTime(new Date(start).toISOString())),
      h('div', {class: 'gantt-track'}, ticks)),
    rows);
}

function drawTasks(box, run, downstream, after) {
  const headers = ['Task', 'State', 'Tries', 'Started', 'Duration', 'Actions'];
  const rows = run.tasks.map((t) => {
    const ds = h('input', {type: 'checkbox', id: `ds-${t.task_id}`,
      checked: downstream.has(t.task_id),
      onchange: () => (ds.checked ? downstream.add(t.task_id) : downstream.delete(t.task_id))});
    const mark = (state) => h('button', {type: 'button', 'data-testid': `mark-task-${state}`,
      onclick: (ev) => {
        ev.target.closest('details').open = false;
        taskAction(run, t.task_id, state, false).then(after);
      }}, state);
    return h('tr', {'data-task': t.task_id},
      h('td', {'data-label': headers[0]}, h('strong', {}, t.task_id)),
      h('td', {'data-label': headers[1]}, stateBadge(t.state,
        {class: 'badge st task-state', 'data-run': run.run_id, 'data-task': t.task_id})),
      h('td', {'data-label': headers[2]}, `${t.try_number} / ${t.max_tries}`,
        t.next_try_at ? h('div', {class: 'muted small'}, `next ${fmtTime(t.next_try_at)}`) : null),
      h('td', {'data-label': headers[3]}, fmtTime(t.started_at)),
      h('td', {'data-label': headers[4]}, t.started_at ? duration(t.started_at, t.ended_at) : ''),
      h('td', {'data-label': headers[5]}, h('div', {class: 'row-actions'},
        t.try_number > 0
          ? h('a', {class: 'button', href: link.log(run.run_id, t.task_id)}, 'Log') : null,
        h('button', {type: 'button', 'data-testid': 'clear-task-button',
          onclick: () => taskAction(run, t.task_id, 'clear', ds.checked).then(after)}, 'Clear'),
        h('label', {class: 'inline small', for: `ds-${t.task_id}`}, ds, 'downstream'),
        h('details', {class: 'menu'}, h('summary', {class: 'button'}, 'Mark'),
          h('div', {class: 'menu-items'}, mark('success'), mark('failed'), mark('skipped'))))));
  });
  replace(box, h('table', {class: 'data stack'},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows)));
}

function runAction(run, what) {
  const path = `/api/v1/runs/${enc(run.run_id)}`;
  if (what === 'clear') {
    return action({
      title: 'Clear the failed tasks?',
      describe: [h('p', {}, 'The failed tasks of ', h('code', {}, run.run_id),
        ' (and those that did not run because of them) go back to pending; ' +
        'the run is queued again.')],
      confirmLabel: 'Clear failed',
      send: () => [`${path}/clear`, {failed_only: true}],
      done: (a) => (a.cleared.length ? `Cleared ${a.cleared.join(', ')}.` : 'Nothing to clear.'),
    });
  }
  return action({
    title: `Mark the run ${what}?`,
    describe: [h('p', {}, h('code', {}, run.run_id), ` will be marked ${what}.`)],
    confirmLabel: `Mark ${what}`, danger: what === 'failed',
    send: () => [`${path}/mark`, {state: what}],
    done: () => `Marked ${shortRun(run.run_id)} ${what}.`,
  });
}

function taskAction(run, taskId, what, withDownstream) {
  const path = `/api/v1/runs/${enc(run.run_id)}/tasks/${enc(taskId)}`;
  if (what === 'clear') {
    return action({
      title: `Clear ${taskId}?`,
      describe: [h('p', {}, h('strong', {}, taskId),
        withDownstream ? ' and every task downstream of it' : '',
        ' go back to pending in ', h('code', {}, run.run_id), '; the run is queued again.')],
      confirmLabel: 'Clear',
      send: () => [`${path}/clear`, {downstream: withDownstream}],
      done: (a) => `Cleared ${a.cleared.join(', ') || 'nothing'}.`,
    });
  }
  return action({
    title: `Mark ${taskId} ${what}?`,
    describe: [h('p', {}, h('strong', {}, taskId), ` will be marked ${what} in `,
      h('code', {}, run.run_id), '.')],
    confirmLabel: `Mark ${what}`, danger: what === 'failed',
    send: () => [`${path}/mark`, {state: what}],
    done: () => `Marked ${taskId} ${what}.`,
  });
}

// ---- The log viewer ----

const POLL_MS = 1000;

export async function logPage(main, ctx, runId, taskId, q) {
  document.title = `${taskId} log · weir`;
  let tryNumber = parseInt(q.get('try') || '', 10) || null;
  const picker = h('select', {id: 'try', 'data-testid': 'try-select',
    onchange: () => { location.hash = link.log(runId, taskId, picker.value); }});
  const stateBox = h('span', {});
  const status = h('span', {class: 'muted small', role: 'status'});
  const pre = h('pre', {class: 'log', 'data-testid': 'log-text', tabindex: 0,
    'aria-label': `log of ${taskId}`});
  const crumbs = h('p', {class: 'crumbs'},
    h('a', {href: link.run(runId)}, shortRun(runId)), ' › log');
  replace(main,
    h('div', {class: 'page-head'}, crumbs,
      h('div', {class: 'title-row'}, h('h1', {}, taskId), stateBox,
        h('div', {class: 'actions'}, h('label', {class: 'inline', for: 'try'}, 'Try ', picker)))),
    h('div', {class: 'log-bar'}, status), pre);

  // The tries this task has had, for the selector.
  const loadTries = async () => {
    const run = await getJson(`/api/v1/runs/${enc(runId)}`);
    if (!ctx.alive) return;
    if (!crumbs.dataset.dag) {
      crumbs.dataset.dag = run.dag_id;
      crumbs.prepend(h('a', {href: link.dag(run.dag_id)}, run.dag_id), ' › ');
    }
    const tries = run.attempts.filter((a) => a.task_id === taskId);
    const shown = tryNumber || (tries.length ? tries[tries.length - 1].try_number : null);
    replace(picker, tries.length
      ? tries.map((a) => h('option', {value: a.try_number, selected: a.try_number === shown},
        `${a.try_number} (${a.state})`))
      : h('option', {value: ''}, 'none yet'));
  };
  loadTries().catch(showError);

  let offset = 0;
  let waiting = false;
  const follow = async () => {
    let answer;
    try {
      answer = await getJson(`/api/v1/runs/${enc(runId)}/tasks/${enc(taskId)}/logs?` +
        `${tryNumber ? `try=${tryNumber}&` : ''}offset=${offset}`);
    } catch (e) {
      if (!ctx.alive) return;
      if (e instanceof ApiError && e.status === 404 && offset === 0) {
        // No attempt yet (queued): wait for one.
        status.textContent = 'No attempt of this task yet: waiting for one…';
        waiting = true;
        ctx.later(2 * POLL_MS, follow);
        return;
      }
      if (e instanceof ApiError && e.status === 0) {
        // The server is away (restarting?): keep trying, slowly.
        status.textContent = `${e.message}: trying again…`;
        ctx.later(5 * POLL_MS, follow);
        return;
      }
      status.textContent = e.message;
      showError(e);
      return;
    }
    if (!ctx.alive) return;
    if (waiting) { waiting = false; loadTries().catch(showError); }
    if (!tryNumber) tryNumber = answer.try_number;  // follow this try, even when another starts
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
    if (answer.text) pre.append(answer.text);
    offset = answer.next_offset;
    replace(stateBox, stateBadge(answer.state));
    if (atBottom) pre.scrollTop = pre.scrollHeight;
    const more = answer.next_offset < answer.size;
    if (!answer.complete || more) {
      status.textContent = `${fmtBytes(answer.size)}, following the running attempt…`;
      status.classList.add('live');
      ctx.later(more ? 0 : POLL_MS, follow);
    } else {
      status.textContent = answer.size
        ? `${fmtBytes(answer.size)}, try ${answer.try_number}, complete`
        : `try ${answer.try_number}: the log is empty`;
      status.classList.remove('live');
    }
  };
  await follow();
  ctx.on((type, ev) => {
    if (type === 'task' && ev.run_id === runId && ev.task_id === taskId) {
      loadTries().catch(showError);
    }
  });
}
