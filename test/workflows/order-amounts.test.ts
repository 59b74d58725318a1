/** Order money math against values worked by hand from the reference's formulas (f64, half-away rounding). */
import { describe, expect, it } from 'vitest';
import {
  buyerReceives,
  devFee,
  marketSats,
  orderExpiresAt,
  perPartyFee,
  quoteInRange,
  roundHalfAwayFromZero,
  sellerPays,
} from '../../src/workflows/order/amounts.js';

describe('fees', () => {
  it('splits the Mostro fee between the parties, rounding half away from zero', () => {
    expect(perPartyFee(100_000, 0.006)).toBe(300);
    expect(perPartyFee(7_890, 0.006)).toBe(24); // 23.67
    expect(perPartyFee(100, 0.01)).toBe(1); // 0.5 → 1
    expect(perPartyFee(50, 0.01)).toBe(0); // 0.25
    expect(perPartyFee(1_000, 0)).toBe(0);
    expect(roundHalfAwayFromZero(-2.5)).toBe(-3); // unlike Math.round(-2.5) = -2
  });

  it('charges the seller amount + fee and pays the buyer amount − fee', () => {
    const fee = perPartyFee(100_000, 0.006);
    expect(sellerPays(100_000, fee)).toBe(100_300);
    expect(buyerReceives(100_000, fee)).toBe(99_700);
  });

  it('takes the dev fee out of the node’s share', () => {
    expect(devFee(600, 0.3)).toBe(180);
    expect(devFee(5, 0.3)).toBe(2); // 1.5 → 2
    expect(devFee(3, 0.1)).toBe(0);
  });
});

describe('market price', () => {
  it('converts fiat to sats at the price and truncates', () => {
    // 100 / 3,000,000 × 1e8 = 3,333.33…
    expect(marketSats(100, 3_000_000, 0)).toBe(3_333);
  });

  it('applies the premium: positive gives fewer sats, negative more', () => {
    expect(marketSats(100, 3_000_000, 1)).toBe(3_300); // 3,333.33 − 33.33
    expect(marketSats(100, 3_000_000, -2)).toBe(3_400); // 3,333.33 + 66.67
    expect(marketSats(50, 60_000, 5)).toBe(79_166); // 83,333.33 × 0.95 = 79,166.67
  });

  it('has no quote without a positive price', () => {
    expect(marketSats(100, 0, 0)).toBeUndefined();
    expect(marketSats(100, -1, 0)).toBeUndefined();
    expect(marketSats(100, Number.NaN, 0)).toBeUndefined();
  });

  it('checks creation quotes against the node limits', () => {
    const limits = { minPaymentAmount: 100, maxOrderAmount: 1_000_000 };
    expect(quoteInRange(99, limits)).toBe(false);
    expect(quoteInRange(100, limits)).toBe(true);
    expect(quoteInRange(1_000_000, limits)).toBe(true);
    expect(quoteInRange(1_000_001, limits)).toBe(false);
  });
});

describe('pending lifetime', () => {
  const now = 1_800_000_000;
  const s = { expirationHours: 24, maxExpirationDays: 15 };
  it('defaults to expiration_hours when the client sends null', () => {
    expect(orderExpiresAt(null, now, s)).toBe(now + 86_400);
    expect(orderExpiresAt(undefined, now, s)).toBe(now + 86_400);
  });
  it('keeps a client value within max_expiration_days and caps a later one', () => {
    expect(orderExpiresAt(now + 3_600, now, s)).toBe(now + 3_600);
    expect(orderExpiresAt(now + 30 * 86_400, now, s)).toBe(now + 15 * 86_400);
  });
  it('keeps a client 0, as upstream does (the order expires at the next check)', () => {
    expect(orderExpiresAt(0, now, s)).toBe(0);
  });
});
