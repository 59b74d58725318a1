// @ts-check
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'generated/**', 'workflow-bundle-*.js'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/*.mjs', 'src/ingress/*.mjs', 'src/workers/*.mjs', 'packages/*/build.mjs', 'scripts/*.mjs'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // An un-awaited activity or RPC is a classic bug.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The embedded server handles dynamically-typed proto messages.
    files: ['packages/temporal-devserver/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox and is replayed: no Node APIs, no I/O, no wall clock
    // or randomness except through the workflow API. The domain layer is bundled with it.
    files: ['src/workflows/**/*.ts', 'src/domain/**/*.ts', 'test/**/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'Workflow code must not use Node APIs (not deterministic).' })),
          patterns: [
            { group: ['**/activities/*', '!**/activities/*.js'], message: 'Import activities with `import type` only.' },
            { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'Not available inside workflows.' },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'Math', property: 'random', message: 'Use the workflow API (uuid4 / deterministic randomness).' },
        { object: 'Date', property: 'now', message: 'Keep time explicit: use workflow time from the workflow API.' },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() in a loop.' },
        { name: 'fetch', message: 'I/O belongs in activities.' },
        { name: 'process', message: 'Workflow code must not read the process environment.' },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
    },
  },
);
