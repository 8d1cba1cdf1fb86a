// The DAG list and a DAG's page: its runs as a grid of runs x tasks, its task graph coloured by
// one run, its backfills with their progress, and the Trigger, Backfill and Pause actions.

import {KEEP_OPEN, action, getJson, openDialog, post, requireSession, showError, showMessage}
  from './api.js';
import {RUN_STATES, TASK_STATES, debounce, fmtRelative, fmtTime, fmtValue, h, legend, link,
  query, replace, shortRun, stateBadge, stateBox, table, tableRow, throttle} from './dom.js';
import {drawGraph, layout, readingOrder} from './graph.js';

const enc = encodeURIComponent;

// ---- The DAG list ----

export async function dagList(main, ctx) {
  document.title = 'DAGs · weir';
  const body = h('div', {});
  replace(main, h('div', {class: 'page-head'}, h('h1', {}, 'DAGs'), legend(RUN_STATES)), body);
  let known = new Set();

  const load = async () => {
    const data = await getJson('/api/v1/dags');
    if (!ctx.alive) return;
    known = new Set(data.dags.flatMap((d) => d.recent_runs.map((r) => r.run_id)));
    const headers = ['DAG', 'Schedule', 'Next run', 'Recent runs', 'Paused', 'Tasks'];
    replace(body,
      data.errors.length
        ? h('section', {class: 'errors', 'aria-label': 'DAG file errors'},
          h('h2', {}, `DAG file errors (${data.errors.length})`),
          h('ul', {}, data.errors.map((e) => h('li', {}, h('code', {}, e)))))
        : null,
      data.dags.length === 0
        ? h('p', {class: 'empty'}, 'No DAG in the DAGs folder.')
        : table(headers, data.dags.map((d) => tableRow(headers, [
          [h('a', {href: link.dag(d.dag_id), 'data-testid': 'dag-link', 'data-dag': d.dag_id,
            class: 'dag-id'}, d.dag_id),
          d.description ? h('div', {class: 'muted small clamp'}, d.description) : null],
          [h('code', {}, d.schedule), ' ', h('span', {class: 'muted small'}, d.timezone)],
          d.paused ? stateBadge('paused')
            : d.next_run_at ? [fmtTime(d.next_run_at),
              h('div', {class: 'muted small'}, fmtRelative(d.next_run_at))] : '',
          h('span', {class: 'recent'}, d.recent_runs.length
            ? d.recent_runs.map((r) => h('a', {href: link.run(r.run_id), class: 'box-link'},
              stateBox(r.state, {class: 'box st run-state', 'data-run': r.run_id},
                `${shortRun(r.run_id)}: ${r.state}`)))
            : h('span', {class: 'muted'}, 'no runs yet')),
          pauseButton(d.dag_id, d.paused, load),
          String(d.tasks),
        ], {'data-dag': d.dag_id})), {class: 'data stack dag-table'}));
  };
  await load();
  const reload = debounce(() => load().catch(showError), 400);
  ctx.on((type, ev) => { if (!known.has(ev.run_id)) reload(); });
  ctx.cleanup(reload.cancel);
}

// The DAG's latest backfills, each with a bar of its runs' states, and Cancel while one runs.
function backfillTable(backfills, onCancel) {
  if (!backfills.length) {
    return h('p', {class: 'empty'}, 'No backfill yet: the Backfill button plans one.');
  }
  const headers = ['Id', 'Days', 'State', 'Progress', 'By', 'Created', ''];
  return table(headers, backfills.map((b) => tableRow(headers, [
    String(b.backfill_id),
    b.from === b.to ? b.from : `${b.from} → ${b.to}`,
    stateBadge(b.state),
    progressBar(b.counts),
    b.actor,
    fmtTime(b.created_at),
    b.counts.queued > 0 ? h('button', {type: 'button', class: 'danger small',
      'data-testid': 'cancel-backfill', onclick: () => onCancel(b)}, 'Cancel') : '',
  ], {'data-testid': 'backfill-row', 'data-backfill': b.backfill_id,
    'data-backfill-state': b.state})));
}

