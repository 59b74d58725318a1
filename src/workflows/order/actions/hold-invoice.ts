/**
 * The escrow's hold invoice, as LND reports it: issued (the seller is asked to pay), accepted (the seller's HTLC is
 * locked and the trade starts, or the buyer still owes its invoice), canceled by LND itself. Late and repeated
 * reports change nothing.
 */
import { orderMessage } from '../../../domain/messages.js';
import type { OrderState } from '../../../domain/order.js';
import type { UserInfo } from '@mostro/protocol/schema';
import { type Clock, type Decision, type Effect, type Trade, closeDispute, moveTo, send } from '../model.js';
import { addInvoiceOrder, escrowLockedOrder, payInvoiceOrder } from '../views.js';
import { bondsOf, makerBondCanceled, makerBondLocked, takerBondCanceled, takerBondLocked } from '../bonds.js';
import { NO_REPUTATION, type OrderContext } from '../context.js';
import type { HoldInvoiceExpiring, HoldInvoiceUpdate } from '../../shared/hold-invoice.js';
import { escrowDeadline } from './timers.js';

/** The hold invoice exists: the seller is asked to pay it and gets a full window from now. */
export function holdInvoiceIssued(t: Trade, hold: { hash: string; request: string }, c: Clock): Decision {
  const d = moveTo(t, 'waiting-payment', { hash: hold.hash, takenAt: c.now }, c.now);
  const o = d.trade.order;
  const rid = t.triggerRid;
  d.effects.push(
    send(
      orderMessage(o.sellerPubkey!, {
        rid,
        ti: o.tradeIndexSeller,
        id: o.id,
        action: 'pay-invoice',
        payload: { payment_request: [payInvoiceOrder(o), hold.request, null] },
      }),
    ),
    send(orderMessage(o.buyerPubkey!, { rid, ti: o.tradeIndexBuyer, id: o.id, action: 'waiting-seller-to-pay' })),
  );
  return d;
}

/** `notify_taker_reputation`: the maker learns who took the order (the key itself is never shown). */
export function reputationNotice(to: string, o: OrderState, action: 'pay-invoice' | 'add-invoice', rep: UserInfo): Effect {
  return send(orderMessage(to, { id: o.id, action, payload: { peer: { pubkey: '', reputation: rep } } }));
}

/** LND reports the escrow ACCEPTED (the seller's HTLC is locked). Repeats and late reports change nothing. */
export function holdInvoiceAccepted(t: Trade, takerReputation: UserInfo, c: Clock): Decision {
  const o = t.order;
  if ((o.status !== 'waiting-payment' && o.status !== 'waiting-buyer-invoice') || o.invoiceHeldAt !== 0) return { trade: t, effects: [] };
  const rid = t.triggerRid;
  if (o.buyerInvoice) {
    const d = moveTo(t, 'active', { invoiceHeldAt: c.now }, c.now);
    const n = d.trade.order;
    d.effects.push(
      send(orderMessage(n.sellerPubkey!, { rid, id: n.id, action: 'buyer-took-order', payload: { order: escrowLockedOrder(n, 'seller') } })),
      send(orderMessage(n.buyerPubkey!, { rid, id: n.id, action: 'hold-invoice-payment-accepted', payload: { order: escrowLockedOrder(n, 'buyer') } })),
    );
    return d;
  }
  // Buy order taken by a seller: the buyer (maker) still owes an invoice and gets a full window for it.
  const d = moveTo(t, 'waiting-buyer-invoice', { invoiceHeldAt: c.now, takenAt: c.now }, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(n.buyerPubkey!, { rid, id: n.id, action: 'add-invoice', payload: { order: addInvoiceOrder(n, true) } })),
    send(orderMessage(n.sellerPubkey!, { rid, id: n.id, action: 'waiting-buyer-invoice' })),
    reputationNotice(n.buyerPubkey!, n, 'add-invoice', takerReputation),
  );
  return d;
}

/** LND canceled the escrow by itself (expiry): an order that was relying on it is over; both parties are told. */
export function holdInvoiceCanceled(t: Trade, hash: string, c: Clock): Decision {
  const o = t.order;
  if (o.hash !== hash || (o.status !== 'active' && o.status !== 'fiat-sent' && o.status !== 'dispute')) return { trade: t, effects: [] };
  const d = moveTo(t, 'canceled', {}, c.now);
  // In a dispute the sats went back to the seller: the dispute is over, as a solver's cancel would have ended it.
  if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'hold-invoice-payment-canceled' })),
    send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'hold-invoice-payment-canceled' })),
  );
  return d;
}

/** LND's report on one of the order's hold invoices: the escrow, the maker's bond or a taker's bond. */
export async function onHoldReport(ctx: OrderContext, u: HoldInvoiceUpdate): Promise<void> {
  const t = ctx.trade;
  const c = () => ctx.clock();
  if (t.makerBond?.hash === u.hash) {
    if (u.state === 'accepted') return ctx.apply(makerBondLocked(t, u.hash, c()));
    if (u.state === 'canceled') return ctx.apply(makerBondCanceled(t, u.hash));
    return;
  }
  if (bondsOf(t).some((b) => b.hash === u.hash)) {
    if (u.state === 'accepted') return ctx.apply(takerBondLocked(t, u.hash, c()));
    if (u.state === 'canceled') return ctx.apply(takerBondCanceled(t, u.hash, c()));
    return;
  }
  if (u.hash !== t.order.hash) return; // a previous take's invoice
  if (u.state === 'accepted') {
    // The buyer (maker) hears who took the order only when it still owes its invoice.
    const rep = t.order.buyerInvoice ? NO_REPUTATION : await ctx.io(() => ctx.ports.db.userReputation({ identity: t.order.masterSellerPubkey }));
    return ctx.apply(holdInvoiceAccepted(t, rep, c()));
  }
  if (u.state === 'canceled') {
    // Workflows that ignored LND canceling a disputed escrow before replay that.
    if (t.order.status === 'dispute' && !ctx.patched('dispute-escrow-canceled')) return;
    return ctx.apply(holdInvoiceCanceled(t, u.hash, c()));
  }
}

/** The chain is within the margin of the escrow HTLC's expiry: act now, whatever the clock says. */
export async function onExpiring(ctx: OrderContext, e: HoldInvoiceExpiring): Promise<void> {
  const t = ctx.trade;
  if (e.hash !== t.order.hash || (t.order.status !== 'active' && t.order.status !== 'fiat-sent')) return;
  ctx.log.warn('the escrow HTLC is about to expire by block height: the escrow deadline acts', { orderId: t.order.id, expiryHeight: e.expiryHeight, height: e.height });
  await ctx.apply(escrowDeadline(t, ctx.clock(), ctx.uuid4()));
}
