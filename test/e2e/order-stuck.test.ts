/**
 * Activities failing for good, injected (a broken database or price source cannot be produced on demand here): a
 * permanent failure must not fail the trade — the order workflow fails its workflow task instead, so the trade stays
 * open (visible in the Web UI, retried) until an operator deploys a fix — and a price source that keeps failing is
 * "no price": no order, no reply, as the reference does.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { message, serializeMessage } from '@mostro/protocol';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, type NewOrderInput } from '../../src/workflows/order/contract.js';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { TEST_ORDER_SETTINGS } from '../helpers/orders.js';
import { createTemporalTestEnv, uid, type TemporalTestEnv } from '../helpers/temporal.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/shared/search-attributes.js';

let env: TemporalTestEnv;
beforeAll(async () => {
  env = await createTemporalTestEnv({ searchAttributes: ORDER_SEARCH_ATTRIBUTES });
});
afterAll(async () => {
  await env?.teardown();
});

function newOrderInput(orderId: string, amount: number): NewOrderInput {
  const messageJson = serializeMessage(
    message({
      action: 'new-order',
      request_id: 1,
      trade_index: 1,
      payload: { order: { kind: 'sell', status: 'pending', amount, fiat_code: 'USD', fiat_amount: 5, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null } },
    }),
  );
  return {
    orderId,
    message: { eventId: orderId.replace(/-/g, '').padEnd(64, '0'), action: 'new-order', messageJson, sender: 'a'.repeat(64), identity: 'b'.repeat(64), createdAt: 0, transport: 'nip44' },
  };
}

it('an activity failing for good leaves the order workflow running with a failed workflow task, not failed', async () => {
  let projections = 0;
  const taskQueue = uid('stuck');
  const worker = await env.worker({
    taskQueue,
    workflowsPath: ORDER_WORKFLOWS_PATH,
    activities: {
      orderSettings: async () => TEST_ORDER_SETTINGS,
      // The decision's commit writes the projection first: the database is broken for good.
      commitDecision: async () => {
        projections++;
        throw ApplicationFailure.nonRetryable('relation "orders" does not exist', 'DatabaseBroken');
      },
    },
  });
  await worker.runUntil(async () => {
    const orderId = '0e2a6a1c-5a40-4d0e-9f5a-7c4c2b1d9e01';
    const input = newOrderInput(orderId, 5000);
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

it('a market-price order whose price source keeps failing ends without an order or a reply', async () => {
  const calls: string[] = [];
  const taskQueue = uid('noprice');
  const worker = await env.worker({
    taskQueue,
    workflowsPath: ORDER_WORKFLOWS_PATH,
    activities: {
      orderSettings: async () => TEST_ORDER_SETTINGS,
      getMarketPrice: async () => {
        calls.push('getMarketPrice');
        throw new Error('price API unreachable');
      },
      commitDecision: async () => void calls.push('commitDecision'),
      sendReplies: async () => void calls.push('sendReplies'),
    },
  });
  await worker.runUntil(async () => {
    const orderId = '0e2a6a1c-5a40-4d0e-9f5a-7c4c2b1d9e02';
    const result = await env.client.workflow.execute(ORDER_WORKFLOW_TYPE, { taskQueue, workflowId: orderWorkflowId(orderId), args: [newOrderInput(orderId, 0)] });
    expect(result).toEqual({ orderId, status: null });
    expect(calls).toEqual(['getMarketPrice', 'getMarketPrice', 'getMarketPrice']);
  });
});
