/**
 * The order's model: the trade as its workflow holds it (the order plus what only the workflow needs), a decision
 * (the new trade and the effects to carry out, in order), the clock a decision reads, and the helpers every action's
 * decision shares. Pure: each action's decision (actions/*.ts) is a function `(trade, input, clock) → decision`.
 */
import type { BondPayout, TakerBond } from '../../domain/bond.js';
import type { OpenedDispute } from '../../domain/dispute.js';
import { type Outbound, type Rid, cantDoMessage } from '../../domain/messages.js';
import type { OrderState } from '../../domain/order.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import { publishedStatus } from '../../nostr/events.js';
import type { BondResolution, CantDoReason, OrderStatus } from '@mostro/protocol/schema';

export interface Trade {
  order: OrderState;
  /** Hold invoices created so far; the next one's preimage key is `<order id>:<escrowSeq>`. */
  escrowSeq: number;
  /** Buyer invoices the payout has used; each gets its own payment purpose. */
  payoutSeq: number;
  /** Request id of the message that started the current leg, echoed by the asynchronous messages of that leg. */
  triggerRid: Rid;
  /** The release's request id (the buyer's `rate` after the payout echoes it). */
  releaseRid: Rid;
  /** When the next payout attempt is due (unix seconds); null when none is scheduled. */
  payoutDueAt: number | null;
  /** When the order reached a final status (unix seconds). */
  closedAt: number | null;
  /** When the next dev-fee payment attempt is due; null when none is owed (or it was given up). */
  devFeeDueAt: number | null;
  devFeeAttempts: number;
  /**
   * Since when (unix seconds) the current payout, and the dev fee, have been in flight: their rechecks grow sparser
   * with it. Absent in workflows that recheck at a fixed interval.
   */
  payoutInFlightSince?: number | null;
  devFeeInFlightSince?: number | null;
  /** The order's open dispute, as the workflow tracks it (absent in workflows started before solvers). */
  dispute?: DisputeState | null;
  /** Anti-abuse bonds of the order's takers (bonds.ts); absent when none was ever requested. */
  bonds?: TakerBond[];
  /** The maker's bond (a range's, handed from slice to slice); absent when none was requested. */
  makerBond?: TakerBond;
}

export interface DisputeState {
  id: string;
  initiator: 'buyer' | 'seller';
  previousStatus: OrderStatus;
  openedAt: number;
  /** The identity that took it (a solver or the admin); null while `initiated`. */
  solver: string | null;
  /** The admin (the daemon key) holds it. */
  byAdmin: boolean;
  /** The holder's solver category (1 read-only, 2 read-write; 2 for the admin). */
  solverCategory: number;
}

export type Effect =
  | { type: 'send'; msg: Outbound }
  /** Publish the NIP-69 event of the decided state. */
  | { type: 'publish' }
  | { type: 'cancel-hold'; hash: string }
  /** Create the escrow hold invoice (key `<id>:<escrowSeq>`), then continue with `holdInvoiceIssued`. */
  | { type: 'create-hold' }
  /** Record a new dispute and publish its kind-38386 event. */
  | { type: 'open-dispute'; dispute: OpenedDispute }
  /** The parties settled it themselves: close the order's open dispute and republish its event. */
  | {
      type: 'close-dispute';
      status: 'settled' | 'seller-refunded';
      initiator: 'buyer' | 'seller' | 'unknown';
      /** A solver's `bond_resolution`, kept with the dispute for the anti-abuse bond. */
      bondResolution?: BondResolution | null;
    }
  /** A party rated its counterpart: apply the vote to the rated identity (once) and publish its rating event. */
  | { type: 'rate'; orderId: string; raterSide: 'buyer' | 'seller'; raterTradeKey: string; rated: string; rating: number }
  /** A solver (or the admin) took the dispute: record it and publish its `in-progress` event. */
  | { type: 'take-dispute'; disputeId: string; solver: string; initiator: 'buyer' | 'seller'; openedAt: number }
  /** A slashed bond's counterparty share is owed: start its payout workflow (it outlives the order's). */
  | { type: 'start-bond-payout'; payout: BondPayout }
  /** Settle a bond's HTLC into the node (a range maker's bond, once, when the range closes with slashed slices). */
  | { type: 'settle-bond'; bondId: string }
  /** Start the range remainder as an order of its own, announced to the maker's next trade key; it takes the maker's bond along. */
  | { type: 'start-child'; child: OrderState; announce: { to: string; rid: Rid; tradeIndex: number }; makerBond?: TakerBond };

