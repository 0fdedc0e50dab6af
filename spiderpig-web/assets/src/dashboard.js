/* SpiderPig's dashboard (body[data-page=dashboard]): the queue, the job
 * holding the lock and "your place", redrawn from each `queue` frame and
 * the active job's `job` frames. Loaded by app.js; does nothing until
 * app.js calls start(). The markup mirrors pages/dashboard.rs, whose
 * header documents the DOM contract:
 *
 *   #my-place                     one sentence
 *   section#active-job[data-job][data-job-id]
 *                                 its h2 stays; the rest is redrawn: p.none, or
 *                                 a.job-link, .owner, .changes, span.state,
 *                                 span.stage[data-stage], #active-status,
 *                                 div.actions[data-job-id][data-actions]
 *   table#queue[data-change-url]  tbody redrawn: tr[data-job][data-state]
 *                                 (class "mine"), td.place, job link, td.owner,
 *                                 td.changes, state, queued at, td.actions;
 *                                 tr.empty when nobody waits
 *
 * Which buttons a job gets is not decided here: each job in a `queue` or
 * `job` frame carries the `actions` its viewer may take now (the policy's
 * answer, computed by the web), and the dashboard shows those of them that
 * script#vocab lists as `dashboard_actions`, with their words.
 */
'use strict';

(function () {
  const SP = (globalThis.SpiderPig = globalThis.SpiderPig || {});
  const $ = (id) => document.getElementById(id);

  // Set by start(): the page's own title, and the last queue drawn.
  let baseTitle = '';
  let last = null;

  /** div.actions with the dashboard's buttons among the job's `actions`. */
  function actions(job) {
    const H = SP.helpers;
    const allowed = H.jobActions(job);
    const shown = H.VOCAB.dashboardButtons.filter((a) => allowed.includes(a.action));
    const box = SP.el('div', { class: 'actions', 'data-job-id': job.id, 'data-actions': shown.map((a) => a.action).join(' ') });
    for (const a of shown) {
      box.append(SP.el('button', {
        type: 'button',
        class: a.action === 'ready' ? 'primary' : null,
        'data-action': a.action,
        'data-confirm': a.confirm,
        'aria-label': a.label + ' (job ' + job.id + ')',
        text: a.label,
      }));
    }
    return box;
  }

  function queueRow(j, base) {
    const el = SP.el;
    const mine = j.owner === SP.me;
    return el('tr', { 'data-job': j.id, 'data-state': j.state, class: mine ? 'mine' : null },
      el('td', { class: 'place', text: j.queue_position ? String(j.queue_position) : '' }),
      el('td', {}, SP.jobLink(j.id)),
      el('td', { class: 'owner' }, j.owner, mine ? ' (you)' : null),
      el('td', { class: 'changes' }, SP.changeLinks(j.changes, base)),
      el('td', {}, SP.stateBadge(j.state)),
      el('td', {}, SP.timeEl(j.created_at_ms)),
      el('td', { class: 'actions' }, actions(j)));
  }

  function renderQueue(queued) {
    const el = SP.el;
    const table = $('queue');
    if (!table || !(table instanceof HTMLTableElement)) return;
    const base = SP.changeBase(table);
    const body = el('tbody');
    for (const j of queued) body.append(queueRow(j, base));
    if (queued.length === 0) {
      body.append(el('tr', { class: 'empty' }, el('td', { colspan: 7, text: 'The queue is empty.' })));
    }
    if (table.tBodies[0]) table.tBodies[0].replaceWith(body);
    else table.append(body);
  }

  function renderActive(j) {
    const el = SP.el;
    const box = $('active-job');
    if (!box) return;
    const heading = box.querySelector('h2');
    const base = SP.changeBase($('queue'));
    if (!j) {
      box.removeAttribute('data-job');
      box.removeAttribute('data-job-id');
      box.replaceChildren(...[heading, el('p', { class: 'none', text: 'Nobody is deploying; the lock is free.' })].filter(Boolean));
      return;
    }
    box.dataset.job = String(j.id);
    box.dataset.jobId = String(j.id);
    const parts = [
      heading,
      el('p', {}, SP.jobLink(j.id), ' by ', el('span', { class: 'owner', text: j.owner }), ': ',
        el('span', { class: 'changes' }, SP.changeLinks(j.changes, base))),
      el('p', {}, 'State: ', SP.stateBadge(j.state), ' · Stage: ',
        el('span', { class: 'stage', 'data-stage': j.stage, text: SP.helpers.stageWords(j.stage) })),
      el('p', { id: 'active-status', class: 'status-line', text: j.status_line || '' }),
    ];
    const buttons = actions(j);
    if (buttons.childElementCount > 0) parts.push(buttons);
    box.replaceChildren(...parts.filter(Boolean));
  }

  function render(q) {
    const me = SP.me;
    last = q;
    renderQueue(q.queued || []);
    renderActive(q.active || null);
    const place = $('my-place');
    if (place) place.textContent = SP.helpers.placeText(q, me);
    const a = q.active;
    document.title = a && a.owner === me && a.state === 'awaiting_ready' ? '▶ your turn · ' + baseTitle : baseTitle;
  }

  function start() {
    baseTitle = document.title;
    SP.socket.on('queue', (msg) => {
      if (msg.queue) render(msg.queue);
    });
    SP.jobListeners.add((job) => {
      if (!last || !last.active || last.active.id !== job.id) return;
      // Fields a job frame does not change stay as the queue had them.
      last = Object.assign({}, last, { active: job });
      render(last);
    });
  }

  SP.dashboard = Object.freeze({ start });
})();
