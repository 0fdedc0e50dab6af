// A HOSTILE OpenID Provider for SpiderPig's tests: it serves a correct discovery
// document and JWKS, runs a correct authorization-code + PKCE exchange, and then
// returns an ID token shaped by a "mode" (forged, expired, wrong audience, ...), so the
// tests can check that spiderpig-executor refuses each one. Never use it for anything
// else. Node built-ins only (node:crypto signs; no npm packages needed).
//
// Flow: GET /authorize?...&mode=<mode>[&login=<user>] remembers the request and
// redirects to redirect_uri with `code` and `state`; POST /token checks client auth
// (client_secret_basic), the code (once), redirect_uri and the PKCE verifier, then
// answers with {access_token, token_type, expires_in, id_token} where id_token follows
// the mode. stdout carries one line, `READY <issuer>`; the rest goes to stderr.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const log = (msg) => process.stderr.write(`hostile-idp: ${msg}\n`);
const fail = (msg) => { log(`error: ${msg}`); process.exit(2); };

let args;
try {
  ({ values: args } = parseArgs({
    options: {
      port: { type: 'string', default: '0' },
      'client-id': { type: 'string' },
      'client-secret-file': { type: 'string' },
      'redirect-uri': { type: 'string' },
      // Discovery-level lies.
      'discovery-issuer': { type: 'string' },
      'token-endpoint': { type: 'string' },
    },
    strict: true,
  }));
} catch (e) {
  fail(e.message);
}
const clientId = args['client-id'] ?? fail('--client-id is required');
const redirectUri = args['redirect-uri'] ?? fail('--redirect-uri is required');
const clientSecret = fs.readFileSync(args['client-secret-file'] ?? fail('--client-secret-file is required'), 'utf8')
  .replace(/\r?\n$/, '');

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const json64 = (obj) => b64u(JSON.stringify(obj));
const nowSecs = () => Math.floor(Date.now() / 1000);

// Keys: the issuer's RSA and EC keys (published from the start), a rotated EC key
// (published only from the second JWKS fetch on), and the attacker's own RSA key (never
// in the issuer's JWKS; served at /evil-jwks for the `jku` modes; made when first needed,
// since RSA key generation is the slow part of starting up).
const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecNext = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
let evilPair = null;
const evilKeys = () => (evilPair ??= crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }));
const pub = (pair, kid) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, use: 'sig' });
let jwksFetches = 0;
let evilFetches = 0;

function sign(alg, input, key) {
  switch (alg) {
    case 'RS256': return crypto.sign('sha256', Buffer.from(input), key);
    case 'PS256': return crypto.sign('sha256', Buffer.from(input), {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
    });
    case 'ES256': return crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    case 'HS256': return crypto.createHmac('sha256', key).update(input).digest();
    case 'none': return Buffer.alloc(0);
    default: throw new Error(`cannot sign ${alg}`);
  }
}

function jwt(header, claims, key) {
  const input = `${json64(header)}.${json64(claims)}`;
  return `${input}.${b64u(sign(header.alg, input, key))}`;
}

let lastGoodIdToken = null;

