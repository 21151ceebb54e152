#!/usr/bin/env node
// The whole OAuth flow of an MCP client, headless, driven by the official
// TypeScript SDK clients against an endpoint protected by an httpd auth
// module (README "OAuth: an endpoint behind httpd's auth modules"; the
// authorization server is t/node/oauth-as.mjs):
//
//   401 -> resource_metadata document -> authorization-server metadata
//   -> (registration) -> authorize -> token -> initialize -> tools/call,
//   then, inside the transport: 401 invalid_token -> refresh grant -> retry,
//   403 insufficient_scope -> a new authorization with more scope -> retry.
//
// usage: node oauth-client.mjs [options] URL STEP...
//   --sdk v1|v2       v1: @modelcontextprotocol/sdk 1.32.2 (default);
//                     v2: @modelcontextprotocol/client 2.4.0
//   --era legacy|auto v2 only: versionNegotiation mode. legacy: the
//                     2025-11-25 session protocol (initialize); auto
//                     (default for v2): probes with server/discover and
//                     takes 2026-07-28 when the server offers it
//   --client-id ID    the pre-registered client (default test-client)
//   --dcr             no client id: RFC 7591 dynamic registration
//   --issuer URL      the authorization server the pre-registered client
//                     belongs to (v2 binds stored credentials to an issuer,
//                     SEP-2352, and warns about a client id without one)
//   --login-hint SUB  who "logs in" at the authorization server
//   --scope S         the client metadata's scope (used only when neither
//                     the challenge nor the document names scopes)
//   --redirect URL    redirect_uri (default http://127.0.0.1:9/callback; it
//                     is never contacted: the code is taken from Location)
//   --quiet           no wire log on stderr
// STEPs, run in order:
//   connect           Client.connect (initialize, or server/discover)
//   list              tools/list
//   call:NAME[:JSON]  tools/call NAME with JSON arguments (default for
//                     echo: {"text":"hello oauth"}; else {})
//   sleep:SECONDS     wait (a token's expiry, for the refresh)
//   delete            DELETE the session (terminateSession)
//
// The redirect to the authorization server is followed by hand (fetch with
// redirect: 'manual'); the code, state and iss come from the Location of
// its 302 and go to transport.finishAuth(), then the step runs again (a
// connect with a new Client and transport, as the SDK's own
// simpleOAuthClient does; a call on the same transport, which keeps its
// session). Refresh and step-up otherwise happen inside the SDK.
//
// Output on stdout, one JSON object per line:
//   {"step":..., "ok":..., "ms":..., "sessionId":..., "token":{...},
//    "authRounds":N, "requests":[...], ...}   one per step
//   {"summary":true, "ok":..., "failures":[...], "tokens":[...],
//    "client":{...}, "requests":N}             last
// A request is {t, ms, kind, method, url, status, www, ...}: kind is mcp,
// prm (the resource metadata document), as-meta, register, authorize or
// token; www is the answer's WWW-Authenticate; t is its start in ms since
// the client began. Access tokens never appear: "bearer" and the token's
// "hash" are the first 12 hex digits of its SHA-256, with its decoded
// claims (iss, sub, aud, scope, client_id, exp) beside. The wire log goes to
// stderr. Exit 0 when every step succeeded, 1 otherwise, 2 on a usage error.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const args = process.argv.slice(2);
const opt = {
  sdk: 'v1', era: null, clientId: 'test-client', issuer: null, dcr: false, loginHint: null, scope: null,
  redirect: 'http://127.0.0.1:9/callback', quiet: false,
};
const positional = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const val = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    return args[++i];
  };
  if (a === '--sdk') opt.sdk = val();
  else if (a === '--era') opt.era = val();
  else if (a === '--client-id') opt.clientId = val();
  else if (a === '--issuer') opt.issuer = val();
  else if (a === '--dcr') opt.dcr = true;
  else if (a === '--login-hint') opt.loginHint = val();
  else if (a === '--scope') opt.scope = val();
  else if (a === '--redirect') opt.redirect = val();
  else if (a === '--quiet') opt.quiet = true;
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else positional.push(a);
}
function usage(msg) {
  console.error(`oauth-client.mjs: ${msg}`);
  console.error('usage: node oauth-client.mjs [--sdk v1|v2] [--era legacy|auto] [--client-id ID | --dcr] ' +
                '[--login-hint SUB] [--scope S] [--quiet] URL STEP...');
  process.exit(2);
}
if (!['v1', 'v2'].includes(opt.sdk)) usage(`--sdk ${opt.sdk}`);
opt.era = opt.era ?? (opt.sdk === 'v2' ? 'auto' : 'legacy');
if (!['legacy', 'auto'].includes(opt.era) || (opt.sdk === 'v1' && opt.era !== 'legacy')) usage(`--era ${opt.era}`);
if (positional.length < 2) usage('URL and at least one step');
const url = new URL(positional[0]);
const steps = positional.slice(1);
for (const s of steps) {
  if (!/^(connect|list|delete|sleep:\d+(\.\d+)?|call:[^:]+(:.*)?)$/.test(s)) usage(`bad step ${s}`);
}

