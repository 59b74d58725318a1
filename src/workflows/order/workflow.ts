/**
 * `orderWorkflow`: one trade, from `new-order` to its final status, as a durable Temporal workflow. A thin shell around
 * the order's driver (driver.ts): it queues the parties' messages (signals) and LND's invoice reports, hands the driver
 * one input at a time — LND's reports first, so a payment that landed decides before a message that raced it; two
 * takers racing for an order are decided in arrival order, exactly one wins —, and sleeps until the trade's next
 * deadline. The driver's ports are Temporal activities, child workflows and workflow APIs.
 *
 * A payout is one `payInvoice` call per attempt under a purpose (`payout:<order>:<n>`) recorded before dispatch, so a
 * crash anywhere pays the buyer at most once; the outcome is in history before the order moves on.
 */
import {
  CancellationScope,
  ParentClosePolicy,
  condition,
  defineQuery,
  isCancellation,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  uuid4,
} from '@temporalio/workflow';
import type { DatabaseActivities } from '../../activities/database.js';
import type { DecisionActivities } from '../../activities/decision.js';
import type { LightningActivities } from '../../activities/lightning.js';
import type { NostrActivities } from '../../activities/nostr.js';
import type { PriceActivities } from '../../activities/price.js';
import type { SettingsActivities } from '../../activities/settings.js';
import type { InboundMessage } from '../../domain/messages.js';
import type { OrderState } from '../../domain/order.js';
import type { SupportRequest } from '../../domain/support.js';
import { bondPayoutWorkflow, bondPayoutWorkflowId } from '../bond/payout-workflow.js';
import { holdInvoiceExpiringSignal, holdInvoiceSignals, type HoldInvoiceExpiring, type HoldInvoiceUpdate } from '../shared/hold-invoice.js';
import { paymentActivityOptions } from '../shared/payments.js';
import { workflowNow } from '../shared/time.js';
import { PAYOUT_TRACKER_PATCH, payoutInFlight } from './actions/payout.js';
import { clockWork } from './actions/timers.js';
import { bondViews, type BondView } from './bonds.js';
import { INBOX_ACTIONS, messageOutcomeQuery, orderSignals, orderWorkflowId, supportSignal } from './contract.js';
import type { OrderPorts, OrderWorkflowInput } from './context.js';
import { orderDriver } from './driver.js';

export type { ChildOrderInput, OrderWorkflowInput } from './context.js';

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
    lnPay: proxyActivities<LightningActivities>(paymentActivityOptions(heartbeatTimeout)),
    // Follows a payment in flight for as long as LND keeps it so (until its HTLCs time out, days at worst).
    lnTrack: proxyActivities<LightningActivities>(opts('30 days')),
    price: proxyActivities<PriceActivities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout, retry: { maximumAttempts: 3 } }),
    // Short, idempotent calls run inside the workflow task that asked for them: no server round trip, no extra task.
    local: proxyLocalActivities<
      Pick<DatabaseActivities, 'pendingOrderExists'> & Pick<LightningActivities, 'validateInvoice' | 'createHoldInvoice' | 'settleHoldInvoice'>
    >({
      startToCloseTimeout: '60 seconds',
      retry: { maximumInterval: '30 seconds' },
    }),
  };
}

/**
 * Local activities: a taker's and a buyer's checks (is another order waiting on this identity, is the invoice
 * payable), which read and change nothing, and the escrow's creation and settlement, which LND makes idempotent (the
 * invoice's hash and preimage derive from its key: a second create hands out the same invoice, a second settle finds
 * it settled). A worker dying after one ran but before its workflow task completed runs it again in the retried task,
 * harmlessly; payments stay regular activities (their purpose is recorded before dispatch). Each spares a trade an
 * activity task and a workflow task: four per trade. Histories recorded before run them as activities.
 */
export const LOCAL_ACTIVITIES_PATCH = 'local-activities';

type LnInput<K extends 'validateInvoice' | 'createHoldInvoice' | 'settleHoldInvoice'> = Parameters<LightningActivities[K]>[0];

/** Activity stubs with some replaced (the SDK's stubs are a proxy: spreading it would drop the others). */
function overriding<T extends object, R extends Partial<Record<keyof T, unknown>>>(stubs: T, replaced: R): T {
  return new Proxy(stubs, { get: (target, key, receiver) => (key in replaced ? replaced[key as keyof R] : Reflect.get(target, key, receiver)) });
}

/** The order as its workflow holds it (null while a `new-order` is still being checked). */
export const getOrderQuery = defineQuery<OrderState | null>('getOrder');
/** The order's anti-abuse bonds, with when each held one will be released ahead of its CLTV expiry. */
export const getBondsQuery = defineQuery<BondView[]>('getBonds');

export interface OrderWorkflowResult {
  orderId: string;
  /** Final status, or null when the `new-order` was refused. */
  status: string | null;
}

