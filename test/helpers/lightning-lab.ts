/**
 * A Lightning network to test against, the same way on both: the simulated network (`src/lnsim`) and a real regtest
 * network of LND nodes (support/regtest.ts). The daemon's node is `mostro`; the traders' wallets are `buyer`
 * and `seller`. Everything a test does to the network goes through here, so one suite proves both: whatever passes
 * on lnsim and fails on LND is a difference of the simulator, fixed there and listed in docs/lnsim.md.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import type { LightningSettings } from '../../src/activities/lightning-deps.js';
import { SimNetwork, startSimLnd, type LndCredentials, type SimLndServer } from '@mostro/lnsim';
import { regtestAvailable, startRegtest, type RegtestNetwork } from '../../support/regtest.js';

export type Wallet = 'buyer' | 'seller';
export type PaymentStatus = 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED';

export interface HeldInvoice {
  request: string;
  hash: string;
  /** The payee takes the payment: the payer's payment succeeds. */
  settle(): Promise<void>;
  /** The payee gives the HTLC back: the payer's payment fails. */
  cancel(): Promise<void>;
}

export interface LightningLab {
  readonly name: 'lnsim' | 'regtest';
  /** The daemon's node, as the daemon connects to it. */
  credentials(): LndCredentials;
  /** The daemon's node through the real `lightning` client (the same client across restarts of the node). */
  lnd(): ln.AuthenticatedLnd;
  mostroPubkey(): string;
  /** A plain invoice of a wallet. */
  invoice(wallet: Wallet, sats: number, o?: { expirySecs?: number; memo?: string }): Promise<{ request: string; hash: string }>;
  /** A hold invoice of a wallet: a payment to it stays in flight until the wallet settles or cancels it. */
  heldInvoice(wallet: Wallet, sats: number): Promise<HeldInvoice>;
  /** A wallet pays `request` (a hold invoice of the daemon stays in flight: this returns once it is sent). */
  pay(wallet: Wallet, request: string): Promise<void>;
  /** The daemon's Lightning settings for this network (how long a payment is waited for). */
  readonly settings: LightningSettings;
  /** What a wallet's node says of its payment to `hash` (null: it never paid it). */
  paidBy(wallet: Wallet, hash: string): Promise<PaymentStatus | null>;
  /** The state of a wallet's invoice. */
  invoiceState(wallet: Wallet, hash: string): Promise<'OPEN' | 'ACCEPTED' | 'SETTLED' | 'CANCELED'>;
  /** A wallet's spendable Lightning balance in sats (what it holds in channels; compare before and after). */
  balance(wallet: Wallet): Promise<number>;
  /** What the daemon's node says of its payment to `hash` (null: it never paid it). */
  payment(hash: string): Promise<{ status: PaymentStatus; feeSats: number } | null>;
  /** Runs `fn` with the wallet's node offline: the daemon's payments to it fail for lack of a route. */
  withPaymentsFailing<T>(wallet: Wallet, fn: () => Promise<T>): Promise<T>;
  blockHeight(): Promise<number>;
  mine(blocks: number): Promise<void>;
  /** Stops the daemon's node (its API goes away), runs `whileDown`, starts it again with the same data. */
  restartMostro(whileDown?: () => Promise<void>): Promise<void>;
  close(): Promise<void>;
}

/** The daemon's settings in these tests; a lab sets how long a payment is waited for. */
export const LAB_SETTINGS = { holdInvoiceExpirySecs: 900, holdInvoiceCltvDelta: 144, invoiceExpirySecs: 3600, maxRoutingFeeRatio: 0.002 };

const paymentOf = async (lnd: ln.AuthenticatedLnd, id: string): Promise<{ status: PaymentStatus; feeSats: number } | null> => {
  try {
    const p = await ln.getPayment({ lnd, id });
    return { status: p.is_confirmed ? 'SUCCEEDED' : p.is_failed ? 'FAILED' : 'IN_FLIGHT', feeSats: p.payment?.fee ?? 0 };
  } catch (err) {
    if (Array.isArray(err) && err[0] === 404) return null;
    throw err;
  }
};

