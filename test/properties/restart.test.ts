/**
 * The money paths on the real stack, with the daemon killed at a random moment (issue 14, property (b)): `npm start`
 * with everything embedded (Temporal, PGlite, relay, simulated Lightning network), random trade scripts — sell or
 * buy, invoice on take or later, the payout held in flight, wrong-party and out-of-order messages, a second payout
 * invoice while the first is in flight — and a `kill -9` of the daemon's process group at a random step, a random
 * 0–800 ms after that step's message reached the relay, then a restart on the same data directory. Checked from the
 * wallets' records and the parties' inboxes: the trade completes, the escrow settles once, the buyer is paid exactly
 * once and by one invoice, every request is answered, and no party receives the same message twice.
 *
 * Each run starts the daemon twice (about a minute): `npm test` runs two seeded scripts; more with
 * `RESTART_RUNS=20 RESTART_SEED=7 npx vitest run test/properties/restart` (a failure prints its script).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import invoices from 'invoices';
import { afterAll, describe, expect, it } from 'vitest';
import { MostroTrader } from '../../src/client/trader.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import type { Action, Payload } from '@mostro/protocol';
import { escrowRequest, killDaemon, lnsim, startDaemon, whereIs } from '../helpers/npm-start.js';
import type { Spawned } from '../../support/process.js';
import { realServerAddress } from '../helpers/temporal.js';

const REPLY_MS = 90_000;
const SATS = 20_000;
/** What the buyer is paid: `npm start`'s default `[mostro] fee` is 0. */
const PAYOUT = SATS;

interface Script {
  kind: 'sell' | 'buy';
  /** Sell orders: the buyer's payout invoice comes with the take. */
  invoiceOnTake: boolean;
  /** The payout is held in flight until after the kill (and the buyer tries a second invoice meanwhile). */
  holdPayout: boolean;
  /** The step after whose message the daemon is killed, and how long after. */
  killAt: number;
  killDelayMs: number;
  /** Wrong-party or out-of-order messages sent after a step (each must be refused). */
  noise: { after: number; what: 'stranger-take' | 'early-release' | 'seller-fiat-sent' }[];
}

const STEPS = 6;
const script: fc.Arbitrary<Script> = fc.record({
  kind: fc.constantFrom<'sell' | 'buy'>('sell', 'buy'),
  invoiceOnTake: fc.boolean(),
  holdPayout: fc.boolean(),
  killAt: fc.nat({ max: STEPS - 1 }),
  killDelayMs: fc.nat({ max: 800 }),
  noise: fc.array(fc.record({ after: fc.nat({ max: STEPS - 2 }), what: fc.constantFrom<Script['noise'][number]['what']>('stranger-take', 'early-release', 'seller-fiat-sent') }), { maxLength: 2 }),
});

const order = (kind: 'sell' | 'buy') =>
  ({ order: { kind, status: 'pending', amount: SATS, fiat_code: 'USD', min_amount: null, max_amount: null, fiat_amount: 20, payment_method: 'cash', premium: 0, created_at: 0, expires_at: null } }) as Payload;
const invoicePayload = (request: string) => ({ payment_request: [null, request, null] }) as Payload;

/** One script against one data directory, restarting the daemon once. */
class Trial {
  daemon!: Spawned;
  at!: { pubkey: string; relay: string; lnsim: string };
  pool!: RelayPool;
  seller!: MostroTrader;
  buyer!: MostroTrader;
  stranger!: MostroTrader;
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-restart-prop-'));
  readonly log: string[] = [];
  /** Request ids each party sent, to check every one was answered. */
  readonly sent: { who: MostroTrader; requestId: number; action: string }[] = [];
  id = '';
  payout = { request: '', hash: '' };
  escrowHash = '';
  escrowRequest = '';
  second: { request: string; hash: string } | null = null;
  private downSince = 0;

  constructor(readonly s: Script) {}

  get traders() {
    return [this.seller, this.buyer, this.stranger];
  }

  async start(): Promise<void> {
    this.daemon = startDaemon(this.dataDir);
    this.at = await whereIs(this.daemon);
    this.pool = new RelayPool([this.at.relay], { backoffMinMs: 50, backoffMaxMs: 200 });
  }

  async kill(): Promise<void> {
    this.log.push(`kill -9 after ${this.s.killDelayMs} ms`);
    await new Promise((r) => setTimeout(r, this.s.killDelayMs));
    this.downSince = Math.floor(Date.now() / 1000);
    await killDaemon(this.daemon);
    this.pool.close();
    await this.start();
    // The parties come back too, fetching what the relay stored while they were away.
    for (const t of this.traders) t.reconnect(this.pool, this.downSince - 120);
    this.log.push('restarted');
  }

