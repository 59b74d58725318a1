/**
 * The slashed-bond payout as a pure state machine (bonds.md §6, §15): the state a `bondPayoutWorkflow` holds and
 * the transitions its timers, the winner's `add-bond-invoice` and the payment outcomes drive. No I/O: each transition
 * returns the new state and the effects (messages to send, a payment to make) for the workflow shell to carry out.
 *
 * Differences from the reference, on purpose (bonds.md §20): the recipient is recorded at slash time (the reference
 * re-derives it and loses it on timeout slashes); the node share is frozen at slash time and never re-read.
 */
import type { CantDoReason, SmallOrder } from '@mostro/protocol/schema';
import { cantDoMessage, orderMessage, type Outbound, type Rid } from '../../domain/messages.js';
import type { BondPayout, PayoutSettings } from '../../domain/bond.js';

export type PayoutEffect = { type: 'send'; msg: Outbound } | { type: 'pay'; invoice: string; amountSats: number; purpose: string };

export interface PayoutDecision {
  payout: BondPayout;
  effects: PayoutEffect[];
  /**
   * Why an invoice was refused, for the logs: the wire answer is `not_allowed_by_status` whatever the cause (the
   * `cant-do` payload has no text and clients know only that reason; bonds.md §20 item 5).
   */
  refused?: string;
}

export const counterpartyShare = (p: BondPayout): number => p.amountSats - p.nodeShareSats;

/** What is fixed at slash time; the payout starts from it with no invoice and no attempts. */
export type SlashedShare = Pick<BondPayout, 'bondId' | 'orderId' | 'recipient' | 'amountSats' | 'nodeShareSats' | 'slashedAt' | 'order' | 'rev'>;

export function newPayout(s: SlashedShare): BondPayout {
  return { ...s, status: 'pending-payout', invoice: null, attempts: 0, invoiceRequests: 0, lastInvoiceRequestAt: null, invoiceSeq: 0 };
}

const send = (msg: Outbound): PayoutEffect => ({ type: 'send', msg });
const none = (p: BondPayout): PayoutDecision => ({ payout: p, effects: [] });

/** The order as the payout messages show it: the counterparty share as amount, no status, no dates. */
function shareOrder(p: BondPayout): SmallOrder {
  return {
    id: p.orderId,
    kind: p.order.kind,
    status: null,
    amount: counterpartyShare(p),
    fiat_code: p.order.fiatCode,
    min_amount: null,
    max_amount: null,
    fiat_amount: p.order.fiatAmount,
    payment_method: p.order.paymentMethod,
    premium: p.order.premium,
    buyer_trade_pubkey: undefined,
    seller_trade_pubkey: undefined,
    buyer_invoice: undefined,
    created_at: null,
    expires_at: null,
  };
}

const pay = (p: BondPayout): PayoutEffect => ({ type: 'pay', invoice: p.invoice!, amountSats: counterpartyShare(p), purpose: `bond-payout:${p.bondId}:${p.invoiceSeq}` });

const insideWindow = (p: BondPayout, s: PayoutSettings, now: number) => now - p.slashedAt < s.claimWindowSecs;

/**
 * A timer fired (or the payout just started): a node-only bond is finalized; without an invoice the bond is forfeited
 * once the claim window is over, else the winner is asked (again) for an invoice at the configured cadence — the
 * request is recorded in the state before the message goes out; with an invoice, it is paid.
 */
export function payoutTick(p: BondPayout, s: PayoutSettings, now: number): PayoutDecision {
  if (p.status !== 'pending-payout') return none(p);
  if (counterpartyShare(p) <= 0) return none({ ...p, status: 'slashed' });
  if (p.invoice === null) {
    if (!insideWindow(p, s, now)) return none({ ...p, status: 'forfeited' });
    if (p.lastInvoiceRequestAt !== null && now - p.lastInvoiceRequestAt < s.invoiceWindowSecs) return none(p);
    const next = { ...p, invoiceRequests: p.invoiceRequests + 1, lastInvoiceRequestAt: now };
    return {
      payout: next,
      effects: [
        send(orderMessage(p.recipient, { id: p.orderId, action: 'add-bond-invoice', payload: { bond_payout_request: { order: shareOrder(p), slashed_at: p.slashedAt } } })),
      ],
    };
  }
  return { payout: p, effects: [pay(p)] };
}

