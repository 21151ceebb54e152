#!/usr/bin/env node
// The official TypeScript SDK client (@modelcontextprotocol/sdk Client +
// StreamableHTTPClientTransport) running a scripted conversation against
// mod_mcp_session in gateway mode (MCPBackend, backend t/node/backend.mjs).
//
// usage: node gw-client.mjs [--quiet] [--sync DIR] [--header 'Name: value']...
//                           URL [URL...] STEP [STEP...]
//
// With several URLs every HTTP request goes to the next URL in turn (as a
// round-robin balancer in front of a fleet would send it). Steps, in order:
//   connect          initialize + notifications/initialized (+ the SDK's GET)
//   list             tools/list -> the tool names
//   echo=TEXT        tools/call echo -> the text
//   add=A,B          tools/call add -> the text
//   session          tools/call backend_session -> its JSON
//   whoami           tools/call whoami -> its JSON
//   slow=N,MS[,progress]  tools/call slow_notify {count N, interval_ms MS}:
//                    -> {sent, finished, arrivals: [{i, t, sentAt}], resolved}
//                    (t: when the client got each notification, resolved: when
//                    the result arrived, all Date.now() on this machine)
//   sleep=MS         tools/call sleep
//   broadcast=TEXT   wait (up to 15 s) until the SDK's standalone GET stream
//                    answered 200, tools/call broadcast, then wait up to 15 s
//                    for the notification on that stream -> {arrived, t}
//   ping             -> {}
//   pause=NAME       write DIR/NAME.ready, wait (at most 120 s) for DIR/NAME.go
//   delete           terminateSession (DELETE) -> the HTTP status
//   after-delete     raw tools/list with the terminated session id -> {status, body}
//   expect-fail=STEP run STEP, which must fail -> the error message
//
// Prints a JSON summary on stdout: {ok, failures, sessionId, protocolVersion,
// server, steps: [{step, ok, value, error, t0, t1}], wire: [...], perNode,
// notifications, transportErrors}; the wire log goes to stderr. Exits 0 when
// every step succeeded and no response carried a session id other than the
// one the client holds (a backend's id must never reach the client), 1
// otherwise, 2 on a usage error.
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

const argv = process.argv.slice(2);
let quiet = false;
let syncDir = null;
const extraHeaders = {};
const urls = [];
const steps = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--quiet') quiet = true;
  else if (a === '--sync') syncDir = argv[++i];
  else if (a === '--header') {
    const m = /^([^:]+):\s*(.*)$/.exec(argv[++i] ?? '');
    if (!m) { console.error('gw-client: --header needs "Name: value"'); process.exit(2); }
    extraHeaders[m[1]] = m[2];
  } else if (/^https?:\/\//.test(a)) urls.push(new URL(a));
  else steps.push(a);
}
if (urls.length === 0 || steps.length === 0) {
  console.error('usage: node gw-client.mjs [--quiet] [--sync DIR] [--header "N: v"] URL [URL...] STEP [STEP...]');
  process.exit(2);
}

const failures = [];
const wire = [];
const notifications = [];
const transportErrors = [];
const fail = (msg) => {
  failures.push(msg);
  console.error(`MISMATCH: ${msg}`);
};
const log = (msg) => { if (!quiet) console.error(msg); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  for (const [k, v] of Object.entries(extraHeaders)) headers.set(k, v);
  const t0 = Date.now();
  let res;
  try {
    res = await fetch(target, { ...init, headers });
  } catch (e) {
    wire.push({ node: idx, method, rpc, status: 0, error: String(e?.cause?.code ?? e?.message ?? e), t0 });
    throw e;
  }
  const entry = {
    node: idx, method, rpc, status: res.status, contentType: res.headers.get('content-type'),
    sentSession: headers.get('mcp-session-id'), gotSession: res.headers.get('mcp-session-id'),
    retryAfter: res.headers.get('retry-after'), t0,
  };
  wire.push(entry);
  log(`> node${idx} ${method} ${target.pathname} ${rpc ?? ''} sid=${entry.sentSession ?? '-'} ` +
      `< ${res.status} ${entry.contentType ?? ''} sid=${entry.gotSession ?? '-'}`);
  return res;
};

const textOf = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
const jsonOf = (r) => {
  const t = textOf(r);
  try { return JSON.parse(t); } catch { return t; }
};

const client = new Client({ name: 'mod-mcp-session-gw-client', version: '1.0.0' });
client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => {
  notifications.push({ t: Date.now(), params: n.params });
});
const transport = new StreamableHTTPClientTransport(urls[0], { fetch: rotatingFetch });
transport.onerror = (e) => {
  transportErrors.push(e?.message ?? String(e));
  log(`transport error: ${e?.message ?? e}`);
};

let lastSid = null;
let lastVersion = null;

async function call(name, args, options) {
  const r = await client.callTool({ name, arguments: args }, undefined, options);
  if (r.isError) throw new Error(`tool ${name} answered isError: ${textOf(r)}`);
  return r;
}

