/**
 * Custom search attributes of order workflows, so support staff can find a trade in the Temporal Web UI
 * (`MostroOrderStatus = "settled-hold-invoice" AND MostroNeedsAttention = true`). They must be registered on the
 * namespace before workers run (every daemon process registers the missing ones at start; see docs/production.md for a cluster).
 */
import { defineSearchAttributeKey, type SearchAttributeUpdatePair } from '@temporalio/common';
import type { OrderState } from '../../domain/order.js';

export const SA = {
  status: defineSearchAttributeKey('MostroOrderStatus', 'KEYWORD'),
  kind: defineSearchAttributeKey('MostroOrderKind', 'KEYWORD'),
  fiatCode: defineSearchAttributeKey('MostroFiatCode', 'KEYWORD'),
  makerPubkey: defineSearchAttributeKey('MostroMakerPubkey', 'KEYWORD'),
  buyerPubkey: defineSearchAttributeKey('MostroBuyerPubkey', 'KEYWORD'),
  sellerPubkey: defineSearchAttributeKey('MostroSellerPubkey', 'KEYWORD'),
  needsAttention: defineSearchAttributeKey('MostroNeedsAttention', 'BOOL'),
} as const;

/** Name → type, as the server's registration wants them. */
export const ORDER_SEARCH_ATTRIBUTES: Record<string, 'Keyword' | 'Bool'> = Object.fromEntries(
  Object.values(SA).map((k) => [k.name, k.type === 'BOOL' ? 'Bool' : 'Keyword']),
);

/**
 * A trade needs a person when the escrow is settled but the buyer could not be paid after every attempt (the
 * buyer has been asked for a new invoice), or when a payment has been in flight without resolution — or when the
 * database refused the order's projection (see {@link WorkflowFlags}).
 */
export function needsAttention(o: OrderState, paymentAttemptsLimit: number): boolean {
  return o.status === 'settled-hold-invoice' && o.failedPayment && o.paymentAttempts >= paymentAttemptsLimit;
}

/** What the workflow knows beyond the order: the database refused its projection for good (the trade went on). */
export interface WorkflowFlags {
  projectionRejected?: boolean;
}

export function orderSearchAttributes(o: OrderState, paymentAttemptsLimit: number, flags: WorkflowFlags = {}): SearchAttributeUpdatePair[] {
  return [
    { key: SA.status, value: o.status },
    { key: SA.kind, value: o.kind },
    { key: SA.fiatCode, value: o.fiatCode },
    { key: SA.makerPubkey, value: o.creatorPubkey },
    { key: SA.buyerPubkey, value: o.buyerPubkey },
    { key: SA.sellerPubkey, value: o.sellerPubkey },
    { key: SA.needsAttention, value: needsAttention(o, paymentAttemptsLimit) || !!flags.projectionRejected },
  ] as SearchAttributeUpdatePair[];
}
