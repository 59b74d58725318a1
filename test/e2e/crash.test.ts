/**
 * Crash tests: the worker process is killed (SIGKILL) right after each side effect of a trade — the hold invoice
 * created in LND, a decision committed (projection, order event, replies), the escrow settled, the buyer paid — before Temporal
 * recorded the result. A new worker process takes over. The trade completes, the buyer is paid exactly once (the
 * simulator counts every dispatch to a payment hash), and each party receives every message exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { testBondSettings } from '../helpers/bonds.js';
import { TestDaemon, holdInvoiceOf, openOrder } from '../helpers/daemon.js';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { spawnTs, type Spawned } from '../../support/process.js';
import { workflowBundle } from '../helpers/temporal.js';

const WORKER = 'test/e2e/crash/worker-main.ts';
/** Starting a worker process (tsx, the native bridge, connecting) takes seconds idle and much longer with both cores busy. */
const WORKER_START_MS = 180_000;

// Two processes share the database, so these need a PostgreSQL server (the test setup starts one when the Debian
// binaries exist, and CI installs them); PGlite lives inside one process.
/** Runs a worker that crashes after `point` once, and replaces it with a healthy one when it dies. */
async function crashingWorker(d: TestDaemon, dir: string, bundlePath: string, point: string) {
  const marker = path.join(dir, `crashed-${point}`);
  const env = { ORDER_WORKER_CONFIG: JSON.stringify(d.workerConfig), WORKFLOW_BUNDLE: bundlePath, CRASH_MARKER: marker };
  const first = spawnTs(WORKER, [], { ...env, CRASH_AFTER: point });
  await first.line('worker', WORKER_START_MS);

  let current: Spawned = first;
  let stopping = false;
  const replaced = first.exited.then(async () => {
    if (stopping) return;
    // The killed attempt stops heartbeating: after the heartbeat timeout it is retried on the new worker.
    current = spawnTs(WORKER, [], env);
    await current.line('worker', WORKER_START_MS);
  });
  return {
    crashed: () => fs.existsSync(marker),
    replaced,
    /** Ends whichever worker runs — also when the test failed before the crash, so no worker outlives its test. */
    async stop() {
      stopping = current === first;
      current.child.kill(stopping ? 'SIGKILL' : 'SIGTERM');
      await current.exited;
      await replaced.catch(() => undefined);
      if (current !== first) {
        current.child.kill('SIGTERM');
        await current.exited;
      }
    },
  };
}

/** A daemon whose worker runs in other processes, and a pre-built workflow bundle for them. */
function externalWorkerDaemon(o: Parameters<typeof TestDaemon.start>[0] = {}) {
  const ctx = { d: undefined as unknown as TestDaemon, dir: '', bundlePath: '' };
  beforeAll(async () => {
    ctx.d = await TestDaemon.start({ ...o, worker: 'external' });
    ctx.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-crash-'));
    ctx.bundlePath = path.join(ctx.dir, 'workflows.js');
    fs.writeFileSync(ctx.bundlePath, (await workflowBundle(ORDER_WORKFLOWS_PATH)).code);
  });
  afterAll(async () => {
    await ctx.d?.close();
    if (ctx.dir) fs.rmSync(ctx.dir, { recursive: true, force: true });
  });
  return ctx;
}

describe.skipIf(!inject('databaseUrl'))('worker killed at an activity boundary', () => {
  const ctx = externalWorkerDaemon();

  // commitDecision: a decision's projection, order event and replies, in one activity.
  it.each(['createHoldInvoice', 'commitDecision', 'settleHoldInvoice', 'payInvoice'])(
    'after %s: the trade completes, the buyer is paid once, no message is lost or repeated',
    async (point) => {
      const { d } = ctx;
      const w = await crashingWorker(d, ctx.dir, ctx.bundlePath, point);
      try {
        const seller = d.trader(`seller-${point}`);
        const buyer = d.trader(`buyer-${point}`);
        const id = await openOrder(seller, 1, { kind: 'sell', amount: 10_000, fiatAmount: 10, fiatCode: 'USD' });
        const inv = d.net.createInvoice({ node: 'buyer', valueSats: 9_970, expirySecs: 7200 });
        await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
        const pay = await seller.next(1, 'pay-invoice', 60_000);
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'waiting-seller-to-pay' });
        d.net.pay('seller', holdInvoiceOf(pay));
        expect(await seller.next(1, undefined, 60_000)).toMatchObject({ action: 'buyer-took-order' });
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'hold-invoice-payment-accepted' });
        await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
        expect(await seller.next(1, undefined, 60_000)).toMatchObject({ action: 'fiat-sent-ok' });
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'fiat-sent-ok' });
        await seller.send(1, { action: 'release', id, tradeIndex: null });
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'released' });
        expect(await seller.next(1, undefined, 60_000)).toMatchObject({ action: 'hold-invoice-payment-settled' });
        expect(await seller.next(1, undefined, 60_000)).toMatchObject({ action: 'rate' });
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'purchase-completed' });
        expect(await buyer.next(1, undefined, 60_000)).toMatchObject({ action: 'rate' });
        await d.waitForStatus(id, 'success', 60_000);

        expect(w.crashed()).toBe(true);
        const hold = [...d.net.invoices.values()].find((i) => i.request === holdInvoiceOf(pay))!;
        expect(hold.state).toBe('SETTLED');
        expect(d.net.payments.get(inv.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 9_970 });
        const recorded = await d.db.prisma.payment.findMany({ where: { purpose: { startsWith: `payout:${id}:` } } });
        expect(recorded).toMatchObject([{ paymentHash: inv.hash, status: 'succeeded', dispatches: 1 }]);
        expect((await d.orderEvent(id))?.s).toEqual(['success']);
        // Nothing arrived twice: after a moment for stragglers, no unread message remains.
        await new Promise((r) => setTimeout(r, 500));
        expect(seller.unread(1).map((m) => m.action)).toEqual([]);
        expect(buyer.unread(1).map((m) => m.action)).toEqual([]);
      } finally {
        await w.stop();
      }
    },
    // Two worker processes start per test; with both cores busy each can take minutes.
    2 * WORKER_START_MS + 120_000,
  );
});

