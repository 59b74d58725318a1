/**
 * The order state machine: every transition of a trade and the effects it asks for, as pure functions of
 * (trade, input, clock, settings). The workflow (workflow.ts) gathers what a decision needs from the outside world
 * (a price, an invoice check, a hold invoice, a payment outcome), calls one of these, then carries out the effects in
 * order. Replies and their order follow the reference daemon (protocol.md §18–§22); nothing here does I/O.
 */
import type { BondResolution, CantDoReason, OrderStatus, SmallOrder, SolverDisputeInfo, UserInfo } from '../../protocol/schema.js';
import type { BondPayout, TakerBond } from '../../domain/bond.js';
import { publishedStatus } from '../../nostr/events.js';
import { orderExpiresAt, perPartyFee } from './amounts.js';
import { rangeRemainder } from './take.js';
import { cantDoMessage, orderMessage, type Outbound, type Rid } from '../../domain/messages.js';
import { UNTOUCHED_ORDER_FIELDS, type OrderState } from '../../domain/order.js';
import { addInvoiceOrder, escrowLockedOrder, payInvoiceOrder, payoutInvoiceOrder, publicOrder, storedOrder } from './views.js';
import type { OpenedDispute, DisputeRole } from '../../domain/dispute.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import type { SupportAction, SupportRequest } from '../../domain/support.js';

/** The order plus what only the workflow needs to drive it. */
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

const FINAL: readonly OrderStatus[] = ['canceled', 'cooperatively-canceled', 'canceled-by-admin', 'expired', 'success', 'completed-by-admin'];
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

const makerIsSeller = (o: OrderState) => o.kind === 'sell';
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

// ----------------------------------------------------------------------------------------------------------------
// Creation

export interface NewOrderRequest {
  orderId: string;
  /** The `order` payload of `new-order`, already checked by `checkNewOrder`. */
  order: SmallOrder;
  sender: string;
  identity: string;
  tradeIndex: number | null;
  rid: Rid;
}

/** `prepare_new_order`: the client's status and created_at are ignored; the maker's side gets its keys. */
export function createOrder(r: NewOrderRequest, c: Clock): Decision {
  const s = r.order;
  const amount = s.amount ?? 0;
  const kind = s.kind ?? 'sell';
  const maker =
    kind === 'sell'
      ? { sellerPubkey: r.sender, masterSellerPubkey: r.identity, tradeIndexSeller: r.tradeIndex, buyerPubkey: null, masterBuyerPubkey: null, tradeIndexBuyer: null }
      : { buyerPubkey: r.sender, masterBuyerPubkey: r.identity, tradeIndexBuyer: r.tradeIndex, sellerPubkey: null, masterSellerPubkey: null, tradeIndexSeller: null };
  const order: OrderState = {
    ...UNTOUCHED_ORDER_FIELDS,
    ...maker,
    id: r.orderId,
    kind,
    status: 'pending',
    amount,
    fee: amount > 0 ? perPartyFee(amount, c.settings.feeRate) : 0,
    devFee: 0,
    fiatCode: s.fiat_code,
    fiatAmount: s.fiat_amount,
    minAmount: s.min_amount ?? null,
    maxAmount: s.max_amount ?? null,
    paymentMethod: s.payment_method,
    premium: s.premium,
    priceFromApi: amount === 0,
    creatorPubkey: r.sender,
    buyerInvoice: kind === 'buy' ? (s.buyer_invoice ?? null) : null,
    createdAt: c.now,
    expiresAt: orderExpiresAt(s.expires_at, c.now, c.settings),
  };
  return {
    trade: newTrade(order),
    effects: [
      { type: 'publish' },
      send(orderMessage(r.sender, { rid: r.rid, ti: r.tradeIndex, id: order.id, action: 'new-order', payload: { order: publicOrder(order) } })),
    ],
  };
}

/** A range remainder starts life pending and is announced to the maker's next trade key. */
export function openChildOrder(child: OrderState, announce: { to: string; rid: Rid; tradeIndex: number }, makerBond?: TakerBond): Decision {
  return {
    trade: { ...newTrade(child), ...(makerBond ? { makerBond } : {}) },
    effects: [
      { type: 'publish' },
      send(orderMessage(announce.to, { rid: announce.rid, ti: announce.tradeIndex, id: child.id, action: 'new-order', payload: { order: publicOrder(child) } })),
    ],
  };
}

