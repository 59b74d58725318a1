/**
 * The order state machine, transition by transition: the state each input leads to, and the replies (byte for byte,
 * in order, to whom) and side effects it asks for — protocol.md §18–§22.
 */
import { describe, expect, it } from 'vitest';
import { addInvoice } from '../../src/workflows/order/actions/add-invoice.js';
import { cancel } from '../../src/workflows/order/actions/cancel.js';
import { childOrder, released } from '../../src/workflows/order/actions/release.js';
import { createOrder } from '../../src/workflows/order/actions/new-order.js';
import { devFeeResult, payoutResult } from '../../src/workflows/order/actions/payout.js';
import { dueWork, timeout } from '../../src/workflows/order/actions/timers.js';
import { fiatSent } from '../../src/workflows/order/actions/fiat-sent.js';
import { holdInvoiceAccepted, holdInvoiceCanceled, holdInvoiceIssued } from '../../src/workflows/order/actions/hold-invoice.js';
import { newTrade, type Clock, type Decision, type Effect, type Trade } from '../../src/workflows/order/model.js';
import { canResolveDispute, canTakeDispute } from '../../src/workflows/order/actions/admin.js';
import { openDispute, canDispute } from '../../src/workflows/order/actions/dispute.js';
import { supportRequest } from '../../src/workflows/order/actions/support.js';
import { take } from '../../src/workflows/order/actions/take.js';
import type { OrderState } from '../../src/domain/order.js';
import { TEST_ORDER_SETTINGS, orderState } from '../helpers/orders.js';
import { type OrderSettings } from '../../src/domain/order-settings.js';

const SETTINGS: OrderSettings = { ...TEST_ORDER_SETTINGS, devFeeLightningAddress: 'dev@127.0.0.1' };
const NOW = 1_700_000_000;
const at = (now: number, settings: Partial<OrderSettings> = {}): Clock => ({ now, settings: { ...SETTINGS, ...settings } });
const C = at(NOW);

const ID = '308e1272-d5f4-47e6-bd97-3504baea9c23';
const SELLER = 'c'.repeat(64);
const SELLER_ID = 'f'.repeat(64);
const BUYER = 'b'.repeat(64);
const BUYER_ID = 'e'.repeat(64);
const STRANGER = 'd'.repeat(64);
const INVOICE = 'lnbcrt99400n1fake';

/** The sends of a decision as `to action payload-json` lines, and the other effects as their type. */
function script(d: Decision): string[] {
  return d.effects.map((e: Effect) => {
    if (e.type !== 'send') return `<${e.type}>`;
    const kind = Object.values(JSON.parse(e.msg.json) as Record<string, { action: string }>)[0]!;
    return `${e.msg.to.slice(0, 1)} ${kind.action}`;
  });
}
const sent = (d: Decision, i: number) => {
  const e = d.effects.filter((x) => x.type === 'send')[i];
  if (!e || e.type !== 'send') throw new Error(`no send #${i}`);
  return e.msg.json;
};

/** A sell order for 100 VES quoted at 10,000 sats (fee 30 a side), taken by the buyer. */
const sellTaken = (o: Partial<OrderState> = {}): Trade => ({
  ...newTrade(
    orderState({
      amount: 10_000,
      fee: 30,
      devFee: 18,
      buyerPubkey: BUYER,
      masterBuyerPubkey: BUYER_ID,
      tradeIndexBuyer: 3,
      sellerPubkey: SELLER,
      masterSellerPubkey: SELLER_ID,
      creatorPubkey: SELLER,
      takenAt: NOW - 10,
      ...o,
    }),
  ),
  escrowSeq: 1,
  triggerRid: '42',
});
const buyTaken = (o: Partial<OrderState> = {}): Trade =>
  sellTaken({ kind: 'buy', creatorPubkey: BUYER, tradeIndexBuyer: 1, tradeIndexSeller: 5, ...o });
const REP = { rating: 4.5, reviews: 7, operating_days: 30 };

describe('new-order', () => {
  it('creates a pending order, publishes it, then acks with the public order (rid and trade index echoed)', () => {
    const d = createOrder(
      {
        orderId: ID,
        order: { kind: 'sell', status: 'pending', amount: 0, fiat_code: 'VES', min_amount: null, max_amount: null, fiat_amount: 100, payment_method: 'face to face', premium: 1, created_at: 0, expires_at: null } as never,
        sender: SELLER,
        identity: SELLER_ID,
        tradeIndex: 1,
        rid: '18446744073709551615',
      },
      C,
    );
    expect(d.trade.order).toMatchObject({ status: 'pending', sellerPubkey: SELLER, masterSellerPubkey: SELLER_ID, tradeIndexSeller: 1, priceFromApi: true, fee: 0, createdAt: NOW, expiresAt: NOW + 24 * 3600 });
    expect(script(d)).toEqual(['<publish>', 'c new-order']);
    expect(sent(d, 0)).toBe(
      `{"order":{"version":2,"request_id":18446744073709551615,"trade_index":1,"id":"${ID}","action":"new-order","payload":{"order":{"id":"${ID}","kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":${NOW},"expires_at":${NOW + 86400}}}}}`,
    );
  });

  it('charges the fee of a fixed-amount order at creation and keeps a buy maker invoice', () => {
    const d = createOrder(
      {
        orderId: ID,
        order: { kind: 'buy', amount: 10_000, fiat_code: 'USD', fiat_amount: 5, min_amount: null, max_amount: null, payment_method: 'cash', premium: 0, expires_at: NOW + 3600, buyer_invoice: 'buyer@example.com' } as never,
        sender: BUYER,
        identity: BUYER,
        tradeIndex: null,
        rid: null,
      },
      C,
    );
    expect(d.trade.order).toMatchObject({ kind: 'buy', fee: 30, buyerPubkey: BUYER, sellerPubkey: null, buyerInvoice: 'buyer@example.com', expiresAt: NOW + 3600 });
    expect(sent(d, 0)).toContain('"buyer_invoice":"buyer@example.com"');
  });
});

