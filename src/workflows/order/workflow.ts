/**
 * `orderWorkflow`: one trade, from `new-order` to its final status, as a durable Temporal workflow. A thin shell
 * around the pure state machine (machine.ts): it queues the parties' messages (signals) and LND's invoice reports,
 * handles one at a time — so two takers racing for an order are decided in arrival order, exactly one wins —, sleeps
 * until the trade's next deadline, and carries out each decision's effects through retryable activities: first the
 * orders projection, then the order event, hold-invoice calls and replies in the decision's order.
 *
 * A payout is one `payInvoice` call per attempt under a purpose (`payout:<order>:<n>`) recorded before dispatch, so a
 * crash anywhere pays the buyer at most once; the outcome is in history before the order moves on.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  ParentClosePolicy,
  condition,
  defineQuery,
  log,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import type { DatabaseActivities } from '../../activities/database.js';
import type { CommitStep, DecisionActivities } from '../../activities/decision.js';
import type { LightningActivities } from '../../activities/lightning.js';
import type { NostrActivities, OutgoingReply } from '../../activities/nostr.js';
import type { PriceActivities } from '../../activities/price.js';
import type { SettingsActivities } from '../../activities/settings.js';
import type { PriceQuote } from '../../price/manager.js';
import type { CantDoReason } from '../../protocol/schema.js';
import type { BondRow } from '../../db/bond-projection.js';
import { bondPayoutWorkflow, bondPayoutWorkflowId } from '../bond/payout-workflow.js';
import { computeBondAmount, makerBondNotionalSats } from '../bond/math.js';
import { makerBondRequired, takerBondRequired } from '../bond/policy.js';
import type { Bond } from '../bond/taker-bonds.js';
import { holdInvoiceSignals, type HoldInvoiceUpdate } from '../hold-invoice.js';
import { workflowNow } from '../time.js';
import { ORDER_ACTIONS, orderSignals, orderWorkflowId, supportSignal, type InboundMessage, type NewOrderInput } from './contract.js';
import { canAddInvoice, canDispute, canRelease, canSendFiatSent } from './guards.js';
import {
  addInvoice,
  cancel,
  createOrder,
  devFeeResult,
  dueWork,
  fiatSent,
  holdInvoiceAccepted,
  holdInvoiceCanceled,
  holdInvoiceIssued,
  adminCanceled,
  adminSettled,
  canResolveDispute,
  canTakeDispute,
  nextDeadline,
  openChildOrder,
  openDispute,
  rateUser,
  resolvedCooperatively,
  takeDispute,
  tradePubkey,
  payoutResult,
  refuse,
  released,
  supportRequest,
  take,
  timeout,
  type Clock,
  type SupportRequest,
  type Decision,
  type NextTrade,
  type OrderSettings,
  type PayoutOutcome,
  type Trade,
} from './machine.js';
import { cantDoMessage, readInbound, type Inbound, type Outbound, type Rid } from './messages.js';
import { checkNewOrder, needsPrice } from './new-order.js';
import { orderSearchAttributes } from './search-attributes.js';
import type { OrderState } from './state.js';
import { orderEventView, solverDisputeInfo } from './views.js';
import { checkTake, takeNeedsPrice } from './take.js';
import {
  bondGuard,
  bondGuardAt,
  bondInvoiceKey,
  bondInvoiceMemo,
  bondsOf,
  cancelUnderBonds,
  bondRows,
  bondViews,
  disputeSlashTargets,
  makerBondCanceled,
  makerBondLocked,
  makerBondRequested,
  releaseOnExit,
  settlesNow,
  resendBondInvoice,
  slash,
  takeUnderBonds,
  takerBondAmount,
  takerBondCanceled,
  takerBondLocked,
  takerBondRequested,
  timeoutSlashTarget,
  type BondView,
  type SlashTarget,
} from './bonds.js';

const config = proxyActivities<SettingsActivities>({ startToCloseTimeout: '10 seconds' });

/** Activity stubs; every activity heartbeats, so a dead worker is detected after `heartbeatSecs`. */
function activities(heartbeatSecs: number) {
  const heartbeatTimeout = heartbeatSecs * 1000;
  const opts = (startToClose: string, maximumInterval = '1 minute') => ({ startToCloseTimeout: startToClose, heartbeatTimeout, retry: { maximumInterval } });
  return {
    db: proxyActivities<DatabaseActivities>(opts('30 seconds', '30 seconds')),
    nostr: proxyActivities<NostrActivities>(opts('60 seconds')),
    decision: proxyActivities<DecisionActivities>(opts('60 seconds')),
    ln: proxyActivities<LightningActivities>(opts('60 seconds')),
    lnPay: proxyActivities<LightningActivities>(opts('3 minutes')),
    price: proxyActivities<PriceActivities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout, retry: { maximumAttempts: 3 } }),
  };
}

