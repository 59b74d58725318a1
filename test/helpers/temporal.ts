/**
 * Test environment for everything that runs workflows: `{ client, nativeConnection, ... }` as TestWorkflowEnvironment
 * gives it, backed by the embedded server (time skipping through the test service) or, when TEMPORAL_ADDRESS is set,
 * by a real Temporal server (no time skipping; tests that need it skip themselves).
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkerOptions } from '@temporalio/worker';
import { startDevServer, type DevServer, type DevServerOptions, type SaType } from '@mostro/temporal-devserver';
import { registerSearchAttributes } from '../../src/temporal/connect.js';

try {
  Runtime.install({ logger: new DefaultLogger((process.env.TEMPORAL_TEST_LOG as 'WARN') ?? 'ERROR') });
} catch {
  // already installed by another helper in this process
}

export interface TemporalTestEnv {
  address: string;
  namespace: string;
  /** Client whose `result()` lets the server skip time while it waits (when time skipping is supported). */
  client: Client;
  /** Client that never unlocks time skipping: time runs at wall-clock speed unless the server auto-skips. */
  plainClient: Client;
  connection: Connection;
  nativeConnection: NativeConnection;
  /** The embedded server, or undefined against a real Temporal server. */
  server: DevServer | undefined;
  supportsTimeSkipping: boolean;
  sleep(ms: number | string): Promise<void>;
  currentTimeMs(): Promise<number>;
  /** A worker on a fresh task queue with the given workflows bundle and activities. */
  worker(opts: Partial<WorkerOptions> & { workflowsPath?: string }): Promise<Worker>;
  teardown(): Promise<void>;
}

export const realServerAddress = process.env.TEMPORAL_ADDRESS;

/**
 * True against a real Temporal server, which cannot skip time: tests that sleep through a trade's windows (minutes
 * to days) skip themselves there — `it.skipIf(withoutTimeSkipping)` — and run on the embedded server.
 */
export const withoutTimeSkipping = realServerAddress !== undefined && realServerAddress !== '';

/**
 * A real server's visibility store is eventually consistent (the embedded one is not): give it time before listing.
 */
export async function visibilitySettled(): Promise<void> {
  if (realServerAddress) await new Promise((r) => setTimeout(r, 2000));
}

const bundles = new Map<string, ReturnType<typeof bundleWorkflowCode>>();

/** Bundles a workflows module once per process (webpack takes ~1.5 s). */
export function workflowBundle(workflowsPath: string) {
  let b = bundles.get(workflowsPath);
  if (!b) {
    b = bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('WARN') });
    bundles.set(workflowsPath, b);
  }
  return b;
}

export function uid(prefix = 'wf'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const pathOf = (url: string) => fileURLToPath(url);

export async function createTemporalTestEnv(
  opts: Omit<DevServerOptions, 'port'> & { searchAttributes?: Record<string, SaType> } = {},
): Promise<TemporalTestEnv> {
  let server: DevServer | undefined;
  let address: string;
  if (realServerAddress) {
    address = realServerAddress;
  } else {
    server = await startDevServer({ ...opts, log: opts.log ?? 'error' });
    address = server.address;
  }
  const supportsTimeSkipping = server !== undefined && opts.testService !== false;
  // `create` is the public-in-JS constructor TestWorkflowEnvironment uses internally; it is the only way to point the
  // SDK's time-skipping client at an existing server (createFromExistingServer hard-codes no time skipping).
  const create = (TestWorkflowEnvironment as unknown as {
    create(o: unknown): Promise<TestWorkflowEnvironment>;
  }).create.bind(TestWorkflowEnvironment);
  const testEnv = await create({
    server: { type: 'existing' },
    address,
    supportsTimeSkipping,
    namespace: process.env.TEMPORAL_NAMESPACE ?? 'default',
  });
  const namespace = testEnv.namespace ?? 'default';
  if (opts.searchAttributes && Object.keys(opts.searchAttributes).length > 0) {
    await registerSearchAttributes(testEnv.connection, namespace, opts.searchAttributes);
  }
  const plainClient = new Client({ connection: testEnv.connection, namespace });
  return {
    address,
    namespace,
    client: testEnv.client,
    plainClient,
    connection: testEnv.connection,
    nativeConnection: testEnv.nativeConnection,
    server,
    supportsTimeSkipping,
    sleep: (ms) => testEnv.sleep(ms),
    currentTimeMs: () => testEnv.currentTimeMs(),
    async worker(wopts) {
      const { workflowsPath, ...rest } = wopts;
      return Worker.create({
        connection: testEnv.nativeConnection,
        namespace,
        taskQueue: rest.taskQueue ?? uid('tq'),
        ...(workflowsPath ? { workflowBundle: await workflowBundle(workflowsPath) } : {}),
        ...rest,
      });
    },
    async teardown() {
      await testEnv.teardown();
      await server?.close();
    },
  };
}
