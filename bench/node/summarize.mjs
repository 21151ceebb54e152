// Turn bench/run.sh's raw records into the markdown report.
//   node summarize.mjs RESULTDIR      reads runs.jsonl and meta.jsonl, prints markdown
import { readFileSync, existsSync } from 'node:fs';

const dir = process.argv[2];
const readJsonl = (f) => existsSync(f)
  ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
const runs = readJsonl(`${dir}/runs.jsonl`);
const meta = readJsonl(`${dir}/meta.jsonl`);
const info = Object.fromEntries(meta.filter((m) => m.kind === 'info').map((m) => [m.key, m.value]));
const checks = Object.fromEntries(meta.filter((m) => m.kind === 'check').map((m) => [m.target, m]));

const NAMES = {
  floor: '1. floor: bare httpd handler (mod_mcp_floor)',
  mem: '2. mod_mcp_session, memory mode',
  ext: '3. mod_mcp_session, external mode (Redis, built-in apr_redis)',
  extmod: '3a. mod_mcp_session, external mode (Redis, mod_mcp_session_redis)',
  sql: '3c. mod_mcp_session, external mode (PostgreSQL, mod_mcp_session_sql)',
  modern: '3b. mod_mcp_session, 2026-07-28 (no session; the external-mode instance)',
  sdkmem: '4. TS SDK, sessions in memory (1 Node process)',
  sdkredis: '5. TS SDK + Redis SessionStore (2 Node workers)',
  proxy: '6. plain mod_proxy (ProxyPass) in front of the floor',
  gw: '7. mod_mcp_session gateway (MCPBackend, memory) in front of the floor',
};

const median = (xs) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
// Little's law: with C connections each holding one request, req/s x mean
// latency is close to C. Far below means requests hung unanswered (wrk never
// records those), so the numbers would flatter the target.
const CONNS = Number(info.connections || 32);
const busy = (w) => w.rps * w.mean_us / 1e6;
const stalled = (w, conns = CONNS) => busy(w) < 0.25 * conns;
// the latency phase runs one connection
const connsOf = (r) => (r.phase === 'lat' ? 1 : CONNS);
const valid = (r) => r.wrk && r.wrk.requests > 0 && r.wrk.non2xx === 0 && !stalled(r.wrk, connsOf(r)) &&
  r.wrk.err_connect + r.wrk.err_read + r.wrk.err_write + r.wrk.err_timeout + r.wrk.err_status === 0;
const whyInvalid = (w) => {
  const why = [];
  if (w.non2xx) why.push(`${w.non2xx} non-2xx`);
  const se = w.err_connect + w.err_read + w.err_write + w.err_timeout;
  if (se) why.push(`${se} socket errors`);
  if (stalled(w)) why.push(`stalled: only ${busy(w).toFixed(1)} of ${CONNS} connections busy on average`);
  if (!w.requests) why.push('no requests');
  return why.join(', ');
};
const fmtN = (x) => Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-';
const fmtMs = (us) => Number.isFinite(us) ? (us / 1000).toFixed(2) : '-';
const fmtR = (x) => Number.isFinite(x) ? `${x.toFixed(2)}x` : '-';

function stats(phase, target) {
  const rs = runs.filter((r) => r.phase === phase && r.target === target);
  const ok = rs.filter(valid);
  const bad = rs.filter((r) => r.wrk && !valid(r));
  const skipped = rs.find((r) => r.skipped);
  return {
    n: rs.filter((r) => r.wrk).length, ok: ok.length, bad,
    skipped: skipped ? skipped.skipped : null,
    rps: median(ok.map((r) => r.wrk.rps)),
    p50: median(ok.map((r) => r.wrk.p50_us)),
    p99: median(ok.map((r) => r.wrk.p99_us)),
    perRound: rs.filter((r) => r.wrk).map((r) => (valid(r) ? fmtN(r.wrk.rps) : `~~${fmtN(r.wrk.rps)}~~`)),
    byRound: Object.fromEntries(ok.map((r) => [r.round, r.wrk.rps])),
  };
}

