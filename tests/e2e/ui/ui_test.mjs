// The dashboard in headless Chromium, against a running `weir serve` on the example DAG:
//   UI_SECRET=VALUE UI_SECRET_RUN=RUN_ID node ui_test.mjs BASE_URL TOKEN OUTDIR
// BASE_URL is e.g. http://127.0.0.1:8090, TOKEN one of the server's WEIR_API_TOKENS, OUTDIR a
// folder for the screenshots. The server's home must hold the example's runs of 2026-01-10..15
// (weir backfill), so that a run of 2026-01-16 can succeed, and the run RUN_ID of a DAG whose
// secret is VALUE, with VALUE typed into a param. Exits 0 when every step passed,
// 1 with the failing step and why otherwise; every wait has a timeout, and a watchdog ends the
// whole test after TOTAL_MS.

import {mkdir} from 'node:fs/promises';
import path from 'node:path';
import {chromium} from 'playwright-core';

const TOTAL_MS = 240_000;   // the whole test
const STEP_MS = 15_000;     // any one wait, unless a step says otherwise
const RUN_MS = 60_000;      // a triggered run to succeed
const HOSTILE = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
const DAG = 'user_training_set';
const DATASET = 'warehouse://training_set';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// A secret's value, and a run whose param holds it (of a DAG that names the secret).
const SECRET = process.env.UI_SECRET;
const SECRET_RUN = process.env.UI_SECRET_RUN;

const [base, token, outDir] = process.argv.slice(2);
if (!base || !token || !outDir || !SECRET || !SECRET_RUN) {
  console.error('usage: UI_SECRET=VALUE UI_SECRET_RUN=RUN_ID node ui_test.mjs BASE_URL TOKEN OUTDIR');
  process.exit(2);
}
const url = (hash = '') => `${base.replace(/\/$/, '')}/${hash}`;

let browser = null;
let passed = 0;
const started = Date.now();
const log = (line) =>
  console.log(`[${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${line}`);

async function fail(message) {
  console.error(`ui_test: FAILED: ${message}`);
  console.log(`${passed} passed, 1 failed`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

const watchdog = setTimeout(() => fail(`the test took longer than ${TOTAL_MS / 1000}s`), TOTAL_MS);

async function step(name, fn) {
  log(`... ${name}`);
  const t0 = Date.now();
  try {
    await fn();
  } catch (e) {
    const text = e.message.replace(/\x1b\[[0-9;]*m/g, '');  // Playwright colours its call log
    await fail(`${name}: ${text.split('\n').slice(0, 6).join('\n')}`);
  }
  passed += 1;
  log(`ok  ${name} (${Date.now() - t0} ms)`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Problems the page reports by itself: uncaught errors, CSP violations, failed scripts.
function watchPage(page, problems) {
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    // The session probe answers 401 when signed out: the browser logs it, the page expects it.
    if (/status of 401/.test(text) && /\/api\/v1\/session/.test(m.location().url || '')) return;
    problems.push(`console: ${text}`);
  });
}

const shot = (page, name) => page.screenshot({path: path.join(outDir, name), fullPage: true,
  timeout: STEP_MS});

await mkdir(outDir, {recursive: true});
const problems = [];
let page = null;
let runId = null;

await step('launch Chromium', async () => {
  browser = await chromium.launch({executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'],
    timeout: STEP_MS});
  const context = await browser.newContext({viewport: {width: 1280, height: 800}});
  page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  page.setDefaultNavigationTimeout(STEP_MS);
  watchPage(page, problems);
});

await step('the DAG list shows the example DAG', async () => {
  await page.goto(url());
  await page.waitForSelector(`[data-testid=dag-link][data-dag="${DAG}"]`);
  const squares = await page.locator(`tr[data-dag="${DAG}"] .run-state`).count();
  check(squares > 0, 'no recent run squares for the DAG (was the backfill run?)');
  await shot(page, 'dag-list.png');
});

await step('the DAG page shows the grid and the graph', async () => {
  await page.click(`[data-testid=dag-link][data-dag="${DAG}"]`);
  await page.waitForSelector(
    '[data-testid=grid] [data-testid=grid-cell][data-task=export_training_set]');
  await page.waitForSelector('[data-testid=graph] [data-testid=graph-node]');
  const nodes = await page.locator('[data-testid=graph] [data-testid=graph-node]').count();
  check(nodes === 8, `the graph has ${nodes} task nodes, expected 8`);
  check(page.url().includes(`#/dags/${DAG}`), `the address is ${page.url()}`);
});

await step('the DAG page lists the week\'s backfill as ended, with its progress', async () => {
  const row = '[data-testid=backfills] [data-testid=backfill-row][data-backfill="1"]';
  await page.waitForSelector(`${row}[data-backfill-state=success]`);
  const progress = await page.textContent(`${row} [data-testid=backfill-progress]`);
  check(progress === '6/6 runs done', `the backfill's progress reads '${progress}'`);
  const bar = await page.getAttribute(`${row} .progress`, 'aria-label');
  check(bar === '6 success', `the progress bar says '${bar}'`);
});

await step('sign in with the token through the dialog', async () => {
  await page.click('[data-testid=signin-button]');
  await page.fill('[data-testid=signin-token]', token);
  await page.click('[data-testid=signin-submit]');
  // Signed in (the top bar names the actor), or refused (the dialog says why).
  const outcome = await (await page.waitForFunction(() => {
    const actor = document.querySelector('[data-testid=actor]')?.textContent;
    const refused = document.querySelector(
      '[data-testid=signin-dialog] .dialog-error:not([hidden])')?.textContent;
    return actor ? {actor} : refused ? {refused} : null;
  })).jsonValue();
  check(!outcome.refused, `the sign-in was refused: ${outcome.refused}`);
  const actor = outcome.actor;
  check(/Sign out/.test(await page.textContent('[data-testid=signin-button]')),
    'the button does not offer to sign out');
  log(`    signed in as ${actor}`);
});

await step('trigger a run of 2026-01-16 from the form', async () => {
  await page.evaluate(() => { window.__marker = 1; });
  await page.click('[data-testid=trigger-button]');
  await page.fill('[data-testid=field-date]', '2026-01-16');
  // A hostile reason: the audit page must show it as text, never run it.
  await page.fill('[data-testid=field-reason]', HOSTILE);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' &&
      r.url().endsWith(`/api/v1/dags/${DAG}/runs`)),
    page.click('[data-testid=confirm-button]'),
  ]);
  const body = await response.json();
  check(response.status() === 201,
    `the trigger answered ${response.status()}: ${JSON.stringify(body)}`);
  check(response.request().headers()['x-csrf-token'], 'the trigger was sent without X-CSRF-Token');
  runId = body.run_id;
  log(`    triggered ${runId}`);
  await page.waitForSelector('[data-testid=confirm-dialog]', {state: 'detached'});
  await page.waitForSelector(`[data-testid=message] >> text=Triggered`);
});

