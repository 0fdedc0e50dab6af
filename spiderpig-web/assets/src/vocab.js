/* SpiderPig's page scripts, part 1 of 7: the job vocabulary and the pure
 * helpers every page shares (no DOM; tested with node in ../tests).
 *
 * The page scripts are ordered classic scripts, not ES modules: layout.rs
 * emits them with `defer` in this order, so they run one after another
 * once the document is parsed, and they share one namespace,
 * globalThis.SpiderPig. Classic scripts were chosen because the node
 * tests load the helpers with vm.runInContext (no module loader, no
 * flags), because the page code that app.js loads later (dashboard.js,
 * job.js, terminal.js, monitor.js) already reads the namespace, and
 * because nothing about CSP `script-src 'self'` changes. Each file's
 * IIFE is only its private scope.
 *
 *   vocab.js    this file: SpiderPig.helpers (VOCAB and pure functions)
 *   dom.js      DOM utilities, alerts and announcements
 *   api.js      the JSON API, job listeners and the action buttons
 *   socket.js   the WebSocket client (SpiderPig.socket)
 *   notify.js   browser notifications and the "your turn" watcher
 *   live.js     the freeze banner and live job rows
 *   app.js      loads and starts the page's own script; opens the socket
 *
 * All of them run under `script-src 'self'; style-src 'self'`: no inline
 * script or style, no eval; looks change only through classes, attributes
 * and the CSSOM. Text from users, Gerrit or scap is only ever set with
 * textContent (or written to the xterm.js terminal, which renders text),
 * never parsed as HTML.
 *
 * No rule and no word of the job vocabulary is written here: the words
 * people read and the lists the scripts need come from the policy through
 * `script#vocab`, and which actions a viewer may take now comes with each
 * job (`actions` in its JSON, `data-actions` in the markup).
 *
 *   script#vocab           a JSON data block (never executed), from the policy
 *                          (pages/vocab.rs): {states, stages: word → words;
 *                          strip: stages of the strip; waiting_for_person,
 *                          ended_badly: states; api_actions: what
 *                          button[data-action] may post; dashboard_actions:
 *                          [{action, label, confirm}]}
 */
'use strict';

(function () {
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

  // ---- Pure helpers ------------------------------------------------------------

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

  const SpiderPig = (globalThis.SpiderPig = globalThis.SpiderPig || {});
  SpiderPig.helpers = Object.freeze({
    VOCAB,
    stateWords, stageWords, stateShort, ordinal, backoffDelay, socketUrl,
    jobActions, jobTitle, placeText, utc, isJobId,
  });
})();
