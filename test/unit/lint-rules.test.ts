/** The determinism rules for workflow code must keep firing: Node APIs, Date.now, Math.random, timers. */
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/process.js';

// Type-aware linting builds the project's whole TypeScript program first: seconds on an idle machine, more than a
// minute when the cores are shared with a second suite.
describe('workflow determinism lint rules', { timeout: 180_000 }, () => {
  it('rejects Node APIs, wall-clock time, randomness and timers in src/workflows', async () => {
    const eslint = new ESLint({ cwd: repoRoot });
    const code = [
      "import fs from 'node:fs';",
      "import { randomUUID } from 'crypto';",
      'export async function bad(): Promise<number> {',
      '  setTimeout(() => undefined, 1);',
      '  return Date.now() + Math.random() + fs.readFileSync.length + randomUUID().length;',
      '}',
      '',
    ].join('\n');
    const [res] = await eslint.lintText(code, { filePath: `${repoRoot}src/workflows/self-check.ts` });
    const rules = res!.messages.map((m) => m.ruleId);
    expect(rules.filter((r) => r === 'no-restricted-imports')).toHaveLength(2);
    expect(rules.filter((r) => r === 'no-restricted-properties')).toHaveLength(2);
    expect(rules).toContain('no-restricted-globals');
  });

  it('allows the same code outside workflows', async () => {
    const eslint = new ESLint({ cwd: repoRoot });
    const code = "import fs from 'node:fs';\nexport const n = Date.now() + Math.random() + fs.readFileSync.length;\n";
    const [res] = await eslint.lintText(code, { filePath: `${repoRoot}src/activities/system.ts` });
    expect(res!.messages.filter((m) => m.severity === 2)).toEqual([]);
  });
});
