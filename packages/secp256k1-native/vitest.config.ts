import { defineConfig } from 'vitest/config';

/** The package's own tests, run alone (`npm test` here); the repository's `npm test` runs them too. */
export default defineConfig({ test: { include: ['test/**/*.test.ts'], pool: 'forks', testTimeout: 60_000 } });
