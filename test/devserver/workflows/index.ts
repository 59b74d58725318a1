/** Workflows that exercise the embedded server feature by feature, with the real SDK. */
import * as wf from '@temporalio/workflow';
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';
import type * as activities from '../activities.js';
import { workflowNow } from '../../../src/workflows/shared/time.js';

const acts = wf.proxyActivities<typeof activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2 },
});

export const unblock = wf.defineSignal<[string]>('unblock');
export const state = wf.defineQuery<string>('state');

export async function greet(name: string): Promise<string> {
  return await acts.flaky(name);
}

export async function echoWorkflow(s: string): Promise<string> {
  return await acts.echo(s);
}

export async function signalQuery(): Promise<string> {
  let phase = 'calling activity';
  let got: string | undefined;
  wf.setHandler(state, () => phase);
  wf.setHandler(unblock, (v) => {
    got = v;
  });
  await acts.echo('x');
  phase = 'sleeping';
  await wf.sleep('300ms');
  phase = 'waiting for signal';
  await wf.condition(() => got !== undefined);
  phase = 'done';
  return `got ${got}`;
}

/** Collects every signal until it gets 'stop'. */
export async function collectSignals(): Promise<string[]> {
  const got: string[] = [];
  wf.setHandler(unblock, (v) => void got.push(v));
  wf.setHandler(state, () => got.join(','));
  await wf.condition(() => got.includes('stop'));
  return got;
}

export async function sleeper(duration: string): Promise<number> {
  const start = workflowNow();
  await wf.sleep(duration);
  return workflowNow() - start;
}

/** Sleeps 15 days, then needs an activity: the order workflow's typical shape. */
export async function sleepThenActivity(): Promise<string> {
  await wf.sleep('15 days');
  return await acts.echo('after 15 days');
}

export async function failing(message: string): Promise<void> {
  throw wf.ApplicationFailure.create({ message, type: 'BusinessError', nonRetryable: true });
}

export async function retryProbe(kind: string, failUntil: number): Promise<{ attempts: number[]; result?: string }> {
  const opts: wf.ActivityOptions = {
    startToCloseTimeout: '10s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '3s', maximumAttempts: 6 },
  };
  if (kind === 'nonRetryable') opts.retry = { ...opts.retry, nonRetryableErrorTypes: ['FatalError'] };
  const a = wf.proxyActivities<typeof activities>(opts);
  const result = await a.failUntilAttempt(wf.workflowInfo().workflowId, failUntil, kind);
  return { attempts: [], result };
}

export async function activityWithOptions(
  fn: keyof typeof activities,
  options: wf.ActivityOptions,
  ...args: unknown[]
): Promise<unknown> {
  const a = wf.proxyActivities<Record<string, (...xs: unknown[]) => Promise<unknown>>>(options);
  return await a[fn]!(...args);
}

export async function cancellableActivity(): Promise<string> {
  const a = wf.proxyActivities<typeof activities>({
    startToCloseTimeout: '60s',
    heartbeatTimeout: '1s',
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  try {
    return await a.heartbeatUntilCancelled();
  } catch (err) {
    if (wf.isCancellation(err)) {
      await wf.CancellationScope.nonCancellable(() => acts.echo('cleanup done'));
    }
    throw err;
  }
}

export async function localActivity(s: string): Promise<string> {
  const la = wf.proxyLocalActivities<typeof activities>({ startToCloseTimeout: '5s' });
  return await la.echo(s);
}

export async function parent(childId: string, childArg: string): Promise<string> {
  return await wf.executeChild(echoWorkflow, { workflowId: childId, args: [childArg] });
}

export async function parentStartsChild(childId: string, policy: 'ABANDON' | 'TERMINATE'): Promise<string> {
  const handle = await wf.startChild(collectSignals, {
    workflowId: childId,
    parentClosePolicy:
      policy === 'ABANDON' ? wf.ParentClosePolicy.PARENT_CLOSE_POLICY_ABANDON : wf.ParentClosePolicy.PARENT_CLOSE_POLICY_TERMINATE,
  });
  return handle.firstExecutionRunId;
}

export async function signalAndCancelOthers(signalId: string, cancelId: string, missingId: string): Promise<string[]> {
  const out: string[] = [];
  await wf.getExternalWorkflowHandle(signalId).signal(unblock, 'from-workflow');
  out.push('signaled');
  await wf.getExternalWorkflowHandle(cancelId).cancel();
  out.push('cancelled');
  try {
    await wf.getExternalWorkflowHandle(missingId).signal(unblock, 'nobody');
  } catch (err) {
    out.push(`missing: ${(err as Error).name}`);
  }
  return out;
}

export async function cancellableWait(): Promise<string> {
  try {
    await wf.condition(() => false);
    return 'unreachable';
  } catch (err) {
    if (wf.isCancellation(err)) return 'cancelled';
    throw err;
  }
}

export async function continuer(hop: number, max: number): Promise<{ hop: number; firstRunId: string; continuedFrom?: string }> {
  if (hop < max) await wf.continueAsNew<typeof continuer>(hop + 1, max);
  const info = wf.workflowInfo();
  return { hop, firstRunId: info.firstExecutionRunId, continuedFrom: info.continuedFromExecutionRunId };
}

export const orderStatusKey = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const amountKey = defineSearchAttributeKey('Amount', SearchAttributeType.INT);
export const deadlineKey = defineSearchAttributeKey('Deadline', SearchAttributeType.DATETIME);
export const advance = wf.defineSignal<[string]>('advance');

/** Upserts an OrderStatus search attribute (and memo) on every signal until 'success'. */
export async function statusTracker(amount: number): Promise<string> {
  let status = 'pending';
  wf.upsertSearchAttributes([
    { key: orderStatusKey, value: status },
    { key: amountKey, value: amount },
    { key: deadlineKey, value: new Date(Date.UTC(2030, 0, amount % 28 + 1)) },
  ]);
  wf.setHandler(advance, (s) => {
    status = s;
    wf.upsertSearchAttributes([{ key: orderStatusKey, value: s }]);
    wf.upsertMemo({ lastStatus: s });
  });
  wf.setHandler(state, () => status);
  await wf.condition(() => status === 'success');
  return status;
}

/** Throws a plain Error (workflow-task failure) until the fix is deployed; see the fixed twin in fixed.ts. */
export async function buggy(): Promise<string> {
  throw new Error('bug in workflow code');
}

export async function versioned(): Promise<string> {
  await wf.condition(() => false, '1s');
  if (wf.patched('v2')) return 'v2';
  return 'v1';
}

export async function manyEvents(n: number): Promise<number> {
  for (let i = 0; i < n; i++) await acts.echo(String(i));
  return n;
}

export async function waitForSignalOrTimeout(timeout: string): Promise<string> {
  let got: string | undefined;
  wf.setHandler(unblock, (v) => void (got = v));
  const ok = await wf.condition(() => got !== undefined, timeout);
  return ok ? `signal ${got}` : 'timeout';
}

export async function parentOfCollector(childId: string): Promise<string[]> {
  return await wf.executeChild(collectSignals, { workflowId: childId });
}
