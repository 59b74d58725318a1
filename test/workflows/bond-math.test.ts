/** Bond amounts and shares: the checklist of bonds.md §18.2, and the range-slice and maker-notional rules of §8. */
import { describe, expect, it } from 'vitest';
import { computeBondAmount, computeNodeShare, makerBondNotionalSats, rangeSliceSlash } from '../../src/domain/bond-math.js';

const cfg = { amountPct: 0.01, baseAmountSats: 1000 };

describe('computeBondAmount (§8.1)', () => {
  it('the floor dominates small orders, the percentage large ones, and they meet at 100k sats', () => {
    expect(computeBondAmount(50_000, cfg)).toBe(1000);
    expect(computeBondAmount(10_000_000, cfg)).toBe(100_000);
    expect(computeBondAmount(100_000, cfg)).toBe(1000);
  });

  it('no percentage, no amount or a negative amount: the floor; a negative floor counts as 0', () => {
    expect(computeBondAmount(10_000_000, { amountPct: 0, baseAmountSats: 1000 })).toBe(1000);
    expect(computeBondAmount(0, cfg)).toBe(1000);
    expect(computeBondAmount(-5, cfg)).toBe(1000);
    expect(computeBondAmount(10_000, { amountPct: 0.01, baseAmountSats: -10 })).toBe(100);
  });

  it('rounds to the nearest sat, half away from zero; a percentage that rounds to 0 falls back to the floor', () => {
    expect(computeBondAmount(233.1, { amountPct: 0.01, baseAmountSats: 0 })).toBe(2);
    expect(computeBondAmount(350, { amountPct: 0.01, baseAmountSats: 0 })).toBe(4);
    expect(computeBondAmount(40, { amountPct: 0.01, baseAmountSats: 7 })).toBe(7);
  });

  it('an absurd percentage saturates instead of overflowing', () => {
    expect(computeBondAmount(21e14, { amountPct: 1e300, baseAmountSats: 0 })).toBe(Number.MAX_SAFE_INTEGER);
    expect(computeBondAmount(21e14, { amountPct: Infinity, baseAmountSats: 0 })).toBe(Number.MAX_SAFE_INTEGER);
  });
});

describe('computeNodeShare (§8.2)', () => {
  it('splits without losing a sat: the node floors, the counterparty gets the rest', () => {
    expect(computeNodeShare(10_000, 0.5)).toEqual({ node: 5000, counterparty: 5000 });
    expect(computeNodeShare(10_000, 0)).toEqual({ node: 0, counterparty: 10_000 });
    expect(computeNodeShare(10_000, 1)).toEqual({ node: 10_000, counterparty: 0 });
    expect(computeNodeShare(333, 0.5)).toEqual({ node: 166, counterparty: 167 });
  });

  it('zero or negative amounts give nothing; an out-of-range share is clamped', () => {
    expect(computeNodeShare(0, 0.5).node).toBe(0);
    expect(computeNodeShare(-10, 0.5).node).toBe(0);
    expect(computeNodeShare(1000, -0.1)).toEqual({ node: 0, counterparty: 1000 });
    expect(computeNodeShare(1000, 1.5)).toEqual({ node: 1000, counterparty: 0 });
  });
});

describe('range slices and maker notional (§8.1, §8.3)', () => {
  it('a slice slashes its fiat share of the bond, never more than is left', () => {
    expect(rangeSliceSlash({ amountSats: 1000, slashedSats: 0 }, 40, 100)).toBe(400);
    expect(rangeSliceSlash({ amountSats: 1000, slashedSats: 800 }, 40, 100)).toBe(200);
    expect(rangeSliceSlash({ amountSats: 1000, slashedSats: 1000 }, 40, 100)).toBe(0);
    expect(rangeSliceSlash({ amountSats: 1000, slashedSats: 0 }, 40, 0)).toBe(0);
  });

  it('a maker bond is on the fixed amount, or the (maximum) fiat at the price, truncated', () => {
    expect(makerBondNotionalSats({ amount: 50_000, fiatAmount: 30, maxAmount: null }, null)).toBe(50_000);
    expect(makerBondNotionalSats({ amount: 0, fiatAmount: 0, maxAmount: 100 }, 60_000)).toBe(166_666);
    expect(makerBondNotionalSats({ amount: 0, fiatAmount: 30, maxAmount: null }, 60_000)).toBe(50_000);
    expect(makerBondNotionalSats({ amount: 0, fiatAmount: 30, maxAmount: null }, null)).toBeNull();
  });
});
