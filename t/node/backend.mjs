#!/usr/bin/env node
// A real MCP server on the official TypeScript SDK (@modelcontextprotocol/sdk:
// McpServer + StreamableHTTPServerTransport over node's http module), the
// backend of the gateway tests (MCPBackend).
//
// usage: node backend.mjs [--stateless | --stateful]
//                         (--port N [--host 127.0.0.1] | --socket PATH)
//                         [--path /mcp] [--json] [--name LABEL]
//
//   --stateless  sessionIdGenerator: undefined, a new server and transport per
//                request (the SDK's simpleStatelessStreamableHttp example);
//                GET and DELETE answer 405 as that example does
//   --stateful   (default) randomUUID session ids, one transport per session
//                (the SDK's simpleStreamableHttp example): unknown session id
//                404 -32001, no session id on a non-initialize request 400
//   --port N     listen on HOST:N (N = 0: any free port); --host default 127.0.0.1
//   --socket P   listen on the unix socket P (removed first if it exists)
//   --path       the MCP endpoint (default /mcp); any other path is 404
//   --json       enableJsonResponse: answers are application/json instead of
//                the SDK's default SSE stream (notifications then dropped)
//   --name       a label reported by backend_session and /__stats
//   --tls-cert F, --tls-key F  serve HTTPS (the side endpoint too)
//
// Tools: echo {text}; add {a, b} (String(a + b)); slow_notify {count,
// interval_ms, kind: "log"|"progress"} sends `count` notifications (log
// messages, or progress when the request has a progressToken), one every
// interval_ms, each carrying {i, t: Date.now()}, then answers
// {"sent": [t...], "finished": t}; sleep {ms} answers after ms;
// backend_session answers {"sessionId", "instance", "pid", "name", "mode"}
// (the backend's own session id, null when stateless); whoami answers
// {"headers": {...}} (every request header this POST carried, lower-case
// names); broadcast {text} sends a notifications/message that belongs to no
// request (it goes to the session's GET stream, if one is open).
//
// An initialize whose clientInfo.name is "backend-refuse-400" gets 400 with a
// JSON-RPC error (-32602 "Refused by the backend"); "backend-refuse-200" gets
// 200 application/json with a JSON-RPC error (-32603): refusals without a
// session. GET /__control?refuse_init=1 refuses every initialize that way
// (until refuse_init=0).
//
// Side endpoint (same listener, never counted): GET /__stats answers
// {"instance", "pid", "name", "mode", "total", "byMethod", "byStatus",
//  "initialize", "initialized", "deletes", "gets", "sessions", "log": [...]};
// each log entry is {n, t, method, path, rpc, init, sid, status, headers}
// (and initParams, the params of an initialize)
// (the last 2000 requests); /__stats?log=0 leaves the log out.
// Prints "backend ready <mode> <url> pid=<pid> instance=<id>" once listening.
import http from 'node:http';
import https from 'node:https';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import * as z from 'zod/v4';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const opts = {
  mode: 'stateful', host: '127.0.0.1', port: null, socket: null, path: '/mcp', json: false, name: 'backend',
  tlsCert: null, tlsKey: null,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--stateless') opts.mode = 'stateless';
  else if (a === '--stateful') opts.mode = 'stateful';
  else if (a === '--port') opts.port = Number(argv[++i]);
  else if (a === '--host') opts.host = argv[++i];
  else if (a === '--socket') opts.socket = argv[++i];
  else if (a === '--path') opts.path = argv[++i];
  else if (a === '--json') opts.json = true;
  else if (a === '--name') opts.name = argv[++i];
  else if (a === '--tls-cert') opts.tlsCert = argv[++i];
  else if (a === '--tls-key') opts.tlsKey = argv[++i];
  else {
    console.error(`backend: unknown argument ${a}`);
    process.exit(2);
  }
}
if ((opts.port === null) === (opts.socket === null)) {
  console.error('usage: node backend.mjs [--stateless|--stateful] (--port N | --socket PATH) [--path /mcp] [--json] [--name LABEL]');
  process.exit(2);
}

const instance = randomUUID().slice(0, 8);
const stateless = opts.mode === 'stateless';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ content: [{ type: 'text', text: typeof t === 'string' ? t : JSON.stringify(t) }] });

