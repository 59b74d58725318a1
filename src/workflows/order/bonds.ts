/**
 * How an order's trade steps treat its anti-abuse bonds, the takers' and the maker's (bonds.md §10–14): pure decisions
 * over the trade, like machine.ts, which the workflow shell calls around the ordinary ones.
 *
 * - A take on an order whose takers must post a bond does not touch the order: it requests a bond (a second hold
 *   invoice) with the take's own quote; the order shows `pending` on the wire (`waiting-taker-bond` inside) and stays
 *   takeable. The first bond LND reports locked wins: its take becomes the order's (machine `take`), every other
 *   requested bond is released and its taker told `canceled`.
 * - Release is the default: every exit releases what is still held (`releaseOnExit`). Slashing happens only on a
 *   solver's `bond_resolution` or a waiting timeout that really elapsed (`slash`); the shell settles the HTLC first.
 * - A maker bond keeps the order unpublished until it locks; a range maker's bond travels with the range's remainder
 *   order and is settled once, when the range closes, if any slice was slashed.
 * - No bond may reach its CLTV expiry still held: `bondGuardAt` / `bondGuard` release it deliberately before.
 */
import type { BondResolution, CantDoReason } from '@mostro/protocol/schema';
import { computeBondAmount, computeNodeShare, rangeSliceSlash } from '../../domain/bond-math.js';
import { newPayout } from '../bond/payout-machine.js';
import { timeoutSlashArmed } from '../../domain/bond-policy.js';
import { bondAccepted, bondCanceled, bondRequested, isActiveBond, takeWithBonds, takerCanceled, withState } from '../bond/taker-bonds.js';
import { escrowGuardSecs, isFinal, moveTo, refuse, send, type Clock, type Decision, type Effect, type Trade } from './model.js';
import { take } from './actions/take.js';
import { orderMessage, type Outbound, type Rid } from '../../domain/messages.js';
import type { OrderState } from '../../domain/order.js';
import { bondOrder, publicOrder, storedOrder } from './views.js';
import { type BondPayout, type Bond, type BondSlash, type SliceSlash, type TakeSnapshot, type TakerBond } from '../../domain/bond.js';
import { type OrderSettings } from '../../domain/order-settings.js';
import { projectedBondState, type BondRowView } from '../../domain/bond.js';

export const bondsOf = (t: Trade): readonly TakerBond[] => t.bonds ?? [];
const withBonds = (t: Trade, bonds: TakerBond[]): Trade => ({ ...t, bonds });
const release = (b: TakerBond): Effect => ({ type: 'cancel-hold', hash: b.hash });
const canceledTo = (o: OrderState, to: string, rid: Rid = null): Effect => send(orderMessage(to, { rid, id: o.id, action: 'canceled' }));
const open = (o: OrderState) => o.status === 'pending' || o.status === 'waiting-taker-bond';

/** What a taker locks for a take quoted at `quoteSats` (§8.1). */
export const takerBondAmount = (quoteSats: number, s: OrderSettings): number => computeBondAmount(quoteSats, s.bond ?? { amountPct: 0, baseAmountSats: 0 });

/** Preimage key of a bond's hold invoice (the Lightning activities derive the preimage from it). */
export const bondInvoiceKey = (bondId: string): string => `bond:${bondId}`;
export const bondInvoiceMemo = (orderId: string): string => `mostro bond order_id=${orderId}`;

/** A take on an order under taker bonds: refused once a taker's bond is locked, its own bond again on a re-take, else a new bond. */
export const takeUnderBonds = (t: Trade, taker: string) => takeWithBonds(bondsOf(t), taker);

function payBondInvoice(o: OrderState, b: TakerBond, rid: Rid): Outbound {
  return orderMessage(b.taker, {
    rid,
    ti: b.tradeIndex,
    id: o.id,
    action: 'pay-bond-invoice',
    payload: { payment_request: [bondOrder(o, { amountSats: b.amountSats, fiatAmount: b.fiatAmount, status: 'pending' }), b.request, null] },
  });
}

/** An identical re-take: the same bond invoice again, echoing this request's id; nothing else changes. */
export function resendBondInvoice(t: Trade, bond: TakerBond, rid: Rid): Decision {
  return { trade: t, effects: [send(payBondInvoice(t.order, bond, rid))] };
}

