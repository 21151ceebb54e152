#!/usr/bin/env node
// A stateless 2026-07-28 MCP server on the official TypeScript SDK v2
// (@modelcontextprotocol/server: createMcpHandler, a fresh McpServer per
// request, the 2025-era stateless fallback for legacy requests) over
// node's http module: the backend of t/67-modern-gateway.t (MCPBackend).
//
// usage: node backend2026.mjs [--port N] [--host 127.0.0.1] [--path /mcp]
//
// Tools: echo {text}; confirm {} (a multi-round call: returns
// input_required with an elicitation "confirm" until inputResponses has
// an accepted {ok: true}, then "confirmed"); slow {ms} answers after ms.
// Every answer to a request carrying MCP-Protocol-Version 2026-07-28 also
// gets "Mcp-Session-Id: backend2026-must-not-leak" (a 2026-07-28 answer
// must never carry one: the gateway drops it).
//
// Side endpoint: GET /__stats answers {"total", "log": [{method, rpc,
// headers, status}]} (every POST/GET/DELETE to --path, lower-case header
// names; the last 500); it is never counted.
// Prints "backend2026 ready <url> pid=<pid>" once listening.
import http from 'node:http';
import * as z from 'zod/v4';
import { McpServer, createMcpHandler, inputRequired, acceptedContent } from '@modelcontextprotocol/server';

const opts = { host: '127.0.0.1', port: 0, path: '/mcp' };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--port') opts.port = Number(process.argv[++i]);
  else if (a === '--host') opts.host = process.argv[++i];
  else if (a === '--path') opts.path = process.argv[++i];
  else { console.error(`unknown argument ${a}`); process.exit(2); }
}

function factory() {
  const server = new McpServer({ name: 'backend2026', version: '1.0.0' });
  server.registerTool('echo', { description: 'Echoes text', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }));
  const okSchema = z.object({ ok: z.boolean() });
  server.registerTool('confirm', { description: 'Asks for a confirmation (multi-round)', inputSchema: z.object({}) },
    async (_args, ctx) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'confirm', okSchema);
      if (answer?.ok !== true) {
        return inputRequired({
          inputRequests: { confirm: inputRequired.elicit({ message: 'Confirm?', requestedSchema: okSchema }) },
        });
      }
      return { content: [{ type: 'text', text: 'confirmed' }] };
    });
  server.registerTool('slow', { description: 'Answers after ms', inputSchema: z.object({ ms: z.number() }) },
    async ({ ms }) => {
      await new Promise((r) => setTimeout(r, ms));
      return { content: [{ type: 'text', text: `slept ${ms}` }] };
    });
  return server;
}

const handler = createMcpHandler(factory);
const log = [];
let total = 0;

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || 'localhost'}`);
  if (url.pathname === '/__stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ total, log }));
    return;
  }
  if (url.pathname !== opts.path) {
    res.writeHead(404);
    res.end();
    return;
  }
  total++;
  const body = req.method === 'POST' ? await readBody(req) : null;
  let rpc = null;
  try { rpc = body ? JSON.parse(body.toString('utf8')) : null; } catch { rpc = null; }
  const entry = { method: req.method, rpc, headers: { ...req.headers }, status: null };
  log.push(entry);
  if (log.length > 500) log.shift();

  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
    else if (v !== undefined) headers.set(k, v);
  }
  const request = new Request(url, { method: req.method, headers, body: body && body.length ? body : undefined });
  let response;
  try {
    response = await handler.fetch(request);
  } catch (e) {
    res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end(String(e));
    return;
  }
  entry.status = response.status;
  const out = {};
  response.headers.forEach((v, k) => { out[k] = v; });
  if (req.headers['mcp-protocol-version'] === '2026-07-28') {
    out['mcp-session-id'] = 'backend2026-must-not-leak';
  }
  res.writeHead(response.status, out);
  if (!response.body) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  req.on('close', () => reader.cancel().catch(() => {}));
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
  } catch {
    // the client went away
  }
  res.end();
});

server.listen(opts.port, opts.host, () => {
  const { port } = server.address();
  console.log(`backend2026 ready http://${opts.host}:${port}${opts.path} pid=${process.pid}`);
});
process.on('SIGTERM', () => { server.close(); handler.close().finally(() => process.exit(0)); });
