// A real OpenID Provider on loopback for SpiderPig's tests and demo.
//
// Built on the npm package `oidc-provider` (OpenID Certified). One confidential client,
// authorization code flow only, PKCE (S256) required, RS256 ID tokens, fixed test users
// with real password checks through our own login form. See README.md.
//
// stdout carries exactly one line, `READY <issuer>`, once the server listens; everything
// else (oidc-provider's notices included) goes to stderr.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

// oidc-provider prints some notices with console.info (stdout). Keep stdout for READY only:
// route console.log/info to stderr *before* the library is imported (dynamic import below).
const toStderr = (...args) => console.error(...args);
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

function log(msg) {
  process.stderr.write(`idp: ${msg}\n`);
}

function fail(msg) {
  process.stderr.write(`idp: error: ${msg}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: process.env.IDP_PORT ?? '0' },
      'issuer-host': { type: 'string', default: process.env.IDP_ISSUER_HOST ?? '127.0.0.1' },
      'client-id': { type: 'string', default: process.env.IDP_CLIENT_ID },
      'client-secret-file': { type: 'string', default: process.env.IDP_CLIENT_SECRET_FILE },
      'redirect-uri': { type: 'string', multiple: true },
      users: { type: 'string', default: process.env.IDP_USERS },
      // Test-only knobs.
      'extra-audience': { type: 'string', multiple: true },
      'id-token-ttl': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }));
} catch (e) {
  fail(`${e.message} (try --help)`);
}

if (args.help) {
  process.stderr.write(`usage: node idp.mjs --client-id ID --client-secret-file PATH --redirect-uri URI [--redirect-uri URI ...]
                   [--port N] [--issuer-host HOST] [--users FILE]
                   [--extra-audience AUD ...] [--id-token-ttl SECONDS]
Prints "READY <issuer>" on stdout once listening. See README.md.
`);
  process.exit(0);
}

const port = Number.parseInt(args.port, 10);
if (!Number.isInteger(port) || port < 0 || port > 65535 || String(port) !== args.port.trim()) {
  fail(`--port must be an integer 0..65535, got ${JSON.stringify(args.port)}`);
}
const issuerHost = args['issuer-host'];
if (!/^[A-Za-z0-9.\-]+$|^\[[0-9A-Fa-f:]+\]$/.test(issuerHost)) {
  fail(`--issuer-host must be a host name or address, got ${JSON.stringify(issuerHost)}`);
}
const clientId = args['client-id'];
if (!clientId) fail('--client-id is required');
if (!args['client-secret-file']) fail('--client-secret-file is required');
let clientSecret;
try {
  clientSecret = fs.readFileSync(args['client-secret-file'], 'utf8').replace(/\r?\n$/, '');
} catch (e) {
  fail(`cannot read --client-secret-file: ${e.code ?? e.message}`);
}
if (clientSecret.length < 16) fail('the client secret must be at least 16 characters');

const envRedirects = process.env.IDP_REDIRECT_URIS?.split(/\s+/).filter(Boolean) ?? [];
const redirectUris = args['redirect-uri']?.length ? args['redirect-uri'] : envRedirects;
if (!redirectUris.length) fail('at least one --redirect-uri is required');
for (const uri of redirectUris) {
  try {
    new URL(uri);
  } catch {
    fail(`--redirect-uri is not a URL: ${JSON.stringify(uri)}`);
  }
}

const extraAudiences = args['extra-audience'] ?? [];
let idTokenTtl = 3600;
if (args['id-token-ttl'] !== undefined) {
  idTokenTtl = Number.parseInt(args['id-token-ttl'], 10);
  if (!Number.isInteger(idTokenTtl) || idTokenTtl < 1 || String(idTokenTtl) !== args['id-token-ttl'].trim()) {
    fail('--id-token-ttl must be a positive integer (seconds)');
  }
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

const DEFAULT_USERS = [
  { login: 'deployer1', password: 'deployer1-pass', groups: ['deployers'] },
  { login: 'deployer2', password: 'deployer2-pass', groups: ['deployers'] },
  { login: 'admin1', password: 'admin1-pass', groups: ['admins'] },
  { login: 'outsider', password: 'outsider-pass', groups: [] },
];

function loadUsers() {
  let list = DEFAULT_USERS;
  if (args.users) {
    try {
      list = JSON.parse(fs.readFileSync(args.users, 'utf8'));
    } catch (e) {
      fail(`cannot read --users file: ${e.message}`);
    }
    if (!Array.isArray(list)) fail('--users must hold a JSON array of users');
  }
  const byLogin = new Map();
  const bySub = new Map();
  for (const u of list) {
    if (typeof u?.login !== 'string' || !u.login || typeof u.password !== 'string') {
      fail('each user needs string "login" and "password"');
    }
    const groups = u.groups ?? [];
    if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string')) {
      fail(`user ${u.login}: "groups" must be an array of strings`);
    }
    const user = {
      login: u.login,
      password: u.password,
      sub: typeof u.sub === 'string' && u.sub ? u.sub : `sub-${u.login}`,
      name: typeof u.name === 'string' ? u.name : u.login,
      email: typeof u.email === 'string' ? u.email : `${u.login}@example.org`,
      groups,
    };
    if (byLogin.has(user.login) || bySub.has(user.sub)) fail(`duplicate user ${user.login}`);
    byLogin.set(user.login, user);
    bySub.set(user.sub, user);
  }
  return { byLogin, bySub };
}

const users = loadUsers();

function checkPassword(login, password) {
  const user = users.byLogin.get(login);
  // Compare digests so the comparison does not leak length or content through timing,
  // and do the same work for unknown users.
  const want = crypto.createHash('sha256').update(user ? user.password : crypto.randomUUID()).digest();
  const got = crypto.createHash('sha256').update(String(password)).digest();
  return crypto.timingSafeEqual(want, got) && user ? user : null;
}

// ---------------------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------------------

const { default: Provider } = await import('oidc-provider');

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, issuerHost.replace(/^\[|\]$/g, ''), resolve);
});
const actualPort = server.address().port;
const issuer = `http://${issuerHost}:${actualPort}`;

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'SpiderPig (test)',
    redirect_uris: redirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // client_secret_post is accepted too: oidc-provider treats basic and post as one family.
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
  },
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  jwks: { keys: [signingJwk] },
  enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
  cookies: {
    keys: [crypto.randomBytes(32).toString('base64url')],
    // Plain http on loopback: oidc-provider marks cookies Secure only when the request
    // itself is https (ctx.secure), so nothing to change here; the defaults are
    // HttpOnly, SameSite=Lax.
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    // `groups` is released for the `groups` scope and, for convenience, also with `profile`.
    profile: ['preferred_username', 'name', 'groups'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Put the scope-requested claims (preferred_username, groups, ...) into the ID token even
  // though an access token is issued too (the default keeps them for userinfo only).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: false },
    introspection: { enabled: false },
    registration: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    dPoP: { enabled: false },
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  ttl: {
    IdToken: idTokenTtl,
    AccessToken: 600,
    AuthorizationCode: 60,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  async findAccount(_ctx, sub) {
    const user = users.bySub.get(sub);
    if (!user) return undefined;
    return {
      accountId: user.sub,
      async claims() {
        return {
          sub: user.sub,
          preferred_username: user.login,
          name: user.name,
          email: user.email,
          email_verified: true,
          groups: [...user.groups],
        };
      },
    };
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Error</h1><pre>${esc(JSON.stringify(out, null, 2))}</pre>`);
  },
});

provider.on('server_error', (_ctx, err) => log(`server_error: ${err.stack ?? err}`));
provider.on('authorization.error', (_ctx, err) => log(`authorization.error: ${err.message} ${err.error_description ?? ''}`));
provider.on('grant.error', (_ctx, err) => log(`grant.error: ${err.message} ${err.error_description ?? ''}`));

// --extra-audience: oidc-provider always signs ID tokens with `aud` = the client id (the
// audience is forced in IdToken#issue). For this test-only knob we re-sign the ID token
// with the same key, adding the extra audiences (and `azp`, as OIDC Core asks for when
// there are several audiences).
if (extraAudiences.length) {
  const originalIssue = provider.IdToken.prototype.issue;
  provider.IdToken.prototype.issue = async function issue(opts = {}) {
    const jwt = await originalIssue.call(this, opts);
    if (opts.use !== 'idtoken') return jwt;
    const [h, p] = jwt.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url'));
    const payload = JSON.parse(Buffer.from(p, 'base64url'));
    payload.aud = [payload.aud, ...extraAudiences];
    payload.azp = clientId;
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    const sig = crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url');
    return `${input}.${sig}`;
  };
  log(`TEST KNOB: ID tokens carry extra audiences ${JSON.stringify(extraAudiences)}`);
}
if (args['id-token-ttl'] !== undefined) log(`TEST KNOB: ID token lifetime ${idTokenTtl}s`);

// ---------------------------------------------------------------------------------------
// Interactions: our own login form with real password checks; consent is granted
// automatically for the scopes and claims the (single, trusted) client asked for.
// ---------------------------------------------------------------------------------------

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>
<body>${body}</body></html>
`;
}

function loginPage(uid, { error, login } = {}) {
  return page('Sign in — test IDP', `<h1>Sign in</h1>
${error ? `<p id="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
<label>Username <input type="text" name="login" value="${esc(login ?? '')}" required autofocus></label>
<label>Password <input type="password" name="password" required></label>
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Security-Policy', "default-src 'none'; frame-ancestors 'none'");
  res.setHeader('X-Frame-Options', 'DENY');
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw Object.assign(new Error('body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function grantAll(details, accountId) {
  const { params } = details;
  let grant;
  if (details.grantId) grant = await provider.Grant.find(details.grantId);
  if (!grant) grant = new provider.Grant({ accountId, clientId: params.client_id });
  // The requested scopes and claims, or whatever the consent prompt says is missing.
  const missing = details.prompt.name === 'consent' ? details.prompt.details : {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  else if (params.scope) grant.addOIDCScope(params.scope);
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

async function handleInteraction(req, res, url) {
  const m = url.pathname.match(/^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?$/);
  if (!m) return send(res, 404, page('Not found', '<h1>Not found</h1>'));
  const [, uid, action] = m;

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    log(`interaction ${uid}: ${e.message}`);
    return send(res, 400, page('Error', `<h1>Sign-in session expired or invalid</h1><p>${esc(e.message)}</p>`));
  }
  if (details.uid !== uid) {
    return send(res, 400, page('Error', '<h1>Interaction mismatch</h1>'));
  }
  const promptName = details.prompt.name;

  if (!action && req.method === 'GET') {
    if (promptName === 'login') return send(res, 200, loginPage(uid));
    if (promptName === 'consent') {
      // The only client is our own application: consent is implied.
      const grantId = await grantAll(details, details.session.accountId);
      return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    }
    return send(res, 400, page('Error', `<h1>Unsupported prompt ${esc(promptName)}</h1>`));
  }

  if (action === 'login' && req.method === 'POST') {
    if (promptName !== 'login') return send(res, 400, page('Error', '<h1>Not expecting a login</h1>'));
    let form;
    try {
      form = await readForm(req);
    } catch (e) {
      return send(res, e.status ?? 400, page('Error', '<h1>Bad request</h1>'));
    }
    const login = form.get('login') ?? '';
    const user = checkPassword(login, form.get('password') ?? '');
    if (!user) {
      log(`login failed for ${JSON.stringify(login)}`);
      return send(res, 401, loginPage(uid, { error: 'Invalid username or password.', login }));
    }
    log(`login ok for ${user.login}`);
    const grantId = await grantAll(details, user.sub);
    return provider.interactionFinished(req, res, {
      login: { accountId: user.sub },
      consent: { grantId },
    }, { mergeWithLastSubmission: false });
  }

  if (action === 'abort' && req.method === 'GET') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  res.setHeader('Allow', action === 'login' ? 'POST' : 'GET');
  return send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'));
}

const providerCallback = provider.callback();

server.on('request', (req, res) => {
  let url;
  try {
    url = new URL(req.url, issuer);
  } catch {
    res.statusCode = 400;
    return res.end();
  }
  if (url.pathname.startsWith('/interaction/')) {
    handleInteraction(req, res, url).catch((e) => {
      log(`interaction error: ${e.stack ?? e}`);
      if (!res.headersSent) send(res, 500, page('Error', '<h1>Internal error</h1>'));
      else res.end();
    });
    return undefined;
  }
  return providerCallback(req, res);
});

// ---------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------

function shutdown(signal) {
  log(`${signal}: shutting down`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
// If whoever reads our stdout goes away, there is nobody left to talk to.
process.stdout.on('error', () => process.exit(0));

log(`issuer ${issuer}, client ${clientId}, redirect URIs ${JSON.stringify(redirectUris)}, ${users.byLogin.size} users`);
process.stdout.write(`READY ${issuer}\n`);
