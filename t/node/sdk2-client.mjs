#!/usr/bin/env node
// Both eras on one URL, driven by the official TypeScript SDKs against
// mod_mcp_session serving mod_mcp_example (MCPExampleTestTools on):
//
//   v2  @modelcontextprotocol/client 2.4.0 with versionNegotiation 'auto':
//       it probes with server/discover and must pick the 2026-07-28 era (no
//       session); then tools/list, a plain tools/call (echo), and tools that
//       ask the user through multi-round calls, which the client drives by
//       itself: its elicitation/create handler answers every inputRequest
//       and the client calls again with inputResponses and requestState
//       (test_input_required_result_elicitation: two requests;
//       ..._multi_round: three, with an evolving state; the prompt
//       test_input_required_result_prompt), and test_missing_capability,
//       which needs sampling the client did not declare (-32021);
//   v1  @modelcontextprotocol/sdk 1.32.2 on the same URL: the session
//       protocol (initialize, Mcp-Session-Id on every request), tools/list,
//       echo, and a multi-round tool, which a session client cannot be
//       served yet: a JSON-RPC error that says so.
//
// usage: node sdk2-client.mjs [--quiet] URL [URL...]
//
// With several URLs every HTTP request goes to the next URL in turn (as a
// round-robin balancer would), so each round of a multi-round call lands on
// another node: the nodes must share MCPRequestStateKeyFile.
//
// A fetch wrapper records every request: sent Mcp-Session-Id,
// MCP-Protocol-Version, Mcp-Method and Mcp-Name, the answer's status,
// content type and Mcp-Session-Id. The v2 client must never send or get a
// session id; every v1 request after initialize must carry its session.
//
// Prints a JSON summary on stdout; the wire log goes to stderr. Exits 0 when
// everything matched, 1 on any mismatch (each one listed in "failures"),
// 2 on a usage error.
import { Client as Client2, StreamableHTTPClientTransport as Transport2 } from '@modelcontextprotocol/client';
import { Client as Client1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as Transport1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const args = process.argv.slice(2);
const quiet = args.includes('--quiet');
const urls = args.filter((a) => !a.startsWith('--')).map((u) => new URL(u));
if (urls.length === 0) {
  console.error('usage: node sdk2-client.mjs [--quiet] URL [URL...]');
  process.exit(2);
}

const failures = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`MISMATCH: ${msg}`);
};
const log = (msg) => {
  if (!quiet) console.error(msg);
};

// A fetch that rotates over the URLs and records what went by, per client.
function recordingFetch(label, wire) {
  let next = 0;
  return async (input, init = {}) => {
    const idx = next++ % urls.length;
    const orig = new URL(input instanceof Request ? input.url : String(input));
    const target = new URL(urls[idx]);
    target.search = orig.search;
    const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
    let rpc = null;
    let id;
    if (typeof init.body === 'string') {
      try {
        const b = JSON.parse(init.body);
        rpc = Array.isArray(b) ? b.map((m) => m.method ?? 'response').join(',') : (b.method ?? 'response');
        id = Array.isArray(b) ? undefined : b.id;
      } catch {
        rpc = '?';
      }
    }
    const res = await fetch(target, init);
    const entry = {
      node: idx,
      method: init.method ?? 'GET',
      rpc,
      id,
      status: res.status,
      contentType: res.headers.get('content-type'),
      sentSession: headers.get('mcp-session-id'),
      sentVersion: headers.get('mcp-protocol-version'),
      sentMethod: headers.get('mcp-method'),
      sentName: headers.get('mcp-name'),
      gotSession: res.headers.get('mcp-session-id'),
    };
    wire.push(entry);
    log(`${label} > node${idx} ${entry.method} ${rpc ?? ''} ver=${entry.sentVersion ?? '-'} ` +
        `method=${entry.sentMethod ?? '-'} name=${entry.sentName ?? '-'} sid=${entry.sentSession ?? '-'} ` +
        `< ${res.status} ${entry.contentType ?? ''} sid=${entry.gotSession ?? '-'}`);
    return res;
  };
}

const textOf = (result) =>
  (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');

async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    fail(`${name}: ${e?.message ?? e}`);
    return undefined;
  }
}

// The error a call fails with (or null when it succeeds).
async function errorOf(fn) {
  try {
    await fn();
    return null;
  } catch (e) {
    return { code: e?.code ?? null, message: e?.message ?? String(e), data: e?.data ?? null };
  }
}

const summary = { urls: urls.map(String), v2: { results: {} }, v1: { results: {} } };