function status(phase, target, s) {
  const c = checks[target];
  if (c && !c.ok) return `FAILED: ${c.msg}`;
  if (s.skipped) return `not run: ${s.skipped}`;
  if (!s.n) return 'not run';
  if (!s.ok) {
    return `INVALID (${whyInvalid(s.bad[0].wrk)})`;
  }
  return s.ok === s.n ? 'ok' : `${s.ok}/${s.n} runs valid`;
}

// with --only, the rows of the targets this run measured or checked
const shown = (phase, t) => !info.only || checks[t] || runs.some((r) => r.phase === phase && r.target === t);

function table(phase, targets, names) {
  targets = targets.filter((t) => shown(phase, t));
  const out = ['| target | status | req/s (median) | p50 ms | p99 ms | req/s per round |',
               '|---|---|---:|---:|---:|---|'];
  const res = {};
  for (const t of targets) {
    const s = stats(phase, t);
    res[t] = s;
    out.push(`| ${names[t] ?? t} | ${status(phase, t, s)} | ${fmtN(s.rps)} | ${fmtMs(s.p50)} | ${fmtMs(s.p99)} | ${s.perRound.join(', ')} |`);
  }
  return { md: out.join('\n'), res };
}

// Ratio of medians, and the spread of the same ratio taken round by round
// (both sides measured seconds apart, so machine noise mostly cancels).
function ratio(a, b) {
  if (!a || !b || !Number.isFinite(a.rps) || !Number.isFinite(b.rps)) return { v: NaN, spread: '' };
  const per = Object.keys(a.byRound).filter((k) => k in b.byRound).map((k) => a.byRound[k] / b.byRound[k]);
  const spread = per.length > 1 ? `${Math.min(...per).toFixed(2)}-${Math.max(...per).toFixed(2)}` : '';
  return { v: a.rps / b.rps, spread };
}

const L = [];
L.push(`## mod_mcp_session benchmark (${info.date ?? ''})`);
L.push('');
L.push(`- Machine: ${info.cpu ?? '?'}, ${info.cores ?? '?'} cores, ${info.mem ?? '?'}; ${info.os ?? ''}; ${info.httpd ?? ''}; Node ${info.node ?? '?'}; ${info.sdk ?? ''}; Redis ${info.redis ?? '?'}`);
L.push(`- Load: wrk ${info.wrk_args ?? ''}, ${info.rounds ?? '?'} interleaved round(s), medians; everything (wrk, httpd, Node, Redis) on the same ${info.cores ?? '?'} cores, 127.0.0.1`);
L.push(`- httpd (all Apache targets): event MPM, ${info.mpm ?? ''}`);
L.push(`- Host activity: CPU idle in the 2 s before the run ${info.cpu_idle_before ?? '?'}; load average (1/5/15 min) before ${info.load_before ?? '?'}, after ${info.load_after ?? '?'}, highest 1-min value between slots ${info.load_max ?? '?'} (a saturated target alone pushes the load average to 10-20 on 2 cores)`);
if (info.sql) L.push(`- Target 3c: PostgreSQL ${info.postgresql ?? '?'} on the same cores, mod_dbd ${info.sql}`);
if (info.only) L.push(`- Targets measured (--only): ${info.only}`);
if (info.mode) L.push(`- Mode: ${info.mode}`);
L.push('');

L.push('### tools/call echo on an existing session');
L.push('');
const call = table('call', ['floor', 'mem', 'ext', 'extmod', 'sql', 'modern', 'sdkmem', 'sdkredis', 'proxy', 'gw'], NAMES);
L.push(call.md);
L.push('');

const init = table('init', ['mem', 'ext', 'extmod', 'sql', 'sdkmem', 'sdkredis'], NAMES);
const SC = {
  s10one: `memory, 10 live sessions, one id`,
  s10rand: `memory, 10 live sessions, random id`,
  sNone: `memory, ${info.sessions ?? 'N'} live sessions, one id`,
  sNrand: `memory, ${info.sessions ?? 'N'} live sessions, random id`,
};
const scale = table('scale', ['s10one', 's10rand', 'sNone', 'sNrand'], SC);

