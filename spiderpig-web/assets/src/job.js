/* SpiderPig's job page (body[data-page=job]): the live job controls and the
 * log (terminal.js draws it). Loaded by app.js only there, after xterm.js,
 * addon-fit.js and terminal.js; it does nothing until app.js calls start().
 *
 * The markup mirrors pages/job/render.rs, whose module header
 * (pages/job.rs) documents the DOM contract. Used here:
 *
 *   section#job[data-job][data-owner][data-state][data-can-act="true|false"]
 *                   data-can-act: the viewer is the owner or an admin (the
 *                   executor decides anyway); data-may-drive is read too
 *   dl.facts        #job-state[data-state] (holds span.state), #job-place and
 *                   #job-ready-deadline (rows added/hidden as they apply),
 *                   #status-line, #job-outcome, #job-exit-code, #job-started,
 *                   #job-ended, #job-finished-by
 *   ol#stage-strip[data-stage] > li[data-stage]
 *                   class done | current | pending (+ failed when the job
 *                   stopped there), aria-current="step" on the current one,
 *                   span.stage-mark " (done)" / " (current)" / " (stopped)"
 *   #progress-box   `hidden` without progress; label#progress-label,
 *                   progress#progress[max=100]
 *   section#prompt[data-prompt]
 *                   `hidden` when nothing is pending; pre#prompt-text, then
 *                   form#prompt-form (button[name=key][value] per choice, the
 *                   default with data-default, or input#prompt-line[name=line])
 *                   or p.waiting. Submitting POSTs /api/jobs/<id>/respond.
 *   section#actions[data-actions] form.action[data-action]
 *                   each form `hidden` unless its action is among the job's
 *                   `actions` (the policy's answer for this viewer, in the
 *                   job's JSON; data-actions holds it as rendered); its
 *                   button[data-action] is handled by app.js
 *   div#terminal[data-job][data-last-seq]
 *                   xterm.js mounts here (terminal.js); without it (xterm.js
 *                   failed to load) the log streams as text into
 *                   pre#log-fallback
 */
'use strict';

