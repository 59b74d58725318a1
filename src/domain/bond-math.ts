/**
 * Anti-abuse bond amounts and shares (bonds.md §8; MostroP2P/mostro `src/app/bond/math.rs`). Pure integer sats math,
 * used by the order workflow (what a taker or maker locks) and the slashed-bond payout (how a slashed bond splits
 * between the node and the honest counterparty). Amounts stay far below 2^53 (21e14 sats at most), so "saturate at
 * i64::MAX" becomes saturate at the largest exact integer.
 */

export interface BondAmountSettings {
  /** Fraction of the order's sats (0.01 = 1 %). */
  amountPct: number;
  /** Floor in sats. */
  baseAmountSats: number;
}

const MAX_SATS = Number.MAX_SAFE_INTEGER;

/** Round half away from zero (3.5 → 4, −3.5 → −4), as Rust's `f64::round`. */
const roundHalfAway = (x: number): number => Math.sign(x) * Math.round(Math.abs(x));

/** §8.1: the bond for an order of `orderAmountSats`: the percentage, never below the floor. */
export function computeBondAmount(orderAmountSats: number, cfg: BondAmountSettings): number {
  const base = Math.max(cfg.baseAmountSats, 0);
  if (!(orderAmountSats > 0) || !(cfg.amountPct > 0)) return base;
  const raw = roundHalfAway(orderAmountSats * cfg.amountPct);
  const pct = Number.isFinite(raw) ? Math.min(Math.max(raw, 0), MAX_SATS) : MAX_SATS;
  return Math.max(pct, base);
}

/**
 * §8.2: what the node keeps of a slashed bond (`floor(amount × pct)`, pct clamped to [0, 1]); the counterparty gets
 * the rest, so the two always add up to the bond.
 */
export function computeNodeShare(amountSats: number, pct: number): { node: number; counterparty: number } {
  if (!(amountSats > 0)) return { node: 0, counterparty: Math.max(amountSats, 0) };
  const p = Number.isNaN(pct) ? 0 : Math.min(Math.max(pct, 0), 1);
  const node = Math.min(Math.max(Math.floor(amountSats * p), 0), amountSats);
  return { node, counterparty: amountSats - node };
}

/**
 * §8.3: the part of a range maker's bond slashed for one slice, proportional in fiat (so it does not drift with the
 * price) and never more than what is left of the bond; 0 means nothing to slash.
 */
export function rangeSliceSlash(parent: { amountSats: number; slashedSats: number }, sliceFiat: number, rootMaxFiat: number): number {
  if (!(rootMaxFiat > 0)) return 0;
  const raw = roundHalfAway((parent.amountSats * sliceFiat) / rootMaxFiat);
  return Math.min(Math.max(raw, 0), Math.max(parent.amountSats - parent.slashedSats, 0));
}

/**
 * §8.1, maker bonds: the sats the bond percentage applies to — the fixed amount, or for a market-priced order its fiat
 * (a range order: its maximum) at the price, truncated. Null when a market-priced order has no usable price.
 */
export function makerBondNotionalSats(o: { amount: number; fiatAmount: number; maxAmount: number | null }, pricePerBtc: number | null): number | null {
  if (o.amount > 0) return o.amount;
  const fiat = o.maxAmount !== null ? o.maxAmount : o.fiatAmount;
  if (!(fiat > 0) || pricePerBtc === null || !(pricePerBtc > 0)) return null;
  return Math.trunc((fiat / pricePerBtc) * 1e8);
}
