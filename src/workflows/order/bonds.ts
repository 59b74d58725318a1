/**
 * How an order's trade steps treat its takers' anti-abuse bonds (bonds.md §10–11, §13–14): pure decisions over the
 * trade, like machine.ts, which the workflow shell calls around the ordinary ones.
 *
 * - A take on an order whose takers must post a bond does not touch the order: it requests a bond (a second hold
 *   invoice) with the take's own quote; the order shows `pending` on the wire (`waiting-taker-bond` inside) and stays
 *   takeable. The first bond LND reports locked wins: its take becomes the order's (machine `take`), every other
 *   requested bond is released and its taker told `canceled`.
 * - Release is the default: every exit releases what is still held (`releaseOnExit`). Slashing happens only on a
 *   solver's `bond_resolution` or a waiting timeout that really elapsed (`slash`); the shell settles the HTLC first.
 * - No bond may reach its CLTV expiry still held: `bondGuardAt` / `bondGuard` release it deliberately before.
 */
import type { BondResolution, CantDoReason } from '../../protocol/schema.js';
import { computeBondAmount, computeNodeShare } from '../bond/math.js';
import type { BondPayout } from '../bond/payout-machine.js';
import { timeoutSlashArmed } from '../bond/policy.js';
import { bondAccepted, bondCanceled, bondRequested, isActiveBond, takeWithBonds, takerCanceled, withState, type BondSlash, type TakeSnapshot, type TakerBond } from '../bond/taker-bonds.js';
import { escrowGuardSecs, isFinal, moveTo, refuse, send, take, takerPubkey, type Clock, type Decision, type Effect, type OrderSettings, type Trade } from './machine.js';
import { orderMessage, type Outbound, type Rid } from './messages.js';
import type { OrderState } from './state.js';
import { bondOrder, publicOrder } from './views.js';

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
    effects: [...effects, ...d.effects, send(orderMessage(o.creatorPubkey, { rid: i.rid, id: o.id, action: 'new-order', payload: { order: publicOrder(d.trade.order) } }))],
  };
}

/**
 * Release is the default (§13): once a decision ends the order (any final status), settles the escrow (the release
 * and `admin-settle` paths) or puts the order back to `pending` (a taker left), every bond still held is released.
 */
export function releaseOnExit(d: Decision): Decision {
  const bonds = bondsOf(d.trade);
  const held = bonds.filter(isActiveBond);
  const s = d.trade.order.status;
  if (held.length === 0 || !(isFinal(s) || s === 'settled-hold-invoice' || s === 'pending')) return d;
  return { trade: withBonds(d.trade, bonds.map((b) => (isActiveBond(b) ? withState(b, 'released') : b))), effects: [...d.effects, ...held.map(release)] };
}

// ----------------------------------------------------------------------------------------------------------------
// Slashing (§14)

export interface SlashTarget {
  bond: TakerBond;
  /** Who is paid the counterparty share; null: nobody (both sides slashed). */
  recipient: string | null;
  reason: BondSlash['reason'];
}

/**
 * A solver's `bond_resolution` on `admin-settle` / `admin-cancel` (§14.1): each flagged side must have a locked bond
 * (else `invalid_payload`, and the dispute is not resolved). One side slashed: the other side is paid its share.
 * Both: each bond goes to the node alone (bonds.md §20 item 2) — nobody is paid out of a co-offender's bond.
 */
export function disputeSlashTargets(t: Trade, r: BondResolution | null): { ok: true; targets: SlashTarget[] } | { ok: false; reason: CantDoReason } {
  if (!r || (!r.slash_seller && !r.slash_buyer)) return { ok: true, targets: [] };
  const o = t.order;
  const lockedBy = (pubkey: string | null) => bondsOf(t).find((b) => b.state === 'locked' && pubkey !== null && b.taker === pubkey);
  const seller = r.slash_seller ? lockedBy(o.sellerPubkey) : undefined;
  const buyer = r.slash_buyer ? lockedBy(o.buyerPubkey) : undefined;
  if ((r.slash_seller && !seller) || (r.slash_buyer && !buyer)) return { ok: false, reason: 'invalid_payload' };
  const both = !!seller && !!buyer;
  const targets: SlashTarget[] = [];
  if (seller) targets.push({ bond: seller, recipient: both ? null : o.buyerPubkey, reason: 'lost-dispute' });
  if (buyer) targets.push({ bond: buyer, recipient: both ? null : o.sellerPubkey, reason: 'lost-dispute' });
  return { ok: true, targets };
}

