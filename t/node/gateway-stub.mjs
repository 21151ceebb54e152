// A minimal MCP backend for the gateway's own tests (t/59-gateway-core.t):
// plain node:http, no SDK, so that every byte it sends is known. The
// SDK-built backends are t/node/backend*.mjs.
//
//   node gateway-stub.mjs PORT [stateful|stateless] [json|sse] [SOCKET]
//
// MCP at /mcp (and any other path): initialize, notifications (202),
// tools/call of
//   echo {text}           the text back
//   headers               what the request carried (session id, user
//                         header, X-Forwarded-For, Cookie, protocol version)
//   notify {count, ms}    count notifications ms apart, then the result (SSE)
//   sleep {ms}            the result after ms (a slow tool)
// An initialize whose clientInfo.name is "refuse-me" gets 400 and an error.
// GET with a session: an SSE stream with one notification, closed after
// 300 ms. DELETE ends a session. Test controls (not MCP):
//   GET  /stats           counts of what arrived, as JSON
//   POST /forget          drop every session (as a restarted backend would)
//   POST /drop-next       close the connection of the next MCP request
//                         without answering
// With SOCKET it also listens on that unix socket; with STUB_FCGI_PORT in
// the environment it also speaks FastCGI (responder role) on that port, the
// same MCP at any script path (for MCPBackend fcgi://).
import http from 'node:http';
import net from 'node:net';
import crypto from 'node:crypto';
import fs from 'node:fs';

const [port, mode = 'stateful', answer = 'json', socket] = process.argv.slice(2);
const VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26'];
const sessions = new Map();
let dropNext = false;
const stats = { requests: 0, initialize: 0, posts: 0, gets: 0, deletes: 0,
                notifications: 0, methods: {}, last: {} };

function send(res, status, headers, body) {
    res.writeHead(status, headers);
    res.end(body);
}

function answerMessage(res, msg, headers) {
    if (answer === 'sse') {
        res.writeHead(200, { ...headers, 'Content-Type': 'text/event-stream',
                             'Cache-Control': 'no-cache' });
        res.write(`event: message\ndata: ${JSON.stringify(msg)}\n\n`);
        res.end();
    }
    else {
        send(res, 200, { ...headers, 'Content-Type': 'application/json' },
             JSON.stringify(msg));
    }
}

