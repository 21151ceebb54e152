#!/usr/bin/env node
// A small OAuth 2.1 authorization server for the tests (issue 13): what an
// MCP client needs to get a token for an OAuth-protected endpoint, on
// loopback, headless, node:crypto only (no npm dependency).
//
// usage: node oauth-as.mjs --port P --key KEY.pem --kid KID [--issuer URL]
//                          [--ttl SECONDS] [--sub NAME] [--scopes "a b"]
//
//   --port    listen on 127.0.0.1:P (0: any free port)
//   --key     the RSA private key (PEM) tokens are signed with (RS256)
//   --kid     its key id (JWT header, JWKS)
//   --issuer  the issuer (iss claim, "issuer" of the metadata); default
//             http://127.0.0.1:PORT. The endpoints are always on
//             http://127.0.0.1:PORT.
//   --ttl     access token lifetime (default 3600)
//   --sub     the subject /authorize approves (default "alice")
//   --scopes  scopes_supported (default "mcp:tools mcp:admin")
//
// Prints "READY <port>" on stdout once listening.
//
// Endpoints:
//   GET  /.well-known/oauth-authorization-server[/...],
//        /.well-known/openid-configuration[/...]   RFC 8414 metadata; never
//        an introspection_endpoint (mod_auth_openidc would switch to
//        introspection when it finds one through OIDCOAuthServerMetadataURL)
//   GET  /jwks        the public key as a JWK (kid, alg RS256, use sig)
//   GET  /authorize   auto-approves: 302 to redirect_uri with code, state,
//        iss. Needs a known client_id and its redirect_uri (else 400, no
//        redirect), response_type=code, code_challenge + S256 (else a
//        redirect with error=invalid_request). The subject is login_hint if
//        given, else --sub. scope, resource and the challenge are kept with
//        the code (single use, 5 minutes).
//   POST /token       form: grant_type=authorization_code (code, redirect_uri,
//        code_verifier, client_id: PKCE S256 checked) or refresh_token
//        (rotating: the old one stops working). A resource parameter must
//        match the authorization's (RFC 8707). Answer: access_token,
//        token_type Bearer, expires_in, refresh_token, scope.
//        Access token: RS256 JWT {iss, sub, aud (= resource), scope,
//        client_id, iat, exp (= iat + ttl), jti}.
//   POST /register    RFC 7591: 201 with a new client_id (public client,
//        token_endpoint_auth_method none). "test-client" is pre-registered
//        and accepts any redirect_uri on 127.0.0.1 or localhost.
//   GET  /mint?aud=&iss=&sub=&scope=&exp=&key=&client_id=   test only: a raw
//        JWT (text/plain). aud may repeat (an array claim); exp=N: now+N
//        seconds (negative: already expired), exp=none: no exp claim;
//        key=other signs with a second key that is not published (a bad
//        signature); a parameter given empty leaves the claim out.
//   GET  /log         JSON array of {method, path, grant_type?, status} of
//        every request served so far (except /log); never codes or tokens.
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';

const opts = { port: null, key: null, kid: null, issuer: null, ttl: 3600, sub: 'alice',
  scopes: 'mcp:tools mcp:admin' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const v = argv[i + 1];
  if (v === undefined) usage(`${a} needs a value`);
  i++;
  if (a === '--port') opts.port = Number(v);
  else if (a === '--key') opts.key = v;
  else if (a === '--kid') opts.kid = v;
  else if (a === '--issuer') opts.issuer = v.replace(/\/$/, '');
  else if (a === '--ttl') opts.ttl = Number(v);
  else if (a === '--sub') opts.sub = v;
  else if (a === '--scopes') opts.scopes = v;
  else usage(`unknown argument ${a}`);
}
if (!Number.isInteger(opts.port) || opts.port < 0 || !opts.key || !opts.kid
    || !Number.isFinite(opts.ttl)) {
  usage('--port, --key and --kid are required');
}

function usage(why) {
  console.error(`oauth-as: ${why}`);
  console.error('usage: node oauth-as.mjs --port P --key KEY.pem --kid KID [--issuer URL] '
    + '[--ttl SECONDS] [--sub NAME] [--scopes "a b"]');
  process.exit(2);
}

const mainKey = crypto.createPrivateKey(fs.readFileSync(opts.key));
// the "other" key: never published, so its signatures never verify
const otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const jwk = { ...crypto.createPublicKey(mainKey).export({ format: 'jwk' }),
  kid: opts.kid, alg: 'RS256', use: 'sig' };

const clients = new Map([['test-client', { client_id: 'test-client', redirect_uris: null }]]);
const codes = new Map();     // code -> {client_id, redirect_uri, scope, resource, challenge, sub, exp}
const refresh = new Map();   // refresh token -> {client_id, scope, resource, sub}
const log = [];
let base;                    // http://127.0.0.1:PORT
let issuer;

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const random = () => b64url(crypto.randomBytes(24));

