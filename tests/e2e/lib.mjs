// Shared helpers of the end-to-end tests: the running demo's settings, TOTP
// codes (RFC 6238, computed here), Debian's Chromium through playwright-core,
// and per-page recorders of CSP violations and console errors.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '../..');
export const SHOTS = path.join(ROOT, 'target', 'e2e-screenshots');

/**
 * demo.env as an object (run.sh passes its path in SPIDERPIG_DEMO_ENV, and
 * the spiky-metrics demo's in SPIDERPIG_SPIKE_DEMO_ENV).
 */
export function demoEnv(variable = 'SPIDERPIG_DEMO_ENV') {
  const file = process.env[variable];
  if (!file) throw new Error(variable + ' is not set: run tests/e2e/run.sh');
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = line.match(/^([A-Z_]+)='(.*)'$/);
    if (m) out[m[1]] = m[2];
  }
  out.users = Object.fromEntries(out.SPIDERPIG_USERS.split(' ').map((p) => p.split(':')));
  return out;
}

// ---- TOTP ---------------------------------------------------------------------

export function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.toUpperCase().replace(/[\s=]/g, '')) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error('not base32: ' + ch);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function hotp(key, counter) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const h = crypto.createHmac('sha1', key).update(msg).digest();
  const o = h[h.length - 1] & 0x0f;
  const n = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

export const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/**
 * One user's authenticator. Each accepted code spends its step and every
 * older one, so each code handed out is for a later step than the last;
 * the executor accepts T-1..T+1, so the first code after enrolment is T+1
 * at once, and a later one may have to wait for the clock.
 */
export class Authenticator {
  constructor(secretBase32) {
    this.key = base32Decode(secretBase32);
    this.last = null;
  }

