/* SpiderPig's page scripts, part 4 of 7: the WebSocket client,
 * SpiderPig.socket {on, onOpen, send, start, stop}, and the connection
 * banner. An ordered classic script (see vocab.js); needs vocab.js. It
 * connects only when app.js calls start(), once the page's script listens.
 *
 *   #connection            banner, `hidden` unless the WebSocket is down or the
 *                          executor is unreachable (its text is set here)
 *
 * WebSocket /ws: server → client JSON text frames {type: queue | job |
 * prompt_opened | prompt_closed | freeze | log | skipped | error | revoked |
 * heartbeat | executor | metrics (monitor.js)}; unknown types are ignored.
 * Client → server: {type: "watch", job, after_seq} (job.js). Close code
 * 4001: signed out.
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;
  const H = SP.helpers;

  /** Silence longer than this (heartbeats come every 20 s) means a dead link. */
  const SILENCE_MS = 50000;
  /** The server closes with this code when the session has ended. */
  const CLOSE_REVOKED = 4001;

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
    const banner = document.getElementById('connection');
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
    retryTimer = setTimeout(connect, H.backoffDelay(attempt, Math.random()));
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

  function opened(sock) {
    if (ws !== sock) return;
    attempt = 0;
    wsUp = true;
    showStatus();
    for (const fn of openHandlers) {
      try { fn(); } catch (e) { console.error('SpiderPig: a socket open handler failed', e); }
    }
  }

  function received(sock, ev) {
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
  }

  function connect() {
    if (stopped) return;
    clearTimeout(retryTimer);
    let sock;
    try {
      sock = new WebSocket(H.socketUrl(window.location));
    } catch (e) {
      schedule();
      return;
    }
    ws = sock;
    expectTraffic(sock);
    sock.addEventListener('open', () => opened(sock));
    sock.addEventListener('message', (ev) => received(sock, ev));
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

  SP.socket = Object.freeze({ on, onOpen, send, start, stop });
})();
