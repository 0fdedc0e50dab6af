/* SpiderPig's page scripts, part 2 of 7: small DOM utilities, the alert
 * region and screen-reader announcements. An ordered classic script (see
 * vocab.js for the order and why); needs SpiderPig.helpers.
 *
 * DOM contract. The pages document theirs at the top of
 * spiderpig-web/src/pages/{layout,dashboard,job,vocab}.rs; this file
 * relies on:
 *
 *   body[data-page]        login | totp | dashboard | deploy | job | history | message
 *   body[data-user]        the signed-in user (SpiderPig.me)
 *   meta[name=csrf-token]  sent as X-CSRF-Token with every POST (api.js)
 *   #page-error            the page's role=alert region; created as #alert at
 *                          the top of <main> when the page has none
 */
'use strict';

(function () {
  const SP = globalThis.SpiderPig;
  const H = SP.helpers;
  const $ = (id) => document.getElementById(id);

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
    const t = H.utc(ms);
    return t ? el('time', { datetime: t[0], text: t[1] }) : document.createTextNode('—');
  }

  /** `span.state[data-state]` with the state in words (never colour alone). */
  function stateBadge(state) {
    return el('span', { class: 'state state-' + state, 'data-state': state, text: H.stateWords(state) });
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

  Object.assign(SP, {
    page: document.body.dataset.page || '',
    me: document.body.dataset.user || '',
    el, csrfToken, timeEl, stateBadge, jobLink, changeLinks, changeBase, showAlert, clearAlert, announce,
  });
})();
