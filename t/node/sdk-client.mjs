#!/usr/bin/env node
// One MCP conversation driven by the official TypeScript SDK client
// (@modelcontextprotocol/sdk, StreamableHTTPClientTransport) against
// mod_mcp_session serving mod_mcp_example.
//
// usage: node sdk-client.mjs [--quiet] URL [URL...]
//
// With several URLs, every HTTP request of the one conversation goes to the
// next URL in turn (a custom fetch rewrites the request URL and keeps all
// headers, so the same Mcp-Session-Id travels from node to node): this is
// what a round-robin load balancer in front of a fleet does.
//
// Steps: connect (initialize + notifications/initialized + the SDK's GET),
// tools/list (echo and add must be there), tools/call echo (plain and
// non-ASCII), tools/call echo without text (tool error), tools/call add
// (integer and fractional sums, formatted as JavaScript does), ping,
// terminateSession (DELETE), then a raw tools/list with the terminated
// session id, which must get 404.
//
// Prints a JSON summary on stdout; the wire log goes to stderr. Exits 0 when
// everything matched, 1 on any mismatch (each one listed in "failures"),
// 2 on a usage error.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const args = process.argv.slice(2);
const quiet = args.includes('--quiet');
const urls = args.filter((a) => !a.startsWith('--')).map((u) => new URL(u));
if (urls.length === 0) {
  console.error('usage: node sdk-client.mjs [--quiet] URL [URL...]');
  process.exit(2);
}

const failures = [];
const wire = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`MISMATCH: ${msg}`);
};
const log = (msg) => {
  if (!quiet) console.error(msg);
};

// Rotate over the URLs, one per HTTP request.
let next = 0;
const rotatingFetch = async (input, init = {}) => {
  const idx = next++ % urls.length;
  const orig = new URL(input instanceof Request ? input.url : String(input));
  const target = new URL(urls[idx]);
  target.search = orig.search;
  const method = init.method ?? 'GET';
  let rpc = null;
  if (typeof init.body === 'string') {
    try {
      const b = JSON.parse(init.body);
      rpc = Array.isArray(b) ? b.map((m) => m.method ?? 'response').join(',') : (b.method ?? 'response');
    } catch {
      rpc = '?';
    }
  }
  const headers = new Headers(init.headers);
  const res = await fetch(target, init);
  const entry = {
    node: idx,
    method,
    rpc,
    status: res.status,
    contentType: res.headers.get('content-type'),
    sentSession: headers.get('mcp-session-id'),
    sentVersion: headers.get('mcp-protocol-version'),
    gotSession: res.headers.get('mcp-session-id'),
  };
  wire.push(entry);
  log(`> node${idx} ${method} ${target.pathname} ${rpc ?? ''} sid=${entry.sentSession ?? '-'} ` +
      `ver=${entry.sentVersion ?? '-'} < ${res.status} ${entry.contentType ?? ''} sid=${entry.gotSession ?? '-'}`);
  return res;
};