/** The simulated network: three nodes, one of them (`mostro`) served over LND's gRPC API. */
export async function startSimLab(): Promise<LightningLab & { net: SimNetwork }> {
  const net = new SimNetwork('regtest');
  for (const n of ['mostro', 'buyer', 'seller']) net.addNode(n);
  // The node keeps its certificate and macaroon across restarts, as LND does.
  const tls = { macaroon: crypto.randomBytes(32).toString('hex'), tlsDir: fs.mkdtempSync(path.join(os.tmpdir(), 'lab-tls-')) };
  let sim: SimLndServer = await startSimLnd(net, { node: 'mostro', ...tls });
  // One client for the node's whole life, as the daemon keeps one: it reconnects after a restart.
  const client = ln.authenticatedLndGrpc(sim.credentials).lnd;
  return {
    name: 'lnsim',
    net,
    credentials: () => sim.credentials,
    lnd: () => client,
    mostroPubkey: () => net.node('mostro').pubkey,
    async invoice(wallet, sats, o = {}) {
      const inv = net.createInvoice({ node: wallet, valueSats: sats, expirySecs: o.expirySecs, memo: o.memo });
      return { request: inv.request, hash: inv.hash };
    },
    async heldInvoice(wallet, sats) {
      const preimage = crypto.randomBytes(32);
      const hash = crypto.createHash('sha256').update(preimage).digest('hex');
      const inv = net.createInvoice({ node: wallet, valueSats: sats, hash });
      return { request: inv.request, hash, settle: async () => void net.settleInvoice(preimage.toString('hex')), cancel: async () => void net.cancelInvoice(hash) };
    },
    async pay(wallet, request) {
      net.pay(wallet, request);
    },
    settings: { ...LAB_SETTINGS, paymentWaitMs: 300 }, // payments end at once here
    payment: (hash) => paymentOf(client, hash),
    async paidBy(wallet, hash) {
      const p = net.payments.get(hash);
      return p && p.from === wallet ? p.status : null;
    },
    async balance(wallet) {
      // The simulator keeps no channels: what a wallet was paid less what it paid, fees included.
      let sats = 0;
      for (const inv of net.invoices.values()) if (inv.node === wallet && inv.state === 'SETTLED') sats += inv.amountPaidMsat / 1000;
      for (const p of net.payments.values()) if (p.from === wallet && p.status === 'SUCCEEDED') sats -= p.valueSats + p.feeSats;
      return sats;
    },
    async invoiceState(wallet, hash) {
      const inv = net.invoices.get(hash);
      if (!inv || inv.node !== wallet) throw new Error(`${wallet} has no invoice ${hash}`);
      return inv.state;
    },
    async withPaymentsFailing(wallet, fn) {
      net.setOnline(wallet, false);
      try {
        return await fn();
      } finally {
        net.setOnline(wallet, true);
      }
    },
    blockHeight: async () => net.height,
    mine: async (blocks) => void net.mine(blocks),
    async restartMostro(whileDown) {
      const port = sim.port;
      await sim.close();
      await whileDown?.();
      sim = await startSimLnd(net, { node: 'mostro', ...tls, port });
    },
    async close() {
      await sim.close();
      fs.rmSync(tls.tlsDir, { recursive: true, force: true });
    },
  };
}