describe('take-sell', () => {
  const pending = () => newTrade(orderState({ sellerPubkey: SELLER, creatorPubkey: SELLER, masterSellerPubkey: SELLER_ID }));
  const quote = { fiatAmount: 100, amount: 10_000, fee: 30, devFee: 18 };

  it('without an invoice: waiting-buyer-invoice (published), add-invoice to the buyer (net, no expiry), then the seller is told', () => {
    const d = take(pending(), { action: 'take-sell', sender: BUYER, identity: BUYER_ID, tradeIndex: 3, rid: '7', quote, invoice: null }, C);
    expect(d.trade.order).toMatchObject({ status: 'waiting-buyer-invoice', buyerPubkey: BUYER, masterBuyerPubkey: BUYER_ID, tradeIndexBuyer: 3, amount: 10_000, fee: 30, devFee: 18, takenAt: NOW });
    expect(script(d)).toEqual(['<publish>', 'b add-invoice', 'c waiting-buyer-invoice']);
    expect(sent(d, 0)).toBe(
      `{"order":{"version":2,"request_id":7,"trade_index":3,"id":"${ID}","action":"add-invoice","payload":{"order":{"id":"${ID}","kind":"sell","status":"waiting-buyer-invoice","amount":9970,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":1698870173,"expires_at":null}}}}`,
    );
    expect(sent(d, 1)).toBe(`{"order":{"version":2,"request_id":7,"trade_index":1,"id":"${ID}","action":"waiting-buyer-invoice","payload":null}}`);
  });

  it('with an invoice: asks for the escrow at once and keeps the request id for its messages', () => {
    const d = take(pending(), { action: 'take-sell', sender: BUYER, identity: BUYER_ID, tradeIndex: 3, rid: '7', quote, invoice: INVOICE }, C);
    expect(d.trade.order.buyerInvoice).toBe(INVOICE);
    expect(d.trade.order.status).toBe('pending');
    expect(d.trade).toMatchObject({ triggerRid: '7', escrowSeq: 1 });
    expect(script(d)).toEqual(['<create-hold>']);
  });
});

