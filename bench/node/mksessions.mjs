// Create N MCP sessions quickly (initialize only) and write their ids, one a
// line.  node mksessions.mjs URL N OUTFILE [CONCURRENCY]
// Exits non-zero if any initialize did not answer 200 with an Mcp-Session-Id.
import http from 'node:http';
import { writeFileSync } from 'node:fs';

const [url, nStr, out, concStr] = process.argv.slice(2);
if (!url || !nStr || !out) {
  console.error('usage: mksessions.mjs URL N OUTFILE [CONCURRENCY]');
  process.exit(2);
}
const total = Number(nStr);
const conc = Number(concStr || 32);
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: conc });
const body = JSON.stringify({
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {},
            clientInfo: { name: 'bench-mksessions', version: '1.0.0' } },
});
const ids = [];
let started = 0, failed = 0, retried = 0, firstError = null;

// A socket error (httpd may close an idle kept-alive connection just as a
// request goes out on it) is retried on a new connection, at most 3 times.
async function one() {
  for (let attempt = 1; ; attempt++) {
    const err = await once();
    if (!err) return;
    if (attempt >= 3) { failed++; firstError ??= err; return; }
    retried++;
  }
}

function once() {
  return new Promise((resolve) => {
    const req = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'POST', agent,
      headers: { 'Content-Type': 'application/json',
                 'Accept': 'application/json, text/event-stream',
                 'Content-Length': Buffer.byteLength(body) },
    }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { data += c; });
      res.on('end', () => {
        const sid = res.headers['mcp-session-id'];
        if (res.statusCode === 200 && sid) ids.push(sid);
        else { failed++; firstError ??= `${res.statusCode} ${data.slice(0, 200)}`; }
        resolve(null);
      });
    });
    req.on('error', (e) => resolve(e.message));
    req.end(body);
  });
}

async function lane() {
  while (started < total && failed < 100) {
    started++;
    await one();
  }
}

const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conc }, lane));
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
writeFileSync(out, ids.join('\n') + '\n');
console.log(`created ${ids.length}/${total} sessions in ${secs.toFixed(1)} s ` +
            `(${(ids.length / secs).toFixed(0)}/s), ${failed} failed, ${retried} retried after a socket error`);
agent.destroy();
if (failed) { console.error(`first failure: ${firstError}`); process.exit(1); }
