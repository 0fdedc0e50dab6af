// Tests of monitor.js's pure helpers: `npm test` in spiderpig-web/assets.
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

// The words the pages send in script#vocab (pages/vocab.rs checks this file).
const vocab = JSON.parse(fs.readFileSync(path.join(__dirname, 'vocab.json'), 'utf8'));
const ctx = vm.createContext({ SpiderPig: { vocab } });
for (const f of ['vocab.js', 'monitor.js']) {
  const file = path.join(__dirname, '..', 'src', f);
  vm.runInContext(fs.readFileSync(file, 'utf8'), ctx, { filename: file });
}
const m = ctx.SpiderPig.monitor.helpers;
const app = ctx.SpiderPig.helpers;

test('values and units in words', () => {
  assert.equal(m.formatValue(12.54), '12.5');
  assert.equal(m.formatValue(3.1), '3.1');
  assert.equal(m.formatValue(1234.5), '1235');
  assert.equal(m.formatValue(0.01234), '0.012');
  assert.equal(m.formatValue(NaN), '—');
  assert.equal(m.unitWords('errors/min'), 'errors per minute');
  assert.equal(m.unitWords('req/s'), 'req per second');
  assert.equal(m.unitWords('%'), '%');
});

test('the sentence for screen readers', () => {
  const p = { title: 'MediaWiki errors', unit: 'errors/min', latest: 12.5, error: null, points: [] };
  assert.equal(m.sentence(p, 3.1), 'MediaWiki errors: 12.5 errors per minute, up from 3.1 before the deployment.');
  assert.equal(m.sentence(p, null), 'MediaWiki errors: 12.5 errors per minute.');
  assert.equal(m.sentence(Object.assign({}, p, { latest: null }), null), 'MediaWiki errors: no data yet.');
  assert.equal(m.sentence(Object.assign({}, p, { error: 'Prometheus is unreachable (timed out)' }), 3),
    'MediaWiki errors: Prometheus is unreachable (timed out)');
});

test('baseline is the median before the start', () => {
  const pts = [[0, 100], [10, 1], [20, 3], [30, 2], [40, 50]];
  assert.equal(m.baseline(pts, 40, 35), 2);
  assert.equal(m.baseline(pts, 40, 5), null);
  assert.equal(m.baseline(pts, undefined, 5), null);
});

test('markers for the stage changes and the finish', () => {
  const job = {
    started_at_ms: 1,
    ended_at_ms: 9,
    stage_marks: [{ stage: 'merge', at_ms: 1 }, { stage: 'test_servers', at_ms: 2 }, { stage: 'canaries', at_ms: 3 },
      { stage: 'production', at_ms: 4 }, { stage: 'complete', at_ms: 5 }],
  };
  assert.deepEqual([...m.markers(job)].map((x) => x.label), ['Start', 'Test servers', 'Canaries', 'Production', 'Complete', 'Finish']);
  assert.equal(m.markers(null).length, 0);
});

test('roll-back choices are found in scap prompts', () => {
  const testServers = [{ label: 'Yes, continue with deployment', key: 'y' }, { label: 'No, roll back deployment and terminate', key: 'n' }];
  assert.deepEqual(m.rollbackChoices(testServers).map((c) => c.key), ['n']);
  const failed = [{ label: 'Retry sync', key: 'r' }, { label: 'Ignore failure and continue deployment', key: 'i' },
    { label: 'Roll back all stages and terminate', key: 'b' }, { label: 'Exit without rollback', key: 'x' }];
  assert.deepEqual(m.rollbackChoices(failed).map((c) => c.key), ['b']);
  assert.deepEqual(m.rollbackChoices([{ label: 'Yes', key: 'y' }]), []);
});

test('the spike sentence', () => {
  const spike = { panel: 'MediaWiki errors', unit: 'errors/min', from: 3.1, to: 40, threshold: 10, since_stage: 'canaries' };
  assert.equal(m.spikeText(spike, app.stageWords), 'MediaWiki errors rose from 3.1 to 40 errors/min since Canaries (alert above 10).');
  assert.match(m.spikeText(Object.assign({}, spike, { since_stage: 'start' }), app.stageWords), /since the start of the job/);
  assert.match(m.spikeText(Object.assign({}, spike, { since_stage: 'before' }), app.stageWords), /since before the job started/);
});
