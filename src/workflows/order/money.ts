/**
 * The Lightning calls a step makes before its decision, each one that cannot be undone: settling the escrow (a release,
 * an admin-settle), settling slashed bonds, one payment attempt. What LND already did by itself (gave an HTLC back
 * when its CLTV ran out) is an outcome here, not a failure.
 */
import { ActivityFailure } from '@temporalio/common';
import { bondInvoiceKey, makerBondCanceled, settlesNow, takerBondCanceled, type SlashTarget } from './bonds.js';
import { failureType, stuck, type OrderContext } from './context.js';
import type { PayoutOutcome, Trade } from './model.js';

/** Settles the trade's escrow; 'canceled' when LND already gave the HTLC back to the seller. */
export async function settleEscrow(ctx: OrderContext, t: Trade): Promise<'settled' | 'canceled'> {
  return ctx.money(async () => {
    try {
      await ctx.ports.ln.settleHoldInvoice({ key: `${t.order.id}:${t.escrowSeq}` });
      return 'settled';
    } catch (err) {
      if (failureType(err) === 'InvoiceCanceled') return 'canceled';
      stuck('settling the escrow', err);
    }
  });
}

/**
 * A slash settles the bond's HTLC into the node first (§14.3); the split and the payout follow in the decision. A
 * bond LND already gave back (its CLTV ran out) cannot be slashed: it counts as released. Returns what is slashed.
 */
export async function settleBonds(ctx: OrderContext, targets: readonly SlashTarget[]): Promise<SlashTarget[]> {
  const kept: SlashTarget[] = [];
  for (const target of targets) {
    if (!settlesNow(target)) {
      kept.push(target);
      continue;
    }
    const gone = await ctx.money(async () => {
      try {
        await ctx.ports.ln.settleHoldInvoice({ key: bondInvoiceKey(target.bond.id) });
        return false;
      } catch (err) {
        if (failureType(err) === 'InvoiceCanceled') return true;
        stuck('settling a slashed bond', err);
      }
    });
    if (!gone) {
      kept.push(target);
      continue;
    }
    ctx.log.warn('a bond to slash was already released by LND (its CLTV ran out)', { orderId: ctx.trade.order.id, bondId: target.bond.id });
    const released = target.role === 'maker' ? makerBondCanceled(ctx.trade, target.bond.hash) : takerBondCanceled(ctx.trade, target.bond.hash, ctx.clock());
    ctx.adopt(released.trade);
  }
  return kept;
}

/** One payment attempt under its purpose (the idempotency key of the debt). */
export async function pay(ctx: OrderContext, purpose: string, request: string, amountSats: number, noMinimum = false): Promise<PayoutOutcome> {
  try {
    return await ctx.money(() => ctx.ports.lnPay.payInvoice({ purpose, request, amountSats, noMinimum }));
  } catch (err) {
    // Refused before anything was recorded for the debt (an unresolvable Lightning address, an invoice LND will not
    // take): a failed attempt like any other. Later failures are retried inside the activity, never reported here.
    if (err instanceof ActivityFailure) return { status: 'failed', hash: null, reason: err.cause?.message ?? err.message };
    throw err;
  }
}