// ---------------------------------------------------------------------------
// Counting
const stats = {
  total: 0, byMethod: {}, byStatus: {}, initialize: 0, initialized: 0, deletes: 0, gets: 0,
};
const log = [];
const LOG_MAX = 2000;

function record(req, body) {
  stats.total++;
  stats.byMethod[req.method] = (stats.byMethod[req.method] ?? 0) + 1;
  const msgs = body === undefined ? [] : Array.isArray(body) ? body : [body];
  const rpc = msgs.map((m) => (m && typeof m === 'object' ? m.method ?? 'response' : '?'));
  const init = msgs.some((m) => isInitializeRequest(m));
  if (init) stats.initialize++;
  if (rpc.includes('notifications/initialized')) stats.initialized++;
  if (req.method === 'DELETE') stats.deletes++;
  if (req.method === 'GET') stats.gets++;
  const entry = {
    n: stats.total, t: Date.now(), method: req.method, path: req.url, rpc: rpc.join(','),
    init, sid: req.headers['mcp-session-id'] ?? null, status: null, headers: { ...req.headers },
  };
  if (init) entry.initParams = msgs.find((m) => isInitializeRequest(m)).params;
  log.push(entry);
  if (log.length > LOG_MAX) log.shift();
  return entry;
}

// The status a response got, when its head is written (SSE streams stay
// open long after that).
function watchStatus(res, entry) {
  const done = () => {
    if (entry.status === null) {
      entry.status = res.statusCode;
      stats.byStatus[entry.status] = (stats.byStatus[entry.status] ?? 0) + 1;
    }
  };
  const orig = res.writeHead;
  res.writeHead = function (...a) {
    const r = orig.apply(this, a);
    done();
    return r;
  };
  res.on('finish', done);
  res.on('close', done);
}

// ---------------------------------------------------------------------------
// The MCP server (one per session, or per request when stateless)

function makeServer() {
  const server = new McpServer({ name: 'gateway-test-backend', version: '1.0.0' },
    { capabilities: { logging: {} } });

  server.registerTool('echo', { description: 'Echoes the text', inputSchema: { text: z.string() } },
    async ({ text: t }) => text(t));

  server.registerTool('add', { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
    async ({ a, b }) => text(String(a + b)));

  server.registerTool('sleep', { description: 'Answers after ms milliseconds', inputSchema: { ms: z.number() } },
    async ({ ms }) => {
      await sleep(ms);
      return text(`slept ${ms}`);
    });

  server.registerTool('slow_notify', {
    description: 'Sends count notifications, one every interval_ms, then answers',
    inputSchema: {
      count: z.number().int().min(0).max(100).optional(),
      interval_ms: z.number().int().min(0).max(10000).optional(),
      kind: z.enum(['log', 'progress']).optional(),
    },
  }, async ({ count = 3, interval_ms = 500, kind = 'log' }, extra) => {
    const token = extra?._meta?.progressToken;
    const sent = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await sleep(interval_ms);
      const t = Date.now();
      sent.push(t);
      if (kind === 'progress' && token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: i + 1, total: count, message: JSON.stringify({ i, t }) },
        });
      } else {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'slow_notify', data: { i, t } },
        });
      }
    }
    await sleep(interval_ms);
    return text({ sent, finished: Date.now() });
  });

  server.registerTool('backend_session', { description: "Reports the backend's own session id and process" },
    async (extra) => text({
      sessionId: extra?.sessionId ?? null, instance, pid: process.pid, name: opts.name, mode: opts.mode,
    }));

  server.registerTool('whoami', { description: 'Reports the headers of this request' },
    async (extra) => text({ headers: extra?.requestInfo?.headers ?? null }));

  server.registerTool('broadcast', {
    description: 'Sends a notifications/message outside any request (to the GET stream)',
    inputSchema: { text: z.string() },
  }, async ({ text: t }) => {
    await server.server.notification({
      method: 'notifications/message',
      params: { level: 'info', logger: 'broadcast', data: { text: t, t: Date.now() } },
    });
    return text('sent');
  });

  return server;
}

