// Check one answer of a benchmark target (bench/run.sh, before timing).
//   node validate.mjs init BODYFILE      initialize result with a protocolVersion
//   node validate.mjs echo BODYFILE TEXT tools/call echo result: content[0].text == TEXT
// Prints "ok" or the reason it is not, and exits 0 / 1.
import { readFileSync } from 'node:fs';

const [kind, file, text] = process.argv.slice(2);
const raw = readFileSync(file, 'utf8');
function fail(msg) {
  console.log(`${msg}: ${raw.slice(0, 300).replace(/\s+/g, ' ')}`);
  process.exit(1);
}
let msg;
try { msg = JSON.parse(raw); } catch { fail('not JSON'); }
if (!msg || msg.jsonrpc !== '2.0') fail('not a JSON-RPC 2.0 message');
if (msg.error) fail(`JSON-RPC error ${msg.error.code} ${msg.error.message}`);
if (!msg.result || typeof msg.result !== 'object') fail('no result');
if (kind === 'init') {
  if (typeof msg.result.protocolVersion !== 'string') fail('initialize result without protocolVersion');
  if (msg.id !== 1) fail('wrong id');
} else if (kind === 'echo') {
  if (msg.id !== 2) fail('wrong id');
  if (msg.result.isError) fail('tool error (isError: true)');
  const c = msg.result.content;
  if (!Array.isArray(c) || c.length < 1 || c[0].type !== 'text' || c[0].text !== text) {
    fail(`echo result is not [{"type":"text","text":"${text}"}]`);
  }
} else {
  fail(`unknown check ${kind}`);
}
console.log('ok');