/** A taker's bond invoice exists: the taker is asked to pay it; the order parks in `waiting-taker-bond` (still `pending` on the wire). */
export function takerBondRequested(t: Trade, snapshot: TakeSnapshot, invoice: { id: string; hash: string; request: string; amountSats: number }, c: Clock): Decision {
  const bonds = bondRequested(bondsOf(t), snapshot, invoice);
  const ask = send(payBondInvoice(t.order, bonds[bonds.length - 1]!, snapshot.rid));
  if (t.order.status !== 'pending') return { trade: withBonds(t, bonds), effects: [ask] };
  const d = moveTo(withBonds(t, bonds), 'waiting-taker-bond', {}, c.now);
  return { trade: d.trade, effects: [ask, ...d.effects] };
}

/**
 * LND reports a bond ACCEPTED. The first wins: the other requested bonds are released and their takers told
 * `canceled`, then the winner's take proceeds as an ordinary take would have (escrow invoice, or the buyer asked for
 * an invoice). A lock that lost, or that arrives after the order moved on, is released and its taker told.
 */
export function takerBondLocked(t: Trade, hash: string, c: Clock): Decision {
  const o = t.order;
  const r = bondAccepted(bondsOf(t), hash, c.now);
  if (r.type === 'unknown' || r.type === 'duplicate') return { trade: t, effects: [] };
  if (r.type === 'lost') return { trade: withBonds(t, r.bonds), effects: [release(r.loser), canceledTo(o, r.loser.taker)] };
  const losers = r.losers.flatMap((b) => [release(b), canceledTo(o, b.taker)]);
  const w = r.winner;
  if (!open(o)) {
    const bonds = r.bonds.map((b) => (b.id === w.id ? withState(b, 'released') : b));
    return { trade: withBonds(t, bonds), effects: [...losers, release(w), canceledTo(o, w.taker)] };
  }
  const d = take(
    withBonds(t, r.bonds),
    {
      action: o.kind === 'sell' ? 'take-sell' : 'take-buy',
      sender: w.taker,
      identity: w.identity,
      tradeIndex: w.tradeIndex,
      rid: w.rid,
      quote: { fiatAmount: w.fiatAmount, amount: w.amount, fee: w.fee, devFee: w.devFee },
      invoice: w.buyerInvoice,
    },
    c,
  );
  return { trade: d.trade, effects: [...losers, ...d.effects] };
}

/** LND canceled a bond (never paid in time, or released): when the last requested one goes, the order is `pending` again. */
export function takerBondCanceled(t: Trade, hash: string, c: Clock): Decision {
  const r = bondCanceled(bondsOf(t), hash);
  if (!r.released) return { trade: t, effects: [] };
  const next = withBonds(t, r.bonds);
  if (r.remaining === 0 && t.order.status === 'waiting-taker-bond') return moveTo(next, 'pending', {}, c.now);
  return { trade: next, effects: [] };
}

/**
 * A cancel before the trade started while taker bonds exist (§11); null when bonds change nothing (the ordinary
 * cancel applies). The maker cancels the order and every bonded taker is told; a bonded taker releases only its own
 * bond — with others still waiting nobody else hears of it, as the last one it puts the order back to `pending`.
 */
export function cancelUnderBonds(t: Trade, i: { sender: string; rid: Rid }, c: Clock): Decision | null {
  const o = t.order;
  if (o.status === 'waiting-maker-bond') {
    // The maker changed its mind before locking its bond: the order was never published, so no event either.
    if (i.sender !== o.creatorPubkey) return refuse(t, i.sender, i.rid, 'is_not_your_order');
    return { trade: moveTo(t, 'canceled', {}, c.now).trade, effects: [canceledTo(o, i.sender, i.rid)] };
  }
  const bonds = bondsOf(t);
  if (!open(o) || !bonds.some(isActiveBond)) return null;
  if (i.sender === o.creatorPubkey) {
    const d = moveTo(t, 'canceled', {}, c.now);
    d.effects.push(canceledTo(o, i.sender, i.rid));
    for (const b of bonds) if (isActiveBond(b) && b.taker !== i.sender) d.effects.push(canceledTo(o, b.taker));
    return d;
  }
  const r = takerCanceled(bonds, i.sender);
  if (r.type === 'not-bonded') return refuse(t, i.sender, i.rid, 'is_not_your_order');
  const next = withBonds(t, r.bonds);
  const effects = [release(r.bond), canceledTo(o, i.sender, i.rid)];
  if (r.remaining > 0) return { trade: next, effects };
  const d = moveTo(next, 'pending', {}, c.now);
  return {
    trade: d.trade,
    effects: [...effects, ...d.effects, send(orderMessage(o.creatorPubkey, { rid: i.rid, id: o.id, action: 'new-order', payload: { order: storedOrder(d.trade.order) } }))],
  };
}