/** A real regtest network (btcd and three LND nodes, support/regtest.ts), started for one test file. */
export async function startRegtestLab(): Promise<LightningLab & { regtest: RegtestNetwork }> {
  const regtest = await startRegtest({ log: process.env.REGTEST_LOG ? (l) => console.log(l) : undefined });
  const node = (n: 'mostro' | Wallet) => regtest.nodes[n];
  const mostro = node('mostro');
  // The daemon's client is made once and kept across restarts of its node, as the daemon keeps its own.
  const client = ln.authenticatedLndGrpc({ cert: mostro.cert, macaroon: mostro.macaroon, socket: mostro.grpcSocket }).lnd;
  const credentials = (): LndCredentials => ({ socket: mostro.grpcSocket, cert: mostro.cert, macaroon: Buffer.from(mostro.macaroon, 'base64').toString('hex') });
  return {
    name: 'regtest',
    regtest,
    credentials,
    lnd: () => client,
    mostroPubkey: () => mostro.pubkey,
    // Real payments take a second or two over two hops; a payout step waits for them.
    settings: { ...LAB_SETTINGS, paymentWaitMs: 5_000 },
    async invoice(wallet, sats, o = {}) {
      const inv = await ln.createInvoice({ lnd: node(wallet).lnd, tokens: sats, description: o.memo, expires_at: o.expirySecs ? new Date(Date.now() + o.expirySecs * 1000).toISOString() : undefined });
      return { request: inv.request, hash: inv.id };
    },
    async heldInvoice(wallet, sats) {
      const preimage = crypto.randomBytes(32);
      const hash = crypto.createHash('sha256').update(preimage).digest('hex');
      const lnd = () => node(wallet).lnd;
      const inv = await ln.createHodlInvoice({ lnd: lnd(), id: hash, tokens: sats });
      // A payment to a hold invoice is in flight for the payer only once the payee holds the HTLC.
      const heldByPayee = async () => {
        for (let i = 0; i < 300 && !(await ln.getInvoice({ lnd: lnd(), id: hash })).is_held; i++) await new Promise((r) => setTimeout(r, 100));
      };
      return {
        request: inv.request,
        hash,
        async settle() {
          await heldByPayee();
          await ln.settleHodlInvoice({ lnd: lnd(), secret: preimage.toString('hex') });
        },
        async cancel() {
          await heldByPayee();
          await ln.cancelHodlInvoice({ lnd: lnd(), id: hash });
        },
      };
    },
    async pay(wallet, request) {
      // Sent and left to run: a hold invoice of the daemon keeps it in flight until the daemon decides.
      const sub = ln.subscribeToPayViaRequest({ lnd: node(wallet).lnd, request, max_fee: 1_000 });
      await new Promise<void>((resolve, reject) => {
        sub.once('paying', () => resolve());
        sub.once('confirmed', () => resolve());
        sub.once('failed', (f: unknown) => reject(new Error(`${wallet} could not pay: ${JSON.stringify(f)}`)));
        sub.once('error', (err: unknown) => reject(new Error(`${wallet} could not pay: ${JSON.stringify(err)}`)));
      });
    },
    payment: (hash) => paymentOf(client, hash),
    async paidBy(wallet, hash) {
      return (await paymentOf(node(wallet).lnd, hash))?.status ?? null;
    },
    async balance(wallet) {
      return (await ln.getChannelBalance({ lnd: node(wallet).lnd })).channel_balance;
    },
    async invoiceState(wallet, hash) {
      const inv = await ln.getInvoice({ lnd: node(wallet).lnd, id: hash });
      return inv.is_confirmed ? 'SETTLED' : inv.is_canceled ? 'CANCELED' : inv.is_held ? 'ACCEPTED' : 'OPEN';
    },
    async withPaymentsFailing(wallet, fn) {
      // The payee's node goes offline: its channel is disabled and LND finds no route.
      await regtest.stopNode(wallet);
      try {
        return await fn();
      } finally {
        await regtest.startNode(wallet);
      }
    },
    blockHeight: () => regtest.height(),
    mine: async (blocks) => void (await regtest.mine(blocks)),
    async restartMostro(whileDown) {
      await regtest.stopNode('mostro');
      await whileDown?.();
      await regtest.startNode('mostro');
    },
    close: () => regtest.close(),
  };
}

export interface LabChoice {
  name: 'lnsim' | 'regtest';
  start(): Promise<LightningLab>;
  /** Why this lab cannot run here (its tools are not built); under CI=true a missing tool fails instead. */
  skip: string | false;
}

function regtestSkip(): string | false {
  const avail = regtestAvailable();
  if (avail.ok) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true and the regtest network cannot run: ${avail.reason}`);
  return avail.reason;
}

/** Both networks, for `describe.each(LABS)`: the simulator always, real LND when btcd and LND are built. */
export const LABS: LabChoice[] = [
  { name: 'lnsim', start: startSimLab, skip: false },
  { name: 'regtest', start: startRegtestLab, skip: regtestSkip() },
];
