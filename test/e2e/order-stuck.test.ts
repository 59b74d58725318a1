/**
 * A permanently failing activity must not fail the trade: the order workflow fails its workflow task instead, so the
 * trade stays open (visible in the Web UI, retried) until an operator deploys a fix.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { message, serializeMessage } from '../../src/protocol/index.js';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, type NewOrderInput } from '../../src/workflows/order/contract.js';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { TEST_ORDER_SETTINGS } from '../helpers/orders.js';
import { createTemporalTestEnv, uid, type TemporalTestEnv } from '../helpers/temporal.js';

let env: TemporalTestEnv;
beforeAll(async () => {
  env = await createTemporalTestEnv();
});
afterAll(async () => {
  await env?.teardown();
});

it('an activity failing for good leaves the order workflow running with a failed workflow task, not failed', async () => {
  let projections = 0;
  const taskQueue = uid('stuck');
  const worker = await env.worker({
    taskQueue,
    workflowsPath: ORDER_WORKFLOWS_PATH,
    activities: {
      orderSettings: async () => TEST_ORDER_SETTINGS,
      projectOrder: async () => {
        projections++;
        throw ApplicationFailure.nonRetryable('relation "orders" does not exist', 'DatabaseBroken');
      },
    },
  });
  await worker.runUntil(async () => {
    const orderId = '0e2a6a1c-5a40-4d0e-9f5a-7c4c2b1d9e01';
    const messageJson = serializeMessage(
      message({
        action: 'new-order',
        request_id: 1,
        trade_index: 1,
        payload: { order: { kind: 'sell', status: 'pending', amount: 5000, fiat_code: 'USD', fiat_amount: 5, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null } },
      }),
    );
    const input: NewOrderInput = {
      orderId,
      message: { eventId: 'e'.repeat(64), action: 'new-order', messageJson, sender: 'a'.repeat(64), identity: 'b'.repeat(64), createdAt: 0, transport: 'nip44' },
    };
    const handle = await env.client.workflow.start(ORDER_WORKFLOW_TYPE, { taskQueue, workflowId: orderWorkflowId(orderId), args: [input] });
    const deadline = Date.now() + 15_000;
    let failedTasks = 0;
    while (failedTasks === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const h = await handle.fetchHistory();
      failedTasks = (h.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes).length;
    }
    expect(failedTasks).toBeGreaterThan(0);
    expect(projections).toBe(1); // not retried: the failure is permanent
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await handle.terminate('test done');
  });
});
