/** take-sell / take-buy order-local checks and quotes, and what a range order leaves after a trade. */
import { describe, expect, it } from 'vitest';
import type { PriceQuote } from '../../src/price/manager.js';
import { checkTake, rangeRemainder, takeNeedsPrice, type TakeableOrder } from '../../src/workflows/order/actions/take.js';

const NOW = 1_800_000_000;
const maker = 'a'.repeat(64);
const taker = 'b'.repeat(64);
const fees = { feeRate: 0.006, devFeePercentage: 0.3 };
const fresh: PriceQuote = { ok: true, price: 3_000_000, updatedAt: NOW, sources: ['yadio'] };
const sell = (o: Partial<TakeableOrder> = {}): TakeableOrder => ({
  kind: 'sell',
  status: 'pending',
  expiresAt: NOW + 3_600,
  creatorPubkey: maker,
  amount: 100_000,
  fee: 300,
  fiatAmount: 100,
  minAmount: null,
  maxAmount: null,
  premium: 0,
  ...o,
});
const takeSell = (fiatAmount: number | null = null) => ({ action: 'take-sell' as const, sender: taker, fiatAmount });

describe('checkTake', () => {
  it('takes a fixed-amount order at its amount and fee, computing the dev fee now', () => {
    expect(checkTake(sell(), takeSell(), NOW, fees, undefined)).toEqual({ ok: true, fiatAmount: 100, amount: 100_000, fee: 300, devFee: 180 });
  });

  it('quotes a market order with its premium at take time', () => {
    // 100 VES at 3,000,000 = 3,333.33 sats; premium 1 % → 3,300; fee round(0.006 × 3300 / 2) = round(9.9) = 10
    expect(checkTake(sell({ amount: 0, fee: 0, premium: 1 }), takeSell(), NOW, fees, fresh)).toEqual({ ok: true, fiatAmount: 100, amount: 3_300, fee: 10, devFee: 6 });
  });

  it('takes a range order at the requested fiat amount', () => {
    const range = sell({ amount: 0, fee: 0, fiatAmount: 0, minAmount: 10, maxAmount: 100 });
    expect(checkTake(range, takeSell(30), NOW, fees, fresh)).toMatchObject({ ok: true, fiatAmount: 30, amount: 1_000 });
    expect(checkTake(range, takeSell(9), NOW, fees, fresh)).toEqual({ ok: false, reason: 'out_of_range_sats_amount' });
    expect(checkTake(range, takeSell(101), NOW, fees, fresh)).toEqual({ ok: false, reason: 'out_of_range_sats_amount' });
    expect(checkTake(range, takeSell(null), NOW, fees, fresh)).toEqual({ ok: false, reason: 'out_of_range_sats_amount' });
  });

  it.each([
    ['take-buy on a sell order', sell(), { action: 'take-buy' as const, sender: taker, fiatAmount: null }, 'invalid_order_kind'],
    ['an order already taken', sell({ status: 'waiting-payment' }), takeSell(), 'invalid_order_status'],
    ['a canceled order', sell({ status: 'canceled' }), takeSell(), 'invalid_order_status'],
    ['after the take window', sell({ expiresAt: NOW }), takeSell(), 'invalid_order_status'],
    ['the maker taking its own order', sell(), { action: 'take-sell' as const, sender: maker, fiatAmount: null }, 'invalid_pubkey'],
  ])('refuses %s', (_name, o, t, reason) => {
    expect(checkTake(o, t, NOW, fees, fresh)).toEqual({ ok: false, reason });
  });

  it('accepts a take while another taker’s bond is pending (waiting-taker-bond)', () => {
    expect(checkTake(sell({ status: 'waiting-taker-bond' }), takeSell(), NOW, fees, undefined)).toMatchObject({ ok: true });
  });

  it('refuses to price on a stale rate, and stays silent without any rate', () => {
    const market = sell({ amount: 0, fee: 0 });
    expect(takeNeedsPrice(market)).toBe(true);
    expect(checkTake(market, takeSell(), NOW, fees, { ok: false, reason: 'price_too_stale' })).toEqual({ ok: false, reason: 'price_too_stale' });
    expect(checkTake(market, takeSell(), NOW, fees, undefined)).toEqual({ ok: false, internal: 'no_price' });
  });
});

describe('rangeRemainder', () => {
  it('leaves a smaller range, a single amount, or nothing', () => {
    expect(rangeRemainder(10, 100, 30)).toEqual({ kind: 'range', minAmount: 10, maxAmount: 70 });
    expect(rangeRemainder(10, 100, 90)).toEqual({ kind: 'single', fiatAmount: 10 });
    expect(rangeRemainder(10, 100, 95)).toEqual({ kind: 'none' });
  });
});
