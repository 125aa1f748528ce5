import { randomBytes } from 'node:crypto';
import { defineConfig } from 'vitest/config';

// One id per test run, set before the workers start so that they inherit it: every namespace
// the run creates starts with `ert-<id>`, and the global teardown removes whatever is left.
process.env.EGRESS_ROUTER_TEST_RUN ??= randomBytes(2).toString('hex');

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests build namespaces and run real traffic; give them room on two cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