// ----------------------------------------------------------------------------------------------------------------
// Take

export interface TakeInput {
  action: 'take-sell' | 'take-buy';
  sender: string;
  identity: string;
  tradeIndex: number | null;
  rid: Rid;
  /** Quoted by `checkTake`. */
  quote: { fiatAmount: number; amount: number; fee: number; devFee: number };
  /** A validated buyer invoice sent with take-sell. */
  invoice: string | null;
}

export function take(t: Trade, i: TakeInput, c: Clock): Decision {
  const o = t.order;
  const common = { fiatAmount: i.quote.fiatAmount, amount: i.quote.amount, fee: i.quote.fee, devFee: i.quote.devFee, takenAt: c.now };
  if (i.action === 'take-buy') {
    const order = { ...o, ...common, sellerPubkey: i.sender, masterSellerPubkey: i.identity, tradeIndexSeller: i.tradeIndex };
    return { trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 }, effects: [{ type: 'create-hold' }] };
  }
  const buyer = { ...common, buyerPubkey: i.sender, masterBuyerPubkey: i.identity, tradeIndexBuyer: i.tradeIndex };
  if (i.invoice) {
    const order = { ...o, ...buyer, buyerInvoice: i.invoice };
    return { trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 }, effects: [{ type: 'create-hold' }] };
  }
  const d = moveTo(t, 'waiting-buyer-invoice', buyer, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(i.sender, { rid: i.rid, ti: n.tradeIndexBuyer, id: n.id, action: 'add-invoice', payload: { order: addInvoiceOrder(n) } })),
    send(orderMessage(n.sellerPubkey!, { rid: i.rid, ti: n.tradeIndexSeller, id: n.id, action: 'waiting-buyer-invoice' })),
  );
  return d;
}

// ----------------------------------------------------------------------------------------------------------------
// Escrow

/** The hold invoice exists: the seller is asked to pay it and gets a full window from now. */
export function holdInvoiceIssued(t: Trade, hold: { hash: string; request: string }, c: Clock): Decision {
  const d = moveTo(t, 'waiting-payment', { hash: hold.hash, takenAt: c.now }, c.now);
  const o = d.trade.order;
  const rid = t.triggerRid;
  d.effects.push(
    send(
      orderMessage(o.sellerPubkey!, {
        rid,
        ti: o.tradeIndexSeller,
        id: o.id,
        action: 'pay-invoice',
        payload: { payment_request: [payInvoiceOrder(o), hold.request, null] },
      }),
    ),
    send(orderMessage(o.buyerPubkey!, { rid, ti: o.tradeIndexBuyer, id: o.id, action: 'waiting-seller-to-pay' })),
  );
  return d;
}

/** `notify_taker_reputation`: the maker learns who took the order (the key itself is never shown). */
function reputationNotice(to: string, o: OrderState, action: 'pay-invoice' | 'add-invoice', rep: UserInfo): Effect {
  return send(orderMessage(to, { id: o.id, action, payload: { peer: { pubkey: '', reputation: rep } } }));
}

/** LND reports the escrow ACCEPTED (the seller's HTLC is locked). Repeats and late reports change nothing. */
export function holdInvoiceAccepted(t: Trade, takerReputation: UserInfo, c: Clock): Decision {
  const o = t.order;
  if ((o.status !== 'waiting-payment' && o.status !== 'waiting-buyer-invoice') || o.invoiceHeldAt !== 0) return { trade: t, effects: [] };
  const rid = t.triggerRid;
  if (o.buyerInvoice) {
    const d = moveTo(t, 'active', { invoiceHeldAt: c.now }, c.now);
    const n = d.trade.order;
    d.effects.push(
      send(orderMessage(n.sellerPubkey!, { rid, id: n.id, action: 'buyer-took-order', payload: { order: escrowLockedOrder(n, 'seller') } })),
      send(orderMessage(n.buyerPubkey!, { rid, id: n.id, action: 'hold-invoice-payment-accepted', payload: { order: escrowLockedOrder(n, 'buyer') } })),
    );
    return d;
  }
  // Buy order taken by a seller: the buyer (maker) still owes an invoice and gets a full window for it.
  const d = moveTo(t, 'waiting-buyer-invoice', { invoiceHeldAt: c.now, takenAt: c.now }, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(n.buyerPubkey!, { rid, id: n.id, action: 'add-invoice', payload: { order: addInvoiceOrder(n, true) } })),
    send(orderMessage(n.sellerPubkey!, { rid, id: n.id, action: 'waiting-buyer-invoice' })),
    reputationNotice(n.buyerPubkey!, n, 'add-invoice', takerReputation),
  );
  return d;
}

