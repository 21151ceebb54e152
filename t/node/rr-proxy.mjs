#!/usr/bin/env node
// A tiny round-robin HTTP front for tests: every incoming HTTP request goes
// to the next backend in turn (request by request, not connection by
// connection), the way a load balancer without session affinity spreads one
// MCP conversation over a fleet.
//
// usage: node rr-proxy.mjs [--listen HOST:PORT] --backend URL [--backend URL...]
//        [--port-file FILE]
//
//   --listen     default 127.0.0.1:0 (any free port)
//   --backend    base URL of a node, e.g. http://127.0.0.1:8601 (path, query
//                and all headers, Host included, are forwarded unchanged, as
//                with ProxyPreserveHost; hop-by-hop headers are dropped)
//   --port-file  write the port actually bound to FILE (for port 0)
//
// Prints "rr-proxy listening on http://HOST:PORT" on stdout once ready.
// GET /__rr_stats answers {"backends":[...],"counts":[n,...],"errors":n}
// itself (never forwarded). Responses, SSE streams included, are streamed
// back as they come. A backend that cannot be reached gives 502.
import http from 'node:http';
import fs from 'node:fs';

const opts = { listen: '127.0.0.1:0', backends: [], portFile: null };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--listen') opts.listen = argv[++i];
  else if (a === '--backend') opts.backends.push(new URL(argv[++i]));
  else if (a === '--port-file') opts.portFile = argv[++i];
  else {
    console.error(`rr-proxy: unknown argument ${a}`);
    process.exit(2);
  }
}
if (opts.backends.length === 0) {
  console.error('usage: node rr-proxy.mjs [--listen HOST:PORT] --backend URL [--backend URL...] [--port-file FILE]');
  process.exit(2);
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const agents = opts.backends.map(() => new http.Agent({ keepAlive: true, maxSockets: 64 }));
const counts = opts.backends.map(() => 0);
let errors = 0;
let next = 0;

function filterHeaders(raw) {
  // raw: [name, value, name, value, ...] keeps duplicates and original case.
  const out = [];
  for (let i = 0; i < raw.length; i += 2) {
    if (!HOP_BY_HOP.has(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
  }
  return out;
}

function toObject(pairs) {
  const h = {};
  for (let i = 0; i < pairs.length; i += 2) {
    const k = pairs[i].toLowerCase();
    if (k in h) h[k] = [].concat(h[k], pairs[i + 1]);
    else h[k] = pairs[i + 1];
  }
  return h;
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__rr_stats') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backends: opts.backends.map(String), counts, errors }));
    return;
  }
  const idx = next++ % opts.backends.length;
  const be = opts.backends[idx];
  counts[idx]++;
  const headers = toObject(filterHeaders(req.rawHeaders));
  const up = http.request({
    protocol: be.protocol,
    hostname: be.hostname,
    port: be.port,
    method: req.method,
    path: req.url,
    headers,
    agent: agents[idx],
    setHost: false,
  }, (upRes) => {
    const h = toObject(filterHeaders(upRes.rawHeaders));
    res.writeHead(upRes.statusCode, upRes.statusMessage, h);
    if (typeof res.flushHeaders === 'function') res.flushHeaders();
    upRes.pipe(res);
    upRes.on('error', () => res.destroy());
  });
  up.on('error', (e) => {
    errors++;
    if (!res.headersSent) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`rr-proxy: backend ${be} failed: ${e.message}\n`);
    } else {
      res.destroy();
    }
  });
  // The client went away (e.g. it aborted an SSE stream): drop the upstream.
  res.on('close', () => {
    if (!res.writableFinished) up.destroy();
  });
  req.pipe(up);
});

server.keepAliveTimeout = 5000;
const [host, port] = opts.listen.split(/:(?=\d+$)/);
server.listen(Number(port), host, () => {
  const a = server.address();
  if (opts.portFile) fs.writeFileSync(opts.portFile, `${a.port}\n`);
  console.log(`rr-proxy listening on http://${host}:${a.port} -> ${opts.backends.join(' ')}`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
