#!/usr/bin/env node
// Turn the results of scripts/conformance.sh into one markdown table.
//
// usage: node conformance-report.mjs MANIFEST [--out FILE]
//
// MANIFEST is a tab-separated file written by scripts/conformance.sh, one
// line per run:
//   run    MODE  SPEC  SUITE  OUTDIR  BASELINE  EXITCODE  LOGFILE
//   extra  MODE  SPEC  SUITE  NAME  RESULT(pass|fail)  REASON
// OUTDIR holds the CLI's -o output: server-<scenario>-<timestamp>/checks.json.
// BASELINE is the --expected-failures YAML given to that run; each entry may
// carry its reason as a trailing comment:  "  - tools-call-sampling  # why".
//
// A scenario fails when one of its checks is FAILURE or WARNING (the CLI's
// own baseline rule). Result column: pass, FAIL, expected-fail,
// STALE (listed as expected failure but passed), ERROR (the run produced no
// results). Exit status 1 when any row is FAIL, STALE or ERROR.
import fs from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
let out = null;
const files = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--out') out = argv[++i];
  else files.push(argv[i]);
}
if (files.length !== 1) {
  console.error('usage: node conformance-report.mjs MANIFEST [--out FILE]');
  process.exit(2);
}

function readBaseline(file) {
  const map = new Map();
  if (!file || file === '-' || !fs.existsSync(file)) return map;
  let section = null;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const sec = line.match(/^([A-Za-z_]+):/);
    if (sec) { section = sec[1]; continue; }
    const m = line.match(/^\s*-\s*['"]?([A-Za-z0-9_.-]+)['"]?\s*(?:#\s*(.*))?$/);
    if (m && section === 'server') map.set(m[1], (m[2] || '').trim());
  }
  return map;
}

const cell = (s) => String(s ?? '').replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
const clip = (s, n = 220) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const rows = [];
for (const line of fs.readFileSync(files[0], 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const f = line.split('\t');
  if (f[0] === 'extra') {
    const [, mode, spec, suite, name, result, reason] = f;
    rows.push({ scenario: name, spec, mode, suite, result: result === 'pass' ? 'pass' : 'FAIL', reason: reason || '' });
    continue;
  }
  if (f[0] !== 'run') continue;
  const [, mode, spec, suite, outdir, baselineFile, exitcode, logfile] = f;
  const baseline = readBaseline(baselineFile);
  let dirs = [];
  try {
    dirs = fs.readdirSync(outdir).filter((d) => d.startsWith('server-'));
  } catch { /* no output */ }
  const seen = new Set();
  for (const d of dirs.sort()) {
    const m = d.match(/^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    const scenario = m ? m[1] : d.replace(/^server-/, '');
    let checks = [];
    try {
      checks = JSON.parse(fs.readFileSync(path.join(outdir, d, 'checks.json'), 'utf8'));
    } catch (e) {
      checks = [{ status: 'FAILURE', name: 'checks.json', errorMessage: `unreadable: ${e.message}` }];
    }
    seen.add(scenario);
    const bad = checks.filter((c) => c.status === 'FAILURE' || c.status === 'WARNING');
    const counts = ['SUCCESS', 'FAILURE', 'WARNING', 'INFO', 'SKIPPED']
      .map((s) => [s, checks.filter((c) => c.status === s).length])
      .filter(([, n]) => n > 0).map(([s, n]) => `${n} ${s.toLowerCase()}`).join(', ');
    const why = bad.map((c) => `${c.status === 'WARNING' ? 'warning ' : ''}${c.name || c.id}: ${c.errorMessage || c.description || ''}`).join('; ');
    let result;
    let reason;
    if (baseline.has(scenario)) {
      result = bad.length ? 'expected-fail' : 'STALE';
      reason = bad.length ? (baseline.get(scenario) || 'listed in the baseline') + ` [observed: ${clip(why, 160)}]`
        : `passes now (${counts}): remove it from ${path.basename(baselineFile)}`;
    } else {
      result = bad.length ? 'FAIL' : 'pass';
      reason = bad.length ? clip(why) : counts;
    }
    rows.push({ scenario, spec, mode, suite, result, reason });
  }
  if (seen.size === 0) {
    let tail = '';
    try {
      tail = fs.readFileSync(logfile, 'utf8').trim().split('\n').slice(-3).join(' / ');
    } catch { /* no log */ }
    rows.push({ scenario: '(whole run)', spec, mode, suite, result: 'ERROR', reason: `exit ${exitcode}, no results: ${clip(tail)}` });
  } else if (exitcode !== '0' && !rows.some((r) => r.mode === mode && r.spec === spec && r.suite === suite && r.result !== 'pass' && r.result !== 'expected-fail')) {
    rows.push({ scenario: '(whole run)', spec, mode, suite, result: 'ERROR', reason: `CLI exit ${exitcode} although every scenario passed or failed as expected; see ${logfile}` });
  }
}

const order = { FAIL: 0, ERROR: 0, STALE: 1, 'expected-fail': 2, pass: 3 };
const tally = {};
for (const r of rows) tally[r.result] = (tally[r.result] || 0) + 1;

let md = '| Scenario | Spec version | Mode | Suite | Result | Reason / checks |\n|---|---|---|---|---|---|\n';
for (const r of rows) {
  md += `| ${cell(r.scenario)} | ${cell(r.spec)} | ${cell(r.mode)} | ${cell(r.suite)} | ${cell(r.result)} | ${cell(r.reason)} |\n`;
}
md += `\nTotals: ${Object.entries(tally).sort((a, b) => order[a[0]] - order[b[0]]).map(([k, v]) => `${v} ${k}`).join(', ')} (${rows.length} rows)\n`;
const failed = rows.some((r) => ['FAIL', 'STALE', 'ERROR'].includes(r.result));
md += failed ? '\nRESULT: FAILED (see FAIL / STALE / ERROR rows)\n' : '\nRESULT: OK (everything passed or failed as expected)\n';

process.stdout.write(md);
if (out) fs.writeFileSync(out, md);
process.exit(failed ? 1 : 0);