/** The buyer's `add-invoice` (guarded by `canAddInvoice`, invoice validated for amount − fee). */
export function addInvoice(t: Trade, i: { sender: string; rid: Rid; invoice: string }, takerReputation: UserInfo, c: Clock): Decision {
  const o = t.order;
  if (o.status === 'settled-hold-invoice') {
    // A new payout invoice after failed payments: the next attempt pays it, from a fresh retry budget.
    const order = { ...o, buyerInvoice: i.invoice, paymentAttempts: 0, failedPayment: false };
    return {
      trade: { ...t, order, payoutSeq: t.payoutSeq + 1, payoutDueAt: c.now },
      effects: [send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'invoice-updated' }))],
    };
  }
  if (o.invoiceHeldAt === 0) {
    // Sell order: the seller has not paid yet; the escrow is created now, announced with this request's id.
    const order = { ...o, buyerInvoice: i.invoice };
    return {
      trade: { ...t, order, triggerRid: i.rid, escrowSeq: t.escrowSeq + 1 },
      effects: [reputationNotice(o.sellerPubkey!, o, 'pay-invoice', takerReputation), { type: 'create-hold' }],
    };
  }
  // Buy order whose escrow is already locked: the trade starts.
  const d = moveTo(t, 'active', { buyerInvoice: i.invoice }, c.now);
  const n = d.trade.order;
  d.effects.push(
    send(orderMessage(n.sellerPubkey!, { id: n.id, action: 'buyer-took-order', payload: { order: escrowLockedOrder(n, 'seller') } })),
    send(
      orderMessage(n.buyerPubkey!, {
        rid: i.rid,
        id: n.id,
        action: 'hold-invoice-payment-accepted',
        payload: { order: escrowLockedOrder(n, 'buyer', true) },
      }),
    ),
  );
  return d;
}

// ----------------------------------------------------------------------------------------------------------------
// Fiat sent, release, payout

export interface NextTrade {
  pubkey: string;
  index: number;
}

/** The buyer's `fiat-sent` (guarded by `canSendFiatSent`); a buy range maker names its next trade key here. */
export function fiatSent(t: Trade, i: { rid: Rid; nextTrade: NextTrade | null }, c: Clock): Decision {
  const next = i.nextTrade ? { nextTradePubkey: i.nextTrade.pubkey, nextTradeIndex: i.nextTrade.index } : {};
  const d = moveTo(t, 'fiat-sent', next, c.now);
  const o = d.trade.order;
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'fiat-sent-ok', payload: { peer: { pubkey: o.buyerPubkey!, reputation: null } } })),
    send(
      orderMessage(o.buyerPubkey!, { rid: i.rid, id: o.id, action: 'fiat-sent-ok', payload: { peer: { pubkey: o.sellerPubkey!, reputation: null } } }),
    ),
  );
  return d;
}

/**
 * The remainder of a range order after this trade, as a new pending order under the maker's next trade key
 * (§23): a sell maker names the key on `release`, a buy maker on `fiat-sent`. Null when nothing remains or no key.
 */
