/**
 * The Lightning activities through the real `lightning` client, on the simulated network and on a real regtest
 * network of LND nodes (when built: `scripts/tools.sh install`), with the payment records in a real database
 * (PGlite): hold invoices with derived preimages, idempotent settle/cancel, and payInvoice's double-pay guard —
 * success, failure then retry, in flight then success, a crash between dispatch and record, one live payment per
 * obligation. A payment "in flight" is a payment to a wallet's hold invoice that the wallet has not settled yet, as a
 * buyer could hold one on purpose; a failure is a payment to a wallet whose node is offline.
 */
import crypto from 'node:crypto';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLightningActivities, type LightningActivities } from '../../src/activities/lightning.js';
import { routingFeeLimit } from '../../src/activities/lightning-payments.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { LABS, type LightningLab } from '../helpers/lightning-lab.js';

describe('the routing fee a payout may cost (the reference fee_limit_sat)', () => {
  it('is max_routing_fee of the amount, but at least 10 sats for payments up to 1,000 sats', () => {
    expect(routingFeeLimit(100_000, 0.002)).toBe(200);
    expect(routingFeeLimit(1_001, 0.002)).toBe(2);
    // A ratio of a small amount would be 0–2 sats: less than one hop's base fee (1 sat + ppm) on real nodes.
    expect(routingFeeLimit(1_000, 0.002)).toBe(10);
    expect(routingFeeLimit(500, 0.002)).toBe(10);
  });
});

