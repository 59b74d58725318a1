/**
 * Taker bonds through the real stack (bonds.md §10–15): traders sending real Nostr messages to the daemon, bond hold
 * invoices paid on the simulated Lightning network, the invoice watcher, embedded Temporal with time skipping,
 * PostgreSQL. The bond is requested on take, the first lock wins, it is released on honest exits and slashed by a
 * solver or a real waiting timeout — then the honest counterparty claims its share through `add-bond-invoice`.
 */
import { withoutTimeSkipping } from '../helpers/temporal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showTrade } from '../../src/admin/support.js';
import { testBondSettings } from '../helpers/bonds.js';
import { TestDaemon, disputeTakenByAdmin, escrowInvoice, holdInvoiceOf, invoiceState, openOrder, orderOf, waitFor, type Received } from '../helpers/daemon.js';

const BOND = testBondSettings();

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start({ settings: { bond: BOND } });
});
afterAll(async () => {
  await d?.close();
});

const bondRequestOf = (m: Received) => holdInvoiceOf(m);
const hashOf = (request: string, on = d) => [...on.net.invoices.values()].find((i) => i.request === request)!.hash;
const stateOf = (request: string, on = d) => invoiceState(on, request);

const bondRow = (hash: string, on = d) => on.db.prisma.bond.findUnique({ where: { hash } });

/** A 100,000-sat sell order taken by `buyer` (no invoice) whose bond is locked: the buyer is asked for an invoice. */
async function bondedSellTake(name: string, on = d) {
  const seller = on.trader(`seller-${name}`);
  const buyer = on.trader(`buyer-${name}`);
  const id = await openOrder(seller, 1, { kind: 'sell', amount: 100_000, fiatAmount: 100, fiatCode: 'USD' });
  await buyer.send(1, { action: 'take-sell', id });
  const ask = await buyer.next(1, 'pay-bond-invoice');
  const bond = bondRequestOf(ask);
  on.net.pay('buyer', bond);
  await buyer.next(1, 'add-invoice');
  return { id, seller, buyer, bond };
}

/** {@link bondedSellTake}, then the buyer sends its payout invoice and the seller locks the escrow. */
async function bondedActiveTrade(name: string, on = d) {
  const trade = await bondedSellTake(name, on);
  const { id, seller, buyer } = trade;
  const payout = on.net.createInvoice({ node: 'buyer', valueSats: 100_000 - 300, expirySecs: 7200 });
  await buyer.send(1, { action: 'add-invoice', id, payload: { payment_request: [null, payout.request, null] }, tradeIndex: null });
  on.net.pay('seller', await escrowInvoice(seller));
  await seller.next(1, 'buyer-took-order');
  return trade;
}