await step('the new run\'s cells turn success live, without a reload', async () => {
  const cell = (task) => `[data-testid=grid-cell][data-run="${runId}"][data-task="${task}"]`;
  await page.waitForSelector(cell('export_training_set'));
  // Record every state the export cell and graph node show, to prove they changed in place.
  await page.evaluate((rid) => {
    window.__seen = [];
    const note = () => {
      const el = document.querySelector(
        `[data-testid=grid-cell][data-run="${CSS.escape(rid)}"][data-task=export_training_set]`);
      const st = el && el.getAttribute('data-state');
      if (st && window.__seen[window.__seen.length - 1] !== st) window.__seen.push(st);
    };
    note();
    new MutationObserver(note).observe(document.body,
      {subtree: true, childList: true, attributes: true, attributeFilter: ['data-state']});
  }, runId);
  await page.waitForSelector(`${cell('export_training_set')}[data-state="success"]`,
    {timeout: RUN_MS});
  const marker = await page.evaluate(() => window.__marker);
  check(marker === 1, 'the page was reloaded (window.__marker is gone)');
  check(page.url().includes(`#/dags/${DAG}`), `the page navigated to ${page.url()}`);
  const seen = await page.evaluate(() => window.__seen);
  log(`    export_training_set went ${seen.join(' -> ')}`);
  const states = await page.$$eval(`[data-testid=grid-cell][data-run="${runId}"]`,
    (els) => els.map((e) => `${e.dataset.task}=${e.dataset.state}`));
  check(states.length === 8 && states.every((s) => /=(success|cached|skipped)$/.test(s)),
    `not every task of the run succeeded: ${states.join(', ')}`);
  await page.waitForSelector(`[data-testid=graph] [data-testid=graph-node][data-run="${runId}"]` +
    '[data-task=export_training_set][data-state=success]');
  await shot(page, 'dag-grid-graph.png');
});

await step('the run page shows the Gantt timeline', async () => {
  await page.click(`[data-testid=grid-run][data-run="${runId}"]`);
  await page.waitForSelector('[data-testid=gantt] .bar[data-task=export_training_set]');
  const bars = await page.locator('[data-testid=gantt] .bar').count();
  check(bars >= 8, `the Gantt has ${bars} bars, expected one per task at least`);
  await shot(page, 'run-gantt.png');
});

await step('a task\'s log shows its text', async () => {
  await page.click('[data-testid=gantt] .bar[data-task=export_training_set]');
  await page.waitForFunction(
    () => (document.querySelector('[data-testid=log-text]')?.textContent || '').length > 0);
  const text = await page.textContent('[data-testid=log-text]');
  check(/export_training_set: wrote .*training_set_20260116\.csv/.test(text),
    `the log does not say what it wrote: ${text.slice(0, 300)}`);
  await shot(page, 'log.png');
});

