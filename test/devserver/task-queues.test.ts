/**
 * DescribeTaskQueue: who polls a task queue. The Web UI's "Workers" tab and its "No Workers Running" banner are
 * built from it, so support staff can tell a stuck trade from a stopped worker.
 */
import { describe, expect, it } from 'vitest';
import { useHarness } from './harness.js';

const h = useHarness();

describe('DescribeTaskQueue', () => {
  it('lists the worker polling the workflow and the activity queue, and nobody for an unused queue', async () => {
    // The harness's worker polls from the start; give its first polls a moment to reach the server.
    const identityOf = async (taskQueueType: number) => {
      for (let i = 0; i < 50; i++) {
        const r = await h.env.connection.workflowService.describeTaskQueue({
          namespace: h.env.namespace,
          taskQueue: { name: h.taskQueue },
          taskQueueType,
        });
        if ((r.pollers ?? []).length > 0) return r.pollers!;
        await new Promise((res) => setTimeout(res, 100));
      }
      return [];
    };
    for (const type of [1, 2]) {
      const pollers = await identityOf(type);
      expect(pollers.map((p) => p.identity)).toContain(h.worker.options.identity);
      const at = Number(pollers[0]!.lastAccessTime!.seconds) * 1000;
      expect(Math.abs(Date.now() - at)).toBeLessThan(120_000);
    }
    const none = await h.env.connection.workflowService.describeTaskQueue({
      namespace: h.env.namespace,
      taskQueue: { name: `${h.taskQueue}-nobody` },
      taskQueueType: 1,
    });
    expect(none.pollers ?? []).toEqual([]);
  });

  it('refuses a task poll that has no deadline (it could park forever), as the real server does', async () => {
    await expect(
      h.env.connection.workflowService.pollWorkflowTaskQueue({ namespace: h.env.namespace, taskQueue: { name: `${h.taskQueue}-x` }, identity: 'no-deadline' }),
    ).rejects.toThrow(/Context timeout is not set/);
  });
});