/** When the payout next needs a timer (unix seconds), or null when only a message can move it. */
export function payoutNextWake(p: BondPayout, s: PayoutSettings): number | null {
  if (p.status !== 'pending-payout' || p.invoice !== null) return null;
  const deadline = p.slashedAt + s.claimWindowSecs;
  const nextRequest = p.lastInvoiceRequestAt === null ? p.slashedAt : p.lastInvoiceRequestAt + s.invoiceWindowSecs;
  return Math.min(deadline, nextRequest);
}

/**
 * The winner's `add-bond-invoice` (§15.3), already validated against the share (`valid`). Accepted while the payout
 * waits for an invoice, or to resurrect a failed payout inside the claim window; refused otherwise.
 */
export function invoiceSubmitted(
  p: BondPayout,
  i: { sender: string; rid: Rid; invoice: string; valid: boolean },
  s: PayoutSettings,
  now: number,
): PayoutDecision {
  const refuse = (reason: CantDoReason, refused: string): PayoutDecision => ({ payout: p, effects: [send(cantDoMessage(i.sender, i.rid, p.orderId, reason))], refused });
  if (i.sender !== p.recipient) return refuse('not_allowed_by_status', 'the sender is not owed this payout');
  if (counterpartyShare(p) <= 0) return refuse('not_allowed_by_status', 'the node keeps the whole bond: nothing to pay out');
  if (!i.valid) return refuse('invalid_invoice', 'the invoice does not pay exactly the share or breaks an invoice rule');
  let next: BondPayout;
  if (p.status === 'pending-payout' && p.invoice === null) {
    next = { ...p, invoice: i.invoice, invoiceRequests: 0, attempts: 0, invoiceSeq: p.invoiceSeq + 1 };
  } else if (p.status === 'failed' && insideWindow(p, s, now)) {
    next = { ...p, status: 'pending-payout', invoice: i.invoice, attempts: 0, invoiceRequests: 0, invoiceSeq: p.invoiceSeq + 1 };
  } else {
    const deadline = new Date((p.slashedAt + s.claimWindowSecs) * 1000).toISOString();
    const cause =
      p.status === 'slashed'
        ? 'already paid'
        : p.status === 'pending-payout'
          ? 'a payout to an earlier invoice is in progress'
          : `the claim window expired on ${deadline}`;
    return refuse('not_allowed_by_status', cause);
  }
  return { payout: next, effects: [send(orderMessage(p.recipient, { id: p.orderId, action: 'bond-invoice-accepted', payload: { order: shareOrder(next) } })), pay(next)] };
}

export type PayoutOutcome = { status: 'succeeded' } | { status: 'failed'; reason: string } | { status: 'in-flight' };

/**
 * The outcome of a payment attempt: paid → `slashed` and one `bond-payout-completed`; still in flight → asked again
 * later (never re-sent: the payment's key guards it); failed → another attempt while the budget lasts, then a new
 * invoice is requested inside the claim window (the deadline never moves) or the payout is `failed` outside it.
 */
export function payoutResult(p: BondPayout, r: PayoutOutcome, s: PayoutSettings, now: number): PayoutDecision {
  if (p.status !== 'pending-payout' || p.invoice === null) return none(p);
  if (r.status === 'succeeded') {
    return { payout: { ...p, status: 'slashed' }, effects: [send(orderMessage(p.recipient, { id: p.orderId, action: 'bond-payout-completed', payload: { order: shareOrder(p) } }))] };
  }
  if (r.status === 'in-flight') return none(p);
  const attempts = Math.min(p.attempts + 1, s.maxRetries);
  if (attempts < s.maxRetries) return none({ ...p, attempts });
  if (insideWindow(p, s, now)) return none({ ...p, attempts: 0, invoice: null, lastInvoiceRequestAt: null });
  return none({ ...p, attempts, status: 'failed' });
}
