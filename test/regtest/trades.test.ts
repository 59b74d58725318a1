/**
 * Trades end to end on a real Lightning network (btcd and three LND nodes on regtest, support/regtest.ts) and,
 * the same way, on the simulated one: traders send real Nostr messages to the daemon, the seller's wallet pays the
 * escrow hold invoice over its channel to the daemon's node, the buyer's wallet is paid over the daemon's channel to
 * it — balances read from the wallets' nodes. A cooperative cancel gives the HTLC back; a payout to a wallet that is
 * offline fails, is retried, and is paid to the new invoice the buyer sends; a taker bond is locked and released;
 * the escrow deadline acts by block height before LND would cancel the escrow itself; the daemon's node restarts
 * with the escrow held and the trade goes on.
 */
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBondSettings } from '../helpers/bonds.js';
import { TestDaemon, holdInvoiceOf, openOrder, type Trader } from '../helpers/daemon.js';
import { LABS, type LightningLab } from '../helpers/lightning-lab.js';

const AMOUNT = 100_000;
/** The Mostro fee, half a side (TEST_ORDER_SETTINGS: 0.6 %). */
const FEE = 300;
const MSG_MS = 60_000;

describe.each(LABS)('trades on $name', ({ name, start, skip }) => {
  let lab: LightningLab;
  let d: TestDaemon;

  beforeAll(async () => {
    if (skip) return;
    lab = await start();
    // Two payout attempts 3 s apart, then the buyer is asked for a new invoice.
    d = await TestDaemon.start({ lab, settings: { paymentAttempts: 2, paymentRetriesInterval: 3 } });
  }, 300_000);
  afterAll(async () => {
    await d?.close();
    await lab?.close();
  }, 120_000);

  const settled = async <T>(what: () => Promise<T>, expected: T) => expect.poll(what, { timeout: 30_000, interval: 200 }).toEqual(expected);

  /** A sell order taken with the buyer's invoice, the escrow paid by the seller's wallet and held by the daemon's node. */
  async function lockedTrade(seller: Trader, buyer: Trader, daemon = d) {
    const id = await openOrder(seller, 1, { kind: 'sell', amount: AMOUNT, fiatAmount: 100, fiatCode: 'USD' });
    const payout = await lab.invoice('buyer', AMOUNT - FEE, { expirySecs: 7200 });
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, payout.request, null] } });
    const escrow = holdInvoiceOf(await seller.next(1, 'pay-invoice', MSG_MS));
    const decoded = await ln.decodePaymentRequest({ lnd: lab.lnd(), request: escrow });
    const escrowHash = decoded.id;
    // The escrow is the amount plus the seller's half of the fee (protocol.md §20.1).
    expect(decoded.tokens).toBe(AMOUNT + FEE);
    await lab.pay('seller', escrow);
    await seller.next(1, 'buyer-took-order', MSG_MS);
    await buyer.next(1, 'hold-invoice-payment-accepted', MSG_MS);
    expect(await daemon.order(id)).toMatchObject({ status: 'active' });
    return { id, payout, escrow, escrowHash };
  }

  async function release(id: string, seller: Trader, buyer: Trader) {
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok', MSG_MS);
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await seller.next(1, 'hold-invoice-payment-settled', MSG_MS);
    await buyer.next(1, 'released', MSG_MS);
  }

  /** Both parties ask to cancel: the escrow is given back. */
  async function cooperativeCancel(id: string, seller: Trader, buyer: Trader) {
    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    await seller.next(1, 'cooperative-cancel-initiated-by-you', MSG_MS);
    await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    await buyer.next(1, 'cooperative-cancel-accepted', MSG_MS);
    await d.waitForStatus(id, 'cooperatively-canceled', MSG_MS);
  }

  it.skipIf(skip)('a sell trade: escrow held, released, settled; the buyer is paid exactly once', async () => {
    const seller = d.trader('seller-1');
    const buyer = d.trader('buyer-1');
    const before = { seller: await lab.balance('seller'), buyer: await lab.balance('buyer') };
    const { id, payout, escrowHash } = await lockedTrade(seller, buyer);
    await release(id, seller, buyer);
    await buyer.next(1, 'purchase-completed', MSG_MS);
    await d.waitForStatus(id, 'success', MSG_MS);

    expect(await lab.payment(payout.hash)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lab.invoiceState('buyer', payout.hash)).toBe('SETTLED');
    expect(await lab.paidBy('seller', escrowHash)).toBe('SUCCEEDED');
    // The seller paid the escrow (amount plus its half of the fee) over its direct channel; the buyer got its invoice.
    await settled(async () => before.seller - (await lab.balance('seller')), AMOUNT + FEE);
    await settled(async () => (await lab.balance('buyer')) - before.buyer, AMOUNT - FEE);
    expect(await d.db.prisma.payment.findMany({ where: { purpose: { startsWith: `payout:${id}:` } } })).toMatchObject([{ paymentHash: payout.hash, status: 'succeeded', dispatches: 1 }]);
  }, 180_000);

  it.skipIf(skip)('a cooperative cancel: the escrow HTLC goes back to the seller', async () => {
    const seller = d.trader('seller-2');
    const buyer = d.trader('buyer-2');
    const before = await lab.balance('seller');
    const { id, payout, escrowHash } = await lockedTrade(seller, buyer);
    await cooperativeCancel(id, seller, buyer);
    await settled(() => lab.paidBy('seller', escrowHash), 'FAILED');
    await settled(() => lab.balance('seller'), before);
    expect(await lab.payment(payout.hash)).toBeNull();
  }, 180_000);

  it.skipIf(skip)("a payout to a wallet that is offline fails, is retried, and is paid to the buyer's new invoice", async () => {
    const seller = d.trader('seller-3');
    const buyer = d.trader('buyer-3');
    const { id, payout } = await lockedTrade(seller, buyer);
    const fresh = await lab.withPaymentsFailing('buyer', async () => {
      await release(id, seller, buyer);
      await buyer.next(1, 'payment-failed', MSG_MS);
      // The second attempt fails too: the buyer is asked for a new invoice.
      await buyer.next(1, 'add-invoice', MSG_MS);
      return undefined;
    });
    expect(fresh).toBeUndefined();
    expect(await lab.payment(payout.hash)).toMatchObject({ status: 'FAILED' });
    const second = await lab.invoice('buyer', AMOUNT - FEE, { expirySecs: 7200 });
    await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, second.request, null] } });
    await buyer.next(1, 'invoice-updated', MSG_MS);
    await buyer.next(1, 'purchase-completed', MSG_MS);
    await d.waitForStatus(id, 'success', MSG_MS);
    expect(await lab.payment(second.hash)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await lab.invoiceState('buyer', second.hash)).toBe('SETTLED');
    expect(await lab.invoiceState('buyer', payout.hash)).toBe('OPEN');
  }, 240_000);

  it.skipIf(skip)('the escrow deadline acts by block height, before LND would give the HTLC back', async () => {
    const seller = d.trader('seller-4');
    const buyer = d.trader('buyer-4');
    const { id, escrowHash } = await lockedTrade(seller, buyer);
    const expiry = (await ln.getInvoice({ lnd: lab.lnd(), id: escrowHash })).payments[0]!.timeout;
    // LND cancels a held HTLC 12 blocks before its expiry; the daemon's margin is 24 blocks.
    await lab.mine(expiry - 24 - (await lab.blockHeight()));
    // `canceled` from the daemon's deadline, not `hold-invoice-payment-canceled` (LND canceling first).
    expect(await seller.next(1, undefined, MSG_MS)).toMatchObject({ action: 'canceled', id });
    expect(await buyer.next(1, 'canceled', MSG_MS)).toMatchObject({ id });
    await d.waitForStatus(id, 'canceled', MSG_MS);
    await settled(() => lab.paidBy('seller', escrowHash), 'FAILED');
  }, 240_000);

  it.skipIf(skip)("the daemon's node restarts with the escrow held: the trade goes on and settles", async () => {
    const seller = d.trader('seller-5');
    const buyer = d.trader('buyer-5');
    const { id, payout, escrowHash } = await lockedTrade(seller, buyer);
    await lab.restartMostro();
    expect((await ln.getInvoice({ lnd: lab.lnd(), id: escrowHash })).is_held).toBe(true);
    await release(id, seller, buyer);
    await buyer.next(1, 'purchase-completed', MSG_MS);
    expect(await lab.payment(payout.hash)).toMatchObject({ status: 'SUCCEEDED' });
    await settled(() => lab.paidBy('seller', escrowHash), 'SUCCEEDED');
  }, 240_000);

  it.skipIf(skip)("the daemon's node restarts with the escrow held: a cooperative cancel then gives the HTLC back", async () => {
    const seller = d.trader('seller-7');
    const buyer = d.trader('buyer-7');
    const before = await lab.balance('seller');
    const { id, escrowHash } = await lockedTrade(seller, buyer);
    await lab.restartMostro();
    await cooperativeCancel(id, seller, buyer);
    await settled(() => lab.paidBy('seller', escrowHash), 'FAILED');
    await settled(() => lab.balance('seller'), before);
  }, 240_000);

  it.skipIf(skip)('a taker bond is locked over the buyer\'s channel and released when the trade ends well', async () => {
    const bonded = await TestDaemon.start({ lab, settings: { bond: testBondSettings() } });
    try {
      const seller = bonded.trader('seller-6');
      const buyer = bonded.trader('buyer-6');
      const before = await lab.balance('buyer');
      const id = await openOrder(seller, 1, { kind: 'sell', amount: AMOUNT, fiatAmount: 100, fiatCode: 'USD' });
      const payout = await lab.invoice('buyer', AMOUNT - FEE, { expirySecs: 7200 });
      await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, payout.request, null] } });
      const bond = holdInvoiceOf(await buyer.next(1, 'pay-bond-invoice', MSG_MS));
      const bondHash = (await ln.decodePaymentRequest({ lnd: lab.lnd(), request: bond })).id;
      await lab.pay('buyer', bond);
      const escrow = holdInvoiceOf(await seller.next(1, 'pay-invoice', MSG_MS));
      await lab.pay('seller', escrow);
      await seller.next(1, 'buyer-took-order', MSG_MS);
      expect(await lab.paidBy('buyer', bondHash)).toBe('IN_FLIGHT');
      await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
      await seller.next(1, 'fiat-sent-ok', MSG_MS);
      await seller.send(1, { action: 'release', id, tradeIndex: null });
      await buyer.next(1, 'purchase-completed', MSG_MS);
      // The bond's HTLC went back: the buyer is up by its payout only.
      await settled(() => lab.paidBy('buyer', bondHash), 'FAILED');
      await settled(async () => (await lab.balance('buyer')) - before, AMOUNT - FEE);
    } finally {
      await bonded.close();
    }
  }, 240_000);

  it.skipIf(skip || name !== 'regtest')('(regtest) each node still has its channels and funds after all that', async () => {
    expect(await lab.balance('seller')).toBeGreaterThan(1_000_000);
    expect(await lab.balance('buyer')).toBeGreaterThan(1_000_000);
  });
});