function cancelBackfill(b) {
  return action({
    title: `Cancel backfill ${b.backfill_id}?`,
    describe: [h('p', {}, `Its ${plural(b.counts.queued, 'queued run')} will be marked failed ` +
      '(their tasks skipped)' + (b.counts.running
      ? `; ${plural(b.counts.running, 'running run')} go on to their end.` : '.'))],
    confirmLabel: 'Cancel backfill',
    danger: true,
    send: () => [`/api/v1/backfills/${b.backfill_id}/cancel`, {}],
    done: (a) => `Canceled backfill ${a.backfill_id}: ` +
      `${plural(a.canceled.length, 'run')} marked failed.`,
  });
}

const plural = (n, noun) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function progressBar(counts) {
  const parts = ['success', 'failed', 'running', 'queued'].filter((st) => counts[st] > 0);
  const said = parts.map((st) => `${counts[st]} ${st}`).join(', ') || 'no runs';
  const bar = h('span', {class: 'progress', role: 'img', 'aria-label': said, title: said},
    parts.map((st) => {
      const part = h('span', {class: 'st', 'data-state': st});
      part.style.width = `${(counts[st] / counts.total) * 100}%`;
      return part;
    }));
  const done = counts.success + counts.failed;
  return h('span', {class: 'progress-cell'}, bar,
    h('span', {class: 'small', 'data-testid': 'backfill-progress'},
      `${done}/${counts.total} runs done${counts.failed ? `, ${counts.failed} failed` : ''}`));
}

function pauseButton(dagId, paused, after) {
  return h('button', {type: 'button', 'data-testid': 'pause-button', 'data-dag': dagId,
    'data-paused': paused ? 'true' : 'false',
    onclick: async () => {
      const answer = await action({
        title: `${paused ? 'Unpause' : 'Pause'} ${dagId}?`,
        describe: [h('p', {}, paused
          ? 'The scheduler takes up its queued runs again and creates runs as intervals close ' +
          '(with catchup off, only the latest missed one).'
          : 'A paused DAG gets no new scheduled runs, and the scheduler does not take up its ' +
            'queued runs (triggered, cleared or backfilled ones wait for the unpause). Runs it ' +
            'already drives go on to the end.')],
        confirmLabel: paused ? 'Unpause' : 'Pause',
        send: () => [`/api/v1/dags/${enc(dagId)}/${paused ? 'unpause' : 'pause'}`, {}],
        done: (a) => `${a.dag_id} is ${a.paused ? 'paused' : 'running its schedule again'}.`,
      });
      if (answer) await after().catch(showError);
    }}, paused ? 'Unpause' : 'Pause');
}

// ---- A DAG's page ----

const PAGE_SIZE = 25;

