/**
 * `[temporal] workflow_stack_traces`: on, the `__stack_trace` query (the Web UI's Stack Trace tab) answers where a
 * workflow waits; off (the daemon's default), the SDK's workflow threads record no stack per promise and the query
 * says stack traces are not enabled, while the workflow runs, answers its own queries and completes as before.
 * The switch is our patch of the SDK (scripts/patch-dependencies.mjs): without it, "off" would still record stacks.
 */
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setWorkflowStackTraces } from '../../src/workers/worker.js';
import { createTemporalTestEnv, uid, type TemporalTestEnv } from '../helpers/temporal.js';

const workflowsPath = fileURLToPath(new URL('../devserver/workflows/index.ts', import.meta.url));
/** The line where `collectSignals` waits for its signals. */
const waitLine = fs.readFileSync(workflowsPath, 'utf8').split('\n').findIndex((l) => l.includes("await wf.condition(() => got.includes('stop'))")) + 1;

describe('workflow stack traces switch', () => {
  let env: TemporalTestEnv;
  const before = process.env.TEMPORAL_WORKFLOW_STACK_TRACES;
  beforeAll(async () => {
    env = await createTemporalTestEnv();
  });
  afterAll(async () => {
    if (before === undefined) delete process.env.TEMPORAL_WORKFLOW_STACK_TRACES;
    else process.env.TEMPORAL_WORKFLOW_STACK_TRACES = before;
    await env?.teardown();
  });

  it('finds the line the workflow waits on', () => expect(waitLine).toBeGreaterThan(0));

  for (const on of [true, false]) {
    it(on ? 'on: the stack trace query shows where the workflow waits' : 'off: the query says so; the workflow works as before', async () => {
      setWorkflowStackTraces(on);
      const taskQueue = uid('stack');
      const worker = await env.worker({ taskQueue, workflowsPath });
      await worker.runUntil(async () => {
        const handle = await env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId: uid('stack') });
        await handle.signal('unblock', 'first');
        expect(await handle.query('state')).toBe('first');
        const trace = handle.query<string>('__stack_trace');
        if (on) expect(await trace).toContain(`devserver/workflows/index.ts:${waitLine}:`);
        else await expect(trace).rejects.toThrow(/stack traces are not enabled/i);
        await handle.signal('unblock', 'stop');
        expect(await handle.result()).toEqual(['first', 'stop']);
      });
    }, 60_000);
  }
});
