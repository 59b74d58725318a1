/**
 * Who may do what, when — the guards of the party actions that move a taken order forward, each in the reference's
 * order of checks and with its reason (protocol.md §18 steps 3, 6, 7 and §20.3). Pure.
 */
import type { CantDoReason } from '../../protocol/schema.js';
import type { OrderState } from '../../domain/order.js';

type Guard = { ok: true } | { ok: false; reason: CantDoReason };
const ok: Guard = { ok: true };
const no = (reason: CantDoReason): Guard => ({ ok: false, reason });

/**
 * `add-invoice`: the buyer, while the order waits for the buyer's invoice, or for a new payout invoice once no payout
 * attempt may still succeed — while one is in flight (its hash recorded) a second invoice could be paid as well
 * (protocol.md §20.3: the reference's compare-and-set requires no recorded payout hash).
 */
export function canAddInvoice(o: OrderState, sender: string): Guard {
  if (sender !== o.buyerPubkey) return no('invalid_peer');
  if (o.status !== 'waiting-buyer-invoice' && o.status !== 'settled-hold-invoice') return no('not_allowed_by_status');
  if (o.status === 'settled-hold-invoice' && o.payoutPaymentHash !== null) return no('not_allowed_by_status');
  return ok;
}

/** `fiat-sent`: the buyer, once the escrow is locked. */
export function canSendFiatSent(o: OrderState, sender: string): Guard {
  if (o.status !== 'active') return no('not_allowed_by_status');
  if (sender !== o.buyerPubkey) return no('invalid_pubkey');
  return ok;
}

/** `release`: the seller, after fiat-sent (or during a dispute, which it then closes). */
export function canRelease(o: OrderState, sender: string): Guard {
  if (sender !== o.sellerPubkey) return no('invalid_peer');
  if (o.status !== 'fiat-sent' && o.status !== 'dispute') return no('not_allowed_by_status');
  return ok;
}

/** `dispute` (§24.1): the buyer or the seller, while the escrow is locked; each side at most once. */
export function canDispute(o: OrderState, sender: string): Guard {
  if (o.status !== 'active' && o.status !== 'fiat-sent') return no('not_allowed_by_status');
  if (sender !== o.buyerPubkey && sender !== o.sellerPubkey) return no('invalid_pubkey');
  if ((sender === o.buyerPubkey && o.buyerDispute) || (sender === o.sellerPubkey && o.sellerDispute)) return no('dispute_creation_error');
  return ok;
}
