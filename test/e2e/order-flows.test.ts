/**
 * Buy orders, take-sell with an invoice, Lightning-address payouts, range orders with their child order, racing
 * takers and every cancel path — through the real stack, with real signed messages (one daemon for the file).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDaemon, holdInvoiceOf, lockedSellTrade, openOrder, orderOf } from '../helpers/daemon.js';

let d: TestDaemon;
beforeAll(async () => {
  d = await TestDaemon.start({ devFee: true });
});
afterAll(async () => {
  await d?.close();
});

const payouts = (hash: string) => [...d.net.payments.values()].filter((p) => p.hash === hash);

describe('buy order (maker = buyer), fixed amount', () => {
  it('take-buy → seller pays → buyer adds invoice → active → fiat-sent → release → paid; the dev fee goes to its address', async () => {
    const buyer = d.trader('buyer');
    const seller = d.trader('seller');
    const id = await openOrder(buyer, 1, { kind: 'buy', amount: 20_000, fiatAmount: 20, fiatCode: 'USD' });

    const rid = await seller.send(1, { action: 'take-buy', id });
    const pay = await seller.next(1);
    expect(pay).toMatchObject({ action: 'pay-invoice', request_id: rid, trade_index: 1 });
    expect(orderOf({ ...pay, payload: { order: (pay.payload as { payment_request: [unknown] }).payment_request[0] } })).toMatchObject({ status: 'waiting-payment', amount: 20_060 });
    expect(await buyer.next(1)).toMatchObject({ action: 'waiting-seller-to-pay', request_id: rid, trade_index: 1 });
    expect((await d.orderEvent(id))?.s).toEqual(['in-progress']);

    d.net.pay('seller', holdInvoiceOf(pay));
    const ask = await buyer.next(1);
    expect(ask).toMatchObject({ action: 'add-invoice', request_id: rid, trade_index: null });
    expect(orderOf(ask)).toMatchObject({ status: 'waiting-buyer-invoice', amount: 19_940 });
    expect(orderOf(ask).expires_at).toBeGreaterThan(0);
    expect(await seller.next(1)).toMatchObject({ action: 'waiting-buyer-invoice', request_id: rid });
    const notice = await buyer.next(1);
    expect(notice).toMatchObject({ action: 'add-invoice', request_id: null, payload: { peer: { pubkey: '' } } });
    // Unpublished status: the book still shows the take in progress.
    expect((await d.orderEvent(id))?.s).toEqual(['in-progress']);

    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 19_940, expirySecs: 7200 });
    const rid2 = await buyer.send(1, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, inv.request, null] } });
    const took = await seller.next(1);
    expect(took).toMatchObject({ action: 'buyer-took-order', request_id: null });
    expect(orderOf(took)).not.toHaveProperty('buyer_invoice');
    const acc = await buyer.next(1);
    expect(acc).toMatchObject({ action: 'hold-invoice-payment-accepted', request_id: rid2 });
    expect(orderOf(acc)).toMatchObject({ status: 'active', amount: 19_940, buyer_invoice: inv.request });

    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await buyer.next(1, 'fiat-sent-ok');
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'released');
    await buyer.next(1, 'purchase-completed');
    expect(payouts(inv.hash)).toMatchObject([{ status: 'SUCCEEDED', valueSats: 19_940, attempts: 1 }]);

    // Dev fee: round(2 × 60 × 0.30) = 36 sats to the dev node's Lightning address, once.
    const row = await d.db.prisma.order.findUniqueOrThrow({ where: { id } });
    expect(row.devFee).toBe(36n);
    await d.waitForStatus(id, 'success');
    const deadline = Date.now() + 10_000;
    while (!(await d.db.prisma.order.findUniqueOrThrow({ where: { id } })).devFeePaid && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const paid = await d.db.prisma.order.findUniqueOrThrow({ where: { id } });
    expect(paid.devFeePaid).toBe(true);
    const devPayments = [...d.net.payments.values()].filter((p) => p.hash === paid.devFeePaymentHash);
    expect(devPayments).toMatchObject([{ valueSats: 36, status: 'SUCCEEDED' }]);
    expect(d.net.invoices.get(paid.devFeePaymentHash!)!.node).toBe('dev');
  });

  it('with a Lightning address given at creation: active as soon as the seller pays; paid through LNURL', async () => {
    const buyer = d.trader('buyer-ln');
    const seller = d.trader('seller-ln');
    const address = d.lnurl.addressOf('buyer');
    const id = await openOrder(buyer, 1, { kind: 'buy', amount: 10_000, fiatAmount: 10, fiatCode: 'USD', buyerInvoice: address });
    await seller.send(1, { action: 'take-buy', id });
    const pay = await seller.next(1, 'pay-invoice');
    await buyer.next(1, 'waiting-seller-to-pay');
    d.net.pay('seller', holdInvoiceOf(pay));
    expect(await seller.next(1)).toMatchObject({ action: 'buyer-took-order' });
    expect(await buyer.next(1)).toMatchObject({ action: 'hold-invoice-payment-accepted' });
    await buyer.send(1, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await buyer.next(1, 'purchase-completed');
    const row = await d.db.prisma.order.findUniqueOrThrow({ where: { id } });
    const p = payouts(row.payoutPaymentHash!);
    expect(p).toMatchObject([{ status: 'SUCCEEDED', valueSats: 9_970 }]);
    expect(d.net.invoices.get(row.payoutPaymentHash!)!.node).toBe('buyer');
  });
});

describe('take-sell with an invoice', () => {
  it('goes straight to the escrow; the book keeps showing pending until the trade is active', async () => {
    const seller = d.trader('seller-inv');
    const buyer = d.trader('buyer-inv');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 5_000, fiatAmount: 5, fiatCode: 'USD' });
    const wrong = d.net.createInvoice({ node: 'buyer', valueSats: 5_000, expirySecs: 7200 });
    await buyer.send(1, { action: 'take-sell', id, payload: { payment_request: [null, wrong.request, null] } });
    expect(await buyer.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'invalid_invoice' } });

    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 4_985, expirySecs: 7200 });
    const rid = await buyer.send(2, { action: 'take-sell', id, payload: { payment_request: [null, inv.request, null] } });
    const pay = await seller.next(1);
    expect(pay).toMatchObject({ action: 'pay-invoice', request_id: rid });
    expect(await buyer.next(2)).toMatchObject({ action: 'waiting-seller-to-pay', request_id: rid });
    expect((await d.orderEvent(id))?.s).toEqual(['pending']);
    d.net.pay('seller', holdInvoiceOf(pay));
    expect(await seller.next(1)).toMatchObject({ action: 'buyer-took-order', request_id: rid });
    expect(await buyer.next(2)).toMatchObject({ action: 'hold-invoice-payment-accepted', request_id: rid });
    await d.waitForStatus(id, 'active');
  });
});

describe('range order', () => {
  it('takes part of the range at market price and re-offers the rest as a child order under the maker’s next key', async () => {
    const seller = d.trader('seller-range');
    const buyer = d.trader('buyer-range');
    const id = await openOrder(seller, 1, { kind: 'sell', min: 10, max: 100 });
    expect((await d.orderEvent(id))?.fa).toEqual(['10', '100']);

    await buyer.send(1, { action: 'take-sell', id });
    expect(await buyer.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'out_of_range_sats_amount' } });
    await buyer.send(2, { action: 'take-sell', id, payload: { amount: 30 } });
    const ask = await buyer.next(2);
    // 30 VES at 3,600,000 VES/BTC = 833 sats; fee round(2.499) = 2.
    expect(orderOf(ask)).toMatchObject({ fiat_amount: 30, amount: 831, min_amount: 10, max_amount: 100 });
    await seller.next(1, 'waiting-buyer-invoice');
    const inv = d.net.createInvoice({ node: 'buyer', valueSats: 831, expirySecs: 7200 });
    await buyer.send(2, { action: 'add-invoice', id, tradeIndex: null, payload: { payment_request: [null, inv.request, null] } });
    expect(await seller.next(1, 'pay-invoice')).toMatchObject({ payload: { peer: { pubkey: '' } } });
    const pay = await seller.next(1, 'pay-invoice');
    d.net.pay('seller', holdInvoiceOf(pay));
    await seller.next(1, 'buyer-took-order');
    await buyer.send(2, { action: 'fiat-sent', id, tradeIndex: null });
    await seller.next(1, 'fiat-sent-ok');
    await seller.listen(2); // as mostro-cli does: the next trade key is watched before it is announced
    const rid = await seller.send(1, { action: 'release', id, tradeIndex: null, payload: { next_trade: [seller.pubkey(2), 2] } });

    const child = await seller.next(2, 'new-order');
    expect(child).toMatchObject({ request_id: rid, trade_index: 2 });
    const c = orderOf(child);
    expect(c).toMatchObject({ kind: 'sell', status: 'pending', amount: 0, min_amount: 10, max_amount: 70, fiat_amount: 0 });
    expect(c.id).not.toBe(id);
    expect((await d.orderEvent(String(c.id)))).toMatchObject({ s: ['pending'], fa: ['10', '70'] });
    await buyer.next(2, 'purchase-completed');
    const childRow = await d.db.prisma.order.findUniqueOrThrow({ where: { id: String(c.id) } });
    expect(childRow).toMatchObject({ rangeParentId: id, creatorPubkey: seller.pubkey(2), masterSellerPubkey: seller.identity, status: 'pending' });
    // The child is an order like any other: its maker can cancel it with the new key.
    await seller.send(2, { action: 'cancel', id: String(c.id), tradeIndex: null });
    expect(await seller.next(2)).toMatchObject({ action: 'canceled', id: c.id });
  });
});

describe('one duty at a time', () => {
  it('a buyer who still owes an invoice on one order cannot take another (pending_order_exists)', async () => {
    const seller = d.trader('seller-dup');
    const buyer = d.trader('buyer-dup');
    const first = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const second = await openOrder(seller, 2, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    await buyer.send(1, { action: 'take-sell', id: first });
    await buyer.next(1, 'add-invoice');
    await buyer.send(2, { action: 'take-sell', id: second });
    expect(await buyer.next(2)).toMatchObject({ action: 'cant-do', id: second, payload: { cant_do: 'pending_order_exists' } });
    expect((await d.order(second))?.status).toBe('pending');
  });
});

describe('support staff', () => {
  it('find trades by status, kind, currency and party in the Temporal visibility store', async () => {
    const seller = d.trader('seller-sa');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const found: string[] = [];
    const query = `MostroOrderStatus = "pending" AND MostroOrderKind = "sell" AND MostroFiatCode = "USD" AND MostroMakerPubkey = "${seller.pubkey(1)}" AND MostroNeedsAttention = false`;
    for await (const w of d.env.client.workflow.list({ query })) found.push(w.workflowId);
    expect(found).toEqual([`order-${id}`]);
  });
});

describe('racing takers', () => {
  it('exactly one of several simultaneous takers wins; the others are told the order is no longer available', async () => {
    const seller = d.trader('seller-race');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const takers = [d.trader('t1'), d.trader('t2'), d.trader('t3')];
    for (const t of takers) await t.listen(1);
    await Promise.all(takers.map((t) => t.send(1, { action: 'take-sell', id })));
    const answers = await Promise.all(takers.map((t) => t.next(1)));
    const winners = answers.filter((a) => a.action === 'add-invoice');
    const losers = answers.filter((a) => a.action === 'cant-do');
    expect(winners).toHaveLength(1);
    expect(losers.map((l) => l.payload)).toEqual([{ cant_do: 'invalid_order_status' }, { cant_do: 'invalid_order_status' }]);
    await seller.next(1, 'waiting-buyer-invoice');
    const o = await d.order(id);
    expect(o?.buyerPubkey).toBe(takers[answers.indexOf(winners[0]!)]!.pubkey(1));
  });
});

describe('cancel', () => {
  it('the maker cancels a pending order; a second cancel is refused', async () => {
    const seller = d.trader('seller-c1');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    const rid = await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await seller.next(1)).toMatchObject({ action: 'canceled', request_id: rid, id });
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
    await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await seller.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'order_already_canceled' } });
  });

  it('the taker backs out while the seller pays nothing yet: escrow canceled, order offered again to others', async () => {
    const buyer = d.trader('buyer-c2');
    const seller = d.trader('seller-c2');
    const id = await openOrder(buyer, 1, { kind: 'buy', amount: 4_000, fiatAmount: 4, fiatCode: 'USD' });
    await seller.send(1, { action: 'take-buy', id });
    const pay = await seller.next(1, 'pay-invoice');
    await buyer.next(1, 'waiting-seller-to-pay');
    const rid = await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await seller.next(1)).toMatchObject({ action: 'canceled', request_id: rid });
    const again = await buyer.next(1);
    expect(again).toMatchObject({ action: 'new-order', request_id: rid });
    expect(orderOf(again)).toMatchObject({ status: 'pending', amount: 4_000 });
    expect((await d.orderEvent(id))?.s).toEqual(['pending']);
    const hold = [...d.net.invoices.values()].find((i) => i.request === holdInvoiceOf(pay))!;
    expect(hold.state).toBe('CANCELED');
    // Someone else can take it now.
    const other = d.trader('seller-c2b');
    await other.send(1, { action: 'take-buy', id });
    expect(await other.next(1)).toMatchObject({ action: 'pay-invoice' });
  });

  it('a stranger cannot cancel a taken order', async () => {
    const seller = d.trader('seller-c3');
    const buyer = d.trader('buyer-c3');
    const id = await openOrder(seller, 1, { kind: 'sell', amount: 3_000, fiatAmount: 3, fiatCode: 'USD' });
    await buyer.send(1, { action: 'take-sell', id });
    await buyer.next(1, 'add-invoice');
    const stranger = d.trader('stranger');
    await stranger.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await stranger.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'invalid_pubkey' } });
  });

  it('cooperative cancel of an active trade refunds the seller', async () => {
    const seller = d.trader('seller-c4');
    const buyer = d.trader('buyer-c4');
    const { id, invoice: inv, holdPayment: payment } = await lockedSellTrade(d, seller, buyer, 6_000);
    await buyer.next(1, 'waiting-seller-to-pay');
    await buyer.next(1, 'hold-invoice-payment-accepted');

    const rid1 = await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await buyer.next(1)).toMatchObject({ action: 'cooperative-cancel-initiated-by-you', request_id: rid1 });
    expect(await seller.next(1)).toMatchObject({ action: 'cooperative-cancel-initiated-by-peer', request_id: null });
    await buyer.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await buyer.next(1)).toMatchObject({ action: 'cant-do', payload: { cant_do: 'invalid_pubkey' } });
    const rid2 = await seller.send(1, { action: 'cancel', id, tradeIndex: null });
    expect(await seller.next(1)).toMatchObject({ action: 'cooperative-cancel-accepted', request_id: rid2 });
    expect(await buyer.next(1)).toMatchObject({ action: 'cooperative-cancel-accepted', request_id: null });
    expect((await d.orderEvent(id))?.s).toEqual(['canceled']);
    expect(d.net.invoices.get(payment.hash)!.state).toBe('CANCELED');
    expect(d.net.payments.get(payment.hash)!.status).toBe('FAILED');
    expect(payouts(inv.hash)).toEqual([]);
  });
});
