/* SpiderPig's page scripts, part 7 of 7: loads and starts the page's own
 * script, then opens the WebSocket. An ordered classic script (see
 * vocab.js for the order and why); it runs last of the seven layout.rs
 * emits, so everything every page shares is in place.
 *
 * Page code is loaded only where it is used: dashboard.js on the
 * dashboard; xterm.js, addon-fit.js, terminal.js and job.js on a job page;
 * uplot.js, uplot.css and monitor.js (the monitoring panels) on both. They
 * are classic scripts too, reading globalThis.SpiderPig; each does nothing
 * until its start() is called here.
 *
 *   body[data-page]        login | totp | dashboard | deploy | job | history | message
 *   body[data-user]        the signed-in user; the WebSocket opens only with it
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;

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
      SP.monitor.start({ page: SP.page });
    } catch (e) {
      console.warn('SpiderPig: the monitoring panels are unavailable', e);
    }
  }

  /** Loads and starts the page's own script; resolves when it listens. */
  async function startPage() {
    if (SP.page === 'dashboard') {
      await loadScript('/assets/dashboard.js');
      SP.dashboard.start();
      await startMonitor();
    } else if (SP.page === 'job') {
      // The job page's controls run even when xterm.js does not load.
      const terminal = loadTerminal();
      await Promise.all([loadScript('/assets/terminal.js'), loadScript('/assets/job.js')]);
      SP.jobPage.start({ withTerminal: await terminal });
      await startMonitor();
    }
  }

  // Only signed-in pages open the WebSocket (the upgrade needs the session).
  const LIVE_PAGES = new Set(['dashboard', 'deploy', 'job', 'history']);
  if (SP.me && LIVE_PAGES.has(SP.page)) {
    SP.notifications.offer();
    // The socket opens once the page's script listens, so no early frame is lost.
    startPage()
      .catch((e) => {
        console.error('SpiderPig: the page script failed', e);
        SP.showAlert('Live updates are unavailable: part of the page script failed to load. Reload the page to try again.');
      })
      .finally(() => SP.socket.start());
    // Leaving the page closes the socket quietly (no banner flash); coming
    // back from the back/forward cache opens it again.
    window.addEventListener('pagehide', () => SP.socket.stop());
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted) SP.socket.start();
    });
  }
})();
