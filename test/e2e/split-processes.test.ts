/**
 * The production topology: `mostro worker` and `mostro ingress` as separate processes sharing PostgreSQL, a Temporal
 * server, a relay and an LND node (here: the simulator serving LND's gRPC API with TLS and a macaroon), configured
 * by a settings.toml plus the key from the environment. A complete trade runs through them; both drain on SIGTERM.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { ENV_OVERRIDES } from '../../src/config/settings.js';
import { startLnsim, type Lnsim } from '@mostro/lnsim';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { freshDatabaseUrl } from '../../support/postgres.js';
import { spawnTs, type Spawned } from '../../support/process.js';
import { MostroTrader } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import type { Payload } from '@mostro/protocol';
import { createTemporalTestEnv, uid, type TemporalTestEnv } from '../helpers/temporal.js';

const sellOrder = (sats: number) =>
  ({
    order: { kind: 'sell', status: 'pending', amount: sats, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 12, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null },
  }) as Payload;

const cleanEnv = Object.fromEntries(Object.keys(ENV_OVERRIDES).map((k) => [k, '']));
const pgUrl = inject('databaseUrl');

describe('worker and ingress as separate processes', () => {
  it('refuse to start on parts only one process can hold, naming the settings to give', async () => {
    const p = spawnTs('src/main.ts', ['worker', '--data-dir', fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-w-'))], cleanEnv);
    expect(await p.exited).toBe(2);
    const out = p.output();
    for (const key of ['[temporal] address', '[database] url', '[nostr] relays', '[lightning] lnd_grpc_host']) {
      expect(out).toContain(`${key}`);
    }
    expect(out).toContain('required when the worker and the ingress run as separate processes');
  });

  describe.skipIf(!pgUrl)('against shared PostgreSQL, Temporal, relay and LND', () => {
    let env: TemporalTestEnv;
    let relay: LocalRelay;
    let lnsim: Lnsim;
    let config: string;
    const procs: Spawned[] = [];
    const key = generateSecretKey();

    beforeAll(async () => {
      env = await createTemporalTestEnv();
      relay = await startLocalRelay();
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-split-'));
      lnsim = await startLnsim({ dir: path.join(dir, 'lnsim') });
      config = path.join(dir, 'settings.toml');
      fs.writeFileSync(
        config,
        [
          '[lightning]',
          `lnd_grpc_host = "${lnsim.credentials.socket}"`,
          `lnd_cert_file = "${lnsim.certFile}"`,
          `lnd_macaroon_file = "${lnsim.macaroonFile}"`,
          '[nostr]',
          `relays = ["${relay.url}"]`,
          '[mostro]',
          'fee = 0.006',
          'dev_fee_lightning_address = ""',
          '[database]',
          `url = "${await freshDatabaseUrl(pgUrl)}"`,
          '[temporal]',
          `address = "${env.address}"`,
          `task_queue = "${uid('split')}"`,
          '[metrics]',
          'listen = "127.0.0.1:0"',
          '',
        ].join('\n'),
      );
    }, 60_000);
    afterAll(async () => {
      for (const p of procs) p.child.kill('SIGKILL');
      await lnsim?.close();
      await relay?.close();
      await env?.teardown();
    });

    // A worker bundles the workflow code when it starts: tens of seconds on a busy machine (seen: over 90 s with both
    // cores taken by other work).
    const READY_MS = 240_000;
    const start = (role: string) => {
      const p = spawnTs('src/main.ts', [role, '--config', config, '--data-dir', path.join(fs.mkdtempSync(path.join(os.tmpdir(), `mostro-${role}-`)), 'not-yet-created'), '--log-level', 'warn'], {
        ...cleanEnv,
        MOSTRO_NSEC_PRIVKEY: nip19.nsecEncode(key),
      });
      procs.push(p);
      return p;
    };

    it('trade end to end, then drain on SIGTERM', async () => {
      const worker = start('worker');
      const ingress = start('ingress');
      await Promise.all([worker.waitFor(/^Ready\./m, READY_MS), ingress.waitFor(/^Ready\./m, READY_MS)]);
      const pubkey = getPublicKey(key);
      expect(await worker.line('pubkey')).toBe(pubkey);
      expect(await ingress.line('pubkey')).toBe(pubkey);
      expect(worker.output()).toContain('lightning: lnd (regtest');
      expect(worker.output()).not.toContain('SIMULATED LIGHTNING NETWORK');
      expect(worker.output()).toContain('database: postgresql');
      expect(worker.output()).toMatch(/Self-check passed/);

      const demo = spawnTs('scripts/demo.ts', ['--pubkey', pubkey, '--relay', relay.url, '--lnsim', lnsim.controlUrl, '--sats', '10000']);
      expect(await demo.exited, demo.output()).toBe(0);
      // 0.6 % fee, half paid by each side: the buyer receives 10,000 − 30.
      expect(demo.output()).toMatch(/completed: the buyer's wallet was paid 9970 sats/);
      const payouts = [...lnsim.net.payments.values()].filter((p) => p.from === 'mostro');
      expect(payouts.map((p) => [p.status, p.valueSats])).toEqual([['SUCCEEDED', 9_970]]);

      worker.child.kill('SIGTERM');
      ingress.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);
      expect(await ingress.exited).toBe(0);
      expect(worker.output()).toContain('SIGTERM: draining the worker and shutting down');
    }, 2 * READY_MS + 60_000);

    it('two workers share the task queue; a trade begun on one finishes on the other after kill -9 of the first', async () => {
      const ingress = start('ingress');
      const first = start('worker');
      await Promise.all([ingress.waitFor(/^Ready\./m, READY_MS), first.waitFor(/^Ready\./m, READY_MS)]);
      const taskQueue = await first.line('task-queue');
      const pool = new RelayPool([relay.url], { backoffMinMs: 50, backoffMaxMs: 200 });
      const seller = new MostroTrader('seller', pool, getPublicKey(key));
      const buyer = new MostroTrader('buyer', pool, getPublicKey(key));
      try {
        // Up to the locked escrow on the first worker alone.
        await seller.send(1, { action: 'new-order', payload: sellOrder(12_000) });
        const id = (await seller.next(1, 'new-order', 30_000)).id!;
        const payout = lnsim.net.createInvoice({ node: 'buyer', valueSats: 12_000 - 36, expirySecs: 7200 });
        await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, payout.request, null] } as Payload });
        let escrow = '';
        while (!escrow) {
          const m = await seller.next(1, 'pay-invoice', 30_000);
          if (m.payload && 'payment_request' in m.payload) escrow = (m.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
        }
        lnsim.net.pay('seller', escrow);
        await buyer.next(1, 'hold-invoice-payment-accepted', 30_000);

        // A second worker joins: the server lists both as polling the queue.
        const second = start('worker');
        await second.waitFor(/^Ready\./m, READY_MS);
        const pollers = async () =>
          (await env.connection.workflowService.describeTaskQueue({ namespace: env.namespace, taskQueue: { name: taskQueue }, taskQueueType: 1 })).pollers ?? [];
        // The daemon's workers call themselves mostro-worker@<host>/<pid>.
        const ids = [`/${first.child.pid}`, `/${second.child.pid}`];
        const polling = async () => {
          const seen = (await pollers()).map((p) => p.identity ?? '');
          return ids.filter((i) => seen.some((s) => s.endsWith(i))).length;
        };
        await expect.poll(polling, { timeout: 30_000 }).toBe(2);

        // The first worker dies mid-trade (its cached copy of the workflow with it); the second carries the trade on.
        first.child.kill('SIGKILL');
        await first.exited;
        await buyer.send(1, { action: 'fiat-sent', id });
        await seller.next(1, 'fiat-sent-ok', 60_000);
        await seller.send(1, { action: 'release', id });
        await buyer.next(1, 'purchase-completed', 60_000);
        expect(lnsim.net.payments.get(payout.hash)).toMatchObject({ status: 'SUCCEEDED', valueSats: 12_000 - 36 });
        // Every workflow task after the kill was completed by the second worker.
        const history = await env.client.workflow.getHandle(`order-${id}`).fetchHistory();
        const completedBy = (history.events ?? []).filter((e) => e.workflowTaskStartedEventAttributes).map((e) => e.workflowTaskStartedEventAttributes!.identity ?? '');
        expect(completedBy.some((i) => i.endsWith(ids[0]!))).toBe(true);
        expect(completedBy.at(-1)!.endsWith(ids[1]!)).toBe(true);
        second.child.kill('SIGTERM');
        ingress.child.kill('SIGTERM');
        expect(await second.exited).toBe(0);
        expect(await ingress.exited).toBe(0);
      } finally {
        seller.close();
        buyer.close();
        pool.close();
      }
    }, 3 * READY_MS + 120_000);
  });
});
