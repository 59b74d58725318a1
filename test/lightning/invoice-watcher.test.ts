/**
 * The invoice-state ingress end to end: a workflow creates a hold invoice through the real activity, a wallet on the
 * simulated network pays it, the watcher (real `lightning` client over gRPC) signals the workflow, which settles.
 * Also: CLTV expiry cancels, a payment made while no watcher runs is reconciled at start, an LND restart is
 * reconciled after re-subscription, and an invoice whose workflow is gone is set aside.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvoiceWatcher, TemporalHoldInvoiceGateway } from '../../src/ingress/lightning.js';
import { SimNetwork } from '../../src/lnsim/network.js';
import { startSimLnd } from '../../src/lnsim/lnd-grpc.js';
import type { Logger } from '../../src/log.js';
import { startLightningWorld, type LightningWorld } from '../helpers/lightning.js';
import { uid } from '../helpers/temporal.js';
import { invoiceQuery } from './workflows/hold-invoice-owner.js';

const net = new SimNetwork('regtest');
net.addNode('mostro');
net.addNode('seller');
const tlsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'watcher-tls-'));
const macaroon = crypto.randomBytes(32).toString('hex');
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const taskQueue = uid('hold');
let world: LightningWorld;

beforeAll(async () => {
  world = await startLightningWorld({
    net,
    taskQueue,
    workflowsUrl: new URL('./workflows/hold-invoice-owner.ts', import.meta.url).href,
    sim: { tlsDir, macaroon },
  });
}, 60_000);

afterAll(() => world?.close());

const watcher = () =>
  new InvoiceWatcher({ lnd: world.lnd, db: world.db.prisma, gateway: new TemporalHoldInvoiceGateway(world.env.plainClient), log: quiet, pollMs: 100, retryMs: 100 });

async function startOwner(amountSats: number, settleOnAccept: boolean) {
  const key = uid('escrow');
  const handle = await world.env.plainClient.workflow.start('holdInvoiceOwner', { taskQueue, workflowId: uid('owner'), args: [{ key, amountSats, settleOnAccept }] });
  let request: string | undefined;
  for (let i = 0; i < 200 && !request; i++) {
    request = (await handle.query(invoiceQuery)).request;
    if (!request) await new Promise((r) => setTimeout(r, 25));
  }
  if (!request) throw new Error('hold invoice never created');
  const hash = (await ln.decodePaymentRequest({ lnd: world.lnd, request })).id;
  return { handle, request, hash };
}

describe('invoice watcher', () => {
  it('signals ACCEPTED when the seller pays; the workflow settles and hears SETTLED', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request, hash } = await startOwner(25_000, true);
      net.pay('seller', request);
      expect(await handle.result()).toEqual(['accepted:25000', 'settled:25000']);
      expect(net.payments.get(hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
      expect((await world.db.prisma.holdInvoice.findUniqueOrThrow({ where: { paymentHash: hash } })).notifiedState).toBe('settled');
      const history = await handle.fetchHistory();
      const signals = (history.events ?? []).flatMap((e) => (e.workflowExecutionSignaledEventAttributes ? [e.workflowExecutionSignaledEventAttributes.signalName] : []));
      expect(signals).toEqual(['hold-invoice-accepted', 'hold-invoice-settled']);
    } finally {
      await w.stop();
    }
  });

  it('signals CANCELED when the escrow reaches its CLTV horizon', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request } = await startOwner(5_000, false);
      net.pay('seller', request);
      await expect.poll(async () => (await handle.query(invoiceQuery)).updates.length, { timeout: 5_000 }).toBe(1);
      net.mine(150);
      expect(await handle.result()).toEqual(['accepted:5000', 'canceled:5000']);
    } finally {
      await w.stop();
    }
  });

  it('reconciles at start: a payment made while no watcher ran is delivered', async () => {
    const { handle, request, hash } = await startOwner(7_000, true);
    net.pay('seller', request);
    expect(net.invoices.get(hash)?.state).toBe('ACCEPTED');
    const w = watcher();
    await w.start();
    try {
      expect(await handle.result()).toEqual(['accepted:7000', 'settled:7000']);
    } finally {
      await w.stop();
    }
  });

  it('re-subscribes after LND restarts and catches up on what happened while it was down', async () => {
    const w = watcher();
    await w.start();
    try {
      const { handle, request } = await startOwner(9_000, true);
      await expect.poll(() => w.size, { timeout: 5_000 }).toBeGreaterThan(0);
      const port = world.sim.port;
      await world.sim.close();
      net.pay('seller', request); // accepted while the node's API is down
      world.sim = await startSimLnd(net, { node: 'mostro', tlsDir, macaroon, port });
      expect(await handle.result()).toEqual(['accepted:9000', 'settled:9000']);
    } finally {
      await w.stop();
    }
  });

  it('sets aside an invoice whose workflow is gone instead of following it forever', async () => {
    const inv = await world.activities.createHoldInvoice({ key: uid('lost'), amountSats: 1_000, memo: 'm', workflowId: uid('never-started') });
    const w = watcher();
    await w.start();
    try {
      net.pay('seller', inv.request);
      await expect
        .poll(async () => (await world.db.prisma.holdInvoice.findUniqueOrThrow({ where: { paymentHash: inv.hash } })).notifiedState, { timeout: 5_000 })
        .toBe('orphaned');
      await w.scan();
      expect(w.size).toBe(0);
    } finally {
      await w.stop();
    }
  });
});
