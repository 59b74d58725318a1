/**
 * Support tooling over Temporal only (so it works against the embedded server and a cluster alike, while the
 * daemon runs): find trades that need a person, show one trade, and send a repair request to its workflow.
 */
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { ORDER_WORKFLOW_TYPE, orderWorkflowId, supportSignal } from '../workflows/order/contract.js';
import { supportApplies } from '../workflows/order/actions/support.js';
import { type Trade } from '../workflows/order/model.js';
import type { OrderState } from '../domain/order.js';
import type { BondView } from '../workflows/order/bonds.js';
import { SA } from '../workflows/shared/search-attributes.js';
import { BOND_PAYOUT_WORKFLOW_TYPE } from '../workflows/bond/contract.js';
import { counterpartyShare } from '../workflows/bond/payout-machine.js';
import type { bondPayoutWorkflow } from '../workflows/bond/payout-workflow.js';
import { type SupportAction, type SupportRequest } from '../domain/support.js';

export type Problem = 'payout-failed' | 'payout-pending' | 'dispute-open' | 'activity-retrying' | 'workflow-task-failing' | 'bond-payout-failed';

export interface StuckTrade {
  orderId: string;
  workflowId: string;
  status: string;
  problem: Problem;
  /** When the problem started, where known (ISO). */
  since?: string;
  detail: string;
}

export interface StuckOptions {
  /** Disputes open longer than this are listed (default 24). */
  disputeHours?: number;
  /** A pending activity at or past this attempt counts as retrying (default 3). */
  minAttempts?: number;
  /** Slashed-bond payouts that failed for good are listed for this many days after they ended (default 30). */
  bondDays?: number;
  now?: number;
}

const orderIdOf = (workflowId: string) => workflowId.replace(/^order-/, '');
const running = `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running'`;

async function list(client: Client, query: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const w of client.workflow.list({ query })) out.push(w);
  return out;
}

const statusOf = (w: WorkflowExecutionInfo) => String((w.searchAttributes?.[SA.status.name] as string[] | undefined)?.[0] ?? 'unknown');

/** When the workflow last set its status search attribute to `status` (from its history). */
async function statusSince(client: Client, workflowId: string, status: string): Promise<number | undefined> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  let at: number | undefined;
  for (const e of history.events ?? []) {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    const payload = fields?.[SA.status.name];
    if (!payload?.data) continue;
    const value = JSON.parse(Buffer.from(payload.data).toString('utf8')) as unknown;
    if (value === status || (Array.isArray(value) && value[0] === status)) {
      const t = e.eventTime;
      at = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : undefined;
    }
  }
  return at;
}

export async function findStuckTrades(client: Client, o: StuckOptions = {}): Promise<StuckTrade[]> {
  const now = o.now ?? Date.now();
  const disputeMs = (o.disputeHours ?? 24) * 3600_000;
  const minAttempts = o.minAttempts ?? 3;
  const found: StuckTrade[] = [];
  const seen = new Set<string>();
  const add = (t: StuckTrade) => {
    const key = `${t.workflowId}:${t.problem}`;
    if (!seen.has(key)) found.push(t);
    seen.add(key);
  };

  for (const w of await list(client, `${running} AND ${SA.needsAttention.name} = true`)) {
    add({ orderId: orderIdOf(w.workflowId), workflowId: w.workflowId, status: statusOf(w), problem: 'payout-failed', detail: 'escrow settled; every payout attempt failed; the buyer was asked for a new invoice' });
  }
  for (const w of await list(client, `${running} AND ${SA.status.name} = 'settled-hold-invoice'`)) {
    if (seen.has(`${w.workflowId}:payout-failed`)) continue;
    const since = await statusSince(client, w.workflowId, 'settled-hold-invoice');
    add({ orderId: orderIdOf(w.workflowId), workflowId: w.workflowId, status: 'settled-hold-invoice', problem: 'payout-pending', since: since ? new Date(since).toISOString() : undefined, detail: 'escrow settled; the buyer is not paid yet (payout in progress or retrying)' });
  }
  for (const w of await list(client, `${running} AND ${SA.status.name} = 'dispute'`)) {
    const since = await statusSince(client, w.workflowId, 'dispute');
    if (since !== undefined && now - since < disputeMs) continue;
    const hours = since === undefined ? '?' : ((now - since) / 3600_000).toFixed(1);
    add({ orderId: orderIdOf(w.workflowId), workflowId: w.workflowId, status: 'dispute', problem: 'dispute-open', since: since ? new Date(since).toISOString() : undefined, detail: `dispute open for ${hours} h` });
  }
  // Trades with money at stake whose activities keep failing (LND or a relay down) or whose workflow task fails
  // (a permanently failed activity, a defect): the trade waits for a person.
  const atStake = ['waiting-payment', 'waiting-buyer-invoice', 'active', 'fiat-sent', 'settled-hold-invoice', 'dispute'].map((s) => `'${s}'`).join(', ');
  for (const w of await list(client, `${running} AND ${SA.status.name} IN (${atStake})`)) {
    const d = await client.workflow.getHandle(w.workflowId).describe();
    for (const a of d.raw.pendingActivities ?? []) {
      if ((a.attempt ?? 0) < minAttempts) continue;
      add({ orderId: orderIdOf(w.workflowId), workflowId: w.workflowId, status: statusOf(w), problem: 'activity-retrying', detail: `${a.activityType?.name} attempt ${a.attempt}: ${a.lastFailure?.message ?? 'no failure recorded yet'}` });
    }
    const wft = d.raw.pendingWorkflowTask;
    if (wft && (wft.attempt ?? 0) >= 2) {
      add({ orderId: orderIdOf(w.workflowId), workflowId: w.workflowId, status: statusOf(w), problem: 'workflow-task-failing', detail: `workflow task attempt ${wft.attempt} (see the last WorkflowTaskFailed event in its history)` });
    }
  }
  // Slashed-bond shares that could not be paid before their claim window closed: pay them by hand.
  const bondSince = new Date(now - (o.bondDays ?? 30) * 86_400_000).toISOString();
  for (const w of await list(client, `WorkflowType = '${BOND_PAYOUT_WORKFLOW_TYPE}' AND ${SA.needsAttention.name} = true AND CloseTime > '${bondSince}'`)) {
    const p = await client.workflow.getHandle<typeof bondPayoutWorkflow>(w.workflowId).result().catch(() => null);
    if (!p || p.status !== 'failed') continue;
    add({
      orderId: p.orderId,
      workflowId: w.workflowId,
      status: p.status,
      problem: 'bond-payout-failed',
      since: w.closeTime?.toISOString(),
      detail: `slashed bond ${p.bondId}: ${counterpartyShare(p)} sats owed to ${p.recipient} could not be paid within the claim window; pay them by hand`,
    });
  }
  return found;
}

