/**
 * `new-order` (`app/order.rs::order_action` and mostro-core's SmallOrder checks): after the buyer invoice (which needs
 * an activity), in the reference's order — currency allowlist, fiat amount of a single-amount order, non-negative
 * sats, range bounds, no premium on a fixed sats amount, then a sats quote for each fiat amount (both bounds of a
 * range) within [min_payment_amount, max_order_amount] —; the order's creation, the maker's bond where makers post
 * one, and a range remainder's start as an order of its own.
 */
import type { CantDoReason, SmallOrder } from '@mostro/protocol/schema';
import type { PriceQuote } from '../../../price/manager.js';
import { marketSats, quoteInRange } from '../amounts.js';
import type { TakerBond } from '../../../domain/bond.js';
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type OrderState, UNTOUCHED_ORDER_FIELDS } from '../../../domain/order.js';
import { orderExpiresAt, perPartyFee } from '../amounts.js';
import { type Clock, type Decision, newTrade, send } from '../model.js';
import { publicOrder } from '../views.js';
import { computeBondAmount, makerBondNotionalSats } from '../../../domain/bond-math.js';
import { makerBondRequired } from '../../../domain/bond-policy.js';
import { readInbound } from '../../../domain/messages.js';
import { unstorableTextAt } from '@mostro/protocol/text';
import { bondInvoiceKey, bondInvoiceMemo, makerBondRequested } from '../bonds.js';
import { stuck, type OrderContext } from '../context.js';
import type { NewOrderInput } from '../contract.js';

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

export interface NewOrderRequest {
  orderId: string;
  /** The `order` payload of `new-order`, already checked by `checkNewOrder`. */
  order: SmallOrder;
  sender: string;
  identity: string;
  tradeIndex: number | null;
  rid: Rid;
}

/** `prepare_new_order`: the client's status and created_at are ignored; the maker's side gets its keys. */
export function createOrder(r: NewOrderRequest, c: Clock): Decision {
  const s = r.order;
  const amount = s.amount ?? 0;
  const kind = s.kind ?? 'sell';
  const maker =
    kind === 'sell'
      ? { sellerPubkey: r.sender, masterSellerPubkey: r.identity, tradeIndexSeller: r.tradeIndex, buyerPubkey: null, masterBuyerPubkey: null, tradeIndexBuyer: null }
      : { buyerPubkey: r.sender, masterBuyerPubkey: r.identity, tradeIndexBuyer: r.tradeIndex, sellerPubkey: null, masterSellerPubkey: null, tradeIndexSeller: null };
  const order: OrderState = {
    ...UNTOUCHED_ORDER_FIELDS,
    ...maker,
    id: r.orderId,
    kind,
    status: 'pending',
    amount,
    fee: amount > 0 ? perPartyFee(amount, c.settings.feeRate) : 0,
    devFee: 0,
    fiatCode: s.fiat_code,
    fiatAmount: s.fiat_amount,
    minAmount: s.min_amount ?? null,
    maxAmount: s.max_amount ?? null,
    paymentMethod: s.payment_method,
    premium: s.premium,
    priceFromApi: amount === 0,
    creatorPubkey: r.sender,
    buyerInvoice: kind === 'buy' ? (s.buyer_invoice ?? null) : null,
    createdAt: c.now,
    expiresAt: orderExpiresAt(s.expires_at, c.now, c.settings),
  };
  return {
    trade: newTrade(order),
    effects: [
      { type: 'publish' },
      send(orderMessage(r.sender, { rid: r.rid, ti: r.tradeIndex, id: order.id, action: 'new-order', payload: { order: publicOrder(order) } })),
    ],
  };
}

/** A range remainder starts life pending and is announced to the maker's next trade key. */
export function openChildOrder(child: OrderState, announce: { to: string; rid: Rid; tradeIndex: number }, makerBond?: TakerBond): Decision {
  return {
    trade: { ...newTrade(child), ...(makerBond ? { makerBond } : {}) },
    effects: [
      { type: 'publish' },
      send(orderMessage(announce.to, { rid: announce.rid, ti: announce.tradeIndex, id: child.id, action: 'new-order', payload: { order: publicOrder(child) } })),
    ],
  };
}

/** A maker's `new-order`: checked, created and published (or held unpublished for the maker's bond). False when refused. */
export async function onNewOrder(ctx: OrderContext, i: NewOrderInput): Promise<boolean> {
  const { kind, rid } = readInbound(i.message.messageJson);
  const m = i.message;
  const { settings } = ctx;
  const payload = kind.payload;
  if (!payload || !('order' in payload)) {
    await ctx.reply(m.sender, rid, 'invalid_payload', kind.id ?? null);
    return false;
  }
  // Orders started before this check could not have stored such text either: their first write failed.
  if (unstorableTextAt(payload) !== null && ctx.patched('unstorable-text')) {
    await ctx.reply(m.sender, rid, 'invalid_payload', kind.id ?? null);
    return false;
  }
  const small = payload.order;
  if (small.buyer_invoice) {
    const check = await ctx.ports.ln.validateInvoice({ request: small.buyer_invoice, amountSats: small.amount ?? 0 });
    if (!check.valid) {
      await ctx.reply(m.sender, rid, 'invalid_invoice', kind.id ?? null);
      return false;
    }
  }
  const fields = { ...small, amount: small.amount ?? 0 };
  const quote = needsPrice(fields) ? await ctx.marketPrice(small.fiat_code) : undefined;
  const check = checkNewOrder(fields, settings, quote);
  if (!check.ok) {
    // No price at all: the reference logs it and sends nothing.
    if ('reason' in check) await ctx.reply(m.sender, rid, check.reason, kind.id ?? null);
    else ctx.log.warn('new-order without a market price', { fiatCode: small.fiat_code });
    return false;
  }
  // The maker's trade index is recorded with the order's first projection.
  ctx.recordTradeIndex({ identity: m.identity, sender: m.sender, index: kind.trade_index });
  const created = createOrder({ orderId: i.orderId, order: small, sender: m.sender, identity: m.identity, tradeIndex: kind.trade_index, rid }, ctx.clock());
  if (!makerBondRequired(settings.bond)) {
    await ctx.apply(created);
    return true;
  }
  // §12.1: the order waits, unpublished, for the maker's bond on its notional (a range's maximum at the price).
  const notionalSats = makerBondNotionalSats(created.trade.order, quote?.ok ? quote.price : null);
  if (notionalSats === null) {
    await ctx.reply(m.sender, rid, 'invalid_amount', kind.id ?? null);
    return false;
  }
  const id = ctx.uuid4();
  const amountSats = computeBondAmount(notionalSats, settings.bond!);
  let hold: { hash: string; request: string };
  try {
    hold = await ctx.ports.ln.createHoldInvoice({ key: bondInvoiceKey(id), amountSats, memo: bondInvoiceMemo(i.orderId) });
  } catch (err) {
    stuck('creating a bond hold invoice', err);
  }
  await ctx.apply(makerBondRequested(created, { id, ...hold, amountSats }, { identity: m.identity, tradeIndex: kind.trade_index, rid, notionalSats }));
  return true;
}
