/**
 * What an order action's handler works with: the trade as it stands, the settings and clock, the ports to the world
 * (Temporal activities and workflow APIs in the workflow; a model of LND and the parties in the property tests), and
 * the driver's means to carry out a decision (`apply`), answer a `cant-do` (`reply`) and make the calls a step needs
 * (`io` for what a support repair may interrupt, `money` for what cannot be undone). The driver (driver.ts)
 * implements it; each action (actions/*.ts) reads as "check, gather, decide, apply".
 *
 * Deterministic (it runs in the workflow sandbox): no I/O, clocks or randomness but through the ports.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/common';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { DatabaseActivities } from '../../activities/database.js';
import type { DecisionActivities } from '../../activities/decision.js';
import type { LightningActivities } from '../../activities/lightning.js';
import type { NostrActivities } from '../../activities/nostr.js';
import type { PriceActivities } from '../../activities/price.js';
import type { Bond, BondPayout } from '../../domain/bond.js';
import type { InboundMessage, Inbound, Rid } from '../../domain/messages.js';
import type { OrderState } from '../../domain/order.js';
import type { OrderSettings } from '../../domain/order-settings.js';
import type { SupportRequest } from '../../domain/support.js';
import type { PriceQuote } from '../../price/manager.js';
import type { CantDoReason } from '@mostro/protocol/schema';
import type { HoldInvoiceExpiring, HoldInvoiceUpdate } from '../shared/hold-invoice.js';
import type { NewOrderInput } from './contract.js';
import type { Clock, Decision, Trade } from './model.js';

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
  /** Runs `fn` so that the driver's `interruptFor` can cancel it (a Temporal cancellation scope). */
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
  | { type: 'due'; due: 'payout' | 'dev-fee' | 'timeout' | 'close' | null; guardDue: boolean };

/** The step in progress, as an action's handler sees and drives it. */
export interface OrderContext {
  /** The trade now (after everything applied so far in this step). */
  readonly trade: Trade;
  readonly settings: OrderSettings;
  readonly ports: OrderPorts;
  readonly log: OrderPorts['log'];
  clock(): Clock;
  patched(id: string): boolean;
  uuid4(): string;
  /** Carries out a decision: the trade becomes its trade, its effects happen in order. */
  apply(d: Decision): Promise<void>;
  /** Replaces the trade with a fact learned from LND, without effects (a bond LND already gave back). */
  adopt(t: Trade): void;
  /** A `cant-do` echoing the request's id: the order's by default; a dispute's, or none for a new order. */
  reply(to: string, rid: Rid, reason: CantDoReason, id?: string | null): Promise<void>;
  /** A call a support repair may interrupt while nothing irreversible has happened in the step. */
  io<T>(fn: () => Promise<T>): Promise<T>;
  /** A call that moves money or starts what outlives the step: from here on the step cannot be undone. */
  money<T>(fn: () => Promise<T>): Promise<T>;
  /** Recorded with the decision's projection: the trade index a maker or taker used. */
  recordTradeIndex(t: { identity: string; sender: string; index: number | null }): void;
  /** A market price; a source that keeps failing is "no price". */
  marketPrice(fiatCode: string): Promise<PriceQuote>;
}

/** How an order action's message is handled: `m` as the ingress handed it, `inbound` its parsed kind and request id. */
export type MessageHandler = (ctx: OrderContext, m: InboundMessage, inbound: Inbound) => Promise<void>;

/** Non-retryable activity failures are defects or operator matters: fail the task (visible, fixable) not the trade. */
export function stuck(what: string, err: unknown): never {
  const cause = err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? `${err.cause.type}: ${err.cause.message}` : String(err);
  throw new Error(`${what} failed permanently (${cause}); the trade waits here until an operator fixes the cause`);
}

/** The type of a non-retryable activity failure (`LndRejected`, `InvoiceCanceled`…), or null. */
export const failureType = (err: unknown): string | null => (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? null) : null);

/** The database refused a write for good (bad data, a broken constraint): retrying cannot help. */
export const isDatabaseRejection = (err: unknown): boolean =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'DatabaseRejected';

/** The counterparty's reputation when no notice needs it. */
export const NO_REPUTATION = { rating: 0, reviews: 0, operating_days: 0 };
