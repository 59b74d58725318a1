/**
 * The order-local part of take-sell / take-buy (`app/take_sell.rs`, `app/take_buy.rs`), after the cross-order
 * `pending_order_exists` check and before invoice validation: kind, status, take window, not the maker, the range
 * fiat amount, and the market quote with fee and dev fee. Pure.
 */
import type { CantDoReason, OrderStatus } from '../../protocol/schema.js';
import type { PriceQuote } from '../../price/manager.js';
import { devFee, marketSats, perPartyFee } from './amounts.js';

export interface TakeableOrder {
  kind: 'buy' | 'sell';
  status: OrderStatus;
  /** Unix seconds; the take window closes then. */
  expiresAt: number;
  /** The maker's trade key. */
  creatorPubkey: string;
  amount: number;
  fee: number;
  fiatAmount: number;
  minAmount: number | null;
  maxAmount: number | null;
  premium: number;
}

export interface TakeRequest {
  action: 'take-sell' | 'take-buy';
  /** The taker's trade key. */
  sender: string;
  /** The fiat amount a range take names (`{"amount":N}` or `payment_request[2]`). */
  fiatAmount: number | null;
}

export interface FeeSettings {
  /** `[mostro] fee`, a fraction of the amount shared by both parties. */
  feeRate: number;
  devFeePercentage: number;
}

export type TakeCheck =
  | { ok: true; fiatAmount: number; amount: number; fee: number; devFee: number }
  | { ok: false; reason: CantDoReason }
  | { ok: false; internal: 'no_price' };

const isRange = (o: TakeableOrder) => o.minAmount !== null && o.maxAmount !== null;

/** Market-priced orders (and every range take) are quoted at take time. */
export const takeNeedsPrice = (o: TakeableOrder): boolean => o.amount === 0;

export function checkTake(o: TakeableOrder, t: TakeRequest, now: number, fees: FeeSettings, price: PriceQuote | undefined): TakeCheck {
  const cantDo = (reason: CantDoReason): TakeCheck => ({ ok: false, reason });
  if (o.kind !== (t.action === 'take-sell' ? 'sell' : 'buy')) return cantDo('invalid_order_kind');
  if (o.status !== 'pending' && o.status !== 'waiting-taker-bond') return cantDo('invalid_order_status');
  if (now >= o.expiresAt) return cantDo('invalid_order_status');
  if (t.sender === o.creatorPubkey) return cantDo('invalid_pubkey');
  let fiatAmount = o.fiatAmount;
  if (isRange(o)) {
    if (t.fiatAmount === null || t.fiatAmount < o.minAmount! || t.fiatAmount > o.maxAmount!) return cantDo('out_of_range_sats_amount');
    fiatAmount = t.fiatAmount;
  }
  let amount = o.amount;
  let fee = o.fee;
  if (o.amount === 0) {
    if (!price || !price.ok) return price && !price.ok && price.reason === 'price_too_stale' ? cantDo('price_too_stale') : { ok: false, internal: 'no_price' };
    const sats = marketSats(fiatAmount, price.price, o.premium);
    if (sats === undefined) return { ok: false, internal: 'no_price' };
    amount = sats;
    fee = perPartyFee(amount, fees.feeRate);
  }
  return { ok: true, fiatAmount, amount, fee, devFee: devFee(2 * fee, fees.devFeePercentage) };
}

/** What is left of a range order after a trade of `tradedFiat` (§23.4): nothing, one amount, or a smaller range. */
export function rangeRemainder(
  minAmount: number,
  maxAmount: number,
  tradedFiat: number,
): { kind: 'none' } | { kind: 'single'; fiatAmount: number } | { kind: 'range'; minAmount: number; maxAmount: number } {
  const newMax = maxAmount - tradedFiat;
  if (newMax < minAmount) return { kind: 'none' };
  if (newMax === minAmount) return { kind: 'single', fiatAmount: newMax };
  return { kind: 'range', minAmount, maxAmount: newMax };
}
