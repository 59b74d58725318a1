/**
 * Disputes opened by a party (protocol.md §24.1) through the real stack: who may open one and when, the messages to
 * both parties (request id echoed, the dispute id), the dispute record and its kind-38386 event, and how a dispute
 * ends without a solver: the seller's release (settled) or a cooperative cancel (seller refunded).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NostrEvent } from '@mostro/protocol';
import { TestDaemon, fiatSentTrade, lockedSellTrade, openOrder } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

async function disputeEvents(disputeId: string): Promise<NostrEvent[]> {
  const got: NostrEvent[] = [];
  const sub = d.clientPool.subscribe({ filters: () => [{ kinds: [38386], '#d': [disputeId] }], onEvent: (ev) => void got.push(ev as NostrEvent) });
  await new Promise((r) => setTimeout(r, 300));
  sub.close();
  return got;
}

describe('a party opens a dispute', () => {
  it('the seller disputes an active trade: both told with the dispute id, record and event; the release settles it', async () => {
    const seller = d.trader('seller-d1');
    const buyer = d.trader('buyer-d1');
    const stranger = d.trader('stranger-d1');
    const { id, invoice } = await lockedSellTrade(d, seller, buyer, 7_000);
    await buyer.next(1, 'hold-invoice-payment-accepted');

    // Someone outside the trade cannot.
    await stranger.send(1, { action: 'dispute', id, tradeIndex: null });
    expect(await stranger.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'invalid_pubkey' } });

    const bookBefore = await d.orderEvent(id);
    const rid = await seller.send(1, { action: 'dispute', id, tradeIndex: null });
    const byYou = await seller.next(1, 'dispute-initiated-by-you');
    const disputeId = (byYou.payload as { dispute: [string, null] }).dispute[0];
    expect(disputeId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(byYou.json).toBe(
      `{"order":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"dispute-initiated-by-you","payload":{"dispute":["${disputeId}",null]}}}`,
    );
    const byPeer = await buyer.next(1, 'dispute-initiated-by-peer');
    expect(byPeer.json).toBe(
      `{"order":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"dispute-initiated-by-peer","payload":{"dispute":["${disputeId}",null]}}}`,
    );
    expect(await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).toMatchObject({ orderId: id, status: 'initiated', orderPreviousStatus: 'active' });
    expect(await d.waitForStatus(id, 'dispute')).toMatchObject({ sellerDispute: true, buyerDispute: false });
    const [initiated] = await disputeEvents(disputeId);
    expect(Object.fromEntries(initiated!.tags.map(([k, ...v]) => [k, v]))).toMatchObject({ s: ['initiated'], initiator: ['seller'], z: ['dispute'] });
    // A dispute is not an order-book status (NIP-69): no new order event.
    expect(await d.orderEvent(id)).toEqual(bookBefore);

    // The other side cannot open a second one; the initiator cannot either.
    await buyer.send(1, { action: 'dispute', id, tradeIndex: null });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });

    // The seller changes their mind and releases: the dispute is settled and the buyer paid.
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect((await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).status).toBe('settled');
    const [settled] = await disputeEvents(disputeId);
    expect(settled!.tags).toContainEqual(['s', 'settled']);
  });

  it('the buyer disputes after fiat-sent; a cooperative cancel refunds the seller and closes it', async () => {
    const seller = d.trader('seller-d2');
    const buyer = d.trader('buyer-d2');
    const { id, holdRequest } = await fiatSentTrade(d, seller, buyer, 6_000);
    await buyer.send(1, { action: 'dispute', id, tradeIndex: null });
    const disputeId = ((await buyer.next(1, 'dispute-initiated-by-you')).payload as { dispute: [string, null] }).dispute[0];
    await seller.next(1, 'dispute-initiated-by-peer');
    expect(await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).toMatchObject({ status: 'initiated', orderPreviousStatus: 'fiat-sent' });

    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    await seller.next(1, 'cooperative-cancel-initiated-by-you');
    await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    await buyer.next(1, 'cooperative-cancel-accepted');
    await d.waitForStatus(id, 'cooperatively-canceled');
    const hold = [...d.net.invoices.values()].find((i) => i.request === holdRequest)!;
    expect(hold.state).toBe('CANCELED');
    expect((await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).status).toBe('seller-refunded');
  });

  it('not before the escrow is locked', async () => {
    const seller = d.trader('seller-d3');
    const buyer = d.trader('buyer-d3');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 4_000, fiatAmount: 4, fiatCode: 'USD' });
    await seller.send(1, { action: 'dispute', id, tradeIndex: null });
    expect(await seller.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });
    await buyer.send(1, { action: 'take-sell', id });
    await buyer.next(1, 'add-invoice');
    await buyer.send(1, { action: 'dispute', id, tradeIndex: null });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });
  });

  it('LND canceling the escrow during a dispute ends it: the seller has the sats back, both are told', async () => {
    const seller = d.trader('seller-d4');
    const buyer = d.trader('buyer-d4');
    const { id, holdPayment } = await lockedSellTrade(d, seller, buyer, 4_500);
    await buyer.send(1, { action: 'dispute', id, tradeIndex: null });
    const disputeId = ((await buyer.next(1, 'dispute-initiated-by-you')).payload as { dispute: [string, null] }).dispute[0];
    d.net.cancelInvoice(holdPayment.hash); // the HTLC reached its CLTV horizon while nobody resolved the dispute
    expect(await seller.next(1, 'hold-invoice-payment-canceled')).toMatchObject({ id });
    expect(await buyer.next(1, 'hold-invoice-payment-canceled')).toMatchObject({ id });
    await d.waitForStatus(id, 'canceled');
    expect((await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).status).toBe('seller-refunded');
  });
});
