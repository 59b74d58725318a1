/**
 * Durable timers, workflow-task failure and timeout recovery (including a fix-forward onto another worker), child
 * workflows and parent-close policies, external signal/cancel, continue-as-new chains and patched() versioning.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ChildWorkflowFailure, TerminatedFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import * as activities from './activities.js';
import { uid, visibilitySettled } from '../helpers/temporal.js';
import { eventTypes, fixedWorkflowsPath, useHarness, workflowsPath } from './harness.js';

const h = useHarness();

describe('timers', () => {
  it('sleeps on a durable timer in real time when nothing skips time', async () => {
    const id = uid('timer');
    const t0 = Date.now();
    // plainClient never unlocks time skipping: the 2 s timer runs on the wall clock.
    const slept = await h.env.plainClient.workflow.execute('sleeper', { taskQueue: h.taskQueue, workflowId: id, args: ['2s'] });
    const wall = Date.now() - t0;
    expect(slept).toBeGreaterThanOrEqual(2000);
    expect(wall).toBeGreaterThanOrEqual(1900);
    expect(wall).toBeLessThan(5000);
    expect(await eventTypes(h.env, id)).toEqual(expect.arrayContaining(['TIMER_STARTED', 'TIMER_FIRED']));
  });

  it('cancels a timer that lost a race against a signal', async () => {
    const handle = await h.env.plainClient.workflow.start('waitForSignalOrTimeout', {
      taskQueue: h.taskQueue,
      workflowId: uid('race'),
      args: ['1 hour'],
    });
    // Signal only once the timer is running: a signal that beats the first workflow task means no timer at all.
    await expect.poll(() => eventTypes(h.env, handle.workflowId), { timeout: 30_000 }).toContain('TIMER_STARTED');
    await handle.signal('unblock', 'first');
    expect(await handle.result()).toBe('signal first');
    expect(await eventTypes(h.env, handle.workflowId)).toContain('TIMER_CANCELED');
  });
});

describe('workflow-task failures', () => {
  it('retries a failing workflow task until the fixed code is deployed on a new worker', async () => {
    const taskQueue = uid('fix');
    const id = uid('buggy');
    const buggyWorker = await h.env.worker({ taskQueue, workflowsPath, activities });
    const handle = await h.env.plainClient.workflow.start('buggy', { taskQueue, workflowId: id, workflowTaskTimeout: '1s' });
    // However long a busy machine takes to run the first task: the failure is what the test waits for.
    await buggyWorker.runUntil(async () => {
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline && !(await eventTypes(h.env, id)).includes('WORKFLOW_TASK_FAILED')) {
        await new Promise((r) => setTimeout(r, 25));
      }
    });
    const types = await eventTypes(h.env, id);
    expect(types).toContain('WORKFLOW_TASK_FAILED');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    // Fix-forward: a worker with the corrected code takes over; the failed task is retried and succeeds.
    const fixedWorker = await h.env.worker({ taskQueue, workflowsPath: fixedWorkflowsPath, activities });
    const result = await fixedWorker.runUntil(handle.result());
    expect(result).toBe('fixed');
    // Repeated failures are transient: history holds one failure, not one per attempt.
    expect((await eventTypes(h.env, id)).filter((t) => t === 'WORKFLOW_TASK_FAILED')).toHaveLength(1);
  });

  it('times out a workflow task whose worker vanished and hands it to another worker', async () => {
    const taskQueue = uid('vanish');
    const id = uid('vanish');
    const handle = await h.env.plainClient.workflow.start('echoWorkflow', {
      taskQueue,
      workflowId: id,
      args: ['survived'],
      workflowTaskTimeout: '1s',
    });
    // A "worker" that takes the task and dies without answering.
    // A long poll needs a deadline (the server refuses one without).
    const stolen = await h.env.connection.withDeadline(Date.now() + 70_000, () =>
      h.env.connection.workflowService.pollWorkflowTaskQueue({
        namespace: h.env.namespace,
        taskQueue: { name: taskQueue },
        identity: 'doomed-worker',
      }),
    );
    expect(stolen.taskToken?.length).toBeGreaterThan(0);
    const t0 = Date.now();
    const worker = await h.env.worker({ taskQueue, workflowsPath, activities });
    expect(await worker.runUntil(handle.result())).toBe('survived');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(await eventTypes(h.env, id)).toContain('WORKFLOW_TASK_TIMED_OUT');
    // The dead worker's late answer is refused.
    await expect(
      h.env.connection.workflowService.respondWorkflowTaskCompleted({ taskToken: stolen.taskToken, identity: 'doomed-worker' }),
    ).rejects.toThrow(/not found/i);
  });
});

describe('child workflows', () => {
  it('returns a child result to the parent', async () => {
    const id = uid('parent');
    const childId = uid('child');
    expect(await h.env.client.workflow.execute('parent', { taskQueue: h.taskQueue, workflowId: id, args: [childId, 'from child'] })).toBe(
      'from child',
    );
    const d = await h.env.client.workflow.getHandle(childId).describe();
    expect(d.parentExecution?.workflowId).toBe(id);
    expect(await eventTypes(h.env, id)).toEqual(
      expect.arrayContaining([
        'START_CHILD_WORKFLOW_EXECUTION_INITIATED',
        'CHILD_WORKFLOW_EXECUTION_STARTED',
        'CHILD_WORKFLOW_EXECUTION_COMPLETED',
      ]),
    );
  });

  it('leaves an ABANDON child running and terminates a TERMINATE child when the parent closes', async () => {
    const abandoned = uid('abandoned');
    const terminated = uid('terminated');
    await h.env.client.workflow.execute('parentStartsChild', { taskQueue: h.taskQueue, workflowId: uid('p'), args: [abandoned, 'ABANDON'] });
    await h.env.client.workflow.execute('parentStartsChild', { taskQueue: h.taskQueue, workflowId: uid('p'), args: [terminated, 'TERMINATE'] });
    expect((await h.env.client.workflow.getHandle(abandoned).describe()).status.name).toBe('RUNNING');
    expect((await h.env.client.workflow.getHandle(terminated).describe()).status.name).toBe('TERMINATED');
    await h.env.client.workflow.getHandle(abandoned).signal('unblock', 'stop');
    expect(await h.env.client.workflow.getHandle(abandoned).result()).toEqual(['stop']);
  });

  it('fails the parent with ChildWorkflowFailure when its child is terminated', async () => {
    const childId = uid('child');
    const parent = await h.env.client.workflow.start('parentOfCollector', { taskQueue: h.taskQueue, workflowId: uid('p'), args: [childId] });
    const child = h.env.client.workflow.getHandle(childId);
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      try {
        await child.describe();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    await child.terminate('solver decided');
    const err = await parent.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ChildWorkflowFailure);
    expect((cause as ChildWorkflowFailure).cause).toBeInstanceOf(TerminatedFailure);
  });

  it('fails a child start whose workflow id is already running', async () => {
    const childId = uid('taken');
    const running = await h.env.client.workflow.start('collectSignals', { taskQueue: h.taskQueue, workflowId: childId });
    const err = await h.env.client.workflow
      .execute('parent', { taskQueue: h.taskQueue, workflowId: uid('p3'), args: [childId, 'x'] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(String((err as WorkflowFailedError).cause?.message)).toMatch(/already/i);
    await running.terminate();
  });

  it('signals and cancels external workflows, and reports a missing one', async () => {
    const target = await h.env.client.workflow.start('collectSignals', { taskQueue: h.taskQueue, workflowId: uid('target') });
    const victim = await h.env.client.workflow.start('cancellableWait', { taskQueue: h.taskQueue, workflowId: uid('victim') });
    const out = await h.env.client.workflow.execute('signalAndCancelOthers', {
      taskQueue: h.taskQueue,
      workflowId: uid('sender'),
      args: [target.workflowId, victim.workflowId, uid('missing')],
    });
    expect(out[0]).toBe('signaled');
    expect(out[1]).toBe('cancelled');
    expect(out[2]).toMatch(/^missing: /);
    expect(await victim.result()).toBe('cancelled');
    expect(await target.query('state')).toBe('from-workflow');
    await target.signal('unblock', 'stop');
    await target.result();
  });
});

describe('continue-as-new', () => {
  it('follows a three-hop chain with firstExecutionRunId and continuedFrom', async () => {
    const id = uid('can');
    const handle = await h.env.client.workflow.start('continuer', { taskQueue: h.taskQueue, workflowId: id, args: [0, 3] });
    const res = await handle.result();
    expect(res.hop).toBe(3);
    expect(res.firstRunId).toBe(handle.firstExecutionRunId);
    expect(res.continuedFrom).toBeDefined();
    expect(res.continuedFrom).not.toBe(handle.firstExecutionRunId);
    await visibilitySettled();
    const runs = [];
    for await (const w of h.env.client.workflow.list({ query: `WorkflowId = '${id}'` })) runs.push(w);
    expect(runs.map((r) => r.status.name).sort()).toEqual(['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);
  });
});

describe('versioning', () => {
  it('records a patch marker for a new run, and its history replays deterministically', async () => {
    const id = uid('patched');
    expect(await h.env.client.workflow.execute('versioned', { taskQueue: h.taskQueue, workflowId: id })).toBe('v2');
    const types = await eventTypes(h.env, id);
    expect(types).toContain('MARKER_RECORDED');
    // Replaying that history with the same code is deterministic.
    const history = await h.env.client.workflow.getHandle(id).fetchHistory();
    const { Worker } = await import('@temporalio/worker');
    const { workflowBundle } = await import('../helpers/temporal.js');
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle(workflowsPath) }, history, id);
  });
});