// ---------------------------------------------------------------------------
// HTTP
const sessions = new Map(); // stateful: backend session id -> transport

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}
const rpcError = (res, status, code, message) =>
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null });

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 64 * 1024 * 1024) {
        reject(new Error('body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function statsBody(withLog) {
  const out = {
    instance, pid: process.pid, name: opts.name, mode: opts.mode, json: opts.json,
    ...stats, sessions: sessions.size,
  };
  if (withLog) out.log = log;
  return out;
}

async function handleStateless(req, res, body) {
  if (req.method !== 'POST') {
    res.writeHead(405, { 'Content-Type': 'application/json', Allow: 'POST' });
    res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' }, id: null }));
    return;
  }
  const server = makeServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: opts.json });
  res.on('close', () => {
    transport.close();
    server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}

async function handleStateful(req, res, body) {
  const sid = req.headers['mcp-session-id'];
  if (sid !== undefined) {
    const transport = sessions.get(sid);
    if (!transport) return rpcError(res, 404, -32001, 'Session not found');
    await transport.handleRequest(req, res, body);
    return;
  }
  if (req.method === 'POST' && body !== undefined && isInitializeRequest(body)) {
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: opts.json,
      onsessioninitialized: (id) => { sessions.set(id, transport); },
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
    return;
  }
  if (req.method === 'GET' || req.method === 'DELETE') {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('Missing session ID');
    return;
  }
  return rpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
}

const control = { refuseInit: false };

const handler = async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (url.pathname === '/__stats') {
    sendJson(res, 200, statsBody(url.searchParams.get('log') !== '0'));
    return;
  }
  if (url.pathname === '/__control') {
    if (url.searchParams.has('refuse_init')) control.refuseInit = url.searchParams.get('refuse_init') === '1';
    sendJson(res, 200, control);
    return;
  }
  let body;
  let entry;
  try {
    const raw = req.method === 'POST' ? await readBody(req) : '';
    if (raw.length) {
      try {
        body = JSON.parse(raw);
      } catch {
        entry = record(req, undefined);
        entry.rpc = 'invalid-json';
        watchStatus(res, entry);
        return rpcError(res, 400, -32700, 'Parse error: Invalid JSON');
      }
    }
    entry = record(req, body);
    watchStatus(res, entry);
    if (url.pathname !== opts.path) {
      return rpcError(res, 404, -32000, `Not found: ${url.pathname}`);
    }
    // an initialize the backend refuses, on demand (clientInfo.name)
    let refuse = isInitializeRequest(body) ? body.params.clientInfo?.name : undefined;
    if (refuse !== undefined && control.refuseInit) refuse = 'backend-refuse-400';
    if (refuse === 'backend-refuse-400') {
      return sendJson(res, 400, { jsonrpc: '2.0', id: body.id, error: { code: -32602, message: 'Refused by the backend' } });
    }
    if (refuse === 'backend-refuse-200') {
      return sendJson(res, 200, { jsonrpc: '2.0', id: body.id, error: { code: -32603, message: 'Backend cannot start a session' } });
    }
    if (stateless) await handleStateless(req, res, body);
    else await handleStateful(req, res, body);
  } catch (e) {
    console.error(`backend: error handling ${req.method} ${req.url}: ${e?.stack ?? e}`);
    if (!entry) {
      entry = record(req, body);
      watchStatus(res, entry);
    }
    if (!res.headersSent) rpcError(res, 500, -32603, 'Internal server error');
    else res.destroy();
  }
};
const httpServer = opts.tlsCert
  ? https.createServer({ cert: fs.readFileSync(opts.tlsCert), key: fs.readFileSync(opts.tlsKey) }, handler)
  : http.createServer(handler);

function ready() {
  let where;
  if (opts.socket) where = `unix:${opts.socket}`;
  else where = `${opts.tlsCert ? 'https' : 'http'}://${opts.host}:${httpServer.address().port}${opts.path}`;
  console.log(`backend ready ${opts.mode} ${where} pid=${process.pid} instance=${instance}`);
}

if (opts.socket) {
  try { fs.unlinkSync(opts.socket); } catch { /* not there */ }
  httpServer.listen(opts.socket, () => {
    fs.chmodSync(opts.socket, 0o777);
    ready();
  });
} else {
  httpServer.listen(opts.port, opts.host, ready);
}

const shutdown = () => {
  for (const t of sessions.values()) t.close().catch(() => {});
  httpServer.close();
  if (opts.socket) {
    try { fs.unlinkSync(opts.socket); } catch { /* gone */ }
  }
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
