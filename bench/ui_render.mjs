// How long Debian's headless Chromium takes to show a DAG page of weir's dashboard: from the
// start of navigation until every grid cell of the page's runs is drawn. Prints the best of N
// tries in milliseconds, each in a fresh browser context (no cache).
//
//   node bench/ui_render.mjs BASE_URL DAG_ID TRIES
import {chromium} from '../tests/e2e/ui/node_modules/playwright-core/index.mjs';

const [base, dag, tries = '3'] = process.argv.slice(2);
if (!base || !dag) {
  console.error('usage: node bench/ui_render.mjs BASE_URL DAG_ID [TRIES]');
  process.exit(2);
}
const browser = await chromium.launch(
    {executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox']});
let best = Infinity;
try {
  for (let i = 0; i < Number(tries); ++i) {
    const context = await browser.newContext({viewport: {width: 1280, height: 800}});
    const page = await context.newPage();
    const started = Date.now();
    await page.goto(`${base}/#/dags/${encodeURIComponent(dag)}`, {timeout: 30000});
    // 25 runs x 10 tasks.
    await page.waitForFunction(
        () => document.querySelectorAll('[data-testid=grid-cell]').length >= 250,
        null, {timeout: 30000});
    best = Math.min(best, Date.now() - started);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(best);
