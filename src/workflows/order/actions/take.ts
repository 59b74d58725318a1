/**
 * `take-sell` / `take-buy` (`app/take_sell.rs`, `app/take_buy.rs`): the order-local checks after the cross-order
 * `pending_order_exists` check and before invoice validation — kind, status, take window, not the maker, the range
 * fiat amount, the market quote with fee and dev fee —, the take's decision, and its handling.
 */
import type { CantDoReason, OrderStatus } from '@mostro/protocol/schema';
import type { PriceQuote } from '../../../price/manager.js';
import { devFee, marketSats, perPartyFee } from '../amounts.js';
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type Clock, type Decision, type Trade, moveTo, send } from '../model.js';
import { addInvoiceOrder } from '../views.js';
import { takerBondRequired } from '../../../domain/bond-policy.js';
import type { InboundMessage } from '../../../domain/messages.js';
import { bondInvoiceKey, bondInvoiceMemo, resendBondInvoice, takeUnderBonds, takerBondAmount, takerBondRequested } from '../bonds.js';
import { stuck, type MessageHandler } from '../context.js';

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

export interface TakeInput {
  action: 'take-sell' | 'take-buy';
  sender: string;
  identity: string;
  tradeIndex: number | null;
  rid: Rid;
  /** Quoted by `checkTake`. */
  quote: { fiatAmount: number; amount: number; fee: number; devFee: number };
  /** A validated buyer invoice sent with take-sell. */
  invoice: string | null;
}

export function take(t: Trade, i: TakeInput, c: Clock): Decision {
  const o = t.order;
  const common = { fiatAmount: i.quote.fiatAmount, amount: i.quote.amount, fee: i.quote.fee, devFee: i.quote.devFee, takenAt: c.now };
  if (i.action === 'take-buy') {
    const order = { ...o, ...common, sellerPubkey: i.sender, masterSellerPubkey: i.identity, tradeIndexSeller: i.tradeIndex };
    return { trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 }, effects: [{ type: 'create-hold' }] };
  }
  const buyer = { ...common, buyerPubkey: i.sender, masterBuyerPubkey: i.identity, tradeIndexBuyer: i.tradeIndex };
  if (i.invoice) {
    const order = { ...o, ...buyer, buyerInvoice: i.invoice };
    return { trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 }, effects: [{ type: 'create-hold' }] };
  }
  const d = moveTo(t, 'waiting-buyer-invoice', buyer, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(i.sender, { rid: i.rid, ti: n.tradeIndexBuyer, id: n.id, action: 'add-invoice', payload: { order: addInvoiceOrder(n) } })),
    send(orderMessage(n.sellerPubkey!, { rid: i.rid, ti: n.tradeIndexSeller, id: n.id, action: 'waiting-buyer-invoice' })),
  );
  return d;
}

/** `take-sell` / `take-buy`: the taker's checks, then the escrow (or, where takers post bonds, the taker's bond). */
export const onTake: MessageHandler = async (ctx, m: InboundMessage, { kind, rid }) => {
  const action = m.action as 'take-sell' | 'take-buy';
  const o = ctx.trade.order;
  const { settings } = ctx;
  if (await ctx.io(() => ctx.ports.db.pendingOrderExists({ action, identity: m.identity, exceptOrderId: o.id }))) return ctx.reply(m.sender, rid, 'pending_order_exists');
  const p = kind.payload;
  let fiatAmount: number | null = null;
  let invoice: string | null = null;
  if (p && 'amount' in p) fiatAmount = p.amount;
  if (p && 'payment_request' in p) {
    fiatAmount = p.payment_request[2];
    if (action === 'take-sell') invoice = p.payment_request[1];
  }
  const quote = takeNeedsPrice(o) ? await ctx.marketPrice(o.fiatCode) : undefined;
  const q = checkTake(o, { action, sender: m.sender, fiatAmount }, ctx.clock().now, settings, quote);
  if (!q.ok) {
    if ('reason' in q) return ctx.reply(m.sender, rid, q.reason);
    ctx.log.warn('take without a market price', { fiatCode: o.fiatCode });
    return;
  }
  const bonded = takerBondRequired(settings.bond);
  if (bonded) {
    // §10.1: a locked bond commits the order; a taker that already has a bond gets the same invoice again.
    const b = takeUnderBonds(ctx.trade, m.sender);
    if (b.type === 'committed') return ctx.reply(m.sender, rid, 'pending_order_exists');
    if (b.type === 'resend') return ctx.apply(resendBondInvoice(ctx.trade, b.bond, rid));
  }
  if (invoice) {
    const check = await ctx.io(() => ctx.ports.ln.validateInvoice({ request: invoice, amountSats: q.amount, feeSats: q.fee }));
    if (!check.valid) return ctx.reply(m.sender, rid, 'invalid_invoice');
  }
  // The taker's trade index is recorded with the take's projection (a bond request counts as a take attempt).
  ctx.recordTradeIndex({ identity: m.identity, sender: m.sender, index: kind.trade_index });
  const snapshot = { taker: m.sender, identity: m.identity, tradeIndex: kind.trade_index, fiatAmount: q.fiatAmount, amount: q.amount, fee: q.fee, devFee: q.devFee, buyerInvoice: invoice, rid };
  if (bonded) {
    const id = ctx.uuid4();
    const amountSats = takerBondAmount(q.amount, settings);
    let hold: { hash: string; request: string };
    try {
      hold = await ctx.ports.ln.createHoldInvoice({ key: bondInvoiceKey(id), amountSats, memo: bondInvoiceMemo(o.id) });
    } catch (err) {
      stuck('creating a bond hold invoice', err);
    }
    return ctx.apply(takerBondRequested(ctx.trade, snapshot, { id, ...hold, amountSats }, ctx.clock()));
  }
  await ctx.apply(take(ctx.trade, { action, sender: m.sender, identity: m.identity, tradeIndex: kind.trade_index, rid, quote: q, invoice }, ctx.clock()));
};
