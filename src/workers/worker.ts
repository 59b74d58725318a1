/** The daemon's Temporal worker: the workflows in src/workflows and the activities in src/activities. */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type NativeConnection } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities/index.js';
import { workflowBundlePath } from './bundle.js';
import { connectNative, type TemporalTarget } from '../temporal/connect.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

/** Identifies this process in workflow histories (who ran an activity) and in the Web UI's worker list. */
export const workerIdentity = (): string => `mostro-worker@${os.hostname()}/${process.pid}`;

/** Worker tuning from `[temporal]`; unset values keep the SDK's defaults. */
export interface WorkerTuning {
  maxCachedWorkflows?: number;
  maxConcurrentWorkflowTaskExecutions?: number;
  maxConcurrentActivityTaskExecutions?: number;
  workflowThreadPoolSize?: number;
  /** `[temporal] workflow_stack_traces`: see {@link setWorkflowStackTraces}. Default off. */
  workflowStackTraces?: boolean;
}

/**
 * Whether the SDK records where each workflow waits, for the `__stack_trace` query (the Web UI's Stack Trace tab).
 * Recording captures a source-mapped stack for every promise a workflow creates: about half the order workflow's CPU,
 * so the daemon leaves it off unless asked. The switch is an environment variable that the SDK's workflow threads read
 * when they start (a patch of ours, scripts/patch-dependencies.mjs): set it before creating a worker.
 */
export function setWorkflowStackTraces(on: boolean): void {
  process.env.TEMPORAL_WORKFLOW_STACK_TRACES = on ? 'on' : 'off';
}

/** Connects and creates the worker (not yet running); the caller runs it and closes the connection after. */
export async function createWorker(
  target: TemporalTarget,
  deps: Omit<ActivityDeps, 'identity'>,
  { workflowStackTraces = false, ...tuning }: WorkerTuning = {},
): Promise<{ worker: Worker; connection: NativeConnection; bundle: { codePath: string; built: boolean } }> {
  setWorkflowStackTraces(workflowStackTraces);
  const bundle = await workflowBundlePath(workflowsPath);
  const connection = await connectNative(target);
  try {
    const identity = workerIdentity();
    const worker = await Worker.create({
      connection,
      namespace: target.namespace,
      taskQueue: target.taskQueue,
      identity,
      workflowBundle: { codePath: bundle.codePath },
      activities: createActivities({ identity, ...deps }),
      ...Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)),
    });
    return { worker, connection, bundle };
  } catch (err) {
    await connection.close();
    throw err;
  }
}