(function () {
  const SP = (globalThis.SpiderPig = globalThis.SpiderPig || {});

  // ---- Pure helpers (no DOM; tested with node in ../tests) -------------------

  /** Text without any terminal control (terminal.js, loaded first). */
  const plainText = (s) => SP.terminal.helpers.plainText(s);

  /** The stages of the strip and the states that stop it badly: the policy's, from script#vocab. */
  const VOCAB = SP.helpers.VOCAB;
  const STAGES = VOCAB.strip;
  /** The text after a stage's name (pages/job/render.rs `stage_strip`). */
  const STAGE_MARKS = Object.freeze({ done: ' (done)', current: ' (current)', failed: ' (stopped)', pending: '' });

  /**
   * Each stage's status: done before the job's stage, current at it (the
   * server's rule, `complete` included), pending after; the current stage is
   * "failed" when the job stopped there badly (scap failed, the job was
   * cancelled, expired, interrupted or never started).
   */
  function stageStates(job) {
    const at = STAGES.indexOf(job.stage);
    const failedExit = job.exit_code !== null && job.exit_code !== undefined && job.exit_code !== 0;
    const stopped = VOCAB.endedBadly.has(job.state) || failedExit;
    const out = {};
    STAGES.forEach((s, i) => {
      if (at < 0 || i > at) out[s] = 'pending';
      else if (i < at) out[s] = 'done';
      else out[s] = stopped && s !== 'complete' ? 'failed' : 'current';
    });
    return out;
  }

  /** The progress label, as the page writes it: "sync-world: 38 of 120 done, 2 failed". */
  function progressText(p) {
    let text = plainText(p.name || '') + ': ' + (p.ok || 0) + ' of ' + (p.total || 0) + ' done';
    if (p.failed > 0) text += ', ' + p.failed + ' failed';
    return text;
  }

  function clampPercent(v) {
    const n = Number(v);
    return Number.isFinite(n) ? Math.min(100, Math.max(0, n)) : 0;
  }

  /**
   * Whether snapshot `next` of a job may replace `shown`: the executor bumps
   * `version` on every change of the job, so an older snapshot (an action's
   * answer that lost the race with the socket's job frame) is dropped. A
   * snapshot without a version (none shown yet) is taken.
   */
  function isNewer(next, shown) {
    if (!shown || !Number.isSafeInteger(shown.version) || !Number.isSafeInteger(next.version)) return true;
    return next.version >= shown.version;
  }

  const helpers = Object.freeze({ STAGES, STAGE_MARKS, stageStates, progressText, clampPercent, isNewer });

  // ---- The page ----------------------------------------------------------------
  //
  // The functions below that need more than the job shown take `page`, the
  // one object start() builds: the section#job root, the job's id and owner,
  // whether this viewer may act, the job as last drawn (`job`, replaced as
  // newer snapshots arrive), section#prompt and the log output (terminal.js).

  const $ = (id) => document.getElementById(id);

  /** The page object from section#job (start() adds the prompt box and output), or null off a job page. */
  function readPage() {
    const root = $('job');
    const idText = root ? root.dataset.jobId || root.dataset.job || '' : '';
    if (!SP.helpers.isJobId(idText)) return null;
    const jobId = Number(idText);
    const owner = root.dataset.owner || '';
    const flag = root.dataset.canAct !== undefined ? root.dataset.canAct : root.dataset.mayDrive;
    const canAct = flag !== undefined ? flag === 'true' : owner !== '' && owner === SP.me;
    return {
      root,
      jobId,
      owner,
      canAct,
      job: { id: jobId, owner, state: root.dataset.state || '' },
      promptBox: null,
      output: null,
    };
  }

  // -- facts --

  /** Sets a fact's value; `null` hides its row; a missing row is added. */
  function fact(page, id, label, content, beforeId) {
    const el = SP.el;
    let dd = $(id);
    if (content === null) {
      if (dd) showRow(dd, false);
      return;
    }
    if (!dd) {
      const dl = page.root.querySelector('dl.facts');
      if (!dl) return;
      dd = el('dd', { id });
      const before = beforeId && $(beforeId);
      const anchor = before && before.previousElementSibling && before.previousElementSibling.tagName === 'DT' ? before.previousElementSibling : null;
      if (anchor) anchor.before(el('dt', { text: label }), dd);
      else dl.append(el('dt', { text: label }), dd);
    }
    dd.replaceChildren(content);
    showRow(dd, true);
  }

  function showRow(dd, shown) {
    dd.hidden = !shown;
    const dt = dd.previousElementSibling;
    if (dt && dt.tagName === 'DT') dt.hidden = !shown;
  }

  function renderFacts(page, j) {
    const state = $('job-state');
    if (state) {
      state.dataset.state = j.state;
      state.replaceChildren(SP.stateBadge(j.state));
    }
    fact(page, 'job-place', 'Place in queue', j.queue_position ? String(j.queue_position) : null, 'status-line');
    // Only while the owner is being asked: after Ready the deadline is moot.
    fact(page, 'job-ready-deadline', 'Ready by', j.state === 'awaiting_ready' && j.ready_deadline_ms ? SP.timeEl(j.ready_deadline_ms) : null, 'status-line');
    fact(page, 'status-line', 'Status', plainText(j.status_line || ''));
    fact(page, 'job-outcome', 'Outcome', j.outcome || '');
    fact(page, 'job-exit-code', 'Exit code', j.exit_code === null || j.exit_code === undefined ? '—' : String(j.exit_code));
    fact(page, 'job-started', 'Started', SP.timeEl(j.started_at_ms || 0));
    fact(page, 'job-ended', 'Ended', SP.timeEl(j.ended_at_ms || 0));
    fact(page, 'job-finished-by', 'Finished by', j.finished_by ? j.finished_by : null);
  }

  // -- stage strip and progress --

  function renderStages(j) {
    const strip = $('stage-strip');
    if (!strip) return;
    strip.dataset.stage = j.stage || 'queued';
    const states = stageStates(j);
    for (const li of strip.querySelectorAll('li[data-stage]')) {
      const st = states[li.dataset.stage] || 'pending';
      li.classList.remove('done', 'current', 'pending', 'failed');
      li.classList.add(st === 'failed' ? 'current' : st);
      if (st === 'failed') li.classList.add('failed');
      if (st === 'current' || st === 'failed') li.setAttribute('aria-current', 'step');
      else li.removeAttribute('aria-current');
      let mark = li.querySelector('.stage-mark');
      if (!mark) {
        mark = SP.el('span', { class: 'stage-mark' });
        li.append(mark);
      }
      mark.textContent = STAGE_MARKS[st];
    }
  }

  function renderProgress(j) {
    const box = $('progress-box');
    if (!box) return;
    const p = j.progress;
    box.hidden = !p;
    if (!p) return;
    const label = $('progress-label');
    if (label) label.textContent = progressText(p);
    const bar = $('progress');
    if (bar) {
      const pct = Math.round(clampPercent(p.percent));
      bar.max = 100;
      bar.value = pct;
      bar.textContent = pct + '%';
    }
  }

  // -- actions --

  function renderActions(j) {
    const box = $('actions');
    if (!box) return;
    const allowed = SP.helpers.jobActions(j);
    box.dataset.actions = allowed.join(' ');
    for (const form of box.querySelectorAll('form[data-action]')) {
      form.hidden = !allowed.includes(form.dataset.action);
    }
  }

  // -- prompts --

  function promptForm(page, p) {
    const el = SP.el;
    const form = el('form', { id: 'prompt-form', method: 'post', action: '/jobs/' + page.jobId + '/respond' },
      el('input', { type: 'hidden', name: 'csrf', value: SP.csrfToken() }),
      el('input', { type: 'hidden', name: 'prompt_id', value: p.id }));
    if (p.kind === 'input_line') {
      form.append(
        el('label', { for: 'prompt-line', text: 'Your answer' }),
        el('input', { id: 'prompt-line', name: 'line', maxlength: 200, autocomplete: 'off' }),
        el('button', { type: 'submit', class: 'primary', text: 'Send' }));
      return form;
    }
    const choices = el('div', { class: 'choices' });
    for (const c of p.choices || []) {
      const def = p.default_key !== null && p.default_key !== undefined && c.key === p.default_key;
      choices.append(el('button', {
        type: 'submit', name: 'key', value: c.key,
        class: def ? 'primary' : null, 'data-default': def ? 'true' : null,
      }, plainText(c.label), def ? ' (default)' : null));
    }
    form.append(choices);
    return form;
  }

  function renderPrompt(page, p) {
    const el = SP.el;
    const promptBox = page.promptBox;
    if (!promptBox) return;
    if (!p) {
      promptBox.hidden = true;
      promptBox.removeAttribute('data-prompt');
      return;
    }
    // Already shown (by the server or earlier): keep focus and typed text.
    if (promptBox.dataset.prompt === String(p.id) && !promptBox.hidden) return;
    const heading = promptBox.querySelector('h2') || el('h2', { id: 'prompt-heading', text: 'scap asks' });
    promptBox.replaceChildren(
      heading,
      el('pre', { id: 'prompt-text', class: 'prompt-text', text: plainText(p.text || '') }),
      page.canAct ? promptForm(page, p) : el('p', { class: 'waiting', text: 'Waiting for ' + page.owner + ' to answer.' }));
    promptBox.dataset.prompt = String(p.id);
    promptBox.hidden = false;
    const lines = plainText(p.text || '').split('\n').filter((l) => l.trim() !== '');
    const ask = lines.length ? lines[lines.length - 1] : '';
    SP.announce((page.canAct ? 'scap is waiting for your answer: ' : 'scap is waiting for an answer: ') + ask);
  }

  async function respond(page, form, body) {
    const controls = Array.from(form.querySelectorAll('button, input:not([type="hidden"])'));
    controls.forEach((c) => { c.disabled = true; });
    try {
      const answer = await SP.apiPost('/api/jobs/' + page.jobId + '/respond', body);
      SP.clearAlert();
      if (page.promptBox && page.promptBox.dataset.prompt === String(body.prompt_id)) renderPrompt(page, null);
      SP.publishJob(answer);
      // The answer is the job as it was when scap got the line; the socket
      // may already have brought a newer one (scap exiting right after an
      // answer), which that snapshot must not undo: read the job again.
      SP.apiGet('/api/jobs/' + page.jobId).then(SP.publishJob, () => {});
    } catch (e) {
      SP.showAlert(e.message);
      controls.forEach((c) => { c.disabled = false; });
    }
  }

  /** A submit inside section#prompt: answer the pending prompt by API instead. */
  function onPromptSubmit(page, ev) {
    const form = ev.target;
    if (!(form instanceof HTMLFormElement) || form.id !== 'prompt-form') return;
    ev.preventDefault();
    const hiddenId = form.querySelector('input[name="prompt_id"]');
    const promptId = Number(page.promptBox.dataset.prompt || (hiddenId && hiddenId.value));
    if (!Number.isSafeInteger(promptId) || promptId <= 0) return;
    const line = form.querySelector('#prompt-line');
    const by = ev.submitter;
    if (line) respond(page, form, { prompt_id: promptId, line: line.value });
    else if (by && by.name === 'key') respond(page, form, { prompt_id: promptId, key: by.value });
  }

  // -- the job as a whole --

  function applyJob(page, j) {
    const H = SP.helpers;
    if (!j || j.id !== page.jobId) return;
    if (!isNewer(j, page.job)) return;
    const before = page.job.state;
    page.job = j;
    page.root.dataset.state = j.state;
    renderFacts(page, j);
    renderStages(j);
    renderProgress(j);
    renderActions(j);
    renderPrompt(page, j.prompt || null);
    document.title = H.jobTitle(j, page.canAct);
    if (before && before !== j.state) SP.announce('Job #' + page.jobId + ': ' + H.stateWords(j.state) + '.');
  }

  /** The socket's job-wide frames: the queue, prompts and errors about this job. */
  function followJob(page) {
    const jobId = page.jobId;
    SP.jobListeners.add((j) => applyJob(page, j));
    SP.socket.on('queue', (msg) => {
      const q = msg.queue;
      const mine = q && [q.active].concat(q.queued || []).find((j) => j && j.id === jobId);
      if (mine) applyJob(page, mine);
    });
    SP.socket.on('prompt_opened', (msg) => {
      if (!msg.prompt || msg.prompt.job !== jobId) return;
      page.job = Object.assign({}, page.job, { prompt: msg.prompt, state: 'awaiting_input' });
      renderPrompt(page, msg.prompt);
      document.title = SP.helpers.jobTitle(page.job, page.canAct);
    });
    SP.socket.on('prompt_closed', (msg) => {
      const box = page.promptBox;
      if (msg.job !== jobId || !box || box.dataset.prompt !== String(msg.prompt_id)) return;
      renderPrompt(page, null);
      page.job = Object.assign({}, page.job, { prompt: null });
      SP.announce('Answered by ' + (msg.answered_by || 'someone') + (msg.answer ? ': ' + msg.answer : '') + '.');
    });
    SP.socket.on('error', (msg) => {
      if (msg.job === jobId && typeof msg.message === 'string') SP.showAlert(msg.message);
    });
  }

  /** The job's log: watched from the last record shown, on every (re)connection. */
  function followLog(page) {
    const jobId = page.jobId;
    // On every (re)connection: follow the log from the last record shown, and
    // read the job again in case a change went by while disconnected.
    SP.socket.onOpen(() => {
      SP.socket.send({ type: 'watch', job: jobId, after_seq: page.output.last() });
      SP.apiGet('/api/jobs/' + jobId).then(SP.publishJob, () => {});
    });
    SP.socket.on('log', (msg) => {
      if (msg.job === jobId) page.output.write(msg.records);
    });
    SP.socket.on('skipped', (msg) => {
      if (msg.job === jobId) page.output.skipTo(msg.next_seq);
    });
  }

  function start(ctx) {
    const page = readPage();
    if (!page) return;
    SP.watcher.seeJob(page.job);
    page.output = SP.terminal.startOutput(ctx && ctx.withTerminal);
    page.promptBox = $('prompt');
    if (page.promptBox) page.promptBox.addEventListener('submit', (ev) => onPromptSubmit(page, ev));
    followJob(page);
    followLog(page);
    if (page.job.state) document.title = SP.helpers.jobTitle(page.job, page.canAct);
  }

  SP.jobPage = Object.freeze({ helpers, start });
})();