export function childOrder(o: OrderState, next: NextTrade | null, childId: string): OrderState | null {
  if (o.minAmount === null || o.maxAmount === null || !next) return null;
  const rest = rangeRemainder(o.minAmount, o.maxAmount, o.fiatAmount);
  if (rest.kind === 'none') return null;
  const range = rest.kind === 'single' ? { fiatAmount: rest.fiatAmount, minAmount: null, maxAmount: null } : { fiatAmount: 0, minAmount: rest.minAmount, maxAmount: rest.maxAmount };
  const fullPrivacy = (master: string | null, trade: string | null) => master === null || master === trade;
  const maker =
    o.kind === 'sell'
      ? {
          sellerPubkey: next.pubkey,
          masterSellerPubkey: fullPrivacy(o.masterSellerPubkey, o.sellerPubkey) ? next.pubkey : o.masterSellerPubkey,
          tradeIndexSeller: next.index,
          buyerPubkey: null,
          masterBuyerPubkey: null,
          tradeIndexBuyer: null,
        }
      : {
          buyerPubkey: next.pubkey,
          masterBuyerPubkey: fullPrivacy(o.masterBuyerPubkey, o.buyerPubkey) ? next.pubkey : o.masterBuyerPubkey,
          tradeIndexBuyer: next.index,
          sellerPubkey: null,
          masterSellerPubkey: null,
          tradeIndexSeller: null,
        };
  return {
    ...o,
    ...UNTOUCHED_ORDER_FIELDS,
    ...range,
    ...maker,
    id: childId,
    status: 'pending',
    amount: 0,
    fee: 0,
    devFee: 0,
    creatorPubkey: next.pubkey,
    rangeParentId: o.id,
  };
}

/**
 * The seller released (guarded by `canRelease`) and the escrow is settled: the buyer is told, a range remainder
 * becomes a child order, the seller is thanked and invited to rate, and the payout is due now.
 */
export function released(t: Trade, i: { rid: Rid; nextTrade: NextTrade | null; childId: string }, c: Clock): Decision {
  const next = t.order.kind === 'sell' ? i.nextTrade : t.order.nextTradePubkey ? { pubkey: t.order.nextTradePubkey, index: t.order.nextTradeIndex } : null;
  const d = moveTo(t, 'settled-hold-invoice', {}, c.now);
  d.trade = { ...d.trade, releaseRid: i.rid, payoutDueAt: c.now };
  const o = d.trade.order;
  if (t.order.status === 'dispute') d.effects.push(closeDispute(t.order, 'settled'));
  d.effects.push(send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'released' })));
  const child = childOrder(o, next, i.childId);
  if (child && next) d.effects.push({ type: 'start-child', child, announce: { to: next.pubkey, rid: i.rid, tradeIndex: next.index } });
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { rid: i.rid, id: o.id, action: 'hold-invoice-payment-settled' })),
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'rate' })),
  );
  return d;
}

export type PayoutOutcome =
  | { status: 'succeeded'; hash: string; feeSats: number }
  | { status: 'failed'; hash: string | null; reason: string }
  | { status: 'in-flight'; hash: string };

/** How long to wait before asking LND again about a payout still in flight, at first. */
export const IN_FLIGHT_RECHECK_SECS = 30;
/** The longest wait between two rechecks of a payment in flight. */
export const MAX_IN_FLIGHT_RECHECK_SECS = 3600;

/**
 * When to ask LND again about a payment that has been in flight for `inFlightForSecs`: soon at first, then about
 * half as long again as it has taken so far, up to an hour. A payment can stay in flight until its HTLCs time out —
 * days, if the payee holds them — and a fixed 30-second recheck would fill the workflow's history with thousands of
 * steps (Temporal terminates a workflow at 50k events); the workflow's payment tracker (trackPayment) wakes the trade
 * as soon as LND knows the outcome, so the rechecks are only a safety net.
 */
export function inFlightRecheckSecs(inFlightForSecs: number, firstSecs: number): number {
  return Math.min(MAX_IN_FLIGHT_RECHECK_SECS, Math.max(firstSecs, Math.floor(inFlightForSecs / 2)));
}

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

// ----------------------------------------------------------------------------------------------------------------
// Cancel (§21)

