/**
 * The order's driver: how each input of a trade — a party's message, LND's report on a hold invoice, a deadline, a
 * support request — becomes decisions of the pure machine (machine.ts, bonds.ts) and how each decision's effects are
 * carried out, through ports. The workflow (workflow.ts) binds the ports to Temporal activities and owns the queues and
 * timers; the property-based tests bind them to a model of LND and the parties, so both run exactly this code.
 *
 * Order of work within a decision: the orders projection, order events and replies up to the next Lightning, dispute
 * or child-workflow effect are one commit (`commitDecision`); Lightning money moves (settling, canceling, paying)
 * happen where the decision puts them. A step that fails for good before any money moved is undone: the trade goes
 * back to where it was, a message that could not be stored is refused (`cant-do invalid_payload`), and a support
 * repair can interrupt a step stuck retrying a non-Lightning activity.
 *
 * Deterministic (it runs in the workflow sandbox): no I/O, clocks or randomness but through the ports.
 */
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { DatabaseActivities } from '../../activities/database.js';
import type { CommitStep, DecisionActivities } from '../../activities/decision.js';
import type { LightningActivities } from '../../activities/lightning.js';
import type { NostrActivities, OutgoingReply } from '../../activities/nostr.js';
import type { PriceActivities } from '../../activities/price.js';
import type { PriceQuote } from '../../price/manager.js';
import type { CantDoReason } from '../../protocol/schema.js';
import { unstorableTextAt } from '../../protocol/text.js';
import type { BondRow } from '../../db/bond-projection.js';
import type { BondPayout, Bond } from '../../domain/bond.js';
import { type OrderSettings } from '../../domain/order-settings.js';
import { type SupportRequest } from '../../domain/support.js';
import { computeBondAmount, makerBondNotionalSats } from '../../domain/bond-math.js';
import { makerBondRequired, takerBondRequired } from '../../domain/bond-policy.js';
import type { HoldInvoiceExpiring, HoldInvoiceUpdate } from '../shared/hold-invoice.js';
import { orderWorkflowId, type NewOrderInput } from './contract.js';
import { canAddInvoice, canDispute, canRelease, canSendFiatSent } from './guards.js';
import { addInvoice, adminCanceled, adminSettled, cancel, canResolveDispute, canTakeDispute, createOrder, devFeeResult, fiatSent, holdInvoiceAccepted, holdInvoiceCanceled, holdInvoiceIssued, nextDeadline, openChildOrder, openDispute, payoutResult, rateUser, refuse, released, resolvedCooperatively, supportApplies, supportRequest, take, takeDispute, timeout, escrowDeadline, tradePubkey, dueWork, type Clock, type Decision, type NextTrade, type PayoutOutcome, type Trade } from './machine.js';
import { cantDoMessage, readInbound, type Inbound, type Outbound, type Rid, type InboundMessage } from '../../domain/messages.js';
import { checkNewOrder, needsPrice } from './new-order.js';
import { orderSearchAttributes } from '../shared/search-attributes.js';
import type { OrderState } from '../../domain/order.js';
import { checkTake, takeNeedsPrice } from './take.js';
import { orderEventView, solverDisputeInfo } from './views.js';
import {
  bondGuard,
  bondGuardAt,
  bondInvoiceKey,
  bondInvoiceMemo,
  bondRows,
  bondsOf,
  cancelUnderBonds,
  disputeSlashTargets,
  makerBondCanceled,
  makerBondLocked,
  makerBondRequested,
  releaseOnExit,
  resendBondInvoice,
  settlesNow,
  slash,
  takeUnderBonds,
  takerBondAmount,
  takerBondCanceled,
  takerBondLocked,
  takerBondRequested,
  timeoutSlashTarget,
  type SlashTarget,
} from './bonds.js';

/** A range remainder, started by its parent's release. */
export interface ChildOrderInput {
  orderId: string;
  child: OrderState;
  announce: { to: string; rid: Rid; tradeIndex: number };
  settings: OrderSettings;
  /** A range maker's bond, held by whichever slice is open. */
  makerBond?: Bond;
}

export type OrderWorkflowInput = NewOrderInput | ChildOrderInput;