const textOf = (result) =>
  (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');

const summary = {
  urls: urls.map(String),
  sessionId: null,
  protocolVersion: null,
  server: null,
  tools: [],
  results: {},
};

const client = new Client({ name: 'mod-mcp-session-sdk-client', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(urls[0], { fetch: rotatingFetch });
const transportErrors = [];
transport.onerror = (e) => {
  transportErrors.push(e?.message ?? String(e));
  log(`transport error: ${e?.message ?? e}`);
};

async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    fail(`${name}: ${e?.message ?? e}`);
    return undefined;
  }
}

async function main() {
  const connected = await step('connect', async () => {
    await client.connect(transport);
    return true;
  });
  if (!connected) return;

  summary.sessionId = transport.sessionId ?? null;
  summary.protocolVersion = transport.protocolVersion ?? null;
  summary.server = client.getServerVersion() ?? null;
  if (!summary.sessionId) {
    fail('connect: no Mcp-Session-Id header on the initialize response');
  } else if (!/^[A-Za-z0-9_-]{43}$/.test(summary.sessionId)) {
    fail(`connect: session id ${JSON.stringify(summary.sessionId)} is not 43 base64url characters`);
  }
  if (summary.protocolVersion !== '2025-11-25') {
    fail(`connect: negotiated protocol version ${summary.protocolVersion}, expected 2025-11-25`);
  }
  if (!client.getServerCapabilities()?.tools) {
    fail('connect: server capabilities lack "tools"');
  }

  const list = await step('tools/list', () => client.listTools());
  summary.tools = (list?.tools ?? []).map((t) => t.name);
  for (const want of ['echo', 'add']) {
    if (list && !summary.tools.includes(want)) fail(`tools/list: tool "${want}" missing (got ${summary.tools.join(', ')})`);
  }

  const echoCases = [
    ['echo', 'hello from the SDK client'],
    ['echo-unicode', 'héllo wörld ✓ "quoted" \\ back\nslash'],
  ];
  for (const [label, text] of echoCases) {
    const r = await step(`tools/call ${label}`, () => client.callTool({ name: 'echo', arguments: { text } }));
    if (r) {
      summary.results[label] = textOf(r);
      if (r.isError) fail(`tools/call ${label}: isError is set`);
      if (textOf(r) !== text) fail(`tools/call ${label}: got ${JSON.stringify(textOf(r))}, expected ${JSON.stringify(text)}`);
    }
  }

  const bad = await step('tools/call echo (no text)', () => client.callTool({ name: 'echo', arguments: {} }));
  if (bad) {
    summary.results['echo-missing-text'] = { isError: bad.isError === true, text: textOf(bad) };
    if (bad.isError !== true) fail('tools/call echo without text: expected a tool error (isError: true)');
  }

  const addCases = [
    ['add', { a: 2, b: 3 }],
    ['add-fraction', { a: 0.25, b: 0.25 }],
    ['add-negative', { a: 1.5, b: -4 }],
    ['add-float', { a: 0.1, b: 0.2 }],
  ];
  for (const [label, a] of addCases) {
    const r = await step(`tools/call ${label}`, () => client.callTool({ name: 'add', arguments: a }));
    if (r) {
      const expected = String(a.a + a.b);
      summary.results[label] = textOf(r);
      if (r.isError) fail(`tools/call ${label}: isError is set`);
      if (textOf(r) !== expected) fail(`tools/call ${label}: got ${JSON.stringify(textOf(r))}, expected ${JSON.stringify(expected)}`);
    }
  }

  const pong = await step('ping', () => client.ping());
  if (pong !== undefined) {
    summary.results.ping = pong;
    if (pong === null || typeof pong !== 'object' || Object.keys(pong).length !== 0) {
      fail(`ping: expected {} got ${JSON.stringify(pong)}`);
    }
  }

  const sid = transport.sessionId;
  const version = transport.protocolVersion;
  const terminated = await step('terminateSession', async () => {
    await transport.terminateSession();
    return true;
  });
  if (terminated) {
    const del = wire.filter((w) => w.method === 'DELETE').pop();
    summary.results.delete = del?.status ?? null;
    if (del && del.status !== 200) fail(`DELETE: status ${del.status}, expected 200`);
  }

  // The terminated session must be gone on whichever node answers next.
  if (sid) {
    const r = await step('tools/list after DELETE', () =>
      rotatingFetch(urls[0], {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': sid,
          'mcp-protocol-version': version ?? '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list' }),
      }));
    if (r) {
      let body = null;
      try { body = await r.json(); } catch { /* checked below */ }
      summary.results.afterDelete = { status: r.status, body };
      if (r.status !== 404) fail(`tools/list with the terminated session: status ${r.status}, expected 404`);
      else if (body?.error?.code !== -32001) fail(`tools/list with the terminated session: error ${JSON.stringify(body?.error)}, expected code -32001`);
    }
  }
}

try {
  await main();
} finally {
  try { await client.close(); } catch { /* already closed */ }
}

// Wire checks: every request of the session carried its id and version, the
// requests went round the nodes, and every 200 of the session named it.
const sessionId = summary.sessionId;
for (const [i, w] of wire.entries()) {
  if (i === 0) continue; // initialize
  if (sessionId && w.sentSession !== sessionId) {
    fail(`request ${i} (${w.method} ${w.rpc ?? ''}) sent session ${w.sentSession}, expected ${sessionId}`);
  }
  if (w.method === 'POST' && w.status === 200 && w.rpc !== null && sessionId && w.gotSession !== sessionId &&
      w.sentSession === sessionId) {
    fail(`request ${i} (${w.rpc}): 200 response without the session's Mcp-Session-Id header`);
  }
}
const getReq = wire.find((w) => w.method === 'GET');
if (getReq && getReq.status !== 405 && getReq.status !== 200) {
  fail(`GET (standalone SSE stream): status ${getReq.status}, expected 405 (or 200)`);
}
const perNode = urls.map((_, i) => wire.filter((w) => w.node === i).length);
if (urls.length > 1) {
  perNode.forEach((n, i) => { if (n === 0) fail(`node ${i} (${urls[i]}) served no request`); });
}

summary.requests = wire.length;
summary.perNode = perNode;
summary.wire = wire.map((w) => `${w.node}:${w.method}:${w.rpc ?? ''}:${w.status}`);
summary.transportErrors = transportErrors;
summary.failures = failures;
summary.ok = failures.length === 0;
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.ok ? 0 : 1);
