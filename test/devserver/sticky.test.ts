/**
 * Sticky execution: a worker with the run cached gets only new events; when it shuts down, or vanishes without a
 * word, the next task goes to any worker with full history. Workers without a cache replay everything each task.
 */
import { describe, expect, it } from 'vitest';
import proto from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time.js';
import * as activities from './activities.js';
import { realServerAddress, uid } from '../helpers/temporal.js';
import { useHarness, workflowsPath } from './harness.js';

const { temporal } = proto;
const h = useHarness();

describe('sticky execution', () => {
  it('moves a cached run to another worker when its worker shuts down', async () => {
    const taskQueue = uid('handoff');
    const handle = await h.env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId: uid('handoff') });
    const a = await h.env.worker({ taskQueue, workflowsPath, activities });
    await a.runUntil(async () => {
      await handle.signal('unblock', 'on A');
      for (let i = 0; i < 200 && (await handle.query('state')) !== 'on A'; i++) await new Promise((r) => setTimeout(r, 10));
    });
    const b = await h.env.worker({ taskQueue, workflowsPath, activities });
    const result = await b.runUntil(async () => {
      await handle.signal('unblock', 'stop');
      return handle.result();
    });
    expect(result).toEqual(['on A', 'stop']);
    // No schedule-to-start wait: the shutdown released the sticky queue, so no task timed out on it.
    const history = await handle.fetchHistory();
    const timedOut = history.events!.filter((e) => e.workflowTaskTimedOutEventAttributes);
    // The real server usually skips it too, but a sticky queue it has only just created may count as alive for a
    // moment (seen once in six runs): then it waits out schedule-to-start once. Never more than once.
    expect(timedOut.length).toBeLessThanOrEqual(realServerAddress ? 1 : 0);
  });

  /** A "worker" that completes the first task, asks for stickiness on its own queue, and is never heard from again. */
  async function ghost(taskQueue: string, workflowId: string, pollsItsStickyQueue: boolean) {
    const handle = await h.env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId });
    // A long poll needs a deadline (the server refuses one without).
    const task = await h.env.connection.withDeadline(Date.now() + 70_000, () =>
      h.env.connection.workflowService.pollWorkflowTaskQueue({ namespace: h.env.namespace, taskQueue: { name: taskQueue }, identity: 'ghost' }),
    );
    const sticky = `${workflowId}-sticky`;
    await h.env.connection.workflowService.respondWorkflowTaskCompleted({
      taskToken: task.taskToken,
      identity: 'ghost',
      commands: [],
      stickyAttributes: {
        workerTaskQueue: { name: sticky, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_STICKY },
        scheduleToStartTimeout: msToTs('1s'),
      },
    });
    if (pollsItsStickyQueue) {
      // It polls its sticky queue once (nothing there yet), so the server counts it as alive for a while.
      await h.env.connection
        .withDeadline(Date.now() + 5_000, () =>
          h.env.connection.workflowService.pollWorkflowTaskQueue({
            namespace: h.env.namespace,
            taskQueue: { name: sticky, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_STICKY, normalName: taskQueue },
            identity: 'ghost',
          }),
        )
        .catch(() => undefined); // the deadline passing is the expected end of an empty poll
    }
    return handle;
  }

  /**
   * The ghost takes the first task and vanishes; the next task (a signal) must reach a real worker on the normal
   * queue, which finishes the run. Returns the timeout types recorded on the way.
   */
  async function finishedElsewhere(ghostPolledItsStickyQueue: boolean) {
    const taskQueue = uid('ghost');
    const handle = await ghost(taskQueue, uid('ghost'), ghostPolledItsStickyQueue);
    await handle.signal('unblock', 'stop');
    const worker = await h.env.worker({ taskQueue, workflowsPath, activities });
    expect(await worker.runUntil(handle.result())).toEqual(['stop']);
    const history = await handle.fetchHistory();
    return history.events!.filter((e) => e.workflowTaskTimedOutEventAttributes).map((e) => e.workflowTaskTimedOutEventAttributes!.timeoutType);
  }

  it('waits schedule-to-start on the queue of a sticky worker that polled, then falls back to the normal queue', async () => {
    // The task waited on the ghost's sticky queue until its schedule-to-start timeout, then went to the normal queue.
    expect(await finishedElsewhere(true)).toEqual([temporal.api.enums.v1.TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START]);
  });

  it('skips at once the sticky queue of a worker that never polled it (no timeout recorded)', async () => {
    // The real server usually skips it too, but a sticky queue it has only just created may count as alive for a
    // moment (seen once in six runs): then it waits out schedule-to-start once. Never more than once.
    expect((await finishedElsewhere(false)).length).toBeLessThanOrEqual(realServerAddress ? 1 : 0);
  });

  it('runs with a worker that caches nothing (full replay on every task, queries included)', async () => {
    const taskQueue = uid('nocache');
    const worker = await h.env.worker({ taskQueue, workflowsPath, activities, maxCachedWorkflows: 0 });
    await worker.runUntil(async () => {
      const handle = await h.env.client.workflow.start('signalQuery', { taskQueue, workflowId: uid('nocache') });
      for (let i = 0; i < 200 && (await handle.query('state')) !== 'waiting for signal'; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await handle.signal('unblock', 'replayed');
      expect(await handle.result()).toBe('got replayed');
    });
  });
});
