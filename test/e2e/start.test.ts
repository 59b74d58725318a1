/**
 * The quick start: `npm start` runs the embedded Temporal server and the worker, proves the path with a
 * self-check workflow, stops cleanly on SIGTERM, and starts again on the same data directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { realServerAddress } from '../helpers/temporal.js';
import { spawnTs } from '../helpers/process.js';

describe.skipIf(realServerAddress)('npm start', () => {
  it('starts the embedded server and a worker, passes its self-check, and restarts on the same data', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-start-'));
    for (let round = 0; round < 2; round++) {
      const p = spawnTs('src/main.ts', ['start', '--data-dir', dataDir]);
      const address = await p.line('temporal', 30_000);
      expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
      await p.waitFor(/^Ready\. Press Ctrl\+C to stop\.$/m, 30_000);
      expect(p.output()).toMatch(/Self-check passed in \d+ ms: workflow self-check-\d+-\d+ ran on mostro-worker@/);
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    }
    expect(fs.existsSync(path.join(dataDir, 'temporal', 'snapshot.json'))).toBe(true);
  });
});
