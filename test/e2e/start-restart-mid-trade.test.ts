/**
 * `npm start` stopped in the middle of a trade, as newcomers stop it — Ctrl+C (SIGTERM), or the whole process group
 * killed — and started again on the same data directory while the seller's escrow is held: the embedded simulated
 * Lightning network still holds the hold invoice, so the buyer's fiat-sent and the seller's release complete the
 * trade, the escrow settles and the buyer is paid exactly once.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import invoices from 'invoices';
import { afterAll, describe, expect, it } from 'vitest';
import { MostroTrader } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import type { Payload } from '@mostro/protocol';
import { escrowRequest, lnsim, startDaemon, whereIs } from '../helpers/npm-start.js';
import type { Spawned } from '../../support/process.js';
import { realServerAddress } from '../helpers/temporal.js';

const REPLY_MS = 60_000;

const sellOrder = (sats: number) =>
  ({
    order: { kind: 'sell', status: 'pending', amount: sats, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 20, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null },
  }) as Payload;

describe.skipIf(realServerAddress)('npm start stopped mid-trade with the escrow held', () => {
  const running: Spawned[] = [];
  afterAll(() => {
    for (const p of running) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      try {
        process.kill(-p.child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  const stops = {
    'Ctrl+C (SIGTERM)': async (daemon: Spawned) => {
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited, daemon.output()).toBe(0);
    },
    'SIGKILL of its process group': async (daemon: Spawned) => {
      process.kill(-daemon.child.pid!, 'SIGKILL');
      await daemon.exited;
    },
  };

  for (const [how, stop] of Object.entries(stops)) {
    it(`completes the trade after ${how} and a restart: the escrow settles and the buyer is paid once`, async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-restart-'));
      const first = startDaemon(dataDir);
      running.push(first);
      let at = await whereIs(first);
      let pool = new RelayPool([at.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
      const seller = new MostroTrader('seller', pool, at.pubkey);
      const buyer = new MostroTrader('buyer', pool, at.pubkey);
      try {
        // ---- a sell order taken, the buyer's payout invoice given, the escrow paid and held ----
        await seller.send(1, { action: 'new-order', payload: sellOrder(20_000) });
        const id = (await seller.next(1, 'new-order', REPLY_MS)).id!;
        await buyer.send(1, { action: 'take-sell', id });
        const ask = await buyer.next(1, 'add-invoice', REPLY_MS);
        const amount = (ask.payload as { order: { amount: number } }).order.amount;
        const payout = await lnsim<{ request: string; hash: string }>(at.lnsim, '/invoice', { sats: amount, node: 'buyer', expiry_secs: 7200 });
        await buyer.send(1, { action: 'add-invoice', id, payload: { payment_request: [null, payout.request, null] } as Payload });
        const escrow = await escrowRequest(seller, 1, REPLY_MS);
        const escrowHash = invoices.parsePaymentRequest({ request: escrow }).id as string;
        await lnsim(at.lnsim, '/pay', { request: escrow, from: 'seller' });
        await buyer.next(1, 'hold-invoice-payment-accepted', REPLY_MS);
        const held = await lnsim(at.lnsim, `/invoices/${escrowHash}`);
        expect(held).toMatchObject({ state: 'ACCEPTED', amount_paid_sats: held.value_sats });

        // ---- stopped, and started again on the same data directory (on other ports) ----
        await stop(first);
        const second = startDaemon(dataDir);
        running.push(second);
        at = await whereIs(second);
        expect(await lnsim(at.lnsim, `/invoices/${escrowHash}`)).toMatchObject({ state: 'ACCEPTED', amount_paid_sats: held.value_sats });
        expect(await lnsim(at.lnsim, `/payments/${escrowHash}`)).toMatchObject({ from: 'seller', status: 'IN_FLIGHT', attempts: 1 });
        pool.close();
        pool = new RelayPool([at.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
        seller.reconnect(pool);
        buyer.reconnect(pool);

        // ---- the trade goes on: fiat sent, released, paid ----
        await buyer.send(1, { action: 'fiat-sent', id });
        await buyer.next(1, 'fiat-sent-ok', REPLY_MS);
        await seller.next(1, 'fiat-sent-ok', REPLY_MS);
        await seller.send(1, { action: 'release', id });
        await seller.next(1, 'hold-invoice-payment-settled', REPLY_MS);
        await buyer.next(1, 'purchase-completed', REPLY_MS);

        expect(await lnsim(at.lnsim, `/invoices/${escrowHash}`)).toMatchObject({ state: 'SETTLED' });
        expect(await lnsim(at.lnsim, `/payments/${escrowHash}`)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
        expect(await lnsim(at.lnsim, `/payments/${payout.hash}`)).toMatchObject({ from: 'mostro', status: 'SUCCEEDED', attempts: 1, value_sats: amount });
        expect(await lnsim(at.lnsim, `/invoices/${payout.hash}`)).toMatchObject({ state: 'SETTLED', amount_paid_sats: amount });

        second.child.kill('SIGTERM');
        expect(await second.exited, second.output()).toBe(0);
      } finally {
        seller.close();
        buyer.close();
        pool.close();
      }
    }, 360_000);
  }
});