describe('escrow', () => {
  it('pay-invoice to the seller (gross, invoice stripped) and waiting-seller-to-pay to the buyer; a sell order stays unpublished', () => {
    const t = sellTaken({ buyerInvoice: INVOICE });
    const d = holdInvoiceIssued(t, { hash: 'a'.repeat(64), request: 'lnbcrt100300n1hold' }, C);
    expect(d.trade.order).toMatchObject({ status: 'waiting-payment', hash: 'a'.repeat(64), takenAt: NOW });
    expect(script(d)).toEqual(['c pay-invoice', 'b waiting-seller-to-pay']);
    expect(sent(d, 0)).toBe(
      `{"order":{"version":2,"request_id":42,"trade_index":1,"id":"${ID}","action":"pay-invoice","payload":{"payment_request":[{"id":"${ID}","kind":"sell","status":"waiting-payment","amount":10030,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":1698870173,"expires_at":1698956573},"lnbcrt100300n1hold",null]}}}`,
    );
    expect(sent(d, 1)).toBe(`{"order":{"version":2,"request_id":42,"trade_index":3,"id":"${ID}","action":"waiting-seller-to-pay","payload":null}}`);
  });

  it('a buy order waiting for the seller is published in-progress', () => {
    const d = holdInvoiceIssued(buyTaken(), { hash: 'a'.repeat(64), request: 'lnbc' }, C);
    expect(script(d)).toEqual(['<publish>', 'c pay-invoice', 'b waiting-seller-to-pay']);
  });

  it('accepted with the buyer invoice known: active, buyer-took-order (gross) then hold-invoice-payment-accepted (net)', () => {
    const t = sellTaken({ status: 'waiting-payment', buyerInvoice: INVOICE, hash: 'a'.repeat(64) });
    const d = holdInvoiceAccepted(t, REP, C);
    expect(d.trade.order).toMatchObject({ status: 'active', invoiceHeldAt: NOW });
    expect(script(d)).toEqual(['c buyer-took-order', 'b hold-invoice-payment-accepted']);
    expect(sent(d, 0)).toContain(`"request_id":42,"trade_index":null`);
    expect(sent(d, 0)).toContain(`"amount":10030,`);
    expect(sent(d, 0)).toContain(`"buyer_trade_pubkey":"${BUYER}","seller_trade_pubkey":"${SELLER}"`);
    expect(sent(d, 0)).not.toContain(INVOICE);
    expect(sent(d, 1)).toContain(`"amount":9970,`);
    // A repeated report changes nothing.
    expect(holdInvoiceAccepted(d.trade, REP, at(NOW + 5))).toEqual({ trade: d.trade, effects: [] });
  });

  it('accepted on a buy order without invoice: the buyer gets a full window and the taker-reputation notice', () => {
    const t = buyTaken({ status: 'waiting-payment', hash: 'a'.repeat(64), takenAt: NOW - 800 });
    const d = holdInvoiceAccepted(t, REP, C);
    expect(d.trade.order).toMatchObject({ status: 'waiting-buyer-invoice', invoiceHeldAt: NOW, takenAt: NOW });
    expect(script(d)).toEqual(['b add-invoice', 'c waiting-buyer-invoice', 'b add-invoice']);
    expect(sent(d, 0)).toContain(`"expires_at":1698956573}`);
    expect(sent(d, 2)).toBe(
      `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"add-invoice","payload":{"peer":{"pubkey":"","reputation":{"rating":4.5,"reviews":7,"operating_days":30}}}}}`,
    );
  });

  it('add-invoice on a sell order: the seller sees the taker reputation, then the escrow is created for this request', () => {
    const t = sellTaken({ status: 'waiting-buyer-invoice' });
    const d = addInvoice(t, { sender: BUYER, rid: '9', invoice: INVOICE }, REP, C);
    expect(script(d)).toEqual(['c pay-invoice', '<create-hold>']);
    expect(d.trade).toMatchObject({ triggerRid: '9', escrowSeq: 2 });
    expect(d.trade.order.buyerInvoice).toBe(INVOICE);
  });

  it('add-invoice on a buy order whose escrow is locked: active; the buyer echo keeps the invoice', () => {
    const t = buyTaken({ status: 'waiting-buyer-invoice', invoiceHeldAt: NOW - 100, hash: 'a'.repeat(64) });
    const d = addInvoice(t, { sender: BUYER, rid: '9', invoice: INVOICE }, REP, C);
    expect(d.trade.order.status).toBe('active');
    expect(script(d)).toEqual(['c buyer-took-order', 'b hold-invoice-payment-accepted']);
    expect(sent(d, 0)).toContain('"request_id":null');
    expect(sent(d, 0)).not.toContain(INVOICE);
    expect(sent(d, 1)).toContain('"request_id":9');
    expect(sent(d, 1)).toContain(`"buyer_invoice":"${INVOICE}"`);
  });

  it('LND canceling a locked escrow ends the trade and tells both parties', () => {
    const t = sellTaken({ status: 'active', hash: 'a'.repeat(64), invoiceHeldAt: NOW - 10 });
    const d = holdInvoiceCanceled(t, 'a'.repeat(64), C);
    expect(d.trade.order.status).toBe('canceled');
    expect(script(d)).toEqual(['<publish>', 'c hold-invoice-payment-canceled', 'b hold-invoice-payment-canceled']);
    expect(holdInvoiceCanceled(t, 'b'.repeat(64), C).effects).toEqual([]);
  });
});

