/** Party-action guards: the right party in the right status passes; otherwise the reference's reason, in its order. */
import { describe, expect, it } from 'vitest';
import { canAddInvoice } from '../../src/workflows/order/actions/add-invoice.js';
import { canRelease } from '../../src/workflows/order/actions/release.js';
import { canSendFiatSent } from '../../src/workflows/order/actions/fiat-sent.js';
import type { OrderState } from '../../src/domain/order.js';
import { orderState } from '../helpers/orders.js';

const BUYER = 'b'.repeat(64);
const SELLER = 'c'.repeat(64);
const STRANGER = 'd'.repeat(64);
const taken = (status: OrderState['status']) => orderState({ status, buyerPubkey: BUYER, sellerPubkey: SELLER, amount: 10_000, fee: 30 });

describe('add-invoice', () => {
  it('lets the buyer add an invoice while one is awaited, and after a failed payout', () => {
    expect(canAddInvoice(taken('waiting-buyer-invoice'), BUYER)).toEqual({ ok: true });
    expect(canAddInvoice(taken('settled-hold-invoice'), BUYER)).toEqual({ ok: true });
  });
  it('refuses anyone else first, then the wrong status', () => {
    expect(canAddInvoice(taken('waiting-buyer-invoice'), SELLER)).toEqual({ ok: false, reason: 'invalid_peer' });
    expect(canAddInvoice(taken('active'), STRANGER)).toEqual({ ok: false, reason: 'invalid_peer' });
    expect(canAddInvoice(taken('active'), BUYER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
  });
  it('refuses a new payout invoice while a payout to the previous one is in flight (it could still succeed)', () => {
    const inFlight = { ...taken('settled-hold-invoice'), payoutPaymentHash: 'e'.repeat(64) };
    expect(canAddInvoice(inFlight, BUYER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    expect(canAddInvoice({ ...inFlight, payoutPaymentHash: null, failedPayment: true }, BUYER)).toEqual({ ok: true });
  });
});

describe('fiat-sent', () => {
  it('lets the buyer confirm fiat once the escrow is locked', () => {
    expect(canSendFiatSent(taken('active'), BUYER)).toEqual({ ok: true });
  });
  it('checks the status first, then the sender', () => {
    expect(canSendFiatSent(taken('waiting-payment'), SELLER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    expect(canSendFiatSent(taken('fiat-sent'), BUYER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    expect(canSendFiatSent(taken('active'), SELLER)).toEqual({ ok: false, reason: 'invalid_pubkey' });
  });
});

describe('release', () => {
  it('lets the seller release after fiat-sent or during a dispute', () => {
    expect(canRelease(taken('fiat-sent'), SELLER)).toEqual({ ok: true });
    expect(canRelease(taken('dispute'), SELLER)).toEqual({ ok: true });
  });
  it('checks the sender first, then the status', () => {
    expect(canRelease(taken('active'), BUYER)).toEqual({ ok: false, reason: 'invalid_peer' });
    expect(canRelease(taken('active'), SELLER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
    expect(canRelease(taken('success'), SELLER)).toEqual({ ok: false, reason: 'not_allowed_by_status' });
  });
});
