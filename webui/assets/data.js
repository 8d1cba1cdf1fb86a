// Datasets (the list, a dataset's versions, schema, quality checks and lineage graph) and the
// audit log.

import {getJson, showError} from './api.js';
import {fmtBytes, fmtNumber, fmtTime, fmtValue, h, link, query, replace, shortRun, table}
  from './dom.js';
import {drawGraph, layout} from './graph.js';

const enc = encodeURIComponent;

// ---- Datasets ----

export async function datasetList(main, ctx) {
  document.title = 'Datasets · weir';
  const data = await getJson('/api/v1/datasets');
  if (!ctx.alive) return;
  const headers = ['Dataset', 'Version', 'Rows', 'Size', 'Recorded', 'Written by'];
  replace(main, h('div', {class: 'page-head'}, h('h1', {}, 'Datasets')),
    data.datasets.length === 0
      ? h('p', {class: 'empty'}, 'No dataset recorded yet: tasks record what they read and write.')
      : table(headers, data.datasets.map(({dataset, latest: v}) => [
        h('a', {href: link.dataset(dataset), 'data-testid': 'dataset-link',
          'data-dataset': dataset}, dataset),
        v ? `v${v.version}` : '',
        v ? fmtNumber(v.rows) : '',
        v ? fmtBytes(v.bytes) : '',
        v ? fmtTime(v.recorded_at) : '',
        v ? writer(v) : '',
      ])));
}

// A schema as [name, type] pairs, whatever its JSON shape.
function columns(schema) {
  if (Array.isArray(schema)) {
    return schema.map((c) => {
      if (Array.isArray(c)) return [c[0], c[1]];
      if (c && typeof c === 'object') return [c.name ?? c.column ?? '', c.type ?? ''];
      return [c, ''];
    });
  }
  if (schema && typeof schema === 'object') return Object.entries(schema);
  return [];
}

// How far the lineage graph goes: attempts away from the version ('' for all the way).
const DEPTHS = [['', 'all'], ['1', '1 step'], ['2', '2 steps'], ['3', '3 steps'],
  ['5', '5 steps']];

