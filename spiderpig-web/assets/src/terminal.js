/* SpiderPig's log view for the job page: the read-only xterm.js terminal
 * (or plain text when xterm.js cannot run), what log records look like in
 * it, and the sequence tracking that makes a resumed watch gapless and
 * duplicate-free. Loaded by app.js on body[data-page=job] only, after
 * xterm.js and addon-fit.js (UMD builds: globals `Terminal` and
 * `FitAddon.FitAddon`).
 *
 * What reaches the terminal is text and SGR colours only (sanitizeTerminalText);
 * on top of that, OSC 8 hyperlinks and OSC 52 clipboard writes are swallowed
 * by parser handlers and OSC 8 links have a handler that does nothing, so log
 * output can never become a link, a clipboard write or HTML.
 *
 * DOM: div#terminal (the xterm.js host; created after section#job if the page
 * lacks it), #terminal-help (a hint, created here), pre#log-fallback (the log
 * as text when the terminal cannot start; created here).
 */
'use strict';

(function () {
  const SP = (globalThis.SpiderPig = globalThis.SpiderPig || {});

  // ---- Pure helpers (no DOM; tested with node in ../tests) -------------------

  function isControl(c) {
    return (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || (c >= 0x7f && c <= 0x9f);
  }

  /**
   * Log text as the terminal may see it: printable text, tab, CR, LF and SGR
   * colour sequences (ESC [ digits ; : m). Everything else is dropped: other
   * CSI sequences (cursor moves, screen and scrollback clearing, mouse and
   * alternate-screen modes that would break selection and scrollback), OSC
   * (8 hyperlinks, 52 clipboard, titles, palette changes), DCS/SOS/PM/APC
   * strings, other escapes, C0 controls (BEL…) and all C1 controls (8-bit
   * CSI/OSC). One pass, so removing a piece cannot join two into a sequence.
   */
  function sanitizeTerminalText(input) {
    const s = String(input);
    // Fast path: nothing to look at.
    if (!/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]/.test(s)) return s;
    let out = '';
    let start = 0; // start of the pending run of plain text
    let i = 0;
    const n = s.length;
    const flush = (end) => {
      if (end > start) out += s.slice(start, end);
    };
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c !== 0x1b) {
        if (isControl(c)) {
          flush(i);
          start = i + 1;
        }
        i += 1;
        continue;
      }
      flush(i);
      const next = i + 1 < n ? s.charCodeAt(i + 1) : -1;
      let j;
      if (next === 0x5b) {
        // CSI: parameters 0x30–0x3F, intermediates 0x20–0x2F, final 0x40–0x7E.
        j = i + 2;
        while (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x3f) j += 1;
        const paramsEnd = j;
        while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j += 1;
        const fin = j < n ? s.charCodeAt(j) : -1;
        if (fin >= 0x40 && fin <= 0x7e) {
          const params = s.slice(i + 2, paramsEnd);
          if (fin === 0x6d && j === paramsEnd && /^[0-9;:]*$/.test(params)) out += s.slice(i, j + 1);
          j += 1;
        }
        // An unfinished CSI is dropped up to the byte that broke it.
      } else if (next === 0x5d || next === 0x50 || next === 0x58 || next === 0x5e || next === 0x5f) {
        // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \), or the end.
        j = i + 2;
        while (j < n) {
          const d = s.charCodeAt(j);
          if (d === 0x07) { j += 1; break; }
          if (d === 0x1b && j + 1 < n && s.charCodeAt(j + 1) === 0x5c) { j += 2; break; }
          j += 1;
        }
      } else {
        // Any other escape: ESC, intermediates, one final byte.
        j = i + 1;
        while (j < n && s.charCodeAt(j) >= 0x20 && s.charCodeAt(j) <= 0x2f) j += 1;
        if (j < n && s.charCodeAt(j) >= 0x30 && s.charCodeAt(j) <= 0x7e) j += 1;
      }
      i = j;
      start = j;
    }
    flush(n);
    return out;
  }

  /** Text with no escape sequence at all (for our own decorations and plain views). */
  function plainText(input) {
    return sanitizeTerminalText(input).replace(/\x1b\[[0-9;:]*m/g, '');
  }

  const RESET = '\x1b[0m';
  const DECOR = Object.freeze({
    redacted: { sgr: '\x1b[2;3m', mark: '' },
    status: { sgr: '\x1b[36m', mark: '» ' },
    prompt: { sgr: '\x1b[1;33m', mark: '▶ ' },
    answer: { sgr: '\x1b[1;32m', mark: '◀ ' },
    system: { sgr: '\x1b[35m', mark: '• ' },
  });

  /**
   * One log record as terminal output, ending with CR LF. A styled line ends
   * with a reset, so its colours or conceal never reach the next record (the
   * executor already ends its lines so; this holds for any text).
   */
  function recordText(rec) {
    const text = typeof rec.text === 'string' ? rec.text : '';
    const d = Object.prototype.hasOwnProperty.call(DECOR, rec.kind) ? DECOR[rec.kind] : null;
    if (!d) {
      const shown = sanitizeTerminalText(text);
      return shown + (shown.includes('\x1b') ? RESET : '') + '\r\n';
    }
    return RESET + d.sgr + d.mark + plainText(text) + RESET + '\r\n';
  }

  /** Record text for a plain-text view (no colours), ending with LF. */
  function recordPlain(rec) {
    const d = Object.prototype.hasOwnProperty.call(DECOR, rec.kind) ? DECOR[rec.kind] : null;
    return (d ? d.mark : '') + plainText(typeof rec.text === 'string' ? rec.text : '') + '\n';
  }

  /**
   * The last sequence number shown. Records at or below it are dropped, so a
   * resumed watch ("after_seq": last) has neither gap nor duplicate.
   */
  function createSeqTracker(initial) {
    let last = Number.isSafeInteger(initial) && initial > 0 ? initial : 0;
    return {
      get last() { return last; },
      accept(records) {
        const fresh = [];
        const list = Array.isArray(records) ? records.slice() : [];
        list.sort((a, b) => ((a && a.seq) || 0) - ((b && b.seq) || 0));
        for (const r of list) {
          if (!r || !Number.isSafeInteger(r.seq) || r.seq <= last) continue;
          fresh.push(r);
          last = r.seq;
        }
        return fresh;
      },
      /** The server dropped records before `nextSeq`; returns how many this page missed. */
      skipTo(nextSeq) {
        if (!Number.isSafeInteger(nextSeq) || nextSeq - 1 <= last) return 0;
        const missed = nextSeq - 1 - last;
        last = nextSeq - 1;
        return missed;
      },
    };
  }

  const helpers = Object.freeze({ sanitizeTerminalText, plainText, recordText, recordPlain, createSeqTracker });

  // ---- The terminal ----------------------------------------------------------

  /** OSC 8 links are never followed: no confirm(), no window.open(). */
  const NO_LINKS = Object.freeze({ activate() {}, allowNonHttpProtocols: false });

  /**
   * OSC identifiers swallowed before xterm.js's own handlers: 8 (hyperlinks),
   * 52 (clipboard; xterm.js core has no handler, the clipboard addon is not
   * loaded), 0–2 (titles), 4/10/11/12/104/110–112 (palette and colour changes
   * that could make text invisible). The sanitizer already removes every OSC;
   * this is the second line of defence.
   */
  const SWALLOWED_OSC = Object.freeze([0, 1, 2, 4, 8, 10, 11, 12, 52, 104, 110, 111, 112]);

  /**
   * xterm.js 6 writes its theme and cell sizes into `<style>` elements and
   * some cell colours with setAttribute('style'): inline styles, which the
   * CSP (`style-src 'self'`, no 'unsafe-inline') refuses, leaving the
   * terminal unstyled and raising securitypolicyviolation events. Its
   * `<style>` elements become constructed stylesheets (adoptedStyleSheets,
   * allowed under the CSP) and its style attributes CSSOM `cssText`, which
   * is the same style set the way a CSP allows. Only script can do either:
   * markup with a `style` attribute or element stays refused.
   */
  function cspSafeStyles() {
    if (document.__spiderpigStyles || typeof CSSStyleSheet !== 'function' || !('adoptedStyleSheets' in document)) return;
    document.__spiderpigStyles = true;
    const create = document.createElement.bind(document);
    document.createElement = function (tag, options) {
      if (String(tag).toLowerCase() !== 'style') return create(tag, options);
      const stand = create('span', options);
      stand.hidden = true;
      const sheet = new CSSStyleSheet();
      let text = '';
      const set = (v) => {
        text = String(v);
        sheet.replaceSync(text);
      };
      Object.defineProperty(stand, 'textContent', { get: () => text, set, configurable: true });
      Object.defineProperty(stand, 'innerText', { get: () => text, set, configurable: true });
      Object.defineProperty(stand, 'sheet', { get: () => sheet, configurable: true });
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
      const remove = stand.remove.bind(stand);
      stand.remove = () => {
        document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
        remove();
      };
      return stand;
    };
    const setAttribute = Element.prototype.setAttribute;
    Element.prototype.setAttribute = function (name, value) {
      if (String(name).toLowerCase() === 'style' && this instanceof HTMLElement) {
        this.style.cssText = String(value);
        return;
      }
      setAttribute.call(this, name, value);
    };
  }

  function createTerminal(host) {
    cspSafeStyles();
    const term = new globalThis.Terminal({
      disableStdin: true,
      convertEol: true,
      scrollback: 10000,
      cursorBlink: false,
      cursorStyle: 'bar',
      cursorInactiveStyle: 'none',
      fontFamily: "Menlo, Consolas, 'Liberation Mono', 'DejaVu Sans Mono', monospace",
      fontSize: 13,
      minimumContrastRatio: 4.5,
      linkHandler: NO_LINKS,
      allowProposedApi: false,
      theme: {
        background: '#101418',
        foreground: '#eaecf0',
        cursor: '#101418',
        cursorAccent: '#101418',
        selectionBackground: 'rgba(136, 163, 232, 0.45)',
        selectionInactiveBackground: 'rgba(136, 163, 232, 0.3)',
      },
    });
    for (const id of SWALLOWED_OSC) term.parser.registerOscHandler(id, () => true);
    term.attachCustomKeyEventHandler((ev) => {
      if (ev.type === 'keydown') terminalKey(term, ev);
      // xterm.js never handles a key itself: the terminal takes no input, and
      // leaving keys to the browser keeps Tab, Ctrl+F and the like working.
      return false;
    });
    let fit = null;
    if (globalThis.FitAddon && typeof globalThis.FitAddon.FitAddon === 'function') {
      fit = new globalThis.FitAddon.FitAddon();
      term.loadAddon(fit);
    }
    term.open(host);
    term.write('\x1b[?25l'); // no cursor in a read-only log
    if (fit) {
      const refit = () => {
        try { fit.fit(); } catch (e) { /* not visible yet */ }
      };
      refit();
      let pending = 0;
      new ResizeObserver(() => {
        cancelAnimationFrame(pending);
        pending = requestAnimationFrame(refit);
      }).observe(host);
    }
    return term;
  }

  /** Copy, select-all and scrolling from the keyboard; everything else goes to the browser. */
  function terminalKey(term, ev) {
    const mod = ev.ctrlKey || ev.metaKey;
    const key = ev.key.length === 1 ? ev.key.toLowerCase() : ev.key;
    if (mod && key === 'c') {
      // The browser's own copy event follows too (xterm.js answers it with the
      // selection); the Clipboard API is the path that does not depend on focus.
      if (term.hasSelection() && navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(term.getSelection()).catch(() => {});
      }
      return;
    }
    if (mod && key === 'a') {
      term.selectAll();
      ev.preventDefault();
      return;
    }
    if (mod || ev.altKey) return;
    const moves = {
      PageUp: () => term.scrollPages(-1),
      PageDown: () => term.scrollPages(1),
      ArrowUp: () => term.scrollLines(-1),
      ArrowDown: () => term.scrollLines(1),
      Home: () => term.scrollToTop(),
      End: () => term.scrollToBottom(),
      Escape: () => term.clearSelection(),
    };
    if (Object.prototype.hasOwnProperty.call(moves, key)) {
      moves[key]();
      if (key !== 'Escape') ev.preventDefault();
    }
  }

  /** The log view: the xterm.js terminal, or plain text when it cannot run. */
  function startOutput(withTerminal) {
    const $ = (id) => document.getElementById(id);
    const el = SP.el;
    let host = $('terminal');
    if (!host) {
      host = el('div', { id: 'terminal', class: 'terminal' });
      ($('job') || document.body).after(host);
    }
    let term = null;
    if (withTerminal) {
      host.hidden = false;
      const help = $('terminal-help') || el('p', {
        id: 'terminal-help',
        class: 'hint',
        text: 'Read-only. Select text and press Ctrl+C (⌘C on a Mac) to copy, or right-click and copy. With the terminal focused, Page Up, Page Down, Home and End scroll.',
      });
      if (!help.isConnected) host.after(help);
      try {
        term = createTerminal(host);
        if (term.textarea) {
          term.textarea.setAttribute('aria-label', 'Deployment log (read-only terminal)');
          term.textarea.setAttribute('aria-describedby', 'terminal-help');
        }
      } catch (e) {
        console.error('SpiderPig: the terminal could not start; showing the log as text', e);
        help.remove();
        term = null;
      }
    }
    let text = null;
    if (!term) {
      host.hidden = true;
      text = $('log-fallback') || el('pre', { id: 'log-fallback', class: 'log-fallback', tabindex: 0, 'aria-label': 'Deployment log' });
      if (!text.isConnected) host.after(text);
      text.textContent = '';
    }
    const tracker = createSeqTracker(0);

    function show(records) {
      if (term) term.write(records.map(recordText).join(''));
      else text.append(records.map(recordPlain).join(''));
    }

    return {
      last: () => tracker.last,
      write(records) {
        const fresh = tracker.accept(records);
        if (fresh.length) show(fresh);
      },
      skipTo(nextSeq) {
        const missed = tracker.skipTo(nextSeq);
        if (missed > 0) {
          show([{ kind: 'system', text: missed + ' line' + (missed === 1 ? '' : 's') + ' skipped: this browser fell behind. Download the log for all of it.' }]);
        }
      },
    };
  }

  SP.terminal = Object.freeze({ helpers, startOutput });
})();
