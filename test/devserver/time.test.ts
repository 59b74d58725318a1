/**
 * Virtual time: TestWorkflowEnvironment's time skipping through the test service (locks while the test is not
 * awaiting a result), and the auto-skip mode used by `temporal:dev --time-skipping`.
 */
import { Client, Connection } from '@temporalio/client';
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { startDevServer, type DevServer } from '@mostro/temporal-devserver';
import * as activities from './activities.js';
import { uid, realServerAddress } from '../helpers/temporal.js';
import { useHarness, workflowsPath } from './harness.js';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal.js';
import { NativeConnection } from '@temporalio/worker';

const h = useHarness();

/**
 * Wall time a skipped wait may take: nothing like the days skipped (a server that did not skip would hang until the
 * test's timeout), yet room for a machine whose cores are all busy — how fast skipping is, is the benchmarks' business.
 */
const SKIPPED_WALL_MS = 20_000;

// A real Temporal server cannot skip time; these tests only make sense on the embedded one.
describe.skipIf(realServerAddress)('time skipping via the test service', () => {
  it('completes a 3-day sleep in well under a second', async () => {
    const t0 = Date.now();
    const slept = await h.env.client.workflow.execute('sleeper', { taskQueue: h.taskQueue, workflowId: uid('3d'), args: ['3 days'] });
    expect(slept).toBeGreaterThanOrEqual(3 * 24 * 3600_000);
    expect(Date.now() - t0).toBeLessThan(SKIPPED_WALL_MS);
  });

  it('runs a workflow that sleeps 15 days and then waits for an activity in well under a second', async () => {
    const t0 = Date.now();
    const res = await h.env.client.workflow.execute('sleepThenActivity', { taskQueue: h.taskQueue, workflowId: uid('15d') });
    expect(res).toBe('after 15 days');
    expect(Date.now() - t0).toBeLessThan(SKIPPED_WALL_MS);
  });

  it('advances the clock with env.sleep and reports it with currentTimeMs', async () => {
    const before = await h.env.currentTimeMs();
    const t0 = Date.now();
    await h.env.sleep('1 hour');
    const after = await h.env.currentTimeMs();
    expect(after - before).toBeGreaterThanOrEqual(3600_000);
    expect(Date.now() - t0).toBeLessThan(SKIPPED_WALL_MS);
  });

  it('fires a workflow timer during env.sleep, while the test holds no result', async () => {
    const handle = await h.env.client.workflow.start('waitForSignalOrTimeout', {
      taskQueue: h.taskQueue,
      workflowId: uid('tmo'),
      args: ['2 hours'],
    });
    await h.env.sleep('3 hours');
    const d = await handle.describe();
    expect(d.status.name).toBe('COMPLETED');
    expect(await handle.result()).toBe('timeout');
  });

  it('does not skip time while the test is not waiting (signal arrives before the timeout)', async () => {
    const handle = await h.env.client.workflow.start('waitForSignalOrTimeout', {
      taskQueue: h.taskQueue,
      workflowId: uid('nosk'),
      args: ['1 minute'],
    });
    await new Promise((r) => setTimeout(r, 300));
    await handle.signal('unblock', 'in time');
    expect(await handle.result()).toBe('signal in time');
  });
});

describe.skipIf(realServerAddress)('auto-skip mode', () => {
  let server: DevServer;
  let client: Client;
  let nc: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  const taskQueue = uid('auto');
  beforeAll(async () => {
    server = await startDevServer({ timeSkipping: true, log: 'error' });
    client = new Client({ connection: await Connection.connect({ address: server.address }) });
    nc = await NativeConnection.connect({ address: server.address });
    worker = await Worker.create({ connection: nc, taskQueue, workflowBundle: await workflowBundle(workflowsPath), activities });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await nc?.close();
    await client?.connection.close();
    await server?.close();
  });

  it('skips a 3-day timer with a plain client', async () => {
    const t0 = Date.now();
    expect(await client.workflow.execute('sleeper', { taskQueue, workflowId: uid('a3d'), args: ['3 days'] })).toBeGreaterThanOrEqual(
      3 * 24 * 3600_000,
    );
    expect(Date.now() - t0).toBeLessThan(SKIPPED_WALL_MS);
  });

  it('skips a child workflow sleep', async () => {
    const t0 = Date.now();
    const childId = uid('child');
    const res = await client.workflow.execute('parent', { taskQueue, workflowId: uid('ap'), args: [childId, 'ok'] });
    expect(res).toBe('ok');
    expect(await client.workflow.execute('sleeper', { taskQueue, workflowId: uid('s1'), args: ['1 day'] })).toBeGreaterThanOrEqual(86_400_000);
    expect(Date.now() - t0).toBeLessThan(SKIPPED_WALL_MS);
  });
});