/** The order as its workflow holds it (null while a `new-order` is still being checked). */
export const getOrderQuery = defineQuery<OrderState | null>('getOrder');
/** The order's anti-abuse bonds, with when each held one will be released ahead of its CLTV expiry. */
export const getBondsQuery = defineQuery<BondView[]>('getBonds');

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

export interface OrderWorkflowResult {
  orderId: string;
  /** Final status, or null when the `new-order` was refused. */
  status: string | null;
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

export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderWorkflowResult> {
  // Settings travel in the input (recorded in history); orders started without them ask the worker once.
  const settings = 'child' in input ? input.settings : (input.settings ?? (await config.orderSettings()));
  const { db, nostr, decision, ln, lnPay, price } = activities(settings.activityHeartbeatTimeoutSecs);
  // Workflows started before this change replay their per-effect activities; new ones commit each decision's
  // projection, order event and replies in one activity (decision.ts).
  const oneCommitPerDecision = patched('one-commit-per-decision');
  const clock = (): Clock => ({ now: Math.floor(workflowNow() / 1000), settings });
  const inbox: InboundMessage[] = [];
  const seen = new Set<string>();
  const holdReports: HoldInvoiceUpdate[] = [];
  const supportRequests: SupportRequest[] = [];
  let trade: Trade | undefined;
  let seq = 0;
  let lastEventAt = 0;
  let lastDisputeEventAt = 0;
  const upserted = new Map<string, unknown>();
  let pendingTradeIndex: { identity: string; sender: string; index: number | null } | undefined;

  for (const action of ORDER_ACTIONS) {
    setHandler(orderSignals[action], (m) => {
      // The same Nostr event can arrive through two relays: one delivery counts.
      if (seen.has(m.eventId)) return;
      seen.add(m.eventId);
      inbox.push(m);
    });
  }
  for (const signal of Object.values(holdInvoiceSignals)) setHandler(signal, (u) => void holdReports.push(u));
  // Added after workflows were running: histories without a `support` signal replay exactly as before.
  setHandler(supportSignal, (r) => void supportRequests.push(r));
  setHandler(getOrderQuery, () => trade?.order ?? null);
  setHandler(getBondsQuery, () => (trade ? bondViews(trade, settings) : []));

  // ---- effects -----------------------------------------------------------------------------------------------

  /** When the message being handled reached the ingress; its first replies measure the reply latency. */
  let requestReceivedAtMs: number | undefined;

  async function sendNow(messages: Outbound[]): Promise<void> {
    if (messages.length === 0) return;
    const replies: OutgoingReply[] = messages.map((m) => ({ to: m.to, messageJson: m.json }));
    const at = requestReceivedAtMs;
    requestReceivedAtMs = undefined;
    await nostr.sendReplies({ replies, ...(at !== undefined ? { requestReceivedAtMs: at } : {}) });
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
      if (!oneCommitPerDecision) await db.projectOrder(projection);
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
      steps.push({ type: 'send', replies: batch.map((m) => ({ to: m.to, messageJson: m.json })), ...(at !== undefined ? { requestReceivedAtMs: at } : {}) });
      batch = [];
    };
    let bonds = changedBonds();
    const commit = async () => {
      flushSends();
      if (steps.length === 0 && !projection && bonds.length === 0) return;
      const r = await decision.commitDecision({ ...(projection ? { projection } : {}), ...(bonds.length > 0 ? { bonds } : {}), steps });
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
          try {
            await ln.cancelHoldInvoice({ hash: e.hash });
          } catch (err) {
            // Already settled or gone: nothing is locked any more either way.
            log.warn('hold invoice cancel refused', { hash: e.hash, error: String(err) });
          }
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
          await db.recordDispute(e.dispute);
          lastDisputeEventAt = (
            await nostr.publishDisputeEvent({
              disputeId: e.dispute.id,
              status: 'initiated',
              initiator: e.dispute.initiator,
              openedAt: e.dispute.createdAt,
              minCreatedAt: lastDisputeEventAt + 1,
            })
          ).createdAt;
          break;
        case 'rate': {
          const agg = await db.applyRating({ orderId: e.orderId, raterSide: e.raterSide, rated: e.rated, rating: e.rating });
          await nostr.publishRatingEvent({ d: e.raterTradeKey, ...agg });
          break;
        }
        case 'take-dispute': {
          await db.takeDispute({ disputeId: e.disputeId, solver: e.solver, takenAt: clock().now });
          const r = await nostr.publishDisputeEvent({
            disputeId: e.disputeId,
            status: 'in-progress',
            initiator: e.initiator,
            openedAt: e.openedAt,
            minCreatedAt: lastDisputeEventAt + 1,
          });
          lastDisputeEventAt = r.createdAt;
          break;
        }
        case 'close-dispute': {
          const closed = await db.closeDispute({ orderId: trade.order.id, status: e.status, ...(e.bondResolution ? { bondResolution: e.bondResolution } : {}) });
          if (closed) {
            const r = await nostr.publishDisputeEvent({
              disputeId: closed.id,
              status: e.status,
              initiator: e.initiator,
              openedAt: closed.createdAt,
              minCreatedAt: lastDisputeEventAt + 1,
            });
            lastDisputeEventAt = r.createdAt;
          }
          break;
        }
        case 'start-bond-payout':
          await startChild(bondPayoutWorkflow, {
            workflowId: bondPayoutWorkflowId(e.payout.bondId),
            args: [{ payout: e.payout, settings: settings.bond!.payout }],
            // The counterparty may claim for days after the order is over.
            parentClosePolicy: ParentClosePolicy.ABANDON,
          });
          break;
        case 'settle-bond':
          try {
            await ln.settleHoldInvoice({ key: bondInvoiceKey(e.bondId) });
          } catch (err) {
            stuck('settling a slashed bond', err);
          }
          break;
        case 'start-child':
          await startChild(orderWorkflow, {
            workflowId: orderWorkflowId(e.child.id),
            args: [{ orderId: e.child.id, child: e.child, announce: e.announce, settings, ...(e.makerBond ? { makerBond: e.makerBond } : {}) }],
            // The remainder is an order of its own: it outlives this trade.
            parentClosePolicy: ParentClosePolicy.ABANDON,
          });
          break;
      }
    }
    if (oneCommitPerDecision) await commit();
    else await sendNow(batch);
  }

  /** Only what changed: every upsert is a history event carrying its payloads. */
  function upsertChangedSearchAttributes(): void {
    if (!trade) return;
    const changed = orderSearchAttributes(trade.order, settings.paymentAttempts).filter((p) => (upserted.get(p.key.name) ?? null) !== p.value);
    if (changed.length === 0) return;
    for (const p of changed) upserted.set(p.key.name, p.value);
    upsertSearchAttributes(changed);
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
    const r = await nostr.publishOrderEvent({ ...orderEventInput(o), minCreatedAt: lastEventAt + 1 });
    if (r) published(r);
  }

  const reply = async (to: string, rid: Rid, reason: CantDoReason) => {
    const id = trade?.order.id ?? input.orderId;
    await sendNow([cantDoMessage(to, rid, id, reason)]);
  };

  // ---- creation ----------------------------------------------------------------------------------------------

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

  if ('child' in input) {
    const bond = input.makerBond;
    if (bond) await guarded(() => db.adoptHoldInvoice({ hash: bond.hash, workflowId: orderWorkflowId(input.orderId) }));
    await guarded(() => apply(openChildOrder(input.child, input.announce, bond)));
  } else {
    const created = await guarded(() => create(input));
    if (!created) return { orderId: input.orderId, status: null };
  }

  async function create(i: NewOrderInput): Promise<boolean> {
    const { kind, rid } = readInbound(i.message.messageJson);
    const m = i.message;
    requestReceivedAtMs = m.receivedAtMs;
    const payload = kind.payload;
    if (!payload || !('order' in payload)) {
      await reply(m.sender, rid, 'invalid_payload');
      return false;
    }
    const small = payload.order;
    if (small.buyer_invoice) {
      const check = await ln.validateInvoice({ request: small.buyer_invoice, amountSats: small.amount ?? 0 });
      if (!check.valid) {
        await reply(m.sender, rid, 'invalid_invoice');
        return false;
      }
    }
    const fields = { ...small, amount: small.amount ?? 0 };
    const quote = needsPrice(fields) ? await marketPrice(small.fiat_code) : undefined;
    const check = checkNewOrder(fields, settings, quote);
    if (!check.ok) {
      // No price at all: the reference logs it and sends nothing.
      if ('reason' in check) await reply(m.sender, rid, check.reason);
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
      await reply(m.sender, rid, 'invalid_amount');
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

  async function onMessage(m: InboundMessage): Promise<void> {
    const t = trade!;
    const { kind, rid } = readInbound(m.messageJson);
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
        const check = await ln.validateInvoice({ request: invoice, amountSats: t.order.amount, feeSats: t.order.fee });
        if (!check.valid) return apply(refuse(trade!, m.sender, rid, 'invalid_invoice'));
        // Only the sell path (escrow not created yet) shows the maker who took the order.
        const notice = t.order.status === 'waiting-buyer-invoice' && t.order.invoiceHeldAt === 0;
        const rep = notice ? await db.userReputation({ identity: t.order.masterBuyerPubkey }) : NO_REPUTATION;
        return apply(addInvoice(trade!, { sender: m.sender, rid, invoice }, rep, clock()));
      }
      case 'fiat-sent': {
        const g = canSendFiatSent(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        return apply(fiatSent(t, { rid, nextTrade: nextTradeOf(kind.payload) }, clock()));
      }
      case 'release': {
        const g = canRelease(t.order, m.sender);
        if (!g.ok) return apply(refuse(t, m.sender, rid, g.reason));
        try {
          await ln.settleHoldInvoice({ key: `${t.order.id}:${t.escrowSeq}` });
        } catch (err) {
          stuck('settling the escrow', err);
        }
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
        // Ratings and bonds arrive with later work; answer instead of staying silent.
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
    const ctx = await db.disputeContext({
      identity: m.identity,
      buyerIdentity: take ? o.masterBuyerPubkey : null,
      sellerIdentity: take ? o.masterSellerPubkey : null,
    });
    if (take) {
      if (!canTakeDispute(t, m.identity, ctx.who)) return reply(m.sender, rid, 'invalid_pubkey');
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
      targets = v.targets;
      await settleBonds(targets);
    }
    const slashed = slash(trade!, targets, clock());
    if (action === 'admin-cancel') return apply(withEffects(adminCanceled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, clock()), slashed.effects));
    try {
      await ln.settleHoldInvoice({ key: `${o.id}:${t.escrowSeq}` });
    } catch (err) {
      stuck('settling the escrow', err);
    }
    return apply(withEffects(adminSettled(slashed.trade, { sender: m.sender, rid, ti, bondResolution }, clock()), slashed.effects));
  }

  /** A slash settles the bond's HTLC into the node first (§14.3); the split and the payout follow in the decision. */
  async function settleBonds(targets: readonly SlashTarget[]): Promise<void> {
    for (const target of targets.filter(settlesNow)) {
      try {
        await ln.settleHoldInvoice({ key: bondInvoiceKey(target.bond.id) });
      } catch (err) {
        stuck('settling a slashed bond', err);
      }
    }
  }

  async function onTake(m: InboundMessage, kind: Inbound['kind'], rid: Rid): Promise<void> {
    const action = m.action as 'take-sell' | 'take-buy';
    const o = trade!.order;
    if (await db.pendingOrderExists({ action, identity: m.identity, exceptOrderId: o.id })) return reply(m.sender, rid, 'pending_order_exists');
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
      const check = await ln.validateInvoice({ request: invoice, amountSats: q.amount, feeSats: q.fee });
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
      const rep = t.order.buyerInvoice ? NO_REPUTATION : await db.userReputation({ identity: t.order.masterSellerPubkey });
      return apply(holdInvoiceAccepted(t, rep, clock()));
    }
    if (u.state === 'canceled') {
      // Workflows that ignored LND canceling a disputed escrow before replay that.
      if (t.order.status === 'dispute' && !patched('dispute-escrow-canceled')) return;
      return apply(holdInvoiceCanceled(t, u.hash, clock()));
    }
  }

  // ---- payouts -----------------------------------------------------------------------------------------------

  async function pay(purpose: string, request: string, amountSats: number, noMinimum = false): Promise<PayoutOutcome> {
    try {
      return await lnPay.payInvoice({ purpose, request, amountSats, noMinimum });
    } catch (err) {
      // Unresolvable Lightning address, invoice LND refuses: a failed attempt like any other.
      if (err instanceof ActivityFailure) return { status: 'failed', hash: null, reason: err.cause?.message ?? err.message };
      throw err;
    }
  }

  // ---- the trade's life ------------------------------------------------------------------------------------

  for (;;) {
    const t = trade!;
    const due = dueWork(t, settings, clock().now);
    if (due === 'close') break;
    const guardAt = bondGuardAt(t, settings);
    const guardDue = guardAt !== null && clock().now >= guardAt;
    if (due === null && !guardDue && inbox.length === 0 && holdReports.length === 0 && supportRequests.length === 0) {
      const deadline = nextDeadline(t, settings);
      const at = deadline === null ? guardAt : guardAt === null ? deadline : Math.min(deadline, guardAt);
      const ready = () => inbox.length > 0 || holdReports.length > 0 || supportRequests.length > 0;
      if (at === null) await condition(ready);
      else await condition(ready, Math.max(1, at * 1000 - workflowNow()));
      continue;
    }
    await guarded(() => step(t, due, guardDue));
  }
  return { orderId: trade!.order.id, status: trade!.order.status };

  async function step(t: Trade, due: ReturnType<typeof dueWork>, guardDue: boolean): Promise<void> {
    // LND's reports first: a payment that landed decides before a message that raced it.
    if (holdReports.length > 0) {
      await onHoldReport(holdReports.shift()!);
    } else if (inbox.length > 0) {
      const m = inbox.shift()!;
      requestReceivedAtMs = m.receivedAtMs;
      await onMessage(m);
      requestReceivedAtMs = undefined;
    } else if (supportRequests.length > 0) {
      const r = supportRequests.shift()!;
      log.info('support request', { orderId: t.order.id, action: r.action, operator: r.operator, reason: r.reason });
      await apply(supportRequest(t, r, clock()));
    } else if (due === 'payout') {
      const o = t.order;
      const outcome = await pay(`payout:${o.id}:${t.payoutSeq}`, o.buyerInvoice!, o.amount - o.fee);
      await apply(payoutResult(trade!, outcome, clock()));
    } else if (due === 'dev-fee') {
      const o = t.order;
      const outcome = await pay(`dev-fee:${o.id}`, settings.devFeeLightningAddress!, o.devFee, true);
      await apply(devFeeResult(trade!, outcome, clock()));
    } else if (guardDue) {
      const g = bondGuard(t, clock());
      for (const b of g.released) log.warn('bond released before its CLTV expiry; it can no longer be slashed', { orderId: t.order.id, bondId: b.id });
      await apply(g);
    } else {
      // A waiting timeout that really elapsed may slash the responsible taker's bond (§14.2), settled first.
      const target = dueTimeoutSlash(t);
      const targets = target ? [target] : [];
      await settleBonds(targets);
      const slashed = slash(t, targets, clock());
      const d = timeout(slashed.trade, clock(), uuid4());
      // The slashed taker hears of it before the order's own notices, as from the reference.
      await apply({ trade: d.trade, effects: [...slashed.effects, ...d.effects] });
    }
  }

  function dueTimeoutSlash(t: Trade): SlashTarget | null {
    const at = nextDeadline(t, settings);
    return at !== null && clock().now >= at ? timeoutSlashTarget(t, settings) : null;
  }
}
