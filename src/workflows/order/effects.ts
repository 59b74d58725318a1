/**
 * Carrying out a decision (`apply`): the trade becomes the decision's trade and its effects happen in order. The
 * orders projection, order events and replies up to the next Lightning, dispute or child-workflow effect are one
 * commit (`commitDecision`, activities/decision.ts); Lightning money moves (settling, canceling, paying) happen where
 * the decision puts them. A database that refuses a step's writes for good undoes the step while nothing
 * irreversible happened (`UndoStep`); after money moved, the trade goes on and support staff are told.
 *
 * Workflows started before `one-commit-per-decision` replay their per-effect activities (`projectOrder`,
 * `publishOrderEvent`, `sendReplies`): that legacy path is the `!oneCommitPerDecision` branches below, and only here.
 */
import { ActivityFailure, CancelledFailure } from '@temporalio/common';
import type { DatabaseActivities } from '../../activities/database.js';
import type { CommitStep, DecisionActivities } from '../../activities/decision.js';
import type { OutgoingReply } from '../../activities/nostr.js';
import type { BondRow } from '../../db/bond-projection.js';
import type { InboundMessage, Outbound } from '../../domain/messages.js';
import type { OrderState } from '../../domain/order.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import { orderSearchAttributes } from '../shared/search-attributes.js';
import { holdInvoiceIssued } from './actions/hold-invoice.js';
import { bondInvoiceKey, bondRows, releaseOnExit } from './bonds.js';
import { isDatabaseRejection, stuck, type OrderPorts } from './context.js';
import type { Clock, Decision, Trade } from './model.js';
import { orderEventView } from './views.js';

/** The step in progress: where it started, and whether it can still be undone or interrupted. */
export interface Step {
  before: Trade | undefined;
  /** Money moved or a child workflow started: the step can no longer be undone. */
  irreversible: boolean;
  message: InboundMessage | null;
  /** It waits on a call a support repair may cut short. */
  interruptible: boolean;
}

/** What the driver holds in memory for a trade (rebuilt on replay like everything in a workflow). */
export interface OrderMemory {
  trade: Trade | undefined;
  step: Step | null;
  /** The trade index of the message being handled, recorded with the decision's projection. */
  pendingTradeIndex: { identity: string; sender: string; index: number | null } | undefined;
  /** When the message being handled reached the ingress; its first replies measure the reply latency. */
  requestReceivedAtMs: number | undefined;
  /** The reason of the cant-do the step's sender was answered with, if any. */
  refusal: string | null;
}

/** Thrown inside a step to undo it: the trade returns to where the step found it. */
export class UndoStep extends Error {
  constructor(readonly why: 'rejected' | 'interrupted') {
    super(`step undone: ${why}`);
  }
}

const holdMemo = (o: OrderState) =>
  `Escrow amount Order #${o.id}: SELL BTC for ${o.fiatCode} ${o.fiatAmount} - It WILL FREEZE IN WALLET. ` +
  'It will release once you release. It will return if buyer does not confirm the payment';

export type OrderEffects = ReturnType<typeof orderEffects>;

