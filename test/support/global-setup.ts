/**
 * Once per test run: build the CLI the integration tests execute, and afterwards remove any
 * namespace this run left behind, even if a test crashed before its own clean-up.
 */
import { execa } from 'execa';
import { NAMESPACE_PREFIX, ROOT, removeNamespaces } from './topology.js';

export async function setup(): Promise<() => Promise<void>> {
  // Set by vitest.config.ts, in this process, before the workers were started.
  const runId = process.env.EGRESS_ROUTER_TEST_RUN ?? '';
  await execa('node', ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
  return async () => {
    if (runId !== '' && process.getuid?.() === 0) await removeNamespaces(`${NAMESPACE_PREFIX}${runId}`);
  };
}
