/**
 * The regtest network of support/regtest.ts — btcd and three real LND nodes — is what it claims to be: synced
 * nodes, active announced channels seller ⇄ mostro ⇄ buyer, payments over mostro both ways, a hold invoice on the
 * mostro node that is held and then settled (also across a restart of that node), a restart that keeps the data and
 * ports, and a teardown that leaves no process and no directory.
 *
 * Skipped (with the reason) when btcd or LND is not built (scripts/tools.sh install btcd lnd); under CI=true that is
 * a failure instead.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHANNEL_CAPACITY, NODE_NAMES, processAlive, regtestAvailable, startRegtest, type RegtestNetwork } from '../../support/regtest.js';

const avail = regtestAvailable();
if (!avail.ok && process.env.CI === 'true') throw new Error(`CI: the regtest network needs btcd and LND. ${avail.reason}`);

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
/** The node's channel balance, in msat (sat would round the forwarding fee). */
const balance = async (lnd: ln.AuthenticatedLnd) => Number((await ln.getChannelBalance({ lnd })).channel_balance_mtokens);

/** Polls `f` until it returns something truthy (errors count as "not yet"). */
async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms${last ? `: ${JSON.stringify(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!avail.ok)(`regtest network: btcd + 3 LND${avail.ok ? '' : ` (skipped: ${avail.reason})`}`, () => {
  let net: RegtestNetwork;
  const pids: number[] = [];

  beforeAll(async () => {
    net = await startRegtest({ log: process.env.REGTEST_LOG ? (l) => console.log(l) : undefined });
    pids.push(net.btcd.pid!, ...NODE_NAMES.map((n) => net.nodes[n].pid!));
  }, 180_000);
  afterAll(async () => {
    await net?.close();
  }, 60_000);

  it('three LND nodes on regtest, synced to btcd, each with its own key', async () => {
    const height = await net.height();
    expect(height).toBeGreaterThanOrEqual(432 + 7);
    const infos = await Promise.all(NODE_NAMES.map((n) => ln.getWalletInfo({ lnd: net.nodes[n].lnd })));
    for (const [i, info] of infos.entries()) {
      expect(info.is_synced_to_chain).toBe(true);
      expect(info.current_block_height).toBe(height);
      expect(info.alias).toBe(NODE_NAMES[i]);
      expect(info.public_key).toBe(net.nodes[NODE_NAMES[i]!].pubkey);
      expect(info.version).toMatch(/^0\.19\.3-beta/);
    }
    expect(new Set(infos.map((i) => i.public_key)).size).toBe(3);
    // The credentials as files too (what mostrod's [lightning] settings point at).
    const m = net.nodes.mostro;
    expect(fs.readFileSync(m.certPath).toString('base64')).toBe(m.cert);
    expect(m.grpcSocket).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('channels seller → mostro → buyer are active and announced, with liquidity both ways', async () => {
    const { mostro, buyer, seller } = net.nodes;
    const [ms, bs, ss] = await Promise.all([mostro, buyer, seller].map((n) => ln.getChannels({ lnd: n.lnd })));
    expect(ms!.channels).toHaveLength(2);
    expect(bs!.channels).toHaveLength(1);
    expect(ss!.channels).toHaveLength(1);
    for (const c of [...ms!.channels, ...bs!.channels, ...ss!.channels]) {
      expect(c.is_active).toBe(true);
      expect(c.is_private).toBe(false);
      expect(c.capacity).toBe(CHANNEL_CAPACITY);
      expect(c.local_balance).toBeGreaterThan(1_000_000);
      expect(c.remote_balance).toBeGreaterThan(1_000_000);
    }
    expect(ss!.channels[0]!.partner_public_key).toBe(mostro.pubkey);
    expect(bs!.channels[0]!.partner_public_key).toBe(mostro.pubkey);
    const graph = await ln.getNetworkGraph({ lnd: seller.lnd });
    expect(graph.channels).toHaveLength(2);
    expect(graph.nodes.map((n) => n.alias).sort()).toEqual(['buyer', 'mostro', 'seller']);
  });

  it('seller pays buyer over mostro, and back: balances move by the amount (plus the forwarding fee)', async () => {
    const { mostro, buyer, seller } = net.nodes;
    const [s0, b0, m0] = await Promise.all([seller, buyer, mostro].map((n) => balance(n.lnd)));
    const inv = await ln.createInvoice({ lnd: buyer.lnd, tokens: 100_000, description: 'regtest seller→buyer' });
    const paid = await ln.pay({ lnd: seller.lnd, request: inv.request });
    expect(paid.is_confirmed).toBe(true);
    // Two hops: the seller's channel to mostro, then mostro's to the buyer.
    const [sc, bc] = await Promise.all([seller, buyer].map(async (n) => (await ln.getChannels({ lnd: n.lnd })).channels[0]!.id));
    expect(paid.hops.map((h) => h.channel)).toEqual([sc, bc]);
    expect(sha256(Buffer.from(paid.secret, 'hex'))).toBe(inv.id);
    // `pay` resolves when the seller has the preimage; the others' balances follow once the commitment updates of
    // both channels are complete (a moment later).
    // Under load the three settle at different moments: wait for each to reach its final value, then check them.
    const fee = Number(paid.fee_mtokens);
    const b1 = await until('buyer balance', async () => ((await balance(buyer.lnd)) === b0! + 100_000_000 ? balance(buyer.lnd) : undefined));
    const s1 = await until('seller balance', async () => ((await balance(seller.lnd)) === s0! - 100_000_000 - fee ? balance(seller.lnd) : undefined));
    const m1 = await until('mostro balance', async () => ((await balance(mostro.lnd)) === m0! + fee ? balance(mostro.lnd) : undefined));
    expect(b1! - b0!).toBe(100_000_000);
    expect(s0! - s1!).toBe(100_000_000 + fee);
    expect(m1! - m0!).toBe(fee);
    // The default policy: 1 sat base fee plus 1 ppm.
    expect(paid.fee_mtokens).toBe('1100');

    const back = await ln.createInvoice({ lnd: seller.lnd, tokens: 1_000_000 });
    expect((await ln.pay({ lnd: buyer.lnd, request: back.request })).is_confirmed).toBe(true);
    await until('seller balance', async () => (await balance(seller.lnd)) - s1! === 1_000_000_000);
  });

  it('a hold invoice on mostro, paid by the seller, is held and then settled with the preimage', async () => {
    const { mostro, seller } = net.nodes;
    const preimage = crypto.randomBytes(32);
    const id = sha256(preimage);
    const hold = await ln.createHodlInvoice({ lnd: mostro.lnd, id, tokens: 250_000, cltv_delta: 144, description: 'escrow' });
    expect((await ln.getInvoice({ lnd: mostro.lnd, id })).is_held).toBeFalsy();
    const payment = ln.pay({ lnd: seller.lnd, request: hold.request });
    payment.catch(() => undefined); // awaited below; a failed assertion before must not leave it unhandled
    const held = await until('held invoice', async () => {
      const i = await ln.getInvoice({ lnd: mostro.lnd, id });
      return i.is_held ? i : undefined;
    });
    expect(held.is_confirmed).toBe(false);
    expect(held.payments).toHaveLength(1);
    expect(held.payments[0]!.is_held).toBe(true);
    // The HTLC's expiry: the invoice's CLTV delta on top of the height it arrived at, plus the 3 blocks of padding
    // LND's router adds to the final hop (routing.BlockPadding).
    expect(held.payments[0]!.timeout).toBe((await net.height()) + 144 + 3);
    await ln.settleHodlInvoice({ lnd: mostro.lnd, secret: preimage.toString('hex') });
    const paid = await payment;
    expect(paid.secret).toBe(preimage.toString('hex'));
    const settled = await ln.getInvoice({ lnd: mostro.lnd, id });
    expect(settled.is_confirmed).toBe(true);
    expect(settled.is_held).toBeFalsy();
    expect(settled.received).toBe(250_000);
  });

  it('a canceled hold invoice fails the payer (the refund path)', async () => {
    const { mostro, seller } = net.nodes;
    const id = sha256(crypto.randomBytes(32));
    const hold = await ln.createHodlInvoice({ lnd: mostro.lnd, id, tokens: 10_000 });
    const payment = ln.pay({ lnd: seller.lnd, request: hold.request }).then(
      () => 'paid',
      (err: unknown) => (Array.isArray(err) ? String(err[1]) : String(err)),
    );
    await until('held invoice', async () => (await ln.getInvoice({ lnd: mostro.lnd, id })).is_held);
    await ln.cancelHodlInvoice({ lnd: mostro.lnd, id });
    expect(await payment).toBe('PaymentRejectedByDestination');
    expect((await ln.getInvoice({ lnd: mostro.lnd, id })).is_canceled).toBe(true);
  });

  it('restarts mostro with an accepted hold invoice: same ports and data, still held, then settled', async () => {
    const { mostro, seller } = net.nodes;
    const before = { socket: mostro.grpcSocket, pubkey: mostro.pubkey, pid: mostro.pid };
    const preimage = crypto.randomBytes(32);
    const id = sha256(preimage);
    const hold = await ln.createHodlInvoice({ lnd: mostro.lnd, id, tokens: 30_000 });
    const payment = ln.pay({ lnd: seller.lnd, request: hold.request });
    payment.catch(() => undefined);
    await until('held invoice', async () => (await ln.getInvoice({ lnd: mostro.lnd, id })).is_held);

    await net.stopNode('mostro');
    expect(processAlive(before.pid)).toBe(false);
    expect(mostro.pid).toBeUndefined();
    // The seller sees its channel go inactive; its HTLC stays pending.
    await until('seller channel inactive', async () => !(await ln.getChannels({ lnd: seller.lnd })).channels[0]!.is_active);

    await net.startNode('mostro');
    expect(mostro.grpcSocket).toBe(before.socket);
    expect(mostro.pid).not.toBe(before.pid);
    const info = await ln.getWalletInfo({ lnd: mostro.lnd });
    expect(info.public_key).toBe(before.pubkey);
    expect(info.active_channels_count).toBe(2);
    expect((await ln.getInvoice({ lnd: mostro.lnd, id })).is_held).toBe(true);

    await ln.settleHodlInvoice({ lnd: mostro.lnd, secret: preimage.toString('hex') });
    expect((await payment).secret).toBe(preimage.toString('hex'));
    // And the network routes again after the restart.
    const inv = await ln.createInvoice({ lnd: net.nodes.buyer.lnd, tokens: 5_000 });
    expect((await ln.pay({ lnd: seller.lnd, request: inv.request })).is_confirmed).toBe(true);
    pids.push(mostro.pid!);
  }, 120_000);

  it('mine(n) advances every node', async () => {
    const h = await net.height();
    const hashes = await net.mine(3);
    expect(hashes).toHaveLength(3);
    for (const n of NODE_NAMES) expect((await ln.getWalletInfo({ lnd: net.nodes[n].lnd })).current_block_height).toBe(h + 3);
  });

  it('closes: no process left, the directory removed', async () => {
    await net.close();
    for (const pid of pids) expect(processAlive(pid), `pid ${pid}`).toBe(false);
    expect(fs.existsSync(net.dir)).toBe(false);
  }, 60_000);
});