function handle(req, res, body) {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/stats') {
        return send(res, 200, { 'Content-Type': 'application/json' },
                    JSON.stringify(stats));
    }
    if (url.pathname === '/forget') {
        sessions.clear();
        return send(res, 200, {}, 'forgotten');
    }
    if (url.pathname === '/drop-next') {
        dropNext = true;
        return send(res, 200, {}, 'will drop');
    }
    if (dropNext) {
        dropNext = false;
        stats.dropped = (stats.dropped || 0) + 1;
        req.socket.destroy();
        return;
    }
    stats.requests++;
    stats.last = { method: req.method, path: req.url,
                   sid: req.headers['mcp-session-id'] ?? null,
                   version: req.headers['mcp-protocol-version'] ?? null,
                   user: req.headers['x-remote-user'] ?? null,
                   cookie: req.headers['cookie'] ?? null,
                   forwardedFor: req.headers['x-forwarded-for'] ?? null,
                   contentLength: req.headers['content-length'] ?? null,
                   accept: req.headers['accept'] ?? null };
    const sid = req.headers['mcp-session-id'];
    const known = mode === 'stateless' || (sid && sessions.has(sid));
    if (req.method === 'DELETE') {
        stats.deletes++;
        if (mode === 'stateful' && sid && sessions.delete(sid)) {
            return send(res, 200, {}, '');
        }
        return send(res, 404, { 'Content-Type': 'application/json' },
                    '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
    }
    if (req.method === 'GET') {
        stats.gets++;
        if (!known || mode === 'stateless') {
            return send(res, mode === 'stateless' ? 405 : 404,
                        { 'Content-Type': 'application/json' },
                        '{"jsonrpc":"2.0","error":{"code":-32000,"message":"no"},"id":null}');
        }
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"from the GET stream"}}\n\n');
        setTimeout(() => res.end(), 300);
        return;
    }
    stats.posts++;
    let msg;
    try { msg = JSON.parse(body); } catch (e) {
        return send(res, 400, { 'Content-Type': 'application/json' },
                    '{"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}');
    }
    const msgs = Array.isArray(msg) ? msg : [msg];
    for (const m of msgs) {
        if (m.method) {
            stats.methods[m.method] = (stats.methods[m.method] || 0) + 1;
        }
    }
    if (msgs[0].method === 'initialize') {
        stats.initialize++;
        if (msgs[0].params?.clientInfo?.name === 'unauthorized-me') {
            return send(res, 401, { 'Content-Type': 'application/json',
                                    'WWW-Authenticate': 'Bearer error="invalid_token"' },
                        JSON.stringify({ jsonrpc: '2.0', id: msgs[0].id,
                                         error: { code: -32001, message: 'token refused by the backend' } }));
        }
        if (msgs[0].params?.clientInfo?.name === 'refuse-me') {
            return send(res, 400, { 'Content-Type': 'application/json' },
                        JSON.stringify({ jsonrpc: '2.0', id: msgs[0].id,
                                         error: { code: -32602, message: 'refused by the backend' } }));
        }
        const asked = msgs[0].params?.protocolVersion;
        const headers = {};
        if (mode === 'stateful') {
            const id = crypto.randomUUID();
            sessions.set(id, { clientInfo: msgs[0].params?.clientInfo });
            headers['Mcp-Session-Id'] = id;
        }
        return answerMessage(res, { jsonrpc: '2.0', id: msgs[0].id, result: {
            protocolVersion: VERSIONS.includes(asked) ? asked : VERSIONS[0],
            capabilities: { tools: {} },
            serverInfo: { name: 'gateway-stub', version: '1' } } }, headers);
    }
    if (!known) {
        return send(res, sid ? 404 : 400, { 'Content-Type': 'application/json' },
                    '{"jsonrpc":"2.0","error":{"code":-32001,"message":"Session not found"},"id":null}');
    }
    const requests = msgs.filter((m) => m.method && m.id !== undefined);
    if (!requests.length) {
        stats.notifications += msgs.length;
        return send(res, 202, {}, '');
    }
    const m = requests[0];
    if (m.method === 'tools/call' && m.params?.name === 'notify') {
        const count = m.params.arguments?.count ?? 3;
        const ms = m.params.arguments?.ms ?? 300;
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        let i = 0;
        const tick = () => {
            if (i < count) {
                res.write(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0',
                    method: 'notifications/message',
                    params: { level: 'info', data: `tick ${i}`, at: Date.now() } })}\n\n`);
                i++;
                setTimeout(tick, ms);
            }
            else {
                res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: m.id,
                    result: { content: [{ type: 'text', text: `${count} ticks` }] } })}\n\n`);
            }
        };
        tick();
        return;
    }
    if (m.method === 'tools/call' && m.params?.name === 'sleep') {
        setTimeout(() => answerMessage(res, { jsonrpc: '2.0', id: m.id, result: {
            content: [{ type: 'text', text: 'slept' }] } }, {}),
            m.params.arguments?.ms ?? 1000);
        return;
    }
    let result;
    if (m.method === 'tools/call' && m.params?.name === 'echo') {
        result = { content: [{ type: 'text', text: String(m.params.arguments?.text ?? '') }] };
    }
    else if (m.method === 'tools/call' && m.params?.name === 'headers') {
        result = { content: [{ type: 'text', text: JSON.stringify(stats.last) }] };
    }
    else if (m.method === 'tools/list') {
        result = { tools: [{ name: 'echo', inputSchema: { type: 'object' } }] };
    }
    else if (m.method === 'ping') {
        result = {};
    }
    else {
        return answerMessage(res, { jsonrpc: '2.0', id: m.id,
                                    error: { code: -32601, message: 'Method not found' } }, {});
    }
    answerMessage(res, { jsonrpc: '2.0', id: m.id, result }, {});
}

function serve(req, res) {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
}

http.createServer(serve).listen(Number(port), '127.0.0.1');

// --- FastCGI -----------------------------------------------------------------
// Records: version, type, request id (2), content length (2), padding, 0.
const FCGI = { BEGIN: 1, END: 3, PARAMS: 4, STDIN: 5, STDOUT: 6 };

