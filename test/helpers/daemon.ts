/**
 * The whole daemon for end-to-end tests, from real parts: a relay on 127.0.0.1, the embedded Temporal server with
 * time skipping, the order worker (real activities), the ingress (Nostr intake + LND invoice watcher), the simulated
 * Lightning network behind LND's gRPC API, PostgreSQL (PGlite when no server is available), a yadio-style price
 * server — and traders that talk to it the way mostro-cli does (rust-nostr keys and wrapping, real signed events).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as ln from 'lightning';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { entropyToMnemonic } from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { generateSecretKey, getPublicKey } from 'nostr-tools/pure';
import type { Database } from '../../src/db/database.js';
import { startIngress, type RunningIngress } from '../../src/ingress/index.js';
import { startLnurlServer, type LnurlServer, startSimLnd, type LndCredentials, type SimLndServer, SimNetwork } from '@mostro/lnsim';
import type { Logger } from '../../src/log.js';
import { NostrEgress } from '../../src/nostr/egress.js';
import { useFastCrypto } from '../../src/nostr/fast-crypto.js';
import { startLocalRelay, type LocalRelay } from '../../src/nostr/local-relay.js';
import { RelayPool } from '../../src/nostr/relay-pool.js';
import { PriceManager } from '../../src/price/manager.js';
import { yadioProvider } from '../../src/price/yadio.js';
import { message, parseArrayElements, serializeMessage, type NostrEvent, type Transport } from '@mostro/protocol';
import type { OrderSettings } from '../../src/domain/order-settings.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/shared/search-attributes.js';
import { databaseBackends } from './databases.js';
import type { LightningLab } from './lightning-lab.js';
import * as rn from '@rust-nostr/nostr-sdk';
import { cliKeys, cliUnwrap, cliWrap, pubOf } from './mostro-cli.js';
import { TEST_ORDER_SETTINGS } from './orders.js';
import { storedEvents } from '../../support/relay-query.js';
import { ORDER_WORKFLOWS_PATH, orderWorkerActivities, type OrderWorkerConfig } from './order-worker.js';
import { createTemporalTestEnv, uid, workflowBundle, type TemporalTestEnv } from './temporal.js';


const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export interface TestDaemonOptions {
  transport?: Transport;
  settings?: Partial<OrderSettings>;
  /** BTC price per fiat code served by the price API. */
  prices?: Record<string, number>;
  /** Pay the dev fee to the simulated `dev` node's Lightning address. */
  devFee?: boolean;
  /** `external`: no worker in this process; the test runs one (see `workerConfig`). Needs PostgreSQL. */
  worker?: 'in-process' | 'external';
  /** An already open database (benchmarks); closed with the daemon. Default: the test setup's PostgreSQL or PGlite. */
  database?: Database;
  /** Worker tuning (benchmarks). */
  workerOptions?: Partial<WorkerOptions>;
  /**
   * The Lightning network the daemon's node is on (test/helpers/lightning-lab.ts), e.g. real LND on regtest; the
   * test owns it. Default: a simulated network of the daemon's own, as `net`.
   */
  lab?: LightningLab;
}

export class TestDaemon {
  readonly traders: Trader[] = [];
  private closers: (() => Promise<unknown>)[] = [];
  rates: Record<string, number> = {};
  /** How to run an order worker for this daemon in another process (crash tests). */
  workerConfig!: OrderWorkerConfig;

  constructor(
    readonly transport: Transport,
    private readonly simNet: SimNetwork | undefined,
    readonly relay: LocalRelay,
    readonly db: Database,
    readonly env: TemporalTestEnv,
    readonly mostroPubkey: string,
    readonly taskQueue: string,
    readonly ingress: RunningIngress,
    readonly prices: PriceManager,
    readonly clientPool: RelayPool,
    readonly lnurl: LnurlServer,
  ) {}

  /** The daemon's own simulated network (absent when it runs on a lab's network, e.g. real LND). */
  get net(): SimNetwork {
    if (!this.simNet) throw new Error('this daemon runs on a Lightning lab of the test, not on a simulated network of its own');
    return this.simNet;
  }

