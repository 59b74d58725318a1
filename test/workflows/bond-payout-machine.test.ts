/** The slashed-bond payout state machine (bonds.md §6, §15): requests, forfeit, acceptance, retries, resurrection. */
import { describe, expect, it } from 'vitest';
import { bondPayout } from '../helpers/bonds.js';
import { invoiceSubmitted, payoutNextWake, payoutResult, payoutTick, type PayoutDecision } from '../../src/workflows/bond/payout-machine.js';
import { type BondPayout } from '../../src/domain/bond.js';

const S = { claimWindowSecs: 15 * 86_400, invoiceWindowSecs: 300, maxRetries: 3 };
const T0 = 1_800_000_000;
const WINNER = 'b'.repeat(64);
const ORDER = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';

const payout = (o: Partial<BondPayout> = {}): BondPayout => bondPayout({ orderId: ORDER, recipient: WINNER, slashedAt: T0, ...o });
const json = (d: PayoutDecision, i = 0) => {
  const e = d.effects.filter((x) => x.type === 'send')[i];
  if (!e || e.type !== 'send') throw new Error('no message');
  return e.msg.json;
};
const ORDER_VIEW = `{"id":"${ORDER}","kind":"sell","status":null,"amount":500,"fiat_code":"USD","min_amount":null,"max_amount":null,"fiat_amount":50,"payment_method":"SEPA","premium":0,"created_at":null,"expires_at":null}`;

describe('asking the winner for an invoice', () => {
  it('asks at once, again every invoice window with the same slashed_at, and records each request first', () => {
    const d1 = payoutTick(payout(), S, T0);
    expect(json(d1)).toBe(
      `{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ORDER}","action":"add-bond-invoice","payload":{"bond_payout_request":{"order":${ORDER_VIEW},"slashed_at":${T0}}}}}`,
    );
    expect(d1.effects[0]).toMatchObject({ type: 'send', msg: { to: WINNER } });
    expect(d1.payout).toMatchObject({ invoiceRequests: 1, lastInvoiceRequestAt: T0 });
    expect(payoutTick(d1.payout, S, T0 + 299).effects).toEqual([]);
    expect(payoutNextWake(d1.payout, S)).toBe(T0 + 300);
    const d2 = payoutTick(d1.payout, S, T0 + 300);
    expect(json(d2)).toBe(json(d1));
    expect(d2.payout.invoiceRequests).toBe(2);
  });

  it('forfeits to the node when the claim window passes without an invoice, silently', () => {
    const asked = payoutTick(payout(), S, T0).payout;
    expect(payoutNextWake({ ...asked, lastInvoiceRequestAt: T0 + S.claimWindowSecs - 10 }, S)).toBe(T0 + S.claimWindowSecs);
    const d = payoutTick(asked, S, T0 + S.claimWindowSecs);
    expect(d).toEqual({ payout: { ...asked, status: 'forfeited' }, effects: [] });
    expect(payoutNextWake(d.payout, S)).toBeNull();
  });

  it('a node-only split (share 0) is finalized without a payout leg', () => {
    expect(payoutTick(payout({ nodeShareSats: 1000 }), S, T0)).toEqual({ payout: payout({ nodeShareSats: 1000, status: 'slashed' }), effects: [] });
  });
});