function signJwt(claims, key = mainKey) {
  const header = { alg: 'RS256', typ: 'JWT', kid: opts.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), key))}`;
}

function accessToken({ sub, aud, scope, client_id }) {
  const iat = now();
  const claims = { iss: issuer, sub };
  if (aud) claims.aud = aud;
  if (scope) claims.scope = scope;
  Object.assign(claims, { client_id, iat, exp: iat + opts.ttl, jti: random() });
  return signJwt(claims);
}

function metadata() {
  return {
    issuer,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    registration_endpoint: `${base}/register`,
    jwks_uri: `${base}/jwks`,
    scopes_supported: opts.scopes.split(/\s+/).filter(Boolean),
    response_types_supported: ['code'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    authorization_response_iss_parameter_supported: true,
    // for openid-configuration readers; harmless in RFC 8414
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
  };
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const type = typeof body === 'string' ? 'text/plain' : 'application/json';
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store', ...headers });
  res.end(text);
}

// RFC 6749 §5.2 error answers of /token (and /register)
const oauthError = (res, status, error, description) =>
  send(res, status, { error, error_description: description });

function loopbackRedirect(uri) {
  try {
    const u = new URL(uri);
    return (u.protocol === 'http:' || u.protocol === 'https:')
      && (u.hostname === '127.0.0.1' || u.hostname === 'localhost' || u.hostname === '[::1]');
  } catch {
    return false;
  }
}

function redirectAllowed(client, uri) {
  if (!uri) return false;
  return client.redirect_uris ? client.redirect_uris.includes(uri) : loopbackRedirect(uri);
}

function authorize(res, q) {
  const client = clients.get(q.get('client_id') ?? '');
  const redirectUri = q.get('redirect_uri');
  // no redirect to an unverified place (RFC 6749 §4.1.2.1)
  if (!client) return oauthError(res, 400, 'invalid_client', 'unknown client_id');
  if (!redirectAllowed(client, redirectUri)) {
    return oauthError(res, 400, 'invalid_request', 'redirect_uri not registered');
  }
  const back = new URL(redirectUri);
  const state = q.get('state');
  if (state !== null) back.searchParams.set('state', state);
  back.searchParams.set('iss', issuer);
  let error = null;
  if (q.get('response_type') !== 'code') error = ['unsupported_response_type', 'response_type must be code'];
  else if (!q.get('code_challenge')) error = ['invalid_request', 'code_challenge is required'];
  else if (q.get('code_challenge_method') !== 'S256') error = ['invalid_request', 'code_challenge_method must be S256'];
  if (error) {
    back.searchParams.set('error', error[0]);
    back.searchParams.set('error_description', error[1]);
  } else {
    const code = random();
    codes.set(code, {
      client_id: client.client_id, redirect_uri: redirectUri, scope: q.get('scope') ?? '',
      resource: q.get('resource'), challenge: q.get('code_challenge'),
      sub: q.get('login_hint') || opts.sub, exp: now() + 300,
    });
    back.searchParams.set('code', code);
  }
  res.writeHead(302, { Location: back.toString(), 'Content-Length': 0, 'Cache-Control': 'no-store' });
  res.end();
}

function tokenAnswer(res, grant) {
  const refreshToken = random();
  refresh.set(refreshToken, grant);
  send(res, 200, {
    access_token: accessToken({ sub: grant.sub, aud: grant.resource, scope: grant.scope,
      client_id: grant.client_id }),
    token_type: 'Bearer', expires_in: opts.ttl, refresh_token: refreshToken, scope: grant.scope,
  });
}

function token(res, f) {
  const gt = f.get('grant_type');
  const clientId = f.get('client_id');
  if (!clientId || !clients.has(clientId)) return oauthError(res, 401, 'invalid_client', 'unknown client_id');
  if (gt === 'authorization_code') {
    const code = f.get('code') ?? '';
    const c = codes.get(code);
    codes.delete(code);            // single use, also when it fails below
    if (!c || c.exp < now()) return oauthError(res, 400, 'invalid_grant', 'unknown or expired code');
    if (c.client_id !== clientId) return oauthError(res, 400, 'invalid_grant', 'code issued to another client');
    if (f.get('redirect_uri') !== c.redirect_uri) return oauthError(res, 400, 'invalid_grant', 'redirect_uri mismatch');
    const verifier = f.get('code_verifier') ?? '';
    if (b64url(crypto.createHash('sha256').update(verifier).digest()) !== c.challenge) {
      return oauthError(res, 400, 'invalid_grant', 'PKCE verification failed');
    }
    const resource = f.get('resource');
    if (resource !== null && resource !== c.resource) {
      return oauthError(res, 400, 'invalid_target', 'resource differs from the authorization request');
    }
    return tokenAnswer(res, { client_id: clientId, scope: c.scope, resource: c.resource, sub: c.sub });
  }
  if (gt === 'refresh_token') {
    const rt = f.get('refresh_token') ?? '';
    const g = refresh.get(rt);
    if (!g) return oauthError(res, 400, 'invalid_grant', 'unknown refresh token');
    if (g.client_id !== clientId) return oauthError(res, 400, 'invalid_grant', 'refresh token of another client');
    const resource = f.get('resource');
    if (resource !== null && resource !== g.resource) {
      return oauthError(res, 400, 'invalid_target', 'resource differs from the original grant');
    }
    let scope = g.scope;
    if (f.get('scope') !== null) {
      const had = new Set(g.scope.split(/\s+/).filter(Boolean));
      const want = f.get('scope').split(/\s+/).filter(Boolean);
      if (want.some((s) => !had.has(s))) return oauthError(res, 400, 'invalid_scope', 'scope exceeds the grant');
      scope = want.join(' ');
    }
    refresh.delete(rt);            // rotation: the old one is spent
    return tokenAnswer(res, { ...g, scope });
  }
  return oauthError(res, 400, 'unsupported_grant_type', 'grant_type must be authorization_code or refresh_token');
}

function register(res, body) {
  let m;
  try {
    m = JSON.parse(body);
  } catch {
    return oauthError(res, 400, 'invalid_client_metadata', 'body is not JSON');
  }
  if (!m || typeof m !== 'object' || !Array.isArray(m.redirect_uris) || m.redirect_uris.length === 0
      || !m.redirect_uris.every((u) => typeof u === 'string' && URL.canParse(u))) {
    return oauthError(res, 400, 'invalid_redirect_uri', 'redirect_uris must be a non-empty array of URLs');
  }
  const client = {
    ...m, client_id: `dcr-${random()}`, client_id_issued_at: now(),
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'],
  };
  clients.set(client.client_id, client);
  send(res, 201, client);
}

function mint(res, q) {
  const claim = (name, dflt) => (q.has(name) ? q.get(name) || undefined : dflt);
  const iat = now();
  const auds = q.getAll('aud').filter(Boolean);
  const claims = { iss: claim('iss', issuer), sub: claim('sub', opts.sub) };
  if (auds.length) claims.aud = auds.length === 1 ? auds[0] : auds;
  const scope = claim('scope', undefined);
  if (scope) claims.scope = scope;
  claims.client_id = claim('client_id', 'test-client');
  claims.iat = iat;
  const exp = q.get('exp');
  if (exp === null || exp === '') claims.exp = iat + opts.ttl;
  else if (exp !== 'none') {
    if (!/^-?\d+$/.test(exp)) return send(res, 400, 'exp must be seconds from now or none\n');
    claims.exp = iat + Number(exp);
  }
  claims.jti = random();
  const key = q.get('key') ?? 'main';
  if (key !== 'main' && key !== 'other') return send(res, 400, 'key must be main or other\n');
  for (const k of Object.keys(claims)) if (claims[k] === undefined) delete claims[k];
  send(res, 200, signJwt(claims, key === 'other' ? otherKey : mainKey));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 65536) reject(new Error('body too large'));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function handle(req, res) {
  const url = new URL(req.url, base);
  const path = url.pathname;
  const entry = { method: req.method, path };
  if (path !== '/log') log.push(entry);
  res.on('finish', () => { entry.status = res.statusCode; });
  const get = req.method === 'GET' || req.method === 'HEAD';
  if (get && (path.startsWith('/.well-known/oauth-authorization-server')
              || path.startsWith('/.well-known/openid-configuration'))) {
    return send(res, 200, metadata(), { 'Access-Control-Allow-Origin': '*' });
  }
  if (get && path === '/jwks') return send(res, 200, { keys: [jwk] }, { 'Cache-Control': 'max-age=60' });
  if (get && path === '/authorize') return authorize(res, url.searchParams);
  if (get && path === '/mint') return mint(res, url.searchParams);
  if (get && path === '/log') return send(res, 200, log);
  if (req.method === 'POST' && (path === '/token' || path === '/register')) {
    let body;
    try {
      body = await readBody(req);
    } catch {
      return oauthError(res, 413, 'invalid_request', 'body too large');
    }
    if (path === '/register') return register(res, body);
    const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      return oauthError(res, 400, 'invalid_request', 'the token request must be a form');
    }
    const form = new URLSearchParams(body);
    entry.grant_type = form.get('grant_type') ?? undefined;
    return token(res, form);
  }
  if (['/token', '/register', '/jwks', '/authorize', '/mint', '/log'].includes(path)) {
    return send(res, 405, { error: 'method not allowed' });
  }
  return send(res, 404, { error: 'not found' });
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: String(e) });
    else res.destroy();
  });
});
server.listen(opts.port, '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  issuer = opts.issuer ?? base;
  process.stdout.write(`READY ${port}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { server.close(); process.exit(0); });
}
