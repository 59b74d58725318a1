/** The daemon's Temporal worker: the workflows in src/workflows and the activities in src/activities. */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';

export const DEFAULT_TASK_QUEUE = 'mostro';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface WorkerConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  /** gzip gRPC traffic (the SDK default); pointless CPU on loopback to the embedded server. */
  compress: boolean;
}

export async function createWorker(cfg: WorkerConfig): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({
    address: cfg.address,
    grpcCompression: { codec: cfg.compress ? 'gzip' : 'none' },
  });
  const identity = `mostro-worker@${os.hostname()}/${process.pid}`;
  const worker = await Worker.create({
    connection,
    namespace: cfg.namespace,
    taskQueue: cfg.taskQueue,
    identity,
    workflowsPath,
    activities: createActivities({ identity }),
  });
  return { worker, connection };
}
