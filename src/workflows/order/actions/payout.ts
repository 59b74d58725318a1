/**
 * Paying out (§20.2, §31): the buyer's payout after a release or admin-settle, and the dev fee after a successful trade
 * — each attempt's outcome, the retry budget, and how often a payment in flight is rechecked.
 */
import { orderMessage } from '../../../domain/messages.js';
import { type Clock, type Decision, type Effect, type PayoutOutcome, type Trade, moveTo, send } from '../model.js';
import { payoutInvoiceOrder } from '../views.js';
import type { OrderContext } from '../context.js';
import { pay } from '../money.js';
import { IN_FLIGHT_RECHECK_SECS, inFlightRecheckSecs } from '../../shared/payments.js';

/**
 * The outcome of one payout attempt (§20.2). `backoff`: rechecks of a payment in flight grow sparser (workflows
 * recorded before that recheck every 30 s).
 */
export function payoutResult(t: Trade, r: PayoutOutcome, c: Clock, backoff = false, askWhenNoRetry = false): Decision {
  const o = t.order;
  if (o.status !== 'settled-hold-invoice') return { trade: t, effects: [] };
  const first = Math.min(IN_FLIGHT_RECHECK_SECS, c.settings.paymentRetriesInterval);
  // Only the attempt the release (or admin-settle) itself started echoes its request id; the reference's retries, and
  // the payment of a replacement invoice, run from its scheduler without one.
  const rid = t.payoutSeq === 0 && o.paymentAttempts === 0 ? t.releaseRid : null;
  if (r.status === 'in-flight') {
    if (!backoff) return { trade: { ...t, order: { ...o, payoutPaymentHash: r.hash }, payoutDueAt: c.now + first }, effects: [] };
    const since = o.payoutPaymentHash === r.hash ? (t.payoutInFlightSince ?? c.now) : c.now;
    const payoutDueAt = c.now + inFlightRecheckSecs(c.now - since, first);
    return { trade: { ...t, order: { ...o, payoutPaymentHash: r.hash }, payoutDueAt, payoutInFlightSince: since }, effects: [] };
  }
  if (r.status === 'succeeded') {
    const d = moveTo(t, 'success', { payoutPaymentHash: r.hash, routingFee: r.feeSats, failedPayment: false }, c.now);
    const owesDevFee = o.devFee > 0 && !o.devFeePaid && c.settings.devFeeLightningAddress !== null;
    d.trade = { ...d.trade, payoutDueAt: null, devFeeDueAt: owesDevFee ? c.now : null };
    if (backoff) d.trade.payoutInFlightSince = null;
    d.effects.push(
      send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'purchase-completed' })),
      send(orderMessage(o.buyerPubkey!, { rid, id: o.id, action: 'rate' })),
    );
    return d;
  }
  const firstFailure = o.paymentAttempts === 0;
  const attempts = Math.min(o.paymentAttempts + 1, c.settings.paymentAttempts);
  const order = { ...o, paymentAttempts: attempts, failedPayment: true, payoutPaymentHash: null };
  const exhausted = attempts >= c.settings.paymentAttempts;
  const trade: Trade = { ...t, order, payoutDueAt: exhausted ? null : c.now + c.settings.paymentRetriesInterval };
  if (backoff) trade.payoutInFlightSince = null;
  const effects: Effect[] = [];
  if (firstFailure) {
    effects.push(
      send(
        orderMessage(o.buyerPubkey!, {
          rid,
          id: o.id,
          action: 'payment-failed',
          payload: {
            payment_failed: {
              payment_attempts: Math.max(0, c.settings.paymentAttempts - 1),
              payment_retries_interval: c.settings.paymentRetriesInterval,
            },
          },
        }),
      ),
    );
  }
  // With `payment_attempts = 1` the first failure is also the last: the reference then only says `payment-failed`
  // (0 retries) and never asks for a new invoice, leaving the buyer without a way forward.
  if (exhausted && (!firstFailure || askWhenNoRetry)) {
    effects.push(send(orderMessage(o.buyerPubkey!, { rid, id: o.id, action: 'add-invoice', payload: { order: payoutInvoiceOrder(order) } })));
  }
  return { trade, effects };
}

/** Attempts at the dev fee before it is left to an operator (it never holds up the trade). */
export const DEV_FEE_MAX_ATTEMPTS = 10;

/** The outcome of a dev-fee payment (§31 `job_process_dev_fee_payment`); the trade itself is already done. */
export function devFeeResult(t: Trade, r: PayoutOutcome, c: Clock, backoff = false): Decision {
  const settled = backoff ? { devFeeInFlightSince: null } : {};
  if (r.status === 'succeeded') {
    return { trade: { ...t, order: { ...t.order, devFeePaid: true, devFeePaymentHash: r.hash }, devFeeDueAt: null, ...settled }, effects: [] };
  }
  if (r.status === 'in-flight') {
    if (!backoff) return { trade: { ...t, devFeeDueAt: c.now + IN_FLIGHT_RECHECK_SECS }, effects: [] };
    const since = t.devFeeInFlightSince ?? c.now;
    return { trade: { ...t, devFeeDueAt: c.now + inFlightRecheckSecs(c.now - since, IN_FLIGHT_RECHECK_SECS), devFeeInFlightSince: since }, effects: [] };
  }
  const attempts = t.devFeeAttempts + 1;
  const devFeeDueAt = attempts >= DEV_FEE_MAX_ATTEMPTS ? null : c.now + c.settings.paymentRetriesInterval;
  return { trade: { ...t, devFeeAttempts: attempts, devFeeDueAt, ...settled }, effects: [] };
}

/**
 * Workflows recorded before it recheck a payment in flight every 30 s and wait for LND inside the payout step; with it,
 * a tracker activity beside the trade wakes it when LND knows, and the rechecks back off.
 */
export const PAYOUT_TRACKER_PATCH = 'payout-tracker';

/** The payout hash a tracker should follow now: the buyer's payout while it is in flight, else none. */
export const payoutInFlight = (t: Trade | undefined): string | null =>
  t && t.order.status === 'settled-hold-invoice' ? t.order.payoutPaymentHash : null;

/** The buyer's payout is due: one attempt under the current invoice's purpose, then its outcome. */
export async function onPayoutDue(ctx: OrderContext): Promise<void> {
  const t = ctx.trade;
  const o = t.order;
  const outcome = await pay(ctx, `payout:${o.id}:${t.payoutSeq}`, o.buyerInvoice!, o.amount - o.fee);
  const noRetry = outcome.status === 'failed' && ctx.settings.paymentAttempts <= 1 && ctx.patched('single-attempt-asks-invoice');
  await ctx.apply(payoutResult(ctx.trade, outcome, ctx.clock(), ctx.patched(PAYOUT_TRACKER_PATCH), noRetry));
}

/** The dev fee is due: one attempt to the configured Lightning address (no minimum amount), then its outcome. */
export async function onDevFeeDue(ctx: OrderContext): Promise<void> {
  const o = ctx.trade.order;
  const outcome = await pay(ctx, `dev-fee:${o.id}`, ctx.settings.devFeeLightningAddress!, o.devFee, true);
  await ctx.apply(devFeeResult(ctx.trade, outcome, ctx.clock(), ctx.patched(PAYOUT_TRACKER_PATCH)));
}
