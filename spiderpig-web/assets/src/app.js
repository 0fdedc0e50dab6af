/* SpiderPig's page script: makes the server-rendered pages live.
 *
 * Loaded with `defer` on every page. Plain modern JS, no build step. It runs
 * under `script-src 'self'; style-src 'self'`: no inline script or style, no
 * eval; looks change only through classes, attributes and the CSSOM. Text
 * from users, Gerrit or scap is only ever set with textContent (or written to
 * the xterm.js terminal, which renders text), never parsed as HTML.
 *
 * This file holds what every page shares: helpers, the WebSocket, the
 * connection banner, alerts, action buttons, notifications, the freeze
 * banner and live job rows. Page code is loaded only where it is used:
 * dashboard.js on the dashboard; xterm.js, addon-fit.js, terminal.js and
 * job.js on a job page; uplot.js, uplot.css and monitor.js (the monitoring
 * panels) on both.
 *
 * No rule and no word of the job vocabulary is written here: the words
 * people read and the lists the scripts need come from the policy through
 * `script#vocab` (see below), and which actions a viewer may take now comes
 * with each job (`actions` in its JSON, `data-actions` in the markup).
 *
 * DOM contract. The pages document theirs at the top of
 * spiderpig-web/src/pages/{layout,dashboard,job,vocab}.rs; this script relies on:
 *
 *   script#vocab           a JSON data block (never executed), from the policy:
 *                          {states, stages: word → words; strip: stages of the
 *                          strip; waiting_for_person, ended_badly: states;
 *                          api_actions: what button[data-action] may post;
 *                          dashboard_actions: [{action, label, confirm}]}
 *   body[data-page]        login | totp | dashboard | deploy | job | history | message
 *   body[data-user]        the signed-in user; the WebSocket opens only with it
 *   meta[name=csrf-token]  sent as X-CSRF-Token with every POST
 *   #connection            banner, `hidden` unless the WebSocket is down or the
 *                          executor is unreachable (its text is set here)
 *   header.top .who        where the "Enable notifications" button goes
 *   #page-error            the page's role=alert region; created as #alert at
 *                          the top of <main> when the page has none
 *   #freeze-banner         `hidden` without a freeze; #freeze-reason, #freeze-by,
 *                          #freeze-until inside (any page that has it)
 *   tr[data-job][data-state] rows of job tables (#queue, #my-jobs, #history):
 *                          their span.state and td.outcome follow job events
 *   button[data-action=ready|cancel|interrupt|finish] inside (or carrying)
 *                          [data-job-id]: a click POSTs /api/jobs/<id>/<action>
 *                          (JSON) instead of submitting the no-script form,
 *                          for the actions script#vocab lists in api_actions;
 *                          data-confirm="question" asks first
 *   [data-actions]         on section#actions and div.actions: the actions the
 *                          viewer may take now, as rendered (job.js and
 *                          dashboard.js keep it in step with each job's JSON
 *                          `actions`)
 *
 * WebSocket /ws: server → client JSON text frames {type: queue | job |
 * prompt_opened | prompt_closed | freeze | log | skipped | error | revoked |
 * heartbeat | executor | metrics (monitor.js)}; unknown types are ignored. Client → server:
 * {type: "watch", job, after_seq} (job.js). Close code 4001: signed out.
 */
'use strict';

