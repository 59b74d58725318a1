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
import { TestDaemon, holdInvoiceOf, openOrder } from '../helpers/daemon.js';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { spawnTs, type Spawned } from '../helpers/process.js';
import { workflowBundle } from '../helpers/temporal.js';

const WORKER = 'test/e2e/crash/worker-main.ts';

// Two processes share the database, so these need a PostgreSQL server (the test setup starts one when the Debian
// binaries exist, and CI installs them); PGlite lives inside one process.
describe.skipIf(!inject('databaseUrl'))('worker killed at an activity boundary', () => {
  let d: TestDaemon;
  let bundlePath: string;
  let dir: string;
  beforeAll(async () => {
    d = await TestDaemon.start({ worker: 'external' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-crash-'));
    bundlePath = path.join(dir, 'workflows.js');
    fs.writeFileSync(bundlePath, (await workflowBundle(ORDER_WORKFLOWS_PATH)).code);
  });
  afterAll(async () => {
    await d?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs a worker that crashes after `point` once, and replaces it with a healthy one when it dies. */
  async function crashingWorker(point: string) {
    const marker = path.join(dir, `crashed-${point}`);
    const env = { ORDER_WORKER_CONFIG: JSON.stringify(d.workerConfig), WORKFLOW_BUNDLE: bundlePath, CRASH_MARKER: marker };
    const first = spawnTs(WORKER, [], { ...env, CRASH_AFTER: point });
    await first.line('worker');

    let current: Spawned = first;
    const replaced = first.exited.then(async () => {
      // The killed attempt stops heartbeating: after the heartbeat timeout it is retried on the new worker.
      current = spawnTs(WORKER, [], env);
      await current.line('worker');
    });
    return {
      crashed: () => fs.existsSync(marker),
      replaced,
      async stop() {
        await replaced;
        current.child.kill('SIGTERM');
        await current.exited;
      },
    };
  }

  // commitDecision: a decision's projection, order event and replies, in one activity.
  it.each(['createHoldInvoice', 'commitDecision', 'settleHoldInvoice', 'payInvoice'])(
    'after %s: the trade completes, the buyer is paid once, no message is lost or repeated',
    async (point) => {
      const w = await crashingWorker(point);
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
    120_000,
  );
});