export function cancel(t: Trade, i: { sender: string; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const maker = o.creatorPubkey;
  const taker = takerPubkey(o);
  switch (o.status) {
    case 'canceled':
    case 'cooperatively-canceled':
    case 'canceled-by-admin':
      return refuse(t, i.sender, i.rid, 'order_already_canceled');
    case 'pending':
    case 'waiting-taker-bond': {
      if (i.sender !== maker) return refuse(t, i.sender, i.rid, 'is_not_your_order');
      const d = moveTo(t, 'canceled', {}, c.now);
      d.effects.push(send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'canceled' })));
      return d;
    }
    case 'waiting-payment':
    case 'waiting-buyer-invoice': {
      const hold: Effect[] = o.hash ? [{ type: 'cancel-hold', hash: o.hash }] : [];
      if (i.sender === maker) {
        const d = moveTo(t, 'canceled', {}, c.now);
        d.effects.unshift(...hold);
        d.effects.push(send(orderMessage(maker, { rid: i.rid, id: o.id, action: 'canceled' })));
        if (taker) d.effects.push(send(orderMessage(taker, { id: o.id, action: 'canceled' })));
        return d;
      }
      if (i.sender !== taker) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
      const d = moveTo(t, 'pending', resetToPending(o), c.now);
      d.trade = { ...d.trade, triggerRid: null };
      d.effects.unshift(...hold, send(orderMessage(taker, { rid: i.rid, id: o.id, action: 'canceled' })));
      d.effects.push(send(orderMessage(maker, { rid: i.rid, id: o.id, action: 'new-order', payload: { order: storedOrder(d.trade.order) } })));
      return d;
    }
    case 'active':
    case 'fiat-sent':
    case 'dispute':
      return cooperativeCancel(t, i, c);
    default:
      return refuse(t, i.sender, i.rid, 'not_allowed_by_status');
  }
}

function cooperativeCancel(t: Trade, i: { sender: string; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const isBuyer = i.sender === o.buyerPubkey;
  if (!isBuyer && i.sender !== o.sellerPubkey) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
  const counterparty = isBuyer ? o.sellerPubkey! : o.buyerPubkey!;
  if (o.cancelInitiatorPubkey === null) {
    const order = { ...o, cancelInitiatorPubkey: i.sender, ...(isBuyer ? { buyerCooperativeCancel: true } : { sellerCooperativeCancel: true }) };
    return {
      trade: { ...t, order },
      effects: [
        send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'cooperative-cancel-initiated-by-you' })),
        send(orderMessage(counterparty, { id: o.id, action: 'cooperative-cancel-initiated-by-peer' })),
      ],
    };
  }
  if (o.cancelInitiatorPubkey === i.sender) return refuse(t, i.sender, i.rid, 'invalid_pubkey');
  const d = moveTo(t, 'cooperatively-canceled', isBuyer ? { buyerCooperativeCancel: true } : { sellerCooperativeCancel: true }, c.now);
  if (o.hash) d.effects.unshift({ type: 'cancel-hold', hash: o.hash });
  if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
  d.effects.push(
    send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'cooperative-cancel-accepted' })),
    send(orderMessage(counterparty, { id: o.id, action: 'cooperative-cancel-accepted' })),
  );
  return d;
}

// ----------------------------------------------------------------------------------------------------------------
// Time (§22)

/** Seconds from escrow acceptance until the guard acts: the hold invoice's CLTV minus the margin, ~10 min a block. */
export const escrowGuardSecs = (s: OrderSettings): number => Math.max(0, s.holdInvoiceCltvDelta - s.escrowDeadlineMarginBlocks) * 600;

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
 * What a passed deadline does: expiry, a waiting timeout, or the escrow guard. Payouts are driven by the workflow.
 * `newId` names the dispute the guard may open.
 */
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

function closeDispute(o: OrderState, status: 'settled' | 'seller-refunded', bondResolution?: BondResolution | null): Effect {
  const initiator = o.buyerDispute ? 'buyer' : o.sellerDispute ? 'seller' : 'unknown';
  return { type: 'close-dispute', status, initiator, ...(bondResolution ? { bondResolution } : {}) };
}