// ------------------------------------------------------------------ v2
async function runV2() {
  const s = summary.v2;
  const wire = [];
  const elicitations = [];
  const client = new Client2(
    { name: 'mod-mcp-session-sdk2-client', version: '1.0.0' },
    {
      capabilities: { elicitation: {} },
      versionNegotiation: { mode: 'auto' },
    });
  // Answers every elicitation the server's inputRequests carry.
  client.setRequestHandler('elicitation/create', async (request) => {
    const message = request?.params?.message ?? '';
    const props = Object.keys(request?.params?.requestedSchema?.properties ?? {});
    elicitations.push(message);
    const answers = { name: 'Ada', color: 'green', context: 'a test of both eras' };
    const content = {};
    for (const p of props) content[p] = answers[p] ?? 'x';
    log(`v2 elicitation: ${JSON.stringify(message)} -> ${JSON.stringify(content)}`);
    return { action: 'accept', content };
  });
  const transport = new Transport2(urls[0], { fetch: recordingFetch('v2', wire) });

  try {
    const connected = await step('v2 connect', async () => {
      await client.connect(transport);
      return true;
    });
    if (!connected) return;
    s.era = client.getProtocolEra() ?? null;
    s.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
    s.server = client.getServerVersion() ?? null;
    s.supportedVersions = client.getDiscoverResult()?.supportedVersions ?? null;
    s.sessionId = transport.sessionId ?? null;
    if (s.era !== 'modern') fail(`v2 connect: era ${s.era}, expected modern`);
    if (s.protocolVersion !== '2026-07-28') fail(`v2 connect: protocol version ${s.protocolVersion}, expected 2026-07-28`);
    if (!client.getServerCapabilities()?.tools) fail('v2 connect: discover lists no tools capability');

    const list = await step('v2 tools/list', () => client.listTools());
    s.tools = (list?.tools ?? []).map((t) => t.name);
    for (const want of ['echo', 'test_input_required_result_elicitation', 'test_input_required_result_multi_round']) {
      if (list && !s.tools.includes(want)) fail(`v2 tools/list: tool "${want}" missing`);
    }

    const text = 'hello from the SDK v2 client ✓';
    const echo = await step('v2 tools/call echo', () => client.callTool({ name: 'echo', arguments: { text } }));
    if (echo) {
      s.results.echo = textOf(echo);
      if (textOf(echo) !== text) fail(`v2 echo: got ${JSON.stringify(textOf(echo))}`);
    }

    // Two requests, one elicitation.
    let before = wire.length;
    elicitations.length = 0;
    const hello = await step('v2 tools/call elicitation', () =>
      client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }));
    if (hello) {
      s.results.elicitation = {
        text: textOf(hello),
        requests: wire.slice(before).filter((w) => w.rpc === 'tools/call').length,
        elicitations: [...elicitations],
      };
      if (textOf(hello) !== 'Hello, Ada!') fail(`v2 elicitation: got ${JSON.stringify(textOf(hello))}`);
    }

    // Three requests, two elicitations, the state evolving in between.
    before = wire.length;
    elicitations.length = 0;
    const multi = await step('v2 tools/call multi_round', () =>
      client.callTool({ name: 'test_input_required_result_multi_round', arguments: {} }));
    if (multi) {
      const calls = wire.slice(before).filter((w) => w.rpc === 'tools/call');
      s.results.multiRound = {
        text: textOf(multi),
        requests: calls.length,
        nodes: calls.map((w) => w.node),
        ids: calls.map((w) => w.id),
        elicitations: [...elicitations],
      };
      if (textOf(multi) !== "Ada's favorite color is green.") fail(`v2 multi_round: got ${JSON.stringify(textOf(multi))}`);
      if (new Set(calls.map((w) => w.id)).size !== calls.length) fail('v2 multi_round: a round reused a JSON-RPC id');
    }

    before = wire.length;
    const prompt = await step('v2 prompts/get', () =>
      client.getPrompt({ name: 'test_input_required_result_prompt', arguments: {} }));
    if (prompt) {
      const t = (prompt.messages ?? []).map((m) => m.content?.text ?? '').join('');
      s.results.prompt = { text: t, requests: wire.slice(before).filter((w) => w.rpc === 'prompts/get').length };
      if (!t.includes('a test of both eras')) fail(`v2 prompt: got ${JSON.stringify(t)}`);
    }

    // Needs sampling, which this client did not declare.
    s.results.missingCapability = await errorOf(() =>
      client.callTool({ name: 'test_missing_capability', arguments: {} }));
    const mc = s.results.missingCapability;
    if (!mc || mc.code !== -32021) fail(`v2 test_missing_capability: ${JSON.stringify(mc)}, expected error -32021`);
  } finally {
    try { await client.close(); } catch { /* already closed */ }
  }

  // No session on the 2026-07-28 wire, ever; every request names its era.
  for (const [i, w] of wire.entries()) {
    if (w.sentSession) fail(`v2 request ${i} (${w.rpc}) sent Mcp-Session-Id ${w.sentSession}`);
    if (w.gotSession) fail(`v2 request ${i} (${w.rpc}) got Mcp-Session-Id ${w.gotSession}`);
    if (w.method === 'POST' && w.sentVersion !== '2026-07-28') {
      fail(`v2 request ${i} (${w.rpc}) sent MCP-Protocol-Version ${w.sentVersion}`);
    }
    if (w.method === 'POST' && w.id !== undefined && w.sentMethod !== w.rpc) {
      fail(`v2 request ${i} (${w.rpc}) sent Mcp-Method ${w.sentMethod}`);
    }
    if (w.method !== 'POST') fail(`v2 request ${i}: ${w.method} (the 2026-07-28 wire is POST only)`);
    if (w.status >= 500) fail(`v2 request ${i} (${w.rpc}): status ${w.status}`);
  }
  s.requests = wire.length;
  s.perNode = urls.map((_, i) => wire.filter((w) => w.node === i).length);
  s.wire = wire.map((w) => `${w.node}:${w.method}:${w.rpc ?? ''}:${w.status}:${w.sentSession ? 'sid' : '-'}:${w.gotSession ? 'sid' : '-'}`);
}

