/**
 * Issue 14, item 5: a storm of well-formed but bogus orders must not start a workflow each. A `new-order` its own
 * fields condemn is answered by the ingress — byte for byte as the order workflow answers one it refuses, with the
 * id the order would have had — and no workflow exists for it; an order the workflow must look at first (a buyer
 * invoice to validate) still goes to it and gets the same form of answer.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, newOrderPayload } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';
const refusal = (rid: number, reason: string) =>
  new RegExp(`^\\{"cant-do":\\{"version":2,"request_id":${rid},"trade_index":null,"id":"(${UUID})","action":"cant-do","payload":\\{"cant_do":"${reason}"\\}\\}\\}$`);

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
      const m = refusal(rid, reason).exec(answer.json);
      expect(m, answer.json).not.toBeNull();
      expect(await workflowExists(m![1]!)).toBe(false);
      index++;
    }

    // A buy order with a buyer invoice: the workflow validates the invoice first, then refuses it the same way.
    const invoice = d.net.createInvoice({ node: 'buyer', valueSats: 5_000, expirySecs: 7200 });
    const rid = await maker.send(index, { action: 'new-order', payload: newOrderPayload({ kind: 'buy', amount: 5_000, fiatAmount: 0, fiatCode: 'USD', buyerInvoice: invoice.request }) });
    const answer = await maker.next(index);
    const m = refusal(rid, 'invalid_amount').exec(answer.json);
    expect(m, answer.json).not.toBeNull();
    expect(await workflowExists(m![1]!)).toBe(true);
  });
});
