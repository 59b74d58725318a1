/** Time (§22, §31): the trade's next deadline, what is due when it passes (expiry, waiting timeouts, the escrow guard). */
import { orderMessage } from '../../../domain/messages.js';
import type { OrderSettings } from '../../../domain/order-settings.js';
import { openDispute } from './dispute.js';
import { type Clock, type Decision, type Effect, type Trade, escrowGuardSecs, isFinal, moveTo, resetToPending, send, takerPubkey } from '../model.js';
import { storedOrder } from '../views.js';
import { bondGuard, bondGuardAt, slash, timeoutSlashTarget } from '../bonds.js';
import type { OrderContext, OrderInput } from '../context.js';
import { onDevFeeDue, onPayoutDue } from './payout.js';
import { settleBonds } from '../money.js';

/** The next moment something happens to this trade by itself, or null when it only waits for messages. */
export function nextDeadline(t: Trade, s: OrderSettings): number | null {
  const o = t.order;
  switch (o.status) {
    case 'pending':
    case 'waiting-taker-bond':
    case 'waiting-maker-bond':
      return o.expiresAt;
    case 'waiting-payment':
    case 'waiting-buyer-invoice':
      return o.takenAt + s.expirationSeconds;
    case 'active':
    case 'fiat-sent':
      return o.invoiceHeldAt + escrowGuardSecs(s);
    case 'settled-hold-invoice':
      return t.payoutDueAt;
    default:
      if (t.devFeeDueAt !== null) return t.devFeeDueAt;
      return t.closedAt === null ? null : t.closedAt + s.lingerSeconds;
  }
}

/** What the workflow should do now without a message: pay, time out, or close; null to keep waiting. */
export function dueWork(t: Trade, s: OrderSettings, now: number): 'payout' | 'dev-fee' | 'timeout' | 'close' | null {
  const o = t.order;
  const at = nextDeadline(t, s);
  if (at === null || now < at) return null;
  if (o.status === 'settled-hold-invoice') return 'payout';
  if (isFinal(o.status)) return t.devFeeDueAt !== null ? 'dev-fee' : 'close';
  return 'timeout';
}

/**
 * The escrow's HTLC is about to expire (§31 `job_enforce_escrow_deadline`): by the clock (`escrowGuardSecs` after it
 * was held) or by block height (the invoice watcher's `hold-invoice-expiring`), whichever comes first. `active`: the
 * escrow is canceled before LND would, the seller refunded while the HTLC can still be failed back; `fiat-sent`: the
 * buyer says it paid, so refunding the seller would be unfair and settling unsafe — a buyer-initiated dispute, for
 * a solver to decide within the remaining margin. Any other status: nothing.
 */
export function escrowDeadline(t: Trade, c: Clock, newId: string): Decision {
  const o = t.order;
  if (o.status === 'active') {
    const d = moveTo(t, 'canceled', {}, c.now);
    if (o.hash) d.effects.unshift({ type: 'cancel-hold', hash: o.hash });
    d.effects.push(send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'canceled' })), send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'canceled' })));
    return d;
  }
  if (o.status === 'fiat-sent') return openDispute(t, { id: newId, initiator: 'buyer', rid: null }, c);
  return { trade: t, effects: [] };
}

/**
 * What a passed deadline does: expiry, a waiting timeout, or the escrow guard. Payouts are driven by the workflow.
 * `newId` names the dispute the guard may open.
 */
export function timeout(t: Trade, c: Clock, newId = ''): Decision {
  const o = t.order;
  const due = nextDeadline(t, c.settings);
  if (due === null || c.now < due) return { trade: t, effects: [] };
  switch (o.status) {
    case 'pending':
    case 'waiting-taker-bond':
      return moveTo(t, 'expired', {}, c.now);
    case 'waiting-maker-bond':
      // Never published (its maker never locked the bond): it expires without an event, so no phantom order.
      return { trade: moveTo(t, 'expired', {}, c.now).trade, effects: [] };
    case 'waiting-payment':
    case 'waiting-buyer-invoice': {
      const hold: Effect[] = o.hash ? [{ type: 'cancel-hold', hash: o.hash }] : [];
      const taker = takerPubkey(o);
      const takerAtFault = (o.status === 'waiting-buyer-invoice') === (o.kind === 'sell');
      if (takerAtFault) {
        const d = moveTo(t, 'pending', resetToPending(o), c.now);
        d.trade = { ...d.trade, triggerRid: null };
        d.effects.unshift(...hold);
        d.effects.push(send(orderMessage(o.creatorPubkey, { id: o.id, action: 'new-order', payload: { order: storedOrder(d.trade.order) } })));
        if (taker) d.effects.push(send(orderMessage(taker, { id: o.id, action: 'canceled' })));
        return d;
      }
      const d = moveTo(t, 'canceled', { devFee: 0, ...(o.priceFromApi ? { amount: 0, fee: 0 } : {}) }, c.now);
      d.effects.unshift(...hold);
      d.effects.push(send(orderMessage(o.creatorPubkey, { id: o.id, action: 'canceled' })));
      if (taker) d.effects.push(send(orderMessage(taker, { id: o.id, action: 'canceled' })));
      return d;
    }
    case 'active':
    case 'fiat-sent':
      return escrowDeadline(t, c, newId);
    default:
      // A final order just stops lingering.
      return { trade: t, effects: [] };
  }
}

/**
 * What the trade needs from the clock now: close (it is over), a due input (a payout, a timeout, a bond's CLTV
 * guard), or to wait — until `at` (unix seconds), or for a message when null.
 */
export function clockWork(t: Trade, s: OrderSettings, now: number): { type: 'close' } | { type: 'due'; input: OrderInput } | { type: 'wait'; at: number | null } {
  const due = dueWork(t, s, now);
  if (due === 'close') return { type: 'close' };
  const guardAt = bondGuardAt(t, s);
  const guardDue = guardAt !== null && now >= guardAt;
  if (due !== null || guardDue) return { type: 'due', input: { type: 'due', due, guardDue } };
  const deadline = nextDeadline(t, s);
  return { type: 'wait', at: deadline === null ? guardAt : guardAt === null ? deadline : Math.min(deadline, guardAt) };
}

/** A deadline passed: pay, pay the dev fee, release a bond before its CLTV expiry, or time out. */
export async function onDue(ctx: OrderContext, due: ReturnType<typeof dueWork>, guardDue: boolean): Promise<void> {
  const t = ctx.trade;
  if (due === 'payout') return onPayoutDue(ctx);
  if (due === 'dev-fee') return onDevFeeDue(ctx);
  if (guardDue) {
    const g = bondGuard(t, ctx.clock());
    for (const b of g.released) ctx.log.warn('bond released before its CLTV expiry; it can no longer be slashed', { orderId: t.order.id, bondId: b.id });
    return ctx.apply(g);
  }
  // A waiting timeout that really elapsed may slash the responsible taker's bond (§14.2), settled first.
  const at = nextDeadline(t, ctx.settings);
  const target = at !== null && ctx.clock().now >= at ? timeoutSlashTarget(t, ctx.settings) : null;
  const targets = await settleBonds(ctx, target ? [target] : []);
  const slashed = slash(ctx.trade, targets, ctx.clock());
  const d = timeout(slashed.trade, ctx.clock(), ctx.uuid4());
  // The slashed taker hears of it before the order's own notices, as from the reference.
  await ctx.apply({ trade: d.trade, effects: [...slashed.effects, ...d.effects] });
}