export function orderEffects(mem: OrderMemory, settings: OrderSettings, ports: OrderPorts, clock: () => Clock) {
  const { db, decision, nostr, ln, log } = ports;
  // Workflows started before this change replay their per-effect activities; new ones commit each decision's
  // projection, order event and replies in one activity (decision.ts).
  const oneCommitPerDecision = ports.patched('one-commit-per-decision');
  let seq = 0;
  let lastEventAt = 0;
  let lastDisputeEventAt = 0;
  const upserted = new Map<string, unknown>();
  /** The database refused this order's projection for good: the trade moves on and support staff are told. */
  let projectionRejected = false;

  const outgoing = (m: Outbound): OutgoingReply => {
    if (mem.step?.message && m.to === mem.step.message.sender) mem.refusal = /^\{"cant-do":.*"cant_do":"([a-z_]+)"/.exec(m.json)?.[1] ?? mem.refusal;
    return { to: m.to, messageJson: m.json, ...(m.escrowPreimageKey ? { escrowPreimageKey: m.escrowPreimageKey } : {}) };
  };

  async function sendNow(messages: Outbound[]): Promise<void> {
    if (messages.length === 0) return;
    const replies: OutgoingReply[] = messages.map(outgoing);
    const at = mem.requestReceivedAtMs;
    mem.requestReceivedAtMs = undefined;
    await io(() => nostr.sendReplies({ replies, ...(at !== undefined ? { requestReceivedAtMs: at } : {}) }));
  }

  /** A call that moves money or starts what outlives the step: from here on the step cannot be undone. */
  async function money<T>(fn: () => Promise<T>): Promise<T> {
    if (mem.step) mem.step.irreversible = true;
    return fn();
  }

  /** A call a support repair may interrupt while nothing irreversible has happened in the step. */
  async function io<T>(fn: () => Promise<T>): Promise<T> {
    if (!mem.step || mem.step.irreversible) return fn();
    mem.step.interruptible = true;
    try {
      return await ports.interruptible(fn);
    } catch (err) {
      if (err instanceof CancelledFailure || (err instanceof ActivityFailure && err.cause instanceof CancelledFailure)) throw new UndoStep('interrupted');
      throw err;
    } finally {
      if (mem.step) mem.step.interruptible = false;
    }
  }

  /** Bond revisions already in the `bonds` projection. */
  const projectedBonds = new Map<string, number>();
  function changedBonds(): BondRow[] {
    const rows: BondRow[] = [];
    for (const r of mem.trade ? bondRows(mem.trade) : []) {
      if ((projectedBonds.get(r.id) ?? 0) >= r.rev) continue;
      projectedBonds.set(r.id, r.rev);
      rows.push(r);
    }
    return rows;
  }


  async function commitDecision(input: Parameters<DecisionActivities['commitDecision']>[0]): Promise<Awaited<ReturnType<DecisionActivities['commitDecision']>>> {
    try {
      const r = await io(() => decision.commitDecision(input));
      if (projectionRejected && input.projection) {
        // A later state was stored: the orders row has caught up with the workflow.
        projectionRejected = false;
        upsertChangedSearchAttributes();
      }
      return r;
    } catch (err) {
      if (!isDatabaseRejection(err) || (!input.projection && !input.bonds)) throw err;
      // A message whose decision cannot be stored is refused, as long as the step can still be undone.
      if (mem.step?.message && !mem.step.irreversible) throw new UndoStep('rejected');
      // Money already moved: the workflow state stays the truth; the projection waits for a person.
      log.error('the database refused the order projection; the trade goes on without it', { orderId: mem.trade?.order.id, error: String((err as ActivityFailure).cause?.message ?? err) });
      projectionRejected = true;
      upsertChangedSearchAttributes();
      const { projection: _p, bonds: _b, ...rest } = input;
      return io(() => decision.commitDecision(rest));
    }
  }

  async function apply(decided: Decision): Promise<void> {
    // Every exit releases the bonds still held (a no-op for orders without bonds).
    const d = releaseOnExit(decided, clock());
    const before = mem.trade?.order;
    mem.trade = d.trade;
    // A decision that creates the escrow first is projected once, with the hold invoice's outcome.
    const projectNow = d.effects[0]?.type !== 'create-hold';
    let projection: Parameters<DatabaseActivities['projectOrder']>[0] | undefined;
    if ((mem.trade.order !== before || mem.pendingTradeIndex) && projectNow) {
      seq += 1;
      projection = { order: mem.trade.order, seq, ...(mem.pendingTradeIndex ? { tradeIndex: mem.pendingTradeIndex } : {}) };
      mem.pendingTradeIndex = undefined;
      if (!oneCommitPerDecision) await io(() => db.projectOrder(projection!));
      // In the workflow task that commits the decision: support staff see the new status before the parties do.
      upsertChangedSearchAttributes();
    }
    // The projection, order events and replies up to the next Lightning/dispute/child effect, as one commit.
    let steps: CommitStep[] = [];
    let batch: Outbound[] = [];
    const flushSends = () => {
      if (batch.length === 0) return;
      const at = mem.requestReceivedAtMs;
      mem.requestReceivedAtMs = undefined;
      steps.push({ type: 'send', replies: batch.map(outgoing), ...(at !== undefined ? { requestReceivedAtMs: at } : {}) });
      batch = [];
    };
    let bonds = changedBonds();
    const commit = async () => {
      flushSends();
      if (steps.length === 0 && !projection && bonds.length === 0) return;
      const r = await commitDecision({ ...(projection ? { projection } : {}), ...(bonds.length > 0 ? { bonds } : {}), steps });
      bonds = [];
      projection = undefined;
      steps = [];
      if (r.published) published(r.published);
    };
    for (const e of d.effects) {
      if (e.type === 'send') {
        batch.push(e.msg);
        continue;
      }
      if (oneCommitPerDecision) {
        if (e.type === 'publish') {
          flushSends();
          steps.push({ type: 'publish', ...orderEventInput(mem.trade.order), minCreatedAt: lastEventAt + 1 });
          continue;
        }
        await commit();
      } else {
        await sendNow(batch);
        batch = [];
      }
      switch (e.type) {
        case 'publish':
          await publishOrder(mem.trade.order);
          break;
        case 'cancel-hold':
          await money(async () => {
            try {
              await ln.cancelHoldInvoice({ hash: e.hash });
            } catch (err) {
              // Already settled or gone: nothing is locked any more either way.
              log.warn('hold invoice cancel refused', { hash: e.hash, error: String(err) });
            }
          });
          break;
        case 'create-hold': {
          const o = mem.trade.order;
          let hold: { hash: string; request: string };
          try {
            hold = await ln.createHoldInvoice({ key: `${o.id}:${mem.trade.escrowSeq}`, amountSats: o.amount + o.fee, memo: holdMemo(o) });
          } catch (err) {
            stuck('creating the escrow hold invoice', err);
          }
          await apply(holdInvoiceIssued(mem.trade, hold, clock()));
          break;
        }
        case 'open-dispute':
          await io(() => db.recordDispute(e.dispute));
          lastDisputeEventAt = (
            await io(() =>
              nostr.publishDisputeEvent({
                disputeId: e.dispute.id,
                status: 'initiated',
                initiator: e.dispute.initiator,
                openedAt: e.dispute.createdAt,
                minCreatedAt: lastDisputeEventAt + 1,
              }),
            )
          ).createdAt;
          break;
        case 'rate': {
          const agg = await io(() => db.applyRating({ orderId: e.orderId, raterSide: e.raterSide, rated: e.rated, rating: e.rating }));
          await io(() => nostr.publishRatingEvent({ d: e.raterTradeKey, ...agg }));
          break;
        }
        case 'take-dispute': {
          await io(() => db.takeDispute({ disputeId: e.disputeId, solver: e.solver, takenAt: clock().now }));
          const r = await io(() =>
            nostr.publishDisputeEvent({
              disputeId: e.disputeId,
              status: 'in-progress',
              initiator: e.initiator,
              openedAt: e.openedAt,
              minCreatedAt: lastDisputeEventAt + 1,
            }),
          );
          lastDisputeEventAt = r.createdAt;
          break;
        }
        case 'close-dispute': {
          const closed = await io(() => db.closeDispute({ orderId: mem.trade!.order.id, status: e.status, ...(e.bondResolution ? { bondResolution: e.bondResolution } : {}) }));
          if (closed) {
            const r = await io(() =>
              nostr.publishDisputeEvent({
                disputeId: closed.id,
                status: e.status,
                initiator: e.initiator,
                openedAt: closed.createdAt,
                minCreatedAt: lastDisputeEventAt + 1,
              }),
            );
            lastDisputeEventAt = r.createdAt;
          }
          break;
        }
        case 'start-bond-payout':
          await money(() => ports.startBondPayout(e.payout));
          break;
        case 'settle-bond':
          await money(async () => {
            try {
              await ln.settleHoldInvoice({ key: bondInvoiceKey(e.bondId) });
            } catch (err) {
              stuck('settling a slashed bond', err);
            }
          });
          break;
        case 'start-child':
          await money(() =>
            ports.startChildOrder({ orderId: e.child.id, child: e.child, announce: e.announce, settings, ...(e.makerBond ? { makerBond: e.makerBond } : {}) }),
          );
          break;
      }
    }
    if (oneCommitPerDecision) await commit();
    else await sendNow(batch);
  }

  /** Only what changed: every upsert is a history event carrying its payloads. */
  function upsertChangedSearchAttributes(): void {
    if (!mem.trade) return;
    const changed = orderSearchAttributes(mem.trade.order, settings.paymentAttempts, { projectionRejected }).filter((p) => (upserted.get(p.key.name) ?? null) !== p.value);
    if (changed.length === 0) return;
    for (const p of changed) upserted.set(p.key.name, p.value);
    ports.upsertSearchAttributes(changed);
  }

  /** The order event input of an order: its public view and the maker identity (for its reputation tag). */
  function orderEventInput(o: OrderState) {
    return { order: orderEventView(o), makerIdentity: o.kind === 'sell' ? o.masterSellerPubkey : o.masterBuyerPubkey };
  }

  function published(r: { eventId: string; createdAt: number }): void {
    lastEventAt = r.createdAt;
    if (mem.trade) mem.trade = { ...mem.trade, order: { ...mem.trade.order, eventId: r.eventId } };
  }

  async function publishOrder(o: OrderState): Promise<void> {
    const r = await io(() => nostr.publishOrderEvent({ ...orderEventInput(o), minCreatedAt: lastEventAt + 1 }));
    if (r) published(r);
  }

  return { apply, sendNow, io, money, upsertChangedSearchAttributes };
}