/** What the driver needs from the world; in the workflow, Temporal activities and workflow APIs. */
export interface OrderPorts {
  db: Pick<
    DatabaseActivities,
    'projectOrder' | 'pendingOrderExists' | 'adoptHoldInvoice' | 'recordDispute' | 'closeDispute' | 'userReputation' | 'disputeContext' | 'applyRating' | 'takeDispute'
  >;
  decision: Pick<DecisionActivities, 'commitDecision'>;
  nostr: Pick<NostrActivities, 'sendReplies' | 'publishOrderEvent' | 'publishDisputeEvent' | 'publishRatingEvent'>;
  ln: Pick<LightningActivities, 'validateInvoice' | 'createHoldInvoice' | 'settleHoldInvoice' | 'cancelHoldInvoice'>;
  /** Payments, with their own (longer) timeouts. */
  lnPay: Pick<LightningActivities, 'payInvoice'>;
  price: Pick<PriceActivities, 'getMarketPrice'>;
  startBondPayout(payout: BondPayout): Promise<void>;
  startChildOrder(input: ChildOrderInput): Promise<void>;
  upsertSearchAttributes(pairs: SearchAttributeUpdatePair[]): void;
  /** Temporal's `patched`: true for new work, false when replaying a history recorded before the change. */
  patched(id: string): boolean;
  uuid4(): string;
  /** Milliseconds (the workflow clock). */
  now(): number;
  /** Runs `fn` so that {@link OrderDriver.interrupt} can cancel it (a Temporal cancellation scope). */
  interruptible<T>(fn: () => Promise<T>): Promise<T>;
  /** Cancels what runs inside {@link interruptible} now. */
  interrupt(): void;
  log: { info(msg: string, attrs?: Record<string, unknown>): void; warn(msg: string, attrs?: Record<string, unknown>): void; error(msg: string, attrs?: Record<string, unknown>): void };
}

/** What moves the trade next, as the workflow's queues and clock hand it over. */
export type OrderInput =
  | { type: 'hold'; report: HoldInvoiceUpdate }
  | { type: 'expiring'; report: HoldInvoiceExpiring }
  | { type: 'message'; message: InboundMessage }
  | { type: 'support'; request: SupportRequest }
  | { type: 'due'; due: ReturnType<typeof dueWork>; guardDue: boolean };

/**
 * What the trade needs from the clock now: close (it is over), a due input (a payout, a timeout, a bond's CLTV
 * guard), or to wait — until `at` (unix seconds), or for a message when null.
 */
export function clockWork(t: Trade, s: OrderSettings, now: number): { type: 'close' } | { type: 'due'; input: OrderInput } | { type: 'wait'; at: number | null } {
  const due = dueWork(t, s, now);
  if (due === 'close') return { type: 'close' };
  const guardAt = bondGuardAt(t, s);
  const guardDue = guardAt !== null && now >= guardAt;
  if (due !== null || guardDue) return { type: 'due', input: { type: 'due', due, guardDue } };
  const deadline = nextDeadline(t, s);
  return { type: 'wait', at: deadline === null ? guardAt : guardAt === null ? deadline : Math.min(deadline, guardAt) };
}

const NO_REPUTATION = { rating: 0, reviews: 0, operating_days: 0 };

/** A decision with more effects after its own (a slash's notices and payouts). */
const withEffects = (d: Decision, effects: Decision['effects']): Decision => (effects.length === 0 ? d : { trade: d.trade, effects: [...d.effects, ...effects] });

const holdMemo = (o: OrderState) =>
  `Escrow amount Order #${o.id}: SELL BTC for ${o.fiatCode} ${o.fiatAmount} - It WILL FREEZE IN WALLET. ` +
  'It will release once you release. It will return if buyer does not confirm the payment';

/** Non-retryable activity failures are defects or operator matters: fail the task (visible, fixable) not the trade. */
function stuck(what: string, err: unknown): never {
  const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? `${err.cause.type}: ${err.cause.message}` : String(err);
  throw new Error(`${what} failed permanently (${cause}); the trade waits here until an operator fixes the cause`);
}

/** The type of a non-retryable activity failure (`LndRejected`, `InvoiceCanceled`…), or null. */
const failureType = (err: unknown): string | null => (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? null) : null);

/** The database refused a write for good (bad data, a broken constraint): retrying cannot help. */
export const isDatabaseRejection = (err: unknown): boolean =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'DatabaseRejected';

/** Thrown inside a step to undo it: the trade returns to where the step found it. */
class UndoStep extends Error {
  constructor(readonly why: 'rejected' | 'interrupted') {
    super(`step undone: ${why}`);
  }
}

/**
 * Workflows recorded before it recheck a payment in flight every 30 s and wait for LND inside the payout step; with it,
 * a tracker activity beside the trade wakes it when LND knows, and the rechecks back off (machine.ts).
 */
export const PAYOUT_TRACKER_PATCH = 'payout-tracker';

/** The payout hash a tracker should follow now: the buyer's payout while it is in flight, else none. */
export const payoutInFlight = (t: Trade | undefined): string | null =>
  t && t.order.status === 'settled-hold-invoice' ? t.order.payoutPaymentHash : null;

export type OrderDriver = ReturnType<typeof orderDriver>;