/** A dispute opens (§24.1): status `dispute`, the record and its event, both parties told with the dispute id. */
export function openDispute(t: Trade, i: { id: string; initiator: 'buyer' | 'seller'; rid: Rid }, c: Clock): Decision {
  const o = t.order;
  const d = moveTo(t, 'dispute', i.initiator === 'buyer' ? { buyerDispute: true } : { sellerDispute: true }, c.now);
  const [by, peer] = i.initiator === 'buyer' ? [o.buyerPubkey!, o.sellerPubkey!] : [o.sellerPubkey!, o.buyerPubkey!];
  const payload = { dispute: [i.id, null] as [string, null] };
  d.trade = { ...d.trade, dispute: { id: i.id, initiator: i.initiator, previousStatus: o.status, openedAt: c.now, solver: null, byAdmin: false, solverCategory: 0 } };
  d.effects.push(
    { type: 'open-dispute', dispute: { id: i.id, orderId: o.id, initiator: i.initiator, previousStatus: o.status, createdAt: c.now } },
    send(orderMessage(by, { rid: i.rid, id: o.id, action: 'dispute-initiated-by-you', payload })),
    send(orderMessage(peer, { rid: i.rid, id: o.id, action: 'dispute-initiated-by-peer', payload })),
  );
  return d;
}

/** LND canceled the escrow by itself (expiry): an order that was relying on it is over; both parties are told. */
export function holdInvoiceCanceled(t: Trade, hash: string, c: Clock): Decision {
  const o = t.order;
  if (o.hash !== hash || (o.status !== 'active' && o.status !== 'fiat-sent' && o.status !== 'dispute')) return { trade: t, effects: [] };
  const d = moveTo(t, 'canceled', {}, c.now);
  // In a dispute the sats went back to the seller: the dispute is over, as a solver's cancel would have ended it.
  if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
  d.effects.push(
    send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'hold-invoice-payment-canceled' })),
    send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'hold-invoice-payment-canceled' })),
  );
  return d;
}

export function supportApplies(t: Trade, action: SupportAction, s: Pick<OrderSettings, 'devFeeLightningAddress'>): boolean {
  const o = t.order;
  switch (action) {
    case 'retry-payout':
      return o.status === 'settled-hold-invoice' && o.buyerInvoice !== null;
    case 'retry-dev-fee':
      return o.status === 'success' && !o.devFeePaid && o.devFee > 0 && s.devFeeLightningAddress !== null;
    case 'republish':
      return publishedStatus(o.kind, o.status) !== null;
    case 'cancel-with-refund':
      return (o.status === 'active' || o.status === 'fiat-sent' || o.status === 'dispute') && o.hash !== null;
    case 'resend-add-invoice':
      return o.status === 'settled-hold-invoice' && o.failedPayment && t.payoutDueAt === null && o.buyerPubkey !== null;
  }
}

export function supportRequest(t: Trade, r: SupportRequest, c: Clock): Decision {
  if (!supportApplies(t, r.action, c.settings)) return { trade: t, effects: [] };
  switch (r.action) {
    case 'retry-payout':
      return { trade: { ...t, payoutDueAt: c.now }, effects: [] };
    case 'retry-dev-fee':
      return { trade: { ...t, devFeeDueAt: c.now, devFeeAttempts: 0 }, effects: [] };
    case 'republish':
      return { trade: t, effects: [{ type: 'publish' }] };
    case 'resend-add-invoice':
      // The same message as the add-invoice it repeats: the release's request id only if that one came from the
      // release's own attempt (a single allowed attempt), none after retries.
      return {
        trade: t,
        effects: [
          send(
            orderMessage(t.order.buyerPubkey!, {
              rid: t.payoutSeq === 0 && c.settings.paymentAttempts <= 1 ? t.releaseRid : null,
              id: t.order.id,
              action: 'add-invoice',
              payload: { order: payoutInvoiceOrder(t.order) },
            }),
          ),
        ],
      };
    case 'cancel-with-refund': {
      const o = t.order;
      const d = moveTo(t, 'canceled-by-admin', {}, c.now);
      d.effects.unshift({ type: 'cancel-hold', hash: o.hash! });
      if (o.status === 'dispute') d.effects.push(closeDispute(o, 'seller-refunded'));
      d.effects.push(
        send(orderMessage(o.sellerPubkey!, { id: o.id, action: 'admin-canceled' })),
        send(orderMessage(o.buyerPubkey!, { id: o.id, action: 'admin-canceled' })),
      );
      return d;
    }
  }
}

// ----------------------------------------------------------------------------------------------------------------
// Solvers (§24.2–24.3)