  async code() {
    let step = this.last === null ? stepNow() : Math.max(stepNow(), this.last + 1);
    // Stay well inside the accepted window: wait until `step` is at most T+1
    // with at least 2 s of that step left.
    for (;;) {
      const now = Date.now() / 1000;
      const t = Math.floor(now / 30);
      if (step <= t) break;
      if (step === t + 1 && 30 - (now % 30) > 2) break;
      await sleep(500);
    }
    if (step < stepNow()) step = stepNow();
    this.last = step;
    return hotp(this.key, step);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- The browser ---------------------------------------------------------------

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export function launch() {
  const exe = fs.existsSync('/usr/lib/chromium/chromium') ? '/usr/lib/chromium/chromium' : '/usr/bin/chromium';
  // playwright-core starts it headless with a fresh temporary profile (--user-data-dir).
  return chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** A fresh browser context (its own cookies) and page, with recorders. */
export async function openUser(browser, baseUrl, name) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: baseUrl });
  const rec = { name, context, page: null, consoleErrors: [], httpErrors: [], csp: [] };
  // Each violation is reported at once (a CDP binding, outside the page's CSP)
  // and also kept in window.__cspViolations.
  await context.exposeBinding('__spiderpigCsp', (source, v) => { rec.csp.push({ url: source.frame.url(), ...v }); });
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      const v = { directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber };
      window.__cspViolations.push(v);
      try { window.__spiderpigCsp(v); } catch { /* reported through the array */ }
    });
  });
  const page = await context.newPage();
  rec.page = page;
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => {
    if (m.type() === 'error') rec.consoleErrors.push(`${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => rec.consoleErrors.push(`${page.url()}: pageerror ${e.message}`));
  page.on('dialog', (d) => d.accept());
  page.on('response', (r) => { if (r.status() >= 400) rec.httpErrors.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  // A check that the recorder is in place on the current page.
  rec.collectCsp = async () => {
    try {
      return await page.evaluate(() => Array.isArray(window.__cspViolations));
    } catch { return null; /* navigating */ }
  };
  return rec;
}

export async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

/** Runs `spiderpig-executor ctl ...` against the demo's admin socket. */
export function ctl(env, ...args) {
  const bin = path.join(ROOT, 'target', 'release', 'spiderpig-executor');
  return execFileSync(bin, ['ctl', '--socket', env.SPIDERPIG_ADMIN_SOCKET, ...args], { encoding: 'utf8', timeout: 20_000 });
}

/** Polls `fn` until it returns a truthy value; returns it and the time taken. */
export async function until(fn, { timeout = 20_000, every = 50, what = 'condition' } = {}) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return { value: v, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeout) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(every);
  }
}

/**
 * The browser steps of a deployment against the demo `env`; `auth` keeps
 * each user's Authenticator (filled at TOTP enrolment).
 */
export function flows(env, auth) {
  async function signIn(rec, user, { shots = false } = {}) {
    const { page } = rec;
    await page.goto(env.SPIDERPIG_URL + '/login');
    if (shots) await shot(page, '01-login');
    await page.click('a[href="/login/start"]');
    await page.waitForURL((u) => u.href.startsWith(env.SPIDERPIG_IDP_URL));
    await page.fill('input[name=login]', user);
    await page.fill('input[name=password]', env.users[user]);
    if (shots) await shot(page, '02-idp-login');
    await page.click('form button[type=submit]');
    await page.waitForURL((u) => u.href.startsWith(env.SPIDERPIG_URL) && !u.pathname.startsWith('/oidc') && !u.pathname.startsWith('/login'), { timeout: 30_000 });
  }

  async function passTotp(rec, user, { shots = false } = {}) {
    const { page } = rec;
    assert.equal(new globalThis.URL(page.url()).pathname, '/totp');
    const secret = page.locator('#totp-secret');
    if (await secret.count()) {
      auth[user] = new Authenticator((await secret.textContent()).trim());
      if (shots) await shot(page, '03-totp-enrol');
    }
    assert.ok(auth[user], 'a TOTP secret was shown');
    await page.fill('#code', await auth[user].code());
    await page.click('form[action="/totp"] button[type=submit]');
    await page.waitForURL((u) => u.pathname !== '/totp');
    await rec.collectCsp();
  }

  async function queueJob(rec, user, changes, shotName) {
    const { page } = rec;
    await page.goto(env.SPIDERPIG_URL + '/deploy/new');
    await page.fill('#changes', changes.join('\n'));
    await page.click('#check-changes');
    for (const c of changes) await page.locator(`#change-check tr[data-change="${c}"]`).waitFor();
    const rows = await page.locator('#change-check tr[data-change]').allTextContents();
    for (const r of rows) assert.ok(r.trim().length > 0);
    assert.equal(await page.locator('#change-check tr.error').count(), 0, 'Gerrit knows every change');
    if (shotName) await shot(page, shotName);
    await rec.collectCsp();
    await page.fill('#totp', await auth[user].code());
    await page.click('#queue-deployment');
    await page.waitForURL(/\/jobs\/\d+$/);
    return Number(page.url().match(/\/jobs\/(\d+)$/)[1]);
  }

  const jobState = (page) => page.locator('#job-state').getAttribute('data-state');

  async function waitState(page, states, timeout = 60_000) {
    const want = [].concat(states);
    await until(async () => want.includes(await jobState(page).catch(() => null)), { timeout, what: 'job state ' + want.join('|') });
  }

  /** Answers the pending prompt with `key`; returns the prompt's text. */
  async function answer(page, key, labelRe, timeout = 60_000) {
    const button = page.locator(`#prompt:not([hidden]) #prompt-form button[name=key][value="${key}"]`);
    await button.waitFor({ timeout });
    const text = await page.locator('#prompt-text').textContent();
    if (labelRe) assert.match(await button.textContent(), labelRe);
    await button.click();
    await page.locator(`#prompt-form button[name=key][value="${key}"]`).waitFor({ state: 'detached', timeout: 20_000 }).catch(() => {});
    return text;
  }

  async function click(page, action) {
    const b = page.locator(`button[data-action=${action}]:visible`).first();
    await b.waitFor({ timeout: 30_000 });
    await b.click();
  }

  return { signIn, passTotp, queueJob, jobState, waitState, answer, click };
}
