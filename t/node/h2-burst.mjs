// node h2-burst.mjs URL SESSION_ID N
// N POST ping requests at once as streams of one HTTP/2 connection
// (h2c, prior knowledge); prints "status milliseconds" per stream (status
// 0 when the stream failed).
import http2 from 'node:http2';

const [url, sid, count] = process.argv.slice(2);
const u = new URL(url);
const n = Number(count);
const body = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const client = http2.connect(u.origin);
client.on('error', (e) => console.error(`session error: ${e.message}`));
let left = n;
for (let i = 0; i < n; i++) {
  const start = Date.now();
  let status = 0;
  const req = client.request({
    ':method': 'POST', ':path': u.pathname,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25',
    'content-length': Buffer.byteLength(body),
  });
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    console.log(`${status} ${Date.now() - start}`);
    if (--left === 0) client.close();
  };
  req.on('response', (h) => { status = h[':status']; });
  req.on('data', () => {});
  req.on('end', done);
  req.on('error', () => { status = 0; done(); });
  req.setTimeout(30000, () => req.close());
  req.end(body);
}
