/**
 * Session actions (protocol.md §26) through the real stack: a client that reinstalled restores its live trades and
 * disputes with the trade index each used (`restore-session`), and fetches its own orders by id (`orders`).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, holdInvoiceOf, openOrder, type Trader } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

/** `seller` opens a sell order on trade key `index`; `buyer` takes it with an invoice and the seller pays. */
async function activeTrade(seller: Trader, index: number, buyer: Trader, amount: number): Promise<string> {
  const id = await openOrder(seller, index, { kind: 'sell', amount, fiatAmount: 5, fiatCode: 'USD' });
  const inv = d.net.createInvoice({ node: 'buyer', valueSats: amount - Math.round((0.006 * amount) / 2), expirySecs: 7200 });
  await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
  d.net.pay('seller', holdInvoiceOf(await seller.next(index, 'pay-invoice')));
  await seller.next(index, 'buyer-took-order');
  return id;
}

describe('restore-session and orders', () => {
  it('returns the identity’s live orders and open disputes with their trade indexes; orders by id', async () => {
    const seller = d.trader('seller-x1');
    const pending = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const active = await activeTrade(seller, 2, d.trader('buyer-x1a'), 4_000);
    const buyerC = d.trader('buyer-x1c');
    const disputed = await activeTrade(seller, 3, buyerC, 5_000);
    await buyerC.send(1, { action: 'dispute', id: disputed, tradeIndex: null });
    const disputeId = ((await buyerC.next(1, 'dispute-initiated-by-you')).payload as { dispute: [string, null] }).dispute[0];
    const canceled = await openOrder(seller, 4, { kind: 'sell', amount: 6_000, fiatAmount: 6, fiatCode: 'USD' });
    await seller.send(4, { action: 'cancel', id: canceled, tradeIndex: null });
    await seller.next(4, 'canceled');
    await d.waitForStatus(disputed, 'dispute');
    // Someone else's order is never returned.
    const other = await openOrder(d.trader('other-x1'), 1, { kind: 'sell', amount: 7_000, fiatAmount: 7, fiatCode: 'USD' });

    // mostro-cli restores with the identity key as both identity and trade key; the answer goes to that key.
    await seller.send(0, { action: 'restore-session', tradeIndex: null, requestId: 77 });
    const restored = await seller.next(0, 'restore-session');
    expect(restored.wrapper).toBe('restore');
    expect(restored.request_id).toBeNull();
    expect(restored.payload).toEqual({
      restore_data: {
        orders: [
          { order_id: pending, trade_index: 1, status: 'pending' },
          { order_id: active, trade_index: 2, status: 'active' },
        ],
        disputes: [{ dispute_id: disputeId, order_id: disputed, trade_index: 3, status: 'initiated', initiator: 'buyer', solver_pubkey: null }],
      },
    });

    const rid = await seller.send(5, { action: 'orders', payload: { ids: [active, other, randomUUID(), pending] }, tradeIndex: null });
    const got = await seller.next(5, 'orders');
    expect(got.request_id).toBe(rid);
    const orders = (got.payload as { orders: Record<string, unknown>[] }).orders;
    expect(orders.map((o) => [o.id, o.status])).toEqual([
      [active, 'active'],
      [pending, 'pending'],
    ]);
    expect(orders[0]).not.toHaveProperty('buyer_invoice');
    expect(orders[0]).toMatchObject({ amount: 4_000, fiat_code: 'USD', seller_trade_pubkey: seller.pubkey(2) });
  });

  it('a buyer whose payout failed every attempt restores its session and is asked again for an invoice', async () => {
    const seller = d.trader('seller-x4');
    const buyer = d.trader('buyer-x4');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 6_000, fiatAmount: 6, fiatCode: 'USD' });
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 6_000 - 18, expirySecs: 7200 });
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    d.net.pay('seller', holdInvoiceOf(await seller.next(1, 'pay-invoice')));
    await buyer.next(1, 'hold-invoice-payment-accepted');
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    d.net.failNextPayment();
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'payment-failed');
    for (let i = 0; i < 2; i++) {
      d.net.failNextPayment();
      await d.env.sleep('1 minute');
    }
    const first = await buyer.next(1, 'add-invoice');

    await buyer.send(0, { action: 'restore-session', tradeIndex: null });
    const restored = await buyer.next(0, 'restore-session');
    expect((restored.payload as { restore_data: { orders: unknown[] } }).restore_data.orders).toEqual([{ order_id: id, trade_index: 1, status: 'settled-hold-invoice' }]);
    const again = await buyer.next(1, 'add-invoice');
    expect(again.json).toBe(first.json);
  });

  it('answers bad orders requests as the reference does', async () => {
    const t = d.trader('asker-x2');
    await t.send(1, { action: 'orders', payload: { ids: [] }, tradeIndex: null });
    expect(await t.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_parameters' } });
    await t.send(1, { action: 'orders', payload: { ids: Array.from({ length: 11 }, () => randomUUID()) }, tradeIndex: null });
    expect(await t.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'too_many_requests' } });
    await t.send(1, { action: 'orders', payload: { ids: [randomUUID()] }, tradeIndex: null });
    expect(await t.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_found' } });
  });
});

describe('trade-pubkey', () => {
  it('the maker moves a pending order to another trade key of the same identity; nobody else can; not once taken', async () => {
    const maker = d.trader('maker-x3');
    const id = await openOrder(maker, 1, { kind: 'sell', amount: 3_500, fiatAmount: 3, fiatCode: 'USD' });
    const rid = await maker.send(5, { action: 'trade-pubkey', id, tradeIndex: null });
    expect((await maker.next(5, 'trade-pubkey')).json).toBe(`{"order":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"trade-pubkey","payload":null}}`);
    expect(await d.order(id)).toMatchObject({ sellerPubkey: maker.pubkey(5), creatorPubkey: maker.pubkey(5) });

    // Someone else's identity: nothing happens, no answer.
    const mallory = d.trader('mallory-x3');
    await mallory.send(1, { action: 'trade-pubkey', id, tradeIndex: null });
    await new Promise((r) => setTimeout(r, 600));
    expect(mallory.unread(1)).toEqual([]);
    expect((await d.order(id))?.sellerPubkey).toBe(maker.pubkey(5));

    // The maker now acts from the new key: a buyer takes the order and the maker hears it there.
    const buyer = d.trader('buyer-x3');
    await buyer.send(1, { action: 'take-sell', id });
    await buyer.next(1, 'add-invoice');
    await maker.next(5, 'waiting-buyer-invoice');
    await maker.send(6, { action: 'trade-pubkey', id, tradeIndex: null });
    expect(await maker.next(6, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_order_status' } });
  });
});
