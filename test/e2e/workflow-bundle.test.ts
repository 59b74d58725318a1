/**
 * The worker's workflow bundle (src/workers/bundle.ts): built once per version of the sources in a child process,
 * reused by every later start, rebuilt when any source changes; daemons starting together each get a whole file.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleKey, workflowBundlePath } from '../../src/workers/bundle.js';
import { createTemporalTestEnv, uid, type TemporalTestEnv } from '../helpers/temporal.js';

const workflowsPath = fileURLToPath(new URL('../devserver/workflows/index.ts', import.meta.url));

describe('workflow bundle cache', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-bundle-cache-'));
  let env: TemporalTestEnv;
  beforeAll(async () => {
    env = await createTemporalTestEnv();
  });
  afterAll(async () => {
    await env?.teardown();
    fs.rmSync(cache, { recursive: true, force: true });
  });

  it('builds once (two starts at the same moment: one whole file), then reuses it; a worker runs it', async () => {
    const [a, b] = await Promise.all([workflowBundlePath(workflowsPath, cache), workflowBundlePath(workflowsPath, cache)]);
    expect(a.codePath).toBe(b.codePath);
    expect(fs.readdirSync(cache)).toEqual([path.basename(a.codePath)]); // no temporary file left behind
    const again = await workflowBundlePath(workflowsPath, cache);
    expect(again).toEqual({ codePath: a.codePath, built: false });

    const taskQueue = uid('bundle');
    const worker = await env.worker({ taskQueue, workflowBundle: { codePath: again.codePath } });
    await worker.runUntil(async () => {
      const handle = await env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId: uid('bundle') });
      await handle.signal('unblock', 'stop');
      expect(await handle.result()).toEqual(['stop']);
    });
  }, 120_000);

  it('a change to any source file, or to the lockfile, is a new bundle', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-bundle-key-'));
    try {
      fs.mkdirSync(path.join(root, 'src/workflows'), { recursive: true });
      fs.mkdirSync(path.join(root, 'packages/p/src'), { recursive: true });
      fs.writeFileSync(path.join(root, 'src/workflows/index.ts'), 'export {}');
      fs.writeFileSync(path.join(root, 'packages/p/src/a.ts'), 'export const a = 1;');
      fs.writeFileSync(path.join(root, 'package-lock.json'), '{}');
      const entry = path.join(root, 'src/workflows/index.ts');
      const keys = [bundleKey(entry, root)];
      expect(bundleKey(entry, root)).toBe(keys[0]);
      fs.writeFileSync(path.join(root, 'packages/p/src/a.ts'), 'export const a = 2;');
      keys.push(bundleKey(entry, root));
      fs.writeFileSync(path.join(root, 'package-lock.json'), '{"v":2}');
      keys.push(bundleKey(entry, root));
      fs.writeFileSync(path.join(root, 'src/new.ts'), '');
      keys.push(bundleKey(entry, root));
      expect(new Set(keys).size).toBe(4);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