  static async start(o: TestDaemonOptions = {}): Promise<TestDaemon> {
    const transport = o.transport ?? 'nip44';
    useFastCrypto(); // as the daemon runs (libsecp256k1)
    const closers: (() => Promise<unknown>)[] = [];
    const relay = await startLocalRelay();
    closers.push(() => relay.close());
    let net: SimNetwork | undefined;
    let credentials: LndCredentials;
    // The Lightning address server pays out of a simulated network: the daemon's own, or a stand-in beside a lab's.
    const lnurlNet = new SimNetwork('regtest');
    if (o.lab) {
      credentials = o.lab.credentials();
    } else {
      net = lnurlNet;
      for (const n of ['mostro', 'seller', 'buyer', 'dev']) net.addNode(n);
      const sim: SimLndServer = await startSimLnd(net, { node: 'mostro' });
      closers.push(() => sim.close());
      credentials = sim.credentials;
    }
    const lnurl = await startLnurlServer(lnurlNet);
    closers.push(() => lnurl.close());
    const lnd = ln.authenticatedLndGrpc(credentials).lnd;
    let db: Database;
    if (o.database) {
      db = o.database;
    } else {
      const backend = databaseBackends()[0]!;
      if (o.worker === 'external' && backend.name !== 'PostgreSQL') throw new Error('an external worker needs PostgreSQL');
      db = await backend.open();
    }
    closers.push(() => db.close());
    const env = await createTemporalTestEnv({ searchAttributes: ORDER_SEARCH_ATTRIBUTES });
    closers.push(() => env.teardown());

    const rates: Record<string, number> = { VES: 3_600_000, USD: 100_000, ...o.prices };
    const priceServer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ BTC: rates, base: 'BTC' }));
    });
    await new Promise<void>((r) => priceServer.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => priceServer.close(r)));
    const prices = new PriceManager([yadioProvider(`http://127.0.0.1:${(priceServer.address() as AddressInfo).port}`)]);
    await prices.refresh();

    const mostroKey = generateSecretKey();
    const mostroPubkey = getPublicKey(mostroKey);
    const pool = new RelayPool([relay.url], { backoffMinMs: 50, backoffMaxMs: 200 });
    closers.push(async () => pool.close());
    const egress = new NostrEgress({ pool, mostroKey, transport });
    const settings = { ...TEST_ORDER_SETTINGS, ...o.settings, ...(o.devFee ? { devFeeLightningAddress: lnurl.addressOf('dev') } : {}) };
    const taskQueue = uid('orders');
    const workerConfig: OrderWorkerConfig = {
      temporalAddress: env.address,
      namespace: env.namespace,
      taskQueue,
      databaseUrl: db.url,
      lnd: credentials,
      lightning: o.lab?.settings,
      relayUrl: relay.url,
      mostroSecretHex: bytesToHex(mostroKey),
      preimageSecretHex: crypto.randomBytes(32).toString('hex'),
      transport,
      priceUrl: `http://127.0.0.1:${(priceServer.address() as AddressInfo).port}`,
      settings,
    };
    if (o.worker !== 'external') {
      const activities = orderWorkerActivities(workerConfig, db.prisma, { egress, prices });
      // gzip on loopback only costs CPU (as the daemon's own worker does with the embedded server).
      const connection = await NativeConnection.connect({ address: env.address, grpcCompression: { codec: 'none' } });
      const worker: Worker = await Worker.create({
        connection,
        namespace: env.namespace,
        taskQueue,
        activities,
        workflowBundle: await workflowBundle(ORDER_WORKFLOWS_PATH),
        ...o.workerOptions,
      });
      const running = worker.run();
      closers.push(async () => {
        worker.shutdown();
        await running;
        await connection.close();
      });
    }
    const ingress = await startIngress({
      pool,
      egress,
      mostroKey,
      mostroPubkey,
      transport,
      pow: 0,
      db: db.prisma,
      client: env.client,
      taskQueue,
      lnd,
      log: quiet,
      activePubkeysRefreshMs: 1000,
      orderSettings: settings,
      invoicePollMs: 50,
      heightPollMs: 200,
    });
    closers.push(() => ingress.stop());
    await pool.ready(5000);
    const clientPool = new RelayPool([relay.url], { backoffMinMs: 20, backoffMaxMs: 100 });
    closers.push(async () => clientPool.close());
    await clientPool.ready(5000);
    const d = new TestDaemon(transport, net, relay, db, env, mostroPubkey, taskQueue, ingress, prices, clientPool, lnurl);
    d.closers = closers;
    d.workerConfig = workerConfig;
    d.rates = rates;
    return d;
  }

  /** A trader with its own mnemonic (mostro-cli key derivation). */
  trader(name: string, opts: { fullPrivacy?: boolean } = {}): Trader {
    const t = new Trader(this, name, opts.fullPrivacy ?? false);
    this.traders.push(t);
    return t;
  }

  /** The admin: a client whose identity is the daemon's own key (mostro-cli with ADMIN_NSEC). */
  admin(name = 'admin'): Trader {
    const t = new Trader(this, name, false, rn.Keys.parse(this.workerConfig.mostroSecretHex));
    this.traders.push(t);
    return t;
  }

  /** The workflow's view of an order. */
  async order(orderId: string) {
    return this.env.client.workflow.getHandle(`order-${orderId}`).query<Record<string, unknown> | null>('getOrder');
  }

  /** The newest kind-38383 event of an order on the relay (what an order book shows), as tag name → values. */
  async orderEvent(orderId: string): Promise<Record<string, string[]> | undefined> {
    const got = await storedEvents(this.relay.url, { kinds: [38383], '#d': [orderId] });
    const newest = got.sort((a, b) => b.created_at - a.created_at)[0];
    return newest ? Object.fromEntries(newest.tags.map(([k, ...v]) => [k!, v])) : undefined;
  }

  /** Waits until the order's workflow reports `status`. */
  async waitForStatus(orderId: string, status: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const o = await this.order(orderId).catch(() => null);
      if (o?.status === status) return o;
      if (Date.now() > deadline) throw new Error(`order ${orderId} not ${status} within ${timeoutMs} ms (is ${String(o?.status)})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    for (const t of this.traders) t.close();
    for (const c of this.closers.reverse()) await c().catch(() => undefined);
  }
}

/** A message received by a trader: the JSON text and its parsed inner kind. */
export interface Received {
  json: string;
  wrapper: string;
  action: string;
  id?: string;
  request_id: number | null;
  trade_index: number | null;
  payload: Record<string, unknown> | null;
}

/** A mostro-cli-like client: one mnemonic, an identity key (index 0) and trade keys (1, 2, …). */
export class Trader {
  private readonly mnemonic: string;
  private readonly inbox = new Map<string, Received[]>();
  private readonly waiters = new Map<string, () => void>();
  private readonly subs: { close(): void }[] = [];
  private nextRequestId = 1000;

  constructor(
    private readonly d: TestDaemon,
    readonly name: string,
    readonly fullPrivacy: boolean,
    /** An identity key other than the mnemonic's first (the admin's is the daemon key). */
    private readonly identityKey?: rn.Keys,
  ) {
    // A distinct valid BIP-39 phrase per trader (derived from its name and the daemon, so runs are reproducible
    // while two daemons' traders never share an identity).
    this.mnemonic = entropyToMnemonic(sha256(utf8ToBytes(`${d.mostroPubkey}:${name}`)).slice(0, 16), english);
  }

  key(index: number) {
    return cliKeys(index, this.mnemonic);
  }

  pubkey(index: number): string {
    return pubOf(this.key(index));
  }

  get identity(): string {
    return pubOf(this.identityKey ?? this.key(0));
  }

  /** Subscribes for replies to trade key `index` (idempotent); resolves once the relay has the subscription. */
  async listen(index: number): Promise<void> {
    const pk = this.pubkey(index);
    if (this.inbox.has(pk)) return;
    this.inbox.set(pk, []);
    const filter =
      this.d.transport === 'nip44'
        ? { kinds: [14], authors: [this.d.mostroPubkey], '#p': [pk], limit: 0 }
        : { kinds: [1059], '#p': [pk], limit: 0 };
    const key = this.key(index);
    // Decryption is asynchronous; a chain keeps arrival order.
    let chain = Promise.resolve();
    this.subs.push(
      this.d.clientPool.subscribe({
        filters: () => [filter],
        onEvent: (ev) => {
          chain = chain.then(async () => {
            const got = await cliUnwrap(ev as NostrEvent, key, this.d.transport);
            if (got.sender !== this.d.mostroPubkey) return;
            const json = parseArrayElements(got.tupleJson).raw[0]!;
            const outer = JSON.parse(json) as Record<string, Omit<Received, 'json' | 'wrapper'>>;
            const wrapper = Object.keys(outer)[0]!;
            this.inbox.get(pk)!.push({ json, wrapper, ...outer[wrapper]! });
            this.waiters.get(pk)?.();
          });
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 50));
  }

  /** The id of the outer event of the last message sent (a new order's id derives from it). */
  lastEventId = '';

  /** Sends a message from trade key `index` (signed, with the identity proof unless in full privacy). */
  async send(
    index: number,
    f: { action: Parameters<typeof message>[0]['action']; id?: string; payload?: Parameters<typeof message>[0]['payload']; tradeIndex?: number | null; requestId?: number },
  ): Promise<number> {
    await this.listen(index);
    const requestId = f.requestId ?? this.nextRequestId++;
    const msgJson = serializeMessage(
      message({ action: f.action, id: f.id, payload: f.payload ?? null, request_id: requestId, trade_index: f.tradeIndex === undefined ? index : f.tradeIndex }),
    );
    const trade = this.key(index);
    const ev = await cliWrap({ transport: this.d.transport, msgJson, trade, identity: this.fullPrivacy ? null : (this.identityKey ?? this.key(0)), mostro: this.d.mostroPubkey });
    const r = await this.d.clientPool.publish(ev);
    if (r.accepted.length === 0) throw new Error(`relay refused ${f.action}`);
    this.lastEventId = ev.id;
    return requestId;
  }

  /** The next unread message to trade key `index` (optionally: skip to the first with `action`). */
  async next(index: number, action?: string, timeoutMs = 20_000): Promise<Received> {
    const pk = this.pubkey(index);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const box = this.inbox.get(pk) ?? [];
      const i = action ? box.findIndex((m) => m.action === action) : 0;
      if (box.length > 0 && i >= 0) return box.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}/${index}: no ${action ?? 'message'} within ${timeoutMs} ms (unread: ${box.map((m) => m.action).join(', ') || 'none'})`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.set(pk, () => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Everything received on `index` and not read yet. */
  unread(index: number): Received[] {
    return [...(this.inbox.get(this.pubkey(index)) ?? [])];
  }

  close(): void {
    for (const s of this.subs) s.close();
  }
}


/** A `new-order` payload as mostro-cli sends it. */
export function newOrderPayload(o: {
  kind: 'buy' | 'sell';
  fiatAmount?: number;
  amount?: number;
  premium?: number;
  fiatCode?: string;
  min?: number;
  max?: number;
  buyerInvoice?: string;
  expiresAt?: number | null;
}) {
  return {
    order: {
      kind: o.kind,
      status: 'pending' as const,
      amount: o.amount ?? 0,
      fiat_code: o.fiatCode ?? 'VES',
      min_amount: o.min ?? null,
      max_amount: o.max ?? null,
      fiat_amount: o.fiatAmount ?? 0,
      payment_method: 'face to face',
      premium: o.premium ?? 0,
      ...(o.buyerInvoice ? { buyer_invoice: o.buyerInvoice } : {}),
      created_at: 0,
      expires_at: o.expiresAt ?? null,
    },
  };
}

/** Opens an order from trade key `index` and returns its id (after checking the ack). */
export async function openOrder(maker: Trader, index: number, o: Parameters<typeof newOrderPayload>[0]): Promise<string> {
  const rid = await maker.send(index, { action: 'new-order', payload: newOrderPayload(o) });
  const ack = await maker.next(index);
  if (ack.action !== 'new-order' || ack.request_id !== rid || !ack.id) throw new Error(`new-order refused: ${ack.json}`);
  return ack.id;
}

/** The bolt11 of a `pay-invoice` message. */
export function holdInvoiceOf(m: Received): string {
  return (m.payload as { payment_request: [unknown, string, unknown] }).payment_request[1];
}

export const orderOf = (m: Received) => (m.payload as { order: Record<string, unknown> }).order;

/**
 * A sell trade up to the locked escrow: `seller` opens a fixed-amount order (fee 0.3 % a side), `buyer` takes it with
 * an invoice for the net amount, the seller pays the hold invoice and hears `buyer-took-order`.
 */
export async function lockedSellTrade(d: TestDaemon, seller: Trader, buyer: Trader, amount: number) {
  const id = await openOrder(seller, 1, { kind: 'sell', amount, fiatAmount: Math.max(1, Math.round(amount / 1000)), fiatCode: 'USD' });
  const fee = Math.round((0.006 * amount) / 2);
  const invoice = d.net.createInvoice({ node: 'buyer', valueSats: amount - fee, expirySecs: 7200 });
  await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, invoice.request, null] } });
  const pay = await seller.next(1, 'pay-invoice');
  const holdPayment = d.net.pay('seller', holdInvoiceOf(pay));
  await seller.next(1, 'buyer-took-order');
  return { id, invoice, holdRequest: holdInvoiceOf(pay), holdPayment };
}