describe('fiat-sent and release', () => {
  it('fiat-sent-ok to the seller (buyer key, no rid) and to the buyer (seller key, rid echo)', () => {
    const d = fiatSent(sellTaken({ status: 'active' }), { rid: '11', nextTrade: null }, C);
    expect(d.trade.order.status).toBe('fiat-sent');
    expect(sent(d, 0)).toBe(`{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"fiat-sent-ok","payload":{"peer":{"pubkey":"${BUYER}","reputation":null}}}}`);
    expect(sent(d, 1)).toBe(`{"order":{"version":2,"request_id":11,"trade_index":null,"id":"${ID}","action":"fiat-sent-ok","payload":{"peer":{"pubkey":"${SELLER}","reputation":null}}}}`);
  });

  it('release: released to the buyer, settled + rate to the seller, the payout due now', () => {
    const d = released(sellTaken({ status: 'fiat-sent' }), { rid: '12', nextTrade: null, childId: 'x' }, C);
    expect(d.trade.order.status).toBe('settled-hold-invoice');
    expect(d.trade).toMatchObject({ releaseRid: '12', payoutDueAt: NOW });
    expect(script(d)).toEqual(['b released', 'c hold-invoice-payment-settled', 'c rate']);
    expect(sent(d, 1)).toContain('"request_id":12');
    expect(dueWork(d.trade, SETTINGS, NOW)).toBe('payout');
  });

  it('a range sell order releases with the next trade key: the remainder opens as a child under that key', () => {
    const CHILD = '11111111-2222-4333-8444-555555555555';
    const t = sellTaken({ status: 'fiat-sent', minAmount: 10, maxAmount: 100, fiatAmount: 30 });
    const d = released(t, { rid: '12', nextTrade: { pubkey: 'a'.repeat(64), index: 4 }, childId: CHILD }, C);
    expect(script(d)).toEqual(['b released', '<start-child>', 'c hold-invoice-payment-settled', 'c rate']);
    const e = d.effects[1]!;
    if (e.type !== 'start-child') throw new Error('no child');
    expect(e.announce).toEqual({ to: 'a'.repeat(64), rid: '12', tradeIndex: 4 });
    expect(e.child).toMatchObject({ id: CHILD, status: 'pending', amount: 0, fee: 0, minAmount: 10, maxAmount: 70, fiatAmount: 0, sellerPubkey: 'a'.repeat(64), masterSellerPubkey: SELLER_ID, tradeIndexSeller: 4, buyerPubkey: null, creatorPubkey: 'a'.repeat(64), rangeParentId: ID, hash: null, buyerInvoice: null });
  });

  it('range remainders: one amount left, none left, a full-privacy maker, a buy maker key from fiat-sent', () => {
    const next = { pubkey: 'a'.repeat(64), index: 9 };
    const base = sellTaken({ minAmount: 10, maxAmount: 100 }).order;
    expect(childOrder({ ...base, fiatAmount: 90 }, next, 'c1')).toMatchObject({ fiatAmount: 10, minAmount: null, maxAmount: null });
    expect(childOrder({ ...base, fiatAmount: 95 }, next, 'c1')).toBeNull();
    expect(childOrder({ ...base, fiatAmount: 30 }, null, 'c1')).toBeNull();
    expect(childOrder({ ...base, fiatAmount: 30, masterSellerPubkey: SELLER }, next, 'c1')!.masterSellerPubkey).toBe(next.pubkey);
    // A buyer's fiat-sent may have put a next trade key on a sell range; the seller's child does not inherit it
    // (the reference's #891).
    expect(childOrder({ ...base, fiatAmount: 30, nextTradePubkey: 'b'.repeat(64), nextTradeIndex: 4 }, next, 'c1')).toMatchObject({ nextTradePubkey: null, nextTradeIndex: 0 });
    const buy = buyTaken({ status: 'active', minAmount: 10, maxAmount: 100, fiatAmount: 30 });
    const afterFiat = fiatSent(buy, { rid: null, nextTrade: next }, C).trade;
    expect(afterFiat.order).toMatchObject({ nextTradePubkey: next.pubkey, nextTradeIndex: 9 });
    const d = released(afterFiat, { rid: null, nextTrade: null, childId: 'c2' }, C);
    const e = d.effects.find((x) => x.type === 'start-child');
    expect(e && e.type === 'start-child' && e.child).toMatchObject({ buyerPubkey: next.pubkey, masterBuyerPubkey: BUYER_ID, tradeIndexBuyer: 9, sellerPubkey: null });
  });
});

