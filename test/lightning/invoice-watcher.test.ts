/**
 * The invoice-state ingress end to end, on the simulated network and on real LND (regtest): a workflow creates a hold
 * invoice through the real activity, the seller's wallet pays it, the watcher (real `lightning` client over gRPC)
 * signals the workflow, which settles. Also: the CLTV horizon cancels (blocks mined), a payment made while no watcher
 * runs is reconciled at start, a restart of the daemon's node is reconciled after re-subscription, and an invoice
 * whose workflow is gone is set aside.
 */
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceWatcher, TemporalHoldInvoiceGateway } from '../../src/ingress/lightning.js';
import type { Logger } from '../../src/log.js';
import { startLightningWorld, type LightningWorld } from '../helpers/lightning.js';
import { LABS } from '../helpers/lightning-lab.js';
import { uid } from '../helpers/temporal.js';
import { invoiceQuery } from './workflows/hold-invoice-owner.js';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe.each(LABS)('invoice watcher on $name', ({ start, skip }) => {
  const taskQueue = uid('hold');
  let world: LightningWorld;
  let holdInvoiceCreated: (() => void) | undefined;

  beforeAll(async () => {
    if (skip) return;
    const lab = await start();
    // A world that fails to start must not leave the lab's processes running.
    world = await startLightningWorld({
      lab,
      taskQueue,
      workflowsUrl: new URL('./workflows/hold-invoice-owner.ts', import.meta.url).href,
      onHoldInvoiceCreated: () => holdInvoiceCreated?.(),
    }).catch(async (err: unknown) => {
      await lab.close();
      throw err;
    });
  }, 300_000);

  afterAll(async () => {
    await world?.close();
    await world?.lab.close();
  }, 120_000);

  const watcher = () =>
    new InvoiceWatcher({ lnd: world.lab.lnd(), db: world.db.prisma, gateway: new TemporalHoldInvoiceGateway(world.env.plainClient), log: quiet, pollMs: 100, retryMs: 100 });

  async function startOwner(amountSats: number, settleOnAccept: boolean) {
    const key = uid('escrow');
    const handle = await world.env.plainClient.workflow.start('holdInvoiceOwner', { taskQueue, workflowId: uid('owner'), args: [{ key, amountSats, settleOnAccept }] });
    let request: string | undefined;
    for (let i = 0; i < 400 && !request; i++) {
      request = (await handle.query(invoiceQuery)).request;
      if (!request) await new Promise((r) => setTimeout(r, 25));
    }
    if (!request) throw new Error('hold invoice never created');
    const hash = (await ln.decodePaymentRequest({ lnd: world.lab.lnd(), request })).id;
    return { handle, request, hash };
  }

  it.skipIf(skip)('signals ACCEPTED when the seller pays; the workflow settles and hears SETTLED', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request, hash } = await startOwner(25_000, true);
      await world.lab.pay('seller', request);
      expect(await handle.result()).toEqual(['accepted:25000', 'settled:25000']);
      await expect.poll(() => world.lab.paidBy('seller', hash), { timeout: 30_000 }).toBe('SUCCEEDED');
      expect((await world.db.prisma.holdInvoice.findUniqueOrThrow({ where: { paymentHash: hash } })).notifiedState).toBe('settled');
      const history = await handle.fetchHistory();
      const signals = (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName] : []));
      expect(signals).toEqual(['hold-invoice-accepted', 'hold-invoice-settled']);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it.skipIf(skip)('follows a new hold invoice as soon as it is created (nudged), not at its next scan', async () => {
    // Scans ten minutes apart: only the nudge from the activity that created the invoice can get it followed in time.
    const w = new InvoiceWatcher({ lnd: world.lab.lnd(), db: world.db.prisma, gateway: new TemporalHoldInvoiceGateway(world.env.plainClient), log: quiet, pollMs: 600_000, retryMs: 100 });
    await w.start();
    holdInvoiceCreated = () => w.nudge();
    try {
      const { handle, request } = await startOwner(12_000, true);
      await world.lab.pay('seller', request);
      expect(await handle.result()).toEqual(['accepted:12000', 'settled:12000']);
    } finally {
      holdInvoiceCreated = undefined;
      await w.stop();
    }
  }, 60_000);

  it.skipIf(skip)('a scan that read an invoice before its end was recorded does not follow it again (no second SETTLED)', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request, hash } = await startOwner(9_000, true);
      await world.lab.pay('seller', request);
      expect(await handle.result()).toEqual(['accepted:9000', 'settled:9000']);
      const row = () => world.db.prisma.holdInvoice.findUniqueOrThrow({ where: { paymentHash: hash } });
      await expect.poll(async () => (await row()).notifiedState, { timeout: 30_000 }).toBe('settled');
      // What a scan that read the row just before the delivery was recorded sees (the watcher scans every 100 ms here):
      await world.db.prisma.holdInvoice.update({ where: { paymentHash: hash }, data: { notifiedState: 'accepted' } });
      await new Promise((r) => setTimeout(r, 1500));
      // Not followed again: a second stream would deliver SETTLED again (to a workflow now gone: recorded `orphaned`).
      expect(w.size).toBe(0);
      expect((await row()).notifiedState).toBe('accepted');
    } finally {
      await w.stop();
    }
  }, 60_000);

  it.skipIf(skip)('signals CANCELED when the escrow reaches its CLTV horizon (blocks mined), and the seller has the money back', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request, hash } = await startOwner(5_000, false);
      await world.lab.pay('seller', request);
      await expect.poll(async () => (await handle.query(invoiceQuery)).updates.length, { timeout: 30_000 }).toBe(1);
      // LND gives a held HTLC back 12 blocks before it expires. Mine to exactly there: a chain that jumps past the
      // expiry lets the payer's node go on chain for the HTLC (a force-close) before the payee has given it back.
      const expiry = (await ln.getInvoice({ lnd: world.lab.lnd(), id: hash })).payments[0]!.timeout;
      await world.lab.mine(expiry - 12 - (await world.lab.blockHeight()));
      expect(await handle.result()).toEqual(['accepted:5000', 'canceled:5000']);
      await expect.poll(() => world.lab.paidBy('seller', hash), { timeout: 30_000 }).toBe('FAILED');
    } finally {
      await w.stop();
    }
  }, 120_000);

  it.skipIf(skip)('reconciles at start: a payment made while no watcher ran is delivered', async () => {
    const { handle, request, hash } = await startOwner(7_000, true);
    await world.lab.pay('seller', request);
    await expect.poll(async () => (await world.activities.lookupInvoice({ hash })).state, { timeout: 30_000 }).toBe('held');
    const w = watcher();
    await w.start();
    try {
      expect(await handle.result()).toEqual(['accepted:7000', 'settled:7000']);
    } finally {
      await w.stop();
    }
  }, 60_000);

  it.skipIf(skip)('re-subscribes after the node restarts: a payment made after the restart is delivered', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request } = await startOwner(9_000, true);
      await expect.poll(() => w.size, { timeout: 5_000 }).toBeGreaterThan(0);
      // The watcher's stream breaks with the node; nothing can be paid to a node that is down.
      await world.lab.restartMostro();
      await world.lab.pay('seller', request);
      expect(await handle.result()).toEqual(['accepted:9000', 'settled:9000']);
    } finally {
      await w.stop();
    }
  }, 120_000);

  it.skipIf(skip)('sets aside an invoice whose workflow is gone instead of following it forever', async () => {
    const inv = await world.activities.createHoldInvoice({ key: uid('lost'), amountSats: 1_000, memo: 'm', workflowId: uid('never-started') });
    const w = watcher();
    await w.start();
    try {
      await world.lab.pay('seller', inv.request);
      await expect
        .poll(async () => (await world.db.prisma.holdInvoice.findUniqueOrThrow({ where: { paymentHash: inv.hash } })).notifiedState, { timeout: 30_000 })
        .toBe('orphaned');
      await w.scan();
      expect(w.size).toBe(0);
    } finally {
      await w.stop();
    }
  }, 60_000);
});
