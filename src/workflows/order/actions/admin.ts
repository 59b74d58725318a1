/** Solvers and the admin (§24.2–24.3): `admin-take-dispute`, `admin-settle`, `admin-cancel`. */
import type { DisputeRole } from '../../../domain/dispute.js';
import { type Rid, orderMessage } from '../../../domain/messages.js';
import type { BondResolution, CantDoReason, SolverDisputeInfo } from '@mostro/protocol/schema';
import { type Clock, type Decision, type DisputeState, type Trade, closeDispute, moveTo, send } from '../model.js';
import type { InboundMessage } from '../../../domain/messages.js';
import { disputeSlashTargets, slash, type SlashTarget } from '../bonds.js';
import type { MessageHandler } from '../context.js';
import { withEffects } from '../model.js';
import { solverDisputeInfo } from '../views.js';
import { holdInvoiceCanceled } from './hold-invoice.js';
import { settleEscrow, settleBonds } from '../money.js';

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

/** A solver (or the admin) takes, settles or cancels the order's dispute. */
export const onSolverAction: MessageHandler = async (ctx, m: InboundMessage, { kind, rid }) => {
  // Workflows that answered admin-settle/-cancel with invalid_action before solvers existed replay that answer.
  if (!ctx.patched('solver-actions')) return ctx.reply(m.sender, rid, 'invalid_action');
  const action = m.action as 'admin-take-dispute' | 'admin-settle' | 'admin-cancel';
  const t = ctx.trade;
  const ti = kind.trade_index ?? null;
  const bondResolution = kind.payload && 'bond_resolution' in kind.payload ? kind.payload.bond_resolution : null;
  const o = t.order;
  const take = action === 'admin-take-dispute';
  const disputeCtx = await ctx.io(() =>
    ctx.ports.db.disputeContext({
      identity: m.identity,
      buyerIdentity: take ? o.masterBuyerPubkey : null,
      sellerIdentity: take ? o.masterSellerPubkey : null,
    }),
  );
  if (take) {
    // The request names the dispute; the refusal echoes that id, as the reference's does.
    if (!canTakeDispute(t, m.identity, disputeCtx.who)) return ctx.reply(m.sender, rid, 'invalid_pubkey', kind.id ?? null);
    const info = solverDisputeInfo(o, t.dispute!, disputeCtx);
    return ctx.apply(takeDispute(t, { identity: m.identity, rid, who: disputeCtx.who, info }));
  }
  const g = canResolveDispute(t, m.identity, disputeCtx.who, action);
  if (g.ok === false) return ctx.reply(m.sender, rid, g.reason);
  if (g.ok === 'cooperatively-canceled') return ctx.apply(resolvedCooperatively(t, { sender: m.sender, rid, ti }));
  // Workflows that resolved disputes before bonds existed ignored the bond resolution (it was only recorded).
  let targets: SlashTarget[] = [];
  if (ctx.patched('taker-bonds')) {
    // Every flag must name a side with a locked bond, checked before anything about the trade changes (§14.1).
    const v = disputeSlashTargets(t, bondResolution);
    if (!v.ok) return ctx.reply(m.sender, rid, v.reason);
    targets = await settleBonds(ctx, v.targets);
  }
  const slashed = slash(ctx.trade, targets, ctx.clock());
  if (action === 'admin-cancel') return ctx.apply(withEffects(adminCanceled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, ctx.clock()), slashed.effects));
  // The escrow gone back to the seller by itself meanwhile ends the dispute that way, whatever the solver decided.
  if ((await settleEscrow(ctx, t)) === 'canceled') return ctx.apply(withEffects(holdInvoiceCanceled(slashed.trade, o.hash!, ctx.clock()), slashed.effects));
  return ctx.apply(withEffects(adminSettled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, ctx.clock()), slashed.effects));
};
