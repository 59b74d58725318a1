/**
 * Persistence: the embedded server runs as its own process with a data directory, is killed with SIGKILL right after
 * acknowledging changes, and restarts on the same port and directory while the worker keeps running. Running
 * workflows, signals, pending activities and timers, search attributes, completed results and the virtual clock
 * all survive.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { loadServices, Store } from '@mostro/temporal-devserver';
import { realServerAddress, uid, workflowBundle } from '../helpers/temporal.js';
import { spawnTs, type Spawned } from '../../support/process.js';
import * as activities from './activities.js';
import { workflowsPath } from './harness.js';

const cli = 'packages/temporal-devserver/src/cli.ts';

/** The server's virtual time, from the TestService (the SDK's Connection only exposes it to TestWorkflowEnvironment). */
async function serverTime(address: string): Promise<number> {
  const Ctor = grpc.makeGenericClientConstructor(loadServices().testService, 'TestService');
  const c = new Ctor(address, grpc.credentials.createInsecure()) as unknown as {
    GetCurrentTime(req: object, cb: (err: Error | null, res: { time: { seconds: number; nanos?: number } }) => void): void;
    close(): void;
  };
  try {
    const res = await new Promise<{ time: { seconds: number; nanos?: number } }>((resolve, reject) =>
      c.GetCurrentTime({}, (err, r) => (err ? reject(err) : resolve(r))),
    );
    return Number(res.time.seconds) * 1000 + Math.floor((res.time.nanos ?? 0) / 1e6);
  } finally {
    c.close();
  }
}
const procs: Spawned[] = [];

function startServer(dataDir: string, port: number, extra: string[] = []): Spawned {
  const p = spawnTs(cli, ['--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...extra]);
  procs.push(p);
  return p;
}

/** Client and worker connections to a spawned server; they outlive its restarts on the same port. */
async function connectTo(server: Spawned) {
  const address = await server.line('address');
  const port = Number(address.split(':')[1]);
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const nc = await NativeConnection.connect({ address });
  return { address, port, connection, client, nc };
}

async function kill9(p: Spawned): Promise<void> {
  p.child.kill('SIGKILL');
  await p.exited;
}

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.child.exitCode === null) await kill9(p);
});