export async function datasetPage(main, ctx, q) {
  const uri = q.get('uri') || '';
  document.title = `${uri} · weir`;
  const direction = q.get('direction') === 'downstream' ? 'downstream' : 'upstream';
  // The version whose lineage is drawn (none: the latest); anything but a version number is
  // ignored, as is a depth the selector does not offer.
  const asked = /^[1-9][0-9]{0,15}$/.test(q.get('version') || '') ? q.get('version') : '';
  const depth = DEPTHS.some(([d]) => d === q.get('depth')) ? q.get('depth') : '';
  const data = await getJson(`/api/v1/dataset${query({uri})}`);
  if (!ctx.alive) return;
  const latest = data.versions[0];
  const version = asked || (latest ? String(latest.version) : '');
  const by = data.checks[0];  // the checks all come from one validate attempt
  const graphBox = h('div', {class: 'graph-scroll'},
    h('p', {class: 'muted'}, 'Loading the lineage…'));
  const writers = h('div', {});
  const here = (o) => link.dataset(uri, {version: asked,
    direction: direction === 'downstream' ? direction : '', depth, ...o});
  const depthSelect = h('select', {id: 'lineage-depth', 'data-testid': 'lineage-depth'},
    DEPTHS.map(([d, label]) => h('option', {value: d, selected: d === depth}, label)));
  depthSelect.addEventListener('change', () => { location.hash = here({depth: depthSelect.value}); });

  const checkHeaders = ['Check', 'Column', 'Severity', 'Result', 'Observed', 'Threshold', 'Detail'];
  const versionHeaders = ['Version', 'Rows', 'Size', 'Fingerprint', 'Recorded', 'Written by'];
  replace(main,
    h('div', {class: 'page-head'},
      h('p', {class: 'crumbs'}, h('a', {href: link.datasets()}, 'Datasets'), ' › dataset'),
      h('div', {class: 'title-row'}, h('h1', {class: 'break'}, uri)),
      latest ? h('dl', {class: 'facts'},
        fact('Latest', `v${latest.version}`), fact('Rows', fmtNumber(latest.rows)),
        fact('Size', fmtBytes(latest.bytes)), fact('Recorded', fmtTime(latest.recorded_at)))
        : null),
    h('section', {'aria-labelledby': 'lineage-h'},
      h('div', {class: 'section-head'},
        h('h2', {id: 'lineage-h'}, 'Lineage', version ? ` of v${version}` : ''),
        h('div', {class: 'toggle', role: 'group', 'aria-label': 'direction'},
          ['upstream', 'downstream'].map((dir) => h('a', {
            href: here({direction: dir === 'downstream' ? dir : ''}),
            class: `button${dir === direction ? ' pressed' : ''}`,
            'aria-current': dir === direction ? 'true' : null,
            'data-testid': `lineage-${dir}`}, dir))),
        h('label', {class: 'inline-field', for: 'lineage-depth'}, 'Depth ', depthSelect)),
      h('p', {class: 'muted small'}, (direction === 'upstream'
        ? `Where v${version} came from: versions read → attempt → versions written.`
        : `What was built from v${version}.`),
        asked && latest && asked !== String(latest.version)
          ? [' ', h('a', {href: here({version: ''}), 'data-testid': 'lineage-latest'},
            `Show the latest, v${latest.version}.`)] : null),
      graphBox),
    h('section', {'aria-labelledby': 'checks-h'},
      h('h2', {id: 'checks-h'}, 'Quality checks'),
      data.checks.length === 0
        ? h('p', {class: 'empty'}, 'No validate task has checked this dataset.')
        : [h('p', {class: 'muted small'}, `From the latest validate attempt: `,
          h('a', {href: link.log(by.run_id, by.task_id, by.try_number)},
            `${by.task_id} in ${shortRun(by.run_id)}`),
          `, ${fmtTime(by.ended_at)}.`),
        table(checkHeaders, data.checks.map((c) => [
          c.check + (c.method ? ` (${c.method})` : ''), c.column || '', c.severity,
          h('span', {class: `badge st`, 'data-state': c.passed ? 'success' : c.severity === 'warn'
            ? 'up_for_retry' : 'failed'}, c.passed ? 'passed' : 'failed'),
          fmtObserved(c), c.threshold === null ? '' : fmtNum(c.threshold),
          h('span', {class: 'detail'}, c.detail || ''),
        ]), {class: 'data stack', 'data-testid': 'checks-table'})]),
    h('section', {'aria-labelledby': 'schema-h'},
      h('h2', {id: 'schema-h'}, 'Schema', latest ? ` (v${latest.version})` : ''),
      latest && columns(latest.schema).length
        ? table(['Column', 'Type'], columns(latest.schema).map(([n, t]) => [h('code', {}, n),
          t || h('span', {class: 'muted'}, 'none declared')]),
          {class: 'data narrow'})
        : h('p', {class: 'empty'}, 'No schema recorded (a file, or a version without one).')),
    h('section', {'aria-labelledby': 'versions-h'},
      h('h2', {id: 'versions-h'}, 'Versions'), writers));

  // Each version links to its own lineage; the one drawn is marked.
  replace(writers,
    table(versionHeaders, data.versions.map((v) => [
      String(v.version) === version
        ? h('strong', {'aria-current': 'true'}, `v${v.version}`)
        : h('a', {href: here({version: v === latest ? '' : v.version}),
          'data-testid': 'version-lineage', 'data-version': v.version,
          title: `the lineage of v${v.version}`}, `v${v.version}`),
      fmtNumber(v.rows), fmtBytes(v.bytes),
      h('code', {title: v.fingerprint}, shortFingerprint(v.fingerprint)), fmtTime(v.recorded_at),
      writer(v),
    ]), {'data-testid': 'versions-table'}));

  if (!version) {
    replace(graphBox, h('p', {class: 'empty'}, 'No version recorded.'));
    return;
  }
  try {
    const graph = await getJson(`/api/v1/lineage${query({dataset: `${uri}@${version}`, direction,
      depth})}`);
    if (!ctx.alive) return;
    replace(graphBox, lineageGraph(graph));
    // The version this page is about: the right end upstream, the left end downstream.
    const root = graphBox.querySelector('.node-root');
    if (root) {
      const box = root.getBoundingClientRect(), frame = graphBox.getBoundingClientRect();
      graphBox.scrollLeft += box.left - frame.left - (frame.width - box.width) / 2;
      if (box.top < frame.top || box.bottom > frame.bottom) {
        graphBox.scrollTop += box.top - frame.top - (frame.height - box.height) / 2;
      }
    }
  } catch (e) {
    if (!ctx.alive) return;
    replace(graphBox, h('p', {class: 'empty'}, e.message));
    showError(e);
  }
}

function fact(name, ...value) {
  return h('div', {}, h('dt', {}, name), h('dd', {}, value));
}

function fmtObserved(c) {
  const parts = [];
  if (c.observed !== null) parts.push(fmtNum(c.observed));
  if (c.p_value !== null) parts.push(`p=${Number(c.p_value).toPrecision(3)}`);
  if (c.failing_count) {
    parts.push(`${fmtNumber(c.failing_count)} of ${fmtNumber(c.total)} rows fail`);
  }
  return parts.join(', ');
}

// A measured number: whole numbers as they are, others to four significant digits.
function fmtNum(v) {
  if (typeof v !== 'number') return fmtValue(v);
  return Number.isInteger(v) ? fmtNumber(v) : String(Number(v.toPrecision(4)));
}

// "sha256:0123456789abcdef..." -> "0123456789ab".
function shortFingerprint(fp) {
  return (fp || '').replace(/^[a-z0-9]+:/, '').slice(0, 12);
}