export const SOLVER_READ_WRITE = 2;

/** `admin-take-dispute`: who may take (or take over) the dispute now. */
export function canTakeDispute(t: Trade, identity: string, who: DisputeRole): boolean {
  const ds = t.dispute;
  if (!ds || t.order.status !== 'dispute') return false;
  if (who.role === 'admin') return true;
  if (who.role !== 'solver') return false;
  if (ds.solver === null || ds.solver === identity) return true;
  // A read-write solver may take over from a read-only one (not from the admin).
  return who.category >= SOLVER_READ_WRITE && !ds.byAdmin && ds.solverCategory < SOLVER_READ_WRITE;
}

/**
 * A solver or the admin takes the dispute: it goes `in-progress` under them; they get the whole case
 * (`SolverDisputeInfo`, to their identity key), both parties learn who resolves it.
 */
export function takeDispute(t: Trade, i: { identity: string; rid: Rid; who: DisputeRole; info: SolverDisputeInfo }): Decision {
  const ds = t.dispute!;
  const o = t.order;
  const dispute: DisputeState = { ...ds, solver: i.identity, byAdmin: i.who.role === 'admin', solverCategory: i.who.role === 'solver' ? i.who.category : SOLVER_READ_WRITE };
  const peer = { peer: { pubkey: i.identity, reputation: null } };
  return {
    trade: { ...t, dispute },
    effects: [
      { type: 'take-dispute', disputeId: ds.id, solver: i.identity, initiator: ds.initiator, openedAt: ds.openedAt },
      // The solver gets the escrow preimage (as from the reference), put in by the sending activity.
      send({
        ...orderMessage(i.identity, { wrapper: 'dispute', rid: i.rid, id: ds.id, action: 'admin-took-dispute', payload: { dispute: [ds.id, i.info] } }),
        ...(o.hash ? { escrowPreimageKey: `${o.id}:${t.escrowSeq}` } : {}),
      }),
      send(orderMessage(o.buyerPubkey!, { rid: i.rid, id: o.id, action: 'admin-took-dispute', payload: peer })),
      send(orderMessage(o.sellerPubkey!, { rid: i.rid, id: o.id, action: 'admin-took-dispute', payload: peer })),
    ],
  };
}

/** `admin-settle` / `admin-cancel`: the holder of the dispute may resolve it; the reasons of §24.3 otherwise. */
export function canResolveDispute(t: Trade, identity: string, who: DisputeRole, action: 'admin-settle' | 'admin-cancel'): { ok: true } | { ok: false; reason: CantDoReason } | { ok: 'cooperatively-canceled' } {
  const ds = t.dispute;
  if (!ds || ds.solver !== identity) {
    return { ok: false, reason: ds?.byAdmin ? 'dispute_taken_by_admin' : 'is_not_your_dispute' };
  }
  if (who.role === 'none' || (who.role === 'solver' && who.category < SOLVER_READ_WRITE)) return { ok: false, reason: 'not_authorized' };
  if (t.order.status === 'cooperatively-canceled') return { ok: 'cooperatively-canceled' };
  if (t.order.status !== 'dispute') return { ok: false, reason: action === 'admin-settle' ? 'invalid_order_status' : 'not_allowed_by_status' };
  return { ok: true };
}

/** The order was cooperatively canceled meanwhile: the solver is told so, nothing else happens. */
export function resolvedCooperatively(t: Trade, i: { sender: string; rid: Rid; ti: number | null }): Decision {
  return { trade: t, effects: [send(orderMessage(i.sender, { rid: i.rid, ti: i.ti, id: t.order.id, action: 'cooperative-cancel-accepted' }))] };
}

/** `admin-settle` after the escrow was settled: the buyer is paid as after a release; everyone is told. */
export function adminSettled(t: Trade, i: { sender: string; rid: Rid; ti: number | null; bondResolution?: BondResolution | null }, c: Clock): Decision {
  const d = moveTo(t, 'settled-hold-invoice', {}, c.now);
  // The dispute stays on record: a late admin-settle/-cancel by its holder is answered by status (§24.3). The payout's
  // messages echo the admin-settle's request id, as a release's echo the release's.
  d.trade = { ...d.trade, releaseRid: i.rid, payoutDueAt: c.now };
  const o = d.trade.order;
  d.effects.push(
    closeDispute(t.order, 'settled', i.bondResolution),
    send(orderMessage(i.sender, { rid: i.rid, ti: i.ti, id: o.id, action: 'admin-settled' })),
    send(orderMessage(o.sellerPubkey!, { ti: i.ti, id: o.id, action: 'admin-settled' })),
    send(orderMessage(o.buyerPubkey!, { ti: i.ti, id: o.id, action: 'admin-settled' })),
  );
  return d;
}