describe.skipIf(realServerAddress)('kill -9 and restart', () => {
  it('keeps running workflows, signals, pending activities and timers, search attributes and results', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-'));
    let server = startServer(dataDir, 0, [
      '--search-attribute',
      'OrderStatus=Keyword',
      '--search-attribute',
      'Amount=Int',
      '--search-attribute',
      'Deadline=Datetime',
    ]);
    const { port, connection, client, nc } = await connectTo(server);
    const taskQueue = uid('persist');
    const laterQueue = uid('later');
    const worker = await Worker.create({ connection: nc, taskQueue, workflowBundle: await workflowBundle(workflowsPath), activities });
    const running = worker.run();
    try {
      const waiting = await client.workflow.start('collectSignals', { taskQueue, workflowId: uid('waiting') });
      const sleeping = await client.workflow.start('sleeper', { taskQueue, workflowId: uid('sleeping'), args: ['4s'] });
      const tracked = await client.workflow.start('statusTracker', { taskQueue, workflowId: uid('tracked'), args: [7] });
      const pendingAct = await client.workflow.start('activityWithOptions', {
        taskQueue,
        workflowId: uid('pending-act'),
        args: ['echo', { startToCloseTimeout: '10s', taskQueue: laterQueue }, 'done later'],
      });
      const done = await client.workflow.execute('echoWorkflow', { taskQueue, workflowId: uid('done'), args: ['finished'] });
      expect(done).toBe('finished');
      // Let the workers record their first tasks (activity scheduled, timer started, attributes upserted).
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        const d = await pendingAct.describe();
        const t = await tracked.describe();
        if ((d.raw.pendingActivities?.length ?? 0) > 0 && t.searchAttributes.OrderStatus) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await waiting.signal('unblock', 'before crash');
      // The signal was acknowledged: it must survive a SIGKILL that follows immediately.
      await kill9(server);

      server = startServer(dataDir, port);
      await server.line('address');

      await waiting.signal('unblock', 'stop');
      expect(await waiting.result()).toEqual(['before crash', 'stop']);
      expect(await sleeping.result()).toBeGreaterThanOrEqual(4000);
      const found: string[] = [];
      for await (const w of client.workflow.list({ query: `OrderStatus = 'pending' AND WorkflowId = '${tracked.workflowId}'` })) {
        found.push(w.workflowId);
      }
      expect(found).toEqual([tracked.workflowId]);
      await tracked.signal('advance', 'success');
      expect(await tracked.result()).toBe('success');
      const laterWorker = await Worker.create({ connection: nc, taskQueue: laterQueue, activities });
      expect(await laterWorker.runUntil(pendingAct.result())).toBe('done later');
      const closed = await client.workflow.list({ query: `WorkflowType = 'echoWorkflow'` });
      const statuses: string[] = [];
      for await (const w of closed) statuses.push(w.status.name);
      expect(statuses).toEqual(['COMPLETED']);
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      await connection.close();
    }
  });

  it('retries an activity attempt that was running when the server died', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-'));
    let server = startServer(dataDir, 0);
    const { port, connection, client, nc } = await connectTo(server);
    const taskQueue = uid('running-act');
    const worker = await Worker.create({ connection: nc, taskQueue, workflowBundle: await workflowBundle(workflowsPath), activities });
    const running = worker.run();
    try {
      const handle = await client.workflow.start('activityWithOptions', {
        taskQueue,
        workflowId: uid('running-act'),
        args: ['slowFirstAttempt', { startToCloseTimeout: '1 minute', retry: { initialInterval: '100ms' } }, 3000],
      });
      for (let i = 0; i < 300; i++) {
        const d = await handle.describe();
        if (d.raw.pendingActivities?.[0]?.state === 2 /* STARTED */) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await kill9(server);
      server = startServer(dataDir, port);
      await server.line('address');
      // The attempt that was running is retried at once (attempt 2), not after the 1-minute start-to-close
      // timeout; the first attempt's late completion is refused.
      const t0 = Date.now();
      expect(await handle.result()).toBe(2);
      expect(Date.now() - t0).toBeLessThan(40_000); // well before the 60 s start-to-close timeout
    } finally {
      worker.shutdown();
      await running;
      await nc.close();
      await connection.close();
    }
  });

  it('keeps the virtual clock across a restart in time-skipping mode', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tdev-'));
    let server = startServer(dataDir, 0, ['--time-skipping']);
    const { address, port, connection, client, nc } = await connectTo(server);
    const taskQueue = uid('clock');
    const worker = await Worker.create({ connection: nc, taskQueue, workflowBundle: await workflowBundle(workflowsPath), activities });
    try {
      await worker.runUntil(client.workflow.execute('sleeper', { taskQueue, workflowId: uid('ten-days'), args: ['10 days'] }));
      const aheadMs = (await serverTime(address)) - Date.now();
      expect(aheadMs).toBeGreaterThan(9 * 24 * 3600_000);
      const pending = await client.workflow.start('sleeper', { taskQueue, workflowId: uid('after'), args: ['30 days'] });
      await kill9(server);
      server = startServer(dataDir, port, ['--time-skipping']);
      await server.line('address');
      expect((await serverTime(address)) - Date.now()).toBeGreaterThan(9 * 24 * 3600_000);
      const worker2 = await Worker.create({ connection: nc, taskQueue, workflowBundle: await workflowBundle(workflowsPath), activities });
      expect(await worker2.runUntil(pending.result())).toBeGreaterThanOrEqual(30 * 24 * 3600_000);
    } finally {
      await nc.close();
      await connection.close();
    }
  });
});

describe('store recovery', () => {
  it('ignores a torn final record and truncates it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-'));
    const { store } = await Store.open(dir, { fsync: false });
    const global = { clockOffset: 42, runSeq: 1, namespaces: {}, searchAttributes: {} };
    store.attach({ runs: () => [], global: () => global });
    store.markGlobal();
    await store.commit();
    const log = fs.readdirSync(dir).find((f) => f.startsWith('log-'))!;
    const goodSize = fs.statSync(path.join(dir, log)).size;
    fs.appendFileSync(path.join(dir, log), '{"t":"g","g":{"clockOffset":99');
    const { state } = await Store.open(dir, { fsync: false });
    expect(state.global?.clockOffset).toBe(42);
    expect(fs.statSync(path.join(dir, log)).size).toBe(goodSize);
  });
});