describe('payout', () => {
  const settled = () => released(sellTaken({ status: 'fiat-sent', buyerInvoice: INVOICE }), { rid: '12', nextTrade: null, childId: 'x' }, C).trade;

  it('success: published, purchase-completed then rate (release rid) to the buyer; the dev fee falls due', () => {
    const d = payoutResult(settled(), { status: 'succeeded', hash: 'h'.repeat(64), feeSats: 2 }, C);
    expect(d.trade.order).toMatchObject({ status: 'success', payoutPaymentHash: 'h'.repeat(64), routingFee: 2 });
    expect(script(d)).toEqual(['<publish>', 'b purchase-completed', 'b rate']);
    expect(sent(d, 1)).toContain('"request_id":12');
    expect(dueWork(d.trade, SETTINGS, NOW)).toBe('dev-fee');
    const paid = devFeeResult(d.trade, { status: 'succeeded', hash: 'd'.repeat(64), feeSats: 0 }, C).trade;
    expect(paid.order).toMatchObject({ devFeePaid: true, devFeePaymentHash: 'd'.repeat(64) });
    expect(dueWork(paid, SETTINGS, NOW)).toBeNull();
    expect(dueWork(paid, SETTINGS, NOW + 3600)).toBe('close');
  });

  it('failures: payment-failed once, silence, then add-invoice; a new invoice resets the budget', () => {
    const fail = { status: 'failed' as const, hash: 'h'.repeat(64), reason: 'no_route' };
    const d1 = payoutResult(settled(), fail, C);
    expect(script(d1)).toEqual(['b payment-failed']);
    expect(sent(d1, 0)).toBe(`{"order":{"version":2,"request_id":12,"trade_index":null,"id":"${ID}","action":"payment-failed","payload":{"payment_failed":{"payment_attempts":2,"payment_retries_interval":60}}}}`);
    expect(d1.trade.payoutDueAt).toBe(NOW + 60);
    expect(dueWork(d1.trade, SETTINGS, NOW + 59)).toBeNull();
    const d2 = payoutResult(d1.trade, fail, at(NOW + 60));
    expect(d2.effects).toEqual([]);
    const d3 = payoutResult(d2.trade, fail, at(NOW + 120));
    expect(script(d3)).toEqual(['b add-invoice']);
    expect(sent(d3, 0)).toContain('"amount":9970,');
    // Retries are the scheduler's (the reference passes no request id): only the release's own attempt echoes it.
    expect(sent(d3, 0)).toContain('"request_id":null,');
    expect(d3.trade.order).toMatchObject({ paymentAttempts: 3, failedPayment: true });
    expect(d3.trade.payoutDueAt).toBeNull();
    expect(dueWork(d3.trade, SETTINGS, NOW + 10_000)).toBeNull();
    const d4 = addInvoice(d3.trade, { sender: BUYER, rid: '13', invoice: 'lnbcrt2' }, REP, at(NOW + 200));
    expect(script(d4)).toEqual(['b invoice-updated']);
    expect(d4.trade).toMatchObject({ payoutSeq: 1, payoutDueAt: NOW + 200 });
    expect(d4.trade.order).toMatchObject({ buyerInvoice: 'lnbcrt2', paymentAttempts: 0, failedPayment: false });
    const paid = payoutResult(d4.trade, { status: 'succeeded', hash: 'e'.repeat(64), feeSats: 0 }, at(NOW + 201));
    expect(script(paid)).toEqual(['<publish>', 'b purchase-completed', 'b rate']);
    expect(sent(paid, 1)).toContain('"request_id":null,');
  });

  it('with a single payment attempt the buyer is told of the failure and asked for a new invoice at once', () => {
    const fail = { status: 'failed' as const, hash: 'h'.repeat(64), reason: 'no_route' };
    const one: Clock = { now: NOW, settings: { ...SETTINGS, paymentAttempts: 1 } };
    const d = payoutResult(settled(), fail, one, true, true);
    expect(script(d)).toEqual(['b payment-failed', 'b add-invoice']);
    expect(sent(d, 0)).toContain('"payment_failed":{"payment_attempts":0,');
    expect(d.trade.payoutDueAt).toBeNull();
    const again = addInvoice(d.trade, { sender: BUYER, rid: '13', invoice: 'lnbcrt2' }, REP, { ...one, now: NOW + 5 });
    expect(script(again)).toEqual(['b invoice-updated']);
    // Workflows recorded before this rule keep the reference's silence.
    expect(script(payoutResult(settled(), fail, one, true, false))).toEqual(['b payment-failed']);
  });

  it('a payment still in flight is asked about again soon, without a message', () => {
    const d = payoutResult(settled(), { status: 'in-flight', hash: 'h'.repeat(64) }, C);
    expect(d.effects).toEqual([]);
    expect(d.trade.payoutDueAt).toBe(NOW + 30);
    expect(d.trade.order.status).toBe('settled-hold-invoice');
  });

  it('a payment held in flight for two weeks is rechecked a few dozen times, not every 30 s (the history stays small)', () => {
    const inFlight = { status: 'in-flight' as const, hash: 'h'.repeat(64) };
    let t = payoutResult(settled(), inFlight, C, true).trade;
    expect(t.payoutDueAt).toBe(NOW + 30);
    const gaps: number[] = [];
    let now = NOW;
    while (t.payoutDueAt! < NOW + 14 * 86_400) {
      gaps.push(t.payoutDueAt! - now);
      now = t.payoutDueAt!;
      t = payoutResult(t, inFlight, at(now), true).trade;
    }
    // ~6 events a recheck: 40,320 rechecks at a fixed 30 s would pass Temporal's 50k-event limit in days.
    expect(gaps.length).toBeLessThan(400);
    expect(gaps.slice(0, 3)).toEqual([30, 30, 30]);
    expect(Math.max(...gaps)).toBe(3600);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]).toBeGreaterThanOrEqual(gaps[i - 1]!);
    // The outcome clears the clock: a later payment (a new invoice) starts again at 30 s.
    const failed = payoutResult(t, { status: 'failed', hash: 'h'.repeat(64), reason: 'no_route' }, at(now), true).trade;
    expect(failed.payoutInFlightSince).toBeNull();
    const again = payoutResult({ ...failed, payoutDueAt: null }, { status: 'in-flight', hash: 'i'.repeat(64) }, at(now + 100), true).trade;
    expect(again.payoutDueAt).toBe(now + 130);
  });
});

