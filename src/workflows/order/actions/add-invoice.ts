/** `add-invoice`: the buyer's payout invoice — before the escrow (sell), after it (buy), or a new one after failed payouts. */
import { type Rid, orderMessage } from '../../../domain/messages.js';
import type { OrderState } from '../../../domain/order.js';
import type { UserInfo } from '@mostro/protocol/schema';
import { reputationNotice } from './hold-invoice.js';
import { type Clock, type Decision, type Guard, type Trade, allow, deny, moveTo, refuse, send } from '../model.js';
import { escrowLockedOrder } from '../views.js';
import { NO_REPUTATION, type MessageHandler } from '../context.js';

/**
 * `add-invoice`: the buyer, while the order waits for the buyer's invoice, or for a new payout invoice once no payout
 * attempt may still succeed — while one is in flight (its hash recorded) a second invoice could be paid as well
 * (protocol.md §20.3: the reference's compare-and-set requires no recorded payout hash).
 */
export function canAddInvoice(o: OrderState, sender: string): Guard {
  if (sender !== o.buyerPubkey) return deny('invalid_peer');
  if (o.status !== 'waiting-buyer-invoice' && o.status !== 'settled-hold-invoice') return deny('not_allowed_by_status');
  if (o.status === 'settled-hold-invoice' && o.payoutPaymentHash !== null) return deny('not_allowed_by_status');
  return allow;
}

/** The buyer's `add-invoice` (guarded by `canAddInvoice`, invoice validated for amount − fee). */
export function addInvoice(t: Trade, i: { sender: string; rid: Rid; invoice: string }, takerReputation: UserInfo, c: Clock): Decision {
  const o = t.order;
  if (o.status === 'settled-hold-invoice') {
    // A new payout invoice after failed payments: the next attempt pays it, from a fresh retry budget.
    const order = { ...o, buyerInvoice: i.invoice, paymentAttempts: 0, failedPayment: false };
    return {
      trade: { ...t, order, payoutSeq: t.payoutSeq + 1, payoutDueAt: c.now },
      effects: [send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'invoice-updated' }))],
    };
  }
  if (o.invoiceHeldAt === 0) {
    // Sell order: the seller has not paid yet; the escrow is created now, announced with this request's id.
    const order = { ...o, buyerInvoice: i.invoice };
    return {
      trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 },
      effects: [reputationNotice(o.sellerPubkey!, o, 'pay-invoice', takerReputation), { type: 'create-hold' }],
    };
  }
  // Buy order whose escrow is already locked: the trade starts.
  const d = moveTo(t, 'active', { buyerInvoice: i.invoice }, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(n.sellerPubkey!, { id: n.id, action: 'buyer-took-order', payload: { order: escrowLockedOrder(n, 'seller') } })),
    send(
      orderMessage(n.buyerPubkey!, {
        rid: i.rid,
        id: n.id,
        action: 'hold-invoice-payment-accepted',
        payload: { order: escrowLockedOrder(n, 'buyer', true) },
      }),
    ),
  );
  return d;
}

export const onAddInvoice: MessageHandler = async (ctx, m, { kind, rid }) => {
  const t = ctx.trade;
  // Histories that accepted a new invoice while a payout was in flight replay that (the patch marker is recorded
  // the first time a running workflow meets the situation again).
  const payoutInFlight = t.order.status === 'settled-hold-invoice' && t.order.payoutPaymentHash !== null;
  const g = payoutInFlight && !ctx.patched('no-invoice-while-payout-in-flight') ? canAddInvoice({ ...t.order, payoutPaymentHash: null }, m.sender) : canAddInvoice(t.order, m.sender);
  if (!g.ok) return ctx.apply(refuse(t, m.sender, rid, g.reason));
  const p = kind.payload;
  if (!p || !('payment_request' in p)) return ctx.apply(refuse(t, m.sender, rid, 'invalid_payload'));
  const invoice = p.payment_request[1];
  const check = await ctx.io(() => ctx.ports.ln.validateInvoice({ request: invoice, amountSats: t.order.amount, feeSats: t.order.fee }));
  if (!check.valid) return ctx.apply(refuse(ctx.trade, m.sender, rid, 'invalid_invoice'));
  // Only the sell path (escrow not created yet) shows the maker who took the order.
  const notice = t.order.status === 'waiting-buyer-invoice' && t.order.invoiceHeldAt === 0;
  const rep = notice ? await ctx.io(() => ctx.ports.db.userReputation({ identity: t.order.masterBuyerPubkey })) : NO_REPUTATION;
  return ctx.apply(addInvoice(ctx.trade, { sender: m.sender, rid, invoice }, rep, ctx.clock()));
};