// Each mode: (claims, ctx) -> id_token string. `claims` are the correct claims.
const RS = (claims, extra = {}) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1', ...extra }, claims, rsa.privateKey);
const without = (obj, key) => { const copy = { ...obj }; delete copy[key]; return copy; };
const MODES = {
  ok: (c) => (lastGoodIdToken = RS(c)),
  es256: (c) => jwt({ alg: 'ES256', typ: 'JWT', kid: 'ec-1' }, c, ec.privateKey),
  ps256: (c) => jwt({ alg: 'PS256', typ: 'JWT', kid: 'rsa-1' }, c, rsa.privateKey),
  rotated: (c) => jwt({ alg: 'ES256', typ: 'JWT', kid: 'ec-2' }, c, ecNext.privateKey),
  'nonce-wrong': (c) => RS({ ...c, nonce: b64u(crypto.randomBytes(32)) }),
  'nonce-missing': (c) => RS(without(c, 'nonce')),
  replay: () => lastGoodIdToken ?? 'no-earlier-token',
  'iss-other': (c) => RS({ ...c, iss: 'https://idp.evil.example' }),
  'iss-trailing-slash': (c) => RS({ ...c, iss: `${c.iss}/` }),
  'aud-other': (c) => RS({ ...c, aud: 'someone-else' }),
  'aud-missing': (c) => RS(without(c, 'aud')),
  'aud-extra': (c) => RS({ ...c, aud: [clientId, 'untrusted-client'], azp: clientId }),
  'azp-other': (c) => RS({ ...c, azp: 'someone-else' }),
  'alg-none': (c) => jwt({ alg: 'none', typ: 'JWT' }, c),
  'hs256-client-secret': (c) => jwt({ alg: 'HS256', typ: 'JWT' }, c, clientSecret),
  'hs256-client-secret-kid': (c) => jwt({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' }, c, clientSecret),
  'hs256-public-key': (c) => jwt({ alg: 'HS256', typ: 'JWT', kid: 'rsa-1' }, c,
    rsa.publicKey.export({ type: 'spki', format: 'pem' })),
  jku: (c, ctx) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'evil-1', jku: `${ctx.issuer}/evil-jwks` }, c, evilKeys().privateKey),
  'jku-known-kid': (c, ctx) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1', jku: `${ctx.issuer}/evil-jwks` }, c, evilKeys().privateKey),
  jwk: (c) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'evil-1', jwk: pub(evilKeys(), 'evil-1') }, c, evilKeys().privateKey),
  'jwk-known-kid': (c) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1', jwk: pub(evilKeys(), 'rsa-1') }, c, evilKeys().privateKey),
  x5u: (c, ctx) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'evil-1', x5u: `${ctx.issuer}/evil-cert` }, c, evilKeys().privateKey),
  'unknown-kid': (c) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'evil-1' }, c, evilKeys().privateKey),
  'evil-key-known-kid': (c) => jwt({ alg: 'RS256', typ: 'JWT', kid: 'rsa-1' }, c, evilKeys().privateKey),
  'bad-signature': (c) => {
    const [h, , s] = RS(c).split('.');
    return `${h}.${json64({ ...c, groups: ['admins'] })}.${s}`;
  },
  expired: (c) => RS({ ...c, iat: c.iat - 600, exp: c.iat - 60 }),
  'iat-future': (c) => RS({ ...c, iat: c.iat + 3600, exp: c.iat + 7200 }),
  'iat-past': (c) => RS({ ...c, iat: c.iat - 3600 }),
  'typ-access-token': (c) => RS(c, { typ: 'at+jwt' }),
  crit: (c) => RS(c, { crit: ['exp'] }),
  'sub-missing': (c) => RS(without(c, 'sub')),
  'username-bad': (c) => RS({ ...c, preferred_username: 'Evil\nUser' }),
  'username-missing': (c) => RS(without(c, 'preferred_username')),
  'groups-not-array': (c) => RS({ ...c, groups: 'admins' }),
  'groups-missing': (c) => RS(without(c, 'groups')),
};
// Modes that change the token endpoint's answer rather than the ID token.
const RESPONSE_MODES = {
  'id-token-missing': (body) => without(body, 'id_token'),
  'token-error': () => ({ status: 400, body: { error: 'invalid_grant' } }),
  'token-redirect': (_, ctx) => ({ status: 307, location: `${ctx.issuer}/token` }),
  'token-huge': (body) => ({ ...body, padding: 'x'.repeat(2 * 1024 * 1024) }),
};

const codes = new Map();

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function authorize(url, res) {
  const q = url.searchParams;
  const mode = q.get('mode') ?? 'ok';
  if (!(mode in MODES) && !(mode in RESPONSE_MODES)) return send(res, 400, { error: `unknown mode ${mode}` });
  if (q.get('client_id') !== clientId || q.get('redirect_uri') !== redirectUri
      || q.get('response_type') !== 'code' || q.get('code_challenge_method') !== 'S256'
      || !q.get('code_challenge') || !q.get('state') || !q.get('nonce')
      || !(q.get('scope') ?? '').split(' ').includes('openid')) {
    return send(res, 400, { error: 'invalid_request' });
  }
  const code = `${mode}.${b64u(crypto.randomBytes(16))}`;
  codes.set(code, {
    mode, nonce: q.get('nonce'), challenge: q.get('code_challenge'), login: q.get('login') ?? 'deployer1',
  });
  const back = new URL(redirectUri);
  back.searchParams.set('code', code);
  back.searchParams.set('state', q.get('state'));
  res.writeHead(302, { Location: back.toString() });
  return res.end();
}