/** A sell trade past `fiat-sent`: {@link lockedSellTrade}, then the buyer says the fiat was sent and the seller heard it. */
export async function fiatSentTrade(d: TestDaemon, seller: Trader, buyer: Trader, amount: number) {
  const trade = await lockedSellTrade(d, seller, buyer, amount);
  await buyer.send(1, { action: 'fiat-sent', id: trade.id, tradeIndex: null });
  await seller.next(1, 'fiat-sent-ok');
  return trade;
}

/** A sell trade with the escrow locked, fiat sent, and a dispute opened by `by`. */
export async function disputedTrade(d: TestDaemon, name: string, by: 'buyer' | 'seller', sats: number) {
  const seller = d.trader(`seller-${name}`);
  const buyer = d.trader(`buyer-${name}`);
  const trade = await fiatSentTrade(d, seller, buyer, sats);
  const opener = by === 'buyer' ? buyer : seller;
  await opener.send(1, { action: 'dispute', id: trade.id, tradeIndex: null });
  const disputeId = ((await opener.next(1, 'dispute-initiated-by-you')).payload as { dispute: [string, null] }).dispute[0];
  await (by === 'buyer' ? seller : buyer).next(1, 'dispute-initiated-by-peer');
  return { ...trade, seller, buyer, disputeId };
}

