/* SpiderPig's page scripts, part 5 of 7: browser notifications (opt-in)
 * and the watcher that notices "your turn" and scap prompts for the
 * signed-in user. An ordered classic script (see vocab.js); needs dom.js,
 * api.js and socket.js.
 *
 *   header.top .who        where the "Enable notifications" button goes
 *                          (button#notify; app.js offers it on live pages)
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;
  const $ = (id) => document.getElementById(id);

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
    const btn = existing || SP.el('button', {
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
        SP.announce(answer === 'granted' ? 'Notifications are on.' : 'Notifications stay off.');
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

  const notifications = Object.freeze({ offer, notify });

  /** Each job's owner and state, to notice "your turn" and prompts for me. */
  const jobs = new Map();

  function seeJob(job) {
    const before = jobs.get(job.id);
    jobs.set(job.id, { owner: job.owner, state: job.state });
    if (job.owner !== SP.me || job.state !== 'awaiting_ready') return;
    if (before && before.state !== 'awaiting_ready') {
      notify('ready:' + job.id, 'Your turn to deploy', 'Job #' + job.id + ' is waiting for you to say you are ready.', '/jobs/' + job.id);
    }
  }

  function seePrompt(prompt) {
    const known = jobs.get(prompt.job);
    if (!known || known.owner !== SP.me) return;
    notify('prompt:' + prompt.job + ':' + prompt.id, 'scap is waiting for your answer', String(prompt.text || '').slice(0, 180), '/jobs/' + prompt.job);
  }

  const watcher = Object.freeze({ seeJob, seePrompt });

  // Job frames reach every job listener (live.js, the page scripts) through
  // publishJob; the watcher is the first of them.
  SP.socket.on('job', (msg) => SP.publishJob(msg.job));
  SP.socket.on('prompt_opened', (msg) => { if (msg.prompt) watcher.seePrompt(msg.prompt); });
  SP.jobListeners.add((job) => watcher.seeJob(job));

  Object.assign(SP, { notifications, watcher });
})();
