import { proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';
import { workflowNow } from './shared/time.js';
import type { createSystemActivities } from '../activities/system.js';

const { describeWorker } = proxyActivities<ReturnType<typeof createSystemActivities>>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3 },
});

export interface SelfCheckResult {
  workflowId: string;
  worker: string;
  timerMs: number;
}

/**
 * Proves the whole path works at startup: a workflow task, an activity on the worker, and a durable timer on the
 * server. `npm start` runs it once and reports the result.
 */
export async function selfCheckWorkflow(): Promise<SelfCheckResult> {
  const worker = await describeWorker();
  const before = workflowNow();
  await sleep(10);
  return { workflowId: workflowInfo().workflowId, worker, timerMs: workflowNow() - before };
}
