/**
 * The contract between the invoice watcher (src/ingress/lightning.ts) and any workflow that owns a hold invoice
 * (orders: the escrow; bonds: the bond lock). No I/O: imported by workflow code and the ingress alike.
 */
import { defineSignal, type SignalDefinition } from '@temporalio/workflow';

export type HoldInvoiceState = 'accepted' | 'settled' | 'canceled';

export interface HoldInvoiceUpdate {
  hash: string;
  state: HoldInvoiceState;
  /** What the payer locked (ACCEPTED) or what was settled. */
  amountSats: number;
}

/**
 * Sent when a hold invoice the workflow created becomes ACCEPTED (the payer's HTLC is locked in), SETTLED or
 * CANCELED — one named signal per state, so a trade's history reads `hold-invoice-accepted`. A state may arrive more
 * than once (after a watcher restart): handlers must be idempotent.
 */
export const holdInvoiceSignals: Record<HoldInvoiceState, SignalDefinition<[HoldInvoiceUpdate]>> = {
  accepted: defineSignal<[HoldInvoiceUpdate]>('hold-invoice-accepted'),
  settled: defineSignal<[HoldInvoiceUpdate]>('hold-invoice-settled'),
  canceled: defineSignal<[HoldInvoiceUpdate]>('hold-invoice-canceled'),
};

/** The accepted HTLC of a hold invoice is about to expire: LND will give it back to the payer within a few blocks. */
export interface HoldInvoiceExpiring {
  hash: string;
  /** The HTLC's CLTV expiry height. */
  expiryHeight: number;
  /** The chain's height when this was sent. */
  height: number;
}

/**
 * Sent (at least once) when the chain comes within `escrow_deadline_margin_blocks` of an accepted hold invoice's
 * HTLC expiry — by block height, as the reference's escrow deadline job checks, so a chain that runs faster than
 * ten minutes a block cannot let LND cancel the escrow before the trade acts.
 */
export const holdInvoiceExpiringSignal = defineSignal<[HoldInvoiceExpiring]>('hold-invoice-expiring');