/**
 * Release is the default (§13): once a decision ends the order (any final status), settles the escrow (the release
 * and `admin-settle` paths) or puts the order back to `pending` (a taker left), every taker bond still held is
 * released. The maker's bond stays through a taker leaving; when the order ends it goes along to a range remainder
 * (`start-child`), or the range closes: released when no slice was slashed, else settled and paid out (§12.2).
 */
export function releaseOnExit(d: Decision, c: Clock): Decision {
  const bonds = bondsOf(d.trade);
  const held = bonds.filter(isActiveBond);
  const s = d.trade.order.status;
  let out = d;
  if (held.length > 0 && (isFinal(s) || s === 'settled-hold-invoice' || s === 'pending')) {
    out = { trade: withBonds(d.trade, bonds.map((b) => (isActiveBond(b) ? withState(b, 'released') : b))), effects: [...d.effects, ...held.map(release)] };
  }
  const m = out.trade.makerBond;
  if (!m || !isActiveBond(m) || !(isFinal(s) || s === 'settled-hold-invoice')) return out;
  const child = out.effects.findIndex((e) => e.type === 'start-child');
  if (child >= 0 && m.state === 'locked') {
    // The range goes on: its remainder order holds the bond from now on.
    const effects = out.effects.map((e, k) => (k === child && e.type === 'start-child' ? { ...e, makerBond: m } : e));
    return { trade: { ...out.trade, makerBond: undefined }, effects };
  }
  const closed = closeMakerBond(out.trade, m, c);
  return { trade: closed.trade, effects: [...out.effects, ...closed.effects] };
}

/**
 * Lets the maker's bond go for good: released (all of it back to the maker) unless slices of a range were slashed;
 * then its HTLC is settled once, each slice's counterparty is paid (claim windows start now) and what was not slashed
 * is refunded to the maker through the same payout flow.
 */
function closeMakerBond(t: Trade, m: Bond, c: Clock): { trade: Trade; effects: Effect[] } {
  const slices = m.slices ?? [];
  if (m.state !== 'locked' || slices.length === 0) {
    return { trade: { ...t, makerBond: withState(m, 'released') }, effects: [release(m)] };
  }
  const slashedSats = slices.reduce((n, x) => n + x.amountSats, 0);
  const refund = m.amountSats - slashedSats;
  const reanchored: SliceSlash[] = slices.map((x) => ({ ...x, at: c.now, rev: x.rev + 1 }));
  if (refund > 0) {
    reanchored.push({
      id: `${m.id}:refund`,
      orderId: m.orderId ?? t.order.id,
      pubkey: m.taker,
      amountSats: refund,
      nodeShareSats: 0,
      recipient: m.taker,
      reason: slices[0]!.reason,
      at: c.now,
      refund: true,
      rev: 1,
    });
  }
  const nodeShareSats = slices.reduce((n, x) => n + x.nodeShareSats, 0);
  const bond = withState(m, 'slashed', { slash: { reason: slices[0]!.reason, at: c.now, nodeShareSats, recipient: null }, slices: reanchored });
  const payouts: Effect[] = reanchored
    .filter((x) => x.nodeShareSats < x.amountSats)
    .map((x) => ({ type: 'start-bond-payout', payout: slicePayout(t.order, x) }));
  return { trade: { ...t, makerBond: bond }, effects: [{ type: 'settle-bond', bondId: m.id }, ...payouts] };
}

// ----------------------------------------------------------------------------------------------------------------
// Maker bonds (§12)

/**
 * `new-order` when makers must post a bond: the order is created `waiting-maker-bond` and stays unpublished; the maker
 * is asked for the bond (on the notional: the amount, or the fiat — a range's maximum — at the price).
 */
export function makerBondRequested(created: Decision, invoice: { id: string; hash: string; request: string; amountSats: number }, maker: { identity: string; tradeIndex: number | null; rid: Rid; notionalSats: number }): Decision {
  const o: OrderState = { ...created.trade.order, status: 'waiting-maker-bond' };
  const bond: Bond = {
    taker: o.creatorPubkey,
    identity: maker.identity,
    tradeIndex: maker.tradeIndex,
    fiatAmount: o.fiatAmount,
    amount: maker.notionalSats,
    fee: 0,
    devFee: 0,
    buyerInvoice: null,
    rid: maker.rid,
    ...invoice,
    state: 'requested',
    lockedAt: null,
    rev: 1,
    orderId: o.id,
    rangeMaxFiat: o.maxAmount,
  };
  return { trade: { ...created.trade, order: o, makerBond: bond }, effects: [send(payBondInvoice(o, bond, maker.rid))] };
}

