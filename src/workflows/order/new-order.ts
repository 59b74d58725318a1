/**
 * `new-order` checks after the buyer invoice (which needs an activity), in the reference's order
 * (`app/order.rs::order_action` and mostro-core's SmallOrder checks): currency allowlist, fiat amount of a
 * single-amount order, non-negative sats, range bounds, no premium on a fixed sats amount, then a sats quote for each
 * fiat amount (both bounds of a range) within [min_payment_amount, max_order_amount]. Pure.
 */
import type { CantDoReason, SmallOrder } from '../../protocol/schema.js';
import type { PriceQuote } from '../../price/manager.js';
import { marketSats, quoteInRange } from './amounts.js';

export interface NewOrderLimits {
  /** `[mostro] fiat_currencies_accepted`; empty accepts every currency. */
  fiatCurrenciesAccepted: readonly string[];
  minPaymentAmount: number;
  maxOrderAmount: number;
}

export type NewOrderCheck =
  | { ok: true; isRange: boolean }
  | { ok: false; reason: CantDoReason }
  /** No price at all for the currency: upstream logs it and sends no reply. */
  | { ok: false; internal: 'no_price' };

type OrderFields = Pick<SmallOrder, 'amount' | 'fiat_code' | 'fiat_amount' | 'min_amount' | 'max_amount' | 'premium'>;

const absent = (v: number | null | undefined): v is null | undefined => v === null || v === undefined;
const isRange = (o: OrderFields) => !absent(o.min_amount) && !absent(o.max_amount);

/** A market-priced order (sats amount 0) is quoted at creation, so the workflow must fetch a price first. */
export const needsPrice = (o: OrderFields): boolean => o.amount === 0;

export function checkNewOrder(o: OrderFields, limits: NewOrderLimits, price: PriceQuote | undefined): NewOrderCheck {
  const cantDo = (reason: CantDoReason): NewOrderCheck => ({ ok: false, reason });
  if (limits.fiatCurrenciesAccepted.length > 0 && !limits.fiatCurrenciesAccepted.includes(o.fiat_code)) {
    return cantDo('invalid_fiat_currency');
  }
  // Range orders carry fiat_amount 0; only single-amount orders need a positive one.
  if (absent(o.min_amount) && absent(o.max_amount) && o.fiat_amount <= 0) return cantDo('invalid_amount');
  if (o.amount < 0) return cantDo('invalid_amount');
  let fiatAmounts = [o.fiat_amount];
  if (isRange(o)) {
    const min = o.min_amount!;
    const max = o.max_amount!;
    if (min < 0 || max < 0 || min >= max || o.amount !== 0) return cantDo('invalid_amount');
    fiatAmounts = [min, max];
  }
  if (o.amount !== 0 && o.premium !== 0) return cantDo('invalid_parameters');
  for (const fiat of fiatAmounts) {
    let quote = o.amount;
    if (o.amount === 0) {
      if (!price || !price.ok) return price && !price.ok && price.reason === 'price_too_stale' ? cantDo('price_too_stale') : { ok: false, internal: 'no_price' };
      // The creation check quotes without the premium, as upstream does.
      const sats = marketSats(fiat, price.price, 0);
      if (sats === undefined) return { ok: false, internal: 'no_price' };
      quote = sats;
    }
    if (quote < 0) return cantDo('invalid_amount');
    if (!quoteInRange(quote, limits)) return cantDo('out_of_range_sats_amount');
  }
  return { ok: true, isRange: isRange(o) };
}