await step('the dataset page shows versions, checks and the lineage graph', async () => {
  await page.goto(url(`#/dataset?uri=${encodeURIComponent(DATASET)}`));
  await page.waitForSelector('[data-testid=lineage-graph] [data-testid=graph-node]');
  const nodes = await page.locator('[data-testid=lineage-graph] [data-testid=graph-node]').count();
  const datasets = await page.$$eval(
    '[data-testid=lineage-graph] [data-testid=graph-node][data-dataset]',
    (els) => [...new Set(els.map((e) => e.dataset.dataset))]);
  check(nodes >= 3 && datasets.includes(DATASET),
    `the lineage has ${nodes} nodes and datasets ${datasets.join(', ')}`);
  check(datasets.some((d) => d.includes('clean_events')),
    `the upstream lineage does not reach clean_events: ${datasets.join(', ')}`);
  await page.waitForSelector('[data-testid=checks-table]');
  log(`    ${nodes} lineage nodes; datasets: ${datasets.join(', ')}`);
  await shot(page, 'lineage.png');
});

await step('an older version\'s lineage, and one step of it, are drawn on request', async () => {
  const graph = '[data-testid=lineage-graph]';
  const rootVersion = () => page.$eval(`${graph} .node-root`, (e) => e.dataset.version);
  const attempts = () => page.locator(`${graph} [data-testid=graph-node][data-task]`).count();
  const latest = await rootVersion();
  const allSteps = await attempts();
  const older = await page.$$eval('[data-testid=version-lineage]',
    (els) => els.map((e) => e.dataset.version));
  check(older.length >= 1 && !older.includes(latest),
    `the versions table links versions ${older.join(', ')} (latest v${latest}, drawn)`);
  const version = older[older.length - 1];  // the oldest
  await page.click(`[data-testid=version-lineage][data-version="${version}"]`);
  await page.waitForFunction((v) => document.querySelector(
    '[data-testid=lineage-graph] .node-root')?.dataset.version === v, version, {timeout: STEP_MS});
  check((await page.textContent('#lineage-h')).includes(`of v${version}`),
    `the heading does not name v${version}: ${await page.textContent('#lineage-h')}`);
  check(await page.$eval(`${graph} .node-root`, (e) => e.dataset.dataset) === DATASET,
    'the drawn version is not of this dataset');
  await page.selectOption('[data-testid=lineage-depth]', '1');
  await page.waitForFunction(() => location.hash.includes('depth=1'), null, {timeout: STEP_MS});
  await page.waitForFunction((v) => document.querySelector(
    '[data-testid=lineage-graph] .node-root')?.dataset.version === v, version, {timeout: STEP_MS});
  const oneStep = await attempts();
  check(oneStep === 1 && allSteps > 1,
    `one step up draws ${oneStep} attempts (all the way: ${allSteps}); expected only the writer`);
  await page.click('[data-testid=lineage-latest]');
  await page.waitForFunction((v) => document.querySelector(
    '[data-testid=lineage-graph] .node-root')?.dataset.version === v, latest, {timeout: STEP_MS});
  check(await page.evaluate(() => location.hash.includes('depth=1') &&
    !location.hash.includes('version=')), `the latest keeps the depth: ${await page.url()}`);
  log(`    v${version} one step: ${oneStep} attempt; all the way: ${allSteps}`);
  // A version and a depth that are not numbers the page offers are ignored.
  await page.goto(url(`#/dataset?uri=${encodeURIComponent(DATASET)}` +
    `&version=${encodeURIComponent("1' OR 1=1")}&depth=${encodeURIComponent(HOSTILE)}`));
  // (The page before had depth 1: the selector back at 'all' is the new page.)
  await page.waitForFunction((v) =>
    document.querySelector('[data-testid=lineage-depth]')?.value === '' &&
    document.querySelector('[data-testid=lineage-graph] .node-root')?.dataset.version === v,
  latest, {timeout: STEP_MS});
  check(await attempts() === allSteps, 'the lineage is not drawn all the way');
});

await step('a dataset node opens that dataset\'s page', async () => {
  const other = 'warehouse://user_features';
  await page.click(
    `[data-testid=lineage-graph] [data-testid=graph-node][data-dataset="${other}"]`);
  await page.waitForFunction((uri) => location.hash.includes(encodeURIComponent(uri)), other);
  await page.waitForSelector('[data-testid=lineage-graph] [data-testid=graph-node]');
});