// ------------------------------------------------------------------ v1
async function runV1() {
  const s = summary.v1;
  const wire = [];
  const client = new Client1({ name: 'mod-mcp-session-sdk-client', version: '1.0.0' },
    { capabilities: { elicitation: {} } });
  const transport = new Transport1(urls[0], { fetch: recordingFetch('v1', wire) });
  transport.onerror = (e) => log(`v1 transport error: ${e?.message ?? e}`);

  try {
    const connected = await step('v1 connect', async () => {
      await client.connect(transport);
      return true;
    });
    if (!connected) return;
    s.sessionId = transport.sessionId ?? null;
    s.protocolVersion = transport.protocolVersion ?? null;
    if (!s.sessionId || !/^[A-Za-z0-9_-]{43}$/.test(s.sessionId)) fail(`v1 connect: session id ${s.sessionId}`);
    if (s.protocolVersion !== '2025-11-25') fail(`v1 connect: protocol version ${s.protocolVersion}`);

    const list = await step('v1 tools/list', () => client.listTools());
    s.tools = (list?.tools ?? []).map((t) => t.name);
    if (list && !s.tools.includes('echo')) fail('v1 tools/list: no echo');

    const echo = await step('v1 tools/call echo', () => client.callTool({ name: 'echo', arguments: { text: 'hello v1' } }));
    if (echo) {
      s.results.echo = textOf(echo);
      if (textOf(echo) !== 'hello v1') fail(`v1 echo: got ${JSON.stringify(textOf(echo))}`);
    }

    // A tool that asks for input: not for a session client yet.
    s.results.elicitation = await errorOf(() =>
      client.callTool({ name: 'test_input_required_result_elicitation', arguments: {} }));
    if (!s.results.elicitation) fail('v1 test_input_required_result_elicitation: succeeded, expected a JSON-RPC error');
    else if (!/2026-07-28/.test(s.results.elicitation.message)) {
      fail(`v1 test_input_required_result_elicitation: error ${JSON.stringify(s.results.elicitation)} does not name 2026-07-28`);
    }

    await step('v1 terminateSession', () => transport.terminateSession());
  } finally {
    try { await client.close(); } catch { /* already closed */ }
  }

  for (const [i, w] of wire.entries()) {
    if (i === 0) {
      if (!w.gotSession) fail('v1 initialize: no Mcp-Session-Id in the answer');
      continue;
    }
    if (w.sentSession !== s.sessionId) fail(`v1 request ${i} (${w.method} ${w.rpc}) sent session ${w.sentSession}`);
  }
  s.requests = wire.length;
  s.wire = wire.map((w) => `${w.node}:${w.method}:${w.rpc ?? ''}:${w.status}:${w.sentSession ? 'sid' : '-'}:${w.gotSession ? 'sid' : '-'}`);
}

await runV2();
await runV1();

summary.failures = failures;
summary.ok = failures.length === 0;
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.ok ? 0 : 1);