/** Polls until `ok` holds (a state the daemon reaches asynchronously: an invoice settled, a row written). */
export async function waitFor(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The seller's escrow invoice (after the `pay-invoice` that only shows who took the order, when there is one). */
export async function escrowInvoice(seller: Trader, index = 1): Promise<string> {
  for (;;) {
    const m = await seller.next(index, 'pay-invoice');
    if (m.payload && 'payment_request' in (m.payload as object)) return holdInvoiceOf(m);
  }
}

/** The state of the simulated network's invoice with this bolt11 (OPEN, ACCEPTED, SETTLED, CANCELED). */
export const invoiceState = (d: TestDaemon, request: string) => [...d.net.invoices.values()].find((i) => i.request === request)?.state;

/**
 * `opener` (trade key `index`) opens a dispute on order `id` and the admin takes it; `peer` (its trade key
 * `peerIndex`) has heard that the admin took it. Returns the admin and the dispute id.
 */
export async function disputeTakenByAdmin(d: TestDaemon, id: string, opener: Trader, index: number, peer: Trader, peerIndex: number, name: string) {
  await opener.send(index, { action: 'dispute', id, tradeIndex: null });
  const disputeId = ((await opener.next(index, 'dispute-initiated-by-you')).payload as { dispute: [string, null] }).dispute[0];
  const admin = d.admin(name);
  await admin.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
  await peer.next(peerIndex, 'admin-took-dispute');
  return { admin, disputeId };
}
