/** `release`: the seller releases the escrow; the buyer's payout becomes due and a range remainder lives on as a child order (§23). */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import { type OrderState, UNTOUCHED_ORDER_FIELDS } from '../../../domain/order.js';
import { rangeRemainder } from './take.js';
import { type Clock, type Decision, type Guard, type NextTrade, type Trade, allow, closeDispute, deny, moveTo, refuse, send } from '../model.js';
import type { MessageHandler } from '../context.js';
import { badNextTrade, nextTradeOf } from './fiat-sent.js';
import { holdInvoiceCanceled } from './hold-invoice.js';
import { settleEscrow } from '../money.js';

/** `release`: the seller, after fiat-sent (or during a dispute, which it then closes). */
export function canRelease(o: OrderState, sender: string): Guard {
  if (sender !== o.sellerPubkey) return deny('invalid_peer');
  if (o.status !== 'fiat-sent' && o.status !== 'dispute') return deny('not_allowed_by_status');
  return allow;
}

/**
 * The remainder of a range order after this trade, as a new pending order under the maker's next trade key
 * (§23): a sell maker names the key on `release`, a buy maker on `fiat-sent`. Null when nothing remains or no key.
 */
export function childOrder(o: OrderState, next: NextTrade | null, childId: string): OrderState | null {
  if (o.minAmount === null || o.maxAmount === null || !next) return null;
  const rest = rangeRemainder(o.minAmount, o.maxAmount, o.fiatAmount);
  if (rest.kind === 'none') return null;
  const range = rest.kind === 'single' ? { fiatAmount: rest.fiatAmount, minAmount: null, maxAmount: null } : { fiatAmount: 0, minAmount: rest.minAmount, maxAmount: rest.maxAmount };
  const fullPrivacy = (master: string | null, trade: string | null) => master === null || master === trade;
  const maker =
    o.kind === 'sell'
      ? {
          sellerPubkey: next.pubkey,
          masterSellerPubkey: fullPrivacy(o.masterSellerPubkey, o.sellerPubkey) ? next.pubkey : o.masterSellerPubkey,
          tradeIndexSeller: next.index,
          buyerPubkey: null,
          masterBuyerPubkey: null,
          tradeIndexBuyer: null,
        }
      : {
          buyerPubkey: next.pubkey,
          masterBuyerPubkey: fullPrivacy(o.masterBuyerPubkey, o.buyerPubkey) ? next.pubkey : o.masterBuyerPubkey,
          tradeIndexBuyer: next.index,
          sellerPubkey: null,
          masterSellerPubkey: null,
          tradeIndexSeller: null,
        };
  return {
    ...o,
    ...UNTOUCHED_ORDER_FIELDS,
    ...range,
    ...maker,
    id: childId,
    status: 'pending',
    amount: 0,
    fee: 0,
    devFee: 0,
    creatorPubkey: next.pubkey,
    rangeParentId: o.id,
  };
}

/**
 * The seller released (guarded by `canRelease`) and the escrow is settled: the buyer is told, a range remainder
 * becomes a child order, the seller is thanked and invited to rate, and the payout is due now.
 */
export function released(t: Trade, i: { rid: Rid; nextTrade: NextTrade | null; childId: string }, c: Clock): Decision {
  const next = t.order.kind === 'sell' ? i.nextTrade : t.order.nextTradePubkey ? { pubkey: t.order.nextTradePubkey, index: t.order.nextTradeIndex } : null;
  const d = moveTo(t, 'settled-hold-invoice', {}, c.now);
  d.trade = { ...d.trade, releaseRid: i.rid, payoutDueAt: c.now };
  const o = d.trade.order;
  if (t.order.status === 'dispute') d.effects.push(closeDispute(t.order, 'settled'));
  d.effects.push(send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'released' })));
  const child = childOrder(o, next, i.childId);
  if (child && next) d.effects.push({ type: 'start-child', child, announce: { to: next.pubkey, rid: i.rid, tradeIndex: next.index } });
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { rid: i.rid, id: o.id, action: 'hold-invoice-payment-settled' })),
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'rate' })),
  );
  return d;
}

export const onRelease: MessageHandler = async (ctx, m, { kind, rid }) => {
  const t = ctx.trade;
  const g = canRelease(t.order, m.sender);
  if (!g.ok) return ctx.apply(refuse(t, m.sender, rid, g.reason));
  if (badNextTrade(kind.payload) && ctx.patched('next-trade-key-checked')) return ctx.apply(refuse(t, m.sender, rid, 'invalid_payload'));
  // LND gave the HTLC back before the release (its CLTV ran out; the report is still on its way): the trade is over.
  if ((await settleEscrow(ctx, t)) === 'canceled') return ctx.apply(holdInvoiceCanceled(t, t.order.hash!, ctx.clock()));
  return ctx.apply(released(ctx.trade, { rid, nextTrade: nextTradeOf(kind.payload), childId: ctx.uuid4() }, ctx.clock()));
};
