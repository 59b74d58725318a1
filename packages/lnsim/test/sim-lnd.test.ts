/**
 * The simulated LND through the real `lightning` client over TLS gRPC: node info, the hold-invoice state machine
 * (OPEN → ACCEPTED → SETTLED / CANCELED, CLTV expiry by blocks), plain invoices, decoding, and payments that
 * succeed, fail, or stay in flight — recorded by hash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import * as ln from 'lightning';
import { SimNetwork } from '../src/network.js';
import { startSimLnd, type SimLndServer } from '../src/lnd-grpc.js';

const net = new SimNetwork('regtest');
net.addNode('mostro');
net.addNode('alice');
let sim: SimLndServer;
let lnd: ln.AuthenticatedLnd;

beforeAll(async () => {
  sim = await startSimLnd(net, { node: 'mostro' });
  ({ lnd } = ln.authenticatedLndGrpc(sim.credentials));
});
afterAll(async () => {
  await sim?.close();
});

const preimage = () => crypto.randomBytes(32);
const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Records every update; `until` resolves on the first matching one, past or future. (`lightning` cancels the
 *  subscription when its last listener goes, so one listener stays for the whole test.) */
function watch(sub: ReturnType<typeof ln.subscribeToInvoice>) {
  const seen: ln.SubscribeToInvoiceInvoiceUpdatedEvent[] = [];
  const waiters: { pred: (i: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => boolean; resolve: (i: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => void }[] = [];
  sub.on('invoice_updated', (i: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => {
    seen.push(i);
    for (const w of waiters.filter((x) => x.pred(i))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(i);
    }
  });
  return {
    until: (pred: (i: ln.SubscribeToInvoiceInvoiceUpdatedEvent) => boolean) =>
      new Promise<ln.SubscribeToInvoiceInvoiceUpdatedEvent>((resolve) => {
        const hit = seen.find(pred);
        if (hit) resolve(hit);
        else waiters.push({ pred, resolve });
      }),
  };
}

describe('simulated LND with the lightning client', () => {
  it('reports node info: regtest, block height, pubkey', async () => {
    const info = await ln.getWalletInfo({ lnd });
    expect(info.public_key).toBe(net.node('mostro').pubkey);
    expect(info.current_block_height).toBe(net.height);
    expect(info.chains).toHaveLength(1);
    expect(info.alias).toBe('mostro');
  });

  it('rejects a wrong macaroon the way LND does', async () => {
    const { lnd: bad } = ln.authenticatedLndGrpc({ ...sim.credentials, macaroon: '00'.repeat(32) });
    await expect(ln.getWalletInfo({ lnd: bad })).rejects.toSatisfy((e: unknown) => JSON.stringify(e).includes('verification failed'));
  });

  it('runs a hold invoice through OPEN → ACCEPTED → SETTLED', async () => {
    const secret = preimage();
    const id = sha(secret);
    const hold = await ln.createHodlInvoice({ lnd, id, tokens: 5000, description: 'escrow', expires_at: new Date(Date.now() + 900_000).toISOString(), cltv_delta: 144 });
    expect(hold.request).toMatch(/^lnbcrt50u1/);
    const sub = ln.subscribeToInvoice({ lnd, id });
    const updates = watch(sub);
    net.pay('alice', hold.request); // the seller's wallet pays
    expect((await updates.until((i) => i.is_held === true)).received).toBe(5000);
    expect(net.payments.get(id)!.status).toBe('IN_FLIGHT');
    await ln.settleHodlInvoice({ lnd, secret: secret.toString('hex') });
    expect((await updates.until((i) => i.is_confirmed === true)).secret).toBe(secret.toString('hex'));
    sub.removeAllListeners();
    const got = await ln.getInvoice({ lnd, id });
    expect(got.is_confirmed).toBe(true);
    expect(net.payments.get(id)!.status).toBe('SUCCEEDED');
  });

  it('cancels a hold invoice, and LND-style cancels it at the CLTV horizon', async () => {
    const id = sha(preimage());
    const hold = await ln.createHodlInvoice({ lnd, id, tokens: 1000, cltv_delta: 40 });
    net.pay('alice', hold.request);
    await ln.cancelHodlInvoice({ lnd, id });
    expect((await ln.getInvoice({ lnd, id })).is_canceled).toBe(true);
    expect(net.payments.get(id)!.status).toBe('FAILED');

    const id2 = sha(preimage());
    const hold2 = await ln.createHodlInvoice({ lnd, id: id2, tokens: 1000, cltv_delta: 40 });
    net.pay('alice', hold2.request);
    // As LND: the HTLC expires 40 + 3 (the payer's padding) blocks after it was accepted, and is given back 12 before.
    net.mine(30);
    expect((await ln.getInvoice({ lnd, id: id2 })).is_held).toBe(true);
    net.mine(1);
    expect((await ln.getInvoice({ lnd, id: id2 })).is_canceled).toBe(true);
  });

  it('creates and decodes a plain invoice', async () => {
    const inv = await ln.createInvoice({ lnd, tokens: 2100, description: 'payout' });
    const decoded = await ln.decodePaymentRequest({ lnd, request: inv.request });
    expect(decoded.tokens).toBe(2100);
    expect(decoded.description).toBe('payout');
    expect(decoded.destination).toBe(net.node('mostro').pubkey);
  });

  it('pays a wallet invoice and records it once; a second payment to the hash is refused', async () => {
    const inv = net.createInvoice({ node: 'alice', valueSats: 7000, memo: 'buyer payout' });
    const paid = await ln.pay({ lnd, request: inv.request });
    expect(paid.secret).toBe(inv.preimage);
    expect(paid.tokens).toBe(7000);
    expect(net.payments.get(inv.hash)!.attempts).toBe(1);
    await expect(ln.pay({ lnd, request: inv.request })).rejects.toBeDefined();
    expect(net.payments.get(inv.hash)!.attempts).toBe(1);
    const looked = await ln.getPayment({ lnd, id: inv.hash });
    expect(looked.is_confirmed).toBe(true);
  });

  it('fails a payment on demand, and lets an in-flight payment finish later', async () => {
    const inv = net.createInvoice({ node: 'alice', valueSats: 100 });
    net.failNextPayment('FAILURE_REASON_NO_ROUTE');
    await expect(ln.pay({ lnd, request: inv.request })).rejects.toSatisfy((e: unknown) => JSON.stringify(e).includes('PaymentPathfindingFailedToFindPossibleRoute') || JSON.stringify(e).includes('Route'));
    expect(net.payments.get(inv.hash)!.status).toBe('FAILED');

    const inv2 = net.createInvoice({ node: 'alice', valueSats: 200 });
    net.holdNextPayment();
    const paying = ln.pay({ lnd, request: inv2.request });
    await new Promise((r) => setTimeout(r, 100));
    expect((await ln.getPayment({ lnd, id: inv2.hash })).is_pending).toBe(true);
    net.releaseHeld();
    expect((await paying).secret).toBe(inv2.preimage);
  });
});