L.push('### Ratios (req/s; ratio of medians, per-round range in brackets)');
L.push('');
L.push('| ratio | value | per round |');
L.push('|---|---:|---|');
const addRatio = (name, a, b) => { const r = ratio(a, b); if (info.only && !Number.isFinite(r.v)) return; L.push(`| ${name} | ${fmtR(r.v)} | ${r.spread} |`); };
const c = call.res, i = init.res, s = scale.res;
addRatio('memory / floor', c.mem, c.floor);
addRatio('external / memory', c.ext, c.mem);
addRatio('external, redis module / memory (target >= 0.70x)', c.extmod, c.mem);
addRatio('external, redis module / built-in apr_redis', c.extmod, c.ext);
addRatio('external, PostgreSQL (sql) / Redis built-in apr_redis (target >= 0.70x)', c.sql, c.ext);
addRatio('external, PostgreSQL (sql) / Redis module', c.sql, c.extmod);
addRatio('external, PostgreSQL (sql) / memory', c.sql, c.mem);
addRatio('2026-07-28 / floor (target >= 0.9x)', c.modern, c.floor);
addRatio('2026-07-28 / memory (session)', c.modern, c.mem);
addRatio('2026-07-28 / external (session)', c.modern, c.ext);
addRatio('memory / SDK-memory', c.mem, c.sdkmem);
addRatio('external / SDK-redis', c.ext, c.sdkredis);
addRatio('gateway / plain mod_proxy (target >= 0.85x)', c.gw, c.proxy);
addRatio(`${info.sessions ?? 'N'} / 10 live sessions (random id)`, s.sNrand, s.s10rand);
addRatio(`${info.sessions ?? 'N'} / 10 live sessions (one id)`, s.sNone, s.s10one);
addRatio('initialize: memory / SDK-memory', i.mem, i.sdkmem);
addRatio('initialize: external / SDK-redis', i.ext, i.sdkredis);
addRatio('initialize: redis module / built-in apr_redis', i.extmod, i.ext);
addRatio('initialize: PostgreSQL (sql) / Redis built-in apr_redis', i.sql, i.ext);
L.push('');
const lat = table('lat', ['proxy', 'gw'], NAMES);
L.push('### What the gateway adds to one request (one connection, one request at a time)');
L.push('');
L.push(lat.md);
L.push('');
if (Number.isFinite(lat.res.gw?.p50) && Number.isFinite(lat.res.proxy?.p50)) {
  L.push(`Added p50 latency (target 7 minus target 6, same backend, no queueing): ${((lat.res.gw.p50 - lat.res.proxy.p50) / 1000).toFixed(3)} ms (target < 0.2 ms). Under the full load above: ${((c.gw?.p50 - c.proxy?.p50) / 1000).toFixed(3)} ms, queueing included.`);
  L.push('');
}

L.push(`### Session creation (initialize requests/s, ${info.init_duration ?? '?'} s per slot)`);
L.push('');
L.push(init.md);
L.push('');
L.push(`### Memory-mode lookups: ${info.sessions ?? 'N'} live sessions vs 10 (MCPSessionCapacity ${info.scale_capacity ?? '?'})`);
L.push('');
if (info.scale_created) L.push(`Sessions created before timing: ${info.scale_created}`), L.push('');
L.push(scale.md);
L.push('');

L.push('### Memory per session');
L.push('');
L.push('| store | bytes per session | how measured |');
L.push('|---|---:|---|');
for (const m of meta.filter((m) => m.kind === 'mem')) {
  L.push(`| ${m.store} | ${m.bytes ?? '-'} | ${m.how} |`);
}
L.push('');
const notes = meta.filter((m) => m.kind === 'note');
if (notes.length) {
  L.push('### Notes');
  L.push('');
  for (const n of notes) L.push(`- ${n.text}`);
  L.push('');
}
const invalid = runs.filter((r) => r.wrk && !valid(r));
if (invalid.length) {
  L.push('### Invalid runs (errors seen; left out of the medians)');
  L.push('');
  for (const r of invalid) {
    const w = r.wrk;
    L.push(`- ${r.phase}/${r.target} round ${r.round}: ${w.requests} requests, ${whyInvalid(w)} (socket errors: connect ${w.err_connect} read ${w.err_read} write ${w.err_write} timeout ${w.err_timeout})`);
  }
  L.push('');
}
console.log(L.join('\n'));