async function runStep(step) {
  const [name, arg = ''] = step.split(/=(.*)/s);
  switch (name) {
    case 'connect': {
      await client.connect(transport);
      lastSid = transport.sessionId ?? null;
      lastVersion = transport.protocolVersion ?? null;
      return { sessionId: lastSid, protocolVersion: lastVersion };
    }
    case 'list':
      return (await client.listTools()).tools.map((t) => t.name);
    case 'echo': {
      const r = textOf(await call('echo', { text: arg }));
      if (r !== arg) throw new Error(`echo: got ${JSON.stringify(r)}, expected ${JSON.stringify(arg)}`);
      return r;
    }
    case 'add': {
      const [a, b] = arg.split(',').map(Number);
      const r = textOf(await call('add', { a, b }));
      if (r !== String(a + b)) throw new Error(`add: got ${JSON.stringify(r)}, expected ${a + b}`);
      return r;
    }
    case 'session':
      return jsonOf(await call('backend_session', {}));
    case 'whoami':
      return jsonOf(await call('whoami', {}));
    case 'sleep':
      return textOf(await call('sleep', { ms: Number(arg) }, { timeout: 120000 }));
    case 'slow': {
      const [count, interval, kind] = arg.split(',');
      const from = notifications.length;
      const progress = [];
      const options = { timeout: 120000 };
      if (kind === 'progress') options.onprogress = (p) => progress.push({ t: Date.now(), p });
      const r = await call('slow_notify',
        { count: Number(count), interval_ms: Number(interval), kind: kind === 'progress' ? 'progress' : 'log' }, options);
      const resolved = Date.now();
      const v = jsonOf(r);
      const arrivals = kind === 'progress'
        ? progress.map(({ t, p }) => {
          let m = {};
          try { m = JSON.parse(p.message ?? '{}'); } catch { /* left empty */ }
          return { i: m.i, t, sentAt: m.t };
        })
        : notifications.slice(from).filter((n) => n.params?.logger === 'slow_notify')
          .map((n) => ({ i: n.params.data?.i, t: n.t, sentAt: n.params.data?.t }));
      return { ...v, arrivals, resolved };
    }
    case 'broadcast': {
      // the SDK opens its GET stream in the background after connect: the
      // backend drops a notification for a stream not open yet
      for (let i = 0; i < 150 && !wire.some((w) => w.method === 'GET' && w.status === 200); i++) {
        await sleep(100);
      }
      await call('broadcast', { text: arg });
      for (let i = 0; i < 150; i++) {
        const n = notifications.find((x) => x.params?.logger === 'broadcast' && x.params?.data?.text === arg);
        if (n) return { arrived: true, t: n.t };
        await sleep(100);
      }
      return { arrived: false };
    }
    case 'ping':
      return await client.ping();
    case 'pause': {
      if (!syncDir) throw new Error('pause needs --sync DIR');
      fs.writeFileSync(`${syncDir}/${arg}.ready`, String(Date.now()));
      for (let i = 0; i < 1200; i++) {
        if (fs.existsSync(`${syncDir}/${arg}.go`)) return true;
        await sleep(100);
      }
      throw new Error(`pause ${arg}: no ${arg}.go within 120 s`);
    }
    case 'delete': {
      await transport.terminateSession();
      return wire.filter((w) => w.method === 'DELETE').pop()?.status ?? null;
    }
    case 'after-delete': {
      const r = await rotatingFetch(urls[0], {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': lastSid ?? '',
          'mcp-protocol-version': lastVersion ?? '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/list' }),
      });
      let body = null;
      try { body = await r.json(); } catch { /* not JSON */ }
      return { status: r.status, body };
    }
    case 'expect-fail': {
      try {
        await runStep(arg);
      } catch (e) {
        return String(e?.message ?? e);
      }
      throw new Error(`${arg} succeeded, expected a failure`);
    }
    default:
      throw new Error(`unknown step ${step}`);
  }
}

const results = [];
try {
  for (const step of steps) {
    const t0 = Date.now();
    try {
      const value = await runStep(step);
      results.push({ step, ok: true, value, t0, t1: Date.now() });
    } catch (e) {
      results.push({ step, ok: false, error: String(e?.message ?? e), t0, t1: Date.now() });
      fail(`${step}: ${e?.message ?? e}`);
      if (step === 'connect') break;
    }
  }
} finally {
  try { await client.close(); } catch { /* already closed */ }
}

// The client only ever sees its own (Apache's) session id.
for (const [i, w] of wire.entries()) {
  if (w.gotSession !== null && w.gotSession !== undefined && w.gotSession !== lastSid) {
    fail(`request ${i} (${w.method} ${w.rpc ?? ''}): response carried session id ${w.gotSession}, the client's is ${lastSid}`);
  }
}

const summary = {
  ok: failures.length === 0,
  failures,
  sessionId: lastSid,
  protocolVersion: lastVersion,
  server: client.getServerVersion() ?? null,
  steps: results,
  wire,
  perNode: urls.map((_, i) => wire.filter((w) => w.node === i).length),
  notifications,
  transportErrors,
};
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.ok ? 0 : 1);
