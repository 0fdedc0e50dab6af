/* SpiderPig's monitoring panels, on the dashboard and the job page. Loaded
 * by app.js there (after uPlot, /assets/uplot.js, when it loads; without it
 * the panels are text only); does nothing until app.js calls start().
 *
 * The data comes only from the WebSocket's `metrics` frames (docs/API.md):
 * the web process asks Prometheus once for everyone; this page never does.
 * Under CSP `style-src 'self'`: uPlot sizes its elements from JS (the CSSOM),
 * which CSP allows; nothing here writes a style attribute or HTML.
 *
 * DOM (created here, so pages need no markup for it):
 *
 *   section#monitoring.card     after #active-job (dashboard) or before the
 *                               log (job page); h2 "Monitoring"
 *     div.panel[data-panel=i]   h3 (the title), div.chart (uPlot; hidden on
 *                               error), p.panel-now (the value in words),
 *                               p.panel-error (hidden unless the frame has
 *                               an error), p.visually-hidden[aria-live=polite]
 *                               ("MediaWiki errors: 12.5 errors per minute, up
 *                               from 3.1 before the deployment")
 *   div#spike-alert.banner.error[role=alert]
 *                               job page, for the job's owner, while the frame
 *                               carries a spike for this job: what rose, from
 *                               what to what, since which stage, and the
 *                               roll-back choices of scap's pending prompt
 *                               (buttons POSTing /api/jobs/<id>/respond)
 */
'use strict';