/** The maker's bond is locked: the order is published now and the maker gets its `new-order` acknowledgement. */
export function makerBondLocked(t: Trade, hash: string, c: Clock): Decision {
  const m = t.makerBond;
  if (!m || m.hash !== hash || m.state !== 'requested') return { trade: t, effects: [] };
  const locked = withState(m, 'locked', { lockedAt: c.now });
  if (t.order.status !== 'waiting-maker-bond') {
    // Canceled or expired before the lock: the bond goes back.
    return { trade: { ...t, makerBond: withState(m, 'released') }, effects: [release(m)] };
  }
  const d = moveTo({ ...t, makerBond: locked }, 'pending', {}, c.now);
  const o = d.trade.order;
  d.effects.push(send(orderMessage(m.taker, { rid: m.rid, ti: m.tradeIndex, id: o.id, action: 'new-order', payload: { order: publicOrder(o) } })));
  return d;
}

/** LND canceled the maker's bond (never paid, or released): it is gone; an unpublished order then simply expires. */
export function makerBondCanceled(t: Trade, hash: string): Decision {
  const m = t.makerBond;
  if (!m || m.hash !== hash || !isActiveBond(m)) return { trade: t, effects: [] };
  return { trade: { ...t, makerBond: withState(m, 'released') }, effects: [] };
}

// ----------------------------------------------------------------------------------------------------------------
// Slashing (§14)

export interface SlashTarget {
  bond: Bond;
  role: 'taker' | 'maker';
  /** Who is paid the counterparty share; null: nobody (both sides slashed). */
  recipient: string | null;
  reason: BondSlash['reason'];
}

/** A range maker's bond is slashed slice by slice and settled only when the range closes. */
const isRangeBond = (b: Bond): boolean => b.rangeMaxFiat !== undefined && b.rangeMaxFiat !== null;

/** Whether the shell settles this target's HTLC before the decision (not a range maker's: that waits for the close). */
export const settlesNow = (x: SlashTarget): boolean => !(x.role === 'maker' && isRangeBond(x.bond));

/** The locked bond that covers one side of the trade (§5.4: the maker's side, or the taker's by its trade key). */
function lockedBondOf(t: Trade, side: 'buyer' | 'seller'): { bond: Bond; role: 'taker' | 'maker' } | null {
  const o = t.order;
  const makerSide = o.kind === 'sell' ? 'seller' : 'buyer';
  if (side === makerSide) return t.makerBond?.state === 'locked' ? { bond: t.makerBond, role: 'maker' } : null;
  const pubkey = side === 'seller' ? o.sellerPubkey : o.buyerPubkey;
  const bond = bondsOf(t).find((b) => b.state === 'locked' && pubkey !== null && b.taker === pubkey);
  return bond ? { bond, role: 'taker' } : null;
}

/**
 * A solver's `bond_resolution` on `admin-settle` / `admin-cancel` (§14.1): each flagged side must have a locked bond
 * (else `invalid_payload`, and the dispute is not resolved). One side slashed: the other side is paid its share.
 * Both: each bond goes to the node alone (bonds.md §20 item 2) — nobody is paid out of a co-offender's bond.
 */
export function disputeSlashTargets(t: Trade, r: BondResolution | null): { ok: true; targets: SlashTarget[] } | { ok: false; reason: CantDoReason } {
  if (!r || (!r.slash_seller && !r.slash_buyer)) return { ok: true, targets: [] };
  const o = t.order;
  const seller = r.slash_seller ? lockedBondOf(t, 'seller') : null;
  const buyer = r.slash_buyer ? lockedBondOf(t, 'buyer') : null;
  if ((r.slash_seller && !seller) || (r.slash_buyer && !buyer)) return { ok: false, reason: 'invalid_payload' };
  const both = !!seller && !!buyer;
  const targets: SlashTarget[] = [];
  if (seller) targets.push({ ...seller, recipient: both ? null : o.buyerPubkey, reason: 'lost-dispute' });
  if (buyer) targets.push({ ...buyer, recipient: both ? null : o.sellerPubkey, reason: 'lost-dispute' });
  return { ok: true, targets };
}

