/**
 * Ratings (protocol.md §25) through the real stack: after a successful trade each party rates the other's identity
 * once; the aggregate follows the reference's formula; a kind-38384 event is published; a second vote, a stranger or
 * a wrong status change nothing (or get the reference's answer).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NostrEvent } from '@mostro/protocol';
import { TestDaemon, fiatSentTrade, holdInvoiceOf, lockedSellTrade, openOrder } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

async function ratingEvents(d1: string): Promise<Record<string, string>[]> {
  const got: NostrEvent[] = [];
  const sub = d.clientPool.subscribe({ filters: () => [{ kinds: [38384], '#d': [d1] }], onEvent: (ev) => void got.push(ev as NostrEvent) });
  await new Promise((r) => setTimeout(r, 300));
  sub.close();
  return got.map((e) => Object.fromEntries(e.tags.map(([k, v]) => [k!, v!])));
}

describe('rate-user', () => {
  it('each party rates the other once after success; the aggregates and rating events follow the reference', async () => {
    const seller = d.trader('seller-r1');
    const buyer = d.trader('buyer-r1');
    const stranger = d.trader('stranger-r1');
    const { id } = await lockedSellTrade(d, seller, buyer, 5_000);

    // Not yet: the trade is not done.
    await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: 5 }, tradeIndex: null });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_order_status' } });

    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    await buyer.next(1, 'rate');
    await d.waitForStatus(id, 'success');

    await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: 9 }, tradeIndex: null });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_rating' } });

    const rid = await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: 5 }, tradeIndex: null });
    expect((await buyer.next(1, 'rate-received')).json).toBe(
      `{"order":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"rate-received","payload":{"rating_user":5}}}`,
    );
    // The seller's identity: first vote → total_rating = 5 / 2 (the reference's formula), min = max = last = 5.
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: seller.identity } })).toMatchObject({
      totalReviews: 1,
      totalRating: 2.5,
      minRating: 5,
      maxRating: 5,
      lastRating: 5,
    });
    // The event's d tag is the rater's trade key, as the reference sets it.
    expect(await ratingEvents(buyer.pubkey(1))).toEqual([
      expect.objectContaining({ total_reviews: '1', total_rating: '2.5', last_rating: '5', max_rate: '5', min_rate: '5', z: 'rating', days: '0' }),
    ]);

    // A second vote and a stranger's vote change nothing and get no answer.
    await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: 1 }, tradeIndex: null });
    await stranger.send(1, { action: 'rate-user', id, payload: { rating_user: 1 }, tradeIndex: null });
    await new Promise((r) => setTimeout(r, 800));
    expect(buyer.unread(1).filter((m) => m.action === 'rate-received' || m.action === 'cant-do')).toEqual([]);
    expect(stranger.unread(1)).toEqual([]);
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: seller.identity } })).totalReviews).toBe(1);

    // The seller rates the buyer.
    await seller.send(1, { action: 'rate-user', id, payload: { rating_user: 4 }, tradeIndex: null });
    expect(await seller.next(1, 'rate-received')).toMatchObject({ payload: { rating_user: 4 } });
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: buyer.identity } })).toMatchObject({ totalReviews: 1, totalRating: 2, lastRating: 4 });
    expect(await d.db.prisma.order.findUniqueOrThrow({ where: { id } })).toMatchObject({ buyerSentRate: true, sellerSentRate: true });
  });

  it('a later vote moves the total by (previous last rating − total) / reviews', async () => {
    const seller = d.trader('seller-r2');
    for (const [n, rating] of [[1, 3], [2, 5]] as const) {
      // Each trade on a new trade key of the same seller identity (as a client does).
      const buyer = d.trader(`buyer-r2-${n}`);
      const amount = 4_000 + n;
      const id = await openOrder(seller, n, { kind: 'sell', amount, fiatAmount: 4, fiatCode: 'USD' });
      const inv = d.net.createInvoice({ node: 'buyer', valueSats: amount - Math.round((0.006 * amount) / 2), expirySecs: 7200 });
      await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
      d.net.pay('seller', holdInvoiceOf(await seller.next(n, 'pay-invoice')));
      await seller.next(n, 'buyer-took-order');
      await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
      await seller.next(n, 'fiat-sent-ok');
      await seller.send(n, { action: 'release', id, tradeIndex: null });
      await buyer.next(1, 'purchase-completed');
      await d.waitForStatus(id, 'success');
      await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: rating }, tradeIndex: null });
      await buyer.next(1, 'rate-received');
    }
    // 1st: 3 / 2 = 1.5; 2nd: 1.5 + (3 − 1.5) / 2 = 2.25 (the previous last rating, not the new one).
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: seller.identity } })).toMatchObject({
      totalReviews: 2,
      totalRating: 2.25,
      minRating: 3,
      maxRating: 5,
      lastRating: 5,
    });
  });

  it('a counterparty in full privacy has no reputation: rating it changes nothing and gets no answer', async () => {
    const seller = d.trader('seller-r3');
    const buyer = d.trader('buyer-r3', { fullPrivacy: true });
    const { id } = await fiatSentTrade(d, seller, buyer, 3_000);
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    await d.waitForStatus(id, 'success');
    await seller.send(1, { action: 'rate-user', id, payload: { rating_user: 5 }, tradeIndex: null });
    await new Promise((r) => setTimeout(r, 800));
    expect(seller.unread(1).filter((m) => m.action === 'rate-received')).toEqual([]);
    expect(await d.db.prisma.user.findUnique({ where: { pubkey: buyer.pubkey(1) } })).toBeNull();
    // The full-privacy buyer can still rate the seller's identity.
    await buyer.send(1, { action: 'rate-user', id, payload: { rating_user: 4 }, tradeIndex: null });
    expect(await buyer.next(1, 'rate-received')).toMatchObject({ payload: { rating_user: 4 } });
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: seller.identity } })).totalReviews).toBe(1);
  });
});
