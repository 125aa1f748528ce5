import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Integration tests build namespaces and run real traffic; give them room on two cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
