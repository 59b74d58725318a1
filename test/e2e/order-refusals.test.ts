/**
 * Issue 14, item 5: a storm of well-formed but bogus orders must not start a workflow each. A `new-order` its own
 * fields condemn is answered by the ingress — byte for byte as the order workflow answers one it refuses: the
 * request's request_id and no order id (issue 17: the reference echoes the request's id, and a new order has none;
 * a freshly minted id told the client of an order that never existed) — and no workflow exists for it; an order the workflow must look at first (a buyer
 * invoice to validate) still goes to it and gets the same form of answer.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderIdForEvent } from '../../src/ingress/router.js';
import { TestDaemon, newOrderPayload } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

const refusal = (rid: number, reason: string) => `{"cant-do":{"version":2,"request_id":${rid},"trade_index":null,"action":"cant-do","payload":{"cant_do":"${reason}"}}}`;

async function workflowExists(orderId: string): Promise<boolean> {
  try {
    await d.env.client.workflow.getHandle(`order-${orderId}`).describe();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

describe('a new-order refused for its own fields', () => {
  it('is answered by the ingress as the workflow would answer it, without a workflow', async () => {
    const maker = d.trader('bogus-maker');
    const cases: [Parameters<typeof newOrderPayload>[0], string][] = [
      [{ kind: 'sell', amount: 5_000, fiatAmount: 0, fiatCode: 'USD' }, 'invalid_amount'],
      [{ kind: 'sell', amount: 10, fiatAmount: 5, fiatCode: 'USD' }, 'out_of_range_sats_amount'],
      [{ kind: 'sell', amount: 5_000, fiatAmount: 5, premium: 3, fiatCode: 'USD' }, 'invalid_parameters'],
    ];
    let index = 1;
    for (const [order, reason] of cases) {
      const rid = await maker.send(index, { action: 'new-order', payload: newOrderPayload(order) });
      const answer = await maker.next(index);
      expect(answer.json).toBe(refusal(rid, reason));
      expect(await workflowExists(orderIdForEvent(maker.lastEventId))).toBe(false);
      index++;
    }

    // A buy order with a buyer invoice: the workflow validates the invoice first, then refuses it the same way.
    const invoice = d.net.createInvoice({ node: 'buyer', valueSats: 5_000, expirySecs: 7200 });
    const rid = await maker.send(index, { action: 'new-order', payload: newOrderPayload({ kind: 'buy', amount: 5_000, fiatAmount: 0, fiatCode: 'USD', buyerInvoice: invoice.request }) });
    const answer = await maker.next(index);
    expect(answer.json).toBe(refusal(rid, 'invalid_amount'));
    expect(await workflowExists(orderIdForEvent(maker.lastEventId))).toBe(true);
  });
});

describe('actions only the daemon sends', () => {
  it('pay-invoice from a client is answered invalid_action, echoing its id; the others are ignored, as by the reference', async () => {
    const client = d.trader('confused-client');
    const id = '3f0b3ae2-8e9c-4d5b-9a55-0c1c2ad3e4f5';
    const invoice = d.net.createInvoice({ node: 'buyer', valueSats: 1_000, expirySecs: 7200 });
    // Ignored (no answer): the answer read next is the one to the pay-invoice sent after it.
    await client.send(1, { action: 'fiat-sent-ok', id, tradeIndex: null });
    const rid = await client.send(1, { action: 'pay-invoice', id, tradeIndex: null, payload: { payment_request: [null, invoice.request, null] } });
    expect((await client.next(1)).json).toBe(
      `{"cant-do":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"cant-do","payload":{"cant_do":"invalid_action"}}}`,
    );
    expect(client.unread(1)).toEqual([]);
  });
});
