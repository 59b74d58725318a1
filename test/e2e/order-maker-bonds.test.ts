/**
 * Maker bonds through the real stack (bonds.md §12): an order is invisible until its maker's bond locks; an
 * abandoned bond leaves no phantom order; a solver can slash the maker; a range maker's bond follows the range from
 * slice to slice, a slashed slice is paid out when the range closes and the rest goes back to the maker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testBondSettings } from '../helpers/bonds.js';
import { TestDaemon, disputeTakenByAdmin, escrowInvoice, holdInvoiceOf, invoiceState, newOrderPayload, orderOf, waitFor, type Trader } from '../helpers/daemon.js';

const BOND = testBondSettings({ applyTo: 'make' });

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start({ settings: { bond: BOND } });
});
afterAll(async () => {
  await d?.close();
});

const stateOf = (request: string) => invoiceState(d, request);



/** A new order whose maker is asked for a bond; returns the order id and the bond invoice (not paid yet). */
async function bondedOrder(maker: Trader, o: Parameters<typeof newOrderPayload>[0]) {
  const rid = await maker.send(1, { action: 'new-order', payload: newOrderPayload(o) });
  const ask = await maker.next(1);
  expect(ask).toMatchObject({ action: 'pay-bond-invoice', request_id: rid, trade_index: 1 });
  return { id: ask.id!, bond: holdInvoiceOf(ask), rid };
}

