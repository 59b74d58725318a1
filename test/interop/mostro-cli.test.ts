/**
 * The real mostro-cli drives the daemon (issue 17): two mostro-cli identities (separate HOMEs) against `npm start`,
 * on its relay, paying and being paid by the simulated network's wallets. Sell and buy trades end to end, a cancel,
 * a dispute settled by the admin through mostro-cli's admin commands, `restore` and the orders list — asserted on what
 * mostro-cli prints and on the wallets (the buyer paid exactly once).
 *
 * mostro-cli 0.16.3 (the newest) speaks only protocol v2 (`nip44`; it refuses `gift-wrap`), so this runs on that
 * transport; the gift-wrap transport is covered by this project's own traders. Known client quirk (docs/interop.md):
 * `takesell -i <invoice>` does not save the order locally, so that buyer's later `fiatsent` fails in the client before
 * anything is sent; takers here give the invoice with `addinvoice` when asked, as the client expects.
 *
 * Skipped (with the reason) when mostro-cli is not built (scripts/tools.sh install mostro-cli); under CI=true that is a
 * failure instead.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { generateSecretKey, getPublicKey, nip19 } from 'nostr-tools';
import { hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killDaemon, lnsim, startDaemon, whereIs } from '../helpers/npm-start.js';
import type { Spawned } from '../../support/process.js';
import { mostroCliAvailable, RealMostroCli } from '../helpers/real-mostro-cli.js';

const avail = mostroCliAvailable();
if (!avail.ok && process.env.CI === 'true') throw new Error(`CI: the interop suite needs mostro-cli. ${avail.reason}`);

const AMOUNT = 20_000;
interface Payment {
  status: string;
  attempts: number;
  value_sats: number;
  from: string;
}

/** Polls `f` until it returns true. */
async function until(what: string, f: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`not ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const orderIdIn = (out: string): string => {
  const m = /Order ([0-9a-f-]{36}) created/.exec(out);
  if (!m) throw new Error(`no order id in:\n${out}`);
  return m[1]!;
};

describe.skipIf(!avail.ok)(`mostro-cli drives npm start${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  let daemon: Spawned;
  let at: { pubkey: string; relay: string; lnsim: string };
  let adminNsec: string;
  const clis: RealMostroCli[] = [];
  const cli = (name: string, nsec?: string) => {
    const c = new RealMostroCli(name, at, nsec);
    clis.push(c);
    return c;
  };
  /** What every client ran and printed, for a failure's report. */
  const transcripts = () => clis.map((c) => c.transcript()).join('\n\n');
  const withTranscripts = async (f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      throw new Error(`${(err as Error).message}\n\n${transcripts()}\n\n--- daemon ---\n${daemon.output()}`);
    }
  };
  const payment = (hash: string) => lnsim<Payment>(at.lnsim, `/payments/${hash}`);
  const invoice = (sats: number) => lnsim<{ request: string; hash: string }>(at.lnsim, '/invoice', { sats, node: 'buyer', expiry_secs: 7200 });

  beforeAll(async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-interop-'));
    daemon = startDaemon(dataDir);
    at = await whereIs(daemon);
    // The admin is mostro-cli with the daemon's own key (ADMIN_NSEC), as an operator runs it.
    const key = fs.readFileSync(path.join(dataDir, 'mostro.nsec'), 'utf8').trim();
    adminNsec = key.startsWith('nsec1') ? key : nip19.nsecEncode(hexToBytes(key));
  }, 240_000);
  afterAll(async () => {
    for (const c of clis) c.remove();
    if (daemon) await killDaemon(daemon);
  });

  /** The seller pays the escrow mostro-cli showed it, from its wallet; the hold invoice's payment. */
  async function payEscrow(seller: RealMostroCli, buyer: RealMostroCli): Promise<string> {
    const holds = await seller.invoicesInDms();
    expect(holds.length).toBeGreaterThan(0);
    const paid = await lnsim<{ hash: string }>(at.lnsim, '/pay', { request: holds.at(-1), from: 'seller' });
    await until('the escrow accepted', async () => (await buyer.dmActions()).includes('HoldInvoicePaymentAccepted'));
    return paid.hash;
  }

  /** A sell order taken by the buyer, the invoice given when asked, the escrow paid: the trade is active. */
  async function activeSellTrade(seller: RealMostroCli, buyer: RealMostroCli) {
    const made = await seller.ok(['neworder', '-k', 'sell', '-a', String(AMOUNT), '-c', 'USD', '-f', '10', '-m', 'bank transfer']);
    expect(made).toMatch(/Status: Pending/);
    const id = orderIdIn(made);
    const took = await buyer.ok(['takesell', '-o', id]);
    expect(took).toContain(`Required Amount: ${AMOUNT} sats`);
    const payout = await invoice(AMOUNT);
    expect(await buyer.ok(['addinvoice', '-o', id, '-i', payout.request])).toContain('Waiting for Seller Payment');
    const escrowHash = await payEscrow(seller, buyer);
    return { id, payout, escrowHash };
  }

  /** From an active trade: fiat sent, release, the buyer paid exactly once from the settled escrow, both rate. */
  async function completeTrade(seller: RealMostroCli, buyer: RealMostroCli, t: { id: string; payout: { hash: string }; escrowHash: string }) {
    expect(await buyer.ok(['fiatsent', '-o', t.id])).toContain('Fiat payment confirmation received');
    expect(await seller.ok(['release', '-o', t.id])).toContain('Hold invoice payment settled successfully');
    await until('the buyer told the purchase completed', async () => (await buyer.dmActions()).includes('PurchaseCompleted'));
    expect(await payment(t.payout.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, value_sats: AMOUNT, from: 'mostro' });
    expect(await lnsim(at.lnsim, `/invoices/${t.escrowHash}`)).toMatchObject({ state: 'SETTLED' });
    expect(await buyer.ok(['rate', '-o', t.id, '-r', '5'])).toContain('Rating processed successfully');
    expect(await seller.ok(['rate', '-o', t.id, '-r', '4'])).toContain('Rating processed successfully');
  }

  it('a sell trade end to end: order, take, invoice, escrow, fiat sent, release, ratings; the buyer paid once', () =>
    withTranscripts(async () => {
      const seller = cli('sell-seller');
      const buyer = cli('sell-buyer');
      const trade = await activeSellTrade(seller, buyer);
      await completeTrade(seller, buyer, trade);
      // The buyer heard every step, once each, its rating acknowledged last (getdm sorts by the second an event was
      // made, so messages of one second may show in any order).
      expect((await buyer.dmActions()).sort()).toEqual(['AddInvoice', 'FiatSentOk', 'HoldInvoicePaymentAccepted', 'PurchaseCompleted', 'Rate', 'RateReceived', 'Released', 'WaitingSellerToPay']);
    }), 300_000);

  it('a buy trade end to end: the buyer makes the order with its invoice, the seller takes and pays; the buyer paid once', () =>
    withTranscripts(async () => {
      const buyer = cli('buy-buyer');
      const seller = cli('buy-seller');
      const payout = await invoice(AMOUNT);
      const made = await buyer.ok(['neworder', '-k', 'buy', '-a', String(AMOUNT), '-c', 'USD', '-f', '10', '-m', 'bank transfer', '-i', payout.request]);
      expect(made).toMatch(/Kind: Buy/);
      const id = orderIdIn(made);
      await seller.ok(['takebuy', '-o', id]);
      const escrowHash = await payEscrow(seller, buyer);
      await completeTrade(seller, buyer, { id, payout, escrowHash });
    }), 300_000);

  it('a cancel: the maker cancels its pending order and it leaves the order book', () =>
    withTranscripts(async () => {
      const maker = cli('cancel-maker');
      const id = orderIdIn(await maker.ok(['neworder', '-k', 'sell', '-a', String(AMOUNT), '-c', 'USD', '-f', '10', '-m', 'bank transfer']));
      await until('the order listed', async () => (await maker.ok(['listorders'])).includes(id));
      const canceled = await maker.ok(['cancel', '-o', id]);
      expect(canceled).toMatch(/cancel/i);
      await until('the order gone from the list', async () => !(await maker.ok(['listorders'])).includes(id));
      // getdm sorts by the second an event was made: the new-order answer and the cancel may share one.
      await until('the maker told of the cancel', async () => (await maker.dmActions()).includes('Canceled'));
      expect((await maker.dmActions()).sort()).toEqual(['Canceled', 'NewOrder']);
    }), 300_000);

  it('a dispute opened by the buyer, taken and settled by a solver the admin added, all with mostro-cli: the buyer paid once', () =>
    withTranscripts(async () => {
      const seller = cli('dispute-seller');
      const buyer = cli('dispute-buyer');
      // The operator (mostro-cli with the daemon's key) adds a solver; the solver runs mostro-cli with its own key.
      const solverKey = generateSecretKey();
      const admin = cli('admin', adminNsec);
      const solver = cli('solver', nip19.nsecEncode(solverKey));
      expect(await admin.ok(['admaddsolver', '-n', nip19.npubEncode(getPublicKey(solverKey))])).toContain('Solver added successfully');
      const { id, payout, escrowHash } = await activeSellTrade(seller, buyer);
      const opened = await buyer.ok(['dispute', '-o', id]);
      const disputeId = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(opened.replaceAll(id, ''))?.[1];
      expect(disputeId, opened).toBeDefined();
      expect(await solver.ok(['listdisputes'])).toContain(disputeId);
      await until('the solver known to the daemon', async () => (await solver.run(['admtakedispute', '--disputeid', disputeId!])).code === 0);
      expect(await solver.ok(['admsettle', '-o', id])).toMatch(/settled/i);
      await until('the buyer told the purchase completed', async () => (await buyer.dmActions()).includes('PurchaseCompleted'));
      expect(await payment(payout.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, value_sats: AMOUNT });
      expect(await lnsim(at.lnsim, `/invoices/${escrowHash}`)).toMatchObject({ state: 'SETTLED' });
    }), 300_000);

  it('restore brings back the orders of an identity; the orders list shows the pending ones', () =>
    withTranscripts(async () => {
      const maker = cli('restore-maker');
      const id = orderIdIn(await maker.ok(['neworder', '-k', 'buy', '-a', String(AMOUNT), '-c', 'USD', '-f', '10', '-m', 'bank transfer']));
      const listed = await maker.ok(['listorders']);
      expect(listed).toContain(id);
      const restored = await maker.ok(['restore']);
      expect(restored).toContain(id);
    }), 300_000);
});