// A slashed bond: the worker dies right after the bond's HTLC was settled into the node (the slash), or right after
// the winner's share was sent (the payout workflow's payment). The slash happens once, the share is paid once.
describe.skipIf(!inject('databaseUrl'))('worker killed around a bond slash and its payout', () => {
  const ctx = externalWorkerDaemon({
    settings: { bond: testBondSettings({ slashOnWaitingTimeout: false }) },
  });

  it.each(['settleHoldInvoice', 'payInvoice'])(
    'after %s: the bond is settled once, the seller is paid its share once, every notice arrives once',
    async (point) => {
      const { d } = ctx;
      const w = await crashingWorker(d, ctx.dir, ctx.bundlePath, point);
      try {
        const seller = d.trader(`seller-bond-${point}`);
        const buyer = d.trader(`buyer-bond-${point}`);
        const admin = d.admin(`admin-bond-${point}`);
        const id = await openOrder(seller, 1, { kind: 'sell', amount: 100_000, fiatAmount: 100, fiatCode: 'USD' });
        const inv = d.net.createInvoice({ node: 'buyer', valueSats: 99_700, expirySecs: 7200 });
        await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
        const bond = holdInvoiceOf(await buyer.next(1, 'pay-bond-invoice', 60_000));
        d.net.pay('buyer', bond);
        d.net.pay('seller', holdInvoiceOf(await seller.next(1, 'pay-invoice', 60_000)));
        await seller.next(1, 'buyer-took-order', 60_000);
        await seller.send(1, { action: 'dispute', id, tradeIndex: null });
        const disputeId = ((await seller.next(1, 'dispute-initiated-by-you', 60_000)).payload as { dispute: [string, null] }).dispute[0];
        await admin.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
        await buyer.next(1, 'admin-took-dispute', 60_000);
        await admin.send(1, { action: 'admin-cancel', id, payload: { bond_resolution: { slash_seller: false, slash_buyer: true } }, tradeIndex: null });
        await buyer.next(1, 'bond-slashed', 60_000);
        await seller.next(1, 'add-bond-invoice', 60_000);
        const claim = d.net.createInvoice({ node: 'seller', valueSats: 500, expirySecs: 7200 });
        await seller.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, claim.request, null] }, tradeIndex: null });
        await seller.next(1, 'bond-invoice-accepted', 60_000);
        await seller.next(1, 'bond-payout-completed', 60_000);

        expect(w.crashed()).toBe(true);
        const held = [...d.net.invoices.values()].find((i) => i.request === bond)!;
        expect(held.state).toBe('SETTLED');
        expect(d.net.payments.get(claim.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 500 });
        const recorded = await d.db.prisma.payment.findMany({ where: { paymentHash: claim.hash } });
        expect(recorded).toMatchObject([{ status: 'succeeded', dispatches: 1 }]);
        // The buyer's escrow went back to the seller; the buyer's payout invoice was never paid.
        expect(d.net.payments.get(inv.hash)).toBeUndefined();
        await new Promise((r) => setTimeout(r, 500));
        const unread = (t: typeof seller) => t.unread(1).map((m) => m.action);
        for (const once of ['bond-slashed', 'bond-invoice-accepted', 'bond-payout-completed']) {
          expect(unread(buyer).concat(unread(seller))).not.toContain(once);
        }
      } finally {
        await w.stop();
      }
    },
    // Two worker processes start per test; with both cores busy each can take minutes.
    2 * WORKER_START_MS + 120_000,
  );
});
