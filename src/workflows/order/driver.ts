/**
 * The order's driver: one step at a time, it hands each input of a trade — a party's message, LND's report on a hold
 * invoice, a deadline, a support request — to the action that handles it (actions/), whose decision it carries out
 * (effects.ts). The workflow (workflow.ts) binds its ports to Temporal activities and owns the queues and timers; the
 * property-based tests bind them to a model of LND and the parties, so both run exactly this code.
 *
 * A step that fails for good before any money moved is undone: the trade goes back to where it was, a message that
 * could not be stored is refused (`cant-do invalid_payload`), and a support repair can interrupt a step stuck retrying
 * a non-Lightning activity. An activity that fails for good otherwise fails the workflow task (`stuck`): the trade
 * waits, visible in the Web UI, until an operator fixes the cause — it is never failed itself.
 *
 * Deterministic (it runs in the workflow sandbox): no I/O, clocks or randomness but through the ports.
 */
import { ActivityFailure } from '@temporalio/common';
import { cantDoMessage, readInbound, type InboundMessage, type Rid } from '../../domain/messages.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import type { SupportRequest } from '../../domain/support.js';
import type { PriceQuote } from '../../price/manager.js';
import type { CantDoReason } from '@mostro/protocol/schema';
import { unstorableTextAt } from '@mostro/protocol/text';
import { onExpiring, onHoldReport } from './actions/hold-invoice.js';
import { ORDER_ACTION_HANDLERS } from './actions/index.js';
import { onNewOrder, openChildOrder } from './actions/new-order.js';
import { onSupport, supportApplies } from './actions/support.js';
import { onDue } from './actions/timers.js';
import { bondsOf } from './bonds.js';
import { orderWorkflowId, type InboxAction } from './contract.js';
import { stuck, type OrderContext, type OrderInput, type OrderPorts, type OrderWorkflowInput } from './context.js';
import { orderEffects, UndoStep, type OrderMemory } from './effects.js';
import type { Clock, Trade } from './model.js';

export type OrderDriver = ReturnType<typeof orderDriver>;