const sdk = opt.sdk === 'v1'
  ? {
    Client: (await import('@modelcontextprotocol/sdk/client/index.js')).Client,
    Transport: (await import('@modelcontextprotocol/sdk/client/streamableHttp.js')).StreamableHTTPClientTransport,
    UnauthorizedError: (await import('@modelcontextprotocol/sdk/client/auth.js')).UnauthorizedError,
  }
  : await (async () => {
    const m = await import('@modelcontextprotocol/client');
    return { Client: m.Client, Transport: m.StreamableHTTPClientTransport, UnauthorizedError: m.UnauthorizedError };
  })();

const T0 = performance.now();
const now = () => Math.round((performance.now() - T0) * 10) / 10;
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`MISMATCH: ${msg}`);
};
const log = (msg) => {
  if (!opt.quiet) console.error(msg);
};
const hash12 = (s) => createHash('sha256').update(String(s)).digest('hex').slice(0, 12);

// The claims of a JWT (no signature check: the resource server does that).
function claimsOf(jwt) {
  try {
    const c = JSON.parse(Buffer.from(String(jwt).split('.')[1], 'base64url').toString('utf8'));
    const pick = {};
    for (const k of ['iss', 'sub', 'aud', 'scope', 'client_id', 'exp', 'iat']) if (k in c) pick[k] = c[k];
    return pick;
  } catch {
    return null;
  }
}

// ------------------------------------------------------------ the wire
// Every HTTP request of the SDK (to the endpoint and to the authorization
// server) and of the headless "browser" goes through here.
const wire = [];
function kindOf(u, method) {
  const p = u.pathname;
  if (p.startsWith('/.well-known/oauth-protected-resource')) return 'prm';
  if (p.startsWith('/.well-known/oauth-authorization-server') || p.startsWith('/.well-known/openid-configuration')) {
    return 'as-meta';
  }
  if (p === '/register' && method === 'POST') return 'register';
  if (p === '/authorize') return 'authorize';
  if (p === '/token' && method === 'POST') return 'token';
  if (u.origin === url.origin && p === url.pathname) return 'mcp';
  return 'other';
}
const recordingFetch = async (input, init = {}) => {
  const target = new URL(input instanceof Request ? input.url : String(input));
  const method = init.method ?? (input instanceof Request ? input.method : 'GET');
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  const kind = kindOf(target, method);
  const entry = { t: now(), kind, method, url: `${target.origin}${target.pathname}` };
  const authz = headers.get('authorization');
  if (authz) entry.bearer = /^Bearer /i.test(authz) ? hash12(authz.slice(7)) : authz.split(' ')[0];
  if (kind === 'mcp') {
    entry.sid = headers.get('mcp-session-id');
    entry.version = headers.get('mcp-protocol-version');
    if (typeof init.body === 'string') {
      try {
        const b = JSON.parse(init.body);
        entry.rpc = Array.isArray(b) ? b.map((m) => m.method ?? 'response').join(',') : (b.method ?? 'response');
      } catch {
        entry.rpc = '?';
      }
    }
  }
  if (kind === 'authorize') {
    const q = target.searchParams;
    entry.query = {};
    for (const k of ['client_id', 'response_type', 'code_challenge_method', 'redirect_uri', 'scope', 'resource',
      'login_hint']) {
      if (q.has(k)) entry.query[k] = q.get(k);
    }
    entry.query.state = q.has('state');
    entry.query.code_challenge = q.has('code_challenge');
  }
  if (kind === 'token' || kind === 'register') {
    // never the code, the verifier or the refresh token
    if (init.body instanceof URLSearchParams || typeof init.body === 'string') {
      const f = init.body instanceof URLSearchParams ? init.body : new URLSearchParams(init.body);
      if (kind === 'register') {
        try {
          const b = JSON.parse(String(init.body));
          entry.form = { client_name: b.client_name, scope: b.scope, redirect_uris: b.redirect_uris };
        } catch { /* not JSON */ }
      } else {
        entry.form = {};
        for (const k of ['grant_type', 'resource', 'scope', 'client_id', 'redirect_uri']) {
          if (f.has(k)) entry.form[k] = f.get(k);
        }
        entry.form.code_verifier = f.has('code_verifier');
      }
    }
  }
  let res;
  try {
    res = await fetch(input, init);
  } catch (e) {
    entry.error = e?.message ?? String(e);
    entry.ms = Math.round((now() - entry.t) * 10) / 10;
    entry.n = wire.length;
    wire.push(entry);
    log(`> ${method} ${target.href} !! ${entry.error}`);
    throw e;
  }
  entry.ms = Math.round((now() - entry.t) * 10) / 10;
  entry.status = res.status;
  const www = res.headers.get('www-authenticate');
  if (www !== null) entry.www = www;
  if (kind === 'mcp') entry.gotSid = res.headers.get('mcp-session-id');
  if (kind === 'authorize') {
    const loc = res.headers.get('location');
    if (loc) {
      const l = new URL(loc);
      entry.location = {
        to: `${l.origin}${l.pathname}`, code: l.searchParams.has('code'), iss: l.searchParams.get('iss'),
        error: l.searchParams.get('error'),
      };
    }
  }
  entry.n = wire.length;   // in the order the answers came
  wire.push(entry);
  log(`> ${method} ${target.origin}${target.pathname} ${entry.rpc ?? ''} sid=${entry.sid ?? '-'} ` +
      `bearer=${entry.bearer ?? '-'} < ${res.status}${www !== null ? ` [${www}]` : ''}`);
  return res;
};

