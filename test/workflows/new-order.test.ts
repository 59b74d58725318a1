/** new-order checks, one row per rule and reason, in the reference's order. */
import { describe, expect, it } from 'vitest';
import type { PriceQuote } from '../../src/price/manager.js';
import { checkNewOrder, needsPrice } from '../../src/workflows/order/actions/new-order.js';

const limits = { fiatCurrenciesAccepted: [] as string[], minPaymentAmount: 100, maxOrderAmount: 1_000_000 };
const fresh: PriceQuote = { ok: true, price: 3_000_000, updatedAt: 0, sources: ['yadio'] }; // VES per BTC
const stale: PriceQuote = { ok: false, reason: 'price_too_stale' };
const none: PriceQuote = { ok: false, reason: 'no_price' };
const order = (o: Partial<{ amount: number; fiat_code: string; fiat_amount: number; min_amount: number | null; max_amount: number | null; premium: number }> = {}) => ({
  amount: 0,
  fiat_code: 'VES',
  fiat_amount: 100,
  min_amount: null,
  max_amount: null,
  premium: 0,
  ...o,
});

describe('checkNewOrder', () => {
  it.each([
    ['fixed amount', order({ amount: 50_000 }), undefined, { ok: true, isRange: false }],
    ['market price', order({ premium: 1 }), fresh, { ok: true, isRange: false }],
    ['range at market price', order({ fiat_amount: 0, min_amount: 10, max_amount: 100 }), fresh, { ok: true, isRange: true }],
    ['zero fiat amount', order({ fiat_amount: 0 }), fresh, { ok: false, reason: 'invalid_amount' }],
    ['negative fiat amount', order({ fiat_amount: -5 }), fresh, { ok: false, reason: 'invalid_amount' }],
    ['negative sats', order({ amount: -1 }), undefined, { ok: false, reason: 'invalid_amount' }],
    ['range min ≥ max', order({ fiat_amount: 0, min_amount: 100, max_amount: 100 }), fresh, { ok: false, reason: 'invalid_amount' }],
    ['range with a negative bound', order({ fiat_amount: 0, min_amount: -1, max_amount: 100 }), fresh, { ok: false, reason: 'invalid_amount' }],
    ['range with fixed sats', order({ amount: 5_000, fiat_amount: 0, min_amount: 10, max_amount: 100 }), undefined, { ok: false, reason: 'invalid_amount' }],
    ['premium on a fixed sats amount', order({ amount: 5_000, premium: 2 }), undefined, { ok: false, reason: 'invalid_parameters' }],
    ['fixed amount below the minimum', order({ amount: 99 }), undefined, { ok: false, reason: 'out_of_range_sats_amount' }],
    ['fixed amount above the maximum', order({ amount: 1_000_001 }), undefined, { ok: false, reason: 'out_of_range_sats_amount' }],
    // 100 VES at 3,000,000 VES/BTC = 3,333 sats; 1 VES = 33 sats (< 100)
    ['range whose lower bound quotes too low', order({ fiat_amount: 0, min_amount: 1, max_amount: 100 }), fresh, { ok: false, reason: 'out_of_range_sats_amount' }],
    ['range whose upper bound quotes too high', order({ fiat_amount: 0, min_amount: 10, max_amount: 40_000 }), fresh, { ok: false, reason: 'out_of_range_sats_amount' }],
    ['stale price', order(), stale, { ok: false, reason: 'price_too_stale' }],
    ['no price (no reply, as upstream)', order(), none, { ok: false, internal: 'no_price' }],
  ])('%s', (_name, o, price, expected) => {
    expect(checkNewOrder(o, limits, price)).toEqual(expected);
  });

  it('quotes without the premium at creation (a premium that would push the quote out of range does not matter)', () => {
    // 3 VES = 100 sats exactly at this price; a +10 % premium would make it 90 at take time.
    expect(checkNewOrder(order({ fiat_amount: 3, premium: 10 }), limits, fresh)).toEqual({ ok: true, isRange: false });
  });

  it('applies the currency allowlist, case-sensitively as upstream', () => {
    const only = { ...limits, fiatCurrenciesAccepted: ['USD', 'VES'] };
    expect(checkNewOrder(order({ amount: 5_000 }), only, undefined)).toEqual({ ok: true, isRange: false });
    expect(checkNewOrder(order({ amount: 5_000, fiat_code: 'EUR' }), only, undefined)).toEqual({ ok: false, reason: 'invalid_fiat_currency' });
    expect(checkNewOrder(order({ amount: 5_000, fiat_code: 'ves' }), only, undefined)).toEqual({ ok: false, reason: 'invalid_fiat_currency' });
  });

  it('asks for a price only for market-priced orders', () => {
    expect(needsPrice(order())).toBe(true);
    expect(needsPrice(order({ amount: 1_000 }))).toBe(false);
  });
});