(function () {
  const SP = (globalThis.SpiderPig = globalThis.SpiderPig || {});

  // ---- Pure helpers (no DOM; tested with node in ../tests) -------------------

  /** Stages drawn as markers, with their labels. */
  const MARKED = Object.freeze({
    test_servers: 'Test servers',
    canaries: 'Canaries',
    production: 'Production',
    complete: 'Complete',
  });

  /** 12.54 → "12.5"; 0.0123 → "0.012"; 1234.5 → "1235". */
  function formatValue(v) {
    const n = Number(v);
    if (!Number.isFinite(n)) return '—';
    const a = Math.abs(n);
    const digits = a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    return String(Number(n.toFixed(digits)));
  }

  /** "errors/min" → "errors per minute". */
  function unitWords(unit) {
    return String(unit || '')
      .replace(/\/\s*min$/, ' per minute')
      .replace(/\/\s*s$/, ' per second')
      .replace(/\/\s*h$/, ' per hour')
      .trim();
  }

  function median(values) {
    const v = values.filter(Number.isFinite).sort((a, b) => a - b);
    if (!v.length) return null;
    const mid = Math.floor(v.length / 2);
    return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
  }

  /** The median of the points in the `windowMs` before `startMs` (null without). */
  function baseline(points, startMs, windowMs) {
    if (!Number.isFinite(startMs)) return null;
    return median((points || []).filter((p) => p[0] < startMs && p[0] >= startMs - windowMs).map((p) => p[1]));
  }

  /** The sentence for screen readers (and under the chart). */
  function sentence(panel, before) {
    const title = String(panel.title || 'Panel');
    if (panel.error) return title + ': ' + panel.error;
    if (panel.latest === null || panel.latest === undefined) return title + ': no data yet.';
    const unit = unitWords(panel.unit);
    let text = title + ': ' + formatValue(panel.latest) + (unit ? ' ' + unit : '');
    if (before !== null && before !== undefined) {
      const word = panel.latest > before ? 'up from ' : panel.latest < before ? 'down from ' : 'the same as ';
      text += ', ' + word + formatValue(before) + ' before the deployment';
    }
    return text + '.';
  }

  /** Vertical markers `{at_ms, label}` for a job: start, stage changes, finish. */
  function markers(job) {
    if (!job) return [];
    const out = [];
    if (job.started_at_ms) out.push({ at_ms: job.started_at_ms, label: 'Start' });
    for (const m of job.stage_marks || []) {
      if (Object.prototype.hasOwnProperty.call(MARKED, m.stage) && Number.isFinite(m.at_ms)) {
        out.push({ at_ms: m.at_ms, label: MARKED[m.stage] });
      }
    }
    if (job.ended_at_ms) out.push({ at_ms: job.ended_at_ms, label: 'Finish' });
    return out;
  }

  /** The choices of a prompt that roll back ("Roll back …", not "… without rollback"). */
  function rollbackChoices(choices) {
    return (choices || []).filter((c) => /roll[\s-]?back/i.test(c.label) && !/without/i.test(c.label));
  }

  /** "MediaWiki errors rose from 3.1 to 40 errors/min since Canaries." */
  function spikeText(spike, stageWords) {
    const since = spike.since_stage === 'start' ? 'the start of the job'
      : spike.since_stage === 'before' ? 'before the job started' : stageWords(spike.since_stage);
    const unit = spike.unit ? ' ' + spike.unit : '';
    return String(spike.panel) + ' rose from ' + formatValue(spike.from) + ' to ' + formatValue(spike.to) + unit +
      ' since ' + since + ' (alert above ' + formatValue(spike.threshold) + ').';
  }

  const helpers = Object.freeze({ MARKED, formatValue, unitWords, median, baseline, sentence, markers, rollbackChoices, spikeText });

  // ---- The panels ------------------------------------------------------------

  const BASELINE_MS = 30 * 60 * 1000;
  const $ = (id) => document.getElementById(id);
  const el = (...args) => SP.el(...args);

  // The page's state, set once by start().
  let page = '';
  let root = null; // section#job on the job page
  let jobId = 0;
  let owner = '';
  let thisJob = null; // the job page's job view (for its markers)
  let last = null; // the last `metrics` frame
  let panelsBox = null;
  let shownSpike = '';
  const charts = new Map();

  /** section#monitoring, placed after #active-job or before the log. */
  function buildSection() {
    const section = el('section', { id: 'monitoring', class: 'card monitoring', 'aria-labelledby': 'monitoring-heading' },
      el('h2', { id: 'monitoring-heading', text: 'Monitoring' }));
    panelsBox = el('div', { class: 'panels' });
    section.append(panelsBox);
    const log = $('terminal') && $('terminal').closest('section');
    const anchor = page === 'dashboard' ? $('active-job') : null;
    if (anchor) anchor.after(section);
    else if (log) log.before(section);
    else ($('main') || document.body).append(section);
  }

  function panelBox(i, title) {
    let box = panelsBox.querySelector('div.panel[data-panel="' + i + '"]');
    if (box) return box;
    box = el('div', { class: 'panel', 'data-panel': i },
      el('h3', { text: title }),
      el('div', { class: 'chart' }),
      el('p', { class: 'panel-now' }),
      el('p', { class: 'panel-error', hidden: true }),
      el('p', { class: 'visually-hidden', 'aria-live': 'polite' }));
    panelsBox.append(box);
    return box;
  }

  function drawMarks(u, marks) {
    const ctx = u.ctx;
    ctx.save();
    ctx.strokeStyle = '#d73333';
    ctx.fillStyle = '#d73333';
    ctx.lineWidth = 1;
    ctx.setLineDash([4, 3]);
    ctx.font = Math.round(11 * (window.devicePixelRatio || 1)) + 'px sans-serif';
    for (const m of marks) {
      const x = Math.round(u.valToPos(m.at_ms / 1000, 'x', true));
      if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
      ctx.beginPath();
      ctx.moveTo(x, u.bbox.top);
      ctx.lineTo(x, u.bbox.top + u.bbox.height);
      ctx.stroke();
      ctx.fillText(m.label, x + 3, u.bbox.top + 12);
    }
    ctx.restore();
  }

  function markerPlugin(getMarks) {
    return { hooks: { draw: [(u) => drawMarks(u, getMarks())] } };
  }

  function currentMarks() {
    const active = last && last.active;
    if (page === 'job') {
      if (thisJob) return markers(thisJob);
      return active && active.job === jobId ? markers(active) : [];
    }
    return markers(active);
  }

  function drawChart(i, box, p) {
    const target = box.querySelector('div.chart');
    if (typeof globalThis.uPlot !== 'function') {
      target.hidden = true;
      return;
    }
    const data = [p.points.map((q) => q[0] / 1000), p.points.map((q) => q[1])];
    let chart = charts.get(i);
    if (!chart) {
      const width = Math.max(240, target.clientWidth || panelsBox.clientWidth || 600);
      chart = new globalThis.uPlot({
        width,
        height: 180,
        series: [{}, { label: p.title, stroke: '#36c', width: 2, value: (u, v) => (v === null ? '—' : formatValue(v) + ' ' + (p.unit || '')) }],
        axes: [{}, { size: 60 }],
        legend: { show: true },
        plugins: [markerPlugin(currentMarks)],
      }, data, target);
      charts.set(i, chart);
    } else {
      chart.setData(data);
    }
    target.hidden = false;
  }

  function renderPanel(i, p, active) {
    const box = panelBox(i, p.title);
    const started = page === 'job' ? (thisJob || active || {}).started_at_ms : active && active.started_at_ms;
    const before = last && last.spike && last.spike.panel === p.title ? last.spike.from : baseline(p.points, started, BASELINE_MS);
    const err = box.querySelector('p.panel-error');
    const now = box.querySelector('p.panel-now');
    const live = box.querySelector('p[aria-live]');
    const text = sentence(p, p.error ? null : before);
    if (p.error) {
      err.textContent = p.error;
      err.hidden = false;
      now.hidden = true;
      box.querySelector('div.chart').hidden = true;
    } else {
      err.hidden = true;
      now.hidden = false;
      now.textContent = text;
      drawChart(i, box, p);
    }
    if (live.textContent !== text) live.textContent = text;
  }

  function render() {
    if (!last) return;
    const active = last.active || null;
    (last.panels || []).forEach((p, i) => renderPanel(i, p, active));
    for (const c of charts.values()) c.redraw(false, false);
    renderSpike(last.spike || null);
  }

  // -- the spike prompt (job page, owner only) --

  /** A button answering scap's prompt `promptId` with the choice `c`. */
  function rollbackButton(promptId, c) {
    const b = el('button', { type: 'button', class: 'destructive', 'data-key': c.key, text: c.label });
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        SP.publishJob(await SP.apiPost('/api/jobs/' + jobId + '/respond', { prompt_id: promptId, key: c.key }));
        SP.announce('Answered: ' + c.label + '.');
      } catch (e) {
        SP.showAlert(e.message);
        b.disabled = false;
      }
    });
    return b;
  }

  function rollbackButtons() {
    const box = $('prompt');
    if (!box || box.hidden || !box.dataset.prompt) return null;
    const promptId = Number(box.dataset.prompt);
    const choices = Array.from(box.querySelectorAll('button[name="key"]')).map((b) => ({
      key: b.value,
      label: (b.textContent || '').replace(/ \(default\)$/, ''),
    }));
    const back = rollbackChoices(choices);
    if (!back.length) return null;
    return el('div', { class: 'choices' }, ...back.map((c) => rollbackButton(promptId, c)));
  }

  function renderSpike(spike) {
    if (page !== 'job') return;
    let box = $('spike-alert');
    const mine = spike && spike.job === jobId && SP.me && SP.me === owner && spike.owner === owner;
    if (!mine) {
      if (box) box.hidden = true;
      shownSpike = '';
      return;
    }
    const text = spikeText(spike, SP.helpers.stageWords);
    const buttons = rollbackButtons();
    const key = text + '|' + (buttons ? buttons.textContent : '') + '|' + (($('prompt') || {}).dataset || {}).prompt;
    if (box && !box.hidden && key === shownSpike) return;
    shownSpike = key;
    if (!box) {
      box = el('div', { id: 'spike-alert', class: 'banner error spike-alert', role: 'alert' });
      const strip = $('stage-strip') || root;
      strip.after(box);
    }
    box.replaceChildren(
      el('strong', { text: 'The error rate changed significantly. ' }),
      text, ' ',
      buttons ? 'scap offers to roll back now:' : 'scap offers no roll-back choice right now; it asks at the next stage, or revert after the job.',
      buttons);
    box.hidden = false;
    SP.notifications.notify('spike:' + jobId + ':' + spike.panel + ':' + spike.at_ms,
      'Error rate rose during your deployment', text, '/jobs/' + jobId);
  }

  /** The job page follows its job (markers) and scap's prompt (roll-back buttons). */
  function followJobPage() {
    SP.jobListeners.add((j) => {
      if (j.id !== jobId) return;
      thisJob = j;
      render();
    });
    // The roll-back buttons follow scap's pending prompt (job.js redraws it).
    const promptBox = $('prompt');
    if (promptBox && typeof MutationObserver === 'function') {
      new MutationObserver(() => { if (last) renderSpike(last.spike || null); })
        .observe(promptBox, { attributes: true, childList: true, subtree: false });
    }
  }

  function start(opts) {
    page = (opts && opts.page) || SP.page;
    root = page === 'job' ? $('job') : null;
    jobId = root ? Number(root.dataset.jobId || root.dataset.job) : 0;
    owner = root ? root.dataset.owner || '' : '';
    buildSection();
    SP.socket.on('metrics', (msg) => {
      if (!Array.isArray(msg.panels)) return;
      last = msg;
      render();
    });
    if (page === 'job') followJobPage();
    window.addEventListener('resize', () => {
      for (const c of charts.values()) {
        const box = c.root.parentElement;
        if (box && box.clientWidth) c.setSize({ width: box.clientWidth, height: 180 });
      }
    });
  }

  SP.monitor = Object.freeze({ helpers, start });
})();
