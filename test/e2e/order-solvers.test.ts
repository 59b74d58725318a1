/**
 * Solvers (protocol.md §24.2–24.3) through the real stack: the admin (the daemon's own key as identity) appoints
 * solvers with permission levels; a solver takes a dispute, settles it (the buyer is paid) or cancels it (the seller
 * is refunded); every permission failure gets the reference's cant-do.
 */
import { randomUUID } from 'node:crypto';
import { nip19 } from 'nostr-tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NostrEvent } from '@mostro/protocol';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { TestDaemon, disputedTrade, type Trader } from '../helpers/daemon.js';

/** A workflow history as text, its payloads (base64 in the history's JSON form) decoded. */
const historyText = (h: unknown): string =>
  JSON.stringify(h, (k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (k === 'data' && typeof v === 'string') return Buffer.from(v, 'base64').toString('utf8');
    return v;
  });

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start();
});
afterAll(async () => {
  await d?.close();
});

// mostro-cli sends a random id with admin-add-solver; the reference's shape rules require one.
const anyId = () => randomUUID();

async function addSolver(admin: Trader, solver: Trader, suffix = ''): Promise<void> {
  await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: `${nip19.npubEncode(solver.identity)}${suffix}` }, tradeIndex: null });
  expect((await admin.next(1, 'admin-add-solver')).json).toMatch(/^\{"dispute":\{"version":2,"request_id":\d+,"trade_index":null,"action":"admin-add-solver","payload":null\}\}$/);
}

describe('admin-add-solver', () => {
  it('the admin appoints read-write and read-only solvers; nobody else can; bad payloads are answered', async () => {
    const admin = d.admin('admin-s1');
    const rw = d.trader('solver-rw-s1');
    const ro = d.trader('solver-ro-s1');
    await addSolver(admin, rw);
    await addSolver(admin, ro, ':read');
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: rw.identity } })).toMatchObject({ isSolver: true, category: 2 });
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: ro.identity } })).toMatchObject({ isSolver: true, category: 1 });
    await addSolver(admin, ro, ':read-write');
    expect((await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: ro.identity } })).category).toBe(2);
    const w = d.trader('solver-w-s1');
    await addSolver(admin, w, ':write');
    expect(await d.db.prisma.user.findUniqueOrThrow({ where: { pubkey: w.identity } })).toMatchObject({ isSolver: true, category: 2 });

    await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: `${nip19.npubEncode(rw.identity)}:admin` }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_parameters' } });
    await admin.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: 'npub1notakey' }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_text_message' } });

    // Not the admin: silently ignored, nothing stored.
    const mallory = d.trader('mallory-s1');
    const victim = d.trader('victim-s1');
    await mallory.send(1, { action: 'admin-add-solver', id: anyId(), payload: { text_message: nip19.npubEncode(victim.identity) }, tradeIndex: null });
    await new Promise((r) => setTimeout(r, 1000));
    expect(mallory.unread(1)).toEqual([]);
    expect(await d.db.prisma.user.findUnique({ where: { pubkey: victim.identity } })).toBeNull();
  });
});

async function disputeStatus(disputeId: string): Promise<string[]> {
  const got: NostrEvent[] = [];
  const sub = d.clientPool.subscribe({ filters: () => [{ kinds: [38386], '#d': [disputeId] }], onEvent: (ev) => void got.push(ev as NostrEvent) });
  await new Promise((r) => setTimeout(r, 300));
  sub.close();
  return got.map((e) => e.tags.find((t) => t[0] === 's')![1]!);
}


