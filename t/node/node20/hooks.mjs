// Module resolve hook: hand fs-shim.mjs to the conformance bundles only.
// Covers the npm alias "conformance-next" (0.2.0 pre-release), which the
// shared shim (../shared/tools/node20-shim, matching
// /@modelcontextprotocol/conformance/dist/ only) does not.
const BUNDLES = ['/@modelcontextprotocol/conformance/dist/', '/conformance-next/dist/'];
export async function resolve(specifier, context, next) {
  if ((specifier === 'fs' || specifier === 'node:fs') && context.parentURL &&
      BUNDLES.some((b) => context.parentURL.includes(b))) {
    return { url: new URL('./fs-shim.mjs', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
