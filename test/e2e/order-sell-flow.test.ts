/**
 * A whole sell trade through the real stack (relay, ingress, Temporal, worker, simulated LND, PostgreSQL), the
 * parties being mostro-cli-like clients sending real signed Nostr messages: every reply each party receives, in
 * order and byte for byte where the reference fixes the bytes, the escrow locked and settled, the buyer paid once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, type Trader } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

const newSellOrder = (fiatAmount: number, amount = 0, premium = 0) => ({
  order: {
    kind: 'sell' as const,
    status: 'pending' as const,
    amount,
    fiat_code: 'VES',
    min_amount: null,
    max_amount: null,
    fiat_amount: fiatAmount,
    payment_method: 'face to face,bank transfer',
    premium,
    created_at: 0,
    expires_at: null,
  },
});

async function openSellOrder(seller: Trader, index: number, fiat = 100, amount = 0, premium = 1) {
  const rid = await seller.send(index, { action: 'new-order', payload: newSellOrder(fiat, amount, premium) });
  const ack = await seller.next(index);
  expect(ack).toMatchObject({ action: 'new-order', request_id: rid, trade_index: index });
  return ack.id!;
}

describe('sell order, taken without an invoice, market price with premium', () => {
  it('runs new-order → take-sell → add-invoice → pay → fiat-sent → release → payout, each party hearing the right things', async () => {
    const seller = d.trader('seller');
    const buyer = d.trader('buyer');

    // 1. new-order: ack with the public order; the order book shows it pending.
    const rid1 = await seller.send(1, { action: 'new-order', payload: newSellOrder(100, 0, 1) });
    const ack = await seller.next(1);
    const id = ack.id!;
    const o = (ack.payload as { order: Record<string, unknown> }).order;
    expect(ack.json).toBe(
      `{"order":{"version":2,"request_id":${rid1},"trade_index":1,"id":"${id}","action":"new-order","payload":{"order":{"id":"${id}","kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face,bank transfer","premium":1,"created_at":${String(o.created_at)},"expires_at":${Number(o.created_at) + 86400}}}}}`,
    );
    const book = await d.orderEvent(id);
    expect(book).toMatchObject({ s: ['pending'], k: ['sell'], f: ['VES'], amt: ['0'], fa: ['100'], pm: ['face to face', 'bank transfer'], premium: ['1'] });

    // 2. take-sell: 100 VES at 3,600,000 VES/BTC minus 1 % = 2,750 sats; fee 8 a side.
    const rid2 = await buyer.send(1, { action: 'take-sell', id });
    const addInv = await buyer.next(1);
    expect(addInv.json).toBe(
      `{"order":{"version":2,"request_id":${rid2},"trade_index":1,"id":"${id}","action":"add-invoice","payload":{"order":{"id":"${id}","kind":"sell","status":"waiting-buyer-invoice","amount":2742,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face,bank transfer","premium":1,"created_at":${String(o.created_at)},"expires_at":null}}}}`,
    );
    expect(await seller.next(1)).toMatchObject({ action: 'waiting-buyer-invoice', request_id: rid2, trade_index: 1, payload: null });
    expect((await d.orderEvent(id))?.s).toEqual(['in-progress']);

    // 3. add-invoice: the seller sees the taker's reputation, then the hold invoice for amount + fee.
    const buyerInvoice = d.net.createInvoice({ node: 'buyer', valueSats: 2742, expirySecs: 7200 });
    const rid3 = await buyer.send(1, { action: 'add-invoice', id, payload: { payment_request: [null, buyerInvoice.request, null] }, tradeIndex: null });
    const notice = await seller.next(1);
    expect(notice.json).toBe(
      `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${id}","action":"pay-invoice","payload":{"peer":{"pubkey":"","reputation":{"rating":0.0,"reviews":0,"operating_days":0}}}}}`,
    );
    const payInv = await seller.next(1);
    expect(payInv).toMatchObject({ action: 'pay-invoice', request_id: rid3, trade_index: 1 });
    const [shown, bolt11, none] = (payInv.payload as { payment_request: [Record<string, unknown>, string, null] }).payment_request;
    expect(shown).toMatchObject({ id, status: 'waiting-payment', amount: 2758 });
    expect(shown).not.toHaveProperty('buyer_invoice');
    expect(none).toBeNull();
    expect(await buyer.next(1)).toMatchObject({ action: 'waiting-seller-to-pay', request_id: rid3, trade_index: 1 });
    const hold = [...d.net.invoices.values()].find((i) => i.request === bolt11)!;
    expect(hold).toMatchObject({ hold: true, valueSats: 2758, node: 'mostro', cltvDelta: 144 });
    expect(hold.memo).toBe(
      `Escrow amount Order #${id}: SELL BTC for VES 100 - It WILL FREEZE IN WALLET. It will release once you release. It will return if buyer does not confirm the payment`,
    );

    // 4. The seller pays: the escrow is ACCEPTED and both are told, with the add-invoice request id.
    d.net.pay('seller', bolt11);
    const took = await seller.next(1);
    expect(took).toMatchObject({ action: 'buyer-took-order', request_id: rid3, trade_index: null });
    expect((took.payload as { order: Record<string, unknown> }).order).toMatchObject({
      status: 'active',
      amount: 2758,
      buyer_trade_pubkey: buyer.pubkey(1),
      seller_trade_pubkey: seller.pubkey(1),
    });
    const accepted = await buyer.next(1);
    expect(accepted).toMatchObject({ action: 'hold-invoice-payment-accepted', request_id: rid3 });
    expect((accepted.payload as { order: Record<string, unknown> }).order).toMatchObject({ status: 'active', amount: 2742 });

    // 5. fiat-sent.
    const rid5 = await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    expect((await seller.next(1)).json).toBe(
      `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${id}","action":"fiat-sent-ok","payload":{"peer":{"pubkey":"${buyer.pubkey(1)}","reputation":null}}}}`,
    );
    expect(await buyer.next(1)).toMatchObject({ action: 'fiat-sent-ok', request_id: rid5, payload: { peer: { pubkey: seller.pubkey(1), reputation: null } } });

    // 6. release: settle, then the buyer is paid amount − fee exactly once.
    const rid6 = await seller.send(1, { action: 'release', id, tradeIndex: null });
    expect(await buyer.next(1)).toMatchObject({ action: 'released', request_id: null, payload: null });
    expect(await seller.next(1)).toMatchObject({ action: 'hold-invoice-payment-settled', request_id: rid6 });
    expect(await seller.next(1)).toMatchObject({ action: 'rate', request_id: null });
    expect(await buyer.next(1)).toMatchObject({ action: 'purchase-completed', request_id: null });
    expect(await buyer.next(1)).toMatchObject({ action: 'rate', request_id: rid6 });

    expect(d.net.invoices.get(hold.hash)!.state).toBe('SETTLED');
    expect(d.net.invoices.get(buyerInvoice.hash)!.state).toBe('SETTLED');
    const payouts = [...d.net.payments.values()].filter((p) => p.hash === buyerInvoice.hash);
    expect(payouts).toHaveLength(1);
    expect(payouts[0]).toMatchObject({ from: 'mostro', valueSats: 2742, status: 'SUCCEEDED', attempts: 1 });

    const row = await d.db.prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'success', amount: 2750n, fee: 8n, devFee: 5n, payoutPaymentHash: buyerInvoice.hash, masterBuyerPubkey: buyer.identity, masterSellerPubkey: seller.identity });
    expect((await d.orderEvent(id))?.s).toEqual(['success']);
    // The accepted trade indexes are recorded for both identities.
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: seller.identity } })).lastTradeIndex).toBe(1n);
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: buyer.identity } })).lastTradeIndex).toBe(1n);
    expect(seller.unread(1)).toEqual([]);
    expect(buyer.unread(1)).toEqual([]);
  });
});

describe('cant-do answers', () => {
  it('refuses the maker taking its own order, a wrong kind, and a message to an unknown order', async () => {
    const seller = d.trader('seller-2');
    const id = await openSellOrder(seller, 1);
    const rid = await seller.send(1, { action: 'take-sell', id, tradeIndex: 2 });
    expect((await seller.next(1)).json).toBe(
      `{"cant-do":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"cant-do","payload":{"cant_do":"invalid_pubkey"}}}`,
    );
    const other = d.trader('buyer-2');
    await other.send(1, { action: 'take-buy', id });
    expect(await other.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'invalid_order_kind' } });
    await other.send(2, { action: 'take-sell', id: '00000000-0000-4000-8000-000000000000' });
    expect(await other.next(2)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'not_found' } });
  });
});
