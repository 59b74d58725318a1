/**
 * The contract between the invoice watcher (src/ingress/lightning.ts) and any workflow that owns a hold invoice
 * (orders: the escrow; bonds: the bond lock). No I/O: imported by workflow code and the ingress alike.
 */
import { defineSignal } from '@temporalio/workflow';

export type HoldInvoiceState = 'accepted' | 'settled' | 'canceled';

export interface HoldInvoiceUpdate {
  hash: string;
  state: HoldInvoiceState;
  /** What the payer locked (ACCEPTED) or what was settled. */
  amountSats: number;
}

/**
 * Sent when a hold invoice the workflow created becomes ACCEPTED (the payer's HTLC is locked in), SETTLED or
 * CANCELED. May arrive more than once for the same state (after a watcher restart): handlers must be idempotent.
 */
export const holdInvoiceSignal = defineSignal<[HoldInvoiceUpdate]>('holdInvoiceUpdate');
