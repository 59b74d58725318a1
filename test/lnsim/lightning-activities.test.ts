/**
 * Lightning activities through the real `lightning` client against the simulated LND, with the payment records in
 * a real database (PGlite): hold invoices with derived preimages, idempotent settle/cancel, and payInvoice's
 * double-pay guard — success, failure then retry, in flight then success, and a crash between dispatch and record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import * as ln from 'lightning';
import { ApplicationFailure } from '@temporalio/common';
import { createLightningActivities, lndError, type LightningActivities } from '../../src/activities/lightning.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SimNetwork } from '../../src/lnsim/network.js';
import { startSimLnd, type SimLndServer } from '../../src/lnsim/lnd-grpc.js';
import { startLnurlServer, type LnurlServer } from '../../src/lnsim/lnurl-server.js';
import { encodeBolt11 } from '../../src/lnsim/network.js';

const net = new SimNetwork('regtest');
net.addNode('mostro');
net.addNode('seller');
net.addNode('buyer');
let sim: SimLndServer;
let db: Database;
let acts: LightningActivities;
let lnurl: LnurlServer;
const settings = { holdInvoiceExpirySecs: 900, holdInvoiceCltvDelta: 144, invoiceExpirySecs: 3600, maxRoutingFeeRatio: 0.002, paymentWaitMs: 300 };

beforeAll(async () => {
  sim = await startSimLnd(net, { node: 'mostro' });
  db = await openDatabase({ memory: true });
  const { lnd } = ln.authenticatedLndGrpc(sim.credentials);
  lnurl = await startLnurlServer(net);
  acts = createLightningActivities({
    lnd,
    db: db.prisma,
    preimageSecret: crypto.randomBytes(32),
    settings,
    lnurl: { allowPrivateHosts: true, allowHttp: true },
  });
});
afterAll(async () => {
  await lnurl?.close();
  await sim?.close();
  await db?.close();
});

const dispatches = async (purpose: string) => (await db.prisma.payment.findUniqueOrThrow({ where: { purpose } })).dispatches;

describe('node and invoices', () => {
  it('reports the network and block height', async () => {
    expect(await acts.getNodeInfo()).toMatchObject({ network: 'regtest', blockHeight: net.height, pubkey: net.node('mostro').pubkey });
  });

  it('creates a hold invoice idempotently and settles it with the derived preimage', async () => {
    const a = await acts.createHoldInvoice({ key: 'order-1', amountSats: 10_000, memo: 'Mostro order order-1' });
    const b = await acts.createHoldInvoice({ key: 'order-1', amountSats: 10_000, memo: 'Mostro order order-1' });
    expect(b).toEqual(a);
    expect(net.invoices.get(a.hash)).toMatchObject({ hold: true, cltvDelta: 144, valueSats: 10_000 });
    expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'open', amountSats: 10_000 });
    net.pay('seller', a.request);
    expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'held', receivedSats: 10_000 });
    await acts.settleHoldInvoice({ key: 'order-1' });
    await acts.settleHoldInvoice({ key: 'order-1' }); // a retried settle is harmless
    expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'settled' });
    expect(net.payments.get(a.hash)?.status).toBe('SUCCEEDED');
  });

  it('cancels idempotently, and refuses to cancel a settled invoice', async () => {
    const c = await acts.createHoldInvoice({ key: 'order-2', amountSats: 500, memo: 'm' });
    net.pay('seller', c.request);
    await acts.cancelHoldInvoice({ hash: c.hash });
    await acts.cancelHoldInvoice({ hash: c.hash });
    expect(await acts.lookupInvoice({ hash: c.hash })).toMatchObject({ state: 'canceled' });
    const settled = await acts.createHoldInvoice({ key: 'order-3', amountSats: 500, memo: 'm' });
    net.pay('seller', settled.request);
    await acts.settleHoldInvoice({ key: 'order-3' });
    await expect(acts.cancelHoldInvoice({ hash: settled.hash })).rejects.toMatchObject({ type: 'InvoiceSettled', nonRetryable: true });
  });

  it('creates and decodes a plain invoice', async () => {
    const inv = await acts.createInvoice({ amountSats: 1234, memo: 'bond payout' });
    expect(await acts.decodeInvoice({ request: inv.request })).toMatchObject({ hash: inv.hash, amountSats: 1234, description: 'bond payout' });
  });
});

describe('payInvoice: never twice', () => {
  it('pays once, and a repeated call reports success without sending again', async () => {
    const inv = net.createInvoice({ node: 'buyer', valueSats: 9000 });
    expect(await acts.payInvoice({ purpose: 'payout:a', request: inv.request, amountSats: 9000 })).toMatchObject({ status: 'succeeded', hash: inv.hash });
    expect(await acts.payInvoice({ purpose: 'payout:a', request: inv.request, amountSats: 9000 })).toMatchObject({ status: 'succeeded' });
    expect(net.payments.get(inv.hash)!.attempts).toBe(1);
    expect(await dispatches('payout:a')).toBe(1);
  });

  it('reports a failure with its reason, and a later call may send again', async () => {
    const inv = net.createInvoice({ node: 'buyer', valueSats: 100 });
    net.failNextPayment('FAILURE_REASON_NO_ROUTE');
    const failed = await acts.payInvoice({ purpose: 'payout:b', request: inv.request, amountSats: 100 });
    expect(failed).toMatchObject({ status: 'failed' });
    expect((failed as { reason: string }).reason).toMatch(/route/);
    expect(await acts.payInvoice({ purpose: 'payout:b', request: inv.request, amountSats: 100 })).toMatchObject({ status: 'succeeded' });
    expect(net.payments.get(inv.hash)!.attempts).toBe(2);
    const row = await db.prisma.payment.findUniqueOrThrow({ where: { purpose: 'payout:b' } });
    expect(row).toMatchObject({ status: 'succeeded', dispatches: 2 });
  });

  it('answers in-flight while the payment is under way, keeps tracking without resending, then succeeds', async () => {
    const inv = net.createInvoice({ node: 'buyer', valueSats: 300 });
    net.holdNextPayment();
    expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toEqual({ status: 'in-flight', hash: inv.hash });
    expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toEqual({ status: 'in-flight', hash: inv.hash });
    net.releaseHeld();
    expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toMatchObject({ status: 'succeeded' });
    expect(net.payments.get(inv.hash)!.attempts).toBe(1);
    expect(await dispatches('payout:c')).toBe(1);
  });

  it('does not pay again after a crash between dispatch and recording the result', async () => {
    const inv = net.createInvoice({ node: 'buyer', valueSats: 4000 });
    // The first attempt recorded its intent and dispatched, then the worker died before recording anything else.
    const t = BigInt(Math.floor(Date.now() / 1000));
    await db.prisma.payment.create({ data: { purpose: 'payout:d', obligation: 'payout:d', paymentHash: inv.hash, request: inv.request, amountSats: 4000n, status: 'pending', createdAt: t, updatedAt: t } });
    net.pay('mostro', inv.request);
    // Temporal retries the activity: LND already has the payment, so nothing is sent.
    expect(await acts.payInvoice({ purpose: 'payout:d', request: inv.request, amountSats: 4000 })).toMatchObject({ status: 'succeeded' });
    expect(net.payments.get(inv.hash)!.attempts).toBe(1);
  });

  it('keeps the first invoice of a purpose when a retry brings another one (a Lightning address hands out fresh ones)', async () => {
    const first = net.createInvoice({ node: 'buyer', valueSats: 700 });
    const second = net.createInvoice({ node: 'buyer', valueSats: 700 });
    net.holdNextPayment();
    expect((await acts.payInvoice({ purpose: 'payout:e', request: first.request, amountSats: 700 })).status).toBe('in-flight');
    net.releaseHeld();
    expect(await acts.payInvoice({ purpose: 'payout:e', request: second.request, amountSats: 700 })).toMatchObject({ status: 'succeeded', hash: first.hash });
    expect(net.payments.has(second.hash)).toBe(false);
  });
});

describe('payInvoice: one live payment per obligation', () => {
  const paid = (hash: string) => net.payments.get(hash)?.status === 'SUCCEEDED';

  it('sends nothing for a second invoice while the first may still succeed; the first one\'s success is the debt\'s', async () => {
    const a = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    const b = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    net.holdNextPayment();
    expect(await acts.payInvoice({ purpose: 'payout:o1:0', request: a.request, amountSats: 5_000 })).toEqual({ status: 'in-flight', hash: a.hash });
    expect(await acts.payInvoice({ purpose: 'payout:o1:1', request: b.request, amountSats: 5_000 })).toEqual({ status: 'in-flight', hash: a.hash });
    net.releaseHeld();
    expect(await acts.payInvoice({ purpose: 'payout:o1:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: a.hash });
    expect(paid(a.hash)).toBe(true);
    expect(net.payments.has(b.hash)).toBe(false);
    expect(await db.prisma.payment.findUnique({ where: { purpose: 'payout:o1:1' } })).toBeNull();
  });

  it('pays a new invoice once LND has said the earlier one failed', async () => {
    const a = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    const b = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    net.failNextPayment('FAILURE_REASON_NO_ROUTE');
    expect(await acts.payInvoice({ purpose: 'payout:o2:0', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'failed' });
    expect(await acts.payInvoice({ purpose: 'payout:o2:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: b.hash });
    expect(paid(b.hash) && !paid(a.hash)).toBe(true);
  });

  it('pays the same invoice again under a new purpose after it failed (a buyer resubmitting it)', async () => {
    const a = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    net.failNextPayment('FAILURE_REASON_NO_ROUTE');
    expect(await acts.payInvoice({ purpose: 'payout:o3:0', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'failed' });
    expect(await acts.payInvoice({ purpose: 'payout:o3:1', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: a.hash });
    expect(net.payments.get(a.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 2 });
  });

  it('fails over a recorded payment that was never dispatched (its sender died before sending)', async () => {
    const a = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    const b = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    const t = BigInt(Math.floor(Date.now() / 1000));
    await db.prisma.payment.create({ data: { purpose: 'payout:o4:0', obligation: 'payout:o4', paymentHash: a.hash, request: a.request, amountSats: 5_000n, status: 'pending', createdAt: t, updatedAt: t } });
    expect(await acts.payInvoice({ purpose: 'payout:o4:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: b.hash });
    expect(await db.prisma.payment.findUniqueOrThrow({ where: { purpose: 'payout:o4:0' } })).toMatchObject({ status: 'failed', failureReason: 'never reached LND' });
    expect(net.payments.has(a.hash)).toBe(false);
  });

  it('refuses, before recording anything, an invoice that is being paid for another debt', async () => {
    const a = net.createInvoice({ node: 'buyer', valueSats: 5_000 });
    net.holdNextPayment();
    expect((await acts.payInvoice({ purpose: 'payout:o5:0', request: a.request, amountSats: 5_000 })).status).toBe('in-flight');
    await expect(acts.payInvoice({ purpose: 'payout:o6:0', request: a.request, amountSats: 5_000 })).rejects.toMatchObject({ type: 'InvoiceInUse', nonRetryable: true });
    expect(await db.prisma.payment.findUnique({ where: { purpose: 'payout:o6:0' } })).toBeNull();
    net.releaseHeld();
    expect(await acts.payInvoice({ purpose: 'payout:o5:0', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded' });
    expect(net.payments.get(a.hash)!.attempts).toBe(1);
  });

  it('is enforced by the database: a second live payment of one obligation cannot be recorded', async () => {
    const t = 1n;
    const row = (purpose: string, hash: string, status: string) => ({ purpose, obligation: 'payout:o7', paymentHash: hash, request: 'lnbc…', amountSats: 1n, status, createdAt: t, updatedAt: t });
    await db.prisma.payment.create({ data: row('payout:o7:0', 'aa'.repeat(32), 'in-flight') });
    await expect(db.prisma.payment.create({ data: row('payout:o7:1', 'bb'.repeat(32), 'pending') })).rejects.toThrow();
    await db.prisma.payment.update({ where: { purpose: 'payout:o7:0' }, data: { status: 'failed' } });
    await db.prisma.payment.create({ data: row('payout:o7:1', 'bb'.repeat(32), 'pending') });
    // …nor can a failed one be revived while another is live.
    await expect(db.prisma.payment.update({ where: { purpose: 'payout:o7:0' }, data: { status: 'in-flight' } })).rejects.toThrow();
  });
});

describe('buyer invoices and Lightning addresses', () => {
  it('validates against the node network and the order amount', async () => {
    const ok = net.createInvoice({ node: 'buyer', valueSats: 9_900, expirySecs: 7_200 });
    expect(await acts.validateInvoice({ request: ok.request, amountSats: 10_000, feeSats: 100 })).toMatchObject({ valid: true, kind: 'bolt11' });
    expect(await acts.validateInvoice({ request: ok.request, amountSats: 10_000, feeSats: 0 })).toEqual({ valid: false, rule: 'wrong_amount', reason: 'invalid_invoice' });
    const testnet = encodeBolt11({ secretKey: crypto.randomBytes(32), network: 'testnet', hash: crypto.randomBytes(32).toString('hex'), sats: 0, createdAt: Math.floor(Date.now() / 1000), expirySecs: 7_200 });
    expect(await acts.validateInvoice({ request: testnet })).toEqual({ valid: false, rule: 'wrong_network', reason: 'invalid_invoice' });
    expect(await acts.validateInvoice({ request: lnurl.addressOf('buyer') })).toEqual({ valid: true, kind: 'lnurl' });
    expect(await acts.validateInvoice({ request: lnurl.addressOf('stranger') })).toEqual({ valid: false, rule: 'address_unreachable', reason: 'invalid_invoice' });
  });

  it('pays a Lightning address once: resolved for the exact amount, never re-resolved on retry', async () => {
    const address = lnurl.addressOf('buyer');
    net.holdNextPayment();
    const first = await acts.payInvoice({ purpose: 'payout:ln-address', request: address, amountSats: 2_500 });
    expect(first.status).toBe('in-flight');
    const callbacks = lnurl.requests.filter((r) => r.startsWith('/lnurlp/callback/')).length;
    net.releaseHeld();
    const done = await acts.payInvoice({ purpose: 'payout:ln-address', request: address, amountSats: 2_500 });
    expect(done).toMatchObject({ status: 'succeeded', hash: first.hash });
    expect(lnurl.requests.filter((r) => r.startsWith('/lnurlp/callback/')).length).toBe(callbacks);
    expect(net.payments.get(first.hash)).toMatchObject({ attempts: 1, valueSats: 2_500 });
    expect(net.invoices.get(first.hash)).toMatchObject({ node: 'buyer', state: 'SETTLED' });
  });

  it('refuses an address that cannot be resolved, without recording a payment', async () => {
    await expect(acts.payInvoice({ purpose: 'payout:nobody', request: lnurl.addressOf('stranger'), amountSats: 2_500 })).rejects.toMatchObject({
      type: 'PayoutUnresolvable',
      nonRetryable: true,
    });
    expect(await db.prisma.payment.findUnique({ where: { purpose: 'payout:nobody' } })).toBeNull();
  });
});

describe('errors', () => {
  it('classifies LND errors as retryable or terminal, without details', () => {
    const busy = lndError([503, 'FailedToConnectToDaemon', { secret: 'never shown' }], 'op');
    expect(busy).toBeInstanceOf(ApplicationFailure);
    expect(busy.nonRetryable).toBe(false);
    expect(busy.message).not.toContain('never shown');
    expect(lndError([400, 'ExpectedPaymentRequest'], 'op').nonRetryable).toBe(true);
  });

  it('fails retryably when LND is unreachable', async () => {
    const { lnd } = ln.authenticatedLndGrpc({ ...sim.credentials, socket: 'localhost:9' });
    const dead = createLightningActivities({ lnd, db: db.prisma, preimageSecret: crypto.randomBytes(32), settings });
    await expect(dead.getNodeInfo()).rejects.toMatchObject({ nonRetryable: false });
  });
});