export interface TradeView {
  workflowId: string;
  runId: string;
  executionStatus: string;
  order: OrderState | null;
  /** Anti-abuse bonds (`releaseBy`: when a held bond is released before LND would cancel it at its CLTV expiry). */
  bonds: BondView[];
  pendingActivities: { type: string; attempt: number; lastFailure?: string }[];
  workflowTaskAttempt?: number;
  /** Path of the trade's history in the Temporal Web UI. */
  webUiPath: string;
}

export async function showTrade(client: Client, orderId: string): Promise<TradeView> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  const d = await handle.describe();
  const order = await handle.query<OrderState | null>('getOrder').catch(() => null);
  const bonds = await handle.query<BondView[]>('getBonds').catch(() => []);
  return {
    workflowId: d.workflowId,
    runId: d.runId,
    executionStatus: d.status.name,
    order,
    bonds,
    pendingActivities: (d.raw.pendingActivities ?? []).map((a) => ({
      type: a.activityType?.name ?? '?',
      attempt: a.attempt ?? 0,
      ...(a.lastFailure?.message ? { lastFailure: a.lastFailure.message } : {}),
    })),
    ...(d.raw.pendingWorkflowTask ? { workflowTaskAttempt: d.raw.pendingWorkflowTask.attempt ?? 1 } : {}),
    webUiPath: `/namespaces/${encodeURIComponent(client.options.namespace)}/workflows/${encodeURIComponent(d.workflowId)}/${d.runId}/history`,
  };
}

export const SUPPORT_ACTIONS: readonly SupportAction[] = ['retry-payout', 'retry-dev-fee', 'republish', 'cancel-with-refund'];

/**
 * Sends a repair request, after checking against the trade's current state that it applies (a signal cannot answer,
 * so the check happens here; the workflow checks again when it handles the request).
 */
export async function sendSupportRequest(client: Client, orderId: string, r: SupportRequest): Promise<{ sent: boolean; why?: string }> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  const d = await handle.describe();
  if (d.status.name !== 'RUNNING') return { sent: false, why: `the trade's workflow is ${d.status.name.toLowerCase()}` };
  const order = await handle.query<OrderState | null>('getOrder');
  if (!order) return { sent: false, why: 'the order is not created yet' };
  // Only the order matters for the checks support staff can ask for; whether a dev-fee address is configured is the
  // workflow's to know (it checks again), so it is assumed here.
  const trade = { order, payoutDueAt: null } as Trade;
  const applies = supportApplies(trade, r.action, { devFeeLightningAddress: 'configured' });
  if (!applies) return { sent: false, why: `${r.action} does not apply to an order in status ${order.status}` };
  await handle.signal(supportSignal, r);
  return { sent: true };
}
