// Node 20 stand-in for 'fs' as seen by the conformance CLI bundles: the same
// module plus a globSync (Node >= 22 only) that fails if it is ever called.
import * as fs from 'node:fs';
export * from 'node:fs';
export default fs;
export function globSync() {
  throw new Error('fs.globSync is not available on Node 20 (t/node/node20 shim)');
}