export async function dagPage(main, ctx, dagId, q) {
  document.title = `${dagId} · weir`;
  const offset = Math.max(0, parseInt(q.get('offset') || '0', 10) || 0);
  const stateFilter = RUN_STATES.includes(q.get('state')) ? q.get('state') : '';
  const here = (o, st) => `${link.dag(dagId)}${query({offset: o || '', state: st})}`;

  const dag = await getJson(`/api/v1/dags/${enc(dagId)}`);
  if (!ctx.alive) return;
  const tasks = dag.tasks.map((t) => ({id: t.task_id, label: t.task_id, sub: t.kind, task: t}));
  const edges = dag.tasks.flatMap((t) => t.deps.map((d) => ({from: d, to: t.task_id})));
  const shape = layout(tasks, edges);
  const order = readingOrder(shape);
  const kinds = new Map(dag.tasks.map((t) => [t.task_id, t.kind]));

  const head = h('div', {class: 'page-head'});
  const gridBox = h('div', {class: 'grid-scroll', 'data-testid': 'grid'});
  const graphBox = h('div', {class: 'graph-scroll'});
  const runPicker = h('select', {id: 'graph-run', 'aria-label': 'run shown in the graph'});
  const pager = h('div', {class: 'pager'});
  const backfillsBox = h('div', {'data-testid': 'backfills'});
  const filter = h('select', {id: 'state-filter', 'data-testid': 'state-filter',
    onchange: () => { location.hash = here(0, filter.value); }},
  h('option', {value: ''}, 'all states'),
  RUN_STATES.map((st) => h('option', {value: st, selected: st === stateFilter}, st)));

  const renderHead = () => replace(head,
    h('div', {class: 'title-row'},
      h('h1', {}, dag.dag_id), dag.paused ? stateBadge('paused') : null,
      h('div', {class: 'actions'},
        h('button', {type: 'button', class: 'primary', 'data-testid': 'trigger-button',
          onclick: () => trigger(dag, () => loadRuns())}, 'Trigger'),
        h('button', {type: 'button', 'data-testid': 'backfill-button',
          onclick: () => backfill(dag, () => Promise.all([loadRuns(), loadBackfills()]))},
        'Backfill'),
        pauseButton(dag.dag_id, dag.paused, async () => {
          dag.paused = !dag.paused;
          renderHead();
        }))),
    dag.description ? h('p', {class: 'description'}, dag.description) : null,
    h('dl', {class: 'facts'},
      fact('Schedule', h('code', {}, dag.schedule), ` ${dag.timezone}`),
      fact('Next runs', dag.paused ? 'paused'
        : dag.next_runs_at.slice(0, 3).map((t) => fmtTime(t)).join(', ') || 'none'),
      fact('Catchup', dag.catchup ? 'yes' : 'no'),
      fact('Max active runs', String(dag.max_active_runs)),
      fact('Params', Object.keys(dag.params || {}).length
        ? Object.entries(dag.params).map(([k, v]) => `${k}=${fmtValue(v)}`).join(', ') : 'none'),
      fact('File', h('code', {}, dag.file))));
  renderHead();

  replace(main, head,
    h('section', {'aria-labelledby': 'runs-h'},
      h('div', {class: 'section-head'}, h('h2', {id: 'runs-h'}, 'Runs'),
        h('label', {class: 'inline', for: 'state-filter'}, 'Show ', filter), pager),
      gridBox, legend(TASK_STATES)),
    h('section', {'aria-labelledby': 'graph-h'},
      h('div', {class: 'section-head'}, h('h2', {id: 'graph-h'}, 'Graph'),
        h('label', {class: 'inline', for: 'graph-run'}, 'Coloured by run ', runPicker)),
      graphBox),
    h('section', {'aria-labelledby': 'backfills-h'},
      h('div', {class: 'section-head'}, h('h2', {id: 'backfills-h'}, 'Backfills')),
      backfillsBox));

  let runs = [];
  let selected = null;  // the run the graph shows: the one picked, else the latest created
  let picked = false;

  const drawGraphFor = () => {
    const run = runs.find((r) => r.run_id === selected);
    const stateOf = (id) => (run ? run.task_states[id] || 'none' : 'none');
    for (const n of tasks) n.title = `${n.id} (${n.sub}): ${stateOf(n.id)}`;
    replace(graphBox, drawGraph(shape, {
      ariaLabel: `tasks of ${dag.dag_id}`,
      nodeAttrs: (n) => ({
        class: 'st task-state', 'data-task': n.id,
        'data-run': run ? run.run_id : null,
        'data-state': stateOf(n.id),
      }),
      href: (n) => (run ? link.log(run.run_id, n.id) : null),
    }));
  };
  runPicker.addEventListener('change', () => {
    selected = runPicker.value;
    picked = true;
    drawGraphFor();
  });

  const drawPicker = () => replace(runPicker, runs.length
    ? runs.map((r) => h('option', {value: r.run_id, selected: r.run_id === selected},
      `${shortRun(r.run_id)} (${r.state})`))
    : h('option', {value: ''}, 'no run'));

  const renderRuns = (data) => {
    runs = data.runs;
    if (!picked || !runs.some((r) => r.run_id === selected)) {
      const latest = runs.reduce((a, r) => (!a || r.created_at > a.created_at ? r : a), null);
      selected = latest ? latest.run_id : null;
      picked = false;
    }
    drawPicker();
    const last = Math.min(data.total, offset + runs.length);
    replace(pager,
      h('a', {class: `button${offset === 0 ? ' disabled' : ''}`, 'aria-disabled': offset === 0,
        href: offset === 0 ? null : here(Math.max(0, offset - PAGE_SIZE), stateFilter)},
      '← Newer'),
      h('span', {class: 'muted small'},
        data.total ? `${offset + 1}–${last} of ${data.total}` : '0 runs'),
      h('a', {class: `button${last >= data.total ? ' disabled' : ''}`,
        'aria-disabled': last >= data.total,
        href: last >= data.total ? null : here(offset + PAGE_SIZE, stateFilter)}, 'Older →'));
    replace(gridBox, runs.length ? grid(order, kinds, runs) : h('p', {class: 'empty'},
      stateFilter ? `No ${stateFilter} run.` : 'No run yet: trigger one.'));
    drawGraphFor();
  };

  const loadBackfills = async () => {
    const data = await getJson(`/api/v1/backfills${query({dag: dagId, limit: 10})}`);
    if (ctx.alive) {
      replace(backfillsBox, backfillTable(data.backfills,
        (b) => cancelBackfill(b)
          .then((a) => a && Promise.all([loadBackfills(), loadRuns()]))
          .catch(showError)));
    }
  };

  const loadRuns = async () => {
    const data = await getJson(`/api/v1/dags/${enc(dagId)}/runs${query({limit: PAGE_SIZE,
      offset: offset || '', state: stateFilter})}`);
    if (ctx.alive) renderRuns(data);
  };
  await Promise.all([loadRuns(), loadBackfills()]);

  // A run this page does not show (just triggered, or a state filter now matches it): fetch the
  // page again, once things settle.
  const reload = debounce(() => loadRuns().catch(showError), 300);
  // A backfill's progress moves with its runs' states: once a second while they change.
  const reloadBackfills = throttle(() => loadBackfills().catch(showError), 1000);
  ctx.on((type, ev) => {
    if (ev.dag_id !== dagId) return;
    if (type === 'run') reloadBackfills();
    const run = runs.find((r) => r.run_id === ev.run_id);
    if (run && type === 'task') run.task_states[ev.task_id] = ev.state;
    if (run && type === 'run') { run.state = ev.state; drawPicker(); }
    if ((!run && offset === 0) || (type === 'run' && stateFilter)) reload();
  });
  ctx.cleanup(reload.cancel);
  ctx.cleanup(reloadBackfills.cancel);
}