export function orderDriver(input: OrderWorkflowInput, settings: OrderSettings, ports: OrderPorts) {
  const { db, decision, nostr, ln, lnPay, price, log } = ports;
  const uuid4 = () => ports.uuid4();
  const patched = (id: string) => ports.patched(id);
  // Workflows started before this change replay their per-effect activities; new ones commit each decision's
  // projection, order event and replies in one activity (decision.ts).
  const oneCommitPerDecision = patched('one-commit-per-decision');
  const clock = (): Clock => ({ now: Math.floor(ports.now() / 1000), settings });
  let trade: Trade | undefined;
  let seq = 0;
  let lastEventAt = 0;
  let lastDisputeEventAt = 0;
  const upserted = new Map<string, unknown>();
  let pendingTradeIndex: { identity: string; sender: string; index: number | null } | undefined;
  /** The database refused this order's projection for good: the trade moves on and support staff are told. */
  let projectionRejected = false;
  /** What the step in progress has done that cannot be undone (money moved, a child workflow started). */
  let step: { before: Trade | undefined; irreversible: boolean; message: InboundMessage | null; interruptible: boolean } | null = null;

  // ---- effects -----------------------------------------------------------------------------------------------

  /** When the message being handled reached the ingress; its first replies measure the reply latency. */
  let requestReceivedAtMs: number | undefined;

  /**
   * What each recent message came to — 'ok', or the reason of the cant-do it was answered with — for callers that
   * wait on a message they injected (the admin RPC). Rebuilt on replay like everything in memory; bounded.
   */
  const outcomes = new Map<string, string>();
  let refusal: string | null = null;
  const outgoing = (m: Outbound): OutgoingReply => {
    if (step?.message && m.to === step.message.sender) refusal = /^\{"cant-do":.*"cant_do":"([a-z_]+)"/.exec(m.json)?.[1] ?? refusal;
    return { to: m.to, messageJson: m.json, ...(m.escrowPreimageKey ? { escrowPreimageKey: m.escrowPreimageKey } : {}) };
  };

  async function sendNow(messages: Outbound[]): Promise<void> {
    if (messages.length === 0) return;
    const replies: OutgoingReply[] = messages.map(outgoing);
    const at = requestReceivedAtMs;
    requestReceivedAtMs = undefined;
    await io(() => nostr.sendReplies({ replies, ...(at !== undefined ? { requestReceivedAtMs: at } : {}) }));
  }

  /** A call that moves money or starts what outlives the step: from here on the step cannot be undone. */
  async function money<T>(fn: () => Promise<T>): Promise<T> {
    if (step) step.irreversible = true;
    return fn();
  }

  /** A call a support repair may interrupt while nothing irreversible has happened in the step. */
  async function io<T>(fn: () => Promise<T>): Promise<T> {
    if (!step || step.irreversible) return fn();
    step.interruptible = true;
    try {
      return await ports.interruptible(fn);
    } catch (err) {
      if (err instanceof CancelledFailure || (err instanceof ActivityFailure && err.cause instanceof CancelledFailure)) throw new UndoStep('interrupted');
      throw err;
    } finally {
      if (step) step.interruptible = false;
    }
  }

  /** Bond revisions already in the `bonds` projection. */
  const projectedBonds = new Map<string, number>();
  function changedBonds(): BondRow[] {
    const rows: BondRow[] = [];
    for (const r of trade ? bondRows(trade) : []) {
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
      if (step?.message && !step.irreversible) throw new UndoStep('rejected');
      // Money already moved: the workflow state stays the truth; the projection waits for a person.
      log.error('the database refused the order projection; the trade goes on without it', { orderId: trade?.order.id, error: String((err as ActivityFailure).cause?.message ?? err) });
      projectionRejected = true;
      upsertChangedSearchAttributes();
      const { projection: _p, bonds: _b, ...rest } = input;
      return io(() => decision.commitDecision(rest));
    }
  }

  async function apply(decided: Decision): Promise<void> {
    // Every exit releases the bonds still held (a no-op for orders without bonds).
    const d = releaseOnExit(decided, clock());
    const before = trade?.order;
    trade = d.trade;
    // A decision that creates the escrow first is projected once, with the hold invoice's outcome.
    const projectNow = d.effects[0]?.type !== 'create-hold';
    let projection: Parameters<DatabaseActivities['projectOrder']>[0] | undefined;
    if ((trade.order !== before || pendingTradeIndex) && projectNow) {
      seq += 1;
      projection = { order: trade.order, seq, ...(pendingTradeIndex ? { tradeIndex: pendingTradeIndex } : {}) };
      pendingTradeIndex = undefined;
      if (!oneCommitPerDecision) await io(() => db.projectOrder(projection!));
      // In the workflow task that commits the decision: support staff see the new status before the parties do.
      upsertChangedSearchAttributes();
    }
    // The projection, order events and replies up to the next Lightning/dispute/child effect, as one commit.
    let steps: CommitStep[] = [];
    let batch: Outbound[] = [];
    const flushSends = () => {
      if (batch.length === 0) return;
      const at = requestReceivedAtMs;
      requestReceivedAtMs = undefined;
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
          steps.push({ type: 'publish', ...orderEventInput(trade.order), minCreatedAt: lastEventAt + 1 });
          continue;
        }
        await commit();
      } else {
        await sendNow(batch);
        batch = [];
      }
      switch (e.type) {
        case 'publish':
          await publishOrder(trade.order);
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
          const o = trade.order;
          let hold: { hash: string; request: string };
          try {
            hold = await ln.createHoldInvoice({ key: `${o.id}:${trade.escrowSeq}`, amountSats: o.amount + o.fee, memo: holdMemo(o) });
          } catch (err) {
            stuck('creating the escrow hold invoice', err);
          }
          await apply(holdInvoiceIssued(trade, hold, clock()));
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
          const closed = await io(() => db.closeDispute({ orderId: trade!.order.id, status: e.status, ...(e.bondResolution ? { bondResolution: e.bondResolution } : {}) }));
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
    if (!trade) return;
    const changed = orderSearchAttributes(trade.order, settings.paymentAttempts, { projectionRejected }).filter((p) => (upserted.get(p.key.name) ?? null) !== p.value);
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
    if (trade) trade = { ...trade, order: { ...trade.order, eventId: r.eventId } };
  }

  async function publishOrder(o: OrderState): Promise<void> {
    const r = await io(() => nostr.publishOrderEvent({ ...orderEventInput(o), minCreatedAt: lastEventAt + 1 }));
    if (r) published(r);
  }

  /** A `cant-do` echoing the request's id: the order's for order actions; a dispute's, or none for a new order. */
  const reply = async (to: string, rid: Rid, reason: CantDoReason, id: string | null = trade?.order.id ?? input.orderId) => {
    await sendNow([cantDoMessage(to, rid, id ?? undefined, reason)]);
  };

  /**
   * An activity that failed for good (not retryable) is a defect or an operator matter: fail the workflow task so the
   * trade waits, visible in the Web UI, until a fix is deployed — never fail the trade itself.
   */
  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof ActivityFailure) stuck('an activity', err);
      throw err;
    }
  }

  // ---- creation ----------------------------------------------------------------------------------------------

  /** Starts the trade: a maker's `new-order`, or a range remainder. False when the `new-order` was refused. */
  async function start(): Promise<boolean> {
    if ('child' in input) {
      const bond = input.makerBond;
      if (bond) await guarded(() => db.adoptHoldInvoice({ hash: bond.hash, workflowId: orderWorkflowId(input.orderId) }));
      await guarded(() => apply(openChildOrder(input.child, input.announce, bond)));
      return true;
    }
    step = { before: undefined, irreversible: false, message: input.message, interruptible: false };
    try {
      return await guarded(() => create(input));
    } catch (err) {
      if (!(err instanceof UndoStep)) throw err;
      const after = trade;
      trade = undefined;
      step = null;
      if (after) await releaseOrphans(undefined, after);
      log.warn('a new order refused: the database cannot store it', { orderId: input.orderId });
      const { kind, rid } = readInbound(input.message.messageJson);
      await reply(input.message.sender, rid, 'invalid_payload', kind.id ?? null);
      return false;
    } finally {
      step = null;
    }
  }

  async function create(i: NewOrderInput): Promise<boolean> {
    const { kind, rid } = readInbound(i.message.messageJson);
    const m = i.message;
    requestReceivedAtMs = m.receivedAtMs;
    const payload = kind.payload;
    if (!payload || !('order' in payload)) {
      await reply(m.sender, rid, 'invalid_payload', kind.id ?? null);
      return false;
    }
    // Orders started before this check could not have stored such text either: their first write failed.
    if (unstorableTextAt(payload) !== null && patched('unstorable-text')) {
      await reply(m.sender, rid, 'invalid_payload', kind.id ?? null);
      return false;
    }
    const small = payload.order;
    if (small.buyer_invoice) {
      const check = await ln.validateInvoice({ request: small.buyer_invoice, amountSats: small.amount ?? 0 });
      if (!check.valid) {
        await reply(m.sender, rid, 'invalid_invoice', kind.id ?? null);
        return false;
      }
    }
    const fields = { ...small, amount: small.amount ?? 0 };
    const quote = needsPrice(fields) ? await marketPrice(small.fiat_code) : undefined;
    const check = checkNewOrder(fields, settings, quote);
    if (!check.ok) {
      // No price at all: the reference logs it and sends nothing.
      if ('reason' in check) await reply(m.sender, rid, check.reason, kind.id ?? null);
      else log.warn('new-order without a market price', { fiatCode: small.fiat_code });
      return false;
    }
    // The maker's trade index is recorded with the order's first projection.
    pendingTradeIndex = { identity: m.identity, sender: m.sender, index: kind.trade_index };
    const created = createOrder({ orderId: i.orderId, order: small, sender: m.sender, identity: m.identity, tradeIndex: kind.trade_index, rid }, clock());
    if (!makerBondRequired(settings.bond)) {
      await apply(created);
      return true;
    }
    // §12.1: the order waits, unpublished, for the maker's bond on its notional (a range's maximum at the price).
    const notionalSats = makerBondNotionalSats(created.trade.order, quote?.ok ? quote.price : null);
    if (notionalSats === null) {
      await reply(m.sender, rid, 'invalid_amount', kind.id ?? null);
      return false;
    }
    const id = uuid4();
    const amountSats = computeBondAmount(notionalSats, settings.bond!);
    let hold: { hash: string; request: string };
    try {
      hold = await ln.createHoldInvoice({ key: bondInvoiceKey(id), amountSats, memo: bondInvoiceMemo(i.orderId) });
    } catch (err) {
      stuck('creating a bond hold invoice', err);
    }
    await apply(makerBondRequested(created, { id, ...hold, amountSats }, { identity: m.identity, tradeIndex: kind.trade_index, rid, notionalSats }));
    return true;
  }

  /** A price source that keeps failing is "no price" (no reply, as upstream), not a failed order. */
  async function marketPrice(fiatCode: string): Promise<PriceQuote> {
    try {
      return await price.getMarketPrice({ fiatCode });
    } catch (err) {
      if (err instanceof ActivityFailure) return { ok: false, reason: 'no_price' };
      throw err;
    }
  }

  // ---- messages ----------------------------------------------------------------------------------------------

  const nextTradeOf = (p: Inbound['kind']['payload']): NextTrade | null =>
    p && 'next_trade' in p ? { pubkey: p.next_trade[0], index: p.next_trade[1] } : null;

  /** A range maker's next trade key must be a key: it becomes the maker of the child order. */
  const badNextTrade = (p: Inbound['kind']['payload']): boolean => {
    const next = nextTradeOf(p);
    return next !== null && !/^[0-9a-f]{64}$/.test(next.pubkey);
  };

  async function onMessage(m: InboundMessage): Promise<void> {
    const t = trade!;
    const { kind, rid } = readInbound(m.messageJson);
    // Text the database cannot keep is refused before anything about the trade changes.
    if (unstorableTextAt(kind.payload) !== null && patched('unstorable-text')) return reply(m.sender, rid, 'invalid_payload');
    switch (m.action) {
      case 'take-sell':
      case 'take-buy':
        return onTake(m, kind, rid);
      case 'add-invoice': {
        // Histories that accepted a new invoice while a payout was in flight replay that (the patch marker is recorded
        // the first time a running workflow meets the situation again).
        const payoutInFlight = t.order.status === 'settled-hold-invoice' && t.order.payoutPaymentHash !== null;
        const g = payoutInFlight && !patched('no-invoice-while-payout-in-flight') ? canAddInvoice({ ...t.order, payoutPaymentHash: null }, m.sender) : canAddInvoice(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        const p = kind.payload;
        if (!p || !('payment_request' in p)) return apply(refuse(t, m.sender, rid, 'invalid_payload'));
        const invoice = p.payment_request[1];
        const check = await io(() => ln.validateInvoice({ request: invoice, amountSats: t.order.amount, feeSats: t.order.fee }));
        if (!check.valid) return apply(refuse(trade!, m.sender, rid, 'invalid_invoice'));
        // Only the sell path (escrow not created yet) shows the maker who took the order.
        const notice = t.order.status === 'waiting-buyer-invoice' && t.order.invoiceHeldAt === 0;
        const rep = notice ? await io(() => db.userReputation({ identity: t.order.masterBuyerPubkey })) : NO_REPUTATION;
        return apply(addInvoice(trade!, { sender: m.sender, rid, invoice }, rep, clock()));
      }
      case 'fiat-sent': {
        const g = canSendFiatSent(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        if (badNextTrade(kind.payload) && patched('next-trade-key-checked')) return apply(refuse(t, m.sender, rid, 'invalid_payload'));
        return apply(fiatSent(t, { rid, nextTrade: nextTradeOf(kind.payload) }, clock()));
      }
      case 'release': {
        const g = canRelease(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        if (badNextTrade(kind.payload) && patched('next-trade-key-checked')) return apply(refuse(t, m.sender, rid, 'invalid_payload'));
        // LND gave the HTLC back before the release (its CLTV ran out; the report is still on its way): the trade is over.
        if ((await settleEscrow(t)) === 'canceled') return apply(holdInvoiceCanceled(t, t.order.hash!, clock()));
        return apply(released(trade!, { rid, nextTrade: nextTradeOf(kind.payload), childId: uuid4() }, clock()));
      }
      case 'cancel':
        return apply(cancelUnderBonds(t, { sender: m.sender, rid }, clock()) ?? cancel(t, { sender: m.sender, rid }, clock()));
      case 'dispute': {
        // Workflows that answered a dispute with invalid_action before parties could open one replay that answer.
        if (!patched('party-disputes')) return reply(m.sender, rid, 'invalid_action');
        const g = canDispute(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        const initiator = m.sender === t.order.buyerPubkey ? 'buyer' : 'seller';
        return apply(openDispute(t, { id: uuid4(), initiator, rid }, clock()));
      }
      case 'trade-pubkey':
        // Workflows that answered trade-pubkey with invalid_action before replay that answer.
        if (!patched('trade-pubkey')) return reply(m.sender, rid, 'invalid_action');
        return apply(tradePubkey(t, { sender: m.sender, identity: m.identity, rid }));
      case 'rate-user': {
        // Workflows that answered rate-user with invalid_action before ratings existed replay that answer.
        if (!patched('ratings')) return reply(m.sender, rid, 'invalid_action');
        const p = kind.payload;
        if (!p || !('rating_user' in p) || p.rating_user < 1 || p.rating_user > 5) return reply(m.sender, rid, 'invalid_rating');
        return apply(rateUser(t, { sender: m.sender, rid, rating: p.rating_user }));
      }
      case 'admin-take-dispute':
      case 'admin-settle':
      case 'admin-cancel':
        // Workflows that answered admin-settle/-cancel with invalid_action before solvers existed replay that answer.
        if (!patched('solver-actions')) return reply(m.sender, rid, 'invalid_action');
        return onSolverAction(m, m.action, rid, kind);
      default:
        return reply(m.sender, rid, 'invalid_action');
    }
  }

  /** §24.2–24.3: a solver (or the admin) takes, settles or cancels the order's dispute. */
  async function onSolverAction(m: InboundMessage, action: 'admin-take-dispute' | 'admin-settle' | 'admin-cancel', rid: Rid, kind: Inbound['kind']): Promise<void> {
    const t = trade!;
    const ti = kind.trade_index ?? null;
    const bondResolution = kind.payload && 'bond_resolution' in kind.payload ? kind.payload.bond_resolution : null;
    const o = t.order;
    const take = action === 'admin-take-dispute';
    const ctx = await io(() =>
      db.disputeContext({
        identity: m.identity,
        buyerIdentity: take ? o.masterBuyerPubkey : null,
        sellerIdentity: take ? o.masterSellerPubkey : null,
      }),
    );
    if (take) {
      // The request names the dispute; the refusal echoes that id, as the reference's does.
      if (!canTakeDispute(t, m.identity, ctx.who)) return reply(m.sender, rid, 'invalid_pubkey', kind.id ?? null);
      const info = solverDisputeInfo(o, t.dispute!, ctx);
      return apply(takeDispute(t, { identity: m.identity, rid, who: ctx.who, info }));
    }
    const g = canResolveDispute(t, m.identity, ctx.who, action);
    if (g.ok === false) return reply(m.sender, rid, g.reason);
    if (g.ok === 'cooperatively-canceled') return apply(resolvedCooperatively(t, { sender: m.sender, rid, ti }));
    // Workflows that resolved disputes before bonds existed ignored the bond resolution (it was only recorded).
    let targets: SlashTarget[] = [];
    if (patched('taker-bonds')) {
      // Every flag must name a side with a locked bond, checked before anything about the trade changes (§14.1).
      const v = disputeSlashTargets(t, bondResolution);
      if (!v.ok) return reply(m.sender, rid, v.reason);
      targets = await settleBonds(v.targets);
    }
    const slashed = slash(trade!, targets, clock());
    if (action === 'admin-cancel') return apply(withEffects(adminCanceled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, clock()), slashed.effects));
    // The escrow gone back to the seller by itself meanwhile ends the dispute that way, whatever the solver decided.
    if ((await settleEscrow(t)) === 'canceled') return apply(withEffects(holdInvoiceCanceled(slashed.trade, o.hash!, clock()), slashed.effects));
    return apply(withEffects(adminSettled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, clock()), slashed.effects));
  }

  /** Settles the trade's escrow; 'canceled' when LND already gave the HTLC back to the seller. */
  async function settleEscrow(t: Trade): Promise<'settled' | 'canceled'> {
    return money(async () => {
      try {
        await ln.settleHoldInvoice({ key: `${t.order.id}:${t.escrowSeq}` });
        return 'settled';
      } catch (err) {
        if (failureType(err) === 'InvoiceCanceled') return 'canceled';
        stuck('settling the escrow', err);
      }
    });
  }

  /**
   * A slash settles the bond's HTLC into the node first (§14.3); the split and the payout follow in the decision. A
   * bond LND already gave back (its CLTV ran out) cannot be slashed: it counts as released. Returns what is slashed.
   */
  async function settleBonds(targets: readonly SlashTarget[]): Promise<SlashTarget[]> {
    const kept: SlashTarget[] = [];
    for (const target of targets) {
      if (!settlesNow(target)) {
        kept.push(target);
        continue;
      }
      const gone = await money(async () => {
        try {
          await ln.settleHoldInvoice({ key: bondInvoiceKey(target.bond.id) });
          return false;
        } catch (err) {
          if (failureType(err) === 'InvoiceCanceled') return true;
          stuck('settling a slashed bond', err);
        }
      });
      if (!gone) {
        kept.push(target);
        continue;
      }
      log.warn('a bond to slash was already released by LND (its CLTV ran out)', { orderId: trade!.order.id, bondId: target.bond.id });
      const released = target.role === 'maker' ? makerBondCanceled(trade!, target.bond.hash) : takerBondCanceled(trade!, target.bond.hash, clock());
      trade = released.trade;
    }
    return kept;
  }

  async function onTake(m: InboundMessage, kind: Inbound['kind'], rid: Rid): Promise<void> {
    const action = m.action as 'take-sell' | 'take-buy';
    const o = trade!.order;
    if (await io(() => db.pendingOrderExists({ action, identity: m.identity, exceptOrderId: o.id }))) return reply(m.sender, rid, 'pending_order_exists');
    const p = kind.payload;
    let fiatAmount: number | null = null;
    let invoice: string | null = null;
    if (p && 'amount' in p) fiatAmount = p.amount;
    if (p && 'payment_request' in p) {
      fiatAmount = p.payment_request[2];
      if (action === 'take-sell') invoice = p.payment_request[1];
    }
    const quote = takeNeedsPrice(o) ? await marketPrice(o.fiatCode) : undefined;
    const q = checkTake(o, { action, sender: m.sender, fiatAmount }, clock().now, settings, quote);
    if (!q.ok) {
      if ('reason' in q) return reply(m.sender, rid, q.reason);
      log.warn('take without a market price', { fiatCode: o.fiatCode });
      return;
    }
    const bonded = takerBondRequired(settings.bond);
    if (bonded) {
      // §10.1: a locked bond commits the order; a taker that already has a bond gets the same invoice again.
      const b = takeUnderBonds(trade!, m.sender);
      if (b.type === 'committed') return reply(m.sender, rid, 'pending_order_exists');
      if (b.type === 'resend') return apply(resendBondInvoice(trade!, b.bond, rid));
    }
    if (invoice) {
      const check = await io(() => ln.validateInvoice({ request: invoice, amountSats: q.amount, feeSats: q.fee }));
      if (!check.valid) return reply(m.sender, rid, 'invalid_invoice');
    }
    // The taker's trade index is recorded with the take's projection (a bond request counts as a take attempt).
    pendingTradeIndex = { identity: m.identity, sender: m.sender, index: kind.trade_index };
    const snapshot = { taker: m.sender, identity: m.identity, tradeIndex: kind.trade_index, fiatAmount: q.fiatAmount, amount: q.amount, fee: q.fee, devFee: q.devFee, buyerInvoice: invoice, rid };
    if (bonded) {
      const id = uuid4();
      const amountSats = takerBondAmount(q.amount, settings);
      let hold: { hash: string; request: string };
      try {
        hold = await ln.createHoldInvoice({ key: bondInvoiceKey(id), amountSats, memo: bondInvoiceMemo(o.id) });
      } catch (err) {
        stuck('creating a bond hold invoice', err);
      }
      return apply(takerBondRequested(trade!, snapshot, { id, ...hold, amountSats }, clock()));
    }
    await apply(take(trade!, { action, sender: m.sender, identity: m.identity, tradeIndex: kind.trade_index, rid, quote: q, invoice }, clock()));
  }

  async function onHoldReport(u: HoldInvoiceUpdate): Promise<void> {
    const t = trade!;
    if (t.makerBond?.hash === u.hash) {
      if (u.state === 'accepted') return apply(makerBondLocked(t, u.hash, clock()));
      if (u.state === 'canceled') return apply(makerBondCanceled(t, u.hash));
      return;
    }
    if (bondsOf(t).some((b) => b.hash === u.hash)) {
      if (u.state === 'accepted') return apply(takerBondLocked(t, u.hash, clock()));
      if (u.state === 'canceled') return apply(takerBondCanceled(t, u.hash, clock()));
      return;
    }
    if (u.hash !== t.order.hash) return; // a previous take's invoice
    if (u.state === 'accepted') {
      // The buyer (maker) hears who took the order only when it still owes its invoice.
      const rep = t.order.buyerInvoice ? NO_REPUTATION : await io(() => db.userReputation({ identity: t.order.masterSellerPubkey }));
      return apply(holdInvoiceAccepted(t, rep, clock()));
    }
    if (u.state === 'canceled') {
      // Workflows that ignored LND canceling a disputed escrow before replay that.
      if (t.order.status === 'dispute' && !patched('dispute-escrow-canceled')) return;
      return apply(holdInvoiceCanceled(t, u.hash, clock()));
    }
  }

  /** The chain is within the margin of the escrow HTLC's expiry: act now, whatever the clock says. */
  async function onExpiring(e: HoldInvoiceExpiring): Promise<void> {
    const t = trade!;
    if (e.hash !== t.order.hash || (t.order.status !== 'active' && t.order.status !== 'fiat-sent')) return;
    log.warn('the escrow HTLC is about to expire by block height: the escrow deadline acts', { orderId: t.order.id, expiryHeight: e.expiryHeight, height: e.height });
    await apply(escrowDeadline(t, clock(), uuid4()));
  }

  // ---- payouts -----------------------------------------------------------------------------------------------

  async function pay(purpose: string, request: string, amountSats: number, noMinimum = false): Promise<PayoutOutcome> {
    try {
      return await money(() => lnPay.payInvoice({ purpose, request, amountSats, noMinimum }));
    } catch (err) {
      // Refused before anything was recorded for the debt (an unresolvable Lightning address, an invoice LND will not
      // take): a failed attempt like any other. Later failures are retried inside the activity, never reported here.
      if (err instanceof ActivityFailure) return { status: 'failed', hash: null, reason: err.cause?.message ?? err.message };
      throw err;
    }
  }

  // ---- one step ----------------------------------------------------------------------------------------------

  async function handle(i: OrderInput): Promise<void> {
    const t = trade!;
    switch (i.type) {
      case 'hold':
        return onHoldReport(i.report);
      case 'expiring':
        return onExpiring(i.report);
      case 'message':
        requestReceivedAtMs = i.message.receivedAtMs;
        await onMessage(i.message);
        requestReceivedAtMs = undefined;
        return;
      case 'support':
        log.info('support request', { orderId: t.order.id, action: i.request.action, operator: i.request.operator, reason: i.request.reason });
        return apply(supportRequest(t, i.request, clock()));
      case 'due':
        return onDue(t, i.due, i.guardDue);
    }
  }

  async function onDue(t: Trade, due: ReturnType<typeof dueWork>, guardDue: boolean): Promise<void> {
    if (due === 'payout') {
      const o = t.order;
      const outcome = await pay(`payout:${o.id}:${t.payoutSeq}`, o.buyerInvoice!, o.amount - o.fee);
      const noRetry = outcome.status === 'failed' && settings.paymentAttempts <= 1 && patched('single-attempt-asks-invoice');
      await apply(payoutResult(trade!, outcome, clock(), patched(PAYOUT_TRACKER_PATCH), noRetry));
    } else if (due === 'dev-fee') {
      const o = t.order;
      const outcome = await pay(`dev-fee:${o.id}`, settings.devFeeLightningAddress!, o.devFee, true);
      await apply(devFeeResult(trade!, outcome, clock(), patched(PAYOUT_TRACKER_PATCH)));
    } else if (guardDue) {
      const g = bondGuard(t, clock());
      for (const b of g.released) log.warn('bond released before its CLTV expiry; it can no longer be slashed', { orderId: t.order.id, bondId: b.id });
      await apply(g);
    } else {
      // A waiting timeout that really elapsed may slash the responsible taker's bond (§14.2), settled first.
      const at = nextDeadline(t, settings);
      const target = at !== null && clock().now >= at ? timeoutSlashTarget(t, settings) : null;
      const targets = await settleBonds(target ? [target] : []);
      const slashed = slash(trade!, targets, clock());
      const d = timeout(slashed.trade, clock(), uuid4());
      // The slashed taker hears of it before the order's own notices, as from the reference.
      await apply({ trade: d.trade, effects: [...slashed.effects, ...d.effects] });
    }
  }

  /**
   * One step of the trade. A step undone (a message whose decision the database refused, or a step a support repair
   * interrupted) leaves the trade as it found it — but for its sequence numbers, which only grow, so keys and
   * projection revisions are never reused — and releases the hold invoices it created that nobody was told about.
   */
  async function run(i: OrderInput): Promise<void> {
    const before = trade!;
    step = { before, irreversible: false, message: i.type === 'message' ? i.message : null, interruptible: false };
    refusal = null;
    try {
      await guarded(() => handle(i));
    } catch (err) {
      if (!(err instanceof UndoStep)) throw err;
      const after = trade!;
      trade = { ...before, escrowSeq: Math.max(before.escrowSeq, after.escrowSeq), payoutSeq: Math.max(before.payoutSeq, after.payoutSeq) };
      pendingTradeIndex = undefined;
      requestReceivedAtMs = undefined;
      upsertChangedSearchAttributes();
      step = null;
      await releaseOrphans(before, after);
      if (err.why === 'rejected' && i.type === 'message') {
        const { rid } = readInbound(i.message.messageJson);
        log.warn('a message refused: the database cannot store its decision', { orderId: before.order.id, action: i.message.action });
        await reply(i.message.sender, rid, 'invalid_payload');
        refusal = 'invalid_payload';
      } else {
        log.warn('a step interrupted by a support repair was undone', { orderId: before.order.id, input: i.type });
      }
    } finally {
      step = null;
      if (i.type === 'message') {
        outcomes.set(i.message.eventId, refusal ?? 'ok');
        if (outcomes.size > 64) outcomes.delete(outcomes.keys().next().value!);
      }
    }
  }

  async function releaseOrphans(before: Trade | undefined, after: Trade): Promise<void> {
    const holds = (t: Trade) => [t.order.hash, t.makerBond?.hash, ...bondsOf(t).map((b) => b.hash)].filter((h): h is string => !!h);
    const known = new Set(before ? holds(before) : []);
    for (const hash of holds(after).filter((h) => !known.has(h))) {
      try {
        await ln.cancelHoldInvoice({ hash });
      } catch (err) {
        log.warn('could not release a hold invoice of an undone step', { hash, error: String(err) });
      }
    }
  }

  /** A support repair arrived: if the step in progress waits on something a person should be able to cut short, do. */
  function interruptFor(r: SupportRequest): void {
    if (!step?.interruptible || step.irreversible || r.action !== 'cancel-with-refund') return;
    // Only a repair that applies to the trade as the step found it (the step will be undone first).
    if (!step.before || !supportApplies(step.before, r.action, settings)) return;
    ports.interrupt();
  }

  return {
    get trade(): Trade | undefined {
      return trade;
    },
    start,
    run,
    interruptFor,
    /** 'ok', a cant-do reason, or null when that message was not handled (yet, or too long ago). */
    messageOutcome: (eventId: string): string | null => outcomes.get(eventId) ?? null,
  };
}
