// Tests of the page scripts' pure helpers: `npm test` in spiderpig-web/assets.
// vocab.js and the page scripts (which do nothing until started) run in a
// fresh context without `document` and publish their helpers on
// globalThis.SpiderPig; the DOM-only scripts (dom.js … app.js) are not loaded. The vocabulary the
// pages carry in script#vocab is given as SpiderPig.vocab, read from
// vocab.json (a Rust test in pages/vocab.rs checks it is what the pages send).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const VOCAB_JSON = fs.readFileSync(path.join(__dirname, 'vocab.json'), 'utf8');

function load(vocab = JSON.parse(VOCAB_JSON)) {
  const ctx = vm.createContext({ SpiderPig: { vocab } });
  for (const f of ['vocab.js', 'dashboard.js', 'terminal.js', 'job.js']) {
    const file = path.join(__dirname, '..', 'src', f);
    vm.runInContext(fs.readFileSync(file, 'utf8'), ctx, { filename: file });
  }
  const sp = ctx.SpiderPig;
  return { app: sp.helpers, job: Object.assign({}, sp.terminal.helpers, sp.jobPage.helpers) };
}

const { app, job } = load();
const ESC = '\x1b';

test('terminal text keeps printable text and SGR colours', () => {
  const s = `${ESC}[1;31merror${ESC}[0m: ok\tdone ${ESC}[38:2::1:2:3mx${ESC}[m`;
  assert.equal(job.sanitizeTerminalText(s), s);
  assert.equal(job.sanitizeTerminalText('plain <script>alert(1)</script>'), 'plain <script>alert(1)</script>');
  assert.equal(job.sanitizeTerminalText('a\rb'), 'a\rb');
});

test('OSC 8 hyperlinks and OSC 52 clipboard writes become plain text', () => {
  const link = `${ESC}]8;;https://evil.example/${ESC}\\click${ESC}]8;;${ESC}\\`;
  assert.equal(job.sanitizeTerminalText(link), 'click');
  const bel = `${ESC}]8;;javascript:alert(1)\x07click${ESC}]8;;\x07`;
  assert.equal(job.sanitizeTerminalText(bel), 'click');
  assert.equal(job.sanitizeTerminalText(`x${ESC}]52;c;ZXZpbA==\x07y`), 'xy');
  assert.equal(job.sanitizeTerminalText(`x${ESC}]52;c;ZXZpbA==`), 'x'); // unterminated
  assert.equal(job.sanitizeTerminalText(`x\u009d52;c;ZXZpbA==\u009cy`), 'x52;c;ZXZpbA==y'); // 8-bit OSC: text
});

test('cursor moves, clears, modes and other escapes are dropped', () => {
  for (const seq of ['[2J', '[3J', '[H', '[10;10H', '[?1000h', '[?1049h', '[?25l', '[6n', '[K', '[>c', '[1 q', 'c', '7', '(0', 'P1$qm\x1b\\', '_apc\x1b\\', '^pm\x1b\\']) {
    assert.equal(job.sanitizeTerminalText(`a${ESC}${seq}b`), 'ab', JSON.stringify(seq));
  }
  assert.equal(job.sanitizeTerminalText(`a\x07\x00\x08\x7f\u009bb`), 'ab');
  assert.equal(job.sanitizeTerminalText(`a${ESC}[?1;2m b`), 'a b'); // private SGR-like: dropped
  assert.equal(job.sanitizeTerminalText(`a${ESC}`), 'a');
  assert.equal(job.sanitizeTerminalText(`a${ESC}[12`), 'a');
});