export function orderDriver(input: OrderWorkflowInput, settings: OrderSettings, ports: OrderPorts) {
  const { db, ln, price, log } = ports;
  const clock = (): Clock => ({ now: Math.floor(ports.now() / 1000), settings });
  const mem: OrderMemory = { trade: undefined, step: null, pendingTradeIndex: undefined, requestReceivedAtMs: undefined, refusal: null };
  const effects = orderEffects(mem, settings, ports, clock);
  const { apply, io, money } = effects;

  /**
   * What each recent message came to — 'ok', or the reason of the cant-do it was answered with — for callers that
   * wait on a message they injected (the admin RPC). Rebuilt on replay like everything in memory; bounded.
   */
  const outcomes = new Map<string, string>();

  /** A `cant-do` echoing the request's id: the order's for order actions; a dispute's, or none for a new order. */
  const reply = async (to: string, rid: Rid, reason: CantDoReason, id: string | null = mem.trade?.order.id ?? input.orderId) => {
    await effects.sendNow([cantDoMessage(to, rid, id ?? undefined, reason)]);
  };

  /** A price source that keeps failing is "no price" (no reply, as upstream), not a failed order. */
  async function marketPrice(fiatCode: string): Promise<PriceQuote> {
    try {
      return await price.getMarketPrice({ fiatCode });
    } catch (err) {
      if (err instanceof ActivityFailure) return { ok: false, reason: 'no_price' };
      throw err;
    }
  }

  const ctx: OrderContext = {
    get trade() {
      return mem.trade!;
    },
    settings,
    ports,
    log,
    clock,
    patched: (id) => ports.patched(id),
    uuid4: () => ports.uuid4(),
    apply,
    adopt: (t) => {
      mem.trade = t;
    },
    reply,
    io,
    money,
    recordTradeIndex: (t) => {
      mem.pendingTradeIndex = t;
    },
    marketPrice,
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

  /** Starts the trade: a maker's `new-order`, or a range remainder. False when the `new-order` was refused. */
  async function start(): Promise<boolean> {
    if ('child' in input) {
      const bond = input.makerBond;
      if (bond) await guarded(() => db.adoptHoldInvoice({ hash: bond.hash, workflowId: orderWorkflowId(input.orderId) }));
      await guarded(() => apply(openChildOrder(input.child, input.announce, bond)));
      return true;
    }
    mem.step = { before: undefined, irreversible: false, message: input.message, interruptible: false };
    try {
      mem.requestReceivedAtMs = input.message.receivedAtMs;
      return await guarded(() => onNewOrder(ctx, input));
    } catch (err) {
      if (!(err instanceof UndoStep)) throw err;
      const after = mem.trade;
      mem.trade = undefined;
      mem.step = null;
      if (after) await releaseOrphans(undefined, after);
      log.warn('a new order refused: the database cannot store it', { orderId: input.orderId });
      const { kind, rid } = readInbound(input.message.messageJson);
      await reply(input.message.sender, rid, 'invalid_payload', kind.id ?? null);
      return false;
    } finally {
      mem.step = null;
    }
  }

  async function onMessage(m: InboundMessage): Promise<void> {
    const inbound = readInbound(m.messageJson);
    // Text the database cannot keep is refused before anything about the trade changes.
    if (unstorableTextAt(inbound.kind.payload) !== null && ctx.patched('unstorable-text')) return reply(m.sender, inbound.rid, 'invalid_payload');
    const handler = ORDER_ACTION_HANDLERS[m.action as InboxAction];
    if (!handler) return reply(m.sender, inbound.rid, 'invalid_action');
    return handler(ctx, m, inbound);
  }

  async function handle(i: OrderInput): Promise<void> {
    switch (i.type) {
      case 'hold':
        return onHoldReport(ctx, i.report);
      case 'expiring':
        return onExpiring(ctx, i.report);
      case 'message':
        mem.requestReceivedAtMs = i.message.receivedAtMs;
        await onMessage(i.message);
        mem.requestReceivedAtMs = undefined;
        return;
      case 'support':
        return onSupport(ctx, i.request);
      case 'due':
        return onDue(ctx, i.due, i.guardDue);
    }
  }

  /**
   * One step of the trade. A step undone (a message whose decision the database refused, or a step a support repair
   * interrupted) leaves the trade as it found it — but for its sequence numbers, which only grow, so keys and
   * projection revisions are never reused — and releases the hold invoices it created that nobody was told about.
   */
  async function run(i: OrderInput): Promise<void> {
    const before = mem.trade!;
    mem.step = { before, irreversible: false, message: i.type === 'message' ? i.message : null, interruptible: false };
    mem.refusal = null;
    try {
      await guarded(() => handle(i));
    } catch (err) {
      if (!(err instanceof UndoStep)) throw err;
      const after = mem.trade!;
      mem.trade = { ...before, escrowSeq: Math.max(before.escrowSeq, after.escrowSeq), payoutSeq: Math.max(before.payoutSeq, after.payoutSeq) };
      mem.pendingTradeIndex = undefined;
      mem.requestReceivedAtMs = undefined;
      effects.upsertChangedSearchAttributes();
      mem.step = null;
      await releaseOrphans(before, after);
      if (err.why === 'rejected' && i.type === 'message') {
        const { rid } = readInbound(i.message.messageJson);
        log.warn('a message refused: the database cannot store its decision', { orderId: before.order.id, action: i.message.action });
        await reply(i.message.sender, rid, 'invalid_payload');
        mem.refusal = 'invalid_payload';
      } else {
        log.warn('a step interrupted by a support repair was undone', { orderId: before.order.id, input: i.type });
      }
    } finally {
      mem.step = null;
      if (i.type === 'message') {
        outcomes.set(i.message.eventId, mem.refusal ?? 'ok');
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
    const step = mem.step;
    if (!step?.interruptible || step.irreversible || r.action !== 'cancel-with-refund') return;
    // Only a repair that applies to the trade as the step found it (the step will be undone first).
    if (!step.before || !supportApplies(step.before, r.action, settings)) return;
    ports.interrupt();
  }

  return {
    get trade(): Trade | undefined {
      return mem.trade;
    },
    start,
    run,
    interruptFor,
    /** 'ok', a cant-do reason, or null when that message was not handled (yet, or too long ago). */
    messageOutcome: (eventId: string): string | null => outcomes.get(eventId) ?? null,
  };
}
