/**
 * LND's block arithmetic for held HTLCs: when an accepted hold invoice's HTLC expires, and how long before that LND
 * gives it back. The network cancels by it as blocks are mined; the gRPC face reports the expiry height.
 */
import type { SimInvoice } from './model.js';

/** The blocks an LND payer adds to the final CLTV delta of what it pays (routing's `BlockPadding`). */
export const PAYER_BLOCK_PADDING = 3;
/**
 * How many blocks before a held HTLC expires LND gives it back to the payer (`--invoices.holdexpirydelta`, default
 * 12), so that the channel is not force-closed: a hold invoice is canceled at its HTLC's expiry height minus this.
 */
export const HOLD_EXPIRY_DELTA = 12;

/** The expiry height of an accepted hold invoice's HTLC: accepted at, plus its final CLTV delta and the payer's padding. */
export function htlcExpiryHeight(inv: Pick<SimInvoice, 'acceptHeight' | 'cltvDelta'>, height = 0): number {
  return (inv.acceptHeight ?? height) + inv.cltvDelta + PAYER_BLOCK_PADDING;
}