describe('cancel', () => {
  it('maker cancels a pending order; anyone else is told it is not theirs; a canceled order is already canceled', () => {
    const t = newTrade(orderState({ creatorPubkey: SELLER, sellerPubkey: SELLER }));
    const d = cancel(t, { sender: SELLER, rid: '5' }, C);
    expect(d.trade.order.status).toBe('canceled');
    expect(script(d)).toEqual(['<publish>', 'c canceled']);
    expect(sent(cancel(t, { sender: STRANGER, rid: '5' }, C), 0)).toContain('"cant_do":"is_not_your_order"');
    expect(sent(cancel(d.trade, { sender: SELLER, rid: '6' }, C), 0)).toContain('"cant_do":"order_already_canceled"');
  });

  it('maker cancels a taken order: escrow canceled, maker (rid) and taker (no rid) told', () => {
    const t = sellTaken({ status: 'waiting-payment', hash: 'a'.repeat(64), buyerInvoice: INVOICE });
    const d = cancel(t, { sender: SELLER, rid: '5' }, C);
    expect(d.trade.order.status).toBe('canceled');
    expect(script(d)).toEqual(['<cancel-hold>', '<publish>', 'c canceled', 'b canceled']);
    expect(sent(d, 1)).toContain('"request_id":null');
  });

  it('taker cancels: escrow canceled, the taker told first, the order back to pending for the maker, market quote reset', () => {
    const t = sellTaken({ status: 'waiting-payment', hash: 'a'.repeat(64), buyerInvoice: INVOICE, priceFromApi: true });
    const d = cancel(t, { sender: BUYER, rid: '5' }, C);
    expect(d.trade.order).toMatchObject({ status: 'pending', hash: null, buyerInvoice: null, buyerPubkey: null, masterBuyerPubkey: null, tradeIndexBuyer: null, amount: 0, fee: 0, devFee: 0, takenAt: 0 });
    expect(script(d)).toEqual(['<cancel-hold>', 'b canceled', '<publish>', 'c new-order']);
    expect(sent(d, 1)).toContain('"request_id":5');
    // The order as stored (the reference's `SmallOrder::from`): the maker's trade key stays, the taker's is gone.
    const republished = JSON.parse(sent(d, 1)).order.payload.order;
    expect(republished.seller_trade_pubkey).toBe(SELLER);
    expect(republished).not.toHaveProperty('buyer_trade_pubkey');
    expect(sent(cancel(t, { sender: STRANGER, rid: '5' }, C), 0)).toContain('"cant_do":"invalid_pubkey"');
  });

  it('cooperative cancel: initiated (you / peer), the same party again refused, the counterparty completes it', () => {
    const t = sellTaken({ status: 'active', hash: 'a'.repeat(64) });
    const d1 = cancel(t, { sender: BUYER, rid: '5' }, C);
    expect(script(d1)).toEqual(['b cooperative-cancel-initiated-by-you', 'c cooperative-cancel-initiated-by-peer']);
    expect(d1.trade.order).toMatchObject({ status: 'active', cancelInitiatorPubkey: BUYER, buyerCooperativeCancel: true });
    expect(sent(cancel(d1.trade, { sender: BUYER, rid: '6' }, C), 0)).toContain('"cant_do":"invalid_pubkey"');
    expect(sent(cancel(d1.trade, { sender: STRANGER, rid: '6' }, C), 0)).toContain('"cant_do":"invalid_pubkey"');
    const d2 = cancel(d1.trade, { sender: SELLER, rid: '7' }, C);
    expect(d2.trade.order.status).toBe('cooperatively-canceled');
    expect(script(d2)).toEqual(['<cancel-hold>', '<publish>', 'c cooperative-cancel-accepted', 'b cooperative-cancel-accepted']);
    expect(sent(d2, 0)).toContain('"request_id":7');
    expect(sent(d2, 1)).toContain('"request_id":null');
  });

  it('after the release nothing can be canceled', () => {
    expect(sent(cancel(sellTaken({ status: 'settled-hold-invoice' }), { sender: SELLER, rid: null }, C), 0)).toContain('"cant_do":"not_allowed_by_status"');
  });
});

