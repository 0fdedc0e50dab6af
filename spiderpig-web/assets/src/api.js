/* SpiderPig's page scripts, part 3 of 7: the JSON API, the job listeners
 * and the action buttons. An ordered classic script (see vocab.js); needs
 * vocab.js and dom.js.
 *
 *   button[data-action=ready|cancel|interrupt|finish] inside (or carrying)
 *                          [data-job-id]: a click POSTs /api/jobs/<id>/<action>
 *                          (JSON) instead of submitting the no-script form,
 *                          for the actions script#vocab lists in api_actions;
 *                          data-confirm="question" asks first
 *   [data-actions]         on section#actions and div.actions: the actions the
 *                          viewer may take now, as rendered (job.js and
 *                          dashboard.js keep it in step with each job's JSON
 *                          `actions`)
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;
  const H = SP.helpers;

  async function api(path, options) {
    let res;
    try {
      res = await fetch(path, Object.assign({ credentials: 'same-origin', cache: 'no-store' }, options));
    } catch (e) {
      throw new Error('Could not reach SpiderPig. Check your connection and try again.');
    }
    let data = null;
    try {
      data = await res.json();
    } catch (e) {
      data = null;
    }
    if (res.status === 401) {
      window.location.assign('/login');
      throw new Error('Your session has ended. Sign in again.');
    }
    if (!res.ok) {
      throw new Error(data && typeof data.message === 'string' && data.message ? data.message : 'The request failed (HTTP ' + res.status + ').');
    }
    return data;
  }

  /** GET JSON from the API. */
  function apiGet(path) {
    return api(path, { method: 'GET' });
  }

  /** POST JSON to the API with the CSRF token; resolves with the answer's JSON. */
  function apiPost(path, body) {
    return api(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': SP.csrfToken() },
      body: JSON.stringify(body || {}),
    });
  }

  const jobListeners = new Set();
  /** Job views from API answers and the socket go to every listener. */
  function publishJob(job) {
    if (!job || !H.isJobId(job.id) || typeof job.state !== 'string') return;
    for (const fn of jobListeners) {
      try { fn(job); } catch (e) { console.error('SpiderPig: a job listener failed', e); }
    }
  }

  async function runAction(button) {
    const action = button.dataset.action;
    const holder = button.closest('[data-job-id]');
    const id = button.dataset.jobId || (holder && holder.dataset.jobId) || '';
    if (!H.VOCAB.apiActions.includes(action) || !H.isJobId(id)) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    button.classList.add('busy');
    try {
      publishJob(await apiPost('/api/jobs/' + id + '/' + action, {}));
      SP.clearAlert();
      SP.announce((button.textContent || action).trim() + ': done.');
    } catch (e) {
      SP.showAlert(e.message);
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
    }
  }

  // One handler for every action button, also those added later.
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    if (!target || target.disabled || !H.VOCAB.apiActions.includes(target.dataset.action)) return;
    ev.preventDefault(); // the no-script form is not submitted
    runAction(target);
  });

  Object.assign(SP, { api, apiGet, apiPost, publishJob, jobListeners });
})();