function clientAuthOk(req) {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(req.headers.authorization ?? '');
  if (!m) return false;
  const [id, secret] = Buffer.from(m[1], 'base64').toString('utf8').split(':').map(decodeURIComponent);
  return id === clientId && secret === clientSecret;
}

async function token(req, res, ctx) {
  const form = new URLSearchParams(await readBody(req));
  if (!clientAuthOk(req)) return send(res, 401, { error: 'invalid_client' });
  const code = form.get('code');
  const grant = codes.get(code);
  codes.delete(code); // once, whatever happens next
  if (form.get('grant_type') !== 'authorization_code' || !grant || form.get('redirect_uri') !== redirectUri) {
    return send(res, 400, { error: 'invalid_grant' });
  }
  const verifier = form.get('code_verifier') ?? '';
  if (b64u(crypto.createHash('sha256').update(verifier).digest()) !== grant.challenge) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
  }
  const iat = nowSecs();
  const claims = {
    iss: ctx.issuer, sub: `sub-${grant.login}`, aud: clientId, iat, exp: iat + 300, nonce: grant.nonce,
    preferred_username: grant.login, groups: grant.login === 'admin1' ? ['admins'] : ['deployers'],
  };
  const body = { access_token: b64u(crypto.randomBytes(32)), token_type: 'Bearer', expires_in: 300 };
  const shape = RESPONSE_MODES[grant.mode];
  body.id_token = (MODES[grant.mode] ?? ((c) => RS(c)))(claims, ctx);
  const out = shape ? shape(body, ctx) : body;
  if (out.status === 307) return send(res, 307, '', { Location: out.location });
  if (out.status) return send(res, out.status, out.body);
  log(`token issued in mode ${grant.mode}`);
  return send(res, 200, out);
}

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;
const ctx = { issuer };

server.on('request', (req, res) => {
  const url = new URL(req.url, issuer);
  const route = `${req.method} ${url.pathname}`;
  try {
    switch (route) {
      case 'GET /.well-known/openid-configuration':
        return send(res, 200, {
          issuer: args['discovery-issuer'] ?? issuer,
          authorization_endpoint: `${issuer}/authorize`,
          token_endpoint: args['token-endpoint'] ?? `${issuer}/token`,
          jwks_uri: `${issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256', 'PS256', 'ES256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic'],
        });
      case 'GET /jwks': {
        jwksFetches += 1;
        const keys = [pub(rsa, 'rsa-1'), pub(ec, 'ec-1')];
        if (jwksFetches > 1) keys.push(pub(ecNext, 'ec-2'));
        return send(res, 200, { keys });
      }
      case 'GET /evil-jwks':
      case 'GET /evil-cert':
        evilFetches += 1;
        return send(res, 200, { keys: [pub(evilKeys(), 'evil-1')] });
      case 'GET /stats':
        return send(res, 200, { jwks_fetches: jwksFetches, evil_fetches: evilFetches, open_codes: codes.size });
      case 'GET /authorize':
        return authorize(url, res);
      case 'POST /token':
        return token(req, res, ctx).catch((e) => { log(e.stack); send(res, 500, { error: 'server_error' }); });
      default:
        return send(res, 404, { error: 'not_found' });
    }
  } catch (e) {
    log(e.stack);
    return send(res, 500, { error: 'server_error' });
  }
});

process.on('SIGTERM', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
// The harness keeps our stdin open; when it goes away (even killed), so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
log(`issuer ${issuer}, client ${clientId}, modes ${Object.keys(MODES).length + Object.keys(RESPONSE_MODES).length}`);
process.stdout.write(`READY ${issuer}\n`);
