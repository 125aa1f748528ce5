// Bundles the CLI into dist/ so that start-up loads a handful of files, not a node_modules tree.
import { build } from 'esbuild';
import { readFileSync, rmSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
await build({
  entryPoints: { 'egress-router': 'src/cli/main.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  // Some bundled dependencies are CommonJS and call require(); give them one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  define: { __VERSION__: JSON.stringify(pkg.version) },
  legalComments: 'linked',
  logLevel: 'warning',
});
chmodSync(new URL('../dist/egress-router.js', import.meta.url), 0o755);