describe('solvers resolve disputes', () => {
  it('a read-only solver takes a dispute, a read-write one takes over and settles it: the buyer is paid', async () => {
    const admin = d.admin('admin-s2');
    const ro = d.trader('solver-ro-s2');
    const rw = d.trader('solver-rw-s2');
    const stranger = d.trader('stranger-s2');
    await addSolver(admin, ro, ':read');
    await addSolver(admin, rw);
    const { id, invoice, seller, buyer, disputeId } = await disputedTrade(d, 's2', 'buyer', 8_000);

    // Not a solver: refused.
    const strangerRid = await stranger.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    // The refusal echoes the dispute id the request carried, as the reference's (issue 17).
    expect((await stranger.next(1, 'cant-do')).json).toBe(
      `{"cant-do":{"version":2,"request_id":${strangerRid},"trade_index":null,"id":"${disputeId}","action":"cant-do","payload":{"cant_do":"invalid_pubkey"}}}`,
    );

    // The read-only solver takes it: the case goes to its identity key, both parties learn who decides.
    await ro.listen(0);
    const rid = await ro.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    const took = await ro.next(0, 'admin-took-dispute');
    expect(took.wrapper).toBe('dispute');
    expect(took).toMatchObject({ id: disputeId, request_id: rid });
    const [did, info] = (took.payload as { dispute: [string, Record<string, unknown>] }).dispute;
    expect(did).toBe(disputeId);
    expect(info).toMatchObject({
      id,
      kind: 'sell',
      status: 'dispute',
      order_previous_status: 'fiat-sent',
      initiator_pubkey: buyer.pubkey(1),
      buyer_pubkey: buyer.pubkey(1),
      seller_pubkey: seller.pubkey(1),
      initiator_full_privacy: false,
      counterpart_full_privacy: false,
      initiator_info: { rating: 0, reviews: 0, operating_days: 0 },
      amount: 8_000,
      fiat_amount: 8,
      fee: 24,
    });
    // The escrow's preimage, as the reference sends it (issue 17); the order's history never holds it.
    const preimage = String(info.preimage);
    expect(preimage).toMatch(/^[0-9a-f]{64}$/);
    expect(bytesToHex(sha256(hexToBytes(preimage)))).toBe(info.hash);
    const history = historyText(await d.env.client.workflow.getHandle(`order-${id}`).fetchHistory());
    expect(history).toContain(String(info.hash)); // the payloads were read
    expect(history).not.toContain(preimage);
    for (const party of [buyer, seller]) {
      const m = await party.next(1, 'admin-took-dispute');
      expect(m.json).toBe(`{"order":{"version":2,"request_id":${rid},"trade_index":null,"id":"${id}","action":"admin-took-dispute","payload":{"peer":{"pubkey":"${ro.identity}","reputation":null}}}}`);
    }
    expect(await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).toMatchObject({ status: 'in-progress', solverPubkey: ro.identity });
    expect(await disputeStatus(disputeId)).toEqual(['in-progress']);

    // Read-only: it may look, not decide.
    await ro.send(1, { action: 'admin-settle', id, tradeIndex: null });
    expect(await ro.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_authorized' } });
    // A read-write solver takes over; the read-only one cannot take it back, nor settle another's dispute.
    await rw.listen(0);
    await rw.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    await rw.next(0, 'admin-took-dispute');
    await ro.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    expect(await ro.next(1, 'cant-do')).toMatchObject({ id: disputeId, payload: { cant_do: 'invalid_pubkey' } });
    await ro.send(1, { action: 'admin-settle', id, tradeIndex: null });
    expect(await ro.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'is_not_your_dispute' } });

    // Slashing a side that posted no bond is refused before anything is resolved (bonds.md §14.1).
    await rw.send(1, { action: 'admin-settle', id, tradeIndex: 7, payload: { bond_resolution: { slash_seller: true, slash_buyer: false } } });
    expect(await rw.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_payload' } });
    expect((await d.order(id))?.status).toBe('dispute');
    // A resolution slashing nobody rides along and is kept with the dispute.
    const rid2 = await rw.send(1, { action: 'admin-settle', id, tradeIndex: 7, payload: { bond_resolution: { slash_seller: false, slash_buyer: false } } });
    expect((await rw.next(1, 'admin-settled')).json).toBe(`{"order":{"version":2,"request_id":${rid2},"trade_index":7,"id":"${id}","action":"admin-settled","payload":null}}`);
    expect((await seller.next(1, 'admin-settled')).json).toBe(`{"order":{"version":2,"request_id":null,"trade_index":7,"id":"${id}","action":"admin-settled","payload":null}}`);
    await buyer.next(1, 'admin-settled');
    expect(await buyer.next(1, 'purchase-completed')).toMatchObject({ request_id: null });
    // The buyer's rate invitation echoes the admin-settle's request id, as after a release it echoes the release's.
    expect(await buyer.next(1, 'rate')).toMatchObject({ request_id: rid2, id });
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 8_000 - 24 });
    expect(await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).toMatchObject({
      status: 'settled',
      bondResolution: '{"slash_seller":false,"slash_buyer":false}',
    });
    expect(await disputeStatus(disputeId)).toEqual(['settled']);
  });

  it('the admin takes over and cancels: the escrow returns to the seller; solvers are told it is the admin’s', async () => {
    const admin = d.admin('admin-s3');
    const rw = d.trader('solver-rw-s3');
    await addSolver(admin, rw);
    const { id, holdRequest, seller, buyer, disputeId } = await disputedTrade(d, 's3', 'seller', 5_000);
    await rw.listen(0);
    await rw.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    await rw.next(0, 'admin-took-dispute');

    await admin.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    for (const party of [buyer, seller]) {
      await party.next(1, 'admin-took-dispute'); // the solver's
      expect(await party.next(1, 'admin-took-dispute')).toMatchObject({ payload: { peer: { pubkey: d.mostroPubkey, reputation: null } } });
    }
    await rw.send(1, { action: 'admin-cancel', id, tradeIndex: null });
    expect(await rw.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'dispute_taken_by_admin' } });

    const rid = await admin.send(1, { action: 'admin-cancel', id, tradeIndex: null });
    const expected = (ridText: string) => `{"order":{"version":2,"request_id":${ridText},"trade_index":null,"id":"${id}","action":"admin-canceled","payload":null}}`;
    expect((await admin.next(1, 'admin-canceled')).json).toBe(expected(String(rid)));
    expect((await seller.next(1, 'admin-canceled')).json).toBe(expected(String(rid)));
    expect((await buyer.next(1, 'admin-canceled')).json).toBe(expected(String(rid)));
    await d.waitForStatus(id, 'canceled-by-admin');
    expect([...d.net.invoices.values()].find((i) => i.request === holdRequest)!.state).toBe('CANCELED');
    expect((await d.db.prisma.dispute.findUniqueOrThrow({ where: { id: disputeId } })).status).toBe('seller-refunded');
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);

    // Resolved: nothing more to settle.
    await admin.send(1, { action: 'admin-settle', id, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_order_status' } });
  });

  it('a dispute the parties canceled cooperatively: the solver is told so, nothing else happens', async () => {
    const admin = d.admin('admin-s5');
    const rw = d.trader('solver-rw-s5');
    await addSolver(admin, rw);
    const { id, seller, buyer, disputeId } = await disputedTrade(d, 's5', 'buyer', 4_000);
    await rw.listen(0);
    await rw.send(1, { action: 'admin-take-dispute', id: disputeId, tradeIndex: null });
    await rw.next(0, 'admin-took-dispute');
    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    await d.waitForStatus(id, 'cooperatively-canceled');
    const rid = await rw.send(1, { action: 'admin-settle', id, tradeIndex: 3 });
    expect((await rw.next(1, 'cooperative-cancel-accepted')).json).toBe(
      `{"order":{"version":2,"request_id":${rid},"trade_index":3,"id":"${id}","action":"cooperative-cancel-accepted","payload":null}}`,
    );
    expect((await d.order(id))?.status).toBe('cooperatively-canceled');
  });

  it('an unknown dispute is not found', async () => {
    const admin = d.admin('admin-s4');
    await admin.send(1, { action: 'admin-take-dispute', id: randomUUID(), tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_found' } });
  });
});
