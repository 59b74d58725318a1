import { defineConfig } from 'vitest/config';
import { installHint, tool } from './src/tools.js';

/**
 * Two projects: `embedded` runs every test against the embedded Temporal server (src/devserver); `real-temporal`
 * runs the devserver suite, an end-to-end subset and the Web UI tests against the real Temporal server
 * (`temporal server start-dev` of scripts/tools.sh). Without that binary the second project is left out with a
 * note — except under CI=true, where a missing real counterpart is a failure.
 */
const REAL_TEMPORAL_TESTS = [
  'test/devserver/**/*.test.ts',
  'test/e2e/order-flows.test.ts',
  'test/e2e/order-sell-flow.test.ts',
  'test/e2e/order-disputes.test.ts',
  'test/e2e/order-bonds.test.ts',
  'test/e2e/bond-payout.test.ts',
  'test/e2e/split-processes.test.ts',
  'test/webui/**/*.test.ts',
  'test/real-temporal/**/*.test.ts',
];

const temporal = tool('temporal');
if (!temporal.installed) {
  const hint = installHint(temporal);
  if (process.env.CI === 'true') throw new Error(`CI: the real Temporal server is required. ${hint}`);
  console.warn(`\nReal-Temporal tests skipped: ${hint}\n`);
}

const shared = {
  globalSetup: ['./test/setup/global.ts'],
  pool: 'forks' as const,
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

export default defineConfig({
  test: {
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      { test: { ...shared, name: 'embedded', include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'], exclude: ['test/real-temporal/**'] } },
      ...(temporal.installed
        ? [{ test: { ...shared, name: 'real-temporal', include: REAL_TEMPORAL_TESTS, setupFiles: ['./test/setup/real-temporal-env.ts'] } }]
        : []),
    ],
  },
});
