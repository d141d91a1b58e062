// The official MCP TypeScript SDK client (@modelcontextprotocol/client 2.x,
// which speaks the stateless 2026-07-28 revision) from the end-to-end
// suite's node_modules, installed from its lockfile by tests/e2e/run (`make
// test` runs that first). Resolved through the package's own "exports" map,
// since this directory has no node_modules of its own.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { SOURCE_ROOT } from './lib.mjs';

export const SDK_DIR = path.join(SOURCE_ROOT, 'tests/e2e/node_modules/@modelcontextprotocol/client');

// The module, or null with the reason in sdkMissing.
export let sdkMissing = null;
export async function loadClientSdk() {
  let pkg;
  try { pkg = JSON.parse(fs.readFileSync(path.join(SDK_DIR, 'package.json'), 'utf8')); } catch {
    sdkMissing = `the MCP SDK is not installed in tests/e2e (run tests/e2e/run BUILD, or npm ci there)`;
    return null;
  }
  let entry = pkg.exports?.['.'];
  entry = entry?.import ?? entry;
  entry = entry?.default ?? entry;
  if (typeof entry !== 'string') {
    sdkMissing = `@modelcontextprotocol/client ${pkg.version}: no ESM entry in its exports`;
    return null;
  }
  const mod = await import(pathToFileURL(path.join(SDK_DIR, entry)).href);
  return { ...mod, version: pkg.version };
}
