/**
 * Lightning activities against the simulated LND, for what needs the simulator's controls: Lightning addresses
 * (resolved through the simulator's LNURL server), the database's own guard against a second live payment, error
 * classification. The hold invoice and payment behaviour is proven on the simulator and on real LND alike in
 * test/lightning/activities.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import * as ln from 'lightning';
import { ApplicationFailure } from '@temporalio/common';
import { createLightningActivities, type LightningActivities } from '../../src/activities/lightning.js';
import { lndError } from '../../src/activities/lightning-deps.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { SimNetwork, startSimLnd, type SimLndServer, startLnurlServer, type LnurlServer, encodeBolt11 } from '@mostro/lnsim';

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


describe('payInvoice: one live payment per obligation', () => {
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
  it('validates against the node network (a testnet invoice on regtest) and the order amount', async () => {
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