function fact(name, ...value) {
  return h('div', {}, h('dt', {}, name), h('dd', {}, value));
}

// Rows are tasks (upstream first), columns are runs (newest first); each cell links to the log.
function grid(order, kinds, runs) {
  return h('table', {class: 'grid'},
    h('thead', {}, h('tr', {},
      h('th', {scope: 'col', class: 'task-col'}, 'task \\ run'),
      runs.map((r) => h('th', {scope: 'col', class: 'run-col'},
        h('a', {href: link.run(r.run_id), class: 'run-head', 'data-testid': 'grid-run',
          'data-run': r.run_id, title: `${r.run_id}\n${r.kind}, ${r.state}`},
        h('span', {class: 'run-date'}, runLabel(r)),
        stateBox(r.state, {class: 'box st run-state', 'data-run': r.run_id},
          `${r.run_id}: ${r.state}`)))))),
    h('tbody', {}, order.map((taskId) => h('tr', {},
      h('th', {scope: 'row', class: 'task-col'}, taskId,
        h('span', {class: 'muted small'}, ` ${kinds.get(taskId) || ''}`)),
      runs.map((r) => {
        const state = r.task_states[taskId] || 'none';
        return h('td', {},
          h('a', {class: 'cell st task-state', href: link.log(r.run_id, taskId),
            'data-testid': 'grid-cell', 'data-run': r.run_id, 'data-task': taskId,
            'data-state': state, title: `${taskId}: ${state}`,
            'aria-label': `${taskId} in ${shortRun(r.run_id)}: ${state}`}));
      })))));
}

