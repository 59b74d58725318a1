/**
 * `bondPayoutWorkflow` on the real stack (embedded Temporal with time skipping, the simulated Lightning network, the
 * relay): the winner is asked for an invoice at the configured cadence, a valid one is acknowledged and paid once;
 * an invalid one is refused with the reason; without an invoice the bond is forfeited when the 15-day claim window
 * closes. The winner's `add-bond-invoice` is signalled here as the ingress will hand it over once bonds are routed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serializeMessage, message } from '@mostro/protocol';
import type { BondPayout } from '../../src/domain/bond.js';
import type { InboundMessage } from '../../src/domain/messages.js';
import { addBondInvoiceSignal, bondPayoutWorkflowId } from '../../src/workflows/bond/contract.js';
import { bondPayout } from '../helpers/bonds.js';
import { findStuckTrades } from '../../src/admin/support.js';
import { TestDaemon, type Trader } from '../helpers/daemon.js';
import { uid, withoutTimeSkipping } from '../helpers/temporal.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

// The reference's windows; on a real Temporal server (no time skipping) the invoice window is 5 s so the test runs
// in real time.
const SETTINGS = { claimWindowSecs: 15 * 86_400, invoiceWindowSecs: withoutTimeSkipping ? 5 : 300, maxRetries: 3 };
const ORDER = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';

async function startPayout(winner: Trader, o: Partial<BondPayout> = {}, settings = SETTINGS, extra: { historyLimit?: number } = {}) {
  const bondId = uid('bond');
  const now = Math.floor((await d.env.currentTimeMs()) / 1000);
  const payout = bondPayout({ bondId, orderId: ORDER, recipient: winner.pubkey(1), amountSats: 2_000, nodeShareSats: 1_000, slashedAt: now, ...o });
  await winner.listen(1);
  const handle = await d.env.client.workflow.start('bondPayoutWorkflow', {
    taskQueue: d.taskQueue,
    workflowId: bondPayoutWorkflowId(bondId),
    args: [{ payout, settings, ...extra }],
  });
  return { handle, payout };
}

async function waitFor(ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The first attempt at `hash` was set to fail: make every retry (one a minute) fail too. */
async function failRemainingAttempts(hash: string): Promise<void> {
  for (let attempt = 2; attempt <= SETTINGS.maxRetries; attempt++) {
    await waitFor(() => d.net.payments.get(hash)?.attempts === attempt - 1 && d.net.payments.get(hash)?.status === 'FAILED');
    d.net.failNextPayment();
    await d.env.sleep('1 minute');
  }
}

let eventNo = 0;
const invoiceMessage = (winner: Trader, request: string): InboundMessage => ({
  eventId: (++eventNo).toString(16).padStart(64, '0'),
  action: 'add-bond-invoice',
  messageJson: serializeMessage(message({ action: 'add-bond-invoice', id: ORDER, request_id: 5, payload: { payment_request: [null, request, null] } })),
  sender: winner.pubkey(1),
  identity: winner.identity,
  createdAt: 0,
  transport: 'nip44',
});