test('removing one sequence never forms another', () => {
  const tricky = [
    `${ESC}${ESC}[1J]8;;http://x\x07t`,
    `${ESC}[${ESC}]52;c;QQ==\x07`,
    `${ESC}\x07]8;;u\x07t`,
    `${ESC}\x00[2J`,
  ];
  for (const s of tricky) {
    const out = job.sanitizeTerminalText(s);
    // Every escape left must start a well-formed SGR sequence.
    assert.doesNotMatch(out.replace(/\x1b\[[0-9;:]*m/g, ''), /\x1b|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/, JSON.stringify(s));
  }
});

test('records are decorated by kind and end with CR LF', () => {
  assert.equal(job.recordText({ seq: 1, kind: 'line', text: 'hello' }), 'hello\r\n');
  const red = job.recordText({ seq: 2, kind: 'redacted', text: '<sensitive information hidden>' });
  assert.match(red, /\x1b\[2;3m<sensitive information hidden>\x1b\[0m\r\n$/);
  assert.match(job.recordText({ kind: 'prompt', text: 'Continue?' }), /▶ Continue\?/);
  assert.match(job.recordText({ kind: 'answer', text: 'y' }), /◀ y/);
  assert.match(job.recordText({ kind: 'status', text: `${ESC}[31mMerging` }), /» Merging/);
  assert.doesNotMatch(job.recordText({ kind: 'status', text: `${ESC}[31mx` }), /\x1b\[31m/);
  assert.equal(job.recordPlain({ kind: 'system', text: `${ESC}[1mhi` }), '• hi\n');
});

test('a styled line ends with a reset, so no style reaches the next record', () => {
  assert.ok(job.recordText({ kind: 'line', text: `x ${ESC}[8m` }).endsWith(`${ESC}[0m\r\n`));
  assert.ok(job.recordText({ kind: 'line', text: `${ESC}[31mred` }).endsWith(`${ESC}[0m\r\n`));
  assert.equal(job.recordText({ kind: 'line', text: 'plain' }), 'plain\r\n');
});

// Arrays from the scripts' context have another Array.prototype: copy them.
const seqs = (records) => Array.from(records, (r) => r.seq);

test('the sequence tracker resumes with no gap and no duplicate', () => {
  const t = job.createSeqTracker(0);
  assert.deepEqual(seqs(t.accept([{ seq: 1 }, { seq: 2 }])), [1, 2]);
  // After a reconnect the server resends from after_seq; overlap is dropped.
  assert.deepEqual(seqs(t.accept([{ seq: 2 }, { seq: 3 }, { seq: 1 }])), [3]);
  assert.equal(t.last, 3);
  assert.deepEqual(seqs(t.accept([{ seq: 'x' }, null, { seq: 3.5 }])), []);
  assert.equal(t.skipTo(10), 6);
  assert.equal(t.last, 9);
  assert.equal(t.skipTo(5), 0);
  assert.deepEqual(seqs(t.accept([{ seq: 9 }, { seq: 10 }])), [10]);
});

test('stages: done before, current now, stopped when the job ended badly', () => {
  const s = job.stageStates({ stage: 'canaries', state: 'running' });
  assert.equal(s.merge, 'done');
  assert.equal(s.test_servers, 'done');
  assert.equal(s.canaries, 'current');
  assert.equal(s.production, 'pending');
  assert.equal(job.stageStates({ stage: 'canaries', state: 'interrupted' }).canaries, 'failed');
  assert.equal(job.stageStates({ stage: 'production', state: 'awaiting_finish', exit_code: 1 }).production, 'failed');
  const ok = job.stageStates({ stage: 'complete', state: 'done', exit_code: 0 });
  assert.equal(ok.complete, 'current');
  assert.equal(ok.production, 'done');
  assert.ok(Object.values(job.stageStates({ stage: 'queued', state: 'queued' })).every((v) => v === 'pending'));
  assert.equal(job.STAGE_MARKS.failed, ' (stopped)');
});

test('progress label matches the page', () => {
  assert.equal(job.progressText({ name: 'sync', ok: 38, failed: 2, total: 120, percent: 33.4 }), 'sync: 38 of 120 done, 2 failed');
  assert.equal(job.progressText({ name: `${ESC}[1mk8s`, ok: 1, failed: 0, total: 2 }), 'k8s: 1 of 2 done');
  assert.equal(job.clampPercent(250), 100);
  assert.equal(job.clampPercent('x'), 0);
});

test('socket URL follows the page scheme', () => {
  assert.equal(app.socketUrl({ protocol: 'https:', host: 'deploy.example:8443' }), 'wss://deploy.example:8443/ws');
  assert.equal(app.socketUrl({ protocol: 'http:', host: '127.0.0.1:8080' }), 'ws://127.0.0.1:8080/ws');
});

test('reconnect backoff goes from 1 s to at most 10 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 20].map((a) => app.backoffDelay(a, 0)), [1000, 2000, 4000, 8000, 10000, 10000, 10000]);
  assert.equal(app.backoffDelay(0, 0.999), 1200);
  assert.equal(app.backoffDelay(9, 0.999), 10000);
});

test('the allowed actions come with the job, the words with the page', () => {
  assert.deepEqual(Array.from(app.jobActions({ actions: ['ready', 'cancel', 7] })), ['ready', 'cancel']);
  assert.deepEqual(Array.from(app.jobActions({ state: 'awaiting_ready' })), []);
  assert.deepEqual(Array.from(app.VOCAB.apiActions), ['ready', 'cancel', 'interrupt', 'finish']);
  assert.deepEqual(Array.from(app.VOCAB.dashboardButtons, (a) => a.label), ['Ready to deploy', 'Cancel']);
  assert.equal(app.VOCAB.dashboardButtons[1].confirm, 'Cancel this job?');
});

test('without a vocabulary every word is unknown and no action is posted', () => {
  const bare = load({}).app;
  assert.equal(bare.stateWords('done'), 'Unknown');
  assert.equal(bare.stageWords('merge'), 'Unknown');
  assert.equal(bare.jobTitle({ id: 3, state: 'awaiting_input' }, true), 'unknown · Job 3 · SpiderPig');
  assert.deepEqual(Array.from(bare.VOCAB.apiActions), []);
  const odd = load(JSON.parse('{"states": {"running": 7, "done": "Done"}, "strip": "merge", "api_actions": [{}]}')).app;
  assert.equal(odd.stateWords('running'), 'Unknown');
  assert.equal(odd.stateWords('constructor'), 'Unknown');
  assert.equal(odd.stateWords('done'), 'Done');
  const hostile = odd;
  assert.deepEqual(Array.from(hostile.VOCAB.strip), []);
  assert.deepEqual(Array.from(hostile.VOCAB.apiActions), []);
});

test('titles, words, places and times', () => {
  assert.equal(app.jobTitle({ id: 12, state: 'awaiting_input' }, true), '▶ awaiting input · Job 12 · SpiderPig');
  assert.equal(app.jobTitle({ id: 12, state: 'awaiting_input' }, false), 'awaiting input · Job 12 · SpiderPig');
  assert.equal(app.jobTitle({ id: 3, state: '<b>' }, true), 'unknown · Job 3 · SpiderPig');
  assert.equal(app.stateWords('expired'), 'Expired (nobody said ready in time)');
  assert.equal(app.stateWords('__proto__'), 'Unknown');
  assert.equal(app.stageWords('test_servers'), 'Test servers');
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111].map(app.ordinal), ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '101st', '111th']);
  const q = { active: { id: 1, owner: 'bob', state: 'running' }, queued: [{ id: 2, owner: 'carol', queue_position: 1 }, { id: 3, owner: 'alice', queue_position: 2 }] };
  assert.equal(app.placeText(q, 'alice'), 'Your job #3 is number 2 in the queue.');
  assert.equal(app.placeText(q, 'dave'), 'You have no job in the queue.');
  assert.equal(app.placeText(q, 'bob'), 'Your job #1 is the current deployment.');
  assert.equal(app.placeText({ active: { id: 1, owner: 'bob', state: 'awaiting_ready' }, queued: [] }, 'bob'), 'It is your turn: job #1 is waiting for you to say you are ready.');
  assert.deepEqual(Array.from(app.utc(1714566896789)), ['2024-05-01T12:34:56Z', '2024-05-01 12:34:56 UTC']);
  assert.equal(app.utc(0), null);
  assert.ok(app.isJobId('12') && app.isJobId(12));
  assert.ok(!app.isJobId('012') && !app.isJobId('1e3') && !app.isJobId('') && !app.isJobId(0) && !app.isJobId('../x'));
});

test('a job snapshot replaces the shown one unless its version is older', () => {
  assert.equal(job.isNewer({ version: 4 }, { version: 3 }), true);
  assert.equal(job.isNewer({ version: 3 }, { version: 3 }), true);
  assert.equal(job.isNewer({ version: 2, last_seq: 90 }, { version: 3, last_seq: 10 }), false);
  // The log growing says nothing about which snapshot is newer.
  assert.equal(job.isNewer({ version: 5, last_seq: 10 }, { version: 4, last_seq: 90 }), true);
  assert.equal(job.isNewer({ version: 1 }, null), true);
  assert.equal(job.isNewer({}, { version: 3 }), true);
});