// "01-16" and the kind's initial: the column header of a run.
function runLabel(r) {
  const day = (r.interval_start || '').slice(5, 10);
  const kind = {manual: 'M', backfill: 'B', scheduled: ''}[r.kind] ?? '';
  return `${day}${kind ? ` ${kind}` : ''}`;
}

// ---- Trigger and backfill ----

function yesterdayUtc() {
  return new Date(Date.now() - 86400e3).toISOString().slice(0, 10);
}

function paramFields(params) {
  return Object.entries(params || {}).map(([name, value]) => {
    if (typeof value === 'boolean') {
      return {name: `param:${name}`, label: `param ${name}`, type: 'checkbox', value};
    }
    if (typeof value === 'number') {
      return {name: `param:${name}`, label: `param ${name}`, type: 'number', value, required: true,
        testid: `param-${name}`};
    }
    return {name: `param:${name}`, label: `param ${name}`, type: 'text', value: fmtValue(value),
      testid: `param-${name}`};
  });
}

async function trigger(dag, after) {
  const answer = await action({
    title: `Trigger ${dag.dag_id}`,
    describe: [h('p', {}, 'A manual run of one interval, queued for the scheduler.')],
    fields: [
      {name: 'date', type: 'date', value: yesterdayUtc(),
        label: 'Date (the interval that starts that day; empty: the latest closed one)'},
      ...paramFields(dag.params),
      {name: 'no_cache', label: 'Run every task (no cache)', type: 'checkbox', value: false},
    ],
    confirmLabel: 'Trigger',
    send: (values) => {
      const body = {params: {}};
      if (values.date) body.date = values.date;
      if (values.no_cache) body.no_cache = true;
      for (const [k, v] of Object.entries(values)) {
        if (k.startsWith('param:')) body.params[k.slice(6)] = v;
      }
      return [`/api/v1/dags/${enc(dag.dag_id)}/runs`, body];
    },
    done: (run) => `Triggered ${run.run_id}.`,
  });
  if (answer) await after().catch(showError);
}

// Backfill in two steps: a dry run shows the plan, then Confirm starts it.
async function backfill(dag, after) {
  if (!(await requireSession())) return;
  const today = new Date().toISOString().slice(0, 10);
  let planned = null;
  const answer = await openDialog({
    title: `Backfill ${dag.dag_id}`,
    body: [h('p', {}, 'One run per interval between the two days. ' +
      'First a dry run shows the plan.')],
    fields: [
      {name: 'from', label: 'From (day)', type: 'date', value: today, required: true},
      {name: 'to', label: 'To (day)', type: 'date', value: today, required: true},
      {name: 'rerun', label: 'Rerun intervals that already have a run', type: 'select',
        options: ['none', 'failed', 'all'], value: 'none'},
    ],
    confirmLabel: 'Plan (dry run)',
    onConfirm: async (values, dlg) => {
      const body = {from: values.from, to: values.to, rerun: values.rerun};
      if (values.reason) body.reason = values.reason;
      const path = `/api/v1/dags/${enc(dag.dag_id)}/backfills`;
      if (!planned) {
        const plan = await post(path, {...body, dry_run: true});
        planned = body;
        const running = plan.runs.filter((r) => r.will_run).length;
        const headers = ['Interval', 'Status', 'Will run'];
        dlg.fieldsHidden(true);
        dlg.setBody(
          h('p', {}, `${values.from} to ${values.to}, rerun ${values.rerun}: `,
            h('strong', {}, `${running} of ${plan.runs.length} intervals will run.`)),
          h('div', {class: 'plan-scroll', 'data-testid': 'backfill-plan'},
            table(headers, plan.runs.map((r) => [
              fmtTime(r.interval_start, true), r.status, r.will_run ? 'yes' : 'no']))));
        dlg.setConfirmLabel(running ? `Start backfill (${running} runs)` : 'Nothing to run: close');
        if (!running) planned = 'empty';
        return KEEP_OPEN;
      }
      if (planned === 'empty') return null;
      return post(path, planned);
    },
  });
  if (answer) {
    showMessage(`Backfill ${answer.backfill_id}: ${answer.run_ids.length} runs queued.`);
    await after().catch(showError);
  }
}