await step('the audit log lists the trigger', async () => {
  await page.click('[data-testid=nav-audit]');
  await page.waitForSelector('[data-testid=audit-table]');
  const text = await page.textContent('[data-testid=audit-table]');
  check(text.includes(runId) || /trigger/i.test(text), 'the trigger is not in the audit log');
  check(text.includes(HOSTILE), 'the trigger\'s reason is not shown as text in the audit log');
  check(await page.evaluate(() => window.__xss === undefined),
    'markup from a reason ran in the page');
  check(await page.locator('[data-testid=audit-table] img').count() === 0,
    'markup from a reason became an element');
});

await step('a backfill planned and started from the form is canceled from its row', async () => {
  // Days without event files: each run retries for seconds, one at a time (max_active_runs: 1),
  // so the others wait queued while the backfill is canceled.
  await page.goto(url(`#/dags/${DAG}`));
  await page.click('[data-testid=backfill-button]');
  await page.fill('[data-testid=field-from]', '2026-01-01');
  await page.fill('[data-testid=field-to]', '2026-01-05');
  await page.click('[data-testid=confirm-button]');
  await page.waitForSelector('[data-testid=backfill-plan]');
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' &&
      r.url().endsWith(`/api/v1/dags/${DAG}/backfills`)),
    page.click('[data-testid=confirm-button]'),
  ]);
  const started = await response.json();
  check(response.status() === 201 && started.run_ids.length === 5,
    `the backfill answered ${response.status()}: ${JSON.stringify(started)}`);
  const row = `[data-testid=backfill-row][data-backfill="${started.backfill_id}"]`;
  await page.click(`${row} [data-testid=cancel-backfill]`);
  await page.fill('[data-testid=field-reason]', 'wrong days');
  const [canceled] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' &&
      r.url().endsWith(`/api/v1/backfills/${started.backfill_id}/cancel`)),
    page.click('[data-testid=confirm-button]'),
  ]);
  const body = await canceled.json();
  check(canceled.status() === 200 && body.canceled.length >= 3,
    `the cancel answered ${canceled.status()}: ${JSON.stringify(body)}`);
  await page.waitForSelector(`${row}:not(:has([data-testid=cancel-backfill]))`);
  const progress = await page.textContent(`${row} [data-testid=backfill-progress]`);
  const failed = /^\d\/5 runs done, (\d) failed/.exec(progress);
  check(failed && Number(failed[1]) >= body.canceled.length,
    `the progress reads '${progress}' after ${body.canceled.length} runs were canceled`);
  log(`    backfill ${started.backfill_id}: ${progress}`);
  await shot(page, 'dag-backfills.png');
});

await step('a secret is masked on the run page, in the log and in the audit log', async () => {
  const visible = () => document.querySelector('main').innerText;
  const leaks = (text) => text.includes(SECRET) || text.includes(btoa(SECRET));
  await page.goto(url(`#/runs/${encodeURIComponent(SECRET_RUN)}`));
  await page.waitForSelector('[data-testid=gantt] .bar[data-task=leak]');
  let text = await page.evaluate(visible);
  check(!leaks(text), 'the run page shows the secret');
  check(/note=.*\*\*\*/.test(text), `the run page does not show the masked param: ${text}`);
  await page.goto(url(`#/runs/${encodeURIComponent(SECRET_RUN)}/tasks/leak/logs`));
  await page.waitForFunction(
    () => /password=/.test(document.querySelector('[data-testid=log-text]')?.textContent || ''));
  text = await page.textContent('[data-testid=log-text]');
  check(!leaks(text), 'the log shows the secret');
  // The param is shell-quoted in the script, so its mask is too.
  check(text.includes(`password=*** note='***'`), `the log is not masked: ${text.slice(0, 300)}`);
  await page.click('[data-testid=nav-audit]');
  await page.waitForFunction((run) =>
    (document.querySelector('[data-testid=audit-table]')?.textContent || '').includes(run),
  SECRET_RUN);
  text = await page.evaluate(visible);
  check(!leaks(text), 'the audit log shows the secret');
});

await step('the DAG list at a phone\'s size', async () => {
  const phone = await browser.newContext({viewport: {width: 390, height: 844}, isMobile: true,
    hasTouch: true});
  const small = await phone.newPage();
  small.setDefaultTimeout(STEP_MS);
  watchPage(small, problems);
  await small.goto(url());
  await small.waitForSelector(`[data-testid=dag-link][data-dag="${DAG}"]`);
  const width = await small.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `the page is ${width}px wide on a 390px screen`);
  await small.screenshot({path: path.join(outDir, 'dag-list-phone.png'), fullPage: true});
  await phone.close();
});

await step('no uncaught error or CSP violation', async () => {
  check(problems.length === 0, problems.join('\n'));
});

clearTimeout(watchdog);
await browser.close();
log(`screenshots in ${outDir}`);
console.log(`ui_test: ${passed} passed, 0 failed`);