describe('taker bonds', () => {
  it('a take asks for the bond; the order stays pending on the wire; once locked the trade runs and success releases it', async () => {
    const seller = d.trader('seller-b1');
    const buyer = d.trader('buyer-b1');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 100_000, fiatAmount: 100, fiatCode: 'USD' });
    const rid = await buyer.send(1, { action: 'take-sell', id });
    const ask = await buyer.next(1, 'pay-bond-invoice');
    expect(ask.request_id).toBe(rid);
    expect(ask.trade_index).toBe(1);
    expect((ask.payload as { payment_request: [unknown, string, null] }).payment_request[0]).toEqual({
      id,
      kind: 'sell',
      status: 'pending',
      amount: 1000,
      fiat_code: 'USD',
      min_amount: null,
      max_amount: null,
      fiat_amount: 100,
      payment_method: 'face to face',
      premium: 0,
      created_at: null,
      expires_at: null,
    });
    const bond = bondRequestOf(ask);
    const inv = [...d.net.invoices.values()].find((i) => i.request === bond)!;
    expect(inv).toMatchObject({ hold: true, valueSats: 1000, memo: `mostro bond order_id=${id}` });
    // Nothing reaches the seller yet; the book still offers the order.
    expect((await d.waitForStatus(id, 'waiting-taker-bond')).buyerPubkey).toBeNull();
    expect((await d.orderEvent(id))?.s).toEqual(['pending']);
    expect(seller.unread(1)).toEqual([]);
    expect(await bondRow(inv.hash)).toMatchObject({ orderId: id, role: 'taker', pubkey: buyer.pubkey(1), state: 'requested', amountSats: 1000n });

    // The buyer locks the bond: the trade starts as an ordinary take would have.
    d.net.pay('buyer', bond);
    const addInvoice = await buyer.next(1, 'add-invoice');
    expect(addInvoice.request_id).toBe(rid);
    await seller.next(1, 'waiting-buyer-invoice');
    await waitFor('bond locked', async () => (await bondRow(inv.hash))?.state === 'locked');
    // Support staff see the bond and when it will be let go before LND's CLTV cancel (mostro admin show).
    const views = await showTrade(d.env.client, id);
    expect(views.bonds).toHaveLength(1);
    expect(views.bonds[0]).toMatchObject({ role: 'taker', state: 'locked', pubkey: buyer.pubkey(1), amountSats: 1000 });
    expect(views.bonds[0]!.releaseBy).toBe(views.bonds[0]!.lockedAt! + (144 - 24) * 600);

    const payout = d.net.createInvoice({ node: 'buyer', valueSats: 100_000 - 300, expirySecs: 7200 });
    await buyer.send(1, { action: 'add-invoice', id, payload: { payment_request: [null, payout.request, null] }, tradeIndex: null });
    d.net.pay('seller', await escrowInvoice(seller));
    await seller.next(1, 'buyer-took-order');
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    // Released, never settled: the buyer's bond HTLC went back.
    await waitFor('bond released', () => stateOf(bond) === 'CANCELED');
    expect(d.net.payments.get(inv.hash)?.status).toBe('FAILED');
    await waitFor('bond row released', async () => (await bondRow(inv.hash))?.state === 'released');
  });

  it('many takers lock at once: exactly one wins, every other bond is released and its taker told canceled', async () => {
    const seller = d.trader('seller-b2');
    const takers = Array.from({ length: 6 }, (_, i) => d.trader(`buyer-b2-${i}`));
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 50_000, fiatAmount: 50, fiatCode: 'USD' });
    const bonds: string[] = [];
    for (const t of takers) {
      await t.send(1, { action: 'take-sell', id });
      bonds.push(bondRequestOf(await t.next(1, 'pay-bond-invoice')));
    }
    // The same taker again with another trade key is another take (its own bond); with the same key, the same bond.
    await takers[0]!.send(2, { action: 'take-sell', id });
    const second = bondRequestOf(await takers[0]!.next(2, 'pay-bond-invoice'));
    expect(second).not.toBe(bonds[0]);
    d.net.cancelInvoice(hashOf(second));
    await takers[0]!.send(1, { action: 'take-sell', id, tradeIndex: 3, requestId: 4242 });
    const again = await takers[0]!.next(1, 'pay-bond-invoice');
    expect([again.request_id, again.trade_index, bondRequestOf(again)]).toEqual([4242, 1, bonds[0]]);

    // Everyone pays at the same moment.
    for (const b of bonds) d.net.pay('buyer', b);
    const outcomes = await Promise.all(
      takers.map(async (t) => {
        for (;;) {
          const m = await t.next(1);
          if (m.action === 'add-invoice' || m.action === 'canceled') return m.action;
        }
      }),
    );
    expect(outcomes.filter((a) => a === 'add-invoice')).toHaveLength(1);
    expect(outcomes.filter((a) => a === 'canceled')).toHaveLength(5);
    const winner = takers[outcomes.indexOf('add-invoice')]!;
    const order = await d.waitForStatus(id, 'waiting-buyer-invoice');
    expect(order.buyerPubkey).toBe(winner.pubkey(1));
    // Exactly one bond is held; the losers' HTLCs went back to them.
    await waitFor('losers released', () => bonds.filter((b) => stateOf(b) === 'CANCELED').length === 5);
    expect(bonds.filter((b) => stateOf(b) === 'ACCEPTED')).toHaveLength(1);
    expect(await d.db.prisma.bond.count({ where: { orderId: id, state: 'locked' } })).toBe(1);
    // The order is committed: a newcomer is refused.
    const late = d.trader('buyer-b2-late');
    await late.send(1, { action: 'take-sell', id });
    expect(await late.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_order_status' } });
  });

  it('cancels before the lock: a taker releases only its own bond; the maker cancels for everyone', async () => {
    const seller = d.trader('seller-b3');
    const [a, b] = [d.trader('buyer-b3-a'), d.trader('buyer-b3-b')];
    const stranger = d.trader('stranger-b3');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 20_000, fiatAmount: 20, fiatCode: 'USD' });
    await a.send(1, { action: 'take-sell', id });
    const bondA = bondRequestOf(await a.next(1, 'pay-bond-invoice'));
    await b.send(1, { action: 'take-sell', id });
    const bondB = bondRequestOf(await b.next(1, 'pay-bond-invoice'));

    await stranger.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await stranger.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'is_not_your_order' } });
    await a.send(1, { action: 'cancel', id, tradeIndex: null });
    await a.next(1, 'canceled');
    await waitFor('a released', () => stateOf(bondA) === 'CANCELED');
    expect(stateOf(bondB)).toBe('OPEN');
    expect((await d.order(id))?.status).toBe('waiting-taker-bond');
    expect(seller.unread(1)).toEqual([]);

    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    await seller.next(1, 'canceled');
    await b.next(1, 'canceled');
    await waitFor('b released', () => stateOf(bondB) === 'CANCELED');
    await d.waitForStatus(id, 'canceled');
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
  });

  it('a seller taking a buy order sees pay-bond-invoice first and the escrow pay-invoice only once the bond locks', async () => {
    const buyer = d.trader('buyer-b9');
    const seller = d.trader('seller-b9');
    const id = await openOrder(buyer, 1, { kind: 'buy', amount: 30_000, fiatAmount: 30, fiatCode: 'USD' });
    const rid = await seller.send(1, { action: 'take-buy', id });
    const ask = await seller.next(1);
    expect(ask).toMatchObject({ action: 'pay-bond-invoice', request_id: rid });
    expect(seller.unread(1)).toEqual([]);
    d.net.pay('seller', bondRequestOf(ask));
    const escrow = await seller.next(1, 'pay-invoice');
    expect(escrow.request_id).toBe(rid);
    expect((escrow.payload as { payment_request: [Record<string, unknown>, string, null] }).payment_request[0]).toMatchObject({ amount: 30_000 + 90 });
    expect((await d.order(id))?.sellerPubkey).toBe(seller.pubkey(1));
  });

  it('a bond never paid: LND cancels it and the order is pending again', async () => {
    const seller = d.trader('seller-b4');
    const buyer = d.trader('buyer-b4');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 20_000, fiatAmount: 20, fiatCode: 'USD' });
    await buyer.send(1, { action: 'take-sell', id });
    const bond = bondRequestOf(await buyer.next(1, 'pay-bond-invoice'));
    await d.waitForStatus(id, 'waiting-taker-bond');
    d.net.cancelInvoice(hashOf(bond));
    await d.waitForStatus(id, 'pending');
    // The workflow's state changes before the decision's commit lands: the projection follows.
    await waitFor('the bond row released', async () => (await bondRow(hashOf(bond)))?.state === 'released');
  });
});

