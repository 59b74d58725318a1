/**
 * `bondPayoutWorkflow`: one slashed bond's payout to the honest counterparty, a days-long flow of its own (started
 * with parent-close policy ABANDON so it outlives the order's workflow). A thin shell around payout-machine.ts: it
 * sleeps until the next invoice request or the end of the claim window, takes the winner's `add-bond-invoice` as a
 * signal, validates the invoice against the counterparty share, pays it under a key per invoice (a retried or re-run
 * attempt never pays twice), and sends every message through the same activities as the order workflow.
 */
import { ActivityFailure, condition, continueAsNew, log, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SA } from '../shared/search-attributes.js';
import { addBondInvoiceSignal, getPayoutQuery } from './contract.js';
import type { DatabaseActivities } from '../../activities/database.js';
import type { LightningActivities } from '../../activities/lightning.js';
import type { NostrActivities } from '../../activities/nostr.js';
import type { InboundMessage } from '../../domain/messages.js';
import { type BondPayout, type PayoutSettings } from '../../domain/bond.js';
import { readInbound } from '../../domain/messages.js';
import { paymentActivityOptions } from '../shared/payments.js';
import { workflowNow } from '../shared/time.js';
import { counterpartyShare, invoiceSubmitted, payoutNextWake, payoutResult, payoutTick, type PayoutDecision, type PayoutOutcome } from './payout-machine.js';

export { BOND_PAYOUT_WORKFLOW_TYPE, addBondInvoiceSignal, bondPayoutWorkflowId, getPayoutQuery } from './contract.js';

/** A payout that keeps asking for days starts a fresh history before its own grows unwieldy. */
const HISTORY_LIMIT = 5_000;

export interface BondPayoutInput {
  payout: BondPayout;
  settings: PayoutSettings;
  /** Seconds between payment attempts on one invoice (the reference retries on its 60 s cycle). */
  retryIntervalSecs?: number;
  /** History events after which the payout continues as a new run (default 5,000; tests use less). */
  historyLimit?: number;
}

const db = proxyActivities<DatabaseActivities>({ startToCloseTimeout: '30 seconds', heartbeatTimeout: '10 seconds', retry: { maximumInterval: '30 seconds' } });
const nostr = proxyActivities<NostrActivities>({ startToCloseTimeout: '60 seconds', heartbeatTimeout: '10 seconds', retry: { maximumInterval: '1 minute' } });
const ln = proxyActivities<LightningActivities>({ startToCloseTimeout: '60 seconds', heartbeatTimeout: '10 seconds', retry: { maximumInterval: '1 minute' } });
const lnPay = proxyActivities<LightningActivities>(paymentActivityOptions('10 seconds'));

/** What the `bonds` row shows of a payout. */
const projectionChanged = (a: BondPayout, b: BondPayout): boolean =>
  a.status !== b.status || a.attempts !== b.attempts || a.invoiceRequests !== b.invoiceRequests || a.lastInvoiceRequestAt !== b.lastInvoiceRequestAt;

export async function bondPayoutWorkflow(input: BondPayoutInput): Promise<BondPayout> {
  const s = input.settings;
  const retrySecs = input.retryIntervalSecs ?? 60;
  let p = input.payout;
  const seen = new Set<string>();
  const inbox: InboundMessage[] = [];
  setHandler(addBondInvoiceSignal, (m) => {
    if (seen.has(m.eventId)) return;
    seen.add(m.eventId);
    inbox.push(m);
  });
  setHandler(getPayoutQuery, () => p);
  const now = () => Math.floor(workflowNow() / 1000);

  async function apply(d: PayoutDecision): Promise<void> {
    const before = p;
    p = d.payout;
    if (projectionChanged(before, p)) {
      // The bond's row moves with the payout, before any message about it goes out.
      p = { ...p, rev: (p.rev ?? 0) + 1 };
      await db.projectBondPayout({ payout: p });
    }
    // A payout that failed for good is an operator's to pay by hand: `mostro admin stuck` finds it by this attribute.
    if ((before.status === 'failed') !== (p.status === 'failed')) upsertSearchAttributes([{ key: SA.needsAttention, value: p.status === 'failed' }]);
    for (const e of d.effects) {
      if (e.type === 'send') {
        await nostr.sendReplies({ replies: [{ to: e.msg.to, messageJson: e.msg.json }] });
        continue;
      }
      let outcome: PayoutOutcome;
      try {
        const r = await lnPay.payInvoice({ purpose: e.purpose, request: e.invoice, amountSats: e.amountSats });
        outcome = r.status === 'succeeded' ? { status: 'succeeded' } : r.status === 'failed' ? { status: 'failed', reason: r.reason } : { status: 'in-flight' };
      } catch (err) {
        // An invoice LND refuses for good is a failed attempt like any other.
        if (!(err instanceof ActivityFailure)) throw err;
        outcome = { status: 'failed', reason: err.cause?.message ?? err.message };
      }
      await apply(payoutResult(p, outcome, s, now()));
    }
  }

  await apply(payoutTick(p, s, now()));
  for (;;) {
    if (p.status === 'slashed' || p.status === 'forfeited') return p;
    // Pending signals keep the server from accepting the new run until they are handled, so none is lost.
    if (inbox.length === 0 && workflowInfo().historyLength > (input.historyLimit ?? HISTORY_LIMIT)) await continueAsNew<typeof bondPayoutWorkflow>({ ...input, payout: p });
    // A failed payout waits for a fresh invoice until the claim window closes.
    if (p.status === 'failed' && now() - p.slashedAt >= s.claimWindowSecs && inbox.length === 0) return p;
    const wake = p.status === 'failed' ? p.slashedAt + s.claimWindowSecs : p.invoice !== null ? now() + retrySecs : payoutNextWake(p, s);
    if (inbox.length === 0) await condition(() => inbox.length > 0, wake === null ? undefined : Math.max(1, wake * 1000 - workflowNow()));
    const m = inbox.shift();
    if (m) {
      const { kind, rid } = readInbound(m.messageJson);
      const pr = kind.payload && 'payment_request' in kind.payload ? kind.payload.payment_request[1] : '';
      const valid = pr !== '' && counterpartyShare(p) > 0 && (await ln.validateInvoice({ request: pr, amountSats: counterpartyShare(p), feeSats: 0 })).valid;
      const d = invoiceSubmitted(p, { sender: m.sender, rid, invoice: pr, valid }, s, now());
      if (d.refused) log.info('bond payout invoice refused', { bondId: p.bondId, orderId: p.orderId, cause: d.refused });
      await apply(d);
    } else {
      await apply(payoutTick(p, s, now()));
    }
  }
}