// The attempt that wrote a version, linked to its log; nothing for a source.
function writer(v) {
  const w = v.writer;
  if (!w) return v.written_by !== null && v.written_by !== undefined ? `attempt ${v.written_by}` : '';
  return h('a', {href: link.log(w.run_id, w.task_id, w.try_number)},
    `${w.task_id} in ${shortRun(w.run_id)}`);
}

// Dataset versions and attempts as one layered graph: reads go into an attempt, writes out.
function lineageGraph(g) {
  if (!g.versions.length) return h('p', {class: 'empty'}, 'No lineage recorded.');
  const nodes = [
    ...g.versions.map((v) => ({id: `v${v.id}`, kind: 'version', v, label: v.dataset,
      sub: `v${v.version}${v.rows !== null ? ` · ${fmtNumber(v.rows)} rows` : ''}`})),
    ...g.attempts.map((a) => ({id: `a${a.id}`, kind: 'attempt', a, label: a.task,
      sub: `${shortRun(a.run)} · try ${a.try}`,
      title: `${a.task}, try ${a.try} of ${a.run}: ${a.state}`})),
  ];
  const edges = [
    ...g.reads.map((r) => ({from: `v${r.version}`, to: `a${r.attempt}`})),
    ...g.writes.map((w) => ({from: `a${w.attempt}`, to: `v${w.version}`})),
  ];
  return drawGraph(layout(nodes, edges), {
    testid: 'lineage-graph', ariaLabel: 'lineage', highlight: `v${g.root}`,
    nodeAttrs: (n) => (n.kind === 'version'
      ? {class: 'node-dataset', 'data-dataset': n.v.dataset, 'data-version': n.v.version}
      : {class: 'st', 'data-run': n.a.run, 'data-task': n.a.task, 'data-try': n.a.try,
        'data-state': n.a.state}),
    href: (n) => (n.kind === 'version' ? link.dataset(n.v.dataset, {version: n.v.version})
      : link.log(n.a.run, n.a.task, n.a.try)),
  });
}

// ---- Audit ----

export async function auditPage(main, ctx, q) {
  document.title = 'Audit · weir';
  const filters = {actor: q.get('actor') || '', dag: q.get('dag') || '',
    since: q.get('since') || '', limit: q.get('limit') || '100'};
  const input = (name, label, type = 'text') => {
    const el = h('input', {id: `audit-${name}`, name, type, autocomplete: 'off'});
    el.value = filters[name];
    return h('div', {class: 'field'}, h('label', {for: `audit-${name}`}, label), el);
  };
  const form = h('form', {class: 'filters', role: 'search', 'aria-label': 'audit filters'},
    input('actor', 'Actor'), input('dag', 'DAG'), input('since', 'Since (day, UTC)', 'date'),
    h('div', {class: 'field'}, h('label', {for: 'audit-limit'}, 'Show'),
      h('select', {id: 'audit-limit', name: 'limit'}, ['50', '100', '200', '500'].map((n) =>
        h('option', {value: n, selected: n === filters.limit}, n)))),
    h('div', {class: 'field field-button'},
      h('button', {type: 'submit', class: 'primary'}, 'Filter')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    location.hash = link.audit({actor: f.get('actor').trim(), dag: f.get('dag').trim(),
      since: f.get('since'), limit: f.get('limit') === '100' ? '' : f.get('limit')});
  });
  const body = h('div', {});
  replace(main, h('div', {class: 'page-head'}, h('h1', {}, 'Audit log'),
    h('p', {class: 'muted'}, 'Every human action: triggers, backfills, clears, marks, pauses.')),
  form, body);

  const data = await getJson(`/api/v1/audit${query({limit: filters.limit, actor: filters.actor,
    dag: filters.dag, since: filters.since ? `${filters.since}T00:00:00Z` : ''})}`);
  if (!ctx.alive) return;
  const headers = ['When', 'Actor', 'Source', 'Action', 'Target', 'Reason', 'Details'];
  replace(body, data.events.length === 0
    ? h('p', {class: 'empty', 'data-testid': 'audit-table'}, 'No action matches.')
    : table(headers, data.events.map((e) => [
      fmtTime(e.at), e.actor, e.source, h('code', {}, e.action), auditTarget(e.target),
      e.reason || '',
      Object.keys(e.details || {}).length
        ? h('span', {class: 'small break'}, Object.entries(e.details)
          .filter(([, v]) => v !== null && v !== '')
          .map(([k, v]) => `${k}=${fmtValue(v)}`).join(', '))
        : '',
    ]), {class: 'data stack', 'data-testid': 'audit-table'}));
}

// "dag:ID", "run:ID" and "task:RUN/TASK" link to their pages; anything else is text.
function auditTarget(target) {
  const m = /^(run|dag|task):(.+)$/.exec(target || '');
  if (!m) return h('span', {class: 'break'}, target || '');
  const href = m[1] === 'dag' ? link.dag(m[2])
    : link.run(m[1] === 'task' ? m[2].slice(0, m[2].lastIndexOf('/')) : m[2]);
  return h('a', {class: 'break', href}, target);
}