export interface Decision {
  trade: Trade;
  effects: Effect[];
}

export interface Clock {
  now: number;
  settings: OrderSettings;
}

export const FINAL: readonly OrderStatus[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin', 'expired', 'success', 'completed-by-admin'];

export const isFinal = (s: OrderStatus): boolean => FINAL.includes(s);

export function newTrade(order: OrderState): Trade {
  return { order, escrowSeq: 0, payoutSeq: 0, triggerRid: null, releaseRid: null, payoutDueAt: null, closedAt: null, devFeeDueAt: null, devFeeAttempts: 0 };
}

export const send = (msg: Outbound): Effect => ({ type: 'send', msg });

/** Puts `status` (and fields) on the order; publishes when the status has a public bucket. */
export function moveTo(t: Trade, status: OrderStatus, fields: Partial<OrderState>, now: number): { trade: Trade; effects: Effect[] } {
  const order = { ...t.order, ...fields, status };
  const trade = { ...t, order, closedAt: isFinal(status) ? now : t.closedAt };
  return { trade, effects: publishedStatus(order.kind, status) ? [{ type: 'publish' }] : [] };
}

export const refuse = (t: Trade, to: string, rid: Rid, reason: CantDoReason): Decision => ({
  trade: t,
  effects: [send(cantDoMessage(to, rid, t.order.id, reason))],
});

export const makerIsSeller = (o: OrderState) => o.kind === 'sell';

/** The taker's trade key: the buyer of a sell order, the seller of a buy order. */
export const takerPubkey = (o: OrderState): string | null => (makerIsSeller(o) ? o.buyerPubkey : o.sellerPubkey);

/** Back to `pending` after a taker left (cancel or timeout): escrow, invoice and taker cleared, market quote reset. */
export function resetToPending(o: OrderState): Partial<OrderState> {
  const taker = makerIsSeller(o)
    ? { buyerPubkey: null, masterBuyerPubkey: null, tradeIndexBuyer: null }
    : { sellerPubkey: null, masterSellerPubkey: null, tradeIndexSeller: null };
  return {
    ...taker,
    hash: null,
    buyerInvoice: null,
    takenAt: 0,
    invoiceHeldAt: 0,
    devFee: 0,
    ...(o.priceFromApi ? { amount: 0, fee: 0 } : {}),
  };
}

export interface NextTrade {
  pubkey: string;
  index: number;
}

export function closeDispute(o: OrderState, status: 'settled' | 'seller-refunded', bondResolution?: BondResolution | null): Effect {
  const initiator = o.buyerDispute ? 'buyer' : o.sellerDispute ? 'seller' : 'unknown';
  return { type: 'close-dispute', status, initiator, ...(bondResolution ? { bondResolution } : {}) };
}

export type PayoutOutcome =
  | { status: 'succeeded'; hash: string; feeSats: number }
  | { status: 'failed'; hash: string | null; reason: string }
  | { status: 'in-flight'; hash: string };

/** Seconds from escrow acceptance until the guard acts: the hold invoice's CLTV minus the margin, ~10 min a block. */
export const escrowGuardSecs = (s: OrderSettings): number => Math.max(0, s.holdInvoiceCltvDelta - s.escrowDeadlineMarginBlocks) * 600;

/** A guard's verdict: allowed, or refused with the reason the reference gives. */
export type Guard = { ok: true } | { ok: false; reason: CantDoReason };
export const allow: Guard = { ok: true };
export const deny = (reason: CantDoReason): Guard => ({ ok: false, reason });

/** A decision with more effects after its own (a slash's notices and payouts). */
export const withEffects = (d: Decision, effects: Decision['effects']): Decision => (effects.length === 0 ? d : { trade: d.trade, effects: [...d.effects, ...effects] });