describe('maker bonds', () => {
  it('the order is published only once the maker’s bond locks; a solver can slash the maker, the taker is paid', async () => {
    const seller = d.trader('seller-m1');
    const buyer = d.trader('buyer-m1');
    const { id, bond, rid } = await bondedOrder(seller, { kind: 'sell', amount: 100_000, fiatAmount: 100, fiatCode: 'USD' });
    expect(await d.orderEvent(id)).toBeUndefined();
    expect((await d.order(id))?.status).toBe('waiting-maker-bond');
    // Nobody can take it yet.
    await buyer.send(1, { action: 'take-sell', id });
    expect(await buyer.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_order_status' } });

    d.net.pay('seller', bond);
    const ack = await seller.next(1, 'new-order');
    expect(ack).toMatchObject({ id, request_id: rid, trade_index: 1 });
    expect(orderOf(ack)).toMatchObject({ status: 'pending', amount: 100_000 });
    expect((await d.orderEvent(id))?.s).toEqual(['pending']);

    // Takers post nothing under apply_to = make.
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 99_700, expirySecs: 7200 });
    await buyer.send(2, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    d.net.pay('seller', await escrowInvoice(seller));
    await seller.next(1, 'buyer-took-order');
    const { admin } = await disputeTakenByAdmin(d, id, buyer, 2, buyer, 2, 'admin-m1');
    // The taker posted no bond: it cannot be slashed.
    await admin.send(1, { action: 'admin-settle', id, payload: { bond_resolution: { slash_seller: false, slash_buyer: true } }, tradeIndex: null });
    expect(await admin.next(1, 'cant-do')).toMatchObject({ payload: { cant_do: 'invalid_payload' } });
    // The seller (maker) lost: the buyer is paid the trade and half the bond.
    await admin.send(1, { action: 'admin-settle', id, payload: { bond_resolution: { slash_seller: true, slash_buyer: false } }, tradeIndex: null });
    await admin.next(1, 'admin-settled');
    expect(orderOf(await seller.next(1, 'bond-slashed'))).toMatchObject({ amount: 1000 });
    await waitFor('maker bond settled', () => stateOf(bond) === 'SETTLED');
    await buyer.next(2, 'purchase-completed');
    const ask = await buyer.next(2, 'add-bond-invoice');
    expect(ask.id).toBe(id);
    const claim = d.net.createInvoice({ node: 'buyer', valueSats: 500, expirySecs: 7200 });
    await buyer.send(2, { action: 'add-bond-invoice', id, payload: { payment_request: [null, claim.request, null] }, tradeIndex: null });
    await buyer.next(2, 'bond-payout-completed');
    expect(d.net.payments.get(claim.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
    expect(await d.db.prisma.bond.findFirst({ where: { orderId: id, role: 'maker' } })).toMatchObject({ state: 'slashed', slashedReason: 'lost-dispute', payoutRecipient: buyer.pubkey(2) });
  });

  it('an abandoned maker bond leaves no phantom order: it expires without ever reaching the book', async () => {
    const seller = d.trader('seller-m2');
    const { id, bond } = await bondedOrder(seller, { kind: 'sell', amount: 20_000, fiatAmount: 20, fiatCode: 'USD' });
    await d.env.sleep('25 hours');
    await d.waitForStatus(id, 'expired');
    expect(await d.orderEvent(id)).toBeUndefined();
    await waitFor('bond released', () => stateOf(bond) === 'CANCELED');
  });

  it('a seller-maker who never pays the escrow is slashed when its waiting window runs out; the taker is paid', async () => {
    const seller = d.trader('seller-m4');
    const buyer = d.trader('buyer-m4');
    const { id, bond } = await bondedOrder(seller, { kind: 'sell', amount: 50_000, fiatAmount: 50, fiatCode: 'USD' });
    d.net.pay('seller', bond);
    await seller.next(1, 'new-order');
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 50_000 - 150, expirySecs: 7200 });
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    await escrowInvoice(seller);
    await d.env.sleep('15 minutes');
    expect(orderOf(await seller.next(1, 'bond-slashed'))).toMatchObject({ amount: 1000 });
    await seller.next(1, 'canceled');
    await buyer.next(1, 'canceled');
    await d.waitForStatus(id, 'canceled');
    await waitFor('maker bond settled', () => stateOf(bond) === 'SETTLED');
    expect((await buyer.next(1, 'add-bond-invoice')).id).toBe(id);
    expect(await d.db.prisma.bond.findFirst({ where: { orderId: id, role: 'maker' } })).toMatchObject({ slashedReason: 'timeout', payoutRecipient: buyer.pubkey(1), nodeShareSats: 500n });
  });

  it('a range maker’s bond follows the range; a slashed slice is paid at the close and the rest refunded to the maker', async () => {
    const seller = d.trader('seller-m3');
    const buyer = d.trader('buyer-m3');
    const buyer2 = d.trader('buyer2-m3');
    // 10–100 USD at 100,000 USD/BTC: the bond is 1 % of 100,000 sats.
    const { id, bond } = await bondedOrder(seller, { kind: 'sell', min: 10, max: 100, fiatCode: 'USD' });
    expect([...d.net.invoices.values()].find((i) => i.request === bond)?.valueSats).toBe(1000);
    d.net.pay('seller', bond);
    await seller.next(1, 'new-order');

    // First slice (30 USD) completes; the remainder is a child order holding the same bond.
    await buyer.send(1, { action: 'take-sell', id, payload: { amount: 30 } });
    const ask = await buyer.next(1, 'add-invoice');
    const net = Number(orderOf(ask).amount);
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: net, expirySecs: 7200 });
    await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, inv.request, null] } });
    d.net.pay('seller', await escrowInvoice(seller));
    await seller.next(1, 'buyer-took-order');
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.listen(2);
    await seller.send(1, { action: 'release', id, tradeIndex: null, payload: { next_trade: [seller.pubkey(2), 2] } });
    const child = String(orderOf(await seller.next(2, 'new-order')).id);
    await buyer.next(1, 'purchase-completed');
    expect(stateOf(bond)).toBe('ACCEPTED');
    // The invoice watcher now reports the bond to the remainder order's workflow.
    const bondHash = [...d.net.invoices.values()].find((i) => i.request === bond)!.hash;
    await waitFor('bond adopted', async () => (await d.db.prisma.holdInvoice.findUnique({ where: { paymentHash: bondHash } }))?.workflowId === `order-${child}`);
    expect(await d.db.prisma.bond.findFirst({ where: { hash: [...d.net.invoices.values()].find((i) => i.request === bond)!.hash } })).toMatchObject({ state: 'locked', orderId: id });

    // Second slice (40 USD) ends in a dispute the maker loses: 40 % of the bond is owed to that buyer, settled later.
    await buyer2.send(1, { action: 'take-sell', id: child, payload: { amount: 40 } });
    const ask2 = await buyer2.next(1, 'add-invoice');
    const inv2 = d.net.createInvoice({ node: 'buyer', valueSats: Number(orderOf(ask2).amount), expirySecs: 7200 });
    await buyer2.send(1, { action: 'add-invoice', id: child, tradeIndex: null, payload: { payment_request: [null, inv2.request, null] } });
    d.net.pay('seller', await escrowInvoice(seller, 2));
    await seller.next(2, 'buyer-took-order');
    const { admin } = await disputeTakenByAdmin(d, child, buyer2, 1, buyer2, 1, 'admin-m3');
    await admin.send(1, { action: 'admin-cancel', id: child, payload: { bond_resolution: { slash_seller: true, slash_buyer: false } }, tradeIndex: null });
    await admin.next(1, 'admin-canceled');
    expect(orderOf(await seller.next(2, 'bond-slashed'))).toMatchObject({ amount: 400 });
    // The slice ended the range: the bond is settled once, the buyer is owed 200, the maker gets 600 back.
    await waitFor('range bond settled', () => stateOf(bond) === 'SETTLED');
    const claim = d.net.createInvoice({ node: 'buyer', valueSats: 200, expirySecs: 7200 });
    expect((await buyer2.next(1, 'add-bond-invoice')).id).toBe(child);
    await buyer2.send(1, { action: 'add-bond-invoice', id: child, payload: { payment_request: [null, claim.request, null] }, tradeIndex: null });
    await buyer2.next(1, 'bond-payout-completed');
    const refund = await seller.next(1, 'add-bond-invoice');
    expect(refund.id).toBe(id);
    expect((refund.payload as { bond_payout_request: { order: { amount: number } } }).bond_payout_request.order.amount).toBe(600);
    const back = d.net.createInvoice({ node: 'seller', valueSats: 600, expirySecs: 7200 });
    await seller.send(1, { action: 'add-bond-invoice', id, payload: { payment_request: [null, back.request, null] }, tradeIndex: null });
    await seller.next(1, 'bond-payout-completed');
    expect(d.net.payments.get(claim.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 200 });
    expect(d.net.payments.get(back.hash)).toMatchObject({ status: 'SUCCEEDED', attempts: 1, valueSats: 600 });
    const rows = await d.db.prisma.bond.findMany({ where: { parentBondId: { not: null } }, orderBy: { amountSats: 'asc' } });
    expect(rows.map((r) => [r.amountSats, r.childOrderId, r.payoutRecipient])).toEqual(
      expect.arrayContaining([
        [400n, child, buyer2.pubkey(1)],
        [600n, null, seller.pubkey(1)],
      ]),
    );
  });
});
