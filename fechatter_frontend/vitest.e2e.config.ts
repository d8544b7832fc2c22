import { defineConfig } from 'vitest/config';

// End-to-end suite: drives Debian's Chromium through playwright-core against a running stack
// at FECHATTER_E2E_BASE_URL. Files run one after another because they share that stack.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.e2e.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['verbose'],
  },
});
