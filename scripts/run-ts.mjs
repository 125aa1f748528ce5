// Runs a TypeScript script of this repository (the benchmark, the demo, the image check) by
// bundling it with esbuild into a temporary file first: no extra runtime dependency needed.
// Usage: node scripts/run-ts.mjs path/to/script.ts [args...]
import { build } from 'esbuild';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write('usage: node scripts/run-ts.mjs SCRIPT.ts [args...]\n');
  process.exit(1);
}
// Inside the repository, so that the bundle's imports resolve from its node_modules.
const cacheDir = new URL('../.cache/', import.meta.url).pathname;
mkdirSync(cacheDir, { recursive: true });
const dir = mkdtempSync(join(cacheDir, 'run-ts-'));
const outfile = join(dir, 'script.mjs');
await build({
  entryPoints: [resolve(script)],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
process.argv = [process.argv[0], resolve(script), ...args];
try {
  await import(pathToFileURL(outfile).href);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