describe('the winner’s invoice', () => {
  const asked = () => payoutTick(payout(), S, T0).payout;

  it('is accepted from the recipient only, valid only, and only while none is being paid', () => {
    expect(json(invoiceSubmitted(asked(), { sender: 'c'.repeat(64), rid: '9', invoice: 'lnbc1', valid: true }, S, T0))).toContain('"cant_do":"not_allowed_by_status"');
    expect(json(invoiceSubmitted(asked(), { sender: WINNER, rid: '9', invoice: 'lnbc1', valid: false }, S, T0))).toContain('"cant_do":"invalid_invoice"');
    const d = invoiceSubmitted(asked(), { sender: WINNER, rid: '9', invoice: 'lnbc1', valid: true }, S, T0 + 10);
    expect(json(d)).toBe(`{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ORDER}","action":"bond-invoice-accepted","payload":{"order":${ORDER_VIEW}}}}`);
    expect(d.effects[1]).toEqual({ type: 'pay', invoice: 'lnbc1', amountSats: 500, purpose: 'bond-payout:bond-1:1' });
    expect(d.payout).toMatchObject({ invoice: 'lnbc1', invoiceRequests: 0, invoiceSeq: 1 });
    const again = invoiceSubmitted(d.payout, { sender: WINNER, rid: null, invoice: 'lnbc2', valid: true }, S, T0 + 20);
    expect(json(again)).toContain('"cant_do":"not_allowed_by_status"');
    // The wire answer is the same for every refusal; the logs say which it was.
    expect(again.refused).toBe('a payout to an earlier invoice is in progress');
    expect(invoiceSubmitted(asked(), { sender: 'c'.repeat(64), rid: '9', invoice: 'lnbc1', valid: true }, S, T0).refused).toBe('the sender is not owed this payout');
  });

  it('paid: slashed, and one bond-payout-completed', () => {
    const accepted = invoiceSubmitted(asked(), { sender: WINNER, rid: null, invoice: 'lnbc1', valid: true }, S, T0).payout;
    expect(payoutResult(accepted, { status: 'in-flight' }, S, T0)).toEqual({ payout: accepted, effects: [] });
    const d = payoutResult(accepted, { status: 'succeeded' }, S, T0 + 1);
    expect(d.payout.status).toBe('slashed');
    expect(json(d)).toBe(`{"order":{"version":2,"request_id":null,"trade_index":null,"id":"${ORDER}","action":"bond-payout-completed","payload":{"order":${ORDER_VIEW}}}}`);
    expect(payoutResult(d.payout, { status: 'succeeded' }, S, T0 + 2).effects).toEqual([]);
  });
});

describe('failed payments', () => {
  const fail = { status: 'failed' as const, reason: 'no_route' };
  const accepted = (at = T0) => invoiceSubmitted(payoutTick(payout(), S, T0).payout, { sender: WINNER, rid: null, invoice: 'lnbc1', valid: true }, S, at).payout;

  it('retries up to the budget, then asks for a new invoice inside the window (the deadline never moves)', () => {
    let p = accepted();
    for (let i = 1; i < S.maxRetries; i++) {
      p = payoutResult(p, fail, S, T0 + i).payout;
      expect(p).toMatchObject({ status: 'pending-payout', attempts: i, invoice: 'lnbc1' });
      expect(payoutTick(p, S, T0 + i).effects).toEqual([{ type: 'pay', invoice: 'lnbc1', amountSats: 500, purpose: 'bond-payout:bond-1:1' }]);
    }
    p = payoutResult(p, fail, S, T0 + 100).payout;
    expect(p).toMatchObject({ status: 'pending-payout', invoice: null, attempts: 0, lastInvoiceRequestAt: null, slashedAt: T0 });
    expect(json(payoutTick(p, S, T0 + 101))).toContain(`"slashed_at":${T0}`);
    // A new invoice is paid under a new key.
    const again = invoiceSubmitted(payoutTick(p, S, T0 + 101).payout, { sender: WINNER, rid: null, invoice: 'lnbc2', valid: true }, S, T0 + 102);
    expect(again.effects[1]).toMatchObject({ type: 'pay', invoice: 'lnbc2', purpose: 'bond-payout:bond-1:2' });
  });

  it('outside the window the payout fails; a fresh invoice resurrects it only inside the window', () => {
    let p = accepted();
    const late = T0 + S.claimWindowSecs + 1;
    for (let i = 0; i < S.maxRetries; i++) p = payoutResult(p, fail, S, late).payout;
    expect(p.status).toBe('failed');
    const refused = invoiceSubmitted(p, { sender: WINNER, rid: null, invoice: 'lnbc3', valid: true }, S, late);
    expect(json(refused)).toContain('"cant_do":"not_allowed_by_status"');
    expect(refused.refused).toBe(`the claim window expired on ${new Date((T0 + S.claimWindowSecs) * 1000).toISOString()}`);
    // Failed while still inside the window (e.g. slashed_at is recent): a new invoice brings it back with a full budget.
    const failedEarly = { ...p, slashedAt: late - 100 };
    const back = invoiceSubmitted(failedEarly, { sender: WINNER, rid: null, invoice: 'lnbc3', valid: true }, S, late);
    expect(back.payout).toMatchObject({ status: 'pending-payout', invoice: 'lnbc3', attempts: 0 });
    expect(back.effects.map((e) => e.type)).toEqual(['send', 'pay']);
  });
});