(function () {
  // ---- The vocabulary (data from the policy) ---------------------------------

  const own = (obj, key) => Object.prototype.hasOwnProperty.call(obj, key);

  /** `script#vocab` parsed; a missing or broken block leaves every word
   * "Unknown" and no action. Only under node (the tests: no document) is
   * SpiderPig.vocab read instead, so a page can never be handed another. */
  function readVocab() {
    if (typeof document === 'undefined') {
      const given = globalThis.SpiderPig && globalThis.SpiderPig.vocab;
      return given && typeof given === 'object' ? given : {};
    }
    // The page head's own element (first in the document), nothing else.
    const node = document.querySelector('head > script#vocab[type="application/json"]');
    try {
      const v = node ? JSON.parse(node.textContent || '{}') : {};
      return v && typeof v === 'object' ? v : {};
    } catch (e) {
      return {};
    }
  }

  /** word → words, strings only, with no prototype to look names up in. */
  function words(v) {
    const out = Object.create(null);
    for (const [k, w] of Object.entries(v && typeof v === 'object' ? v : {})) {
      if (typeof w === 'string') out[k] = w;
    }
    return Object.freeze(out);
  }
  const list = (v) => Object.freeze(Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);
  const vocab = readVocab();
  const VOCAB = Object.freeze({
    states: words(vocab.states),
    stages: words(vocab.stages),
    strip: list(vocab.strip),
    waitingForPerson: new Set(list(vocab.waiting_for_person)),
    endedBadly: new Set(list(vocab.ended_badly)),
    apiActions: list(vocab.api_actions),
    dashboardButtons: Object.freeze((Array.isArray(vocab.dashboard_actions) ? vocab.dashboard_actions : [])
      .filter((a) => a && typeof a.action === 'string' && typeof a.label === 'string')
      .map((a) => Object.freeze({ action: a.action, label: a.label, confirm: typeof a.confirm === 'string' ? a.confirm : null }))),
  });

  // ---- Pure helpers (no DOM; tested with node in ../tests) -------------------

  function stateWords(state) {
    return own(VOCAB.states, state) ? VOCAB.states[state] : 'Unknown';
  }

  function stageWords(stage) {
    return own(VOCAB.stages, stage) ? VOCAB.stages[stage] : 'Unknown';
  }

  /** Short state for the tab title: "awaiting input". */
  function stateShort(state) {
    return own(VOCAB.states, state) ? state.replace(/_/g, ' ') : 'unknown';
  }

  /** 1 → "1st", 2 → "2nd", 11 → "11th", 23 → "23rd". */
  function ordinal(n) {
    const v = Math.trunc(Number(n));
    const tens = v % 100;
    if (tens >= 11 && tens <= 13) return v + 'th';
    switch (v % 10) {
      case 1: return v + 'st';
      case 2: return v + 'nd';
      case 3: return v + 'rd';
      default: return v + 'th';
    }
  }

  /** Reconnect delay: 1 s, 2 s, 4 s, 8 s, then 10 s; `rand` in [0, 1) adds ≤ 20 %. */
  function backoffDelay(attempt, rand) {
    const base = Math.min(10000, 1000 * Math.pow(2, Math.max(0, attempt)));
    const jitter = typeof rand === 'number' ? rand : 0;
    return Math.min(10000, Math.round(base * (1 + 0.2 * jitter)));
  }

  /** The WebSocket URL on this origin: ws: for http:, wss: for https:. */
  function socketUrl(loc) {
    return (loc.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + loc.host + '/ws';
  }

  /** The actions a job view says its viewer may take now (`actions`, from the policy). */
  function jobActions(job) {
    return Array.isArray(job && job.actions) ? job.actions.filter((a) => typeof a === 'string') : [];
  }

  /** The tab title of a job page, e.g. "▶ awaiting input · Job 12 · SpiderPig". */
  function jobTitle(job, canAct) {
    const mark = canAct && VOCAB.waitingForPerson.has(job.state) ? '▶ ' : '';
    return mark + stateShort(job.state) + ' · Job ' + job.id + ' · SpiderPig';
  }

  /** Where `user` stands, in the words of pages/dashboard.rs `place_text`. */
  function placeText(queue, user) {
    const active = queue && queue.active;
    if (active && active.owner === user) {
      return active.state === 'awaiting_ready'
        ? 'It is your turn: job #' + active.id + ' is waiting for you to say you are ready.'
        : 'Your job #' + active.id + ' is the current deployment.';
    }
    const mine = ((queue && queue.queued) || []).find((j) => j.owner === user);
    return mine
      ? 'Your job #' + mine.id + ' is number ' + (mine.queue_position || 0) + ' in the queue.'
      : 'You have no job in the queue.';
  }

  /** `[iso, "2024-05-01 12:34:56 UTC"]` as the pages write times, or null for ≤ 0. */
  function utc(ms) {
    if (!Number.isFinite(ms) || ms <= 0 || ms > 8.64e15) return null;
    const iso = new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
    return [iso, iso.replace('T', ' ').replace('Z', ' UTC')];
  }

  function isJobId(v) {
    return typeof v === 'string' ? /^[1-9][0-9]{0,15}$/.test(v) : Number.isSafeInteger(v) && v > 0;
  }

  const helpers = Object.freeze({
    VOCAB,
    stateWords, stageWords, stateShort, ordinal, backoffDelay, socketUrl,
    jobActions, jobTitle, placeText, utc, isJobId,
  });

  const SpiderPig = (globalThis.SpiderPig = globalThis.SpiderPig || {});
  SpiderPig.helpers = helpers;

  // Under node (tests) there is no document: stop after the helpers.
  if (typeof document === 'undefined') return;

  // ---- Small DOM utilities ---------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const page = document.body.dataset.page || '';
  const me = document.body.dataset.user || '';

  /** An element; attributes are set as attributes (never HTML), children as nodes or text. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }

  function csrfToken() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') || '' : '';
  }

  /** A time as the pages write it: `time[datetime]` in UTC, or "—". */
  function timeEl(ms) {
    const t = utc(ms);
    return t ? el('time', { datetime: t[0], text: t[1] }) : document.createTextNode('—');
  }

  /** `span.state[data-state]` with the state in words (never colour alone). */
  function stateBadge(state) {
    return el('span', { class: 'state state-' + state, 'data-state': state, text: stateWords(state) });
  }

  function jobLink(id) {
    return el('a', { class: 'job-link', href: '/jobs/' + id, text: '#' + id });
  }

  /** Change numbers, linked when `base` is an https Gerrit base. */
  function changeLinks(changes, base) {
    const frag = document.createDocumentFragment();
    (changes || []).forEach((n, i) => {
      if (i > 0) frag.append(', ');
      frag.append(base ? el('a', { class: 'change', href: base + n, text: String(n) }) : String(n));
    });
    return frag;
  }

  /** The Gerrit base from `data-change-url`, only if it is https. */
  function changeBase(node) {
    const v = (node && node.dataset.changeUrl) || '';
    return /^https:\/\/[^\s"'<>\\]+$/.test(v) ? v : '';
  }

  // ---- Alerts and announcements ----------------------------------------------

  function alertRegion() {
    let node = $('page-error') || $('alert');
    if (!node) {
      node = el('p', { id: 'alert', class: 'banner error', role: 'alert', hidden: true });
      ($('main') || document.body).prepend(node);
    }
    return node;
  }

  function showAlert(text) {
    const node = alertRegion();
    node.textContent = text;
    node.hidden = false;
  }

  function clearAlert() {
    for (const node of [$('page-error'), $('alert')]) {
      if (node) {
        node.hidden = true;
        node.textContent = '';
      }
    }
  }

  let announcer = null;
  /** Says something to screen readers without moving focus. */
  function announce(text) {
    if (!announcer) {
      announcer = el('div', { class: 'visually-hidden', 'aria-live': 'polite', 'aria-atomic': 'true' });
      document.body.append(announcer);
    }
    announcer.textContent = '';
    // Set after a tick so a repeated sentence is announced again.
    setTimeout(() => { announcer.textContent = text; }, 50);
  }

  // ---- The JSON API ------------------------------------------------------------

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
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
      body: JSON.stringify(body || {}),
    });
  }

  const jobListeners = new Set();
  /** Job views from API answers and the socket go to every listener. */
  function publishJob(job) {
    if (!job || !isJobId(job.id) || typeof job.state !== 'string') return;
    for (const fn of jobListeners) {
      try { fn(job); } catch (e) { console.error('SpiderPig: a job listener failed', e); }
    }
  }

  async function runAction(button) {
    const action = button.dataset.action;
    const holder = button.closest('[data-job-id]');
    const id = button.dataset.jobId || (holder && holder.dataset.jobId) || '';
    if (!VOCAB.apiActions.includes(action) || !isJobId(id)) return;
    if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
    button.disabled = true;
    button.classList.add('busy');
    try {
      publishJob(await apiPost('/api/jobs/' + id + '/' + action, {}));
      clearAlert();
      announce((button.textContent || action).trim() + ': done.');
    } catch (e) {
      showAlert(e.message);
    } finally {
      button.disabled = false;
      button.classList.remove('busy');
    }
  }

  // One handler for every action button, also those added later.
  document.addEventListener('click', (ev) => {
    const target = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
    if (!target || target.disabled || !VOCAB.apiActions.includes(target.dataset.action)) return;
    ev.preventDefault(); // the no-script form is not submitted
    runAction(target);
  });

  // ---- WebSocket -----------------------------------------------------------------

  /** Silence longer than this (heartbeats come every 20 s) means a dead link. */
  const SILENCE_MS = 50000;
  /** The server closes with this code when the session has ended. */
  const CLOSE_REVOKED = 4001;

  const socket = (function () {
    const handlers = new Map();
    const openHandlers = new Set();
    let ws = null;
    let attempt = 0;
    let retryTimer = 0;
    let silenceTimer = 0;
    let stopped = true;
    let wsUp = true; // no banner before a connection fails
    let executorUp = true;

    function showStatus() {
      const banner = $('connection');
      if (!banner) return;
      if (!wsUp) banner.textContent = 'Lost the connection to SpiderPig. Reconnecting…';
      else if (!executorUp) banner.textContent = "Lost contact with SpiderPig's executor. Reconnecting…";
      banner.hidden = wsUp && executorUp;
    }

    function on(type, fn) {
      if (!handlers.has(type)) handlers.set(type, new Set());
      handlers.get(type).add(fn);
    }

    /** Runs `fn` on every (re)connection, and now if connected. */
    function onOpen(fn) {
      openHandlers.add(fn);
      if (ws && ws.readyState === WebSocket.OPEN) fn();
    }

    function send(obj) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(obj));
      return true;
    }

    function dispatch(msg) {
      const set = handlers.get(msg.type);
      if (!set) return; // unknown types are ignored
      for (const fn of set) {
        try {
          fn(msg);
        } catch (e) {
          console.error('SpiderPig: handling a "' + msg.type + '" message failed', e);
        }
      }
    }

    function expectTraffic(sock) {
      clearTimeout(silenceTimer);
      silenceTimer = setTimeout(() => lost(sock, 0), SILENCE_MS);
    }

    function signedOut() {
      stop();
      window.location.assign('/login');
    }

    function lost(sock, code) {
      if (ws !== sock) return;
      ws = null;
      clearTimeout(silenceTimer);
      try { sock.close(); } catch (e) { /* already closed */ }
      if (stopped) return;
      if (code === CLOSE_REVOKED) {
        signedOut();
        return;
      }
      wsUp = false;
      showStatus();
      schedule();
    }

    function schedule() {
      clearTimeout(retryTimer);
      retryTimer = setTimeout(connect, backoffDelay(attempt, Math.random()));
      attempt += 1;
      // A refused upgrade (signed out, 401) looks like a network error from
      // here: after a few failures, ask the page itself whether it now redirects.
      if (attempt === 3 || attempt % 6 === 0) checkSession();
    }

    async function checkSession() {
      try {
        const res = await fetch(window.location.pathname, { redirect: 'manual', cache: 'no-store', credentials: 'same-origin' });
        if (res.type === 'opaqueredirect' || res.status === 401) window.location.reload();
      } catch (e) {
        // The server is unreachable: keep retrying.
      }
    }

    function connect() {
      if (stopped) return;
      clearTimeout(retryTimer);
      let sock;
      try {
        sock = new WebSocket(socketUrl(window.location));
      } catch (e) {
        schedule();
        return;
      }
      ws = sock;
      expectTraffic(sock);
      sock.addEventListener('open', () => {
        if (ws !== sock) return;
        attempt = 0;
        wsUp = true;
        showStatus();
        for (const fn of openHandlers) {
          try { fn(); } catch (e) { console.error('SpiderPig: a socket open handler failed', e); }
        }
      });
      sock.addEventListener('message', (ev) => {
        if (ws !== sock) return;
        expectTraffic(sock);
        if (typeof ev.data !== 'string') return;
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg && typeof msg === 'object' && typeof msg.type === 'string') dispatch(msg);
      });
      // An 'error' event is always followed by 'close'.
      sock.addEventListener('close', (ev) => lost(sock, ev.code));
    }

    function start() {
      if (!stopped) return;
      stopped = false;
      connect();
    }

    function stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(silenceTimer);
      if (ws) {
        const s = ws;
        ws = null;
        try { s.close(1000); } catch (e) { /* ignore */ }
      }
    }

    on('executor', (msg) => {
      executorUp = msg.up !== false;
      showStatus();
    });
    on('revoked', signedOut);

    return Object.freeze({ on, onOpen, send, start, stop });
  })();

  // ---- Notifications --------------------------------------------------------------

  const notifications = (function () {
    const supported = 'Notification' in window && window.isSecureContext;
    const sent = new Set();

    /** The opt-in button; permission is asked only when it is clicked. */
    function offer() {
      const existing = $('notify');
      if (!supported || Notification.permission !== 'default') {
        if (existing) existing.hidden = true;
        return;
      }
      const host = document.querySelector('header.top .who') || document.querySelector('header.top');
      const btn = existing || el('button', {
        id: 'notify',
        type: 'button',
        class: 'link notify-button',
        title: 'Get a browser notification when it is your turn or scap asks you something',
        text: 'Enable notifications',
      });
      if (!existing) {
        if (!host) return;
        host.prepend(btn);
      }
      btn.hidden = false;
      btn.addEventListener('click', async () => {
        try {
          const answer = await Notification.requestPermission();
          btn.hidden = answer !== 'default';
          announce(answer === 'granted' ? 'Notifications are on.' : 'Notifications stay off.');
        } catch (e) {
          btn.hidden = true;
        }
      });
    }

    /** Shows a notification once per `key`, only when this tab is not in front. */
    function notify(key, title, body, url) {
      if (!supported || Notification.permission !== 'granted' || sent.has(key)) return;
      sent.add(key);
      if (document.visibilityState === 'visible' && document.hasFocus()) return;
      try {
        const n = new Notification(title, { body, tag: key });
        n.addEventListener('click', () => {
          window.focus();
          if (url && window.location.pathname !== url) window.location.assign(url);
          n.close();
        });
      } catch (e) {
        // Some browsers allow notifications only from a service worker.
      }
    }

    return Object.freeze({ offer, notify });
  })();

  /** Each job's owner and state, to notice "your turn" and prompts for me. */
  const watcher = (function () {
    const jobs = new Map();

    function seeJob(job) {
      const before = jobs.get(job.id);
      jobs.set(job.id, { owner: job.owner, state: job.state });
      if (job.owner !== me || job.state !== 'awaiting_ready') return;
      if (before && before.state !== 'awaiting_ready') {
        notifications.notify('ready:' + job.id, 'Your turn to deploy', 'Job #' + job.id + ' is waiting for you to say you are ready.', '/jobs/' + job.id);
      }
    }

    function seePrompt(prompt) {
      const known = jobs.get(prompt.job);
      if (!known || known.owner !== me) return;
      notifications.notify('prompt:' + prompt.job + ':' + prompt.id, 'scap is waiting for your answer', String(prompt.text || '').slice(0, 180), '/jobs/' + prompt.job);
    }

    return Object.freeze({ seeJob, seePrompt });
  })();

  socket.on('job', (msg) => publishJob(msg.job));
  socket.on('prompt_opened', (msg) => { if (msg.prompt) watcher.seePrompt(msg.prompt); });
  jobListeners.add((job) => watcher.seeJob(job));

  // ---- Freeze banner and job rows (any page that has them) ---------------------------

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
    if (until) until.replaceChildren(...(f.until_ms ? ['until ', timeEl(f.until_ms)] : ['until unfrozen']));
  }
  socket.on('freeze', (msg) => renderFreeze(msg.freeze));
  socket.on('queue', (msg) => { if (msg.queue) renderFreeze(msg.queue.freeze); });

  /** Rows of job tables follow their job's state and outcome. */
  function updateRows(job) {
    for (const row of document.querySelectorAll('tr[data-job="' + job.id + '"]')) {
      if (row.closest('#queue')) continue; // the dashboard redraws the queue itself
      if (row.dataset.state === job.state) continue;
      row.dataset.state = job.state;
      const badge = row.querySelector('span.state');
      if (badge) badge.replaceWith(stateBadge(job.state));
      const failed = row.querySelector('span.exit-failed');
      if (failed) failed.remove();
      if (badge && typeof job.exit_code === 'number' && job.exit_code !== 0) {
        const cell = row.querySelector('span.state').parentElement;
        cell.append(' ', el('span', { class: 'exit-failed', text: 'scap exit ' + job.exit_code }));
      }
      const outcome = row.querySelector('td.outcome');
      if (outcome && typeof job.outcome === 'string' && job.outcome !== '') outcome.textContent = job.outcome;
    }
  }
  jobListeners.add(updateRows);

  // The jobs in a queue snapshot are seen too, without going to the page
  // listeners (the dashboard and job page read `queue` frames themselves).
  socket.on('queue', (msg) => {
    if (!msg.queue) return;
    for (const j of [msg.queue.active].concat(msg.queue.queued || [])) {
      if (j && isJobId(j.id)) {
        watcher.seeJob(j);
        updateRows(j);
      }
    }
  });

  // ---- Page code --------------------------------------------------------------------------

  function loadScript(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = src;
      s.async = false; // run in the order added
      s.addEventListener('load', () => resolve());
      s.addEventListener('error', () => reject(new Error('could not load ' + src)));
      document.head.append(s);
    });
  }

  function loadStyle(href) {
    return new Promise((resolve, reject) => {
      if (document.querySelector('link[rel="stylesheet"][href="' + href + '"]')) {
        resolve();
        return;
      }
      const l = document.createElement('link');
      l.rel = 'stylesheet';
      l.href = href;
      l.addEventListener('load', () => resolve());
      l.addEventListener('error', () => reject(new Error('could not load ' + href)));
      document.head.append(l);
    });
  }

  /** xterm.js, its stylesheet and the fit addon; false when they cannot load. */
  function loadTerminal() {
    return Promise.all([
      loadStyle('/assets/xterm.css'),
      typeof globalThis.Terminal === 'function' ? null : loadScript('/assets/xterm.js'),
      globalThis.FitAddon ? null : loadScript('/assets/addon-fit.js'),
    ]).then(
      () => typeof globalThis.Terminal === 'function',
      (e) => {
        console.warn('SpiderPig: the terminal is unavailable; the log is shown as text', e);
        return false;
      },
    );
  }

  /** uPlot and monitor.js, then the monitoring panels (dashboard and job
   * page). Never fails: without uPlot the panels are text; without
   * monitor.js the page works without them. */
  async function startMonitor() {
    try {
      const uplot = Promise.all([
        loadStyle('/assets/uplot.css'),
        typeof globalThis.uPlot === 'function' ? null : loadScript('/assets/uplot.js'),
      ]).catch((e) => console.warn('SpiderPig: charts are unavailable; the panels are text', e));
      await Promise.all([uplot, loadScript('/assets/monitor.js')]);
      SpiderPig.monitor.start({ page });
    } catch (e) {
      console.warn('SpiderPig: the monitoring panels are unavailable', e);
    }
  }

  /** Loads and starts the page's own script; resolves when it listens. */
  async function startPage() {
    if (page === 'dashboard') {
      await loadScript('/assets/dashboard.js');
      SpiderPig.dashboard.start();
      await startMonitor();
    } else if (page === 'job') {
      // The job page's controls run even when xterm.js does not load.
      const terminal = loadTerminal();
      await Promise.all([loadScript('/assets/terminal.js'), loadScript('/assets/job.js')]);
      SpiderPig.jobPage.start({ withTerminal: await terminal });
      await startMonitor();
    }
  }

  Object.assign(SpiderPig, {
    socket, api, apiGet, apiPost, csrfToken, publishJob, jobListeners, showAlert, clearAlert, announce,
    notifications, watcher, el, timeEl, stateBadge, jobLink, changeLinks, changeBase, me, page,
  });

  // Only signed-in pages open the WebSocket (the upgrade needs the session).
  const LIVE_PAGES = new Set(['dashboard', 'deploy', 'job', 'history']);
  if (me && LIVE_PAGES.has(page)) {
    notifications.offer();
    // The socket opens once the page's script listens, so no early frame is lost.
    startPage()
      .catch((e) => {
        console.error('SpiderPig: the page script failed', e);
        showAlert('Live updates are unavailable: part of the page script failed to load. Reload the page to try again.');
      })
      .finally(() => socket.start());
    // Leaving the page closes the socket quietly (no banner flash); coming
    // back from the back/forward cache opens it again.
    window.addEventListener('pagehide', () => socket.stop());
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted) socket.start();
    });
  }
})();
