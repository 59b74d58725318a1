/**
 * Order money math, exactly as the reference computes it (same f64 operations in the same order, Rust's
 * `f64::round` = half away from zero, `as i64` = truncation), so every amount a client sees matches. Pure: used by
 * the order state machine inside the workflow sandbox.
 */

/** Rust `f64::round`: half away from zero. */
export function roundHalfAwayFromZero(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** Each party's half of the Mostro fee: `round((fee × amount) / 2)`; `feeRate` is a fraction (0.006 = 0.6 %). */
export function perPartyFee(amountSats: number, feeRate: number): number {
  return roundHalfAwayFromZero((feeRate * amountSats) / 2);
}

/** The development fund's part of the total Mostro fee (`2 × per-party fee`), computed at take time. */
export function devFee(totalMostroFeeSats: number, devFeePercentage: number): number {
  return roundHalfAwayFromZero(totalMostroFeeSats * devFeePercentage);
}

/** What the seller locks in the hold invoice. */
export const sellerPays = (amountSats: number, fee: number): number => amountSats + fee;
/** What the buyer's invoice must be for (and what the buyer is paid). */
export const buyerReceives = (amountSats: number, fee: number): number => amountSats - fee;

/**
 * Sats for a fiat amount at the market price (`price` = fiat units per BTC), with the order's premium applied:
 * a positive premium gives fewer sats per fiat unit. Undefined when there is no usable price.
 */
export function marketSats(fiatAmount: number, price: number, premium: number): number | undefined {
  if (!(price > 0) || !Number.isFinite(price)) return undefined;
  let sats = (fiatAmount / price) * 100_000_000;
  if (premium !== 0) sats -= (premium / 100) * sats;
  return Math.trunc(sats);
}

export interface ExpirySettings {
  /** `[mostro] expiration_hours`: lifetime of a pending order when the client sends `expires_at: null`. */
  expirationHours: number;
  /** `[mostro] max_expiration_days`: cap on a client-chosen `expires_at`. */
  maxExpirationDays: number;
}

/**
 * `expires_at` of a new order: the client's value capped at now + max_expiration_days, or now + expiration_hours
 * when it sent none. A client `0` is kept (the order expires at once), as upstream does.
 */
export function orderExpiresAt(requested: number | null | undefined, now: number, s: ExpirySettings): number {
  const max = now + s.maxExpirationDays * 86_400;
  if (requested === null || requested === undefined) return now + s.expirationHours * 3_600;
  return Math.min(requested, max);
}

/** The creation-time range check: a quote outside [min_payment_amount, max_order_amount] is `out_of_range_sats_amount`. */
export function quoteInRange(sats: number, limits: { minPaymentAmount: number; maxOrderAmount: number }): boolean {
  return sats >= limits.minPaymentAmount && sats <= limits.maxOrderAmount;
}