describe('slashing', () => {
  it('a solver slashes the buyer in a dispute: the bond is settled, the seller claims its half through add-bond-invoice', async () => {
    const { id, seller, buyer, bond } = await bondedActiveTrade('b5');
    const { admin } = await disputeTakenByAdmin(d, id, seller, 1, buyer, 1, 'admin-b5');
    // The maker posted no bond (apply_to = take): slashing the seller is refused and nothing is resolved.
    await admin.send(1, { action: 'admin-cancel', id, payload: { bond_resolution: { slash_seller: true, slash_buyer: false } }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_payload' } });
    expect((await d.order(id))?.status).toBe('dispute');

    await admin.send(1, { action: 'admin-cancel', id, payload: { bond_resolution: { slash_seller: false, slash_buyer: true } }, tradeIndex: null });
    await admin.next(1, 'admin-canceled');
    const slashed = await buyer.next(1, 'bond-slashed');
    expect(orderOf(slashed)).toMatchObject({ id, amount: 1000, status: null });
    await d.waitForStatus(id, 'canceled-by-admin');
    // Settled into the node at slash time, exactly once.
    await waitFor('bond settled', () => stateOf(bond) === 'SETTLED');
    expect(await bondRow(hashOf(bond))).toMatchObject({ state: 'pending-payout', slashedReason: 'lost-dispute', nodeShareSats: 500n, payoutRecipient: seller.pubkey(1) });

    // The seller is asked for an invoice for its share and gets paid once.
    const ask = await seller.next(1, 'add-bond-invoice');
    expect((ask.payload as { bond_payout_request: { order: { amount: number }; slashed_at: number } }).bond_payout_request.order.amount).toBe(500);
    // Someone else cannot claim it.
    await buyer.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, d.net.createInvoice({ node: 'buyer', valueSats: 500, expirySecs: 7200 }).request, null] }, tradeIndex: null });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });
    const claim = d.net.createInvoice({ node: 'seller', valueSats: 500, expirySecs: 7200 });
    await seller.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, claim.request, null] }, tradeIndex: null });
    expect(orderOf(await seller.next(1, 'bond-invoice-accepted'))).toMatchObject({ amount: 500 });
    expect(orderOf(await seller.next(1, 'bond-payout-completed'))).toMatchObject({ amount: 500 });
    expect(d.net.payments.get(claim.hash)).toMatchObject({ status: 'SUCCEEDED', valueSats: 500, attempts: 1 });
    await waitFor('bond row slashed', async () => (await bondRow(hashOf(bond)))?.state === 'slashed');
    // A second invoice is refused: the share was paid.
    const again = d.net.createInvoice({ node: 'seller', valueSats: 500, expirySecs: 7200 });
    await seller.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, again.request, null] }, tradeIndex: null });
    expect(await seller.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });
  });

  // Sleeps through the 15-minute waiting window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('a buyer silent past the waiting window is slashed; the maker is still paid (the recipient was recorded)', async () => {
    const { id, seller, buyer, bond } = await bondedSellTake('b6');
    await seller.next(1, 'waiting-buyer-invoice');
    await d.env.sleep('15 minutes');
    const slashed = await buyer.next(1, 'bond-slashed');
    expect(orderOf(slashed)).toMatchObject({ amount: 1000 });
    await buyer.next(1, 'canceled');
    await seller.next(1, 'new-order');
    await d.waitForStatus(id, 'pending');
    await waitFor('bond settled', () => stateOf(bond) === 'SETTLED');
    expect(await bondRow(hashOf(bond))).toMatchObject({ state: 'pending-payout', slashedReason: 'timeout', payoutRecipient: seller.pubkey(1) });
    // The taker side was cleared from the order, yet the seller is asked for its share (the reference forfeits here).
    const ask = await seller.next(1, 'add-bond-invoice');
    expect(ask.id).toBe(id);
    // A Lightning address is resolved for exactly the share when it is paid (bonds.md §20 item 3).
    const paidBefore = [...d.net.payments.values()].filter((p) => p.status === 'SUCCEEDED').length;
    await seller.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, d.lnurl.addressOf('seller'), null] }, tradeIndex: null });
    await seller.next(1, 'bond-invoice-accepted');
    await seller.next(1, 'bond-payout-completed');
    const paid = [...d.net.payments.values()].filter((p) => p.status === 'SUCCEEDED').slice(paidBefore);
    const toSeller = paid.filter((p) => d.net.invoices.get(p.hash)?.node === 'seller');
    expect(toSeller.map((p) => [p.valueSats, p.attempts])).toEqual([[500, 1]]);
  });

  // Sleeps through a 20-hour dispute: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('a bond held through a long dispute is released before LND would cancel it at its CLTV expiry', async () => {
    // A daemon of its own: skipping 20 hours wakes every workflow the other tests left running (payout claim windows,
    // expiries), so on a shared one this test's duration would depend on them and on how busy the machine is.
    const own = await TestDaemon.start({ settings: { bond: BOND } });
    try {
      const { id, seller, bond } = await bondedActiveTrade('b10', own);
      await seller.send(1, { action: 'dispute', id, tradeIndex: null });
      await seller.next(1, 'dispute-initiated-by-you');
      const { releaseBy } = (await showTrade(own.env.client, id)).bonds[0]!;
      expect(releaseBy).not.toBeNull();
      // (144 − 24 margin blocks) × 10 min after the lock: released deliberately, the trade goes on.
      await own.env.sleep('20 hours');
      await waitFor('bond released by the guard', () => stateOf(bond, own) === 'CANCELED');
      await waitFor('the bond row released', async () => (await bondRow(hashOf(bond, own), own))?.state === 'released');
      expect((await own.order(id))?.status).toBe('dispute');
    } finally {
      await own.close();
    }
  });

  // Sleeps through 5 minutes of the waiting window: needs time skipping (the embedded server).
  it.skipIf(withoutTimeSkipping)('a cancel before the timeout never slashes: the taker leaves, its bond goes back', async () => {
    const { id, seller, buyer, bond } = await bondedSellTake('b7');
    await d.env.sleep('5 minutes');
    await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    await buyer.next(1, 'canceled');
    await seller.next(1, 'new-order');
    await waitFor('bond released', () => stateOf(bond) === 'CANCELED');
    expect(await bondRow(hashOf(bond))).toMatchObject({ state: 'released', slashedReason: null });
  });
});

describe('bond payout invoices (ingress)', () => {
  it('add-bond-invoice from someone owed nothing is not_allowed_by_status; without an invoice invalid_invoice', async () => {
    const t = d.trader('nobody-b8');
    const id = '2c8b5ae6-0b65-4e6f-9b0b-5c1d3b7f2a11';
    await t.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, d.net.createInvoice({ node: 'buyer', valueSats: 10, expirySecs: 600 }).request, null] }, tradeIndex: null });
    expect(await t.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'not_allowed_by_status' } });
    await t.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, ' ', null] }, tradeIndex: null });
    expect(await t.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_invoice' } });
  });
});