function record(type, id, body) {
    const out = [];
    for (let off = 0; off < body.length || off === 0; off += 65535) {
        const part = body.subarray(off, off + 65535);
        const h = Buffer.alloc(8);
        h.writeUInt8(1, 0);
        h.writeUInt8(type, 1);
        h.writeUInt16BE(id, 2);
        h.writeUInt16BE(part.length, 4);
        out.push(h, part);
        if (!body.length) {
            break;
        }
    }
    return Buffer.concat(out);
}

function parsePairs(buf) {
    const params = {};
    let i = 0;
    const len = () => {
        let n = buf[i];
        if (n & 0x80) {
            n = buf.readUInt32BE(i) & 0x7fffffff;
            i += 4;
        }
        else {
            i += 1;
        }
        return n;
    };
    while (i < buf.length) {
        const nl = len();
        const vl = len();
        params[buf.subarray(i, i + nl).toString()] = buf.subarray(i + nl, i + nl + vl).toString();
        i += nl + vl;
    }
    return params;
}

// A response object enough for handle(): CGI headers, then STDOUT records.
function fcgiResponse(sock, id, keep) {
    let headed = false;
    const head = (status, headers) => {
        if (headed) {
            return;
        }
        headed = true;
        let h = `Status: ${status}\r\n`;
        for (const [k, v] of Object.entries(headers || {})) {
            h += `${k}: ${v}\r\n`;
        }
        sock.write(record(FCGI.STDOUT, id, Buffer.from(h + '\r\n')));
    };
    return {
        writeHead: head,
        write(chunk) {
            head(200, {});
            sock.write(record(FCGI.STDOUT, id, Buffer.from(chunk)));
        },
        end(chunk) {
            head(200, {});
            if (chunk && chunk.length) {
                sock.write(record(FCGI.STDOUT, id, Buffer.from(chunk)));
            }
            sock.write(record(FCGI.STDOUT, id, Buffer.alloc(0)));
            sock.write(record(FCGI.END, id, Buffer.alloc(8)));
            if (!keep) {
                sock.end();
            }
        },
    };
}

function serveFcgi(sock) {
    let buf = Buffer.alloc(0);
    const reqs = new Map();
    sock.on('data', (data) => {
        buf = Buffer.concat([buf, data]);
        while (buf.length >= 8) {
            const type = buf[1], id = buf.readUInt16BE(2);
            const clen = buf.readUInt16BE(4), plen = buf[6];
            if (buf.length < 8 + clen + plen) {
                break;
            }
            const body = buf.subarray(8, 8 + clen);
            buf = buf.subarray(8 + clen + plen);
            if (type === FCGI.BEGIN) {
                reqs.set(id, { keep: !!(body[2] & 1), params: [], stdin: [] });
            }
            else if (type === FCGI.PARAMS && reqs.has(id)) {
                reqs.get(id).params.push(body);
            }
            else if (type === FCGI.STDIN && reqs.has(id)) {
                const r = reqs.get(id);
                if (clen) {
                    r.stdin.push(body);
                    continue;
                }
                reqs.delete(id);
                const p = parsePairs(Buffer.concat(r.params));
                const headers = {};
                for (const [k, v] of Object.entries(p)) {
                    if (k.startsWith('HTTP_')) {
                        headers[k.slice(5).toLowerCase().replace(/_/g, '-')] = v;
                    }
                }
                if (p.CONTENT_TYPE) {
                    headers['content-type'] = p.CONTENT_TYPE;
                }
                if (p.CONTENT_LENGTH) {
                    headers['content-length'] = p.CONTENT_LENGTH;
                }
                const req = { method: p.REQUEST_METHOD, url: p.REQUEST_URI || '/mcp',
                              headers, socket: sock };
                stats.fcgi = (stats.fcgi || 0) + 1;
                stats.lastParams = p;   // every FastCGI param (CGI environment)
                handle(req, fcgiResponse(sock, id, r.keep),
                       Buffer.concat(r.stdin).toString('utf8'));
            }
        }
    });
    sock.on('error', () => {});
}

if (process.env.STUB_FCGI_PORT) {
    net.createServer(serveFcgi).listen(Number(process.env.STUB_FCGI_PORT), '127.0.0.1');
}
if (socket) {
    try { fs.unlinkSync(socket); } catch (e) { /* none */ }
    http.createServer(serve).listen(socket, () => fs.chmodSync(socket, 0o777));
}