export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderWorkflowResult> {
  // Settings travel in the input (recorded in history); orders started without them ask the worker once.
  const settings = 'child' in input ? input.settings : (input.settings ?? (await config.orderSettings()));
  const acts = activities(settings.activityHeartbeatTimeoutSecs);
  let repairable: CancellationScope | undefined;
  // Decided per call (Temporal's patched): a history recorded before replays with the regular activities.
  const localOr = <T,>(regular: T) => (patched(LOCAL_ACTIVITIES_PATCH) ? acts.local : regular);
  const ports: OrderPorts = {
    ...acts,
    db: overriding(acts.db, { pendingOrderExists: (i: Parameters<DatabaseActivities['pendingOrderExists']>[0]) => localOr(acts.db).pendingOrderExists(i) }),
    ln: overriding(acts.ln, {
      validateInvoice: (i: LnInput<'validateInvoice'>) => localOr(acts.ln).validateInvoice(i),
      createHoldInvoice: (i: LnInput<'createHoldInvoice'>) => localOr(acts.ln).createHoldInvoice(i),
      settleHoldInvoice: (i: LnInput<'settleHoldInvoice'>) => localOr(acts.ln).settleHoldInvoice(i),
    }),
    async startBondPayout(payout) {
      await startChild(bondPayoutWorkflow, {
        workflowId: bondPayoutWorkflowId(payout.bondId),
        args: [{ payout, settings: settings.bond!.payout }],
        // The counterparty may claim for days after the order is over.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    },
    async startChildOrder(child) {
      await startChild(orderWorkflow, {
        workflowId: orderWorkflowId(child.orderId),
        args: [child],
        // The remainder is an order of its own: it outlives this trade.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    },
    upsertSearchAttributes,
    patched,
    uuid4,
    now: workflowNow,
    async interruptible(fn) {
      const scope = new CancellationScope();
      repairable = scope;
      try {
        return await scope.run(fn);
      } finally {
        if (repairable === scope) repairable = undefined;
      }
    },
    interrupt: () => repairable?.cancel(),
    log,
  };
  const driver = orderDriver(input, settings, ports);

  // The buyer's payout in flight is followed beside the trade, so that messages are read meanwhile and the trade
  // moves on as soon as LND knows the outcome (the outcome itself is always read back through payInvoice).
  let tracked: { hash: string; scope: CancellationScope } | undefined;
  let payoutSettled = false;
  const followPayout = () => {
    const hash = payoutInFlight(driver.trade);
    if (hash === (tracked?.hash ?? null)) return;
    tracked?.scope.cancel();
    tracked = undefined;
    if (hash === null || !patched(PAYOUT_TRACKER_PATCH)) return;
    const scope = new CancellationScope();
    const current = { hash, scope };
    tracked = current;
    scope.run(() => acts.lnTrack.trackPayment({ hash })).then(
      () => {
        if (tracked === current) payoutSettled = true;
      },
      (err) => {
        if (!isCancellation(err)) log.warn('the payout tracker stopped; the trade rechecks the payment on its clock', { orderId: input.orderId, error: String(err) });
      },
    );
  };
  const inbox: InboundMessage[] = [];
  const seen = new Set<string>();
  const holdReports: HoldInvoiceUpdate[] = [];
  const supportRequests: SupportRequest[] = [];

  for (const action of INBOX_ACTIONS) {
    setHandler(orderSignals[action], (m) => {
      // The same Nostr event can arrive through two relays: one delivery counts.
      if (seen.has(m.eventId)) return;
      seen.add(m.eventId);
      inbox.push(m);
    });
  }
  for (const signal of Object.values(holdInvoiceSignals)) setHandler(signal, (u) => void holdReports.push(u));
  // Added after workflows were running: it only ever arrives as a new signal, so histories replay as before.
  const expiring: HoldInvoiceExpiring[] = [];
  setHandler(holdInvoiceExpiringSignal, (e) => void expiring.push(e));
  // Added after workflows were running: histories without a `support` signal replay exactly as before.
  setHandler(supportSignal, (r) => {
    supportRequests.push(r);
    // A repair must not wait behind a step that keeps failing (a database that refuses it, a relay that is down).
    if (patched('support-interrupts-stuck-step')) driver.interruptFor(r);
  });
  setHandler(getOrderQuery, () => driver.trade?.order ?? null);
  setHandler(getBondsQuery, () => (driver.trade ? bondViews(driver.trade, settings) : []));
  setHandler(messageOutcomeQuery, (eventId) => driver.messageOutcome(eventId));

  if (!(await driver.start())) return { orderId: input.orderId, status: null };

  for (;;) {
    const work = clockWork(driver.trade!, settings, Math.floor(workflowNow() / 1000));
    if (work.type === 'close') break;
    followPayout();
    const ready = () => inbox.length > 0 || holdReports.length > 0 || expiring.length > 0 || supportRequests.length > 0 || payoutSettled;
    if (work.type === 'wait' && !ready()) {
      if (work.at === null) await condition(ready);
      else await condition(ready, Math.max(1, work.at * 1000 - workflowNow()));
      continue;
    }
    // LND's reports first: a payment that landed decides before a message that raced it.
    if (holdReports.length > 0) await driver.run({ type: 'hold', report: holdReports.shift()! });
    else if (expiring.length > 0) await driver.run({ type: 'expiring', report: expiring.shift()! });
    else if (payoutSettled) {
      payoutSettled = false;
      if (payoutInFlight(driver.trade) === tracked?.hash) await driver.run({ type: 'due', due: 'payout', guardDue: false });
    } else if (inbox.length > 0) await driver.run({ type: 'message', message: inbox.shift()! });
    else if (supportRequests.length > 0) await driver.run({ type: 'support', request: supportRequests.shift()! });
    else if (work.type === 'due') await driver.run(work.input);
  }
  tracked?.scope.cancel();
  const t = driver.trade!;
  return { orderId: t.order.id, status: t.order.status };
}
