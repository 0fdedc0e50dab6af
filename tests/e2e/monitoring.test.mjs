// The monitoring panel in headless Chromium, against a second demo whose
// Prometheus (the real server, over backfilled data) shows MediaWiki errors
// that rose ten minutes ago (./scripts/demo --metrics spike). deployer1
// deploys 42 and, at scap's test-server prompt, sees the chart, the value in
// words and the spike prompt with scap's roll-back choice, and rolls back
// from it; deployer2, watching the same job, sees the chart but no prompt.
// Screenshot: target/e2e-screenshots/job-spike.png
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { demoEnv, launch, openUser, shot, until, flows } from './lib.mjs';

const env = demoEnv('SPIDERPIG_SPIKE_DEMO_ENV');
const auth = {};
const { signIn, passTotp, queueJob, waitState, answer, click } = flows(env, auth);
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
});

test('the job page shows the error-rate chart and, to its owner, the spike prompt', { timeout: 240_000 }, async () => {
  const d1 = await openUser(browser, env.SPIDERPIG_URL, 'deployer1');
  const d2 = await openUser(browser, env.SPIDERPIG_URL, 'deployer2');
  for (const [rec, user] of [[d1, 'deployer1'], [d2, 'deployer2']]) {
    await signIn(rec, user);
    await passTotp(rec, user);
  }

  // The dashboard already charts the errors; nobody holds the lock: no prompt.
  const dash = d1.page;
  await dash.goto(env.SPIDERPIG_URL + '/');
  await dash.locator('#monitoring .panel .chart canvas').first().waitFor({ timeout: 60_000 });
  const words = (await dash.locator('#monitoring p.panel-now').first().textContent()).trim();
  assert.match(words, /^MediaWiki errors: 4\d(\.\d)? errors per minute/, words);
  assert.equal(await dash.locator('#spike-alert').count(), 0);

  const id = await queueJob(d1, 'deployer1', [42]);
  const page = d1.page;
  await waitState(page, ['awaiting_ready'], 30_000);
  await click(page, 'ready');
  await answer(page, 'y', /yes/i); // "Backport the changes?"
  // At the test-server prompt scap offers a roll-back: the spike prompt offers it too.
  await page.locator('#prompt:not([hidden]) #prompt-form button[name=key][value="n"]').waitFor({ timeout: 90_000 });
  const alert = page.locator('#spike-alert:not([hidden])');
  await alert.waitFor({ timeout: 60_000 });
  const text = (await alert.textContent()).replace(/\s+/g, ' ');
  assert.match(text, /The error rate changed significantly\./, text);
  assert.match(text, /MediaWiki errors rose from [23](\.\d+)? to 4\d(\.\d+)? errors\/min since before the job started \(alert above 10\)/, text);
  assert.match(text, /scap offers to roll back now:/, text);
  assert.equal(await page.locator('#monitoring .panel .chart canvas').count() > 0, true, 'the chart is drawn');
  const live = (await page.locator('#monitoring p[aria-live]').first().textContent()).trim();
  assert.match(live, /up from [23](\.\d+)? before the deployment/, live);
  await shot(page, 'job-spike');

  // Another viewer of the same job: the chart, never the owner's prompt.
  await d2.page.goto(env.SPIDERPIG_URL + '/jobs/' + id);
  await d2.page.locator('#monitoring .panel .chart canvas').first().waitFor({ timeout: 60_000 });
  await until(async () => (await d2.page.locator('#monitoring p.panel-now').first().textContent()).includes('errors per minute'),
    { timeout: 30_000, what: "deployer2's panel" });
  assert.equal(await d2.page.locator('#spike-alert:not([hidden])').count(), 0, 'only the owner is prompted');

  // The prompt's roll-back button answers scap's pending prompt.
  const back = alert.locator('button[data-key]');
  assert.ok(await back.count() >= 1, 'a roll-back choice is offered');
  assert.match(await back.first().textContent(), /roll/i);
  await back.first().click();
  await page.locator('#prompt:not([hidden]) #prompt-form button[name=key][value="a"]').waitFor({ timeout: 60_000 });
  await answer(page, 'a', /Acknowledge/);
  await waitState(page, ['awaiting_finish'], 60_000);
  await click(page, 'finish');
  await waitState(page, ['done'], 20_000);

  for (const rec of [d1, d2]) {
    await rec.collectCsp();
    assert.deepEqual(rec.csp, [], `${rec.name}: CSP violations`);
    assert.deepEqual(rec.consoleErrors, [], `${rec.name}: console errors`);
  }
});