/**
 * A waiting timeout that really elapsed (§14.2): the responsible party is the buyer owing an invoice or the seller
 * owing the escrow. When the gate is armed for its posting role and its bond is locked, the bond is slashed and the
 * other side is paid its share.
 */
export function timeoutSlashTarget(t: Trade, s: OrderSettings): SlashTarget | null {
  const o = t.order;
  if (o.status !== 'waiting-payment' && o.status !== 'waiting-buyer-invoice') return null;
  const buyerResponsible = o.status === 'waiting-buyer-invoice';
  const makerResponsible = buyerResponsible === (o.kind === 'buy');
  if (!timeoutSlashArmed(s.bond, makerResponsible ? 'maker' : 'taker')) return null;
  const found = lockedBondOf(t, buyerResponsible ? 'buyer' : 'seller');
  if (!found || found.role !== (makerResponsible ? 'maker' : 'taker')) return null;
  return { ...found, recipient: buyerResponsible ? o.sellerPubkey : o.buyerPubkey, reason: 'timeout' };
}

/**
 * The targets' HTLCs were settled (by the shell, before this — except a range maker's, settled at the close): each
 * bond is slashed with its split frozen now and the recipient recorded (§20 item 1); its owner is told `bond-slashed`;
 * a share owed to someone starts a payout workflow. A range maker's bond records the slice instead (in proportion,
 * once per slice) and stays locked. Returns the trade and the effects to add to the order's own decision.
 */
export function slash(t: Trade, targets: readonly SlashTarget[], c: Clock): { trade: Trade; effects: Effect[] } {
  const o = t.order;
  const pct = c.settings.bond?.slashNodeSharePct ?? 0;
  const split = (amount: number, recipient: string | null) => (recipient === null ? amount : computeNodeShare(amount, pct).node);
  const notice = (to: string, amountSats: number): Effect =>
    send(orderMessage(to, { id: o.id, action: 'bond-slashed', payload: { order: bondOrder(o, { amountSats, fiatAmount: o.fiatAmount, status: null }) } }));
  const effects: Effect[] = [];
  let trade = t;
  for (const target of targets) {
    // The maker's bond as it is now (a retried resolution sees the slices already recorded).
    const b = target.role === 'maker' ? (trade.makerBond ?? target.bond) : target.bond;
    if (target.role === 'maker' && isRangeBond(b)) {
      const slices = b.slices ?? [];
      if (slices.some((x) => x.orderId === o.id) || target.recipient === null) continue;
      const amountSats = rangeSliceSlash({ amountSats: b.amountSats, slashedSats: slices.reduce((n, x) => n + x.amountSats, 0) }, o.fiatAmount, b.rangeMaxFiat!);
      if (amountSats <= 0) continue;
      const slice: SliceSlash = { id: `${b.id}:${o.id}`, orderId: o.id, pubkey: o.creatorPubkey, amountSats, nodeShareSats: split(amountSats, target.recipient), recipient: target.recipient, reason: target.reason, at: c.now, rev: 1 };
      trade = { ...trade, makerBond: { ...b, slices: [...slices, slice], rev: b.rev + 1 } };
      effects.push(notice(o.creatorPubkey, amountSats));
      continue;
    }
    const nodeShareSats = split(b.amountSats, target.recipient);
    const slashed = withState(b, 'slashed', { slash: { reason: target.reason, at: c.now, nodeShareSats, recipient: target.recipient } });
    trade = target.role === 'maker' ? { ...trade, makerBond: slashed } : withBonds(trade, bondsOf(trade).map((x) => (x.id === b.id ? slashed : x)));
    effects.push(notice(b.taker, b.amountSats));
    if (target.recipient !== null && nodeShareSats < b.amountSats) effects.push({ type: 'start-bond-payout', payout: payoutOf(o, slashed) });
  }
  return { trade, effects };
}

const orderView = (o: OrderState) => ({ kind: o.kind, fiatCode: o.fiatCode, fiatAmount: o.fiatAmount, paymentMethod: o.paymentMethod, premium: o.premium });

const payoutOf = (o: OrderState, b: Bond): BondPayout =>
  newPayout({ bondId: b.id, orderId: b.orderId ?? o.id, recipient: b.slash!.recipient!, amountSats: b.amountSats, nodeShareSats: b.slash!.nodeShareSats, slashedAt: b.slash!.at, order: orderView(o), rev: b.rev });

const slicePayout = (o: OrderState, x: SliceSlash): BondPayout =>
  newPayout({ bondId: x.id, orderId: x.orderId, recipient: x.recipient, amountSats: x.amountSats, nodeShareSats: x.nodeShareSats, slashedAt: x.at, order: orderView(o), rev: x.rev });