describe('bondPayoutWorkflow', () => {
  it('asks for an invoice every invoice window, refuses a wrong one, pays the right one once', async () => {
    const winner = d.trader('winner-b1');
    const { handle } = await startPayout(winner);
    const ask = await winner.next(1, 'add-bond-invoice');
    expect(ask.payload).toMatchObject({ bond_payout_request: { order: { id: ORDER, amount: 1_000, status: null }, slashed_at: expect.any(Number) } });
    await d.env.sleep(`${SETTINGS.invoiceWindowSecs} seconds`);
    expect((await winner.next(1, 'add-bond-invoice')).json).toBe(ask.json);

    // The whole bond is not the winner's: an invoice for 2,000 is refused.
    const wrong = d.net.createInvoice({ node: 'buyer', valueSats: 2_000, expirySecs: 7200 });
    await handle.signal(addBondInvoiceSignal, invoiceMessage(winner, wrong.request));
    expect(await winner.next(1, 'cant-do')).toMatchObject({ request_id: 5, payload: { cant_do: 'invalid_invoice' } });

    const right = d.net.createInvoice({ node: 'buyer', valueSats: 1_000, expirySecs: 7200 });
    await handle.signal(addBondInvoiceSignal, invoiceMessage(winner, right.request));
    expect(await winner.next(1, 'bond-invoice-accepted')).toMatchObject({ payload: { order: { amount: 1_000 } } });
    expect(await winner.next(1, 'bond-payout-completed')).toMatchObject({ payload: { order: { amount: 1_000 } } });
    expect(await handle.result()).toMatchObject({ status: 'slashed', invoice: right.request });
    expect(d.net.payments.get(right.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 1_000 });
  });

  // Payment retries a minute apart and a 15-day claim window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('retries a failing payment, then asks for a new invoice (same deadline) and pays that one', async () => {
    const winner = d.trader('winner-b5');
    const { handle } = await startPayout(winner);
    const ask = await winner.next(1, 'add-bond-invoice');
    const bad = d.net.createInvoice({ node: 'buyer', valueSats: 1_000, expirySecs: 86_400 });
    d.net.failNextPayment();
    await handle.signal(addBondInvoiceSignal, invoiceMessage(winner, bad.request));
    await winner.next(1, 'bond-invoice-accepted');
    await failRemainingAttempts(bad.hash);
    // Every attempt failed: the winner is asked again, with the same slashed_at (the deadline does not move).
    expect((await winner.next(1, 'add-bond-invoice')).json).toBe(ask.json);
    expect(d.net.payments.get(bad.hash)).toMatchObject({ status: 'FAILED', attempts: SETTINGS.maxRetries });
    const good = d.net.createInvoice({ node: 'buyer', valueSats: 1_000, expirySecs: 86_400 });
    await handle.signal(addBondInvoiceSignal, invoiceMessage(winner, good.request));
    await winner.next(1, 'bond-payout-completed');
    expect(await handle.result()).toMatchObject({ status: 'slashed', invoiceSeq: 2 });
    expect(d.net.payments.get(good.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  // Payment retries a minute apart and a 15-day claim window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('a share that still cannot be paid when the claim window closes ends failed, and support staff find it', async () => {
    const winner = d.trader('winner-b6');
    const now = Math.floor((await d.env.currentTimeMs()) / 1000);
    // Slashed almost 15 days ago: a minute of the window is left.
    const { handle } = await startPayout(winner, { slashedAt: now - SETTINGS.claimWindowSecs + 60 });
    await winner.next(1, 'add-bond-invoice');
    const bad = d.net.createInvoice({ node: 'buyer', valueSats: 1_000, expirySecs: 86_400 });
    d.net.failNextPayment();
    await handle.signal(addBondInvoiceSignal, invoiceMessage(winner, bad.request));
    await winner.next(1, 'bond-invoice-accepted');
    await failRemainingAttempts(bad.hash);
    expect(await handle.result()).toMatchObject({ status: 'failed', attempts: SETTINGS.maxRetries });
    const stuck = (await findStuckTrades(d.env.client)).filter((s) => s.workflowId === handle.workflowId);
    expect(stuck).toEqual([
      {
        orderId: ORDER,
        workflowId: handle.workflowId,
        status: 'failed',
        problem: 'bond-payout-failed',
        since: expect.any(String),
        detail: expect.stringContaining(`1000 sats owed to ${winner.pubkey(1)} could not be paid within the claim window`),
      },
    ]);
  });

  // Payment retries a minute apart and a 15-day claim window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('forfeits the bond to the node when no invoice comes within the claim window', async () => {
    const winner = d.trader('winner-b2');
    // Asked once a day here (the default is every five minutes: 4,320 requests over the window).
    const { handle } = await startPayout(winner, {}, { ...SETTINGS, invoiceWindowSecs: 86_400 });
    await winner.next(1, 'add-bond-invoice');
    await d.env.sleep('15 days');
    const end = await handle.result();
    expect(end).toMatchObject({ status: 'forfeited', invoice: null, invoiceRequests: 15 });
  });

  // Payment retries a minute apart and a 15-day claim window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('keeps its history short over the days: it continues as a new run with its state, and still ends right', async () => {
    const winner = d.trader('winner-b4');
    const { handle } = await startPayout(winner, {}, { ...SETTINGS, invoiceWindowSecs: 12 * 3600 }, { historyLimit: 40 });
    await winner.next(1, 'add-bond-invoice');
    await d.env.sleep('15 days');
    const end = await handle.result();
    expect(end).toMatchObject({ status: 'forfeited', invoiceRequests: 30 });
    const runs: string[] = [];
    for await (const w of d.env.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) runs.push(w.status.name);
    // 15 days on, the first runs may already be past the namespace's retention (deleted, as on a real server): the
    // list shows what is left; the first run was continued, not ended, if any continued run remains.
    expect(runs.filter((r) => r === 'CONTINUED_AS_NEW').length).toBeGreaterThan(1);
  });

  it('a node-only split ends at once without a message', async () => {
    const winner = d.trader('winner-b3');
    const { handle } = await startPayout(winner, { nodeShareSats: 2_000 });
    expect(await handle.result()).toMatchObject({ status: 'slashed' });
    await new Promise((r) => setTimeout(r, 300));
    expect(winner.unread(1)).toEqual([]);
  });
});