describe('timeouts', () => {
  it('a pending order expires at expires_at (published), not before', () => {
    const t = newTrade(orderState({ expiresAt: NOW + 100 }));
    expect(dueWork(t, SETTINGS, NOW + 99)).toBeNull();
    expect(dueWork(t, SETTINGS, NOW + 100)).toBe('timeout');
    const d = timeout(t, at(NOW + 100));
    expect(d.trade.order.status).toBe('expired');
    expect(script(d)).toEqual(['<publish>']);
  });

  it('taker at fault (sell order without buyer invoice): republished pending, maker gets new-order, taker canceled', () => {
    const t = sellTaken({ status: 'waiting-buyer-invoice', takenAt: NOW });
    expect(dueWork(t, SETTINGS, NOW + 899)).toBeNull();
    const d = timeout(t, at(NOW + 900));
    expect(d.trade.order).toMatchObject({ status: 'pending', buyerPubkey: null, amount: 0 });
    expect(script(d)).toEqual(['<publish>', 'c new-order', 'b canceled']);
    expect(JSON.parse(sent(d, 0)).order.payload.order).toMatchObject({ seller_trade_pubkey: SELLER, status: 'pending' });
  });

  it('maker at fault (sell order, seller never paid): escrow canceled, order canceled, both told', () => {
    const t = sellTaken({ status: 'waiting-payment', takenAt: NOW, hash: 'a'.repeat(64), buyerInvoice: INVOICE });
    const d = timeout(t, at(NOW + 900));
    expect(d.trade.order.status).toBe('canceled');
    expect(script(d)).toEqual(['<cancel-hold>', '<publish>', 'c canceled', 'b canceled']);
  });

  it('buy order: the seller not paying is the taker’s fault, the buyer not sending an invoice the maker’s', () => {
    expect(timeout(buyTaken({ status: 'waiting-payment', takenAt: NOW, hash: 'a'.repeat(64) }), at(NOW + 900)).trade.order.status).toBe('pending');
    expect(timeout(buyTaken({ status: 'waiting-buyer-invoice', takenAt: NOW, hash: 'a'.repeat(64), invoiceHeldAt: NOW }), at(NOW + 900)).trade.order.status).toBe('canceled');
  });

  it('an active escrow is canceled before its CLTV horizon ((144 − 24) blocks × 600 s after acceptance)', () => {
    const t = sellTaken({ status: 'active', hash: 'a'.repeat(64), invoiceHeldAt: NOW });
    expect(dueWork(t, SETTINGS, NOW + 120 * 600 - 1)).toBeNull();
    const d = timeout(t, at(NOW + 120 * 600));
    expect(d.trade.order.status).toBe('canceled');
    expect(script(d)).toEqual(['<cancel-hold>', '<publish>', 'c canceled', 'b canceled']);
  });

  it('fiat-sent past the guard opens a dispute for the buyer instead of refunding the seller', () => {
    const t = sellTaken({ status: 'fiat-sent', hash: 'a'.repeat(64), invoiceHeldAt: NOW });
    expect(dueWork(t, SETTINGS, NOW + 120 * 600 - 1)).toBeNull();
    const d = timeout(t, at(NOW + 120 * 600), 'dddddddd-0000-4000-8000-000000000001');
    expect(d.trade.order).toMatchObject({ status: 'dispute', buyerDispute: true, sellerDispute: false });
    expect(script(d)).toEqual(['<open-dispute>', 'b dispute-initiated-by-you', 'c dispute-initiated-by-peer']);
    expect(d.effects[0]).toEqual({
      type: 'open-dispute',
      dispute: { id: 'dddddddd-0000-4000-8000-000000000001', orderId: ID, initiator: 'buyer', previousStatus: 'fiat-sent', createdAt: NOW + 120 * 600 },
    });
    expect(sent(d, 0)).toBe(
      `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ID}","action":"dispute-initiated-by-you","payload":{"dispute":["dddddddd-0000-4000-8000-000000000001",null]}}}`,
    );
    // Nothing more happens by itself: a solver (or the seller's release) decides.
    expect(dueWork(d.trade, SETTINGS, NOW + 10 * 86_400)).toBeNull();
    // The seller releasing closes the dispute as settled; a cooperative cancel closes it as seller-refunded.
    const rel = released(d.trade, { rid: null, nextTrade: null, childId: 'x' }, C);
    expect(rel.effects).toContainEqual({ type: 'close-dispute', status: 'settled', initiator: 'buyer' });
    const first = cancel(d.trade, { sender: SELLER, rid: null }, C).trade;
    expect(cancel(first, { sender: BUYER, rid: null }, C).effects).toContainEqual({ type: 'close-dispute', status: 'seller-refunded', initiator: 'buyer' });
  });

  it('a finished order lingers to answer late messages, then closes', () => {
    const d = cancel(newTrade(orderState({ creatorPubkey: SELLER })), { sender: SELLER, rid: null }, C);
    expect(dueWork(d.trade, SETTINGS, NOW + 3599)).toBeNull();
    expect(dueWork(d.trade, SETTINGS, NOW + 3600)).toBe('close');
  });
});

describe('support requests', () => {
  const settled = () => released(sellTaken({ status: 'fiat-sent', buyerInvoice: INVOICE }), { rid: '12', nextTrade: null, childId: 'x' }, C).trade;
  const ask = (action: 'retry-payout' | 'retry-dev-fee' | 'republish') => ({ action, operator: 'alice', reason: 'channel rebalanced' });
  const fail = { status: 'failed' as const, hash: 'h'.repeat(64), reason: 'no_route' };

  it('retry-payout pays the current invoice now, even after every attempt failed, under the same idempotency key', () => {
    let t = settled();
    for (let i = 0; i < 3; i++) t = payoutResult(t, fail, at(NOW + i * 60)).trade;
    expect(t.payoutDueAt).toBeNull();
    expect(dueWork(t, SETTINGS, NOW + 10_000)).toBeNull();
    const d = supportRequest(t, ask('retry-payout'), at(NOW + 10_000));
    expect(d.effects).toEqual([]);
    expect(d.trade.payoutDueAt).toBe(NOW + 10_000);
    expect(d.trade.payoutSeq).toBe(t.payoutSeq);
    expect(dueWork(d.trade, SETTINGS, NOW + 10_000)).toBe('payout');
    const paid = payoutResult(d.trade, { status: 'succeeded', hash: 'h'.repeat(64), feeSats: 1 }, at(NOW + 10_001));
    expect(paid.trade.order.status).toBe('success');
  });

  it('a request that does not fit the state changes nothing', () => {
    const pending = newTrade(orderState());
    expect(supportRequest(pending, ask('retry-payout'), C)).toEqual({ trade: pending, effects: [] });
    expect(supportRequest(pending, ask('retry-dev-fee'), C)).toEqual({ trade: pending, effects: [] });
    // A sell order waiting for its escrow has no public event to republish.
    const unpublished = sellTaken({ status: 'waiting-payment' });
    expect(supportRequest(unpublished, ask('republish'), C)).toEqual({ trade: unpublished, effects: [] });
  });

  it('republish publishes the order event again; retry-dev-fee restarts a given-up dev fee', () => {
    expect(supportRequest(newTrade(orderState()), ask('republish'), C).effects).toEqual([{ type: 'publish' }]);
    let t = payoutResult(settled(), { status: 'succeeded', hash: 'h'.repeat(64), feeSats: 1 }, C).trade;
    for (let i = 0; i < 10; i++) t = devFeeResult(t, fail, at(NOW + i)).trade;
    expect(t.devFeeDueAt).toBeNull();
    const d = supportRequest(t, ask('retry-dev-fee'), at(NOW + 500));
    expect(d.trade).toMatchObject({ devFeeDueAt: NOW + 500, devFeeAttempts: 0 });
    expect(dueWork(d.trade, SETTINGS, NOW + 500)).toBe('dev-fee');
  });
});

