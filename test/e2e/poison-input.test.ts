/**
 * Poison input (issue 14, item 3): text the database cannot store, a next trade key that is not a key, and a
 * database that refuses a decision — for good, or again and again. Each is refused (or repaired) and the trade stays
 * able to move; nothing retries forever. The database failures are real: PostgreSQL triggers on the test database
 * raise the errors a broken row or a struggling server would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, serializeMessage } from '@mostro/protocol';
import { sendSupportRequest } from '../../src/admin/support.js';
import { messageOutcomeQuery, orderSignals, orderWorkflowId } from '../../src/workflows/order/contract.js';
import { TestDaemon, fiatSentTrade, invoiceState, lockedSellTrade, newOrderPayload, openOrder, waitFor } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

const KEY = (c: string) => c.repeat(64);

/** A trigger on `orders` that raises `sqlstate` whenever `condition` holds for the row being written. */
async function failOrdersWhen(name: string, condition: string, sqlstate: string): Promise<() => Promise<void>> {
  await d.db.prisma.$executeRawUnsafe(
    `CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF ${condition} THEN RAISE EXCEPTION 'refused by test' USING ERRCODE = '${sqlstate}'; END IF; RETURN NEW; END $$`,
  );
  await d.db.prisma.$executeRawUnsafe(`CREATE TRIGGER ${name} BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION ${name}()`);
  return async () => {
    await d.db.prisma.$executeRawUnsafe(`DROP TRIGGER ${name} ON orders`);
    await d.db.prisma.$executeRawUnsafe(`DROP FUNCTION ${name}()`);
  };
}

describe('text the database cannot store', () => {
  it('a new-order with a NUL in its payment method is refused with invalid_payload; the maker can still trade', async () => {
    const maker = d.trader('maker-p1');
    const order = newOrderPayload({ kind: 'sell', amount: 5_000, fiatAmount: 5, fiatCode: 'USD' });
    const rid = await maker.send(1, { action: 'new-order', payload: { order: { ...order.order, payment_method: 'cash\u0000bank' } } });
    expect(await maker.next(1)).toMatchObject({ action: 'cant-do', request_id: rid, payload: { cant_do: 'invalid_payload' } });
    expect(await openOrder(maker, 3, { kind: 'sell', amount: 5_000, fiatAmount: 5, fiatCode: 'USD' })).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a buyer's fiat-sent with a NUL or a non-key as next trade key is refused; the trade still completes", async () => {
    const seller = d.trader('seller-p2');
    const buyer = d.trader('buyer-p2');
    const { id, invoice } = await lockedSellTrade(d, seller, buyer, 6_000);
    const nul = await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null, payload: { next_trade: [`${KEY('a').slice(1)}\u0000`, 2] } });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ request_id: nul, payload: { cant_do: 'invalid_payload' } });
    const junk = await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null, payload: { next_trade: ['not a key', 2] } });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ request_id: junk, payload: { cant_do: 'invalid_payload' } });
    expect((await d.order(id))?.status).toBe('active');
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });
});

describe('text the database cannot store, in messages the ingress answers itself', () => {
  it('an admin-add-solver naming a key with a NUL in it is refused with invalid_payload', async () => {
    const admin = d.admin('admin-p8');
    const rid = await admin.send(1, { action: 'admin-add-solver', id: '4a1c9f5e-2b7d-4c3a-9e8f-1d2c3b4a5f60', payload: { text_message: `npub1\u0000${'q'.repeat(58)}` }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ request_id: rid, payload: { cant_do: 'invalid_payload' } });
  });

  it("an add-bond-invoice with a NUL in its invoice is refused with invalid_payload (it is the bond payout's, not an order's)", async () => {
    const winner = d.trader('winner-p9');
    const rid = await winner.send(1, { action: 'add-bond-invoice', id: '7c0e4b1a-3f2d-4e5c-8a9b-0d1e2f3a4b5c', payload: { payment_request: [null, 'lnbcrt1\u0000x', null] }, tradeIndex: null });
    expect(await winner.next(1, 'cant-do')).toMatchObject({ request_id: rid, payload: { cant_do: 'invalid_payload' } });
  });
});

describe('a signal ingresses sent orders before bond payouts had their own workflow', () => {
  it('an order workflow still answers add-bond-invoice with invalid_action (histories that hold one replay)', async () => {
    const maker = d.trader('maker-p10');
    const id = await openOrder(maker, 1, { kind: 'sell', amount: 5_000, fiatAmount: 5, fiatCode: 'USD' });
    const eventId = 'e'.repeat(64);
    const messageJson = serializeMessage(message({ action: 'add-bond-invoice', id, request_id: 77, payload: { payment_request: [null, 'lnbcrt1x', null] } }));
    const order = d.env.client.workflow.getHandle(orderWorkflowId(id));
    const now = Math.floor(Date.now() / 1000);
    await order.signal(orderSignals['add-bond-invoice'], { eventId, action: 'add-bond-invoice', messageJson, sender: maker.pubkey(1), identity: maker.identity, createdAt: now, transport: d.transport });
    expect(await maker.next(1, 'cant-do')).toMatchObject({ request_id: 77, payload: { cant_do: 'invalid_action' } });
    // The outcome is recorded once the step ends, a workflow task after the reply went out.
    await waitFor('the outcome recorded', async () => (await order.query(messageOutcomeQuery, eventId)) !== null);
    expect(await order.query(messageOutcomeQuery, eventId)).toBe('invalid_action');
    expect((await d.order(id))?.status).toBe('pending');
  });
});

