/** History reads: paging through fetchHistory, the result() long poll and its empty re-polls. */
import { describe, expect, it } from 'vitest';
import { realServerAddress, uid } from '../helpers/temporal.js';
import { useHarness } from './harness.js';

// Short long-polls so the empty-answer path (the client re-polls) is exercised within the test.
const h = useHarness({ historyLongPollMs: 200, pollTimeoutMs: 500 });

describe('history', () => {
  it('pages through a long history', async () => {
    const id = uid('many');
    expect(await h.env.client.workflow.execute('manyEvents', { taskQueue: h.taskQueue, workflowId: id, args: [20] })).toBe(20);
    const full = await h.env.client.workflow.getHandle(id).fetchHistory();
    const total = full.events?.length ?? 0;
    expect(total).toBeGreaterThan(80);
    let pages = 0;
    let token: Uint8Array | undefined;
    const seen: number[] = [];
    do {
      const res = await h.env.connection.workflowService.getWorkflowExecutionHistory({
        namespace: h.env.namespace,
        execution: { workflowId: id },
        maximumPageSize: 25,
        nextPageToken: token,
      });
      pages++;
      for (const e of res.history?.events ?? []) seen.push(Number(e.eventId));
      token = res.nextPageToken?.length ? res.nextPageToken : undefined;
    } while (token);
    // The embedded server pages by exactly maximumPageSize events; the real one by whole stored batches (a page may
    // hold more). Either way the history is paged and every event comes once, in order.
    if (realServerAddress) expect(pages).toBeGreaterThan(1);
    else expect(pages).toBe(Math.ceil(total / 25));
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });

  it('keeps result() waiting across empty long-poll answers until the workflow closes', async () => {
    const handle = await h.env.plainClient.workflow.start('collectSignals', { taskQueue: h.taskQueue, workflowId: uid('lp') });
    const result = handle.result();
    await new Promise((r) => setTimeout(r, 1500)); // several 200 ms long polls and 500 ms task polls go by
    await handle.signal('unblock', 'stop');
    expect(await result).toEqual(['stop']);
  });

  it('returns events as they arrive to a waitNewEvent reader', { timeout: 150_000 }, async () => {
    const handle = await h.env.plainClient.workflow.start('collectSignals', { taskQueue: h.taskQueue, workflowId: uid('wait') });
    // A reader that wants to follow: the first answer is the history so far and a token to wait on.
    const first = await h.env.connection.workflowService.getWorkflowExecutionHistory({
      namespace: h.env.namespace,
      execution: { workflowId: handle.workflowId },
      waitNewEvent: true,
    });
    const n = first.history?.events?.length ?? 0;
    expect(first.nextPageToken?.length).toBeGreaterThan(0);
    const poll = (nextPageToken: Uint8Array | null | undefined) =>
      h.env.connection.withDeadline(Date.now() + 30_000, () =>
        h.env.connection.workflowService.getWorkflowExecutionHistory({
          namespace: h.env.namespace,
          execution: { workflowId: handle.workflowId },
          waitNewEvent: true,
          nextPageToken,
        }),
      );
    const waiting = poll(first.nextPageToken);
    await handle.signal('unblock', 'stop');
    let next = await waiting;
    // A long poll that ends before anything happened (the server's 20 s; seen on a loaded machine, where the worker
    // held its workflow task and the signal waited behind it) answers an empty page and a token to wait on again.
    for (let polls = 1; (next.history?.events?.length ?? 0) === 0 && polls < 5; polls++) {
      expect(next.nextPageToken?.length).toBeGreaterThan(0);
      next = await poll(next.nextPageToken);
    }
    expect(Number(next.history?.events?.[0]?.eventId)).toBe(n + 1);
    await handle.result();
  });
});
