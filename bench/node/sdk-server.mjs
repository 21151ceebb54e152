// Baseline MCP servers for bench/run.sh, built on the official TypeScript SDK
// (@modelcontextprotocol/sdk 1.x): one StreamableHTTPServerTransport and one
// McpServer per session, enableJsonResponse: true, the same `echo` tool as
// mod_mcp_example.
//
//   node sdk-server.mjs --port P --mode memory
//       sessions live in this process's memory (the SDK's own pattern).
//   node sdk-server.mjs --port P --mode redis --redis 127.0.0.1:6379 --workers 2
//       session records in Redis the way the TypeScript SDK "SessionStore"
//       fork (typescript-sdk PR #1193, RedisSessionStore over ioredis) keeps
//       them: SETEX on initialize; GET + EXPIRE (TTL refresh) on every
//       request; a session unknown to this process but present in Redis is
//       recovered by creating a transport for it. Runs as a node cluster of
//       N workers sharing the port, so it uses all cores like httpd does.
//
// Plain node:http (no express) so the SDK gets its best case.
import cluster from 'node:cluster';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

function parseArgs(argv) {
  const o = { port: 0, host: '127.0.0.1', mode: 'memory', redis: '127.0.0.1:6379',
              workers: 1, ttl: 3600, prefix: 'mcp-sdk:session:', path: '/mcp' };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i].replace(/^--/, '');
    const v = argv[++i];
    if (!(k in o)) throw new Error(`unknown option --${k}`);
    o[k] = typeof o[k] === 'number' ? Number(v) : v;
  }
  if (!o.port) throw new Error('--port is required');
  if (o.mode !== 'memory' && o.mode !== 'redis') throw new Error('--mode memory|redis');
  return o;
}

const opt = parseArgs(process.argv);

if (cluster.isPrimary && opt.workers > 1) {
  const workers = [];
  for (let i = 0; i < opt.workers; i++) workers.push(cluster.fork());
  let up = 0;
  cluster.on('listening', () => {
    if (++up === opt.workers) console.log(`sdk-server ${opt.mode} listening on ${opt.host}:${opt.port} (${opt.workers} workers)`);
  });
  cluster.on('exit', (w, code, sig) => {
    if (!stopping) { console.error(`worker ${w.process.pid} died (${code ?? sig})`); stop(1); }
  });
  let stopping = false;
  const stop = (code) => {
    stopping = true;
    for (const w of workers) { try { w.process.kill('SIGTERM'); } catch { /* gone */ } }
    setTimeout(() => process.exit(code), 200).unref();
  };
  process.on('SIGTERM', () => stop(0));
  process.on('SIGINT', () => stop(0));
} else {
  await runWorker();
}

function buildServer() {
  const server = new McpServer({ name: 'bench-sdk-server', version: '1.0.0' });
  server.registerTool('echo', {
    description: 'Echoes the text back',
    inputSchema: { text: z.string() },
  }, async ({ text }) => ({ content: [{ type: 'text', text }] }));
  return server;
}

function jsonError(res, status, code, message) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 4 * 1024 * 1024) { reject(new Error('too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function runWorker() {
  const transports = new Map();          // session id -> transport (this process)
  let redis = null;
  if (opt.mode === 'redis') {
    const { Redis } = await import('ioredis');
    const [host, port] = opt.redis.split(':');
    redis = new Redis({ host, port: Number(port), lazyConnect: false, maxRetriesPerRequest: 1 });
    redis.on('error', (e) => console.error('redis:', e.message));
  }
  const key = (sid) => `${opt.prefix}${sid}`;

  // A transport for a session created in another process: the SDK has no
  // public API for this (typescript-sdk #1658/#1882); the fork and its users
  // set the private fields, as done here.
  async function recover(sid) {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => sid,
      enableJsonResponse: true,
    });
    const web = transport._webStandardTransport;
    web.sessionId = sid;
    web._initialized = true;
    transport.onclose = () => { transports.delete(sid); };
    await buildServer().connect(transport);
    transports.set(sid, transport);
    return transport;
  }

  async function newSession(body) {
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: async (sid) => {
        transports.set(sid, transport);
        if (redis) {
          const now = Date.now();
          const p = body.params ?? {};
          await redis.setex(key(sid), opt.ttl, JSON.stringify({
            sessionId: sid, initialized: true, createdAt: now, lastActivity: now,
            protocolVersion: p.protocolVersion, clientInfo: p.clientInfo,
            capabilities: p.capabilities ?? {},
          }));
        }
      },
    });
    transport.onclose = () => { if (transport.sessionId) transports.delete(transport.sessionId); };
    await buildServer().connect(transport);
    return transport;
  }

  async function handle(req, res) {
    const url = req.url.split('?')[0];
    if (url !== opt.path) { res.writeHead(404).end(); return; }
    let body;
    if (req.method === 'POST') {
      let text;
      try { text = await readBody(req); } catch { jsonError(res, 413, -32000, 'Payload Too Large'); return; }
      try { body = JSON.parse(text); } catch { jsonError(res, 400, -32700, 'Parse error: Invalid JSON'); return; }
    }
    const sid = req.headers['mcp-session-id'];
    let transport = sid ? transports.get(sid) : undefined;
    if (sid) {
      if (redis) {
        // Every request: GET the record, then refresh its TTL.
        const rec = await redis.get(key(sid));
        if (!rec) {
          if (transport) { transports.delete(sid); transport.close().catch(() => {}); }
          jsonError(res, 404, -32001, 'Session not found');
          return;
        }
        await redis.expire(key(sid), opt.ttl);
        if (!transport) transport = await recover(sid);
        if (req.method === 'DELETE') await redis.del(key(sid));
      } else if (!transport) {
        jsonError(res, 404, -32001, 'Session not found');
        return;
      }
    } else if (req.method === 'POST' && body && isInitializeRequest(body)) {
      transport = await newSession(body);
    } else {
      jsonError(res, 400, -32000, 'Bad Request: No valid session ID provided');
      return;
    }
    await transport.handleRequest(req, res, body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      console.error('request failed:', e);
      if (!res.headersSent) jsonError(res, 500, -32603, 'Internal error');
      else res.end();
    });
  });
  server.keepAliveTimeout = 65000;
  server.listen(opt.port, opt.host, () => {
    if (!cluster.isWorker) console.log(`sdk-server ${opt.mode} listening on ${opt.host}:${opt.port}`);
  });
  const stop = () => { server.close(); if (redis) redis.disconnect(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (cluster.isWorker) process.on('disconnect', stop);
}
