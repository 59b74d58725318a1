/**
 * `npm start` with `[temporal] address` pointing at a real Temporal server (`temporal server start-dev`, its own
 * here, with nothing registered): the daemon registers its search attributes, runs a trade, and the trade survives
 * kill -9 of the daemon mid-way — the workflow was on the real server all along; the restarted worker carries it on.
 * Runs in the `real-temporal` project only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MostroTrader } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import type { Payload } from '@mostro/protocol';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/shared/search-attributes.js';
import { escrowRequest, killDaemon, lnsim, startDaemon, whereIs } from '../helpers/npm-start.js';
import type { Spawned } from '../../support/process.js';
import { startRealTemporal, type RealTemporal } from '../../support/real-temporal.js';

const REPLY_MS = 60_000;
const sellOrder = {
  order: { kind: 'sell', status: 'pending', amount: 20_000, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 20, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null },
} as Payload;

describe('npm start on a real Temporal server', () => {
  let temporal: RealTemporal;
  const running: Spawned[] = [];
  beforeAll(async () => {
    temporal = await startRealTemporal();
  }, 90_000);
  afterAll(async () => {
    for (const p of running) if (p.child.exitCode === null && p.child.signalCode === null) await killDaemon(p);
    await temporal?.stop();
  });

  it('registers its search attributes, trades, and carries the trade on after kill -9 of the daemon', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-real-start-'));
    const config = path.join(dataDir, 'settings.toml');
    fs.writeFileSync(config, `[temporal]\naddress = "${temporal.address}"\n`);
    const first = startDaemon(dataDir, ['--config', config]);
    running.push(first);
    const at = await whereIs(first);
    expect(await first.line('temporal')).toBe(temporal.address);

    const connection = await Connection.connect({ address: temporal.address });
    try {
      const sa = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
      expect(Object.keys(sa.customAttributes ?? {})).toEqual(expect.arrayContaining(Object.keys(ORDER_SEARCH_ATTRIBUTES)));
    } finally {
      await connection.close();
    }

    let pool = new RelayPool([at.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
    const outputs = () => running.map((p, i) => `--- daemon ${i + 1} ---\n${p.output()}`).join('\n');
    const seller = new MostroTrader('seller', pool, at.pubkey);
    const buyer = new MostroTrader('buyer', pool, at.pubkey);
    try {
      await seller.send(1, { action: 'new-order', payload: sellOrder });
      const id = (await seller.next(1, 'new-order', REPLY_MS)).id!;
      const payout = await lnsim<{ request: string; hash: string }>(at.lnsim, '/invoice', { sats: 20_000, node: 'buyer', expiry_secs: 7200 });
      // npm start's defaults charge no fee: the buyer's invoice is for the whole amount.
      await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, payout.request, null] } as Payload });
      await lnsim(at.lnsim, '/pay', { request: await escrowRequest(seller, 1, REPLY_MS), from: 'seller' });
      await buyer.next(1, 'hold-invoice-payment-accepted', REPLY_MS);

      // The daemon dies with the escrow held; the workflow lives on the real server.
      const downSince = Math.floor(Date.now() / 1000);
      await killDaemon(first);
      pool.close();
      const second = startDaemon(dataDir, ['--config', config]);
      running.push(second);
      const again = await whereIs(second);
      pool = new RelayPool([again.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
      for (const t of [seller, buyer]) t.reconnect(pool, downSince - 120);

      await buyer.send(1, { action: 'fiat-sent', id });
      await seller.next(1, 'fiat-sent-ok', REPLY_MS);
      await seller.send(1, { action: 'release', id });
      await buyer.next(1, 'purchase-completed', REPLY_MS);
      expect(await lnsim(again.lnsim, `/payments/${payout.hash}`)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, value_sats: 20_000 });
      second.child.kill('SIGTERM');
      expect(await second.exited, second.output()).toBe(0);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${outputs()}`);
    } finally {
      seller.close();
      buyer.close();
      pool.close();
    }
  }, 400_000);
});
