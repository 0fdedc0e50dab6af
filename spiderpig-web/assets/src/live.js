/* SpiderPig's page scripts, part 6 of 7: the freeze banner and the rows of
 * job tables, on any page that has them. An ordered classic script (see
 * vocab.js); needs dom.js, api.js, socket.js and notify.js.
 *
 *   #freeze-banner         `hidden` without a freeze; #freeze-reason, #freeze-by,
 *                          #freeze-until inside (any page that has it)
 *   tr[data-job][data-state] rows of job tables (#queue, #my-jobs, #history):
 *                          their span.state and td.outcome follow job events
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;
  const $ = (id) => document.getElementById(id);

  function renderFreeze(f) {
    const banner = $('freeze-banner');
    if (!banner || !f) return;
    banner.hidden = !f.active;
    if (!f.active) return;
    const reason = $('freeze-reason');
    const by = $('freeze-by');
    const until = $('freeze-until');
    if (reason) reason.textContent = f.reason || '';
    if (by) by.textContent = f.by || '';
    if (until) until.replaceChildren(...(f.until_ms ? ['until ', SP.timeEl(f.until_ms)] : ['until unfrozen']));
  }

  /** Rows of job tables follow their job's state and outcome. */
  function updateRows(job) {
    for (const row of document.querySelectorAll('tr[data-job="' + job.id + '"]')) {
      if (row.closest('#queue')) continue; // the dashboard redraws the queue itself
      if (row.dataset.state === job.state) continue;
      row.dataset.state = job.state;
      const badge = row.querySelector('span.state');
      if (badge) badge.replaceWith(SP.stateBadge(job.state));
      const failed = row.querySelector('span.exit-failed');
      if (failed) failed.remove();
      if (badge && typeof job.exit_code === 'number' && job.exit_code !== 0) {
        const cell = row.querySelector('span.state').parentElement;
        cell.append(' ', SP.el('span', { class: 'exit-failed', text: 'scap exit ' + job.exit_code }));
      }
      const outcome = row.querySelector('td.outcome');
      if (outcome && typeof job.outcome === 'string' && job.outcome !== '') outcome.textContent = job.outcome;
    }
  }

  SP.socket.on('freeze', (msg) => renderFreeze(msg.freeze));
  SP.socket.on('queue', (msg) => { if (msg.queue) renderFreeze(msg.queue.freeze); });
  SP.jobListeners.add(updateRows);

  // The jobs in a queue snapshot are seen too, without going to the page
  // listeners (the dashboard and job page read `queue` frames themselves).
  SP.socket.on('queue', (msg) => {
    if (!msg.queue) return;
    for (const j of [msg.queue.active].concat(msg.queue.queued || [])) {
      if (j && SP.helpers.isJobId(j.id)) {
        SP.watcher.seeJob(j);
        updateRows(j);
      }
    }
  });
})();
