/** Support staff's repair requests (the `support` signal, `mostro admin signal`): see `SupportAction`. */
import { orderMessage } from '../../../domain/messages.js';
import type { OrderSettings } from '../../../domain/order-settings.js';
import type { SupportAction, SupportRequest } from '../../../domain/support.js';
import { publishedStatus } from '../../../nostr/events.js';
import { type Clock, type Decision, type Trade, closeDispute, moveTo, send } from '../model.js';
import { payoutInvoiceOrder } from '../views.js';
import type { OrderContext } from '../context.js';

export function supportApplies(t: Trade, action: SupportAction, s: Pick<OrderSettings, 'devFeeLightningAddress'>): boolean {
  const o = t.order;
  switch (action) {
    case 'retry-payout':
      return o.status === 'settled-hold-invoice' && o.buyerInvoice !== null;
    case 'retry-dev-fee':
      return o.status === 'success' && !o.devFeePaid && o.devFee > 0 && s.devFeeLightningAddress !== null;
    case 'republish':
      return publishedStatus(o.kind, o.status) !== null;
    case 'cancel-with-refund':
      return (o.status === 'active' || o.status === 'fiat-sent' || o.status === 'dispute') && o.hash !== null;
    case 'resend-add-invoice':
      return o.status === 'settled-hold-invoice' && o.failedPayment && t.payoutDueAt === null && o.buyerPubkey !== null;
  }
}

export function supportRequest(t: Trade, r: SupportRequest, c: Clock): Decision {
  if (!supportApplies(t, r.action, c.settings)) return { trade: t, effects: [] };
  switch (r.action) {
    case 'retry-payout':
      return { trade: { ...t, payoutDueAt: c.now }, effects: [] };
    case 'retry-dev-fee':
      return { trade: { ...t, devFeeDueAt: c.now, devFeeAttempts: 0 }, effects: [] };
    case 'republish':
      return { trade: t, effects: [{ type: 'publish' }] };
    case 'resend-add-invoice':
      // The same message as the add-invoice it repeats: the release's request id only if that one came from the
      // release's own attempt (a single allowed attempt), none after retries.
      return {
        trade: t,
        effects: [
          send(
            orderMessage(t.order.buyerPubkey!, {
              rid: t.payoutSeq === 0 && c.settings.paymentAttempts <= 1 ? t.releaseRid : null,
              id: t.order.id,
              action: 'add-invoice',
              payload: { order: payoutInvoiceOrder(t.order) },
            }),
          ),
        ],
      };
    case 'cancel-with-refund': {
      const o = t.order;
      const d = moveTo(t, 'canceled-by-admin', {}, c.now);
      d.effects.unshift({ type: 'cancel-hold', hash: o.hash! });
      if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
      d.effects.push(
        send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'admin-canceled' })),
        send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'admin-canceled' })),
      );
      return d;
    }
  }
}

export async function onSupport(ctx: OrderContext, r: SupportRequest): Promise<void> {
  const t = ctx.trade;
  ctx.log.info('support request', { orderId: t.order.id, action: r.action, operator: r.operator, reason: r.reason });
  return ctx.apply(supportRequest(t, r, ctx.clock()));
}