// ----------------------------------------------------------------------------------------------------------------
// CLTV guard (§20 item 9)

const heldBonds = (t: Trade): Bond[] => [...bondsOf(t), ...(t.makerBond ? [t.makerBond] : [])].filter((b) => b.state === 'locked' && b.lockedAt !== null);

/**
 * When the first locked bond must be let go before LND would cancel it at its CLTV expiry (the escrow guard's
 * margin, counted from the lock); null when no bond is held.
 */
export function bondGuardAt(t: Trade, s: OrderSettings): number | null {
  const at = heldBonds(t).map((b) => b.lockedAt! + escrowGuardSecs(s));
  return at.length === 0 ? null : Math.min(...at);
}

/**
 * Lets every locked bond whose guard time has come go deliberately, instead of letting LND cancel it: a taker bond is
 * released, a maker bond closed (released, or settled and paid out when slices of its range were slashed).
 */
export function bondGuard(t: Trade, c: Clock): Decision & { released: Bond[] } {
  const due = (b: Bond) => b.state === 'locked' && b.lockedAt !== null && c.now >= b.lockedAt + escrowGuardSecs(c.settings);
  const released = heldBonds(t).filter(due);
  if (released.length === 0) return { trade: t, effects: [], released };
  let trade = withBonds(t, bondsOf(t).map((b) => (due(b) ? withState(b, 'released') : b)));
  const effects = bondsOf(t).filter(due).map(release);
  if (t.makerBond && due(t.makerBond)) {
    const closed = closeMakerBond(trade, t.makerBond, c);
    trade = closed.trade;
    effects.push(...closed.effects);
  }
  return { trade, effects, released };
}

// ----------------------------------------------------------------------------------------------------------------
// Projection

/** The rows of every bond the order holds: its takers', its maker's and a range maker's slices. */
export function bondRows(t: Trade): BondRowView[] {
  const row = (b: Bond, role: 'taker' | 'maker'): BondRowView => ({
    id: b.id,
    orderId: b.orderId ?? t.order.id,
    role,
    pubkey: b.taker,
    state: projectedBondState(b),
    hash: b.hash,
    paymentRequest: b.request,
    amountSats: b.amountSats,
    nodeShareSats: b.slash?.nodeShareSats ?? null,
    payoutRecipient: b.slash?.recipient ?? null,
    slashedReason: b.slash?.reason ?? null,
    slashedAt: b.slash?.at ?? null,
    lockedAt: b.lockedAt,
    takerIdentity: role === 'taker' ? b.identity : null,
    takerTradeIndex: role === 'taker' ? b.tradeIndex : null,
    takerFiatAmount: role === 'taker' ? b.fiatAmount : null,
    takerAmount: role === 'taker' ? b.amount : null,
    takerFee: role === 'taker' ? b.fee : null,
    takerDevFee: role === 'taker' ? b.devFee : null,
    parentBondId: null,
    childOrderId: null,
    rev: b.rev,
  });
  const m = t.makerBond;
  const slices = (m?.slices ?? []).map(
    (x): BondRowView => ({
      id: x.id,
      orderId: x.orderId,
      role: 'maker',
      pubkey: x.pubkey,
      state: x.nodeShareSats < x.amountSats ? 'pending-payout' : 'slashed',
      hash: null,
      paymentRequest: null,
      amountSats: x.amountSats,
      nodeShareSats: x.nodeShareSats,
      payoutRecipient: x.recipient,
      slashedReason: x.reason,
      slashedAt: x.at,
      lockedAt: null,
      takerIdentity: null,
      takerTradeIndex: null,
      takerFiatAmount: null,
      takerAmount: null,
      takerFee: null,
      takerDevFee: null,
      parentBondId: m!.id,
      childOrderId: x.refund ? null : x.orderId,
      rev: x.rev,
    }),
  );
  return [...bondsOf(t).map((b) => row(b, 'taker')), ...(m ? [row(m, 'maker')] : []), ...slices];
}

/** What support staff see of an order's bonds: each row, and when a held bond will be let go before its CLTV expiry. */
export interface BondView extends BondRowView {
  releaseBy: number | null;
}

export function bondViews(t: Trade, s: OrderSettings): BondView[] {
  return bondRows(t).map((r) => ({ ...r, releaseBy: r.state === 'locked' && r.lockedAt !== null ? r.lockedAt + escrowGuardSecs(s) : null }));
}