/** `admin-cancel`: the escrow is canceled (the seller keeps the sats); the order ends `canceled-by-admin`. */
export function adminCanceled(t: Trade, i: { sender: string; rid: Rid; ti: number | null; bondResolution?: BondResolution | null }, c: Clock): Decision {
  const o = t.order;
  const d = moveTo(t, 'canceled-by-admin', {}, c.now);
  const msg = (to: string) => send(orderMessage(to, { rid: i.rid, ti: i.ti, id: o.id, action: 'admin-canceled' }));
  d.effects.unshift({ type: 'cancel-hold', hash: o.hash! });
  d.effects.push(closeDispute(o, 'seller-refunded', i.bondResolution), msg(i.sender), msg(o.sellerPubkey!), msg(o.buyerPubkey!));
  return d;
}

// ----------------------------------------------------------------------------------------------------------------
// Ratings (§25)

/**
 * `rate-user`: after a successful trade (the seller already once the escrow is settled) each party may rate the
 * other's identity once, 1–5. As the reference: a wrong status is refused; a non-party, a second vote, or a
 * counterparty in full privacy (no identity to rate) changes nothing and gets no answer.
 */
export function rateUser(t: Trade, i: { sender: string; rid: Rid; rating: number }): Decision {
  const o = t.order;
  const isBuyer = i.sender === o.buyerPubkey;
  const isSeller = i.sender === o.sellerPubkey;
  if (!(o.status === 'success' || (o.status === 'settled-hold-invoice' && isSeller))) return refuse(t, i.sender, i.rid, 'invalid_order_status');
  const nothing: Decision = { trade: t, effects: [] };
  if (!isBuyer && !isSeller) return nothing;
  if ((isBuyer && o.buyerSentRate) || (isSeller && o.sellerSentRate)) return nothing;
  const [rated, ratedTrade] = isBuyer ? [o.masterSellerPubkey, o.sellerPubkey] : [o.masterBuyerPubkey, o.buyerPubkey];
  if (rated === null || rated === ratedTrade) return nothing;
  const order = isBuyer ? { ...o, buyerSentRate: true } : { ...o, sellerSentRate: true };
  return {
    trade: { ...t, order },
    effects: [
      { type: 'rate', orderId: o.id, raterSide: isBuyer ? 'buyer' : 'seller', raterTradeKey: i.sender, rated, rating: i.rating },
      send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'rate-received', payload: { rating_user: i.rating } })),
    ],
  };
}

// ----------------------------------------------------------------------------------------------------------------
// trade-pubkey (§26.4)

/**
 * The maker moves a pending order to another trade key of the same identity (a client restoring its keys): the
 * order's maker key and creator become the sender's, which is told `trade-pubkey`. Anyone but the maker's identity
 * changes nothing and gets no answer (the reference fails internally); a taken order is refused.
 */
export function tradePubkey(t: Trade, i: { sender: string; identity: string; rid: Rid }): Decision {
  const o = t.order;
  if (o.status !== 'pending' && o.status !== 'waiting-taker-bond') return refuse(t, i.sender, i.rid, 'invalid_order_status');
  const master = o.kind === 'sell' ? o.masterSellerPubkey : o.masterBuyerPubkey;
  if (master === null || i.identity !== master) return { trade: t, effects: [] };
  const keys = o.kind === 'sell' ? { sellerPubkey: i.sender } : { buyerPubkey: i.sender };
  return {
    trade: { ...t, order: { ...o, ...keys, creatorPubkey: i.sender } },
    effects: [send(orderMessage(i.sender, { rid: i.rid, id: o.id, action: 'trade-pubkey' }))],
  };
}
