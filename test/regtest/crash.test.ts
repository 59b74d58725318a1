/**
 * A crash while the buyer's payment is in flight on a real Lightning network (and, the same way, on the simulated
 * one): the order worker runs in its own process; the buyer's wallet holds the payout's HTLC (a hold invoice of its
 * own, as a buyer could on purpose), so the payment is really in flight when the worker is killed with SIGKILL. A new
 * worker takes over; when the buyer's wallet settles, the trade completes — the payment tracked to its end, never sent
 * again: one payment to the hash in the daemon node's ListPayments, the buyer up by its payout exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { TestDaemon, holdInvoiceOf, openOrder } from '../helpers/daemon.js';
import { LABS, type LightningLab } from '../helpers/lightning-lab.js';
import { ORDER_WORKFLOWS_PATH } from '../helpers/order-worker.js';
import { spawnTs, type Spawned } from '../../support/process.js';
import { workflowBundle } from '../helpers/temporal.js';

const WORKER = 'test/e2e/crash/worker-main.ts';
/** Starting a worker process (tsx, the native bridge, connecting) takes seconds idle and much longer with both cores busy. */
const WORKER_START_MS = 180_000;
const MSG_MS = 60_000;
const AMOUNT = 50_000;
const FEE = 150;

// Two worker processes share the database: PostgreSQL (the test setup starts one when the Debian binaries exist).
describe.skipIf(!inject('databaseUrl')).each(LABS)('a worker killed with the payout in flight, on $name', ({ start, skip }) => {
  let lab: LightningLab;
  let d: TestDaemon;
  let dir = '';
  let bundlePath = '';
  const workers: Spawned[] = [];

  beforeAll(async () => {
    if (skip) return;
    lab = await start();
    d = await TestDaemon.start({ lab, worker: 'external' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-lnd-crash-'));
    bundlePath = path.join(dir, 'workflows.js');
    fs.writeFileSync(bundlePath, (await workflowBundle(ORDER_WORKFLOWS_PATH)).code);
  }, 300_000);
  afterAll(async () => {
    for (const w of workers) {
      w.child.kill('SIGKILL');
      await w.exited;
    }
    await d?.close();
    await lab?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  async function worker(): Promise<Spawned> {
    const w = spawnTs(WORKER, [], { ORDER_WORKER_CONFIG: JSON.stringify(d.workerConfig), WORKFLOW_BUNDLE: bundlePath });
    workers.push(w);
    await w.line('worker', WORKER_START_MS);
    return w;
  }

  it.skipIf(skip)('the payment is tracked to its end after the restart and the buyer is paid exactly once', async () => {
    const first = await worker();
    const seller = d.trader('seller-crash');
    const buyer = d.trader('buyer-crash');
    const before = await lab.balance('buyer');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: AMOUNT, fiatAmount: 50, fiatCode: 'USD' });
    const payout = await lab.heldInvoice('buyer', AMOUNT - FEE);
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, payout.request, null] } });
    await lab.pay('seller', holdInvoiceOf(await seller.next(1, 'pay-invoice', MSG_MS)));
    await seller.next(1, 'buyer-took-order', MSG_MS);
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok', MSG_MS);
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'released', MSG_MS);
    // The HTLC has reached the buyer's wallet, which holds it: the daemon's payment is in flight.
    await expect.poll(() => lab.invoiceState('buyer', payout.hash), { timeout: MSG_MS }).toBe('ACCEPTED');
    expect(await lab.payment(payout.hash)).toMatchObject({ status: 'IN_FLIGHT' });
    first.child.kill('SIGKILL');
    await first.exited;

    await worker();
    await payout.settle();
    await buyer.next(1, 'purchase-completed', MSG_MS);
    await d.waitForStatus(id, 'success', MSG_MS);

    expect(await lab.payment(payout.hash)).toMatchObject({ status: 'SUCCEEDED' });
    const sent = (await ln.getPayments({ lnd: lab.lnd() })).payments.filter((p) => p.id === payout.hash);
    expect(sent).toHaveLength(1);
    expect(sent[0]!.attempts.filter((a) => a.is_confirmed)).toHaveLength(1);
    await expect.poll(async () => (await lab.balance('buyer')) - before, { timeout: 30_000 }).toBe(AMOUNT - FEE);
    expect(await d.db.prisma.payment.findMany({ where: { purpose: { startsWith: `payout:${id}:` } } })).toMatchObject([{ paymentHash: payout.hash, status: 'succeeded', dispatches: 1 }]);
    // Nothing arrived twice.
    await new Promise((r) => setTimeout(r, 500));
    expect(buyer.unread(1).map((m) => m.action).filter((a) => a === 'purchase-completed')).toEqual([]);
  }, 2 * WORKER_START_MS + 180_000);
});