describe('a database that refuses a decision for good', () => {
  it('refuses the message that caused it (invalid_payload) and leaves the trade where it was', async () => {
    const next = KEY('e');
    const restore = await failOrdersWhen('refuse_next_key', `NEW.next_trade_pubkey = '${next}'`, '23514');
    try {
      const seller = d.trader('seller-p3');
      const buyer = d.trader('buyer-p3');
      const { id, invoice } = await lockedSellTrade(d, seller, buyer, 7_000);
      const rid = await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null, payload: { next_trade: [next, 2] } });
      expect(await buyer.next(1, 'cant-do')).toMatchObject({ request_id: rid, payload: { cant_do: 'invalid_payload' } });
      expect(await d.order(id)).toMatchObject({ status: 'active', nextTradePubkey: null });
      // The trade moves on: fiat-sent without the refused key, release, payout.
      await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
      await seller.next(1, 'fiat-sent-ok');
      await seller.send(1, { action: 'release', id, tradeIndex: null });
      await buyer.next(1, 'purchase-completed');
      expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    } finally {
      await restore();
    }
  });

  it('a new-order it refuses is answered with invalid_payload, and no order is left behind', async () => {
    const restore = await failOrdersWhen('refuse_method', `NEW.payment_method = 'poison'`, '22001');
    try {
      const maker = d.trader('maker-p4');
      const order = newOrderPayload({ kind: 'sell', amount: 5_000, fiatAmount: 5, fiatCode: 'USD' });
      const rid = await maker.send(1, { action: 'new-order', payload: { order: { ...order.order, payment_method: 'poison' } } });
      expect(await maker.next(1)).toMatchObject({ action: 'cant-do', request_id: rid, payload: { cant_do: 'invalid_payload' } });
      expect(await d.db.prisma.order.count({ where: { paymentMethod: 'poison' } })).toBe(0);
    } finally {
      await restore();
    }
  });
});

describe('a support repair on a trade whose step keeps failing', () => {
  it('cancel-with-refund interrupts the stuck step, refunds the seller and tells both parties', async () => {
    const seller = d.trader('seller-p5');
    const buyer = d.trader('buyer-p5');
    const { id, holdRequest } = await lockedSellTrade(d, seller, buyer, 9_000);
    // Every write of this order in fiat-sent fails with a serialization failure: retryable, and retried forever.
    const restore = await failOrdersWhen('stall_fiat_sent', `NEW.id = '${id}' AND NEW.status = 'fiat-sent'`, '40001');
    try {
      await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
      await waitFor('the fiat-sent step to be stuck', async () => (await d.order(id))?.status === 'fiat-sent');
      const r = await sendSupportRequest(d.env.client, id, { action: 'cancel-with-refund', operator: 'test', reason: 'projection keeps failing' });
      expect(r).toEqual({ sent: true });
      await seller.next(1, 'admin-canceled');
      await buyer.next(1, 'admin-canceled');
      await waitFor('the escrow refunded', () => invoiceState(d, holdRequest) === 'CANCELED');
      await d.waitForStatus(id, 'canceled-by-admin');
      // The buyer never heard fiat-sent-ok: the stuck step was undone, not half-done.
      expect(seller.unread(1).map((m) => m.action)).not.toContain('fiat-sent-ok');
    } finally {
      await restore();
    }
  });
});

describe('the step that moved money cannot be undone', () => {
  it('a release whose projection the database refuses for good still pays the buyer, and flags the trade for support', async () => {
    const seller = d.trader('seller-p6');
    const buyer = d.trader('buyer-p6');
    const { id, invoice } = await fiatSentTrade(d, seller, buyer, 8_000);
    const restore = await failOrdersWhen('refuse_settled', `NEW.id = '${id}' AND NEW.status IN ('settled-hold-invoice', 'success')`, '23514');
    try {
      await seller.send(1, { action: 'release', id, tradeIndex: null });
      await seller.next(1, 'hold-invoice-payment-settled');
      await buyer.next(1, 'purchase-completed');
      expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      const described = await d.env.client.workflow.getHandle(`order-${id}`).describe();
      expect(described.searchAttributes.MostroNeedsAttention).toEqual([true]);
    } finally {
      await restore();
    }
  });

  it('the flag clears once a later state is stored: the orders row has caught up', async () => {
    const seller = d.trader('seller-p7');
    const buyer = d.trader('buyer-p7');
    const { id } = await fiatSentTrade(d, seller, buyer, 8_000);
    const restore = await failOrdersWhen('refuse_settling', `NEW.id = '${id}' AND NEW.status = 'settled-hold-invoice'`, '23514');
    try {
      await seller.send(1, { action: 'release', id, tradeIndex: null });
      await buyer.next(1, 'purchase-completed');
      await waitFor('the orders row caught up', async () => (await d.db.prisma.order.findUnique({ where: { id } }))?.status === 'success');
      // The flag follows in the workflow task that learns the commit landed.
      const flag = async () => (await d.env.client.workflow.getHandle(`order-${id}`).describe()).searchAttributes.MostroNeedsAttention;
      await waitFor('the flag cleared', async () => JSON.stringify(await flag()) === '[false]');
    } finally {
      await restore();
    }
  });
});