describe('dispute guard (§24.1)', () => {
  it('the buyer or the seller of a locked escrow, each side once, in the reference order of checks', () => {
    const active = sellTaken({ status: 'active' }).order;
    expect(canDispute(active, BUYER)).toEqual({ ok: true });
    expect(canDispute({ ...active, status: 'fiat-sent' }, SELLER)).toEqual({ ok: true });
    expect(canDispute(active, STRANGER)).toEqual({ ok: false, reason: 'invalid_pubkey' });
    expect(canDispute({ ...active, status: 'waiting-payment' }, STRANGER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    expect(canDispute({ ...active, buyerDispute: true }, BUYER)).toEqual({ ok: false, reason: 'dispute_creation_error' });
    expect(canDispute({ ...active, buyerDispute: true }, SELLER)).toEqual({ ok: true });
  });
});

describe('solver permissions (§24.2–24.3)', () => {
  const disputed = () => openDispute(sellTaken({ status: 'fiat-sent' }), { id: 'dis-1', initiator: 'buyer', rid: null }, C).trade;
  const RO = { role: 'solver' as const, category: 1 };
  const RW = { role: 'solver' as const, category: 2 };
  const ADMIN = { role: 'admin' as const };

  it('who may take a dispute: any solver or the admin at first; the holder again; read-write over read-only; the admin always', () => {
    const t = disputed();
    expect(canTakeDispute(t, 'x', { role: 'none' })).toBe(false);
    expect(canTakeDispute(t, 'ro', RO)).toBe(true);
    const byRo = { ...t, dispute: { ...t.dispute!, solver: 'ro', solverCategory: 1 } };
    expect(canTakeDispute(byRo, 'ro', RO)).toBe(true);
    expect(canTakeDispute(byRo, 'ro2', RO)).toBe(false);
    expect(canTakeDispute(byRo, 'rw', RW)).toBe(true);
    const byRw = { ...t, dispute: { ...t.dispute!, solver: 'rw', solverCategory: 2 } };
    expect(canTakeDispute(byRw, 'rw2', RW)).toBe(false);
    expect(canTakeDispute(byRw, 'admin', ADMIN)).toBe(true);
    const byAdmin = { ...t, dispute: { ...t.dispute!, solver: 'admin', byAdmin: true, solverCategory: 2 } };
    expect(canTakeDispute(byAdmin, 'rw', RW)).toBe(false);
    expect(canTakeDispute(sellTaken({ status: 'active' }), 'admin', ADMIN)).toBe(false);
  });

  it('who may settle or cancel: only the holder, read-write, while in dispute', () => {
    const t = disputed();
    const held = (solver: string, byAdmin = false, solverCategory = 2) => ({ ...t, dispute: { ...t.dispute!, solver, byAdmin, solverCategory } });
    expect(canResolveDispute(t, 'rw', RW, 'admin-settle')).toEqual({ ok: false, reason: 'is_not_your_dispute' });
    expect(canResolveDispute(held('admin', true), 'rw', RW, 'admin-settle')).toEqual({ ok: false, reason: 'dispute_taken_by_admin' });
    expect(canResolveDispute(held('ro', false, 1), 'ro', RO, 'admin-cancel')).toEqual({ ok: false, reason: 'not_authorized' });
    expect(canResolveDispute(held('rw'), 'rw', RW, 'admin-settle')).toEqual({ ok: true });
    const done = { ...held('rw'), order: { ...t.order, status: 'success' as const } };
    expect(canResolveDispute(done, 'rw', RW, 'admin-settle')).toEqual({ ok: false, reason: 'invalid_order_status' });
    expect(canResolveDispute(done, 'rw', RW, 'admin-cancel')).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    const coop = { ...held('rw'), order: { ...t.order, status: 'cooperatively-canceled' as const } };
    expect(canResolveDispute(coop, 'rw', RW, 'admin-settle')).toEqual({ ok: 'cooperatively-canceled' });
  });
});