/**
 * A waiting timeout that really elapsed (§14.2): the responsible party is the buyer owing an invoice or the seller
 * owing the escrow; when that is the taker, the gate is armed and its bond is locked, the bond is slashed and the
 * maker (the other side) is paid its share. Maker bonds are not requested yet, so a maker at fault slashes nothing.
 */
export function timeoutSlashTarget(t: Trade, s: OrderSettings): SlashTarget | null {
  const o = t.order;
  if (o.status !== 'waiting-payment' && o.status !== 'waiting-buyer-invoice') return null;
  const buyerResponsible = o.status === 'waiting-buyer-invoice';
  const takerResponsible = buyerResponsible === (o.kind === 'sell');
  if (!takerResponsible || !timeoutSlashArmed(s.bond, 'taker')) return null;
  const taker = takerPubkey(o);
  const bond = bondsOf(t).find((b) => b.state === 'locked' && b.taker === taker);
  if (!bond) return null;
  return { bond, recipient: buyerResponsible ? o.sellerPubkey : o.buyerPubkey, reason: 'timeout' };
}

/**
 * The targets' HTLCs were settled (by the shell, before this): each bond is slashed with its split frozen now and the
 * recipient recorded (§20 item 1); its owner is told `bond-slashed`; a share owed to someone starts a payout workflow.
 * Returns the trade with the bonds slashed and the effects to append to the order's own decision.
 */
export function slash(t: Trade, targets: readonly SlashTarget[], c: Clock): { trade: Trade; effects: Effect[] } {
  if (targets.length === 0) return { trade: t, effects: [] };
  const o = t.order;
  const pct = c.settings.bond?.slashNodeSharePct ?? 0;
  const effects: Effect[] = [];
  let bonds = [...bondsOf(t)];
  for (const target of targets) {
    const b = target.bond;
    const nodeShareSats = target.recipient === null ? b.amountSats : computeNodeShare(b.amountSats, pct).node;
    const slashed = withState(b, 'slashed', { slash: { reason: target.reason, at: c.now, nodeShareSats, recipient: target.recipient } });
    bonds = bonds.map((x) => (x.id === b.id ? slashed : x));
    effects.push(
      send(orderMessage(b.taker, { id: o.id, action: 'bond-slashed', payload: { order: bondOrder(o, { amountSats: b.amountSats, fiatAmount: o.fiatAmount, status: null }) } })),
    );
    if (target.recipient !== null && nodeShareSats < b.amountSats) effects.push({ type: 'start-bond-payout', payout: payoutOf(o, slashed) });
  }
  return { trade: withBonds(t, bonds), effects };
}

function payoutOf(o: OrderState, b: TakerBond): BondPayout {
  const s = b.slash!;
  return {
    bondId: b.id,
    orderId: o.id,
    recipient: s.recipient!,
    amountSats: b.amountSats,
    nodeShareSats: s.nodeShareSats,
    slashedAt: s.at,
    status: 'pending-payout',
    invoice: null,
    attempts: 0,
    invoiceRequests: 0,
    lastInvoiceRequestAt: null,
    invoiceSeq: 0,
    order: { kind: o.kind, fiatCode: o.fiatCode, fiatAmount: o.fiatAmount, paymentMethod: o.paymentMethod, premium: o.premium },
    rev: b.rev,
  };
}

// ----------------------------------------------------------------------------------------------------------------
// CLTV guard (§20 item 9)

/**
 * When the first locked bond must be let go before LND would cancel it at its CLTV expiry (the escrow guard's
 * margin, counted from the lock); null when no bond is held.
 */
export function bondGuardAt(t: Trade, s: OrderSettings): number | null {
  const at = bondsOf(t)
    .filter((b) => b.state === 'locked' && b.lockedAt !== null)
    .map((b) => b.lockedAt! + escrowGuardSecs(s));
  return at.length === 0 ? null : Math.min(...at);
}

/** Releases every locked bond whose guard time has come (deliberately, instead of letting LND cancel it). */
export function bondGuard(t: Trade, c: Clock): Decision & { released: TakerBond[] } {
  const due = (b: TakerBond) => b.state === 'locked' && b.lockedAt !== null && c.now >= b.lockedAt + escrowGuardSecs(c.settings);
  const released = bondsOf(t).filter(due);
  if (released.length === 0) return { trade: t, effects: [], released };
  return { trade: withBonds(t, bondsOf(t).map((b) => (due(b) ? withState(b, 'released') : b))), effects: released.map(release), released };
}

/** The bonds' projection rows' states: a slashed bond is `pending-payout` until its payout moves it on. */
export function projectedBondState(b: TakerBond): string {
  if (b.state !== 'slashed') return b.state;
  return b.slash && b.slash.recipient !== null && b.slash.nodeShareSats < b.amountSats ? 'pending-payout' : 'slashed';
}