describe.each(LABS)('Lightning activities on $name', ({ name, start, skip }) => {
  let lab: LightningLab;
  let db: Database;
  let acts: LightningActivities;

  beforeAll(async () => {
    if (skip) return;
    lab = await start();
    db = await openDatabase({ memory: true });
    acts = createLightningActivities({ lnd: lab.lnd(), db: db.prisma, preimageSecret: crypto.randomBytes(32), settings: lab.settings });
  }, 300_000);
  afterAll(async () => {
    await lab?.close();
    await db?.close();
  }, 120_000);

  const dispatches = async (purpose: string) => (await db.prisma.payment.findUniqueOrThrow({ where: { purpose } })).dispatches;
  const held = async (hash: string) => {
    await expect.poll(async () => (await acts.lookupInvoice({ hash })).state, { timeout: 30_000, interval: 100 }).toBe('held');
  };
  const status = async (hash: string) => (await lab.payment(hash))?.status ?? null;

  describe.skipIf(skip)('node and invoices', () => {
    it('reports the network and block height', async () => {
      expect(await acts.getNodeInfo()).toMatchObject({ network: 'regtest', blockHeight: await lab.blockHeight(), pubkey: lab.mostroPubkey() });
    });

    it('creates a hold invoice idempotently and settles it with the derived preimage', async () => {
      const a = await acts.createHoldInvoice({ key: `${name}-order-1`, amountSats: 10_000, memo: 'Mostro order order-1' });
      const b = await acts.createHoldInvoice({ key: `${name}-order-1`, amountSats: 10_000, memo: 'Mostro order order-1' });
      expect(b).toEqual(a);
      expect(await acts.decodeInvoice({ request: a.request })).toMatchObject({ hash: a.hash, amountSats: 10_000, cltvDelta: 144, destination: lab.mostroPubkey() });
      expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'open', amountSats: 10_000, receivedSats: 0 });
      await lab.pay('seller', a.request);
      await held(a.hash);
      expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'held', receivedSats: 10_000 });
      await acts.settleHoldInvoice({ key: `${name}-order-1` });
      await acts.settleHoldInvoice({ key: `${name}-order-1` }); // a retried settle is harmless
      expect(await acts.lookupInvoice({ hash: a.hash })).toMatchObject({ state: 'settled' });
      await expect.poll(() => lab.paidBy('seller', a.hash), { timeout: 30_000 }).toBe('SUCCEEDED');
    });

    it('cancels idempotently (the payer gets its money back), and refuses to cancel a settled invoice', async () => {
      const c = await acts.createHoldInvoice({ key: `${name}-order-2`, amountSats: 500, memo: 'm' });
      await lab.pay('seller', c.request);
      await held(c.hash);
      await acts.cancelHoldInvoice({ hash: c.hash });
      await acts.cancelHoldInvoice({ hash: c.hash });
      expect(await acts.lookupInvoice({ hash: c.hash })).toMatchObject({ state: 'canceled' });
      await expect.poll(() => lab.paidBy('seller', c.hash), { timeout: 30_000 }).toBe('FAILED');
      const settled = await acts.createHoldInvoice({ key: `${name}-order-3`, amountSats: 500, memo: 'm' });
      await lab.pay('seller', settled.request);
      await held(settled.hash);
      await acts.settleHoldInvoice({ key: `${name}-order-3` });
      await expect(acts.cancelHoldInvoice({ hash: settled.hash })).rejects.toMatchObject({ type: 'InvoiceSettled', nonRetryable: true });
    });

    it('refuses to settle a hold invoice that was canceled', async () => {
      const c = await acts.createHoldInvoice({ key: `${name}-order-4`, amountSats: 600, memo: 'm' });
      await lab.pay('seller', c.request);
      await held(c.hash);
      await acts.cancelHoldInvoice({ hash: c.hash });
      await expect(acts.settleHoldInvoice({ key: `${name}-order-4` })).rejects.toMatchObject({ type: 'InvoiceCanceled', nonRetryable: true });
    });

    it("gives a held HTLC back to the payer 12 blocks before it expires (the payer's 3 blocks of padding included)", async () => {
      const h = await acts.createHoldInvoice({ key: `${name}-order-5`, amountSats: 700, memo: 'm' });
      const at = await lab.blockHeight();
      await lab.pay('seller', h.request);
      await held(h.hash);
      const expiry = (await ln.getInvoice({ lnd: lab.lnd(), id: h.hash })).payments[0]!.timeout;
      expect(expiry).toBe(at + 144 + 3);
      await lab.mine(expiry - 13 - at);
      await new Promise((r) => setTimeout(r, 500));
      expect(await acts.lookupInvoice({ hash: h.hash })).toMatchObject({ state: 'held' });
      await lab.mine(1);
      await expect.poll(async () => (await acts.lookupInvoice({ hash: h.hash })).state, { timeout: 30_000 }).toBe('canceled');
      await expect.poll(() => lab.paidBy('seller', h.hash), { timeout: 30_000 }).toBe('FAILED');
    }, 120_000);

    it('creates and decodes a plain invoice', async () => {
      const inv = await acts.createInvoice({ amountSats: 1234, memo: 'bond payout' });
      expect(await acts.decodeInvoice({ request: inv.request })).toMatchObject({ hash: inv.hash, amountSats: 1234, description: 'bond payout' });
    });
  });

  describe.skipIf(skip)('payInvoice: never twice', () => {
    it('pays once, and a repeated call reports success without sending again', async () => {
      const inv = await lab.invoice('buyer', 9000);
      expect(await acts.payInvoice({ purpose: 'payout:a', request: inv.request, amountSats: 9000 })).toMatchObject({ status: 'succeeded', hash: inv.hash });
      expect(await acts.payInvoice({ purpose: 'payout:a', request: inv.request, amountSats: 9000 })).toMatchObject({ status: 'succeeded' });
      expect(await dispatches('payout:a')).toBe(1);
      expect(await status(inv.hash)).toBe('SUCCEEDED');
      expect(await lab.invoiceState('buyer', inv.hash)).toBe('SETTLED');
    });

    it('reports a failure with its reason, and a later call may send again', async () => {
      const inv = await lab.invoice('buyer', 100);
      const failed = await lab.withPaymentsFailing('buyer', () => acts.payInvoice({ purpose: 'payout:b', request: inv.request, amountSats: 100 }));
      expect(failed).toMatchObject({ status: 'failed' });
      expect((failed as { reason: string }).reason).toMatch(/route/);
      expect(await acts.payInvoice({ purpose: 'payout:b', request: inv.request, amountSats: 100 })).toMatchObject({ status: 'succeeded' });
      expect(await db.prisma.payment.findUniqueOrThrow({ where: { purpose: 'payout:b' } })).toMatchObject({ status: 'succeeded', dispatches: 2 });
    });

    it('answers in-flight while the payee holds the payment, keeps tracking without resending, then succeeds', async () => {
      const inv = await lab.heldInvoice('buyer', 300);
      expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toEqual({ status: 'in-flight', hash: inv.hash });
      expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toEqual({ status: 'in-flight', hash: inv.hash });
      await inv.settle();
      await expect.poll(() => status(inv.hash), { timeout: 30_000 }).toBe('SUCCEEDED');
      expect(await acts.payInvoice({ purpose: 'payout:c', request: inv.request, amountSats: 300 })).toMatchObject({ status: 'succeeded' });
      expect(await dispatches('payout:c')).toBe(1);
    });

    it('trackPayment returns when the payee settles, and when the payee gives the payment back', async () => {
      const ok = await lab.heldInvoice('buyer', 310);
      expect((await acts.payInvoice({ purpose: 'payout:t1', request: ok.request, amountSats: 310 })).status).toBe('in-flight');
      const tracking = acts.trackPayment({ hash: ok.hash });
      await new Promise((r) => setTimeout(r, 500));
      await ok.settle();
      expect(await tracking).toEqual({ status: 'succeeded' });
      const back = await lab.heldInvoice('buyer', 320);
      expect((await acts.payInvoice({ purpose: 'payout:t2', request: back.request, amountSats: 320 })).status).toBe('in-flight');
      const tracking2 = acts.trackPayment({ hash: back.hash });
      await back.cancel();
      expect(await tracking2).toEqual({ status: 'failed' });
      const failed = await acts.payInvoice({ purpose: 'payout:t2', request: back.request, amountSats: 320 });
      expect(failed).toMatchObject({ status: 'failed' });
      // LND's failure for a payee that gave the HTLC back: FAILURE_REASON_INCORRECT_PAYMENT_DETAILS.
      expect((failed as { reason: string }).reason).toBe('invalid_payment');
    });

    it('does not pay again after a crash between dispatch and recording the result', async () => {
      const inv = await lab.invoice('buyer', 4000);
      // The first attempt recorded its intent and dispatched, then the worker died before recording anything else.
      const t = BigInt(Math.floor(Date.now() / 1000));
      await db.prisma.payment.create({ data: { purpose: 'payout:d', obligation: 'payout:d', paymentHash: inv.hash, request: inv.request, amountSats: 4000n, status: 'pending', createdAt: t, updatedAt: t } });
      await ln.pay({ lnd: lab.lnd(), request: inv.request });
      // Temporal retries the activity: LND already has the payment, so nothing is sent.
      expect(await acts.payInvoice({ purpose: 'payout:d', request: inv.request, amountSats: 4000 })).toMatchObject({ status: 'succeeded' });
      expect(await dispatches('payout:d')).toBe(0);
    });

    it('keeps the first invoice of a purpose when a retry brings another one (a Lightning address hands out fresh ones)', async () => {
      const first = await lab.heldInvoice('buyer', 700);
      const second = await lab.invoice('buyer', 700);
      expect((await acts.payInvoice({ purpose: 'payout:e', request: first.request, amountSats: 700 })).status).toBe('in-flight');
      await first.settle();
      await expect.poll(() => status(first.hash), { timeout: 30_000 }).toBe('SUCCEEDED');
      expect(await acts.payInvoice({ purpose: 'payout:e', request: second.request, amountSats: 700 })).toMatchObject({ status: 'succeeded', hash: first.hash });
      expect(await status(second.hash)).toBeNull();
    });
  });

  describe.skipIf(skip)('payInvoice: one live payment per obligation', () => {
    it("sends nothing for a second invoice while the first may still succeed; the first one's success is the debt's", async () => {
      const a = await lab.heldInvoice('buyer', 5_000);
      const b = await lab.invoice('buyer', 5_000);
      expect(await acts.payInvoice({ purpose: 'payout:o1:0', request: a.request, amountSats: 5_000 })).toEqual({ status: 'in-flight', hash: a.hash });
      expect(await acts.payInvoice({ purpose: 'payout:o1:1', request: b.request, amountSats: 5_000 })).toEqual({ status: 'in-flight', hash: a.hash });
      await a.settle();
      await expect.poll(() => status(a.hash), { timeout: 30_000 }).toBe('SUCCEEDED');
      expect(await acts.payInvoice({ purpose: 'payout:o1:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: a.hash });
      expect(await status(b.hash)).toBeNull();
      expect(await db.prisma.payment.findUnique({ where: { purpose: 'payout:o1:1' } })).toBeNull();
    });

    it('pays a new invoice once LND has said the earlier one failed', async () => {
      const a = await lab.heldInvoice('buyer', 5_000);
      const b = await lab.invoice('buyer', 5_000);
      expect((await acts.payInvoice({ purpose: 'payout:o2:0', request: a.request, amountSats: 5_000 })).status).toBe('in-flight');
      await a.cancel();
      await expect.poll(() => status(a.hash), { timeout: 30_000 }).toBe('FAILED');
      expect(await acts.payInvoice({ purpose: 'payout:o2:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: b.hash });
      expect(await db.prisma.payment.findUniqueOrThrow({ where: { purpose: 'payout:o2:0' } })).toMatchObject({ status: 'failed' });
    });

    it('pays the same invoice again under a new purpose after it failed (a buyer resubmitting it)', async () => {
      const a = await lab.invoice('buyer', 5_000);
      const failed = await lab.withPaymentsFailing('buyer', () => acts.payInvoice({ purpose: 'payout:o3:0', request: a.request, amountSats: 5_000 }));
      expect(failed).toMatchObject({ status: 'failed' });
      expect(await acts.payInvoice({ purpose: 'payout:o3:1', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: a.hash });
      expect(await lab.invoiceState('buyer', a.hash)).toBe('SETTLED');
    });

    it('fails over a recorded payment that was never dispatched (its sender died before sending)', async () => {
      const a = await lab.invoice('buyer', 5_000);
      const b = await lab.invoice('buyer', 5_000);
      const t = BigInt(Math.floor(Date.now() / 1000));
      await db.prisma.payment.create({ data: { purpose: 'payout:o4:0', obligation: 'payout:o4', paymentHash: a.hash, request: a.request, amountSats: 5_000n, status: 'pending', createdAt: t, updatedAt: t } });
      expect(await acts.payInvoice({ purpose: 'payout:o4:1', request: b.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded', hash: b.hash });
      expect(await db.prisma.payment.findUniqueOrThrow({ where: { purpose: 'payout:o4:0' } })).toMatchObject({ status: 'failed', failureReason: 'never reached LND' });
      expect(await status(a.hash)).toBeNull();
    });

    it('refuses, before recording anything, an invoice that is being paid for another debt', async () => {
      const a = await lab.heldInvoice('buyer', 5_000);
      expect((await acts.payInvoice({ purpose: 'payout:o5:0', request: a.request, amountSats: 5_000 })).status).toBe('in-flight');
      await expect(acts.payInvoice({ purpose: 'payout:o6:0', request: a.request, amountSats: 5_000 })).rejects.toMatchObject({ type: 'InvoiceInUse', nonRetryable: true });
      expect(await db.prisma.payment.findUnique({ where: { purpose: 'payout:o6:0' } })).toBeNull();
      await a.settle();
      await expect.poll(() => status(a.hash), { timeout: 30_000 }).toBe('SUCCEEDED');
      expect(await acts.payInvoice({ purpose: 'payout:o5:0', request: a.request, amountSats: 5_000 })).toMatchObject({ status: 'succeeded' });
      expect(await dispatches('payout:o5:0')).toBe(1);
    });
  });

  describe.skipIf(skip)('buyer invoices made by the node that will be paid', () => {
    it('validates against the node network and the order amount', async () => {
      const ok = await lab.invoice('buyer', 9_900, { expirySecs: 7_200 });
      expect(await acts.validateInvoice({ request: ok.request, amountSats: 10_000, feeSats: 100 })).toMatchObject({ valid: true, kind: 'bolt11' });
      expect(await acts.validateInvoice({ request: ok.request, amountSats: 10_000, feeSats: 0 })).toEqual({ valid: false, rule: 'wrong_amount', reason: 'invalid_invoice' });
    });
  });
});