  async send(who: MostroTrader, action: Action, payload?: Payload, id = this.id): Promise<number> {
    const { requestId } = await who.send(1, { action, id: id || undefined, payload: payload ?? null });
    this.sent.push({ who, requestId, action });
    this.log.push(`${who.name} ${action}`);
    return requestId;
  }

  maker = () => (this.s.kind === 'sell' ? this.seller : this.buyer);
  taker = () => (this.s.kind === 'sell' ? this.buyer : this.seller);

  /** The trade's steps on this script's path: each sends its message (or pays), then reads what must follow. */
  steps(): { act: () => Promise<void>; expect: () => Promise<void> }[] {
    const s = this.s;
    const nothing = async () => undefined;
    const escrowShown = async () => {
      this.escrowRequest = await escrowRequest(this.seller, 1, REPLY_MS);
    };
    const locked = async () => {
      await this.buyer.next(1, 'hold-invoice-payment-accepted', REPLY_MS);
      await this.seller.next(1, 'buyer-took-order', REPLY_MS);
    };
    const addInvoice = async () => {
      this.payout = await this.newPayoutInvoice(PAYOUT);
      await this.send(this.buyer, 'add-invoice', invoicePayload(this.payout.request));
    };
    const opening = {
      act: async () => void (await this.send(this.maker(), 'new-order', order(s.kind), '')),
      expect: async () => void (this.id = (await this.maker().next(1, 'new-order', REPLY_MS)).id!),
    };
    const middle =
      s.kind === 'buy'
        ? [
            { act: () => this.send(this.seller, 'take-buy').then(nothing), expect: escrowShown },
            { act: () => this.payEscrow(), expect: async () => void (await this.buyer.next(1, 'add-invoice', REPLY_MS)) },
            { act: addInvoice, expect: locked },
          ]
        : s.invoiceOnTake
          ? [
              {
                act: async () => {
                  this.payout = await this.newPayoutInvoice(PAYOUT);
                  await this.send(this.buyer, 'take-sell', invoicePayload(this.payout.request));
                },
                expect: escrowShown,
              },
              { act: () => this.payEscrow(), expect: locked },
              { act: nothing, expect: nothing },
            ]
          : [
              { act: () => this.send(this.buyer, 'take-sell').then(nothing), expect: async () => void (await this.buyer.next(1, 'add-invoice', REPLY_MS)) },
              { act: addInvoice, expect: escrowShown },
              { act: () => this.payEscrow(), expect: locked },
            ];
    const fiatSent = {
      act: () => this.send(this.buyer, 'fiat-sent').then(nothing),
      expect: async () => {
        await this.buyer.next(1, 'fiat-sent-ok', REPLY_MS);
        await this.seller.next(1, 'fiat-sent-ok', REPLY_MS);
      },
    };
    const release = {
      act: async () => {
        if (s.holdPayout) await lnsim(this.at.lnsim, '/hold-next-payment', {});
        await this.send(this.seller, 'release');
      },
      expect: async () => {
        await this.seller.next(1, 'hold-invoice-payment-settled', REPLY_MS);
        await this.buyer.next(1, 'released', REPLY_MS);
        if (s.holdPayout) {
          // The payout is in flight: a second invoice now must be refused (it could be paid as well).
          await this.waitForPayment(this.payout.hash, 'IN_FLIGHT');
          this.second = await this.newPayoutInvoice(PAYOUT);
          const rid = await this.send(this.buyer, 'add-invoice', invoicePayload(this.second.request));
          const refused = await this.buyer.next(1, 'cant-do', REPLY_MS);
          expect(refused.requestId, this.describe()).toBe(String(rid));
          await lnsim(this.at.lnsim, '/release-held', {});
        }
        await this.buyer.next(1, 'purchase-completed', REPLY_MS);
      },
    };
    return [opening, ...middle, fiatSent, release];
  }

  async noise(what: Script['noise'][number]['what'], k: number): Promise<void> {
    // Each is refused (cant-do) wherever the trade is; the request id ties the answer to the request.
    // Only refusals belong in the noise: a stranger taking a pending order would simply take it.
    const plan: Record<typeof what, () => [MostroTrader, Action, Payload | undefined] | null> = {
      'stranger-take': () => (k >= 1 ? [this.stranger, this.s.kind === 'sell' ? 'take-sell' : 'take-buy', undefined] : null),
      'early-release': () => (k === 3 ? [this.seller, 'release', undefined] : null),
      'seller-fiat-sent': () => (k >= 1 ? [this.seller, 'fiat-sent', undefined] : null),
    };
    const p = plan[what]();
    if (!p) return;
    const [who, action, payload] = p;
    const rid = await this.send(who, action, payload);
    const answer = await who.next(1, 'cant-do', REPLY_MS);
    expect(answer.requestId, this.describe()).toBe(String(rid));
  }

