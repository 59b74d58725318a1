/** The daemon's Temporal worker: the workflows in src/workflows and the activities in src/activities. */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { connectNative, type TemporalTarget } from '../temporal/connect.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Identifies this process in workflow histories (who ran an activity) and in the Web UI's worker list. */
export const workerIdentity = (): string => `mostro-worker@${os.hostname()}/${process.pid}`;

/** Connects and creates the worker (not yet running); the caller runs it and closes the connection after. */
/** Worker tuning from `[temporal]`; unset values keep the SDK's defaults. */
export interface WorkerTuning {
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  workflowThreadPoolSize?: number;
}

export async function createWorker(
  target: TemporalTarget,
  deps: Omit<ActivityDeps, 'identity'>,
  tuning: WorkerTuning = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await connectNative(target);
  try {
    const identity = workerIdentity();
    const worker = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue: target.taskQueue,
      identity,
      workflowsPath,
      activities: createActivities({ identity, ...deps }),
      ...Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)),
    });
    return { worker, connection };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