// ------------------------------------------------------------ provider
// An OAuthClientProvider (both SDKs) that keeps everything in memory and
// plays the browser itself.
const tokensSeen = [];
const preRegistered = () => {
  if (opt.dcr) return undefined;
  return opt.issuer ? { client_id: opt.clientId, issuer: opt.issuer } : { client_id: opt.clientId };
};
class HeadlessProvider {
  constructor() {
    this._client = preRegistered();
    this._tokens = undefined;
    this._verifier = undefined;
    this._discovery = undefined;
    this._state = undefined;
    this.callback = null;   // URLSearchParams of the last redirect back
    this.redirects = 0;
    this.invalidated = [];
    this.registered = null;
  }

  get redirectUrl() { return opt.redirect; }

  get clientMetadata() {
    const m = {
      client_name: 'mod-mcp-session oauth-client',
      redirect_uris: [opt.redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    if (opt.scope) m.scope = opt.scope;
    return m;
  }

  state() {
    this._state = randomBytes(12).toString('base64url');
    return this._state;
  }

  clientInformation() { return this._client; }

  saveClientInformation(info) {
    if (!this._client) this.registered = { client_id: info.client_id };
    this._client = info;
  }

  tokens() { return this._tokens; }

  saveTokens(t) {
    this._tokens = t;
    const rec = {
      t: now(), hash: hash12(t.access_token), claims: claimsOf(t.access_token), scope: t.scope ?? null,
      expires_in: t.expires_in ?? null, refresh: Boolean(t.refresh_token),
    };
    tokensSeen.push(rec);
    log(`  token ${rec.hash} ${JSON.stringify(rec.claims)}`);
  }

  saveCodeVerifier(v) { this._verifier = v; }

  codeVerifier() {
    if (!this._verifier) throw new Error('no code verifier saved');
    return this._verifier;
  }

  saveDiscoveryState(s) { this._discovery = s; }

  discoveryState() { return this._discovery; }

  invalidateCredentials(scope) {
    this.invalidated.push(scope);
    if (scope === 'all' || scope === 'client') this._client = preRegistered();
    if (scope === 'all' || scope === 'tokens') this._tokens = undefined;
    if (scope === 'all' || scope === 'verifier') this._verifier = undefined;
    if (scope === 'all' || scope === 'discovery') this._discovery = undefined;
  }

  // The user agent: follow the authorization URL once, keep what the 302
  // sends back to the redirect URI.
  async redirectToAuthorization(authorizationUrl) {
    const u = new URL(String(authorizationUrl));
    if (opt.loginHint) u.searchParams.set('login_hint', opt.loginHint);
    this.redirects++;
    const res = await recordingFetch(u, { redirect: 'manual' });
    const loc = res.headers.get('location');
    await res.text().catch(() => '');
    if (res.status !== 302 || !loc) throw new Error(`authorize answered ${res.status} without a redirect`);
    const back = new URL(loc);
    if (`${back.origin}${back.pathname}` !== new URL(opt.redirect).href.replace(/[?#].*$/, '')) {
      throw new Error(`authorize redirected to ${back.origin}${back.pathname}, not the redirect_uri`);
    }
    if (back.searchParams.get('state') !== this._state) throw new Error('authorize: state mismatch');
    this.callback = back.searchParams;
  }

  takeCallback() {
    const cb = this.callback;
    this.callback = null;
    return cb;
  }
}

const provider = new HeadlessProvider();

// ------------------------------------------------------------ client
let client = null;
let transport = null;
const transportErrors = [];

function newClient() {
  const info = { name: 'mod-mcp-session-oauth-client', version: '1.0.0' };
  client = opt.sdk === 'v1'
    ? new sdk.Client(info)
    : new sdk.Client(info, { versionNegotiation: { mode: opt.era } });
  transport = new sdk.Transport(url, { authProvider: provider, fetch: recordingFetch });
  transport.onerror = (e) => {
    transportErrors.push(e?.message ?? String(e));
    log(`transport error: ${e?.message ?? e}`);
  };
}

const isUnauthorized = (e) => e instanceof sdk.UnauthorizedError || e?.name === 'UnauthorizedError';

// A redirect to the authorization server ends the SDK's attempt with
// UnauthorizedError: hand the code to finishAuth() and run it again.
async function withAuth(run, reconnect) {
  let rounds = 0;
  for (;;) {
    try {
      const r = await run();
      return { result: r, rounds };
    } catch (e) {
      if (!isUnauthorized(e) || !provider.callback || rounds >= 3) throw e;
      rounds++;
      const cb = provider.takeCallback();
      const code = cb.get('code');
      if (!code) throw new Error(`authorization failed: ${cb.get('error') ?? 'no code'}`);
      if (opt.sdk === 'v1') await transport.finishAuth(code);
      else await transport.finishAuth(cb);
      if (reconnect) {
        try { await client.close(); } catch { /* the failed attempt closed it */ }
        newClient();
      }
    }
  }
}

const textOf = (result) =>
  (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');

function currentToken() {
  const t = provider.tokens();
  if (!t?.access_token) return null;
  const c = claimsOf(t.access_token) ?? {};
  return { hash: hash12(t.access_token), sub: c.sub, aud: c.aud, scope: c.scope ?? t.scope ?? null };
}

let allOk = true;
async function runStep(step) {
  const first = wire.length;
  const t0 = now();
  const line = { step };
  try {
    if (step === 'connect') {
      newClient();
      const { rounds } = await withAuth(() => client.connect(transport), true);
      line.authRounds = rounds;
      line.protocolVersion = opt.sdk === 'v1'
        ? (transport.protocolVersion ?? null)
        : (client.getNegotiatedProtocolVersion?.() ?? transport.protocolVersion ?? null);
      if (opt.sdk === 'v2') line.era = client.getProtocolEra?.() ?? null;
      line.server = client.getServerVersion()?.name ?? null;
    } else if (step === 'list') {
      const { result, rounds } = await withAuth(() => client.listTools(), false);
      line.authRounds = rounds;
      line.tools = (result?.tools ?? []).map((t) => t.name);
    } else if (step.startsWith('call:')) {
      const [, name, ...rest] = step.split(':');
      const json = rest.join(':');
      const toolArgs = json ? JSON.parse(json) : (name === 'echo' ? { text: 'hello oauth' } : {});
      const { result, rounds } = await withAuth(() => client.callTool({ name, arguments: toolArgs }), false);
      line.authRounds = rounds;
      line.isError = result?.isError === true;
      line.text = textOf(result);
      if (line.isError) throw new Error(`tool error: ${line.text}`);
    } else if (step.startsWith('sleep:')) {
      const s = Number(step.slice(6));
      await new Promise((r) => setTimeout(r, s * 1000));
    } else if (step === 'delete') {
      if (!transport.sessionId) {
        line.skipped = 'no session';
      } else {
        await transport.terminateSession();
        line.deleted = transport.sessionId === undefined;
      }
    }
    line.ok = true;
  } catch (e) {
    line.ok = false;
    line.error = e?.message ?? String(e);
    if (e?.code !== undefined) line.code = e.code;
    fail(`${step}: ${line.error}`);
    allOk = false;
  }
  line.ms = Math.round((now() - t0) * 10) / 10;
  line.sessionId = transport?.sessionId ?? null;
  line.token = currentToken();
  line.requests = wire.slice(first);
  console.log(JSON.stringify(line));
}

for (const step of steps) {
  await runStep(step);
  if (!allOk && step === 'connect') break;   // nothing to run without a connection
}
try { await client?.close(); } catch { /* closed */ }

console.log(JSON.stringify({
  summary: true,
  ok: failures.length === 0,
  failures,
  sdk: opt.sdk,
  era: opt.era,
  client: { preRegistered: !opt.dcr, clientId: provider.clientInformation()?.client_id ?? null,
    registered: provider.registered, redirects: provider.redirects, invalidated: provider.invalidated },
  tokens: tokensSeen,
  transportErrors,
  requests: wire.length,
  ms: now(),
}));
process.exit(failures.length === 0 ? 0 : 1);