  private hashOf(request: string): string {
    return invoices.parsePaymentRequest({ request }).id as string;
  }

  private async newPayoutInvoice(sats: number): Promise<{ request: string; hash: string }> {
    return lnsim<{ request: string; hash: string }>(this.at.lnsim, '/invoice', { sats, node: 'buyer', expiry_secs: 7200 });
  }

  private async payEscrow(): Promise<void> {
    this.escrowHash = this.hashOf(this.escrowRequest);
    await lnsim(this.at.lnsim, '/pay', { request: this.escrowRequest, from: 'seller' });
    this.log.push('seller pays the escrow');
  }

  private async waitForPayment(hash: string, status: string): Promise<void> {
    const deadline = Date.now() + REPLY_MS;
    for (;;) {
      const p = await lnsim(this.at.lnsim, `/payments/${hash}`).catch(() => null);
      if (p?.status === status) return;
      if (Date.now() > deadline) throw new Error(`payment ${hash} never ${status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  describe(): string {
    return `script ${JSON.stringify(this.s)}\n${this.log.join('\n')}`;
  }

  async run(): Promise<void> {
    await this.start();
    this.seller = new MostroTrader('seller', this.pool, this.at.pubkey);
    this.buyer = new MostroTrader('buyer', this.pool, this.at.pubkey);
    this.stranger = new MostroTrader('stranger', this.pool, this.at.pubkey);
    for (const [k, step] of this.steps().entries()) {
      await step.act();
      if (k === this.s.killAt) await this.kill();
      await step.expect();
      for (const n of this.s.noise.filter((x) => x.after === k)) await this.noise(n.what, k);
    }
    await this.check();
  }

  async check(): Promise<void> {
    const d = this.describe();
    // Money, from the wallets' records: the escrow settled once, the buyer paid once, by exactly one invoice.
    expect(await lnsim(this.at.lnsim, `/invoices/${this.escrowHash}`), d).toMatchObject({ state: 'SETTLED' });
    expect(await lnsim(this.at.lnsim, `/payments/${this.payout.hash}`), d).toMatchObject({ from: 'mostro', status: 'SUCCEEDED', attempts: 1, value_sats: PAYOUT });
    // The second invoice offered while the payout was in flight was never paid.
    if (this.second) await expect(lnsim(this.at.lnsim, `/payments/${this.second.hash}`), d).rejects.toThrow(/404/);
    // Messages: every request answered, nothing received twice.
    await new Promise((r) => setTimeout(r, 2_000));
    for (const t of this.traders) {
      const got = t.received(1).map((m) => m.json);
      const twice = got.filter((j, i) => got.indexOf(j) !== i);
      expect(twice, `${t.name} received twice: ${twice.join(' | ')}\n${d}`).toEqual([]);
    }
    for (const r of this.sent) {
      const answered = r.who.received(1).some((m) => m.requestId === String(r.requestId));
      expect(answered, `${r.who.name}'s ${r.action} (request ${r.requestId}) was never answered\n${d}`).toBe(true);
    }
  }

  async close(): Promise<void> {
    for (const t of this.traders) t?.close();
    this.pool?.close();
    if (this.daemon) await killDaemon(this.daemon);
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(realServerAddress)('a trade survives kill -9 of the daemon at a random moment', () => {
  const runs = Number(process.env.RESTART_RUNS ?? 2);
  const trials: Trial[] = [];
  afterAll(async () => {
    for (const t of trials) await t.close().catch(() => undefined);
  });

  it(`completes with the buyer paid exactly once and every message delivered once (${runs} seeded scripts)`, async () => {
    await fc.assert(
      fc.asyncProperty(script, async (s) => {
        const trial = new Trial(s);
        trials.push(trial);
        try {
          await trial.run();
        } catch (err) {
          throw new Error(`${String((err as Error).message)}\n${trial.describe()}\n--- daemon output ---\n${trial.daemon?.output().slice(-4000)}`);
        } finally {
          await trial.close();
        }
      }),
      { numRuns: runs, seed: Number(process.env.RESTART_SEED ?? 20261203), endOnFailure: true },
    );
  }, 1_800_000);
});
